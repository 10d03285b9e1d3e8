package components

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/dify-gcp/dify-gcp/topology"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// FilesSoftDeleteSeconds keeps a deleted or overwritten file restorable for
// 7 days (Cloud Storage's default, stated so it cannot drift). Unlike the
// backup bucket, where a lifecycle rule is the retention policy, nothing here
// is meant to disappear.
const FilesSoftDeleteSeconds = 7 * 24 * 3600

// FilesArgs describes the bucket of Dify's files.
type FilesArgs struct {
	Project    string
	BucketName string
	Location   string
	Labels     pulumi.StringMap
	// User is the IAM member (the VM's service account) that reads and writes
	// the files, with Dify's own identity: no key is ever created.
	User pulumi.StringInput
}

// Files is the bucket Dify's api stores uploads and the tenants' private keys
// in (STORAGE_TYPE=google-storage). It is private (uniform access, public
// access prevention enforced), keeps deleted objects 7 days (soft delete), has
// no lifecycle rule, and is protected: losing it loses every tenant's
// model-provider credentials.
type Files struct {
	pulumi.ResourceState

	BucketName pulumi.StringOutput
	// UserRole is the custom role granted on the bucket: exactly
	// datatier.FilesPermissions.
	UserRole pulumi.StringOutput
}

// NewFiles creates the bucket, the role and the grant to User.
func NewFiles(ctx *pulumi.Context, name string, args *FilesArgs, opts ...pulumi.ResourceOption) (*Files, error) {
	c := &Files{}
	if err := ctx.RegisterComponentResource(pkg+"Files", name, c, opts...); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	labels := pulumi.StringMap{topology.BucketLabel: pulumi.String(topology.FilesBucket)}
	for k, v := range args.Labels {
		labels[k] = v
	}
	bucket, err := storage.NewBucket(ctx, name+"-files", &storage.BucketArgs{
		Name:                     pulumi.String(args.BucketName),
		Location:                 pulumi.String(args.Location),
		StorageClass:             pulumi.String("STANDARD"),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		ForceDestroy:             pulumi.Bool(false),
		Labels:                   labels,
		SoftDeletePolicy:         &storage.BucketSoftDeletePolicyArgs{RetentionDurationSeconds: pulumi.Int(FilesSoftDeleteSeconds)},
	}, with(child, pulumi.Protect(true))...)
	if err != nil {
		return nil, fmt.Errorf("files: bucket: %w", err)
	}
	role, err := customRole(ctx, args.Project, name, "files-user", "Dify VM: files bucket user",
		"What Dify's google-storage backend calls (get_bucket, then one object), and listing for backups: granted on the files bucket only",
		datatier.FilesPermissions(), child)
	if err != nil {
		return nil, fmt.Errorf("files: role: %w", err)
	}
	if _, err := storage.NewBucketIAMMember(ctx, name+"-files-user", &storage.BucketIAMMemberArgs{
		Bucket: bucket.Name, Role: role.Name, Member: args.User,
	}, child...); err != nil {
		return nil, fmt.Errorf("files: grant: %w", err)
	}
	c.BucketName = bucket.Name
	c.UserRole = role.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"bucketName": c.BucketName, "userRole": c.UserRole}); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return c, nil
}
