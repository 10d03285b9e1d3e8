package components

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/artifactregistry"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/organizations"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProxyImageArgs describes where the proxy image lives and how it is made.
type ProxyImageArgs struct {
	Project      string
	Location     string // region of the Artifact Registry repository
	RepositoryID string
	ImageName    string // image name inside the repository, such as "proxy"
	Tag          string // tag pushed with each build (the service uses the digest)
	Context      string // build context: the proxy/ folder
	Labels       pulumi.StringMap
	// Prebuilt, when set, is an image by digest to use as is: nothing is built
	// and no docker resource is registered, so no Docker daemon is needed.
	Prebuilt string
}

// ProxyImage is the Artifact Registry repository and the nginx image the Cloud
// Run service runs. Ref is always by digest, so every new build rolls out a new
// revision and a tag moved by hand changes nothing.
type ProxyImage struct {
	pulumi.ResourceState

	RepositoryURL pulumi.StringOutput // LOCATION-docker.pkg.dev/PROJECT/REPOSITORY
	Ref           pulumi.StringOutput // image by digest
}

// RegistryHost is the Artifact Registry docker host of a location.
func RegistryHost(location string) string { return location + "-docker.pkg.dev" }

// NewProxyImage creates the repository and builds and pushes the image, unless
// args.Prebuilt names one.
func NewProxyImage(ctx *pulumi.Context, name string, args *ProxyImageArgs, opts ...pulumi.ResourceOption) (*ProxyImage, error) {
	c := &ProxyImage{}
	if err := ctx.RegisterComponentResource(pkg+"ProxyImage", name, c, opts...); err != nil {
		return nil, fmt.Errorf("proxy image: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("proxy image: %w", err)
	}
	repo, err := artifactregistry.NewRepository(ctx, name+"-repo", &artifactregistry.RepositoryArgs{
		RepositoryId: pulumi.String(args.RepositoryID),
		Location:     pulumi.String(args.Location),
		Format:       pulumi.String("DOCKER"),
		Description:  pulumi.String("Dify proxy images"),
		Labels:       args.Labels,
		// Keep the ten newest versions (a keep rule wins over a delete rule, so
		// the running digest and its recent predecessors for rollback survive);
		// delete anything else older than 30 days.
		CleanupPolicies: artifactregistry.RepositoryCleanupPolicyArray{
			&artifactregistry.RepositoryCleanupPolicyArgs{
				Id: pulumi.String("keep-recent"), Action: pulumi.String("KEEP"),
				MostRecentVersions: &artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs{KeepCount: pulumi.Int(10)},
			},
			&artifactregistry.RepositoryCleanupPolicyArgs{
				Id: pulumi.String("delete-old"), Action: pulumi.String("DELETE"),
				Condition: &artifactregistry.RepositoryCleanupPolicyConditionArgs{
					TagState: pulumi.String("ANY"), OlderThan: pulumi.String("2592000s"),
				},
			},
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("proxy image: repository: %w", err)
	}
	host := RegistryHost(args.Location)
	c.RepositoryURL = pulumi.Sprintf("%s/%s/%s", host, args.Project, repo.RepositoryId)

	if args.Prebuilt != "" {
		c.Ref = pulumi.String(args.Prebuilt).ToStringOutput()
	} else {
		// The access token lives about an hour and is never stored in a diff:
		// docker.Image compares the registry server only.
		token := organizations.GetClientConfigOutput(ctx, pulumi.Parent(c)).AccessToken()
		img, err := docker.NewImage(ctx, name, &docker.ImageArgs{
			ImageName: pulumi.Sprintf("%s/%s:%s", c.RepositoryURL, args.ImageName, args.Tag),
			Build: &docker.DockerBuildArgs{
				Context:    pulumi.String(args.Context),
				Dockerfile: pulumi.String(args.Context + "/Dockerfile"),
				Platform:   pulumi.String("linux/amd64"),
			},
			Registry: &docker.RegistryArgs{
				Server:   pulumi.String(host),
				Username: pulumi.String("oauth2accesstoken"),
				Password: pulumi.ToSecretWithContext(ctx.Context(), token).(pulumi.StringOutput),
			},
		}, with(child, pulumi.DependsOn([]pulumi.Resource{repo}))...)
		if err != nil {
			return nil, fmt.Errorf("proxy image: build: %w", err)
		}
		c.Ref = img.RepoDigest
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"repositoryUrl": c.RepositoryURL, "ref": c.Ref}); err != nil {
		return nil, fmt.Errorf("proxy image: %w", err)
	}
	return c, nil
}
