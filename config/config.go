// Package config is the program's one typed configuration model. Load reads every
// key, applies the defaults of Keys, and validates the whole set before any
// resource exists, reporting every problem at once with the key, the value and
// the fix, so an operator corrects a stack file in one pass.
package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Access says who may call the Cloud Run service.
type Access string

const (
	// Public lets anyone on the internet call the service (allUsers invoker).
	Public Access = "public"
	// Private lets only the listed invokers call it, with Google-signed ID tokens.
	Private Access = "private"
	// IAP lets the listed people sign in with Google through Identity-Aware
	// Proxy on the edge; Cloud Run then admits only IAP's service agent.
	IAP Access = "iap"
)

// WAFMode is how the edge applies Google's preconfigured WAF rules.
type WAFMode string

const (
	// WAFOff declares no WAF rules.
	WAFOff WAFMode = "off"
	// WAFPreview logs what the rules would block and blocks nothing.
	WAFPreview WAFMode = "preview"
	// WAFEnforce blocks what the rules match with 403.
	WAFEnforce WAFMode = "enforce"
)

// Provisioning is the VM's provisioning model.
type Provisioning string

const (
	// Standard VMs run until stopped: the only choice for production.
	Standard Provisioning = "standard"
	// Spot VMs are cheaper but can be stopped at any time.
	Spot Provisioning = "spot"
	// Preemptible VMs always stop within 24 hours; recognised only to be refused.
	Preemptible Provisioning = "preemptible"
)

// Config is a validated stack configuration. Only Load makes one, so holding a
// Config means every rule below has passed.
type Config struct {
	Stack   string // Pulumi stack name, part of every resource name
	Project string
	Region  string
	Zone    string

	Production bool
	Access     Access
	Invokers   []string

	RequestTimeoutSeconds int
	UploadLimitMiB        int

	MachineType           string
	Provisioning          Provisioning
	BootDiskGiB           int
	DataDiskGiB           int
	DataDiskType          string
	SnapshotRetentionDays int
	DeletionProtection    bool

	DifyVersion       string
	PluginDaemonImage string // resolved: the override or the release's own
	SandboxImage      string // resolved: the override or the release's own
	// Images is every image the release runs, by compose service: the
	// release table's, with the two overrides above applied.
	Images map[string]string

	BackupIntervalHours int
	BackupRetentionDays int

	ProxyImage        string // prebuilt image by digest; empty builds from proxy/
	ProxyMinInstances int
	ProxyMaxInstances int

	// Domain, when set, puts the edge in front of the service: a global
	// external Application Load Balancer with a managed certificate and Cloud
	// Armor. The rest of this block configures it.
	Domain                   string
	DNSZone                  string
	WAFMode                  WAFMode
	AllowedSourceRanges      []string
	RateLimitPerMinute       int
	SignInRateLimitPerMinute int
	IAPClientID              string
	// IAPClientSecret is a secret: the program hands it to Pulumi only as a
	// secret output, and no message ever repeats it.
	IAPClientSecret string

	VMSubnetCIDR  string
	RunSubnetCIDR string

	Monitoring  bool
	AlertEmails []string
	// DiskAlertPercent is how full a disk of the VM may get before the disk
	// alert fires.
	DiskAlertPercent int
	// SLOTargetPercent and SLOWindowDays are the availability SLO of the
	// front door: that share of requests answered without a 5xx, over a
	// rolling window of that many days.
	SLOTargetPercent float64
	SLOWindowDays    int

	// LogRetentionDays is the _Default log bucket's retention.
	LogRetentionDays int
	// ExcludeHealthCheckLogs drops the successful uptime probes' request logs.
	ExcludeHealthCheckLogs bool

	// VMStartCron and VMStopCron, both set or both empty, schedule the VM
	// outside production.
	VMStartCron        string
	VMStopCron         string
	VMScheduleTimeZone string

	// DataTier is datatier.VM or datatier.Managed; Managed configures the
	// managed tier (config/datatier.go).
	DataTier string
	Managed  ManagedSettings
}

// BackupAlertAfter is how long without a successful backup before the alert
// fires: one interval plus half an interval of margin (at least an hour).
func (c *Config) BackupAlertAfter() time.Duration {
	interval := time.Duration(c.BackupIntervalHours) * time.Hour
	return interval + max(time.Hour, interval/2)
}

// Edge reports whether the stack has the edge (load balancer, certificate,
// Cloud Armor) in front of Cloud Run.
func (c *Config) Edge() bool { return c.Domain != "" }

// BodyLimitMiB is the largest request body the proxy and Dify's nginx accept: the
// upload limit plus 1 MiB for the multipart envelope around the file, so a file of
// exactly the upload limit still passes.
func (c *Config) BodyLimitMiB() int { return c.UploadLimitMiB + 1 }

// Name is the base of every resource name in the stack ("dify-dev").
func (c *Config) Name() string { return "dify-" + c.Stack }

// BackupBucketName is the globally unique name of the backup bucket.
func (c *Config) BackupBucketName() string { return c.Project + "-" + c.Name() + "-backups" }

// BackupOnCalendar is the systemd OnCalendar expression for the backup timer.
// Minute 15 keeps clear of the snapshot schedule's start on the hour.
func (c *Config) BackupOnCalendar() string {
	if c.BackupIntervalHours == 24 {
		return "*-*-* 03:15:00"
	}
	return fmt.Sprintf("*-*-* 00/%d:15:00", c.BackupIntervalHours)
}

// Getter returns the raw value of a namespaced key and whether the stack set it.
type Getter func(key string) (string, bool)

// Option changes how Load reads the configuration.
type Option func(*reader)

// SecretKeys tells Load which keys the stack holds encrypted (under `pulumi
// up`, ctx.IsConfigSecret). A key declared Secret in Keys whose value is set
// in plain text is then refused, so a secret never sits readable in a stack
// file.
func SecretKeys(isSecret func(key string) bool) Option {
	return func(r *reader) { r.isSecret = isSecret }
}

// Load reads and validates the configuration of stack. Every problem is
// reported, not just the first; on error the Config is nil.
func Load(stack string, get Getter, opts ...Option) (*Config, error) {
	r := reader{get: get, defaults: map[string]Key{}}
	for _, o := range opts {
		o(&r)
	}
	for _, k := range Keys() {
		r.defaults[k.Name] = k
	}
	c := &Config{
		Stack:                    stack,
		Project:                  r.str("gcp:project"),
		Region:                   r.str("gcp:region"),
		Zone:                     r.str(ns("zone")),
		Production:               r.boolean(ns("production")),
		Access:                   Access(r.str(ns("access"))),
		Invokers:                 r.strings(ns("invokers")),
		RequestTimeoutSeconds:    r.integer(ns("requestTimeoutSeconds")),
		UploadLimitMiB:           r.integer(ns("uploadLimitMiB")),
		MachineType:              r.str(ns("machineType")),
		Provisioning:             Provisioning(r.str(ns("provisioningModel"))),
		BootDiskGiB:              r.integer(ns("bootDiskGiB")),
		DataDiskGiB:              r.integer(ns("dataDiskGiB")),
		DataDiskType:             r.str(ns("dataDiskType")),
		SnapshotRetentionDays:    r.integer(ns("snapshotRetentionDays")),
		DeletionProtection:       r.boolean(ns("deletionProtection")),
		DifyVersion:              r.str(ns("difyVersion")),
		PluginDaemonImage:        r.str(ns("pluginDaemonImage")),
		SandboxImage:             r.str(ns("sandboxImage")),
		BackupIntervalHours:      r.integer(ns("backupIntervalHours")),
		BackupRetentionDays:      r.integer(ns("backupRetentionDays")),
		ProxyImage:               r.str(ns("proxyImage")),
		ProxyMinInstances:        r.integer(ns("proxyMinInstances")),
		ProxyMaxInstances:        r.integer(ns("proxyMaxInstances")),
		Domain:                   r.str(ns("domain")),
		DNSZone:                  r.str(ns("dnsZone")),
		WAFMode:                  WAFMode(r.str(ns("wafMode"))),
		AllowedSourceRanges:      r.strings(ns("allowedSourceRanges")),
		RateLimitPerMinute:       r.integer(ns("rateLimitPerMinute")),
		SignInRateLimitPerMinute: r.integer(ns("signInRateLimitPerMinute")),
		IAPClientID:              r.str(ns("iapClientId")),
		IAPClientSecret:          r.secret(ns("iapClientSecret")),
		VMSubnetCIDR:             r.str(ns("vmSubnetCidr")),
		RunSubnetCIDR:            r.str(ns("runSubnetCidr")),
		Monitoring:               r.boolean(ns("monitoring")),
		AlertEmails:              r.strings(ns("alertEmails")),
		DiskAlertPercent:         r.integer(ns("diskAlertPercent")),
		SLOTargetPercent:         r.decimal(ns("sloTargetPercent")),
		SLOWindowDays:            r.integer(ns("sloWindowDays")),
		LogRetentionDays:         r.integer(ns("logRetentionDays")),
		ExcludeHealthCheckLogs:   r.boolean(ns("excludeHealthCheckLogs")),
		VMStartCron:              r.str(ns("vmStartCron")),
		VMStopCron:               r.str(ns("vmStopCron")),
		VMScheduleTimeZone:       r.str(ns("vmScheduleTimeZone")),
	}
	c.DataTier, c.Managed = r.readDataTier()
	// Type errors come first; values that failed to parse are not judged again.
	problems := r.problems
	problems = append(problems, validate(c, r.bad)...)
	if len(problems) > 0 {
		return nil, problems
	}
	return c, nil
}

// reader parses raw values by their declared type, collecting problems.
type reader struct {
	get      Getter
	isSecret func(key string) bool // nil: not checked
	defaults map[string]Key
	problems Problems
	bad      map[string]bool // keys whose value did not parse or is missing
}

func (r *reader) raw(key string) (string, bool) {
	if v, ok := r.get(key); ok {
		return v, true
	}
	k, declared := r.defaults[key]
	if !declared {
		panic("config: key not declared in Keys(): " + key) // programming error
	}
	if k.Default == nil {
		r.fail(key, "", "is required and has no default",
			fmt.Sprintf("pulumi config set %s VALUE (%s)", key, k.Description))
		return "", false
	}
	switch d := k.Default.(type) {
	case string:
		return d, true
	case int:
		return strconv.Itoa(d), true
	case bool:
		return strconv.FormatBool(d), true
	case []string:
		b, _ := json.Marshal(d)
		return string(b), true
	}
	panic(fmt.Sprintf("config: unsupported default %T for %s", k.Default, key))
}

func (r *reader) fail(key, value, reason, fix string) {
	if r.bad == nil {
		r.bad = map[string]bool{}
	}
	r.bad[key] = true
	r.problems = append(r.problems, &Problem{Key: key, Value: value, Reason: reason, Fix: fix})
}

func (r *reader) str(key string) string {
	v, _ := r.raw(key)
	return strings.TrimSpace(v)
}

// secret reads a key declared Secret. Its value never appears in a problem.
func (r *reader) secret(key string) string {
	v, set := r.get(key)
	if !set {
		return r.str(key)
	}
	if v != "" && r.isSecret != nil && !r.isSecret(key) {
		r.fail(key, "[plain text]", "is set in plain text in the stack file, where anyone who can read the repository reads it",
			fmt.Sprintf("pulumi config rm %s && pulumi config set --secret %s VALUE", key, key))
		return ""
	}
	return strings.TrimSpace(v)
}

func (r *reader) integer(key string) int {
	v, ok := r.raw(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, v, "is not a whole number", fmt.Sprintf("pulumi config set %s NUMBER", key))
	}
	return n
}

// decimal reads a number written as a string key (Pulumi's config has no
// decimal type), such as "99.5".
func (r *reader) decimal(key string) float64 {
	v, ok := r.raw(key)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !decimalRE.MatchString(strings.TrimSpace(v)) {
		r.fail(key, v, "is not a decimal number such as 99.5", fmt.Sprintf("pulumi config set %s 99.5", key))
		return 0
	}
	return f
}

func (r *reader) boolean(key string) bool {
	v, ok := r.raw(key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, v, "is not true or false", fmt.Sprintf("pulumi config set %s true (or false)", key))
	}
	return b
}

func (r *reader) strings(key string) []string {
	v, ok := r.raw(key)
	if !ok {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		r.fail(key, v, "is not a list of strings",
			fmt.Sprintf("write it in the stack file as a YAML list, or: pulumi config set --path '%s[0]' VALUE", key))
		return nil
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// Problem is one configuration error: which key, what value, why, how to fix.
type Problem struct {
	Key    string
	Value  string
	Reason string
	Fix    string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s = %q %s; fix: %s", p.Key, p.Value, p.Reason, p.Fix)
}

// Problems is every configuration error found in one Load.
type Problems []*Problem

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d problem(s) in the stack configuration; nothing was created:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Keys returns the names of the keys with problems, in order, for tests and tools.
func (ps Problems) Keys() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Key
	}
	return out
}
