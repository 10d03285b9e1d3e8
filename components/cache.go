package components

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/redis"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CacheArgs describes the Memorystore instance.
type CacheArgs struct {
	Project  string
	Region   string
	Zone     string // the VM's zone
	Labels   pulumi.StringMap
	Tier     string // datatier.RedisBasic or datatier.RedisStandardHA
	MemoryGB int

	Network pulumi.StringInput // the VPC's id
	Access  *PrivateServiceAccess
}

// Cache is Memorystore for Redis, Dify's cache and Celery broker, in the
// stack's VPC through private services access, with AUTH on. In-transit
// encryption is off, a recorded policy exception (datatier.RedisTransitEncryption).
//
// The AUTH string is Memorystore's, generated when AUTH is enabled; the VM
// reads it through the API (instances.getAuthString) with the custom role
// defined here. The provider also reads it into the instance's state, where
// pulumi-gcp keeps it as a secret output (authString, encrypted); the program
// never reads or exports it.
type Cache struct {
	pulumi.ResourceState

	Host pulumi.StringOutput
	Port pulumi.IntOutput
	// Instance is projects/P/locations/R/instances/N, what
	// instances.getAuthString takes.
	Instance pulumi.StringOutput
	// ClientRole is the custom role holding exactly
	// datatier.CacheClientPermissions.
	ClientRole pulumi.StringOutput
}

// NewCache creates the instance and the client role.
func NewCache(ctx *pulumi.Context, name string, args *CacheArgs, opts ...pulumi.ResourceOption) (*Cache, error) {
	c := &Cache{}
	if err := ctx.RegisterComponentResource(pkg+"Cache", name, c, opts...); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	instance, err := redis.NewInstance(ctx, name+"-redis", &redis.InstanceArgs{
		Name:                  pulumi.String(name + "-redis"),
		DisplayName:           pulumi.String("Dify cache and queue (" + name + ")"),
		Region:                pulumi.String(args.Region),
		LocationId:            pulumi.String(args.Zone),
		Tier:                  pulumi.String(args.Tier),
		MemorySizeGb:          pulumi.Int(args.MemoryGB),
		RedisVersion:          pulumi.String("REDIS_7_2"),
		AuthorizedNetwork:     args.Network,
		ConnectMode:           pulumi.String(datatier.RedisConnectMode),
		AuthEnabled:           pulumi.Bool(true),
		TransitEncryptionMode: pulumi.String(datatier.RedisTransitEncryption),
		Labels:                args.Labels,
		MaintenancePolicy: &redis.InstanceMaintenancePolicyArgs{
			WeeklyMaintenanceWindows: redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArray{&redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs{
				Day:       pulumi.String("SUNDAY"),
				StartTime: &redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs{Hours: pulumi.Int(MaintenanceHourUTC)},
			}},
		},
	}, with(child, pulumi.DependsOn([]pulumi.Resource{args.Access.Connection}))...)
	if err != nil {
		return nil, fmt.Errorf("cache: instance: %w", err)
	}
	role, err := customRole(ctx, args.Project, name, "cache-client", "Dify VM: Memorystore client",
		"Reads the Memorystore AUTH string: what the Dify VM's startup script calls, nothing more",
		datatier.CacheClientPermissions(), child)
	if err != nil {
		return nil, fmt.Errorf("cache: client role: %w", err)
	}
	c.Host = instance.Host
	c.Port = instance.Port
	c.Instance = pulumi.Sprintf("projects/%s/locations/%s/instances/%s", args.Project, args.Region, instance.Name)
	c.ClientRole = role.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"host": c.Host, "port": c.Port, "instance": c.Instance, "clientRole": c.ClientRole,
	}); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return c, nil
}
