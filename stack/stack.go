// Package stack is the composition root of a dify-gcp deployment: it loads and
// validates the configuration, wires the components together and exports the
// outputs. main.go runs it under `pulumi up`; the tests and the offline plan run
// the very same function under Pulumi's mocks.
package stack

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/armor"
	"github.com/dify-gcp/dify-gcp/components"
	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/dify-gcp/dify-gcp/signals"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/organizations"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProxyContext is the proxy image's build context, relative to the project.
const ProxyContext = "proxy"

// Program deploys Dify for the current stack. Configuration is validated first,
// and any problem stops the run before a single resource is registered.
func Program(ctx *pulumi.Context) error {
	cfg, err := config.Load(ctx.Stack(), ctx.GetConfig, config.SecretKeys(ctx.IsConfigSecret))
	if err != nil {
		return err
	}
	previous, err := PreviousDataTier(ctx)
	if err != nil {
		return err
	}
	if err := cfg.CheckTierChange(previous); err != nil {
		return err
	}
	return Deploy(ctx, cfg)
}

// PreviousDataTier is the data tier the stack's last deployment ran: the
// dataTier output it exported, read through a stack reference to the stack
// itself, or "" when there is none (a stack never deployed has no outputs;
// one deployed before the output existed could only run the vm tier). The
// read blocks, so Program decides before registering anything else; it
// changes nothing in the cloud (a stack reference is a read of Pulumi's own
// backend).
func PreviousDataTier(ctx *pulumi.Context) (string, error) {
	self := ctx.Organization() + "/" + ctx.Project() + "/" + ctx.Stack()
	ref, err := pulumi.NewStackReference(ctx, "previous-deployment", &pulumi.StackReferenceArgs{Name: pulumi.String(self)})
	if err != nil {
		return "", fmt.Errorf("stack: reading the last deployment's outputs (%s): %w", self, err)
	}
	out, err := ref.GetOutputDetails(outputs.DataTier)
	if err != nil {
		// A self-managed backend of the legacy layout (before Pulumi 3.61)
		// knows no ORGANIZATION/PROJECT/STACK names.
		return "", fmt.Errorf("stack: reading the last deployment's %s output through %s: %w (on a self-managed backend created before Pulumi 3.61, run pulumi state upgrade)", outputs.DataTier, self, err)
	}
	tier, _ := out.Value.(string)
	return tier, nil
}

// Deploy registers the whole deployment for a validated configuration.
func Deploy(ctx *pulumi.Context, cfg *config.Config) error {
	name := cfg.Name()
	labels := components.Labels(cfg.Stack)

	services := components.RequiredAPIs()
	if cfg.DNSZone != "" {
		services = append(services, "dns.googleapis.com") // the edge's A record
	}
	if cfg.IsManaged() {
		services = append(services, components.ManagedTierAPIs()...)
	}
	apis, err := components.NewAPIs(ctx, "apis", &components.APIsArgs{Project: cfg.Project, Services: services})
	if err != nil {
		return err
	}
	afterAPIs := pulumi.DependsOn(apis.Enabled)

	network, err := components.NewNetwork(ctx, name, &components.NetworkArgs{
		Region: cfg.Region, VMSubnetCIDR: cfg.VMSubnetCIDR, RunSubnetCIDR: cfg.RunSubnetCIDR, VMTag: name + "-vm",
	}, afterAPIs)
	if err != nil {
		return err
	}

	// Dify must know its public address before the service exists; Cloud Run's
	// deterministic URL (SERVICE-PROJECT_NUMBER.REGION.run.app) gives it up front,
	// so the VM never waits for the service.
	projectNumber := organizations.LookupProjectOutput(ctx, organizations.LookupProjectOutputArgs{ProjectId: pulumi.String(cfg.Project)}).Number()
	publicURL := pulumi.String("https://" + cfg.Domain).ToStringOutput()
	if cfg.Domain == "" {
		publicURL = pulumi.Sprintf("https://%s-%s.%s.run.app", name, projectNumber, cfg.Region)
	}
	var schedule *components.VMSchedule
	if cfg.VMStartCron != "" {
		schedule = &components.VMSchedule{StartCron: cfg.VMStartCron, StopCron: cfg.VMStopCron, TimeZone: cfg.VMScheduleTimeZone}
	}

	// The managed data tier: private services access in the VPC, then Cloud
	// SQL and Memorystore in it; the VM needs their addresses, so they come
	// first.
	script := hostscript.Values{
		Stack: cfg.Stack, Project: cfg.Project, DifyVersion: cfg.DifyVersion,
		Images:         cfg.Images,
		UploadLimitMiB: cfg.UploadLimitMiB, BodyLimitMiB: cfg.BodyLimitMiB(),
		BackupBucket: cfg.BackupBucketName(), BackupOnCalendar: cfg.BackupOnCalendar(),
		DataTier: hostscript.TierVM,
	}
	var managed *components.HostManaged
	if cfg.IsManaged() {
		if managed, err = deployManagedTier(ctx, cfg, network, labels, afterAPIs); err != nil {
			return err
		}
		script.DataTier = hostscript.TierManaged
		script.Managed = hostscript.Managed{DBUser: datatier.DBUser, FilesBucket: cfg.FilesBucketName()} // the rest from the resources
	}

	host, err := components.NewHost(ctx, name, &components.HostArgs{
		Project: cfg.Project, Region: cfg.Region, Zone: cfg.Zone, Labels: labels,
		MachineType: cfg.MachineType, Spot: cfg.Provisioning == config.Spot,
		BootDiskGiB: cfg.BootDiskGiB, DataDiskGiB: cfg.DataDiskGiB, DataDiskType: cfg.DataDiskType,
		SnapshotRetention: cfg.SnapshotRetentionDays, DeletionProtection: cfg.DeletionProtection,
		Subnet: network.VMSubnetSelfLink, Tag: name + "-vm",
		Schedule: schedule, ProjectNumber: projectNumber,
		Script:    script,
		Managed:   managed,
		PublicURL: publicURL,
		// A private stack is used through `gcloud run services proxy`: its
		// browser must call the origin that served the page, not run.app.
		SameOrigin: cfg.Access == config.Private,
	}, afterAPIs)
	if err != nil {
		return err
	}

	backups, err := components.NewBackups(ctx, name+"-backups", &components.BackupsArgs{
		BucketName: cfg.BackupBucketName(), Location: cfg.Region, RetentionDays: cfg.BackupRetentionDays,
		Labels: labels, ForceDestroy: !cfg.DeletionProtection, Writer: host.ServiceAccountMember,
	}, afterAPIs)
	if err != nil {
		return err
	}

	filesBucket := pulumi.String("").ToStringOutput()
	if cfg.IsManaged() {
		files, err := components.NewFiles(ctx, name, &components.FilesArgs{
			Project: cfg.Project, BucketName: cfg.FilesBucketName(), Location: cfg.Region, Labels: labels, User: host.ServiceAccountMember,
		}, afterAPIs)
		if err != nil {
			return err
		}
		filesBucket = files.BucketName
	}

	image, err := components.NewProxyImage(ctx, name+"-proxy", &components.ProxyImageArgs{
		Project: cfg.Project, Location: cfg.Region, RepositoryID: name, ImageName: "proxy", Tag: cfg.Stack,
		Context: ProxyContext, Labels: labels, Prebuilt: cfg.ProxyImage,
	}, afterAPIs)
	if err != nil {
		return err
	}

	// The edge comes before the service: the proxy needs its address, and
	// its serverless NEG names the service without waiting for it.
	var edge *components.Edge
	var serviceEdge *components.ServiceEdge
	if cfg.Edge() {
		edgeArgs := &components.EdgeArgs{
			Project: cfg.Project, Region: cfg.Region, Domain: cfg.Domain, DNSZone: cfg.DNSZone, Labels: labels,
			ServiceName: name,
			Armor: armor.Settings{WAF: string(cfg.WAFMode), AllowedRanges: cfg.AllowedSourceRanges,
				PerMinute: cfg.RateLimitPerMinute, SignInPerMinute: cfg.SignInRateLimitPerMinute},
		}
		if cfg.Access == config.IAP {
			edgeArgs.IAP = &components.EdgeIAP{ClientID: cfg.IAPClientID, ClientSecret: pulumi.ToSecret(cfg.IAPClientSecret).(pulumi.StringOutput), Members: cfg.Invokers}
		}
		if edge, err = components.NewEdge(ctx, name+"-edge", edgeArgs, afterAPIs); err != nil {
			return err
		}
		serviceEdge = &components.ServiceEdge{Address: edge.Address, URL: "https://" + cfg.Domain}
	}

	var invokers []string
	var agentInvoker pulumi.StringInput
	switch cfg.Access {
	case config.Public:
		invokers = []string{components.AllUsers}
	case config.Private:
		invokers = cfg.Invokers
	case config.IAP:
		agentInvoker = edge.IAPAgentMember // IAP's agent alone; people pass IAP
	}
	service, err := components.NewService(ctx, name, &components.ServiceArgs{
		Region: cfg.Region, Labels: labels,
		Image:          image.Ref,
		Backend:        host.InternalAddress, // the address, not the VM: both deploy in parallel
		TimeoutSeconds: cfg.RequestTimeoutSeconds, BodyLimitMiB: cfg.BodyLimitMiB(),
		MinInstances: cfg.ProxyMinInstances, MaxInstances: cfg.ProxyMaxInstances,
		Network: network.NetworkID, Subnet: network.RunSubnetID,
		Access: string(cfg.Access), Production: cfg.Production, Invokers: invokers, AgentInvoker: agentInvoker,
		Edge: serviceEdge,
	}, afterAPIs)
	if err != nil {
		return err
	}

	// The front door: the edge's domain when there is one (run.app is off).
	serviceURL, edgeAddress := service.URL, pulumi.String("").ToStringOutput()
	if edge != nil {
		serviceURL, edgeAddress = edge.URL, edge.Address
	}

	// What the stack watches and shows: the log bucket's retention always,
	// the alerts and the SLO with monitoring, the dashboard always (its
	// uptime and SLO tiles say when there are none).
	backendService := pulumi.String("").ToStringOutput()
	if edge != nil {
		backendService = edge.BackendServiceName
	}
	thresholds := signals.Settings{BackupAlertAfter: cfg.BackupAlertAfter(), DiskPercent: cfg.DiskAlertPercent,
		SLO: signals.SLO{Percent: cfg.SLOTargetPercent, WindowDays: cfg.SLOWindowDays}}
	if _, err := components.NewLogging(ctx, name+"-logging", &components.LoggingArgs{
		Project: cfg.Project, RetentionDays: cfg.LogRetentionDays,
		// Without monitoring there is no uptime check, and nothing to exclude.
		ExcludeHealthChecks: cfg.ExcludeHealthCheckLogs && cfg.Monitoring, ServiceName: name, BackendService: backendService,
	}, afterAPIs); err != nil {
		return err
	}
	dashboardArgs := &components.DashboardArgs{
		Project: cfg.Project, Deployment: name, Service: name, InstanceName: name, InstanceID: host.InstanceID,
		DiskPercent: cfg.DiskAlertPercent,
	}
	if cfg.Monitoring {
		mon, err := components.NewMonitoring(ctx, name+"-monitoring", &components.MonitoringArgs{
			Stack: cfg.Stack, Deployment: name, Project: cfg.Project, Emails: cfg.AlertEmails,
			CheckURL: serviceURL, ServiceName: service.Name, ServiceLocation: cfg.Region,
			Private: cfg.Access == config.Private, BehindIAP: cfg.Access == config.IAP,
			InstanceName: name, InstanceID: host.InstanceID, Service: name, Signals: thresholds,
		}, afterAPIs)
		if err != nil {
			return err
		}
		slo, err := components.NewSLO(ctx, name+"-slo", &components.SLOArgs{
			Project: cfg.Project, Region: cfg.Region, Deployment: name, Service: name,
			Objective: thresholds.SLO, Signals: thresholds, Channels: mon.Channels,
		}, afterAPIs)
		if err != nil {
			return err
		}
		dashboardArgs.UptimeCheckID, dashboardArgs.SLOName = mon.UptimeCheckID, slo.Name
	}
	dashboard, err := components.NewDashboard(ctx, name+"-dashboard", dashboardArgs, afterAPIs)
	if err != nil {
		return err
	}

	for k, v := range map[string]pulumi.Input{
		outputs.ServiceURL:          serviceURL,
		outputs.EdgeAddress:         edgeAddress,
		outputs.PublicURL:           publicURL,
		outputs.ServiceName:         service.Name,
		outputs.Region:              pulumi.String(cfg.Region),
		outputs.Zone:                host.Zone,
		outputs.VMName:              host.InstanceName,
		outputs.InternalAddress:     host.InternalAddress,
		outputs.ExternalAddress:     host.ExternalAddress,
		outputs.BackupBucket:        backups.BucketName,
		outputs.ImageRef:            image.Ref,
		outputs.VMServiceAccount:    host.ServiceAccountEmail,
		outputs.ProxyServiceAccount: service.ServiceAccountEmail,
		outputs.AdminPasswordSecret: host.AdminPasswordSecret,
		outputs.DashboardURL:        dashboard.URL,
		outputs.DataTier:            pulumi.String(cfg.DataTier),
		outputs.DatabaseInstance:    databaseInstance(managed),
		outputs.FilesBucket:         filesBucket,
	} {
		ctx.Export(k, v)
	}
	return nil
}

// deployManagedTier creates private services access, Cloud SQL and
// Memorystore, and returns what the host needs of them.
func deployManagedTier(ctx *pulumi.Context, cfg *config.Config, network *components.Network, labels pulumi.StringMap, opts ...pulumi.ResourceOption) (*components.HostManaged, error) {
	name, m := cfg.Name(), cfg.Managed
	access, err := components.NewPrivateServiceAccess(ctx, name, &components.PrivateServiceAccessArgs{
		Network: network.NetworkID, CIDR: m.ServiceRangeCIDR,
	}, opts...)
	if err != nil {
		return nil, err
	}
	db, err := components.NewDatabase(ctx, name, &components.DatabaseArgs{
		Project: cfg.Project, Region: cfg.Region, Zone: cfg.Zone, Labels: labels,
		Tier: m.DatabaseTier, DiskGiB: m.DatabaseDiskGiB, HighAvailability: m.DatabaseHighAvailability,
		Backups: m.DatabaseBackups, LogRetentionDays: m.DatabaseLogRetentionDays, DeletionProtection: cfg.DeletionProtection,
		Network: network.NetworkID, Access: access,
	}, opts...)
	if err != nil {
		return nil, err
	}
	cache, err := components.NewCache(ctx, name, &components.CacheArgs{
		Project: cfg.Project, Region: cfg.Region, Zone: cfg.Zone, Labels: labels,
		Tier: m.RedisTier, MemoryGB: m.RedisMemoryGB, Network: network.NetworkID, Access: access,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &components.HostManaged{
		DBHost: db.PrivateIP, DBInstance: db.InstanceName,
		RedisHost: cache.Host, RedisPort: cache.Port, RedisInstance: cache.Instance,
		ClientRoles: map[string]pulumi.StringInput{"db-client": db.ClientRole, "cache-client": cache.ClientRole},
	}, nil
}

// databaseInstance is the Cloud SQL instance's name on the managed tier, ""
// on the vm tier.
func databaseInstance(m *components.HostManaged) pulumi.StringInput {
	if m == nil {
		return pulumi.String("")
	}
	return m.DBInstance
}
