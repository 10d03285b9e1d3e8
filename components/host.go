package components

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/dify-gcp/dify-gcp/topology"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/secretmanager"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// HostArgs describes the VM and everything it alone uses.
type HostArgs struct {
	Project string
	Region  string
	Zone    string
	Labels  pulumi.StringMap

	MachineType        string
	Spot               bool // only ever true outside production (config refuses it there)
	BootDiskGiB        int
	DataDiskGiB        int
	DataDiskType       string
	SnapshotRetention  int  // days
	DeletionProtection bool // Compute Engine deletion protection on the VM

	Subnet pulumi.StringInput // the VM subnet's self link
	Tag    string             // network tag the firewall targets

	// Schedule, when set, starts and stops the VM on a timetable (never in
	// production; config refuses it there).
	Schedule *VMSchedule
	// ProjectNumber names the Compute Engine service agent, which performs
	// scheduled starts and stops.
	ProjectNumber pulumi.StringInput

	// Script holds the startup script's values except PublicURL, BrowserURL
	// and the secret ids, which the component fills in.
	Script    hostscript.Values
	PublicURL pulumi.StringInput
	// SameOrigin makes Dify's browser-facing URLs empty, so the web app calls
	// the origin that served it: what a private stack needs, whose users reach
	// it through `gcloud run services proxy` at http://localhost:8080.
	SameOrigin bool

	// Managed, on the managed data tier, is where the databases and Redis
	// live; Script.DataTier must then be hostscript.TierManaged and
	// Script.Managed.FilesBucket set. Nil on the vm tier.
	Managed *HostManaged
}

// HostManaged is what the VM needs of the managed data tier: the endpoints
// the startup script is rendered with, and the custom roles it needs to
// reach them, which the host grants to its service account before the VM
// starts (so its first boot may set the database password and read the AUTH
// string).
type HostManaged struct {
	DBHost        pulumi.StringInput // Cloud SQL's private IP
	DBInstance    pulumi.StringInput // the instance's name
	RedisHost     pulumi.StringInput
	RedisPort     pulumi.IntInput
	RedisInstance pulumi.StringInput // projects/P/locations/R/instances/N
	// ClientRoles are custom roles (projects/P/roles/ID) granted on the
	// project: Cloud SQL and Memorystore have no per-instance IAM policy.
	ClientRoles map[string]pulumi.StringInput
}

// SnapshotStartTime is when the daily snapshot of the data disk starts, in UTC
// (01:00 in Tokyo). The API accepts only a 4-hour boundary: 00:00, 04:00, ...,
// 20:00 (the pinned SDK's DailySchedule.StartTime; cloud rule
// snapshot-start-time). Backups start at minute 15 of their hours, clear of it.
const SnapshotStartTime = "16:00"

// VMSchedule starts and stops the VM by cron, in a time zone.
type VMSchedule struct {
	StartCron, StopCron, TimeZone string
}

// Host is the Dify VM with its identity, addresses, data disk and secrets. The
// data disk is protected: replacing the VM or its boot disk loses nothing.
type Host struct {
	pulumi.ResourceState

	InstanceName         pulumi.StringOutput
	InstanceID           pulumi.StringOutput // the numeric id the Ops Agent's metrics carry
	Zone                 pulumi.StringOutput
	InternalAddress      pulumi.StringOutput // reserved; what the proxy targets
	ExternalAddress      pulumi.StringOutput // reserved; egress and a stable identity
	ServiceAccountEmail  pulumi.StringOutput
	ServiceAccountMember pulumi.StringOutput
	DataDiskName         pulumi.StringOutput
	AdminPasswordSecret  pulumi.StringOutput // Secret Manager secret id of Dify's INIT_PASSWORD
}

// NewHost creates the VM and its parts.
func NewHost(ctx *pulumi.Context, name string, args *HostArgs, opts ...pulumi.ResourceOption) (*Host, error) {
	c := &Host{}
	if err := ctx.RegisterComponentResource(pkg+"Host", name, c, opts...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}

	// A dedicated identity: never the default compute service account (CIS 4.1).
	sa, err := serviceaccount.NewAccount(ctx, name+"-vm", &serviceaccount.AccountArgs{
		AccountId:   pulumi.String(name + "-vm"),
		DisplayName: pulumi.String("Dify VM (" + name + ")"),
		Description: pulumi.String("Runs the Dify VM: reads its own secrets, writes backups and logs"),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("host: service account: %w", err)
	}
	for _, role := range []string{"roles/logging.logWriter", "roles/monitoring.metricWriter"} {
		if _, err := projects.NewIAMMember(ctx, name+"-vm-"+roleSuffix(role), &projects.IAMMemberArgs{
			Project: pulumi.String(args.Project), Role: pulumi.String(role), Member: sa.Member,
		}, child...); err != nil {
			return nil, fmt.Errorf("host: %s: %w", role, err)
		}
	}

	// Secrets are generated on the VM at first boot and kept here, so a replaced
	// VM finds them again and none ever passes through Pulumi state or metadata.
	// The program creates only the empty containers and the VM's access to them.
	var secretGrants []pulumi.Resource
	secretIDs := map[string]pulumi.StringOutput{}
	for _, s := range []string{"app-secrets", "admin-password"} {
		secret, err := secretmanager.NewSecret(ctx, name+"-"+s, &secretmanager.SecretArgs{
			SecretId:    pulumi.String(name + "-" + s),
			Labels:      args.Labels,
			Replication: &secretmanager.SecretReplicationArgs{Auto: &secretmanager.SecretReplicationAutoArgs{}},
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("host: secret %s: %w", s, err)
		}
		secretIDs[s] = secret.SecretId
		for _, role := range []string{"roles/secretmanager.secretAccessor", "roles/secretmanager.secretVersionAdder"} {
			grant, err := secretmanager.NewSecretIamMember(ctx, name+"-"+s+"-"+roleSuffix(role), &secretmanager.SecretIamMemberArgs{
				SecretId: secret.SecretId, Role: pulumi.String(role), Member: sa.Member,
			}, child...)
			if err != nil {
				return nil, fmt.Errorf("host: secret %s: %s: %w", s, role, err)
			}
			secretGrants = append(secretGrants, grant)
		}
	}

	// Both addresses are reserved resources: a dynamic address broke the proxy in
	// the source article. The external one exists for egress and a stable
	// identity, not for ingress (the firewall lets nothing in from the internet);
	// it is a deliberate exception to CIS 4.9.
	external, err := compute.NewAddress(ctx, name+"-external-ip", &compute.AddressArgs{
		Name:        pulumi.String(name + "-external-ip"),
		Region:      pulumi.String(args.Region),
		AddressType: pulumi.String("EXTERNAL"),
		Description: pulumi.String("Dify VM egress address (no ingress is allowed to it)"),
		Labels:      args.Labels,
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("host: external address: %w", err)
	}
	internal, err := compute.NewAddress(ctx, name+"-internal-ip", &compute.AddressArgs{
		Name:        pulumi.String(name + "-internal-ip"),
		Region:      pulumi.String(args.Region),
		AddressType: pulumi.String("INTERNAL"),
		Subnetwork:  args.Subnet,
		Description: pulumi.String("Dify VM internal address: the Cloud Run proxy's backend"),
		Labels:      args.Labels,
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("host: internal address: %w", err)
	}

	snapshots, err := compute.NewResourcePolicy(ctx, name+"-snapshots", &compute.ResourcePolicyArgs{
		Name:        pulumi.String(name + "-snapshots"),
		Region:      pulumi.String(args.Region),
		Description: pulumi.String("Daily snapshots of the Dify data disk"),
		SnapshotSchedulePolicy: &compute.ResourcePolicySnapshotSchedulePolicyArgs{
			Schedule: &compute.ResourcePolicySnapshotSchedulePolicyScheduleArgs{
				DailySchedule: &compute.ResourcePolicySnapshotSchedulePolicyScheduleDailyScheduleArgs{
					DaysInCycle: pulumi.Int(1),
					StartTime:   pulumi.String(SnapshotStartTime),
				},
			},
			RetentionPolicy: &compute.ResourcePolicySnapshotSchedulePolicyRetentionPolicyArgs{
				MaxRetentionDays:   pulumi.Int(args.SnapshotRetention),
				OnSourceDiskDelete: pulumi.String("KEEP_AUTO_SNAPSHOTS"),
			},
			SnapshotProperties: &compute.ResourcePolicySnapshotSchedulePolicySnapshotPropertiesArgs{
				Labels:           args.Labels,
				StorageLocations: pulumi.String(args.Region),
			},
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("host: snapshot schedule: %w", err)
	}

	// All of Dify's state lives on this disk. Pulumi refuses to delete it, with or
	// without the VM; `pulumi state unprotect` is the deliberate way out.
	disk, err := compute.NewDisk(ctx, name+"-data", &compute.DiskArgs{
		Name:        pulumi.String(name + "-data"),
		Zone:        pulumi.String(args.Zone),
		Size:        pulumi.Int(args.DataDiskGiB),
		Type:        pulumi.String(args.DataDiskType),
		Labels:      args.Labels,
		Description: pulumi.String("Dify state: docker/volumes (databases, uploads, plugins, vectors)"),
	}, with(child, pulumi.Protect(true))...)
	if err != nil {
		return nil, fmt.Errorf("host: data disk: %w", err)
	}
	if _, err := compute.NewDiskResourcePolicyAttachment(ctx, name+"-data-snapshots", &compute.DiskResourcePolicyAttachmentArgs{
		Disk: disk.Name, Zone: pulumi.String(args.Zone), Name: snapshots.Name,
	}, child...); err != nil {
		return nil, fmt.Errorf("host: snapshot attachment: %w", err)
	}

	// On the managed tier the VM reaches Cloud SQL and Memorystore's APIs
	// with its own identity, through custom roles of exactly what it calls.
	vmDeps := secretGrants
	managed := pulumi.All() // the endpoints, resolved; nothing on the vm tier
	if m := args.Managed; m != nil {
		for _, suffix := range slices.Sorted(maps.Keys(m.ClientRoles)) {
			grant, err := projects.NewIAMMember(ctx, name+"-vm-"+suffix, &projects.IAMMemberArgs{
				Project: pulumi.String(args.Project), Role: m.ClientRoles[suffix], Member: sa.Member,
			}, child...)
			if err != nil {
				return nil, fmt.Errorf("host: %s: %w", suffix, err)
			}
			vmDeps = append(vmDeps, grant)
		}
		managed = pulumi.All(m.DBHost, m.DBInstance, m.RedisHost, m.RedisPort, m.RedisInstance)
	}

	values := args.Script
	values.DataDiskDevice = topology.DataDeviceName
	script := pulumi.All(args.PublicURL, secretIDs["app-secrets"], secretIDs["admin-password"], managed).ApplyT(
		func(in []any) (string, error) {
			v := values
			v.PublicURL, v.AppSecretsSecret, v.AdminPasswordSecret = in[0].(string), in[1].(string), in[2].(string)
			if args.Managed != nil {
				m := in[3].([]any)
				v.Managed.DBHost, v.Managed.DBInstance = m[0].(string), m[1].(string)
				v.Managed.RedisHost, v.Managed.RedisPort, v.Managed.RedisInstance = m[2].(string), m[3].(int), m[4].(string)
			}
			if !args.SameOrigin {
				v.BrowserURL = v.PublicURL
			}
			s, err := hostscript.Render(v)
			if err != nil {
				return "", fmt.Errorf("host: startup script: %w", err)
			}
			return s, nil
		}).(pulumi.StringOutput)

	var schedule pulumi.StringPtrInput
	if args.Schedule != nil {
		policy, err := compute.NewResourcePolicy(ctx, name+"-schedule", &compute.ResourcePolicyArgs{
			Name:        pulumi.String(name + "-schedule"),
			Region:      pulumi.String(args.Region),
			Description: pulumi.String("Runs the Dify VM only in working hours"),
			InstanceSchedulePolicy: &compute.ResourcePolicyInstanceSchedulePolicyArgs{
				VmStartSchedule: &compute.ResourcePolicyInstanceSchedulePolicyVmStartScheduleArgs{Schedule: pulumi.String(args.Schedule.StartCron)},
				VmStopSchedule:  &compute.ResourcePolicyInstanceSchedulePolicyVmStopScheduleArgs{Schedule: pulumi.String(args.Schedule.StopCron)},
				TimeZone:        pulumi.String(args.Schedule.TimeZone),
			},
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("host: schedule: %w", err)
		}
		// Google starts and stops scheduled VMs as the Compute Engine service
		// agent, which needs the right to do so. The agent is not a primary
		// one (generateServiceIdentity does not make it): enabling the Compute
		// Engine API creates it, and the grant waits for that API like every
		// child here (cloud rule service-agent-exists). The VM waits for the
		// grant; IAM can still take minutes to let the agent act on it, which
		// is the one retry docs/deploy.md describes.
		agent, err := projects.NewIAMMember(ctx, name+"-schedule-agent", &projects.IAMMemberArgs{
			Project: pulumi.String(args.Project), Role: pulumi.String("roles/compute.instanceAdmin.v1"),
			Member: pulumi.Sprintf("serviceAccount:service-%s@compute-system.iam.gserviceaccount.com", args.ProjectNumber),
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("host: schedule agent: %w", err)
		}
		schedule = policy.SelfLink
		vmDeps = append(vmDeps, agent)
	}

	vm, err := compute.NewInstance(ctx, name, &compute.InstanceArgs{
		Name:        pulumi.String(name),
		Zone:        pulumi.String(args.Zone),
		MachineType: pulumi.String(args.MachineType),
		Labels:      args.Labels,
		Tags:        pulumi.StringArray{pulumi.String(args.Tag)},
		BootDisk: &compute.InstanceBootDiskArgs{
			AutoDelete: pulumi.Bool(true),
			InitializeParams: &compute.InstanceBootDiskInitializeParamsArgs{
				Image: pulumi.String("debian-cloud/debian-12"),
				Size:  pulumi.Int(args.BootDiskGiB),
				Type:  pulumi.String("pd-balanced"),
			},
		},
		AttachedDisks: compute.InstanceAttachedDiskArray{&compute.InstanceAttachedDiskArgs{
			Source: disk.SelfLink, DeviceName: pulumi.String(topology.DataDeviceName), Mode: pulumi.String("READ_WRITE"),
		}},
		NetworkInterfaces: compute.InstanceNetworkInterfaceArray{&compute.InstanceNetworkInterfaceArgs{
			Subnetwork:    args.Subnet,
			NetworkIp:     internal.Address,
			AccessConfigs: compute.InstanceNetworkInterfaceAccessConfigArray{&compute.InstanceNetworkInterfaceAccessConfigArgs{NatIp: external.Address}},
		}},
		ServiceAccount: &compute.InstanceServiceAccountArgs{
			// The broad scope is Google's recommendation for a dedicated service
			// account: its IAM roles, granted above and by the backups, are the limit.
			Email:  sa.Email,
			Scopes: pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/cloud-platform")},
		},
		ShieldedInstanceConfig: &compute.InstanceShieldedInstanceConfigArgs{
			EnableSecureBoot: pulumi.Bool(true), EnableVtpm: pulumi.Bool(true), EnableIntegrityMonitoring: pulumi.Bool(true),
		},
		Scheduling: scheduling(args.Spot),
		// The startup script goes in the metadata map, which is updated in place;
		// the metadataStartupScript field would replace the VM on every change.
		Metadata: pulumi.StringMap{
			"startup-script":         script,
			"enable-oslogin":         pulumi.String("TRUE"),
			"block-project-ssh-keys": pulumi.String("TRUE"),
			"serial-port-enable":     pulumi.String("FALSE"),
		},
		CanIpForward:           pulumi.Bool(false),
		AllowStoppingForUpdate: pulumi.Bool(true),
		DeletionProtection:     pulumi.Bool(args.DeletionProtection),
		ResourcePolicies:       schedule,
	}, with(child, pulumi.DependsOn(vmDeps))...)
	if err != nil {
		return nil, fmt.Errorf("host: instance: %w", err)
	}

	c.InstanceName = vm.Name
	c.InstanceID = vm.InstanceId
	c.Zone = vm.Zone
	c.InternalAddress = internal.Address
	c.ExternalAddress = external.Address
	c.ServiceAccountEmail = sa.Email
	c.ServiceAccountMember = sa.Member
	c.DataDiskName = disk.Name
	c.AdminPasswordSecret = secretIDs["admin-password"]
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"instanceName": c.InstanceName, "instanceId": c.InstanceID, "zone": c.Zone, "internalAddress": c.InternalAddress,
		"externalAddress": c.ExternalAddress, "serviceAccountEmail": c.ServiceAccountEmail,
		"dataDiskName": c.DataDiskName, "adminPasswordSecret": c.AdminPasswordSecret,
	}); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return c, nil
}

// scheduling keeps a standard VM running through host maintenance (live
// migration, automatic restart). A Spot VM stops, never deletes, when reclaimed,
// so the boot disk and its state survive.
func scheduling(spot bool) *compute.InstanceSchedulingArgs {
	if spot {
		return &compute.InstanceSchedulingArgs{
			ProvisioningModel:         pulumi.String("SPOT"),
			Preemptible:               pulumi.Bool(true),
			AutomaticRestart:          pulumi.Bool(false),
			OnHostMaintenance:         pulumi.String("TERMINATE"),
			InstanceTerminationAction: pulumi.String("STOP"),
		}
	}
	return &compute.InstanceSchedulingArgs{
		ProvisioningModel: pulumi.String("STANDARD"),
		Preemptible:       pulumi.Bool(false),
		AutomaticRestart:  pulumi.Bool(true),
		OnHostMaintenance: pulumi.String("MIGRATE"),
	}
}

// roleSuffix turns "roles/secretmanager.secretAccessor" into "secretAccessor"
// for resource names.
func roleSuffix(role string) string { return role[strings.LastIndexAny(role, "./")+1:] }
