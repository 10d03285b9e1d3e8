package policy_test

import (
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// Type tokens only the cloud rules' cases use.
const (
	tAlert       = "gcp:monitoring/alertPolicy:AlertPolicy"
	tUptime      = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
	tLogMetric   = "gcp:logging/metric:Metric"
	tAPI         = "gcp:projects/service:Service"
	tSecret      = "gcp:secretmanager/secret:Secret"
	tServiceIdty = "gcp:projects/serviceIdentity:ServiceIdentity"
)

// cloudCase breaks one variant in one way that one cloud rule must catch.
type cloudCase struct {
	rule, variant, name string
	break_              func(t *testing.T, s *policy.Stack)
	want                string // a fragment of the violation's message
}

func cloudCases() []cloudCase {
	named := func(typ, name string) func(t *testing.T, s *policy.Stack) *policy.Resource {
		return func(t *testing.T, s *policy.Stack) *policy.Resource {
			return first(t, *s, typ, func(r policy.Resource) bool { return strings.HasSuffix(r.Name, name) })
		}
	}
	alert := func(suffix string) func(t *testing.T, s *policy.Stack) *policy.Resource {
		return named(tAlert, "-monitoring-"+suffix)
	}
	return []cloudCase{
		{"api-enabled", "prod", "an API the stack no longer enables", func(t *testing.T, s *policy.Stack) {
			var keep []policy.Resource
			for _, r := range s.Resources {
				if !(r.Type == tAPI && r.Props["service"] == "iam.googleapis.com") {
					keep = append(keep, r)
				}
			}
			s.Resources = keep
		}, "needs iam.googleapis.com, which neither the stack"},
		{"api-enabled", "dev", "a resource type nobody mapped to an API", func(t *testing.T, s *policy.Stack) {
			add(s, "gcp:bigtable/instance:Instance", "vectors", map[string]any{"name": "vectors"}, nil)
		}, "has no entry in policy.ServiceAPIs"},
		{"api-enabled", "dev", "a resource that does not wait for its API", func(t *testing.T, s *policy.Stack) {
			first(t, *s, tBucket, nil).DependsOn = nil
		}, "does not wait for the projects.Service that enables storage.googleapis.com"},

		{"name-service-account", "dev", "an account id over 30 characters", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tAccount, nil), "dify-a-very-long-stack-name-proxy", "accountId")
		}, "has 33 characters"},
		{"name-service-account", "prod", "an account id with capitals", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tAccount, nil), "Dify-Prod-VM", "accountId")
		}, "is not lowercase"},
		{"name-bucket", "prod", "a bucket named after google", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), "google-dify-backups", "name")
		}, `may not start with "goog"`},
		{"name-bucket", "dev", "a bucket with an underscore at the end", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), "acme-dify-dev-backups_", "name")
		}, "starting and ending with a letter or digit"},
		{"name-cloud-run-service", "dev", "a service name of 50 characters", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRun, nil), "dify-"+strings.Repeat("x", 45), "name")
		}, "has 50 characters"},
		{"name-secret", "prod", "a secret id with a slash", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSecret, nil), "dify/prod", "secretId")
		}, "is not 1-255 letters"},
		{"name-compute", "dev", "a disk name with an underscore", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tDisk, nil), "dify_dev_data", "name")
		}, "is not an RFC 1035 label"},
		{"labels", "prod", "a label key with a capital", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), "x", "labels", "Stack")
		}, `label key "Stack"`},
		{"labels", "dev", "a label value with a capital", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tDisk, nil), "Dev", "labels", "stack")
		}, `label stack = "Dev"`},

		{"durations", "prod", "a Cloud Run timeout without its unit", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRun, nil), "900", "template", "timeout")
		}, "is not a duration the API parses"},
		{"durations", "prod", "a Cloud Run timeout over an hour", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRun, nil), "7200s", "template", "timeout")
		}, "longer than the API's maximum of 1h0m0s"},
		{"durations", "prod", "an uptime period the API does not offer", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tUptime, nil), "120s", "period")
		}, "is not one of the values the API accepts (60s, 300s, 600s, 900s)"},
		{"durations", "private-with-monitoring", "an alert duration of 90 seconds", func(t *testing.T, s *policy.Stack) {
			set(t, alert("backup-missing")(t, s), "90s", "conditions", 0, "conditionThreshold", "duration")
		}, "is not a whole number of minutes"},

		{"vm-schedule-format", "dev", "a cron of four fields", func(t *testing.T, s *policy.Stack) {
			set(t, named(tResourcePolicy, "-schedule")(t, s), "0 8 * *", "instanceSchedulePolicy", "vmStartSchedule", "schedule")
		}, "is not five fields"},
		{"vm-schedule-format", "dev", "an hour of 24", func(t *testing.T, s *policy.Stack) {
			set(t, named(tResourcePolicy, "-schedule")(t, s), "0 24 * * 1-5", "instanceSchedulePolicy", "vmStopSchedule", "schedule")
		}, `has "24" in field 2`},
		{"vm-schedule-format", "dev", "a time zone that is not IANA's", func(t *testing.T, s *policy.Stack) {
			set(t, named(tResourcePolicy, "-schedule")(t, s), "Tokyo", "instanceSchedulePolicy", "timeZone")
		}, `timeZone "Tokyo" is not an IANA time zone`},
		{"cidr-ranges", "prod", "a subnet range with host bits", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSubnet, nil), "10.10.0.1/24", "ipCidrRange")
		}, "has host bits set (the API wants 10.10.0.0/24)"},
		{"cidr-ranges", "dev", "a firewall source that is no range", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tFirewall, withSource("35.235.240.0/20")), []any{"35.235.240.0/33"}, "sourceRanges")
		}, "is neither a CIDR range nor an address"},
		{"snapshot-start-time", "prod", "the first release's 18:00", func(t *testing.T, s *policy.Stack) {
			set(t, named(tResourcePolicy, "-snapshots")(t, s), "18:00", "snapshotSchedulePolicy", "schedule", "dailySchedule", "startTime")
		}, `starts daily at "18:00"`},
		{"snapshot-start-time", "dev", "a start off the hour", func(t *testing.T, s *policy.Stack) {
			set(t, named(tResourcePolicy, "-snapshots")(t, s), "16:30", "snapshotSchedulePolicy", "schedule", "dailySchedule", "startTime")
		}, `starts daily at "16:30"`},

		{"alert-log-metric-resource-type", "prod", "the missed-backup filter without resource.type", func(t *testing.T, s *policy.Stack) {
			a := alert("backup-missing")(t, s)
			f, _ := a.Get("conditions", 0, "conditionThreshold", "filter")
			set(t, a, strings.Replace(f.(string), `resource.type="global" AND `, "", 1), "conditions", 0, "conditionThreshold", "filter")
		}, "does not restrict resource.type"},
		{"alert-metric-created-first", "prod", "an alert on a log-based metric of the stack", func(t *testing.T, s *policy.Stack) {
			add(s, tLogMetric, "backup-success", map[string]any{"name": "dify-prod-backup-success"}, nil)
			set(t, alert("backup-missing")(t, s), `metric.type="logging.googleapis.com/user/dify-prod-backup-success" AND resource.type="global"`,
				"conditions", 0, "conditionThreshold", "filter")
		}, "which the logging.Metric backup-success of this stack creates"},
		{"alert-metric-created-first", "private-with-monitoring", "a PromQL alert on a log-based metric of the stack", func(t *testing.T, s *policy.Stack) {
			add(s, tLogMetric, "backup-success", map[string]any{"name": "dify-dev-backup-success"}, nil)
			set(t, alert("backup-missing")(t, s), []any{map[string]any{"conditionPrometheusQueryLanguage": map[string]any{
				"query": `absent_over_time(logging_googleapis_com:user_dify_dev_backup_success{monitored_resource="global"}[9h])`}}}, "conditions")
		}, "needs the metric logging_googleapis_com:user_dify_dev_backup_success"},
		{"alert-absence-on-log-metric", "prod", "an absence condition on the backup log", func(t *testing.T, s *policy.Stack) {
			a := alert("backup-missing")(t, s)
			f, _ := a.Get("conditions", 0, "conditionThreshold", "filter")
			set(t, a, []any{map[string]any{"conditionAbsent": map[string]any{"filter": f, "duration": "32400s"}}}, "conditions")
		}, "is an absence condition on logging.googleapis.com/log_entry_count"},

		{"service-agent-exists", "private-with-monitoring", "the first release's grant to an agent built from the project number", func(t *testing.T, s *policy.Stack) {
			g := named(tRunIAM, "-uptime-invoker")(t, s)
			set(t, g, "serviceAccount:service-123456789012@gcp-sa-monitoring-notification.iam.gserviceaccount.com", "member")
			delete(g.PropertyDeps, "member")
		}, "which may not exist yet in a fresh project"},
		{"service-agent-exists", "dev", "the Compute Engine agent's grant before the Compute Engine API", func(t *testing.T, s *policy.Stack) {
			g := named(tProjectIAM, "-schedule-agent")(t, s)
			g.DependsOn = nil
		}, "exists only once compute.googleapis.com is enabled"},
		{"service-agent-exists", "dev", "an agent nobody described", func(t *testing.T, s *policy.Stack) {
			add(s, tProjectIAM, "sql-agent", map[string]any{"role": "roles/viewer",
				"member": "serviceAccount:service-123456789012@gcp-sa-cloud-sql.iam.gserviceaccount.com"}, nil)
		}, "which policy.ServiceAgents does not know"},
		{"scheduled-vm-waits-for-agent", "dev", "a scheduled VM that does not wait for the agent's grant", func(t *testing.T, s *policy.Stack) {
			dropDependency(first(t, *s, tInstance, nil), named(tProjectIAM, "-schedule-agent")(t, s).URN)
		}, "does not wait for a grant of roles/compute.instanceAdmin.v1"},
		{"direct-vpc-egress-ids", "prod", "the first release's self links", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRun, nil), "https://www.googleapis.com/compute/v1/projects/acme-dify-prod/regions/asia-northeast1/subnetworks/dify-prod-run-subnet",
				"template", "vpcAccess", "networkInterfaces", 0, "subnetwork")
		}, "Direct VPC egress subnetwork is the self link"},

		// The managed data tier.
		{"api-enabled", "managed", "Cloud SQL without the Admin API", func(t *testing.T, s *policy.Stack) {
			var keep []policy.Resource
			for _, r := range s.Resources {
				if !(r.Type == tAPI && r.Props["service"] == "sqladmin.googleapis.com") {
					keep = append(keep, r)
				}
			}
			s.Resources = keep
		}, "needs sqladmin.googleapis.com"},
		{"sql-tier", "managed", "a MySQL machine type", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), "db-n1-standard-2", "settings", "tier")
		}, "not a Cloud SQL tier for PostgreSQL"},
		{"sql-tier", "dev-managed", "three vCPUs", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), "db-custom-3-11520", "settings", "tier")
		}, "1 or an even number"},
		{"sql-ssl-mode-pair", "managed", "the legacy flag contradicting ENCRYPTED_ONLY", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), true, "settings", "ipConfiguration", "requireSsl")
		}, "sslMode ENCRYPTED_ONLY with requireSsl true"},
		{"sql-ha-needs-pitr", "managed", "REGIONAL without point-in-time recovery", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), false, "settings", "backupConfiguration", "pointInTimeRecoveryEnabled")
		}, "is REGIONAL without backupConfiguration.pointInTimeRecoveryEnabled"},
		{"sql-log-retention", "managed", "fourteen days of logs in Enterprise", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), float64(14), "settings", "backupConfiguration", "transactionLogRetentionDays")
		}, "keeps 14 days of transaction logs; its edition allows 1-7"},
		{"private-services-first", "managed", "Cloud SQL created before the peering", func(t *testing.T, s *policy.Stack) {
			first(t, *s, tSQL, nil).DependsOn = nil
		}, "does not wait for the Service Networking connection"},
		{"private-services-first", "dev-managed", "Memorystore waiting for a connection on another network", func(t *testing.T, s *policy.Stack) {
			c := first(t, *s, tConnection, nil)
			set(t, c, "projects/elsewhere/global/networks/other", "network")
			delete(c.PropertyDeps, "network")
		}, "gcp:redis/instance:Instance dify-dev-redis takes a private address"},
		{"psa-range", "managed", "an external peering range", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tGlobalAddress, func(r policy.Resource) bool { return r.Props["purpose"] == "VPC_PEERING" }), "EXTERNAL", "addressType")
		}, "addressType EXTERNAL, not INTERNAL"},
		{"psa-range", "dev-managed", "a range without a prefix length", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tGlobalAddress, func(r policy.Resource) bool { return r.Props["purpose"] == "VPC_PEERING" }), "prefixLength")
		}, "no prefixLength"},
		{"name-custom-role", "managed", "a role id with hyphens, as the stack name has", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tCustomRole, nil), "dify-prod-db-client", "roleId")
		}, `roleId "dify-prod-db-client" is not 3-64 letters`},
		{"name-custom-role", "dev-managed", "a role name instead of a permission", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tCustomRole, nil), []any{"roles/cloudsql.client"}, "permissions")
		}, `"roles/cloudsql.client" is not a permission name`},
		{"name-managed-instances", "managed", "a Cloud SQL name with an underscore", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), "dify_prod_db", "name")
		}, `Cloud SQL instance name "dify_prod_db"`},
		{"name-managed-instances", "dev-managed", "a Memorystore id of 41 characters", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRedis, nil), "dify-"+strings.Repeat("x", 36), "name")
		}, "is not 1-40 lowercase letters"},
		{"redis-size", "managed", "a terabyte of Redis", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRedis, nil), float64(1000), "memorySizeGb")
		}, "has 1000 GB; it takes 1-300"},
		{"redis-size", "dev-managed", "a tier Memorystore does not have", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRedis, nil), "STANDARD", "tier")
		}, "has tier STANDARD"},
		{"labels", "managed", "a Cloud SQL label with a capital", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), "Prod", "settings", "userLabels", "stack")
		}, `label stack = "Prod"`},
		{"name-compute", "managed", "a peering range with a capital", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tGlobalAddress, func(r policy.Resource) bool { return r.Props["purpose"] == "VPC_PEERING" }), "Dify-prod-psa", "name")
		}, "is not an RFC 1035 label"},
	}
}

// Each cloud rule passes on the variant before the break and fails after it,
// with a message that names the problem and ends with the fix; every rule has
// at least one case.
func TestCloudRulesFailOnBrokenStacks(t *testing.T) {
	byName := map[string]variant{}
	for _, v := range variants() {
		byName[v.name] = v
	}
	covered := map[string]bool{}
	for _, c := range append(cloudCases(), signalCases()...) {
		covered[c.rule] = true
		t.Run(c.rule+"/"+c.name, func(t *testing.T) {
			rule, ok := policy.Find(policy.CloudRules(), c.rule)
			if !ok {
				t.Fatalf("no cloud rule %s", c.rule)
			}
			s := policy.FromGraph(runVariant(t, byName[c.variant], false))
			if vs := rule.Evaluate(s); len(vs) != 0 {
				t.Fatalf("%s fails before the break:%s", c.rule, describe(vs))
			}
			c.break_(t, &s)
			vs := rule.Evaluate(s)
			if len(vs) == 0 {
				t.Fatalf("%s did not catch: %s", c.rule, c.name)
			}
			for _, v := range vs {
				if !strings.Contains(v.Message, c.want) && len(vs) == 1 {
					t.Errorf("message %q lacks %q", v.Message, c.want)
				}
				if !strings.HasSuffix(v.Message, ". Fix: "+rule.Fix) {
					t.Errorf("message does not end with the fix: %q", v.Message)
				}
			}
			found := false
			for _, v := range vs {
				found = found || strings.Contains(v.Message, c.want)
			}
			if !found {
				t.Errorf("no violation says %q:%s", c.want, describe(vs))
			}
		})
	}
	for _, r := range policy.CloudRules() {
		if !covered[r.ID] {
			t.Errorf("cloud rule %s has no failing case", r.ID)
		}
	}
}
