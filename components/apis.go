package components

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RequiredAPIs are the Google Cloud services the deployment uses. Enabling them
// from the program means a fresh project needs nothing beyond the one
// bootstrap command of docs/deploy.md (topology.BootstrapAPIs, which the
// program cannot enable itself). The cloud rule api-enabled holds every
// resource type to this list through policy.ServiceAPIs.
func RequiredAPIs() []string {
	return []string{
		"compute.googleapis.com",
		"iam.googleapis.com", // service accounts (serviceaccount.Account)
		"run.googleapis.com",
		"artifactregistry.googleapis.com",
		"storage.googleapis.com",
		"secretmanager.googleapis.com",
		"iap.googleapis.com",
		"logging.googleapis.com",
		"monitoring.googleapis.com",
	}
}

// ManagedTierAPIs are the services the managed data tier adds, enabled only
// on stacks that run it: Cloud SQL's Admin API, Service Networking (private
// services access) and Memorystore for Redis.
func ManagedTierAPIs() []string {
	return []string{"sqladmin.googleapis.com", "servicenetworking.googleapis.com", "redis.googleapis.com"}
}

// APIsArgs names the services to enable.
type APIsArgs struct {
	Project  string
	Services []string
}

// APIs enables project services. Other components depend on it so nothing is
// created before its API answers. Destroying the stack leaves the APIs enabled:
// other workloads in the project may use them.
type APIs struct {
	pulumi.ResourceState

	// Enabled are the service resources themselves. Depend on these, not on
	// the component: the SDK expands a component in dependsOn to the children
	// it knows when the dependent registers, and children join a component
	// asynchronously, so some APIs could be missed.
	Enabled []pulumi.Resource
}

// NewAPIs enables every service in args.
func NewAPIs(ctx *pulumi.Context, name string, args *APIsArgs, opts ...pulumi.ResourceOption) (*APIs, error) {
	c := &APIs{}
	if err := ctx.RegisterComponentResource(pkg+"APIs", name, c, opts...); err != nil {
		return nil, fmt.Errorf("apis: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("apis: %w", err)
	}
	for _, svc := range args.Services {
		enabled, err := projects.NewService(ctx, name+"-"+strings.TrimSuffix(svc, ".googleapis.com"), &projects.ServiceArgs{
			Project:          pulumi.String(args.Project),
			Service:          pulumi.String(svc),
			DisableOnDestroy: pulumi.Bool(false),
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("apis: %s: %w", svc, err)
		}
		c.Enabled = append(c.Enabled, enabled)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{}); err != nil {
		return nil, fmt.Errorf("apis: %w", err)
	}
	return c, nil
}

// DeployerRoles are the project roles the identity running `pulumi up` needs
// to create everything these components declare. docs/deploy.md and the CI
// set-up in docs/ci.md list them; a test keeps both in step with this list.
func DeployerRoles() []string {
	return []string{
		"roles/compute.admin",
		"roles/run.admin",
		"roles/artifactregistry.admin",
		"roles/storage.admin",
		"roles/secretmanager.admin",
		"roles/iam.serviceAccountAdmin",
		"roles/iam.serviceAccountUser",
		"roles/resourcemanager.projectIamAdmin",
		"roles/serviceusage.serviceUsageAdmin",
		"roles/logging.configWriter",
		"roles/monitoring.editor",
		// The edge: IAP's access grants on the backend service (access iap),
		// and the domain's A record (with dify-gcp:dnsZone). The load
		// balancer and Cloud Armor are Compute Engine's (compute.admin).
		"roles/iap.admin",
		"roles/dns.admin",
	}
}

// ManagedTierDeployerRoles are the roles the deployer also needs on a stack
// with dify-gcp:dataTier managed: Cloud SQL, Memorystore, private services
// access (the peering), and the custom roles the VM is granted. A vm-tier
// deployer does without them. docs/managed.md, deploy.md and ci.md list them;
// a test keeps the three in step with this list.
func ManagedTierDeployerRoles() []string {
	return []string{
		"roles/cloudsql.admin",
		"roles/redis.admin",
		"roles/servicenetworking.networksAdmin",
		"roles/iam.roleAdmin",
	}
}
