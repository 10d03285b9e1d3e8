package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// base is a minimal valid private stack; cases change one thing at a time.
func base() map[string]string {
	return map[string]string{
		"gcp:project":          "acme-dify-prod",
		"gcp:region":           "asia-northeast1",
		"dify-gcp:zone":        "asia-northeast1-c",
		"dify-gcp:production":  "true",
		"dify-gcp:access":      "private",
		"dify-gcp:invokers":    `["group:dify-users@example.com"]`,
		"dify-gcp:monitoring":  "true",
		"dify-gcp:alertEmails": `["oncall@example.com"]`,
	}
}

func load(t *testing.T, stack string, m map[string]string) (*Config, error) {
	t.Helper()
	return Load(stack, func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "prod", base())
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	want := Config{
		Stack: "prod", Project: "acme-dify-prod", Region: "asia-northeast1", Zone: "asia-northeast1-c",
		Production: true, Access: Private, Invokers: []string{"group:dify-users@example.com"},
		RequestTimeoutSeconds: 900, UploadLimitMiB: 15, MachineType: "e2-standard-2", Provisioning: Standard,
		BootDiskGiB: 30, DataDiskGiB: 50, DataDiskType: "pd-balanced", SnapshotRetentionDays: 14,
		DeletionProtection: true, DifyVersion: "1.8.1",
		PluginDaemonImage: "langgenius/dify-plugin-daemon:0.2.0-local", SandboxImage: "langgenius/dify-sandbox:0.2.12",
		Images:              Releases()["1.8.1"].Images,
		BackupIntervalHours: 6, BackupRetentionDays: 30, ProxyMaxInstances: 4,
		VMSubnetCIDR: "10.10.0.0/24", RunSubnetCIDR: "10.10.1.0/26",
		Monitoring: true, AlertEmails: []string{"oncall@example.com"}, VMScheduleTimeZone: "UTC",
		WAFMode: WAFPreview, AllowedSourceRanges: []string{}, RateLimitPerMinute: 1200, SignInRateLimitPerMinute: 10,
		DiskAlertPercent: 85, SLOTargetPercent: 99.5, SLOWindowDays: 28, LogRetentionDays: 30, ExcludeHealthCheckLogs: true,
		DataTier: "vm", Managed: ManagedSettings{DatabaseTier: "db-custom-2-7680", DatabaseDiskGiB: 20, DatabaseBackups: 7,
			DatabaseLogRetentionDays: 7, RedisTier: "BASIC", RedisMemoryGB: 1, ServiceRangeCIDR: "10.20.0.0/20"},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", *c, want)
	}
	if got := c.BodyLimitMiB(); got != 16 {
		t.Errorf("BodyLimitMiB = %d, want 16", got)
	}
	if got := c.BackupBucketName(); got != "acme-dify-prod-dify-prod-backups" {
		t.Errorf("BackupBucketName = %q", got)
	}
}

// edge adds a domain, and anything in m, to a case.
func edge(m map[string]string) map[string]string {
	out := map[string]string{"dify-gcp:domain": "dify.example.com"}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// iap is a valid iap stack, changed by m.
func iap(m map[string]string) map[string]string {
	out := edge(map[string]string{"dify-gcp:access": "iap",
		"dify-gcp:iapClientId": "1234567890-abcdef.apps.googleusercontent.com", "dify-gcp:iapClientSecret": "GOCSPX-not-a-real-secret"})
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestRules(t *testing.T) {
	cases := []struct {
		name  string
		stack string
		set   map[string]string
		unset []string
		// wantKeys are the keys reported, in order; empty means valid.
		wantKeys []string
		// wantText must appear in the error (the reason or the fix).
		wantText string
	}{
		{name: "valid private", wantKeys: nil},
		{name: "valid public", set: map[string]string{"dify-gcp:access": "public", "dify-gcp:invokers": "[]", "dify-gcp:domain": "dify.example.com"}},
		{name: "valid public outside production without an edge", set: map[string]string{"dify-gcp:access": "public", "dify-gcp:invokers": "[]", "dify-gcp:production": "false"}},
		{name: "valid spot outside production", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false", "dify-gcp:provisioningModel": "spot"}},
		{name: "valid timeout at cap", set: map[string]string{"dify-gcp:requestTimeoutSeconds": "3600"}},
		{name: "valid upload at cap", set: map[string]string{"dify-gcp:uploadLimitMiB": "31"}},
		{name: "valid custom machine", set: map[string]string{"dify-gcp:machineType": "e2-custom-2-8192"}},
		{name: "valid 1.9.1", set: map[string]string{"dify-gcp:difyVersion": "1.9.1"}},
		{name: "valid companion overrides", set: map[string]string{"dify-gcp:difyVersion": "1.9.1",
			"dify-gcp:pluginDaemonImage": "langgenius/dify-plugin-daemon:0.3.1-local", "dify-gcp:sandboxImage": "langgenius/dify-sandbox:0.2.13"}},
		{name: "valid prebuilt image", set: map[string]string{"dify-gcp:proxyImage": "asia-northeast1-docker.pkg.dev/p/r/proxy@sha256:" + strings.Repeat("a", 64)}},
		{name: "valid every member kind", set: map[string]string{"dify-gcp:invokers": `["user:a@example.com","group:g@example.com","serviceAccount:ci@p.iam.gserviceaccount.com","domain:example.com","principalSet://iam.googleapis.com/locations/global/workforcePools/p/*"]`}},

		{name: "project missing", unset: []string{"gcp:project"}, wantKeys: []string{"gcp:project"}, wantText: "is required"},
		{name: "project malformed", set: map[string]string{"gcp:project": "Acme"}, wantKeys: []string{"gcp:project"}},
		{name: "region malformed", set: map[string]string{"gcp:region": "tokyo"}, wantKeys: []string{"gcp:region", "dify-gcp:zone"}},
		{name: "zone outside region", set: map[string]string{"dify-gcp:zone": "us-central1-a"}, wantKeys: []string{"dify-gcp:zone"}, wantText: `zone of region "asia-northeast1"`},
		{name: "zone is region", set: map[string]string{"dify-gcp:zone": "asia-northeast1"}, wantKeys: []string{"dify-gcp:zone"}},
		{name: "production missing", unset: []string{"dify-gcp:production"}, wantKeys: []string{"dify-gcp:production"}},
		{name: "production not boolean", set: map[string]string{"dify-gcp:production": "yes please"}, wantKeys: []string{"dify-gcp:production"}, wantText: "true or false"},
		{name: "stack name too long", stack: "a-very-long-stack-name-indeed", wantKeys: []string{"stack name"}},
		{name: "stack name uppercase", stack: "Prod", wantKeys: []string{"stack name"}},

		{name: "access missing", unset: []string{"dify-gcp:access"}, wantKeys: []string{"dify-gcp:access"}, wantText: "is required"},
		{name: "access unknown", set: map[string]string{"dify-gcp:access": "internal"}, wantKeys: []string{"dify-gcp:access"}, wantText: "public, private or iap"},
		{name: "public with invokers", set: map[string]string{"dify-gcp:access": "public", "dify-gcp:domain": "dify.example.com"}, wantKeys: []string{"dify-gcp:invokers"}, wantText: "access is public"},
		{name: "private without invokers", set: map[string]string{"dify-gcp:invokers": "[]"}, wantKeys: []string{"dify-gcp:invokers"}, wantText: "nobody could reach"},

		// The edge: what it needs, and what makes no sense without it.
		{name: "valid iap", set: iap(nil)},
		{name: "valid edge with every option", set: map[string]string{"dify-gcp:domain": "dify.example.com", "dify-gcp:dnsZone": "example-com",
			"dify-gcp:wafMode": "enforce", "dify-gcp:allowedSourceRanges": `["203.0.113.0/24", "2001:db8::/32"]`,
			"dify-gcp:rateLimitPerMinute": "600", "dify-gcp:signInRateLimitPerMinute": "5"}},
		{name: "valid waf off without an edge", set: map[string]string{"dify-gcp:wafMode": "off"}},
		{name: "public production without an edge", set: map[string]string{"dify-gcp:access": "public", "dify-gcp:invokers": "[]"},
			wantKeys: []string{"dify-gcp:domain"}, wantText: "no WAF and no rate limit"},
		{name: "iap without a domain", set: iap(map[string]string{"dify-gcp:domain": ""}), wantKeys: []string{"dify-gcp:domain"}, wantText: "is empty with access iap"},
		{name: "iap without invokers", set: iap(map[string]string{"dify-gcp:invokers": "[]"}), wantKeys: []string{"dify-gcp:invokers"}, wantText: "access iap: nobody"},
		{name: "iap without a client", set: iap(map[string]string{"dify-gcp:iapClientId": "", "dify-gcp:iapClientSecret": ""}),
			wantKeys: []string{"dify-gcp:iapClientId", "dify-gcp:iapClientSecret"}, wantText: "pulumi config set --secret dify-gcp:iapClientSecret"},
		{name: "iap client id malformed", set: iap(map[string]string{"dify-gcp:iapClientId": "my-client"}), wantKeys: []string{"dify-gcp:iapClientId"}, wantText: "apps.googleusercontent.com"},
		{name: "iap client without iap", set: map[string]string{"dify-gcp:iapClientId": "1234-abc.apps.googleusercontent.com", "dify-gcp:iapClientSecret": "GOCSPX-x"},
			wantKeys: []string{"dify-gcp:iapClientId", "dify-gcp:iapClientSecret"}, wantText: "does not use IAP"},
		{name: "domain malformed", set: map[string]string{"dify-gcp:domain": "https://dify.example.com/"}, wantKeys: []string{"dify-gcp:domain"}, wantText: "no scheme"},
		{name: "dns zone without a domain", set: map[string]string{"dify-gcp:dnsZone": "example-com"}, wantKeys: []string{"dify-gcp:dnsZone"}, wantText: "no record to create"},
		{name: "dns zone malformed", set: map[string]string{"dify-gcp:domain": "dify.example.com", "dify-gcp:dnsZone": "example.com."}, wantKeys: []string{"dify-gcp:dnsZone"}},
		{name: "enforce without an edge", set: map[string]string{"dify-gcp:wafMode": "enforce"}, wantKeys: []string{"dify-gcp:wafMode"}, wantText: "nothing would be blocked"},
		{name: "waf mode unknown", set: map[string]string{"dify-gcp:wafMode": "block"}, wantKeys: []string{"dify-gcp:wafMode"}, wantText: "off, preview or enforce"},
		{name: "allow-list without an edge", set: map[string]string{"dify-gcp:allowedSourceRanges": `["203.0.113.0/24"]`}, wantKeys: []string{"dify-gcp:allowedSourceRanges"}, wantText: "no edge"},
		{name: "allow-list entries", set: edge(map[string]string{"dify-gcp:allowedSourceRanges": `["203.0.113.7", "203.0.113.1/24", "0.0.0.0/0", "office", "198.51.100.0/24", "198.51.100.0/24"]`}),
			wantKeys: []string{"dify-gcp:allowedSourceRanges", "dify-gcp:allowedSourceRanges", "dify-gcp:allowedSourceRanges", "dify-gcp:allowedSourceRanges", "dify-gcp:allowedSourceRanges"},
			wantText: "write it as 203.0.113.7/32"},
		{name: "allow-list too long", set: edge(map[string]string{"dify-gcp:allowedSourceRanges": `["10.0.0.0/8","10.1.0.0/16","10.2.0.0/16","10.3.0.0/16","10.4.0.0/16","10.5.0.0/16","10.6.0.0/16","10.7.0.0/16","10.8.0.0/16","10.9.0.0/16","10.10.0.0/16"]`}),
			wantKeys: []string{"dify-gcp:allowedSourceRanges"}, wantText: "more than 10"},
		{name: "rate limit too low", set: edge(map[string]string{"dify-gcp:rateLimitPerMinute": "10", "dify-gcp:signInRateLimitPerMinute": "5"}), wantKeys: []string{"dify-gcp:rateLimitPerMinute"}},
		{name: "sign-in limit not stricter", set: edge(map[string]string{"dify-gcp:rateLimitPerMinute": "100", "dify-gcp:signInRateLimitPerMinute": "100"}),
			wantKeys: []string{"dify-gcp:signInRateLimitPerMinute"}, wantText: "password guessing"},
		{name: "sign-in limit zero", set: edge(map[string]string{"dify-gcp:signInRateLimitPerMinute": "0"}), wantKeys: []string{"dify-gcp:signInRateLimitPerMinute"}},
		{name: "private with allUsers", set: map[string]string{"dify-gcp:invokers": `["allUsers"]`}, wantKeys: []string{"dify-gcp:invokers"}, wantText: "access public instead"},
		{name: "invoker bad email", set: map[string]string{"dify-gcp:invokers": `["user:ana"]`}, wantKeys: []string{"dify-gcp:invokers"}},
		{name: "invoker unknown kind", set: map[string]string{"dify-gcp:invokers": `["team:ana@example.com"]`}, wantKeys: []string{"dify-gcp:invokers"}, wantText: `unknown member kind "team"`},
		{name: "invoker not member", set: map[string]string{"dify-gcp:invokers": `["ana@example.com"]`}, wantKeys: []string{"dify-gcp:invokers"}},
		{name: "invoker service account not gsa", set: map[string]string{"dify-gcp:invokers": `["serviceAccount:ci@example.com"]`}, wantKeys: []string{"dify-gcp:invokers"}},
		{name: "invoker twice", set: map[string]string{"dify-gcp:invokers": `["user:a@example.com","user:a@example.com"]`}, wantKeys: []string{"dify-gcp:invokers"}, wantText: "twice"},
		{name: "invokers not a list", set: map[string]string{"dify-gcp:invokers": `user:a@example.com`}, wantKeys: []string{"dify-gcp:invokers"}, wantText: "not a list"},

		{name: "timeout zero", set: map[string]string{"dify-gcp:requestTimeoutSeconds": "0"}, wantKeys: []string{"dify-gcp:requestTimeoutSeconds"}},
		{name: "timeout over cap", set: map[string]string{"dify-gcp:requestTimeoutSeconds": "3601"}, wantKeys: []string{"dify-gcp:requestTimeoutSeconds"}, wantText: "3600"},
		{name: "timeout not number", set: map[string]string{"dify-gcp:requestTimeoutSeconds": "15m"}, wantKeys: []string{"dify-gcp:requestTimeoutSeconds"}, wantText: "whole number"},
		{name: "upload over Cloud Run cap", set: map[string]string{"dify-gcp:uploadLimitMiB": "32"}, wantKeys: []string{"dify-gcp:uploadLimitMiB"}, wantText: "32 MiB"},
		{name: "upload zero", set: map[string]string{"dify-gcp:uploadLimitMiB": "0"}, wantKeys: []string{"dify-gcp:uploadLimitMiB"}},

		{name: "preemptible refused", set: map[string]string{"dify-gcp:provisioningModel": "preemptible"}, wantKeys: []string{"dify-gcp:provisioningModel"}, wantText: "24 hours"},
		{name: "preemptible refused outside production", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false", "dify-gcp:provisioningModel": "preemptible"}, wantKeys: []string{"dify-gcp:provisioningModel"}},
		{name: "spot in production", set: map[string]string{"dify-gcp:provisioningModel": "spot"}, wantKeys: []string{"dify-gcp:provisioningModel"}, wantText: "production"},
		{name: "provisioning unknown", set: map[string]string{"dify-gcp:provisioningModel": "reserved"}, wantKeys: []string{"dify-gcp:provisioningModel"}},
		{name: "shared-core machine", set: map[string]string{"dify-gcp:machineType": "e2-medium"}, wantKeys: []string{"dify-gcp:machineType"}},
		{name: "machine one vCPU", set: map[string]string{"dify-gcp:machineType": "n2-standard-1"}, wantKeys: []string{"dify-gcp:machineType"}, wantText: "2 vCPUs"},
		{name: "machine highcpu too little memory", set: map[string]string{"dify-gcp:machineType": "n1-highcpu-4"}, wantKeys: []string{"dify-gcp:machineType"}},
		{name: "custom machine too small", set: map[string]string{"dify-gcp:machineType": "e2-custom-2-2048"}, wantKeys: []string{"dify-gcp:machineType"}},
		{name: "boot disk too small", set: map[string]string{"dify-gcp:bootDiskGiB": "10"}, wantKeys: []string{"dify-gcp:bootDiskGiB"}},
		{name: "data disk too small", set: map[string]string{"dify-gcp:dataDiskGiB": "5"}, wantKeys: []string{"dify-gcp:dataDiskGiB"}},
		{name: "data disk type", set: map[string]string{"dify-gcp:dataDiskType": "hyperdisk-extreme"}, wantKeys: []string{"dify-gcp:dataDiskType"}},
		{name: "snapshot retention zero", set: map[string]string{"dify-gcp:snapshotRetentionDays": "0"}, wantKeys: []string{"dify-gcp:snapshotRetentionDays"}},

		{name: "version latest", set: map[string]string{"dify-gcp:difyVersion": "latest"}, wantKeys: []string{"dify-gcp:difyVersion"}, wantText: "never latest"},
		{name: "version unknown", set: map[string]string{"dify-gcp:difyVersion": "1.9.0"}, wantKeys: []string{"dify-gcp:difyVersion"}, wantText: "known releases: 1.8.1, 1.9.1"},
		{name: "version unknown, companions given", set: map[string]string{"dify-gcp:difyVersion": "1.9.2",
			"dify-gcp:pluginDaemonImage": "langgenius/dify-plugin-daemon:0.3.0-local", "dify-gcp:sandboxImage": "langgenius/dify-sandbox:0.2.12"}, wantKeys: []string{"dify-gcp:difyVersion"}, wantText: "not in the release table"},
		{name: "companion on latest", set: map[string]string{"dify-gcp:sandboxImage": "langgenius/dify-sandbox:latest"}, wantKeys: []string{"dify-gcp:sandboxImage"}},
		{name: "companion without tag", set: map[string]string{"dify-gcp:pluginDaemonImage": "langgenius/dify-plugin-daemon"}, wantKeys: []string{"dify-gcp:pluginDaemonImage"}},

		{name: "valid schedule outside production", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false",
			"dify-gcp:vmStartCron": "0 8 * * 1-5", "dify-gcp:vmStopCron": "0 20 * * 1-5", "dify-gcp:vmScheduleTimeZone": "Asia/Tokyo"}},
		{name: "valid daily backups without monitoring", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false", "dify-gcp:backupIntervalHours": "24"}},
		{name: "production without monitoring", set: map[string]string{"dify-gcp:monitoring": "false"}, wantKeys: []string{"dify-gcp:monitoring"}, wantText: "found by users"},
		{name: "monitoring without emails", set: map[string]string{"dify-gcp:alertEmails": "[]"}, wantKeys: []string{"dify-gcp:alertEmails"}},
		{name: "monitoring bad email", set: map[string]string{"dify-gcp:alertEmails": `["oncall"]`}, wantKeys: []string{"dify-gcp:alertEmails"}},
		{name: "monitoring with daily backups", set: map[string]string{"dify-gcp:backupIntervalHours": "24"}, wantKeys: []string{"dify-gcp:backupIntervalHours"}, wantText: "23.5 hours"},
		{name: "schedule in production", set: map[string]string{"dify-gcp:vmStartCron": "0 8 * * 1-5", "dify-gcp:vmStopCron": "0 20 * * 1-5"}, wantKeys: []string{"dify-gcp:vmStartCron"}, wantText: "outage"},
		{name: "schedule half set", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:vmStopCron": "0 20 * * 1-5"}, wantKeys: []string{"dify-gcp:vmStopCron"}},
		{name: "schedule bad cron", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false", "dify-gcp:vmStartCron": "8am", "dify-gcp:vmStopCron": "0 20 * * 1-5"}, wantKeys: []string{"dify-gcp:vmStartCron"}},
		{name: "schedule bad zone", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false", "dify-gcp:vmStartCron": "0 8 * * 1-5", "dify-gcp:vmStopCron": "0 20 * * 1-5", "dify-gcp:vmScheduleTimeZone": "Tokyo"}, wantKeys: []string{"dify-gcp:vmScheduleTimeZone"}},
		// A scheduled VM is stopped every night: vm-down, the uptime check and
		// the missed-backup alert would page each time.
		{name: "schedule with monitoring", set: map[string]string{"dify-gcp:production": "false", "dify-gcp:vmStartCron": "0 8 * * 1-5", "dify-gcp:vmStopCron": "0 20 * * 1-5"},
			wantKeys: []string{"dify-gcp:vmStartCron"}, wantText: "dify-gcp:monitoring = true would page every night"},
		{name: "backup interval not dividing day", set: map[string]string{"dify-gcp:backupIntervalHours": "5"}, wantKeys: []string{"dify-gcp:backupIntervalHours"}},
		{name: "backup interval over a day", set: map[string]string{"dify-gcp:backupIntervalHours": "48"}, wantKeys: []string{"dify-gcp:backupIntervalHours"}},
		{name: "backup retention zero", set: map[string]string{"dify-gcp:backupRetentionDays": "0"}, wantKeys: []string{"dify-gcp:backupRetentionDays"}},

		// What the signals read: retention, the disk threshold, the SLO.
		{name: "valid signals at their limits", set: map[string]string{"dify-gcp:logRetentionDays": "3650", "dify-gcp:diskAlertPercent": "99",
			"dify-gcp:sloTargetPercent": "99.9", "dify-gcp:sloWindowDays": "30"}},
		{name: "valid signals at their lower limits", set: map[string]string{"dify-gcp:logRetentionDays": "1", "dify-gcp:diskAlertPercent": "50",
			"dify-gcp:sloTargetPercent": "95", "dify-gcp:sloWindowDays": "7"}},
		{name: "log retention zero", set: map[string]string{"dify-gcp:logRetentionDays": "0"}, wantKeys: []string{"dify-gcp:logRetentionDays"}, wantText: "1 to 3650 days"},
		{name: "log retention over ten years", set: map[string]string{"dify-gcp:logRetentionDays": "3651"}, wantKeys: []string{"dify-gcp:logRetentionDays"},
			wantText: "pulumi config set dify-gcp:logRetentionDays 3650"},
		{name: "log retention not a number", set: map[string]string{"dify-gcp:logRetentionDays": "30d"}, wantKeys: []string{"dify-gcp:logRetentionDays"}, wantText: "whole number"},
		{name: "disk threshold 100", set: map[string]string{"dify-gcp:diskAlertPercent": "100"}, wantKeys: []string{"dify-gcp:diskAlertPercent"}, wantText: "50-99 percent"},
		{name: "slo target as a fraction", set: map[string]string{"dify-gcp:sloTargetPercent": "0.995"}, wantKeys: []string{"dify-gcp:sloTargetPercent"},
			wantText: "pulumi config set dify-gcp:sloTargetPercent 99.5"},
		{name: "slo target 100", set: map[string]string{"dify-gcp:sloTargetPercent": "100"}, wantKeys: []string{"dify-gcp:sloTargetPercent"}, wantText: "up to 99.9%"},
		{name: "slo target with a percent sign", set: map[string]string{"dify-gcp:sloTargetPercent": "99.5%"}, wantKeys: []string{"dify-gcp:sloTargetPercent"}, wantText: "decimal number"},
		{name: "slo window a quarter", set: map[string]string{"dify-gcp:sloWindowDays": "90"}, wantKeys: []string{"dify-gcp:sloWindowDays"}, wantText: "end at 30 days"},

		{name: "proxy image by tag", set: map[string]string{"dify-gcp:proxyImage": "asia-northeast1-docker.pkg.dev/p/r/proxy:latest"}, wantKeys: []string{"dify-gcp:proxyImage"}, wantText: "by digest"},
		{name: "min over max", set: map[string]string{"dify-gcp:proxyMinInstances": "5"}, wantKeys: []string{"dify-gcp:proxyMinInstances"}},
		{name: "max zero", set: map[string]string{"dify-gcp:proxyMaxInstances": "0"}, wantKeys: []string{"dify-gcp:proxyMaxInstances"}},
		{name: "domain with scheme", set: map[string]string{"dify-gcp:domain": "https://dify.example.com"}, wantKeys: []string{"dify-gcp:domain"}},

		{name: "subnet public range", set: map[string]string{"dify-gcp:vmSubnetCidr": "8.8.8.0/24"}, wantKeys: []string{"dify-gcp:vmSubnetCidr"}, wantText: "private"},
		{name: "subnet host bits", set: map[string]string{"dify-gcp:vmSubnetCidr": "10.10.0.1/24"}, wantKeys: []string{"dify-gcp:vmSubnetCidr"}, wantText: "10.10.0.0/24"},
		{name: "run subnet too small", set: map[string]string{"dify-gcp:runSubnetCidr": "10.10.1.0/27"}, wantKeys: []string{"dify-gcp:runSubnetCidr"}, wantText: "/16 to /26"},
		{name: "subnets overlap", set: map[string]string{"dify-gcp:runSubnetCidr": "10.10.0.0/26"}, wantKeys: []string{"dify-gcp:runSubnetCidr"}, wantText: "overlaps"},
		{name: "subnet not cidr", set: map[string]string{"dify-gcp:runSubnetCidr": "10.10.1.0"}, wantKeys: []string{"dify-gcp:runSubnetCidr"}},

		{name: "every problem at once",
			set:      map[string]string{"dify-gcp:access": "open", "dify-gcp:requestTimeoutSeconds": "7200", "dify-gcp:provisioningModel": "preemptible"},
			unset:    []string{"dify-gcp:zone"},
			wantKeys: []string{"dify-gcp:zone", "dify-gcp:access", "dify-gcp:requestTimeoutSeconds", "dify-gcp:provisioningModel"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			for k, v := range tc.set {
				m[k] = v
			}
			for _, k := range tc.unset {
				delete(m, k)
			}
			stack := tc.stack
			if stack == "" {
				stack = "prod"
			}
			c, err := load(t, stack, m)
			if len(tc.wantKeys) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid config accepted: %+v", c)
			}
			if c != nil {
				t.Errorf("a Config came back with the error")
			}
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("error is %T, want Problems", err)
			}
			if got := ps.Keys(); !slices.Equal(got, tc.wantKeys) {
				t.Errorf("problem keys = %q, want %q\n%v", got, tc.wantKeys, err)
			}
			for _, p := range ps {
				if p.Reason == "" || p.Fix == "" {
					t.Errorf("problem without reason or fix: %+v", p)
				}
			}
			if tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error does not mention %q:\n%v", tc.wantText, err)
			}
		})
	}
}

func TestProblemNamesKeyValueAndFix(t *testing.T) {
	m := base()
	m["dify-gcp:requestTimeoutSeconds"] = "4000"
	_, err := load(t, "prod", m)
	msg := err.Error()
	for _, want := range []string{"dify-gcp:requestTimeoutSeconds", `"4000"`, "fix: pulumi config set dify-gcp:requestTimeoutSeconds 3600", "nothing was created"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestBackupAlertAfter(t *testing.T) {
	for hours, want := range map[int]string{1: "2h0m0s", 6: "9h0m0s", 12: "18h0m0s", 24: "36h0m0s"} {
		c := Config{BackupIntervalHours: hours}
		if got := c.BackupAlertAfter().String(); got != want {
			t.Errorf("%d h: %s, want %s", hours, got, want)
		}
	}
}

func TestBackupOnCalendar(t *testing.T) {
	for hours, want := range map[int]string{24: "*-*-* 03:15:00", 6: "*-*-* 00/6:15:00", 1: "*-*-* 00/1:15:00"} {
		c := Config{BackupIntervalHours: hours}
		if got := c.BackupOnCalendar(); got != want {
			t.Errorf("%d h: %q, want %q", hours, got, want)
		}
	}
}

// TestSecretKeysMustBeEncrypted: a key declared Secret is refused when the
// stack holds it in plain text, and no message ever repeats its value.
func TestSecretKeysMustBeEncrypted(t *testing.T) {
	m := base()
	for k, v := range iap(nil) {
		m[k] = v
	}
	get := func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	const value = "GOCSPX-not-a-real-secret"

	_, err := Load("prod", get, SecretKeys(func(string) bool { return false }))
	if err == nil {
		t.Fatal("a plain-text client secret was accepted")
	}
	if ps := err.(Problems); !slices.Equal(ps.Keys(), []string{"dify-gcp:iapClientSecret"}) || !strings.Contains(err.Error(), "pulumi config set --secret dify-gcp:iapClientSecret") {
		t.Errorf("want one problem on the secret with the --secret fix, got:\n%v", err)
	}
	c, err := Load("prod", get, SecretKeys(func(k string) bool { return k == "dify-gcp:iapClientSecret" }))
	if err != nil {
		t.Fatalf("an encrypted client secret was refused: %v", err)
	}
	if c.IAPClientSecret != value {
		t.Errorf("IAPClientSecret = %q", c.IAPClientSecret)
	}
	// Wrong everywhere else: the value still never shows.
	m["dify-gcp:access"] = "private"
	_, err = Load("prod", get)
	if err == nil || strings.Contains(err.Error(), value) {
		t.Errorf("the secret's value appears in, or no problem was reported:\n%v", err)
	}
	for _, k := range Keys() {
		if k.Secret && k.Default != "" {
			t.Errorf("%s is secret and has default %v: a secret has no default", k.Name, k.Default)
		}
	}
}
