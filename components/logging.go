package components

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/signals"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LoggingArgs say how long the project keeps logs and what it need not keep.
type LoggingArgs struct {
	Project       string
	RetentionDays int
	// ExcludeHealthChecks drops the request logs of successful uptime probes
	// (signals.HealthCheckExclusion) for this service and, with the edge,
	// this backend service.
	ExcludeHealthChecks bool
	ServiceName         string
	BackendService      pulumi.StringInput // the edge's backend service; "" without the edge
}

// Logging sets the retention of the project's _Default log bucket, where
// everything the deployment logs lands (the _Required bucket's audit logs
// keep Google's fixed 400 days), and optionally excludes the noise of health
// checks from it.
//
// The _Default bucket cannot be created or deleted. The provider's create
// reads the existing bucket and updates it; its delete only forgets it, so
// `pulumi destroy` leaves the retention as this stack set it
// (terraform-provider-google google/services/logging/resource_logging_bucket_config.go,
// resourceLoggingBucketConfigAcquireOrCreate and resourceLoggingBucketConfigDelete;
// the pinned SDK's logging.ProjectBucketConfig doc says the same).
// docs/operations.md says how to set it back.
type Logging struct {
	pulumi.ResourceState

	RetentionDays pulumi.IntOutput
}

// NewLogging adopts the _Default bucket with the retention from args.
func NewLogging(ctx *pulumi.Context, name string, args *LoggingArgs, opts ...pulumi.ResourceOption) (*Logging, error) {
	c := &Logging{}
	if err := ctx.RegisterComponentResource(pkg+"Logging", name, c, opts...); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	bucket, err := logging.NewProjectBucketConfig(ctx, name+"-default-bucket", &logging.ProjectBucketConfigArgs{
		Project:       pulumi.String(args.Project),
		Location:      pulumi.String("global"),
		BucketId:      pulumi.String("_Default"),
		RetentionDays: pulumi.Int(args.RetentionDays),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("logging: _Default bucket: %w", err)
	}
	if args.ExcludeHealthChecks {
		// A project exclusion applies to the _Default sink: excluded entries
		// are not stored (or billed), and Cloud Monitoring keeps the uptime
		// check's own results.
		if _, err := logging.NewProjectExclusion(ctx, name+"-health-checks", &logging.ProjectExclusionArgs{
			Project:     pulumi.String(args.Project),
			Name:        pulumi.String(name + "-health-checks"),
			Description: pulumi.String("Request logs of successful uptime probes of " + args.ServiceName + " (dify-gcp:excludeHealthCheckLogs); failed probes are kept"),
			Filter: args.BackendService.ToStringOutput().ApplyT(func(backend string) string {
				return signals.HealthCheckExclusion(args.ServiceName, backend)
			}).(pulumi.StringOutput),
		}, child...); err != nil {
			return nil, fmt.Errorf("logging: exclusion: %w", err)
		}
	}
	c.RetentionDays = bucket.RetentionDays.Elem()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"retentionDays": c.RetentionDays}); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	return c, nil
}
