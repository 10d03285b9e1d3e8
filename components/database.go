package components

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/sql"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Times of the managed tier's maintenance, in UTC: the Cloud SQL backup starts
// at 17:00 (02:00 in Tokyo), clear of the data disk's snapshot at 16:00 and of
// the logical backups at minute 15; Cloud SQL and Memorystore may restart for
// maintenance on Sundays from 18:00.
const (
	DatabaseBackupStartTime = "17:00"
	MaintenanceHourUTC      = 18
)

// DatabaseArgs describes the Cloud SQL instance.
type DatabaseArgs struct {
	Project string
	Region  string
	Zone    string // the VM's zone: the primary sits next to it
	Labels  pulumi.StringMap

	Tier             string
	DiskGiB          int
	HighAvailability bool
	Backups          int // daily automated backups kept
	LogRetentionDays int // point-in-time recovery window
	// DeletionProtection is the provider's own guard (the instance's
	// deletionProtection field), which `pulumi destroy` checks. Cloud SQL's
	// (settings.deletionProtectionEnabled) and Pulumi's protect are always on.
	DeletionProtection bool

	Network pulumi.StringInput // the VPC's id
	Access  *PrivateServiceAccess
}

// Database is Cloud SQL for PostgreSQL with Dify's two databases: private IP
// only (no public address), SSL required, automated backups with
// point-in-time recovery, and protected three times over (Pulumi's protect,
// Cloud SQL's deletion protection, the provider's). It also defines the custom
// role the VM needs to set the postgres user's password; the host grants it.
// No password is known to the program: the VM sets one through the Admin API.
type Database struct {
	pulumi.ResourceState

	// InstanceName is the instance's name (gcloud sql ... --instance NAME).
	InstanceName pulumi.StringOutput
	// PrivateIP is where the VM connects (PostgreSQL on 5432, SSL required).
	PrivateIP pulumi.StringOutput
	// ConnectionName is PROJECT:REGION:NAME, what Cloud SQL's connectors take.
	ConnectionName pulumi.StringOutput
	// ClientRole is the custom role (projects/P/roles/ID) holding exactly
	// datatier.DatabaseClientPermissions.
	ClientRole pulumi.StringOutput
}

// NewDatabase creates the instance, its databases and the client role.
func NewDatabase(ctx *pulumi.Context, name string, args *DatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	c := &Database{}
	if err := ctx.RegisterComponentResource(pkg+"Database", name, c, opts...); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	availability := "ZONAL"
	if args.HighAvailability {
		availability = "REGIONAL"
	}
	instance, err := sql.NewDatabaseInstance(ctx, name+"-db", &sql.DatabaseInstanceArgs{
		Name:               pulumi.String(name + "-db"),
		Region:             pulumi.String(args.Region),
		DatabaseVersion:    pulumi.String(datatier.DatabaseVersion),
		DeletionProtection: pulumi.Bool(args.DeletionProtection),
		Settings: &sql.DatabaseInstanceSettingsArgs{
			Edition:                   pulumi.String(datatier.Edition),
			Tier:                      pulumi.String(args.Tier),
			AvailabilityType:          pulumi.String(availability),
			DiskType:                  pulumi.String("PD_SSD"),
			DiskSize:                  pulumi.Int(args.DiskGiB),
			DiskAutoresize:            pulumi.Bool(true),
			DeletionProtectionEnabled: pulumi.Bool(true),
			UserLabels:                args.Labels,
			LocationPreference:        &sql.DatabaseInstanceSettingsLocationPreferenceArgs{Zone: pulumi.String(args.Zone)},
			IpConfiguration: &sql.DatabaseInstanceSettingsIpConfigurationArgs{
				Ipv4Enabled:      pulumi.Bool(false), // private IP only
				PrivateNetwork:   args.Network,
				AllocatedIpRange: args.Access.RangeName,
				SslMode:          pulumi.String(datatier.SSLMode), // requireSsl left unset, as that mode needs
			},
			BackupConfiguration: &sql.DatabaseInstanceSettingsBackupConfigurationArgs{
				Enabled:                     pulumi.Bool(true),
				PointInTimeRecoveryEnabled:  pulumi.Bool(true),
				StartTime:                   pulumi.String(DatabaseBackupStartTime),
				TransactionLogRetentionDays: pulumi.Int(args.LogRetentionDays),
				BackupRetentionSettings: &sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs{
					RetainedBackups: pulumi.Int(args.Backups),
					RetentionUnit:   pulumi.String("COUNT"),
				},
			},
			MaintenanceWindow: &sql.DatabaseInstanceSettingsMaintenanceWindowArgs{
				Day: pulumi.Int(7), Hour: pulumi.Int(MaintenanceHourUTC), UpdateTrack: pulumi.String("stable"),
			},
			InsightsConfig: &sql.DatabaseInstanceSettingsInsightsConfigArgs{QueryInsightsEnabled: pulumi.Bool(true)},
		},
	}, with(child,
		// The private network needs the peering first.
		pulumi.DependsOn([]pulumi.Resource{args.Access.Connection}),
		// Holds every row of Dify; `pulumi state unprotect` is the deliberate way out.
		pulumi.Protect(true),
		// Cloud SQL grows the disk by itself; a smaller size in the program
		// would then ask to shrink it, which only a replacement can do.
		pulumi.IgnoreChanges([]string{"settings.diskSize"}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("database: instance: %w", err)
	}
	for _, db := range datatier.Databases() {
		if _, err := sql.NewDatabase(ctx, name+"-"+db, &sql.DatabaseArgs{
			Name: pulumi.String(db), Instance: instance.Name,
		}, with(child, pulumi.Protect(true))...); err != nil { // deleting one drops it
			return nil, fmt.Errorf("database: %s: %w", db, err)
		}
	}
	role, err := customRole(ctx, args.Project, name, "db-client", "Dify VM: Cloud SQL client",
		"Sets the postgres user's password and reads the instance: what the Dify VM's startup script calls, nothing more",
		datatier.DatabaseClientPermissions(), child)
	if err != nil {
		return nil, fmt.Errorf("database: client role: %w", err)
	}
	c.InstanceName = instance.Name
	c.PrivateIP = instance.PrivateIpAddress
	c.ConnectionName = instance.ConnectionName
	c.ClientRole = role.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"instanceName": c.InstanceName, "privateIp": c.PrivateIP, "connectionName": c.ConnectionName, "clientRole": c.ClientRole,
	}); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return c, nil
}
