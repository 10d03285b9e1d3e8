package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// Type tokens of the signals' resources.
const (
	tSLO          = "gcp:monitoring/slo:Slo"
	tDashboard    = "gcp:monitoring/dashboard:Dashboard"
	tBucketConfig = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
	tExclusion    = "gcp:logging/projectExclusion:ProjectExclusion"
)

// editDashboard changes the first dashboard's JSON with edit.
func editDashboard(t *testing.T, s *policy.Stack, edit func(d map[string]any)) {
	t.Helper()
	r := first(t, *s, tDashboard, nil)
	var d map[string]any
	if err := json.Unmarshal([]byte(r.Props["dashboardJson"].(string)), &d); err != nil {
		t.Fatal(err)
	}
	edit(d)
	b, _ := json.Marshal(d)
	r.Props["dashboardJson"] = string(b)
}

func tile(d map[string]any, i int) map[string]any {
	return d["mosaicLayout"].(map[string]any)["tiles"].([]any)[i].(map[string]any)
}

// signalCases break what the alerts, the SLO, the dashboard and the log
// bucket send, one way each, as Google's APIs would refuse or quietly not do.
func signalCases() []cloudCase {
	alert := func(suffix string) func(t *testing.T, s *policy.Stack) *policy.Resource {
		return func(t *testing.T, s *policy.Stack) *policy.Resource {
			return first(t, *s, tAlert, func(r policy.Resource) bool { return strings.HasSuffix(r.Name, suffix) })
		}
	}
	filter := func(t *testing.T, r *policy.Resource) string {
		f, _ := r.Get("conditions", 0, "conditionThreshold", "filter")
		return f.(string)
	}
	return []cloudCase{
		{"metric-filters", "prod", "the disk alert on Cloud Run's resource type", func(t *testing.T, s *policy.Stack) {
			a := alert("-monitoring-disk")(t, s)
			set(t, a, strings.Replace(filter(t, a), `resource.type="gce_instance"`, `resource.type="cloud_run_revision"`, 1), "conditions", 0, "conditionThreshold", "filter")
		}, `is written against gce_instance, not "cloud_run_revision"`},
		{"metric-filters", "prod", "a label the memory metric does not have", func(t *testing.T, s *policy.Stack) {
			a := alert("-monitoring-memory")(t, s)
			set(t, a, filter(t, a)+` AND metric.label.device="sda1"`, "conditions", 0, "conditionThreshold", "filter")
		}, `has no metric label "device"`},
		{"metric-filters", "prod", "the Ops Agent's filters by instance name, which its metrics lack", func(t *testing.T, s *policy.Stack) {
			a := alert("-monitoring-disk")(t, s)
			set(t, a, `metric.type="agent.googleapis.com/disk/percent_used" AND resource.type="gce_instance" AND resource.label.instance_name="dify-prod"`,
				"conditions", 0, "conditionThreshold", "filter")
		}, `the resource type gce_instance has no label "instance_name"`},
		{"metric-filters", "private-with-monitoring", "a metric nobody described", func(t *testing.T, s *policy.Stack) {
			a := alert("-monitoring-memory")(t, s)
			set(t, a, `metric.type="agent.googleapis.com/processes/rss_usage" AND resource.type="gce_instance"`, "conditions", 0, "conditionThreshold", "filter")
		}, "has no entry in policy.Metrics"},
		{"metric-filters", "prod", "a rate of a gauge", func(t *testing.T, s *policy.Stack) {
			set(t, alert("-monitoring-memory")(t, s), "ALIGN_RATE", "conditions", 0, "conditionThreshold", "aggregations", 0, "perSeriesAligner")
		}, "ALIGN_RATE cannot align agent.googleapis.com/memory/percent_used, a GAUGE DOUBLE metric"},
		{"metric-filters", "prod", "a denominator without its resource type", func(t *testing.T, s *policy.Stack) {
			set(t, alert("-monitoring-server-errors")(t, s), `metric.type="run.googleapis.com/request_count" AND resource.label.service_name="dify-prod"`,
				"conditions", 0, "conditionThreshold", "denominatorFilter")
		}, "does not restrict resource.type"},
		{"metric-filters", "prod", "an SLI counting a gauge", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSLO, nil), `metric.type="run.googleapis.com/container/instance_count" AND resource.type="cloud_run_revision"`,
				"requestBasedSli", "goodTotalRatio", "totalServiceFilter")
		}, "a request-based SLI counts a DELTA or CUMULATIVE metric"},
		{"metric-filters", "dev", "a dashboard chart on the wrong resource type", func(t *testing.T, s *policy.Stack) {
			editDashboard(t, s, func(d map[string]any) {
				q := tile(d, 0)["widget"].(map[string]any)["xyChart"].(map[string]any)["dataSets"].([]any)[0].(map[string]any)["timeSeriesQuery"].(map[string]any)["timeSeriesFilter"].(map[string]any)
				q["filter"] = strings.Replace(q["filter"].(string), "cloud_run_revision", "gce_instance", 1)
			})
		}, `is written against cloud_run_revision, not "gce_instance"`},

		{"alert-slo-selector", "prod", "aggregations on a burn-rate condition", func(t *testing.T, s *policy.Stack) {
			set(t, alert("-slo-burn-fast")(t, s), []any{map[string]any{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_MEAN"}},
				"conditions", 0, "conditionThreshold", "aggregations")
		}, "uses only its filter, but sets aggregations"},
		{"alert-slo-selector", "prod", "an SLO named by hand", func(t *testing.T, s *policy.Stack) {
			a := alert("-slo-burn-slow")(t, s)
			set(t, a, `select_slo_burn_rate("projects/acme-dify-prod/services/dify-prod/serviceLevelObjectives/other", "21600s")`, "conditions", 0, "conditionThreshold", "filter")
			set(t, a, `select_slo_burn_rate("projects/acme-dify-prod/services/dify-prod/serviceLevelObjectives/other", "1800s")`, "conditions", 1, "conditionThreshold", "filter")
			delete(a.PropertyDeps, "conditions")
			dropDependency(a, first(t, *s, tSLO, nil).URN)
		}, "does not wait for the SLO it selects"},
		{"alert-slo-selector", "prod", "another stack's SLO", func(t *testing.T, s *policy.Stack) {
			a := alert("-slo-burn-slow")(t, s)
			set(t, a, `select_slo_burn_rate("projects/123456789012/services/dify-dev/serviceLevelObjectives/availability", "21600s")`, "conditions", 0, "conditionThreshold", "filter")
		}, "is not one of this stack's"},
		{"alert-slo-selector", "private-with-monitoring", "a lookback in days", func(t *testing.T, s *policy.Stack) {
			a := alert("-slo-burn-fast")(t, s)
			set(t, a, strings.Replace(filter(t, a), `"3600s"`, `"1d"`, 1), "conditions", 0, "conditionThreshold", "filter")
		}, "with a lookback in ns, us, ms, s, m or h"},

		{"slo-objective", "prod", "a goal of four nines and a half", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSLO, nil), 0.9995, "goal")
		}, "goal 0.9995 is outside (0, 0.999]"},
		{"slo-objective", "prod", "a quarter as the window", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSLO, nil), float64(90), "rollingPeriodDays")
		}, "rollingPeriodDays 90 is not a whole number of days from 1 to 30"},
		{"slo-objective", "private-with-monitoring", "good, bad and total at once", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSLO, nil), `metric.type="run.googleapis.com/request_count" AND resource.type="cloud_run_revision"`, "requestBasedSli", "goodTotalRatio", "goodServiceFilter")
		}, "sets 3 of the good, bad and total filters"},

		{"dashboard-json", "dev", "a zero the API leaves out", func(t *testing.T, s *policy.Stack) {
			editDashboard(t, s, func(d map[string]any) { tile(d, 0)["xPos"] = 0 })
		}, "mosaicLayout.tiles[0].xPos"},
		{"dashboard-json", "prod", "a tile wider than the grid", func(t *testing.T, s *policy.Stack) {
			editDashboard(t, s, func(d map[string]any) { tile(d, 2)["width"] = 12 })
		}, "is not inside the 12 columns"},
		{"dashboard-json", "prod", "two tiles on one place", func(t *testing.T, s *policy.Stack) {
			editDashboard(t, s, func(d map[string]any) { tile(d, 1)["xPos"] = 2 })
		}, "tiles 0 and 1 overlap"},
		{"dashboard-json", "dev", "JSON cut short", func(t *testing.T, s *policy.Stack) {
			r := first(t, *s, tDashboard, nil)
			r.Props["dashboardJson"] = r.Props["dashboardJson"].(string)[:40]
		}, "dashboardJson is not JSON"},

		{"log-bucket-retention", "prod", "eleven years", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucketConfig, nil), float64(4015), "retentionDays")
		}, "retentionDays 4015 is outside 1-3650"},
		{"log-bucket-retention", "dev", "the _Required bucket", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucketConfig, nil), "_Required", "bucketId")
		}, "cannot be configured"},
		{"log-bucket-retention", "dev", "_Default in a region", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucketConfig, nil), "asia-northeast1", "location")
		}, `is in location global, not "asia-northeast1"`},
		{"name-log-exclusion", "prod", "a slash in the name", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tExclusion, nil), "dify/prod/health-checks", "name")
		}, "is not 1-100 letters"},
	}
}
