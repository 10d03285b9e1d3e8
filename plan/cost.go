package plan

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dify-gcp/dify-gcp/armor"
	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/dify-gcp/dify-gcp/signals"
)

// HoursPerMonth is the month Google's price pages use.
const HoursPerMonth = 730

// Price is one list price with where it came from.
type Price struct {
	USD    float64
	Unit   string
	Source string
	// Check marks a price not confirmed in the project's reference notes.
	Check bool
}

// PricesAsOf dates the table: list prices move, so the estimate says when its
// numbers were read.
const PricesAsOf = "2026-06 (asia-northeast1 list prices)"

// Prices returns the price table the estimate uses. Sources: Google Cloud's
// pricing pages as summarised in shared/reference/gcp.md; entries marked Check
// come from the public pricing pages directly and should be re-read before
// budgeting on them.
func Prices() map[string]Price {
	const gcp = "shared/reference/gcp.md (Compute Engine)"
	return map[string]Price{
		"vm/e2-standard-2/standard": {0.086, "hour", gcp, false},
		"vm/e2-standard-2/spot":     {0.052, "hour", gcp, false},
		"disk/pd-balanced":          {0.13, "GiB-month", gcp, false},
		"disk/pd-standard":          {0.052, "GiB-month", gcp, false},
		"disk/pd-ssd":               {0.221, "GiB-month", "cloud.google.com/compute/disks-image-pricing", true},
		"snapshot":                  {0.064, "GiB-month", gcp, false},
		"ip/external-in-use":        {0.005, "hour", gcp, false},
		"ip/external-reserved":      {0.015, "hour (reserved, unattached)", gcp, false},
		"gcs/standard":              {0.023, "GiB-month", "cloud.google.com/storage/pricing (regional Standard)", true},
		"registry/storage":          {0.10, "GiB-month over 0.5 GiB", "shared/reference/gcp.md (Artifact Registry)", false},
		"run/idle-vcpu":             {0.0000025, "vCPU-second (idle minimum instance)", "cloud.google.com/run/pricing (tier 1)", true},
		"run/idle-gib":              {0.0000025, "GiB-second (idle minimum instance)", "cloud.google.com/run/pricing (tier 1)", true},
		"lb/forwarding-rules":       {0.025, "hour (the first 5 forwarding rules together)", "cloud.google.com/vpc/network-pricing (global external Application Load Balancer)", true},
		"lb/data":                   {0.008, "GiB processed", "cloud.google.com/vpc/network-pricing (global external Application Load Balancer)", true},
		"armor/policy":              {5, "policy-month", "cloud.google.com/armor/pricing (Standard)", true},
		"armor/rule":                {1, "rule-month", "cloud.google.com/armor/pricing (Standard)", true},
		"armor/requests":            {0.75, "million requests", "cloud.google.com/armor/pricing (Standard)", true},
		// What the stack watches and shows.
		"logging/ingestion":   {0.50, "GiB ingested over the first 50 GiB of each project and month", "shared/reference/gcp.md (Cloud Logging)", false},
		"logging/retention":   {0.01, "GiB-month kept past 30 days", "shared/reference/gcp.md (Cloud Logging)", false},
		"monitoring/metrics":  {0.258, "MiB ingested over the first 150 MiB of each billing account and month", "cloud.google.com/stackdriver/pricing (Monitoring data; agent.googleapis.com/agent/* is free)", true},
		"monitoring/alerting": {1.50, "condition-month", "cloud.google.com/monitoring/alerts/cost-control (alerting policies)", true},
		"monitoring/series":   {0.35, "million time series returned by alert conditions", "cloud.google.com/monitoring/alerts/cost-control (alerting policies)", true},
		"monitoring/uptime":   {0.30, "thousand executions over the first million of each billing account and month", "cloud.google.com/stackdriver/pricing (uptime checks)", true},
		// The managed data tier (Cloud SQL Enterprise edition; HA doubles
		// vCPU, memory and storage). Not in the reference notes: every one
		// is to be checked on the pricing pages for the region.
		"sql/vcpu":       {0.0535, "vCPU-hour (Enterprise, zonal)", sqlPricing, true},
		"sql/memory":     {0.0091, "GiB-hour (Enterprise, zonal)", sqlPricing, true},
		"sql/ssd":        {0.221, "GiB-month (zonal)", sqlPricing, true},
		"sql/backup":     {0.104, "GiB-month", sqlPricing, true},
		"sql/f1-micro":   {0.0137, "hour (shared core, zonal)", sqlPricing, true},
		"sql/g1-small":   {0.0455, "hour (shared core, zonal)", sqlPricing, true},
		"redis/basic":    {0.0637, "GB-hour (Basic, 1-4 GB)", redisPricing, true},
		"redis/standard": {0.0832, "GB-hour (Standard, 1-4 GB)", redisPricing, true},
	}
}

// Where the managed tier's prices come from.
const (
	sqlPricing   = "cloud.google.com/sql/pricing (asia-northeast1)"
	redisPricing = "cloud.google.com/memorystore/docs/redis/pricing (asia-northeast1; larger capacity tiers cost less per GB)"
)

// Assumptions behind the quantities that config alone does not fix.
const (
	// DataFullness is the share of the data disk assumed in use.
	DataFullness = 0.5
	// DailyChange is the share of used data assumed to change each day, which
	// each incremental snapshot stores.
	DailyChange = 0.02
	// BackupShare is a complete backup's size relative to the used data
	// (compressed dumps and archives).
	BackupShare = 0.5
	// ProxyImageGiB is the size of one proxy image version.
	ProxyImageGiB = 0.02
	// FilesGiB is the size of Dify's files assumed in the managed tier's
	// bucket (the vm tier keeps them on the data disk).
	FilesGiB = 10
	// EdgeRequestsPerMonth and EdgeGiBPerMonth are the traffic assumed through
	// the edge, for its per-request and per-GiB charges: a team of about a
	// hundred people using Dify daily.
	EdgeRequestsPerMonth = 3_000_000
	EdgeGiBPerMonth      = 30

	// Log volume. Every request to Dify leaves LogEntriesPerRequest entries
	// (Cloud Run's request entry, the proxy's access line, Dify's nginx line
	// and about one line of Dify's own), one more with the edge (the load
	// balancer logs every request), of LogEntryKiB each on average with
	// their resource and labels; Dify's containers, the startup script and
	// the backups write ContainerLogGiBPerMonth besides. The requests are
	// EdgeRequestsPerMonth. VPC flow logs and firewall logs (vended network
	// logs, $0.25/GiB with no free allotment) depend on connections, not
	// requests, and are not estimated.
	LogEntriesPerRequest    = 4
	LogEntryKiB             = 1.0
	ContainerLogGiBPerMonth = 2.0
	// FreeLogGiB is Cloud Logging's free ingestion per project and month.
	FreeLogGiB = 50
	// UptimeCheckers is how many checker locations probe the front door
	// (every region: three in the USA, Europe, South America, Asia Pacific),
	// each leaving as many request entries as a request.
	UptimeCheckers = 6

	// AgentChargeableSeries is how many chargeable time series the Ops
	// Agent writes with the configuration of hostscript/startup/opsagent.sh
	// (which leaves out its CPU, network, process and disk-I/O metrics):
	// memory bytes and percent in 5 states (10), swap I/O in 2 directions,
	// and disk bytes and percent used for 3 file systems (/, /boot/efi, the
	// data disk) in 3 states (18). agent.googleapis.com/agent/* is free.
	AgentChargeableSeries = 30
	// MetricBytesPerPoint is how Cloud Monitoring counts a scalar point for
	// billing; FreeMetricMiB is its free allotment per billing account, which
	// every stack and workload of the account share.
	MetricBytesPerPoint = 8
	FreeMetricMiB       = 150
	// AlertExecutionPeriod is how often Cloud Monitoring evaluates a
	// condition in Google's alerting price examples; each evaluation of the
	// stack's conditions returns about one time series (the disk condition
	// one per file system).
	AlertExecutionPeriod = 30 * time.Second
)

// Line is one item of the estimate.
type Line struct {
	Item     string  `json:"item"`
	Quantity string  `json:"quantity"`
	USD      float64 `json:"usdPerMonth"`
	Note     string  `json:"note,omitempty"`
}

// Estimate is a stack's monthly cost estimate.
type Estimate struct {
	PricesAsOf string  `json:"pricesAsOf"`
	Lines      []Line  `json:"lines"`
	TotalUSD   float64 `json:"totalUsdPerMonth"`
	Assumes    string  `json:"assumes"`
}

// EstimateFor prices cfg. Traffic-dependent costs (Cloud Run requests, egress,
// logging over the free tier) are left out: they depend on use, not on config.
func EstimateFor(cfg *config.Config) Estimate {
	p := Prices()
	e := Estimate{
		PricesAsOf: PricesAsOf,
		Assumes: fmt.Sprintf("data disk %.0f%% full, %.0f%% of it changing daily, a backup %.0f%% of the used data; "+
			"%d million requests a month (through the edge, with %d GiB); %d log entries of %.0f KiB per request (%d with the edge) and %.0f GiB of the VM's own logs a month; "+
			"%d chargeable Ops Agent series each minute; the free allotments of logs (per project) and metrics and uptime checks (per billing account) not used by anything else; "+
			"Cloud Run requests, network egress and VPC flow and firewall logs are not included; dashboards and SLOs cost nothing",
			DataFullness*100, DailyChange*100, BackupShare*100, EdgeRequestsPerMonth/1_000_000, EdgeGiBPerMonth,
			LogEntriesPerRequest, LogEntryKiB, LogEntriesPerRequest+1, ContainerLogGiBPerMonth, AgentChargeableSeries),
	}
	if cfg.IsManaged() {
		e.Assumes += fmt.Sprintf("; on the managed tier, Cloud SQL's storage %.0f%% full, %.0f%% changing daily, and %d GiB of files",
			DataFullness*100, DailyChange*100, FilesGiB)
	}
	add := func(item, qty string, usd float64, note string) {
		usd = math.Round(usd*100) / 100
		e.Lines = append(e.Lines, Line{Item: item, Quantity: qty, USD: usd, Note: note})
		e.TotalUSD += usd
	}

	model := "standard"
	if cfg.Provisioning == config.Spot {
		model = "spot"
	}
	vm := p["vm/e2-standard-2/"+model]
	vmHourly, vmNote := vm.USD, ""
	if cfg.MachineType != "e2-standard-2" {
		// Scale by vCPUs from the e2-standard-2 price: an approximation.
		if n := vcpus(cfg.MachineType); n > 0 {
			vmHourly = vm.USD * float64(n) / 2
		}
		vmNote = "scaled from e2-standard-2 by vCPU count: approximate"
	}
	hours := float64(HoursPerMonth)
	if weekly, ok := ScheduledHoursPerWeek(cfg.VMStartCron, cfg.VMStopCron); ok {
		hours = weekly * HoursPerMonth / (24 * 7)
		saving := (HoursPerMonth - hours) * vmHourly
		vmNote = strings.TrimPrefix(vmNote+fmt.Sprintf("; runs %.0f h a week by schedule, saving %.2f a month", weekly, saving), "; ")
	} else if cfg.VMStartCron != "" {
		vmNote = strings.TrimPrefix(vmNote+"; schedule too irregular to estimate: priced as always on", "; ")
	}
	add(fmt.Sprintf("VM %s (%s)", cfg.MachineType, model), fmt.Sprintf("%.0f h", hours), vmHourly*hours, vmNote)

	add("boot disk pd-balanced", fmt.Sprintf("%d GiB", cfg.BootDiskGiB), float64(cfg.BootDiskGiB)*p["disk/pd-balanced"].USD, "")
	disk := p["disk/"+cfg.DataDiskType]
	add("data disk "+cfg.DataDiskType, fmt.Sprintf("%d GiB", cfg.DataDiskGiB), float64(cfg.DataDiskGiB)*disk.USD, checkNote(disk))

	used := float64(cfg.DataDiskGiB) * DataFullness
	snapGiB := used + used*DailyChange*float64(cfg.SnapshotRetentionDays)
	add("data disk snapshots", fmt.Sprintf("%.1f GiB (%d days)", snapGiB, cfg.SnapshotRetentionDays), snapGiB*p["snapshot"].USD, "")

	add("external IPv4 (in use)", fmt.Sprintf("%.0f h", hours), hours*p["ip/external-in-use"].USD, "")
	if hours < HoursPerMonth {
		// A reserved address costs more while its VM is stopped.
		add("external IPv4 (reserved, VM stopped)", fmt.Sprintf("%.0f h", HoursPerMonth-hours), (HoursPerMonth-hours)*p["ip/external-reserved"].USD, "")
	}

	runs := float64(24/cfg.BackupIntervalHours) * float64(cfg.BackupRetentionDays)
	backupGiB := runs * used * BackupShare
	gcs := p["gcs/standard"]
	add("backups in GCS", fmt.Sprintf("%.0f backups, %.0f GiB", runs, backupGiB), backupGiB*gcs.USD, checkNote(gcs))

	regGiB := 10 * ProxyImageGiB // the cleanup policy keeps ten versions
	add("Artifact Registry", fmt.Sprintf("%.1f GiB", regGiB), math.Max(0, regGiB-0.5)*p["registry/storage"].USD, "within the free 0.5 GiB")

	if cfg.Edge() {
		fr := p["lb/forwarding-rules"]
		add("edge forwarding rules (443, 80)", fmt.Sprintf("%d h", HoursPerMonth), HoursPerMonth*fr.USD, checkNote(fr))
		data := p["lb/data"]
		add("edge data processed", fmt.Sprintf("%d GiB (assumed)", EdgeGiBPerMonth), EdgeGiBPerMonth*data.USD, checkNote(data))
		rules := len(armor.Rules(armorSettings(cfg)))
		pol, rule, req := p["armor/policy"], p["armor/rule"], p["armor/requests"]
		add("Cloud Armor policy and rules", fmt.Sprintf("1 policy, %d rules", rules), pol.USD+float64(rules)*rule.USD, checkNote(pol))
		add("Cloud Armor requests", fmt.Sprintf("%.0f million (assumed)", EdgeRequestsPerMonth/1e6), EdgeRequestsPerMonth/1e6*req.USD, checkNote(req))
	}
	signalLines(cfg, hours, add)
	if cfg.IsManaged() {
		managedLines(cfg, add)
	}
	if cfg.ProxyMinInstances > 0 {
		secs := float64(HoursPerMonth * 3600 * cfg.ProxyMinInstances)
		cpu, mem := p["run/idle-vcpu"], p["run/idle-gib"]
		add("Cloud Run minimum instances (idle)", fmt.Sprintf("%d x 1 vCPU, 0.5 GiB", cfg.ProxyMinInstances),
			secs*cpu.USD+secs*0.5*mem.USD, checkNote(cpu))
	}
	e.TotalUSD = math.Round(e.TotalUSD*100) / 100
	return e
}

// signalLines prices what the stack watches: the logs it stores (and keeps
// past 30 days), the Ops Agent's chargeable metrics over the hours the VM
// runs, the alert conditions and the uptime checks.
func signalLines(cfg *config.Config, vmHours float64, add func(item, qty string, usd float64, note string)) {
	p := Prices()
	perRequest := float64(LogEntriesPerRequest)
	if cfg.Edge() {
		perRequest++
	}
	const kib, gib = 1024.0, 1024.0 * 1024 * 1024
	logGiB := float64(EdgeRequestsPerMonth)*perRequest*LogEntryKiB*kib/gib + ContainerLogGiBPerMonth
	probes := 0.0
	if cfg.Monitoring {
		probes = UptimeCheckers * float64(HoursPerMonth) * float64(time.Hour/signals.UptimeCheckPeriod)
		if !cfg.ExcludeHealthCheckLogs {
			logGiB += probes * perRequest * LogEntryKiB * kib / gib
		}
	}
	ing := p["logging/ingestion"]
	add("logs stored (Cloud Logging)", fmt.Sprintf("%.1f GiB a month (assumed)", logGiB), math.Max(0, logGiB-FreeLogGiB)*ing.USD,
		fmt.Sprintf("the first %d GiB of each project and month are free", FreeLogGiB))
	if kept := logGiB * math.Max(0, float64(cfg.LogRetentionDays-30)) / 30; kept > 0 {
		add("logs kept past 30 days", fmt.Sprintf("%.1f GiB (%d-day retention)", kept, cfg.LogRetentionDays), kept*p["logging/retention"].USD, "")
	}

	metric := p["monitoring/metrics"]
	// The agent reports while the VM runs, once a minute per series.
	mib := float64(AgentChargeableSeries) * vmHours * 60 * MetricBytesPerPoint / (1024 * 1024)
	add("Ops Agent metrics", fmt.Sprintf("%.1f MiB, %d series", mib, AgentChargeableSeries), math.Max(0, mib-FreeMetricMiB)*metric.USD,
		fmt.Sprintf("within the free %d MiB of the billing account; beyond it %.2f a month; %s", FreeMetricMiB, mib*metric.USD, checkNote(metric)))

	if !cfg.Monitoring {
		return
	}
	alerts := signals.Alerts(signals.Settings{BackupAlertAfter: cfg.BackupAlertAfter(), DiskPercent: cfg.DiskAlertPercent,
		SLO: signals.SLO{Percent: cfg.SLOTargetPercent, WindowDays: cfg.SLOWindowDays}})
	conditions := signals.Conditions(alerts)
	cond, series := p["monitoring/alerting"], p["monitoring/series"]
	returned := float64(conditions+2) * float64(HoursPerMonth) * float64(time.Hour/AlertExecutionPeriod) / 1e6
	add("alert conditions", fmt.Sprintf("%d conditions in %d policies", conditions, len(alerts)),
		float64(conditions)*cond.USD+returned*series.USD, checkNote(cond))
	up := p["monitoring/uptime"]
	add("uptime checks", fmt.Sprintf("%.0f executions", probes), math.Max(0, probes-1e6)/1000*up.USD, "within the free million of the billing account")
}

// managedLines prices the managed data tier: Cloud SQL's instance, storage
// and backups (HA doubles the instance and its storage), Memorystore by
// provisioned GB, and the files bucket.
func managedLines(cfg *config.Config, add func(item, qty string, usd float64, note string)) {
	p, m := Prices(), cfg.Managed
	ha, avail := 1.0, "zonal"
	if m.DatabaseHighAvailability {
		ha, avail = 2, "REGIONAL, a standby in a second zone: twice the zonal price"
	}
	tier, err := datatier.ParseSQLTier(m.DatabaseTier)
	if err == nil && tier.Shared {
		price := p["sql/"+strings.TrimPrefix(tier.Name, "db-")]
		add("Cloud SQL "+tier.Name, fmt.Sprintf("%d h", HoursPerMonth), ha*HoursPerMonth*price.USD, avail+"; "+checkNote(price))
	} else if err == nil {
		cpu, mem := p["sql/vcpu"], p["sql/memory"]
		gib := float64(tier.MemoryMiB) / 1024
		add("Cloud SQL "+tier.Name, fmt.Sprintf("%d vCPU, %.3g GiB, %d h", tier.VCPUs, gib, HoursPerMonth),
			ha*HoursPerMonth*(float64(tier.VCPUs)*cpu.USD+gib*mem.USD), avail+"; "+checkNote(cpu))
	}
	ssd := p["sql/ssd"]
	add("Cloud SQL storage SSD", fmt.Sprintf("%d GiB", m.DatabaseDiskGiB), ha*float64(m.DatabaseDiskGiB)*ssd.USD, "grows by itself as data grows; "+checkNote(ssd))
	used := float64(m.DatabaseDiskGiB) * DataFullness
	backupGiB := used + used*DailyChange*float64(m.DatabaseBackups)
	bk := p["sql/backup"]
	add("Cloud SQL backups", fmt.Sprintf("%.1f GiB (%d daily backups)", backupGiB, m.DatabaseBackups), backupGiB*bk.USD,
		"incremental after the first; point-in-time recovery's logs not included; "+checkNote(bk))

	redis := p["redis/basic"]
	if m.RedisTier == datatier.RedisStandardHA {
		redis = p["redis/standard"]
	}
	add("Memorystore for Redis "+m.RedisTier, fmt.Sprintf("%d GB, %d h", m.RedisMemoryGB, HoursPerMonth), float64(m.RedisMemoryGB)*HoursPerMonth*redis.USD, checkNote(redis))
	gcs := p["gcs/standard"]
	add("files bucket", fmt.Sprintf("%d GiB (assumed)", FilesGiB), FilesGiB*gcs.USD, "soft delete keeps deleted files 7 days more; "+checkNote(gcs))
}

func checkNote(p Price) string {
	if p.Check {
		return "price not in the reference notes: check " + p.Source
	}
	return ""
}

// vcpus reads the vCPU count from a machine type such as n2-standard-4.
func vcpus(machine string) int {
	parts := strings.Split(machine, "-")
	var n int
	for _, part := range parts {
		if _, err := fmt.Sscanf(part, "%d", &n); err == nil && fmt.Sprint(n) == part {
			return n
		}
	}
	return 0
}

// ScheduledHoursPerWeek reads the weekly running hours from a start and a stop
// cron of the plain form "M H * * DAYS" with the same days (such as 0 8 * * 1-5
// and 0 20 * * 1-5). Anything more irregular is not estimated.
func ScheduledHoursPerWeek(start, stop string) (float64, bool) {
	a, b := strings.Fields(start), strings.Fields(stop)
	if len(a) != 5 || len(b) != 5 || a[2] != "*" || a[3] != "*" || b[2] != "*" || b[3] != "*" || a[4] != b[4] {
		return 0, false
	}
	var m1, h1, m2, h2 int
	if _, err := fmt.Sscanf(a[0]+" "+a[1]+" "+b[0]+" "+b[1], "%d %d %d %d", &m1, &h1, &m2, &h2); err != nil {
		return 0, false
	}
	days := weekdays(a[4])
	on := float64(h2*60+m2-h1*60-m1) / 60
	if days == 0 || on <= 0 {
		return 0, false
	}
	return on * float64(days), true
}

// weekdays counts the days of a cron weekday field: "*", "1-5", "1,3,5".
func weekdays(f string) int {
	if f == "*" {
		return 7
	}
	n := 0
	for _, part := range strings.Split(f, ",") {
		var lo, hi int
		if _, err := fmt.Sscanf(part, "%d-%d", &lo, &hi); err == nil && hi >= lo {
			n += hi - lo + 1
		} else if _, err := fmt.Sscanf(part, "%d", &lo); err == nil {
			n++
		} else {
			return 0
		}
	}
	return n
}

// Warnings are what a reviewer should notice about a configuration even though
// it is valid.
func Warnings(cfg *config.Config) []string {
	var w []string
	if cfg.Access == config.Public {
		w = append(w, "access is public: anyone on the internet reaches Dify's login page (the admin password is set at first boot, so nobody can claim /install)")
	}
	if cfg.Edge() {
		dns := "create an A record for " + cfg.Domain + " pointing at the edgeAddress output"
		if cfg.DNSZone != "" {
			dns = "the program creates the A record in the Cloud DNS zone " + cfg.DNSZone
		}
		w = append(w, "the edge serves "+cfg.Domain+": "+dns+"; Google provisions the certificate once the name resolves there (up to an hour), and HTTPS fails until then")
		if cfg.WAFMode == config.WAFPreview {
			w = append(w, "Cloud Armor's WAF rules only log (wafMode preview): review what they match in the load balancer's logs, then set dify-gcp:wafMode enforce (docs/operations.md)")
		}
		if cfg.Access == config.Private {
			w = append(w, "access is private behind the edge: callers send ID tokens with audience https://"+cfg.Domain+"; a browser cannot, so people need access iap")
		}
	}
	if cfg.Provisioning == config.Spot {
		w = append(w, "the VM is Spot: Google can stop it at any time; it keeps its disks and needs `gcloud compute instances start` to return")
	}
	if !cfg.DeletionProtection {
		w = append(w, "deletion protection is off: `pulumi destroy` deletes the VM and the backup bucket with every backup (the data disk stays protected)")
	}
	if cfg.ProxyImage == "" {
		w = append(w, "the proxy image is built during deployment: `pulumi preview` and `up` need a Docker daemon (set dify-gcp:proxyImage to a digest to avoid it)")
	}
	if !cfg.Monitoring {
		w = append(w, "monitoring is off: no alert tells anyone that Dify is down or that backups stopped")
	}
	if cfg.ProxyMinInstances == 0 {
		w = append(w, "proxyMinInstances is 0: the first request after idle waits for a cold start")
	}
	if cfg.IsManaged() {
		w = append(w, managedWarnings(cfg)...)
	}
	return w
}

// armorSettings is the edge's Cloud Armor configuration of cfg.
func armorSettings(cfg *config.Config) armor.Settings {
	return armor.Settings{WAF: string(cfg.WAFMode), AllowedRanges: cfg.AllowedSourceRanges,
		PerMinute: cfg.RateLimitPerMinute, SignInPerMinute: cfg.SignInRateLimitPerMinute}
}

// managedWarnings are what a reviewer should know of a stack on the managed
// tier even though it is valid.
func managedWarnings(cfg *config.Config) []string {
	w := []string{
		"the managed tier: Cloud SQL and its databases, the files bucket and the data disk are protected; `pulumi destroy` stops at them, and at the private services connection while Cloud SQL still holds it (docs/managed.md, \"Destroying\")",
		"the managed tier: the provider reads Memorystore's AUTH string into the stack's state, where it is kept encrypted as a secret; whoever can read the state (pulumi stack export --show-secrets) can read it",
		"the managed tier: traffic to Memorystore is not encrypted in transit (an accepted exception: the plugin daemon 0.2.0 cannot verify its CA); it stays inside the VPC's private services peering, behind AUTH",
	}
	if !cfg.Managed.DatabaseHighAvailability {
		w = append(w, "the managed tier: Cloud SQL is zonal; a zone failure stops Dify until the zone returns (dify-gcp:databaseHighAvailability true adds a standby)")
	}
	if cfg.Managed.RedisTier == datatier.RedisBasic {
		w = append(w, "the managed tier: Memorystore is BASIC, one node; maintenance or a zone failure empties Dify's queue")
	}
	if cfg.VMStartCron != "" {
		w = append(w, "the managed tier: the VM schedule stops the VM only; Cloud SQL and Memorystore run, and bill, around the clock")
	}
	if tier, err := datatier.ParseSQLTier(cfg.Managed.DatabaseTier); err == nil && tier.Shared {
		w = append(w, fmt.Sprintf("the managed tier: %s is shared-core, without an SLA, and allows %d connections; Dify's api, worker and plugin daemon pool up to about 160", tier.Name, datatier.MaxConnections(tier.MemoryMiB)))
	}
	return w
}
