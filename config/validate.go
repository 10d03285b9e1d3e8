package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata"

	"github.com/dify-gcp/dify-gcp/proxy" // schedule time zones validate without the OS's zoneinfo
)

// Limits the rules enforce, named so the docs and errors quote the same numbers.
const (
	// MaxRequestTimeoutSeconds is Cloud Run's maximum request timeout, which
	// the proxy image enforces too.
	MaxRequestTimeoutSeconds = proxy.MaxTimeoutSeconds
	// CloudRunMaxBodyMiB is Cloud Run's cap on an HTTP/1 request body, the
	// largest body limit the proxy image accepts.
	CloudRunMaxBodyMiB = proxy.MaxBodyLimitMiB
	// MaxAbsenceWindow is Cloud Monitoring's longest metric-absence window,
	// which bounds how late the missed-backup alert may fire.
	MaxAbsenceWindow = 23*time.Hour + 30*time.Minute
	// MaxStackNameLength keeps every derived name (bucket, service accounts)
	// within Google Cloud's limits.
	MaxStackNameLength = 19
	// MaxLogRetentionDays is the longest retention a log bucket takes
	// (https://cloud.google.com/logging/docs/buckets#custom-retention: 1 to
	// 3650 days).
	MaxLogRetentionDays = 3650
	// MinSLOTargetPercent keeps the fast burn-rate alert able to fire: its
	// threshold (13.4 for a 28-day window, 14.4 for 30 days) times the error
	// budget must stay below a 100% error rate, which needs a target above
	// about 93%.
	MinSLOTargetPercent = 95
	// MaxSLOTargetPercent is the highest goal the API takes: 0 < goal <= 0.999
	// (pulumi-gcp v7.38.0 monitoring.SloArgs.Goal).
	MaxSLOTargetPercent = 99.9
	// MinSLOWindowDays and MaxSLOWindowDays bound the rolling window: the API
	// takes 1-30 days (monitoring.SloArgs.RollingPeriodDays); below a week the
	// SRE workbook's burn-rate thresholds fall under 1, alerting on a budget
	// that is not being overspent.
	MinSLOWindowDays = 7
	MaxSLOWindowDays = 30
)

var (
	projectRE     = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionRE      = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	stackRE       = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	versionRE     = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	imageTagRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9./_-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	imageDigestRE = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$`)
	emailRE       = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	domainRE      = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	machineRE     = regexp.MustCompile(`^([a-z][a-z0-9]*)-(standard|highmem|highcpu)-([0-9]+)$`)
	customRE      = regexp.MustCompile(`^(?:([a-z][a-z0-9]*)-)?custom-([0-9]+)-([0-9]+)$`)
	cronRE        = regexp.MustCompile(`^[0-9*/,-]+( [0-9*/,-]+){4}$`)
	decimalRE     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
)

// rules collects problems for one Config.
type rules struct {
	c        *Config
	skip     map[string]bool
	problems Problems
}

func (r *rules) fail(key, value, reason, fix string) {
	r.problems = append(r.problems, &Problem{Key: key, Value: value, Reason: reason, Fix: fix})
}

// judge reports whether key parsed and so may be judged.
func (r *rules) judge(key string) bool { return !r.skip[key] }

func validate(c *Config, skip map[string]bool) Problems {
	r := &rules{c: c, skip: skip}
	r.identity()
	r.access()
	r.limits()
	r.machine()
	r.dify()
	r.backups()
	r.proxy()
	r.edge()
	r.network()
	r.monitoring()
	r.schedule()
	r.dataTier()
	return r.problems
}

func ns(name string) string { return Namespace + ":" + name }

func (r *rules) identity() {
	c := r.c
	if !stackRE.MatchString(c.Stack) || len(c.Stack) > MaxStackNameLength {
		r.fail("stack name", c.Stack,
			fmt.Sprintf("must be lowercase letters, digits and hyphens, start with a letter and be at most %d characters (it is part of the bucket and service account names)", MaxStackNameLength),
			"pulumi stack init with a name such as dev or prod")
	}
	if r.judge("gcp:project") && !projectRE.MatchString(c.Project) {
		r.fail("gcp:project", c.Project, "is not a Google Cloud project id (6-30 lowercase letters, digits, hyphens)",
			"pulumi config set gcp:project YOUR-PROJECT-ID")
	}
	if r.judge("gcp:region") && !regionRE.MatchString(c.Region) {
		r.fail("gcp:region", c.Region, "is not a region name", "pulumi config set gcp:region asia-northeast1")
	}
	if r.judge(ns("zone")) && r.judge("gcp:region") {
		if !strings.HasPrefix(c.Zone, c.Region+"-") || len(c.Zone) != len(c.Region)+2 {
			r.fail(ns("zone"), c.Zone, fmt.Sprintf("is not a zone of region %q (the VM and the service must share a region)", c.Region),
				fmt.Sprintf("pulumi config set %s %s-a (or -b, -c: a zone of gcp:region)", ns("zone"), c.Region))
		}
	}
}

func (r *rules) access() {
	c := r.c
	key := ns("access")
	if !r.judge(key) {
		return
	}
	switch c.Access {
	case Public:
		if len(c.Invokers) > 0 {
			r.fail(ns("invokers"), strings.Join(c.Invokers, ","),
				"lists invokers but access is public, where anyone may call the service",
				"remove dify-gcp:invokers, or set dify-gcp:access private to allow only them")
		}
	case Private, IAP:
		if len(c.Invokers) == 0 && r.judge(ns("invokers")) {
			r.fail(ns("invokers"), "[]", fmt.Sprintf("is empty with access %s: nobody could reach Dify", c.Access),
				"list at least one member, such as user:ana@example.com or group:dify-users@example.com")
		}
		seen := map[string]bool{}
		for _, m := range c.Invokers {
			if why := invokerProblem(m); why != "" {
				r.fail(ns("invokers"), m, why,
					"use user:EMAIL, group:EMAIL, serviceAccount:NAME@PROJECT.iam.gserviceaccount.com, domain:example.com or a principal:// / principalSet:// identifier")
			}
			if seen[m] {
				r.fail(ns("invokers"), m, "is listed twice", "list each member once")
			}
			seen[m] = true
		}
	default:
		r.fail(key, string(c.Access), "must be public, private or iap; there is no default, because publishing Dify to the internet must be a decision",
			"pulumi config set dify-gcp:access private (and list dify-gcp:invokers), pulumi config set dify-gcp:access iap (with dify-gcp:domain), or pulumi config set dify-gcp:access public")
	}
}

// invokerProblem says what is wrong with an IAM member string, or "".
func invokerProblem(m string) string {
	kind, id, ok := strings.Cut(m, ":")
	switch {
	case m == "allUsers" || m == "allAuthenticatedUsers":
		return "would let everyone in; set dify-gcp:access public instead if that is meant"
	case !ok || id == "":
		return "is not an IAM member (KIND:ID)"
	}
	switch kind {
	case "user", "group":
		if !emailRE.MatchString(id) {
			return "does not name an email address"
		}
	case "serviceAccount":
		if !emailRE.MatchString(id) || !strings.HasSuffix(id, ".gserviceaccount.com") {
			return "does not name a service account email (...gserviceaccount.com)"
		}
	case "domain":
		if !domainRE.MatchString(id) {
			return "does not name a domain"
		}
	case "principal", "principalSet":
		if !strings.HasPrefix(id, "//iam.googleapis.com/") {
			return "is not a workload or workforce identity (principal://iam.googleapis.com/...)"
		}
	default:
		return fmt.Sprintf("has unknown member kind %q", kind)
	}
	return ""
}

func (r *rules) limits() {
	c := r.c
	if k := ns("requestTimeoutSeconds"); r.judge(k) && (c.RequestTimeoutSeconds < 1 || c.RequestTimeoutSeconds > MaxRequestTimeoutSeconds) {
		r.fail(k, strconv.Itoa(c.RequestTimeoutSeconds),
			fmt.Sprintf("is outside 1-%d: Cloud Run cuts every request at %d s at most, and the proxy must agree with it", MaxRequestTimeoutSeconds, MaxRequestTimeoutSeconds),
			fmt.Sprintf("pulumi config set %s %d (or less)", k, MaxRequestTimeoutSeconds))
	}
	if k := ns("uploadLimitMiB"); r.judge(k) && (c.UploadLimitMiB < 1 || c.BodyLimitMiB() > CloudRunMaxBodyMiB) {
		r.fail(k, strconv.Itoa(c.UploadLimitMiB),
			fmt.Sprintf("is outside 1-%d: Cloud Run refuses HTTP/1 request bodies over %d MiB, and an upload needs 1 MiB more for its multipart envelope", CloudRunMaxBodyMiB-1, CloudRunMaxBodyMiB),
			fmt.Sprintf("pulumi config set %s %d (or less)", k, CloudRunMaxBodyMiB-1))
	}
}

func (r *rules) machine() {
	c := r.c
	if k := ns("provisioningModel"); r.judge(k) {
		switch c.Provisioning {
		case Standard:
		case Spot:
			if c.Production {
				r.fail(k, string(c.Provisioning),
					"is refused in a production stack: Spot VMs can be stopped at any moment, with no SLA, taking Dify down",
					"pulumi config set dify-gcp:provisioningModel standard")
			}
		case Preemptible:
			r.fail(k, string(c.Provisioning),
				"is refused: preemptible VMs always stop within 24 hours, and Dify goes down with them (the source article's first failure)",
				"pulumi config set dify-gcp:provisioningModel standard (or spot, outside production)")
		default:
			r.fail(k, string(c.Provisioning), "must be standard or spot", "pulumi config set dify-gcp:provisioningModel standard")
		}
	}
	if k := ns("machineType"); r.judge(k) {
		if why := machineProblem(c.MachineType); why != "" {
			r.fail(k, c.MachineType, why, "pulumi config set dify-gcp:machineType e2-standard-2")
		}
	}
	r.between(ns("bootDiskGiB"), c.BootDiskGiB, 30, 500, "GiB (the OS plus Dify's Docker images need 30)")
	r.between(ns("dataDiskGiB"), c.DataDiskGiB, 10, 65536, "GiB")
	r.between(ns("snapshotRetentionDays"), c.SnapshotRetentionDays, 1, 365, "days")
	if k := ns("dataDiskType"); r.judge(k) && !slices.Contains([]string{"pd-balanced", "pd-ssd", "pd-standard"}, c.DataDiskType) {
		r.fail(k, c.DataDiskType, "must be pd-balanced, pd-ssd or pd-standard", "pulumi config set dify-gcp:dataDiskType pd-balanced")
	}
}

// machineProblem says why a machine type cannot run Dify (2 vCPUs, 4 GiB), or "".
func machineProblem(t string) string {
	const need = "Dify needs at least 2 vCPUs and 4 GiB of memory"
	if m := customRE.FindStringSubmatch(t); m != nil {
		cpus, _ := strconv.Atoi(m[2])
		mem, _ := strconv.Atoi(m[3])
		if cpus < 2 || mem < 4096 {
			return "is too small: " + need
		}
		return ""
	}
	m := machineRE.FindStringSubmatch(t)
	if m == nil {
		return "is not a machine type such as e2-standard-2 (shared-core types like e2-medium are too small: " + need + ")"
	}
	cpus, _ := strconv.Atoi(m[3])
	gibPerCPU := map[string]float64{"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}[m[2]]
	if m[1] == "e2" && m[2] == "highcpu" {
		gibPerCPU = 1
	}
	if cpus < 2 || float64(cpus)*gibPerCPU < 4 {
		return "is too small: " + need
	}
	if cpus > 96 {
		return "has more vCPUs than any machine type"
	}
	return ""
}

func (r *rules) between(key string, v, lo, hi int, unit string) {
	if r.judge(key) && (v < lo || v > hi) {
		r.fail(key, strconv.Itoa(v), fmt.Sprintf("is outside %d-%d %s", lo, hi, unit),
			fmt.Sprintf("pulumi config set %s %d", key, min(max(v, lo), hi)))
	}
}

func (r *rules) dify() {
	c := r.c
	k := ns("difyVersion")
	if !r.judge(k) {
		return
	}
	if !versionRE.MatchString(c.DifyVersion) {
		r.fail(k, c.DifyVersion, "is not a Dify release number such as 1.8.1 (never latest: a deployment must be reproducible)",
			"pulumi config set dify-gcp:difyVersion 1.8.1")
		return
	}
	for _, o := range []struct{ key, value string }{{ns("pluginDaemonImage"), c.PluginDaemonImage}, {ns("sandboxImage"), c.SandboxImage}} {
		if o.value != "" && (!imageTagRE.MatchString(o.value) || strings.HasSuffix(o.value, ":latest")) {
			r.fail(o.key, o.value, "is not an image with a pinned tag (REPOSITORY:TAG, never latest)",
				fmt.Sprintf("pulumi config set %s langgenius/IMAGE:TAG", o.key))
		}
	}
	rel, known := Releases()[c.DifyVersion]
	if !known {
		versions := make([]string, 0)
		for v := range Releases() {
			versions = append(versions, v)
		}
		sort.Strings(versions)
		r.fail(k, c.DifyVersion,
			fmt.Sprintf("is not in the release table (known releases: %s): every image a release runs is pinned there, so that no compose file changes one silently", strings.Join(versions, ", ")),
			"use a known release, or add this one to config/releases.go from its docker/docker-compose.yaml (the hostscript tests compare the table with the release's own file)")
		return
	}
	c.Images = map[string]string{}
	for s, img := range rel.Images {
		c.Images[s] = img
	}
	if c.PluginDaemonImage != "" {
		c.Images["plugin_daemon"] = c.PluginDaemonImage
	}
	if c.SandboxImage != "" {
		c.Images["sandbox"] = c.SandboxImage
	}
	c.PluginDaemonImage, c.SandboxImage = c.Images["plugin_daemon"], c.Images["sandbox"]
}

func (r *rules) backups() {
	c := r.c
	if k := ns("backupIntervalHours"); r.judge(k) && (c.BackupIntervalHours < 1 || c.BackupIntervalHours > 24 || 24%c.BackupIntervalHours != 0) {
		r.fail(k, strconv.Itoa(c.BackupIntervalHours), "must divide the day evenly: 1, 2, 3, 4, 6, 8, 12 or 24",
			"pulumi config set dify-gcp:backupIntervalHours 24")
	}
	r.between(ns("backupRetentionDays"), c.BackupRetentionDays, 1, 3650, "days (a lifecycle rule deletes backups older than this)")
}

func (r *rules) proxy() {
	c := r.c
	if k := ns("proxyImage"); r.judge(k) && c.ProxyImage != "" && !imageDigestRE.MatchString(c.ProxyImage) {
		r.fail(k, c.ProxyImage, "is not an image reference by digest (REGISTRY/PATH@sha256:64 hex digits); a tag could change under the service",
			"pulumi config set dify-gcp:proxyImage REGION-docker.pkg.dev/PROJECT/REPO/proxy@sha256:..., or remove it to build from proxy/")
	}
	r.between(ns("proxyMaxInstances"), c.ProxyMaxInstances, 1, 100, "instances")
	if k := ns("proxyMinInstances"); r.judge(k) && (c.ProxyMinInstances < 0 || c.ProxyMinInstances > c.ProxyMaxInstances) {
		r.fail(k, strconv.Itoa(c.ProxyMinInstances), fmt.Sprintf("must be 0 to dify-gcp:proxyMaxInstances (%d)", c.ProxyMaxInstances),
			"pulumi config set dify-gcp:proxyMinInstances 0")
	}
}

func (r *rules) network() {
	c := r.c
	vm, vmOK := r.prefix(ns("vmSubnetCidr"), c.VMSubnetCIDR, 16, 29)
	run, runOK := r.prefix(ns("runSubnetCidr"), c.RunSubnetCIDR, 16, 26)
	if vmOK && runOK && vm.Overlaps(run) {
		r.fail(ns("runSubnetCidr"), c.RunSubnetCIDR, fmt.Sprintf("overlaps dify-gcp:vmSubnetCidr %s", c.VMSubnetCIDR),
			"choose a range outside the VM subnet, such as 10.10.1.0/26")
	}
}

// prefix parses a private IPv4 range whose prefix length lies in [shortest, longest].
func (r *rules) prefix(key, v string, shortest, longest int) (netip.Prefix, bool) {
	if !r.judge(key) {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(v)
	switch {
	case err != nil || !p.Addr().Is4():
		r.fail(key, v, "is not an IPv4 range such as 10.10.0.0/24", fmt.Sprintf("pulumi config set %s 10.10.0.0/24", key))
	case p.Masked() != p:
		r.fail(key, v, "has host bits set", fmt.Sprintf("pulumi config set %s %s", key, p.Masked()))
	case !p.Addr().IsPrivate():
		r.fail(key, v, "is not a private (RFC 1918) range", fmt.Sprintf("pulumi config set %s 10.10.0.0/24", key))
	case p.Bits() < shortest || p.Bits() > longest:
		r.fail(key, v, fmt.Sprintf("must be /%d to /%d", shortest, longest), fmt.Sprintf("pulumi config set %s with a /%d", key, longest))
	default:
		return p, true
	}
	return netip.Prefix{}, false
}

func (r *rules) monitoring() {
	c := r.c
	r.between(ns("logRetentionDays"), c.LogRetentionDays, 1, MaxLogRetentionDays, "days (a log bucket keeps logs 1 to 3650 days)")
	r.between(ns("diskAlertPercent"), c.DiskAlertPercent, 50, 99, "percent")
	r.between(ns("sloWindowDays"), c.SLOWindowDays, MinSLOWindowDays, MaxSLOWindowDays, "days (Cloud Monitoring's rolling SLO windows end at 30 days; below a week the burn-rate alerts lose their meaning)")
	if k := ns("sloTargetPercent"); r.judge(k) && (c.SLOTargetPercent < MinSLOTargetPercent || c.SLOTargetPercent > MaxSLOTargetPercent) {
		r.fail(k, strconv.FormatFloat(c.SLOTargetPercent, 'f', -1, 64),
			fmt.Sprintf("is outside %v-%v percent: Cloud Monitoring takes goals up to 99.9%%, and below %v%% the fast burn-rate alert could never fire", MinSLOTargetPercent, MaxSLOTargetPercent, MinSLOTargetPercent),
			fmt.Sprintf("pulumi config set %s 99.5", k))
	}
	k := ns("monitoring")
	if !r.judge(k) {
		return
	}
	if c.Production && !c.Monitoring {
		r.fail(k, "false", "is off in a production stack: an outage or a week of failed backups would be found by users, not operators",
			"pulumi config set dify-gcp:monitoring true, and list dify-gcp:alertEmails")
	}
	if !c.Monitoring {
		return
	}
	if len(c.AlertEmails) == 0 && r.judge(ns("alertEmails")) {
		r.fail(ns("alertEmails"), "[]", "is empty with monitoring on: alerts would reach nobody",
			"pulumi config set --path 'dify-gcp:alertEmails[0]' ops@example.com")
	}
	for _, e := range c.AlertEmails {
		if !emailRE.MatchString(e) {
			r.fail(ns("alertEmails"), e, "is not an email address", "list addresses such as ops@example.com")
		}
	}
	if validInterval := c.BackupIntervalHours >= 1 && c.BackupIntervalHours <= 24 && 24%c.BackupIntervalHours == 0; r.judge(ns("backupIntervalHours")) && validInterval && c.BackupAlertAfter() > MaxAbsenceWindow {
		r.fail(ns("backupIntervalHours"), strconv.Itoa(c.BackupIntervalHours),
			fmt.Sprintf("is too long for the missed-backup alert: it waits an interval plus a margin (%s), and Cloud Monitoring watches for absence at most 23.5 hours", c.BackupAlertAfter()),
			"pulumi config set dify-gcp:backupIntervalHours 12 (or less)")
	}
}

func (r *rules) schedule() {
	c := r.c
	start, stop := ns("vmStartCron"), ns("vmStopCron")
	if !r.judge(start) || !r.judge(stop) || (c.VMStartCron == "" && c.VMStopCron == "") {
		return
	}
	if c.Production {
		r.fail(start, c.VMStartCron, "schedules a production VM: a stopped production VM is an outage",
			"remove dify-gcp:vmStartCron and dify-gcp:vmStopCron from the production stack")
		return
	}
	if (c.VMStartCron == "") != (c.VMStopCron == "") {
		r.fail(stop, c.VMStopCron, "must be set together with dify-gcp:vmStartCron (a VM stopped and never started, or the reverse)",
			"set both, such as 0 8 * * 1-5 and 0 20 * * 1-5, or neither")
		return
	}
	for _, kv := range []struct{ key, value string }{{start, c.VMStartCron}, {stop, c.VMStopCron}} {
		if !cronRE.MatchString(kv.value) {
			r.fail(kv.key, kv.value, "is not a cron expression of five fields (minute hour day month weekday)",
				fmt.Sprintf("pulumi config set %s '0 8 * * 1-5'", kv.key))
		}
	}
	if k := ns("vmScheduleTimeZone"); r.judge(k) {
		if _, err := time.LoadLocation(c.VMScheduleTimeZone); err != nil || c.VMScheduleTimeZone == "" || c.VMScheduleTimeZone == "Local" {
			r.fail(k, c.VMScheduleTimeZone, "is not an IANA time zone", "pulumi config set dify-gcp:vmScheduleTimeZone Asia/Tokyo")
		}
	}
	// The alerts watch a VM that should always run: the schedule stops it on
	// purpose, and vm-down, the uptime check and the missed-backup alert
	// would page each time. Refused rather than silenced, so an operator
	// chooses which one this stack has.
	if r.judge(ns("monitoring")) && c.Monitoring {
		r.fail(start, c.VMStartCron,
			fmt.Sprintf("schedules the VM (stopped at %q, %s) while dify-gcp:monitoring = true would page every night and weekend it is stopped: vm-down, the uptime check and the missed-backup alert all watch a VM that should always run", c.VMStopCron, c.VMScheduleTimeZone),
			"remove dify-gcp:vmStartCron and dify-gcp:vmStopCron from this stack to keep its alerts, or set dify-gcp:monitoring false to keep the schedule")
	}
}
