package components

import (
	"fmt"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// BackupWriterRole is the least role that lets `gcloud storage cp` stream an
// object into the bucket and `dify-restore` read it back: objectCreator lacks the
// list permission gcloud needs.
const BackupWriterRole = "roles/storage.objectUser"

// BackupsArgs describes the backup bucket.
type BackupsArgs struct {
	BucketName    string
	Location      string
	RetentionDays int
	Labels        pulumi.StringMap
	// ForceDestroy lets `pulumi destroy` delete a bucket that still holds
	// backups. Only stacks without deletion protection set it.
	ForceDestroy bool
	// Writer is the IAM member (the VM's service account) allowed to write.
	Writer pulumi.StringInput
}

// Backups is the bucket complete backups stream into. Retention is declarative:
// a lifecycle rule deletes backups after RetentionDays, so no script on the VM
// ever deletes anything.
type Backups struct {
	pulumi.ResourceState

	BucketName pulumi.StringOutput
	BucketURL  pulumi.StringOutput
}

// NewBackups creates the bucket and grants the writer access to it alone.
func NewBackups(ctx *pulumi.Context, name string, args *BackupsArgs, opts ...pulumi.ResourceOption) (*Backups, error) {
	c := &Backups{}
	if err := ctx.RegisterComponentResource(pkg+"Backups", name, c, opts...); err != nil {
		return nil, fmt.Errorf("backups: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("backups: %w", err)
	}
	bucket, err := storage.NewBucket(ctx, name+"-bucket", &storage.BucketArgs{
		Name:                     pulumi.String(args.BucketName),
		Location:                 pulumi.String(args.Location),
		StorageClass:             pulumi.String("STANDARD"),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		ForceDestroy:             pulumi.Bool(args.ForceDestroy),
		Labels:                   args.Labels,
		LifecycleRules: storage.BucketLifecycleRuleArray{&storage.BucketLifecycleRuleArgs{
			Action:    &storage.BucketLifecycleRuleActionArgs{Type: pulumi.String("Delete")},
			Condition: &storage.BucketLifecycleRuleConditionArgs{Age: pulumi.Int(args.RetentionDays)},
		}},
		// Soft delete would keep every expired backup (and bill it) for another
		// 7 days; the lifecycle rule is the retention policy, so turn it off.
		SoftDeletePolicy: &storage.BucketSoftDeletePolicyArgs{RetentionDurationSeconds: pulumi.Int(0)},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("backups: bucket: %w", err)
	}
	if _, err := storage.NewBucketIAMMember(ctx, name+"-writer", &storage.BucketIAMMemberArgs{
		Bucket: bucket.Name, Role: pulumi.String(BackupWriterRole), Member: args.Writer,
	}, child...); err != nil {
		return nil, fmt.Errorf("backups: writer: %w", err)
	}
	c.BucketName = bucket.Name
	c.BucketURL = bucket.Url
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"bucketName": c.BucketName, "bucketUrl": c.BucketURL}); err != nil {
		return nil, fmt.Errorf("backups: %w", err)
	}
	return c, nil
}
