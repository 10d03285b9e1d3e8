package config

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Namespace is the project name: every key of this program is "dify-gcp:<name>".
const Namespace = "dify-gcp"

// Key declares one configuration key. The table returned by Keys is the single
// source of truth: Pulumi.yaml must declare exactly these keys with these types,
// descriptions and defaults (a test holds the two together), and Load applies the
// same defaults, so a mock run and a real `pulumi up` see the same values.
type Key struct {
	Name        string // full name, such as "dify-gcp:zone" or "gcp:project"
	Type        string // Pulumi config type: string, integer, boolean or array
	Description string
	// Default is the value used when the stack sets none, as Pulumi.yaml spells it
	// (a string, int, bool or []string). Nil means the stack must set the key.
	Default any
	// Provider marks keys owned by a provider (gcp:*). Pulumi.yaml may not
	// declare a type for them, so they are checked only here.
	Provider bool
	// Secret marks keys whose value must be set with --secret: Pulumi.yaml
	// declares them secret, so the CLI refuses a plaintext value.
	Secret bool
}

// Keys returns every key the program reads, in the order Pulumi.yaml lists them.
func Keys() []Key { return append(baseKeys(), dataTierKeys()...) }

// baseKeys are the keys of everything but the data tier (config/datatier.go).
func baseKeys() []Key {
	return []Key{
		{Name: "gcp:project", Type: "string", Provider: true,
			Description: "Google Cloud project that holds the whole deployment."},
		{Name: "gcp:region", Type: "string", Provider: true,
			Description: "Region of the VM, Cloud Run service, registry and bucket, such as asia-northeast1."},
		{Name: Namespace + ":zone", Type: "string",
			Description: "Zone of the VM and its data disk; must lie in gcp:region (asia-northeast1-c for asia-northeast1)."},
		{Name: Namespace + ":production", Type: "boolean",
			Description: "Whether this stack serves real users. Production refuses Spot VMs; there is no default, so every stack says what it is."},
		{Name: Namespace + ":access", Type: "string",
			Description: "Who may reach Dify: public (anyone on the internet), private (only dify-gcp:invokers, with Google-signed ID tokens) or iap (people in dify-gcp:invokers sign in with Google through Identity-Aware Proxy; needs dify-gcp:domain). No default: say which."},
		{Name: Namespace + ":invokers", Type: "array", Default: []string{},
			Description: "With access private: IAM members given roles/run.invoker; with access iap: members given roles/iap.httpsResourceAccessor. Such as user:ana@example.com or group:dify-users@example.com. Must be empty with access public."},
		{Name: Namespace + ":requestTimeoutSeconds", Type: "integer", Default: 900,
			Description: "Cloud Run request timeout and the proxy's read/send timeout, one value for both (1-3600). A streamed chat answer must finish within it."},
		{Name: Namespace + ":uploadLimitMiB", Type: "integer", Default: 15,
			Description: "Largest file Dify accepts (UPLOAD_FILE_SIZE_LIMIT); the proxy and Dify's nginx accept it plus 1 MiB of multipart envelope. At most 31: Cloud Run refuses HTTP/1 request bodies over 32 MiB."},
		{Name: Namespace + ":machineType", Type: "string", Default: "e2-standard-2",
			Description: "VM machine type. Dify needs at least 2 vCPUs and 4 GiB of memory."},
		{Name: Namespace + ":provisioningModel", Type: "string", Default: "standard",
			Description: "standard (default) or spot (non-production only: Spot VMs can be stopped at any time). preemptible is refused: such VMs always stop within 24 hours."},
		{Name: Namespace + ":bootDiskGiB", Type: "integer", Default: 30,
			Description: "Boot disk size in GiB (holds the OS and Docker images; 30-500)."},
		{Name: Namespace + ":dataDiskGiB", Type: "integer", Default: 50,
			Description: "Data disk size in GiB: every Dify volume (database, uploads, plugins, vectors) lives there (10-65536)."},
		{Name: Namespace + ":dataDiskType", Type: "string", Default: "pd-balanced",
			Description: "Data disk type: pd-balanced, pd-ssd or pd-standard."},
		{Name: Namespace + ":snapshotRetentionDays", Type: "integer", Default: 14,
			Description: "How many days daily snapshots of the data disk are kept (1-365)."},
		{Name: Namespace + ":deletionProtection", Type: "boolean", Default: true,
			Description: "Protect the VM from deletion (Compute Engine deletion protection) and keep the backup bucket unless empty. The data disk is always protected."},
		{Name: Namespace + ":difyVersion", Type: "string", Default: "1.8.1",
			Description: "Dify release to run: one of the releases in config/releases.go, which pins every image the release runs."},
		{Name: Namespace + ":pluginDaemonImage", Type: "string", Default: "",
			Description: "Override of the plugin daemon image (langgenius/dify-plugin-daemon:TAG); empty uses the tag known for dify-gcp:difyVersion."},
		{Name: Namespace + ":sandboxImage", Type: "string", Default: "",
			Description: "Override of the sandbox image (langgenius/dify-sandbox:TAG); empty uses the tag known for dify-gcp:difyVersion."},
		{Name: Namespace + ":backupIntervalHours", Type: "integer", Default: 6,
			Description: "Hours between complete backups to the bucket: 1, 2, 3, 4, 6, 8, 12 or 24."},
		{Name: Namespace + ":backupRetentionDays", Type: "integer", Default: 30,
			Description: "Backups older than this many days are deleted by the bucket's lifecycle rule (1-3650)."},
		{Name: Namespace + ":proxyImage", Type: "string", Default: "",
			Description: "A prebuilt proxy image by digest (REGISTRY/PATH@sha256:...). When set, no image is built and no Docker daemon is needed, even for preview."},
		{Name: Namespace + ":proxyMinInstances", Type: "integer", Default: 0,
			Description: "Cloud Run minimum instances (0 scales to zero; 1 avoids cold starts and costs money while idle)."},
		{Name: Namespace + ":proxyMaxInstances", Type: "integer", Default: 4,
			Description: "Cloud Run maximum instances (1-100); also sizes the egress subnet's address use."},
		{Name: Namespace + ":domain", Type: "string", Default: "",
			Description: "Domain users reach Dify at, such as dify.example.com. Set, it builds the edge: a global external Application Load Balancer with a Google-managed certificate and Cloud Armor, and turns the service's run.app URL off. Empty uses the run.app URL (not allowed for a public production stack)."},
		{Name: Namespace + ":dnsZone", Type: "string", Default: "",
			Description: "Cloud DNS managed zone (its name, in gcp:project) that holds dify-gcp:domain; the program then creates the A record. Empty: create the record yourself (docs/deploy.md)."},
		{Name: Namespace + ":wafMode", Type: "string", Default: "preview",
			Description: "Cloud Armor's preconfigured WAF rules on the edge: off, preview (log what they would block; the default, because prompts sent to LLM apps often look like SQL injection or XSS) or enforce (block with 403)."},
		{Name: Namespace + ":allowedSourceRanges", Type: "array", Default: []string{},
			Description: "With the edge: the only client address ranges Cloud Armor lets in (CIDRs, at most 10), such as your offices' egress ranges. Empty lets in everyone."},
		{Name: Namespace + ":rateLimitPerMinute", Type: "integer", Default: 1200,
			Description: "With the edge: requests per minute one client address may make; more get 429 from Cloud Armor (60-100000). Offices behind one NAT address share it."},
		{Name: Namespace + ":signInRateLimitPerMinute", Type: "integer", Default: 10,
			Description: "With the edge: sign-in, password-reset and setup requests per minute one client address may make; a client over it is banned for 10 minutes (1-1000, below dify-gcp:rateLimitPerMinute)."},
		{Name: Namespace + ":iapClientId", Type: "string", Default: "",
			Description: "With access iap: the OAuth client ID (NUMBER-ID.apps.googleusercontent.com) created once in the console for IAP (docs/deploy.md)."},
		{Name: Namespace + ":iapClientSecret", Type: "string", Default: "", Secret: true,
			Description: "With access iap: that OAuth client's secret. Set it with pulumi config set --secret; it stays encrypted in the stack file and secret in state."},
		{Name: Namespace + ":monitoring", Type: "boolean", Default: false,
			Description: "Declare alerts (Dify not answering, a missed or failed backup, the VM down, a full disk, memory pressure, the VM's agent silent, 5xx answers, the VM unreachable) and the availability SLO with its burn-rate alerts. Required in production, with dify-gcp:alertEmails. docs/operations.md lists every alert."},
		{Name: Namespace + ":alertEmails", Type: "array", Default: []string{},
			Description: "Email addresses that receive alerts (at least one with dify-gcp:monitoring)."},
		{Name: Namespace + ":diskAlertPercent", Type: "integer", Default: 85,
			Description: "With dify-gcp:monitoring: alert when a disk of the VM (the data disk or the boot disk) is fuller than this, in percent (50-99)."},
		{Name: Namespace + ":sloTargetPercent", Type: "string", Default: "99.5",
			Description: "With dify-gcp:monitoring: the availability SLO of the front door, the percentage of requests Cloud Run answers without a 5xx, such as 99.5 (95-99.9). A string, because Pulumi's config has no decimal type."},
		{Name: Namespace + ":sloWindowDays", Type: "integer", Default: 28,
			Description: "With dify-gcp:monitoring: the SLO's rolling window in days (7-30); the burn-rate alerts' thresholds follow from it."},
		{Name: Namespace + ":logRetentionDays", Type: "integer", Default: 30,
			Description: "Days the project's _Default log bucket keeps logs (1-3650). The first 30 are included in the ingestion price; every GiB kept longer costs about $0.01 a month. pulumi destroy leaves the bucket at this value (docs/operations.md)."},
		{Name: Namespace + ":excludeHealthCheckLogs", Type: "boolean", Default: true,
			Description: "Drop the request logs of the uptime check's successful probes (Cloud Run, the load balancer, the proxy and Dify's nginx) before they are stored; failed probes are kept. Their pass/fail record stays in Cloud Monitoring."},
		{Name: Namespace + ":vmStartCron", Type: "string", Default: "",
			Description: "Outside production only: cron (minute hour day month weekday) at which a VM schedule starts the VM, such as 0 8 * * 1-5. Set with dify-gcp:vmStopCron."},
		{Name: Namespace + ":vmStopCron", Type: "string", Default: "",
			Description: "Outside production only: cron at which the VM schedule stops the VM, such as 0 20 * * 1-5."},
		{Name: Namespace + ":vmScheduleTimeZone", Type: "string", Default: "UTC",
			Description: "IANA time zone of the VM schedule, such as Asia/Tokyo."},
		{Name: Namespace + ":vmSubnetCidr", Type: "string", Default: "10.10.0.0/24",
			Description: "Private IPv4 range of the VM's subnet."},
		{Name: Namespace + ":runSubnetCidr", Type: "string", Default: "10.10.1.0/26",
			Description: "Private IPv4 range of the Cloud Run Direct VPC egress subnet: /26 or larger, not overlapping the VM's."},
	}
}

// Table renders Keys as the Markdown table docs/configuration.md carries.
func Table() string {
	s := "| key | type | default | meaning |\n| --- | --- | --- | --- |\n"
	for _, k := range Keys() {
		def := "required"
		switch d := k.Default.(type) {
		case nil:
		case string:
			def = "`\"" + d + "\"`"
		case []string:
			def = "`[]`"
		default:
			def = fmt.Sprintf("`%v`", d)
		}
		s += "| `" + k.Name + "` | " + k.Type + " | " + def + " | " + k.Description + " |\n"
	}
	return s
}

// ProjectYAML renders Keys as the config block of Pulumi.yaml (every key but
// the provider's), so the file the CLI reads is made from the same table as
// Load's defaults: `go test ./config -update` writes it.
func ProjectYAML() string {
	var b strings.Builder
	b.WriteString("config:\n")
	quote := func(s string) string { q, _ := json.Marshal(s); return string(q) }
	for _, k := range Keys() {
		if k.Provider {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    type: %s\n", k.Name, k.Type)
		if k.Type == "array" {
			b.WriteString("    items:\n      type: string\n")
		}
		fmt.Fprintf(&b, "    description: %s\n", quote(k.Description))
		switch d := k.Default.(type) {
		case nil:
		case string:
			fmt.Fprintf(&b, "    default: %s\n", quote(d))
		case []string:
			q, _ := json.Marshal(d)
			fmt.Fprintf(&b, "    default: %s\n", q)
		default:
			fmt.Fprintf(&b, "    default: %v\n", d)
		}
	}
	return b.String()
}
