package stack_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/dify-gcp/dify-gcp/signals"
)

const (
	tAlertPolicy   = "gcp:monitoring/alertPolicy:AlertPolicy"
	tBucketConfig  = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
	tExclusion     = "gcp:logging/projectExclusion:ProjectExclusion"
	tCustomService = "gcp:monitoring/customService:CustomService"
	tSLO           = "gcp:monitoring/slo:Slo"
	tDashboard     = "gcp:monitoring/dashboard:Dashboard"
)

func thresholds(cfg *config.Config) signals.Settings {
	return signals.Settings{BackupAlertAfter: cfg.BackupAlertAfter(), DiskPercent: cfg.DiskAlertPercent,
		SLO: signals.SLO{Percent: cfg.SLOTargetPercent, WindowDays: cfg.SLOWindowDays}}
}

func num(t *testing.T, r *graph.Resource, path string) float64 {
	t.Helper()
	v, ok := r.Get(path)
	if !ok || !v.IsNumber() {
		t.Fatalf("%s: %s is not a number", r.Name, path)
	}
	return v.NumberValue()
}

// TestSignals: the shipped stacks and the variants that take the other paths
// (monitoring on a private stack, the edge off, the exclusion off) declare
// retention, alerts, SLO and dashboard exactly as config and the catalog say.
func TestSignals(t *testing.T) {
	for _, c := range []struct {
		name, stack string
		override    map[string]string
	}{
		{"dev", "dev", nil},
		{"prod", "prod", nil},
		{"private with monitoring", "dev", map[string]string{"dify-gcp:monitoring": "true", "dify-gcp:alertEmails": `["ops@example.com"]`, "dify-gcp:backupIntervalHours": "12",
			"dify-gcp:vmStartCron": "", "dify-gcp:vmStopCron": "", "dify-gcp:diskAlertPercent": "70", "dify-gcp:sloTargetPercent": "99.9", "dify-gcp:sloWindowDays": "30"}},
		{"no exclusion, longer retention", "prod", map[string]string{"dify-gcp:excludeHealthCheckLogs": "false", "dify-gcp:logRetentionDays": "400"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, cfg, err := run(t, c.stack, c.override, graph.Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkSignals(t, g, cfg)
		})
	}
}

func checkSignals(t *testing.T, g *graph.Graph, cfg *config.Config) {
	n := cfg.Name()
	vmID := g.Fake("<instanceId of " + n + ">")
	if vmID == "" {
		t.Fatal("the fake cloud gave the VM no instanceId")
	}

	t.Run("retention", func(t *testing.T) {
		b := must(t, g, tBucketConfig, n+"-logging-default-bucket")
		if b.String("bucketId") != "_Default" || b.String("location") != "global" || b.String("project") != cfg.Project {
			t.Errorf("the bucket config does not adopt the project's _Default bucket: %v", b.Inputs)
		}
		if got := num(t, b, "retentionDays"); int(got) != cfg.LogRetentionDays {
			t.Errorf("retention %v days, want %d", got, cfg.LogRetentionDays)
		}
		ex := g.Find(tExclusion, n+"-logging-health-checks")
		if want := cfg.ExcludeHealthCheckLogs && cfg.Monitoring; (ex != nil) != want {
			t.Fatalf("health-check exclusion declared: %v, want %v (monitoring %v, excludeHealthCheckLogs %v)", ex != nil, want, cfg.Monitoring, cfg.ExcludeHealthCheckLogs)
		}
		if ex != nil {
			backend := ""
			if cfg.Edge() {
				backend = n + "-edge-backend"
			}
			if got := ex.String("filter"); got != signals.HealthCheckExclusion(n, backend) {
				t.Errorf("exclusion filter %s, want signals.HealthCheckExclusion(%q, %q)", got, n, backend)
			}
		}
	})

	t.Run("alerts", func(t *testing.T) {
		policies := map[string]*graph.Resource{}
		for _, p := range g.ByType(tAlertPolicy) {
			id := p.Name[strings.LastIndex(p.Name, "-monitoring-")+len("-monitoring-"):]
			if i := strings.LastIndex(p.Name, "-slo-"); i >= 0 {
				id = p.Name[i+len("-slo-"):]
			}
			policies[id] = p
		}
		if !cfg.Monitoring {
			if len(policies) != 0 {
				t.Errorf("%d alert policies in a stack without monitoring", len(policies))
			}
			return
		}
		catalog := signals.Alerts(thresholds(cfg))
		if len(policies) != len(catalog) {
			t.Errorf("%d alert policies, the catalog has %d", len(policies), len(catalog))
		}
		for _, a := range catalog {
			p := policies[a.ID]
			if p == nil {
				t.Errorf("no policy for alert %s", a.ID)
				continue
			}
			conds, _ := p.Get("conditions")
			if p.String("displayName") != "Dify "+n+a.Title || p.String("severity") != a.Severity || len(conds.ArrayValue()) != a.Conditions {
				t.Errorf("policy %s: %q %s with %d conditions, want %q %s with %d", p.Name, p.String("displayName"), p.String("severity"),
					len(conds.ArrayValue()), "Dify "+n+a.Title, a.Severity, a.Conditions)
			}
			if !strings.Contains(p.String("documentation.content"), a.Section) {
				t.Errorf("policy %s does not point at docs/operations.md's %q", p.Name, a.Section)
			}
			if v, _ := p.Get("notificationChannels"); len(v.ArrayValue()) != len(cfg.AlertEmails) {
				t.Errorf("alert %s notifies %d channels, want %d", a.ID, len(v.ArrayValue()), len(cfg.AlertEmails))
			}
		}
		onVM := func(id string) string { return p(policies, id).String("conditions[0].conditionThreshold.filter") }
		for id, metric := range map[string]string{"disk": signals.AgentDiskPercent, "memory": signals.AgentMemoryPercent, "agent-silent": signals.AgentUptime} {
			if f := onVM(id); !strings.Contains(f, `metric.type="`+metric+`"`) || !strings.Contains(f, `resource.label.instance_id="`+vmID+`"`) {
				t.Errorf("alert %s does not watch %s on this VM (%s): %s", id, metric, vmID, f)
			}
		}
		if got := num(t, p(policies, "disk"), "conditions[0].conditionThreshold.thresholdValue"); int(got) != cfg.DiskAlertPercent {
			t.Errorf("disk alert at %v%%, want dify-gcp:diskAlertPercent %d", got, cfg.DiskAlertPercent)
		}
		if p(policies, "agent-silent").String("conditions[0].conditionThreshold.evaluationMissingData") != "EVALUATION_MISSING_DATA_ACTIVE" {
			t.Error("the agent alert stays silent on a VM whose agent never reported")
		}
		se := p(policies, "server-errors")
		if f := se.String("conditions[0].conditionThreshold.filter"); f != signals.BadFilter(n) ||
			se.String("conditions[0].conditionThreshold.denominatorFilter") != signals.TotalFilter(n) {
			t.Errorf("server-errors is not the share of this service's 5xx: %v", se.Inputs)
		}
		want := signals.Filter(signals.LogEntryCount, signals.RunRevision, signals.Service(n),
			signals.Eq("metric.label.log", signals.RunStdoutLog), signals.Eq("metric.label.severity", signals.ProxyOwnErrorSeverity))
		if got := onVM("unreachable"); got != want {
			t.Errorf("unreachable filter %s, want %s", got, want)
		}

		svc := must(t, g, tCustomService, n+"-slo-service")
		slo := must(t, g, tSLO, n+"-slo-availability")
		if svc.String("serviceId") != n || !strings.HasSuffix(svc.String("telemetry.resourceName"), "/services/"+n) {
			t.Errorf("SLO service %v", svc.Inputs)
		}
		obj := thresholds(cfg).SLO
		if num(t, slo, "goal") != obj.Goal() || int(num(t, slo, "rollingPeriodDays")) != cfg.SLOWindowDays ||
			slo.String("requestBasedSli.goodTotalRatio.badServiceFilter") != signals.BadFilter(n) ||
			slo.String("requestBasedSli.goodTotalRatio.totalServiceFilter") != signals.TotalFilter(n) {
			t.Errorf("SLO %v, want goal %v over %d days on %s", slo.Inputs, obj.Goal(), cfg.SLOWindowDays, n)
		}
		sloName := g.Fake("<name of " + n + "-slo-availability>")
		for _, w := range obj.BurnWindows() {
			a := p(policies, "burn-"+w.ID)
			if a.String("combiner") != "AND" {
				t.Errorf("burn-%s: combiner %s; both windows must burn", w.ID, a.String("combiner"))
			}
			for i, lookback := range []time.Duration{w.Long, w.Short} {
				path := "conditions[" + string(rune('0'+i)) + "].conditionThreshold."
				if a.String(path+"filter") != signals.BurnRateFilter(sloName, lookback) || num(t, a, path+"thresholdValue") != w.Threshold {
					t.Errorf("burn-%s condition %d: %s > %v, want %s > %v", w.ID, i, a.String(path+"filter"), num(t, a, path+"thresholdValue"),
						signals.BurnRateFilter(sloName, lookback), w.Threshold)
				}
				if _, has := a.Get(path + "aggregations"); has {
					t.Errorf("burn-%s: an SLO selector takes no aggregations", w.ID)
				}
			}
			if !slices.Contains(a.PropertyDeps["conditions"], slo.URN) {
				t.Errorf("burn-%s does not wait for the SLO it selects", w.ID)
			}
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		ds := g.ByType(tDashboard)
		if len(ds) != 1 {
			t.Fatalf("%d dashboards, want 1", len(ds))
		}
		in := signals.DashboardInputs{Name: n, Service: n, InstanceName: n, InstanceID: vmID, DiskPercent: cfg.DiskAlertPercent,
			BackupLog: hostscript.BackupLogName, BackupLogResourceType: hostscript.BackupLogResourceType, BackupSuccessSeverity: hostscript.BackupSuccessSeverity}
		if cfg.Monitoring {
			in.UptimeCheckID = g.Fake("<uptimeCheckId of " + n + "-monitoring-uptime>")
			in.SLOName = g.Fake("<name of " + n + "-slo-availability>")
		}
		var got signals.Dashboard
		if err := json.Unmarshal([]byte(ds[0].String("dashboardJson")), &got); err != nil {
			t.Fatal(err)
		}
		if want := signals.BuildDashboard(in); !reflect.DeepEqual(got, want) {
			t.Errorf("the dashboard is not signals.BuildDashboard of this stack's names:\n%s", ds[0].String("dashboardJson"))
		}
		url := g.Outputs[outputs.DashboardURL].Value.(string)
		id := g.Fake("<id of " + n + "-dashboard>")
		if id == "" || url != "https://console.cloud.google.com/monitoring/dashboards/builder/"+id+"?project="+cfg.Project {
			t.Errorf("dashboardUrl %q does not open dashboard %q of project %s", url, id, cfg.Project)
		}
	})
}

func p(policies map[string]*graph.Resource, id string) *graph.Resource {
	if r := policies[id]; r != nil {
		return r
	}
	return &graph.Resource{}
}
