package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Type tokens of what a stack watches and shows.
const (
	typeBucketConfig  = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
	typeLogExclusion  = "gcp:logging/projectExclusion:ProjectExclusion"
	typeCustomService = "gcp:monitoring/customService:CustomService"
	typeSLO           = "gcp:monitoring/slo:Slo"
	typeDashboard     = "gcp:monitoring/dashboard:Dashboard"
)

// MetricInfo is what Cloud Monitoring knows about a metric type: the
// monitored resource types its series are written against, its kind and
// value type, and its metric labels.
type MetricInfo struct {
	Resources []string // nil: any resource type (it must still be named)
	Kind      string   // GAUGE, DELTA or CUMULATIVE
	Value     string   // BOOL, INT64, DOUBLE or DISTRIBUTION
	Labels    []string
}

// Metrics are the metric types a stack may filter on, from Google's lists:
// cloud.google.com/monitoring/api/metrics_gcp (run.googleapis.com,
// compute.googleapis.com, logging.googleapis.com,
// monitoring.googleapis.com) and, for agent.googleapis.com, the Ops Agent's
// own record of what it writes (GoogleCloudPlatform/ops-agent
// integration_test/ops_agent_test/agent_metrics/metadata.yaml, commit
// 588c4b9625), which cloud.google.com/monitoring/api/metrics_opsagent
// documents. A filter on a metric type missing here fails the cloud rule
// metric-filters: whoever charts or alerts on a new metric says what it is.
func Metrics() map[string]MetricInfo {
	run := []string{"cloud_run_revision"}
	vm := []string{"gce_instance"}
	return map[string]MetricInfo{
		"run.googleapis.com/request_count":                    {run, "DELTA", "INT64", []string{"response_code", "response_code_class", "route"}},
		"run.googleapis.com/request_latencies":                {run, "DELTA", "DISTRIBUTION", []string{"response_code", "response_code_class", "route"}},
		"run.googleapis.com/container/instance_count":         {run, "GAUGE", "INT64", []string{"state"}},
		"compute.googleapis.com/instance/cpu/utilization":     {vm, "GAUGE", "DOUBLE", []string{"instance_name"}},
		"compute.googleapis.com/instance/uptime":              {vm, "DELTA", "DOUBLE", []string{"instance_name"}},
		"agent.googleapis.com/memory/percent_used":            {vm, "GAUGE", "DOUBLE", []string{"state"}},
		"agent.googleapis.com/memory/bytes_used":              {vm, "GAUGE", "DOUBLE", []string{"state"}},
		"agent.googleapis.com/swap/percent_used":              {vm, "GAUGE", "DOUBLE", []string{"device", "state"}},
		"agent.googleapis.com/disk/percent_used":              {vm, "GAUGE", "DOUBLE", []string{"device", "state"}},
		"agent.googleapis.com/disk/bytes_used":                {vm, "GAUGE", "DOUBLE", []string{"device", "state"}},
		"agent.googleapis.com/agent/uptime":                   {vm, "CUMULATIVE", "INT64", []string{"version"}},
		"monitoring.googleapis.com/uptime_check/check_passed": {[]string{"uptime_url", "gce_instance", "gae_app", "aws_ec2_instance", "aws_elb_load_balancer", "servicedirectory_service", "cloud_run_revision"}, "GAUGE", "BOOL", []string{"check_id", "checker_location"}},
		"logging.googleapis.com/log_entry_count":              {nil, "DELTA", "INT64", []string{"log", "severity"}},
	}
}

// ResourceLabels are the labels of the monitored resource types filters
// narrow by (cloud.google.com/monitoring/api/resources).
func ResourceLabels() map[string][]string {
	return map[string][]string{
		"cloud_run_revision": {"project_id", "service_name", "revision_name", "location", "configuration_name"},
		"gce_instance":       {"project_id", "instance_id", "zone"},
		"uptime_url":         {"project_id", "host"},
		"global":             {"project_id"},
	}
}

// aligners says which metric kinds and value types each aligner the stack
// uses may align (cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#Aligner:
// ALIGN_DELTA "valid for CUMULATIVE and DELTA metrics"; ALIGN_RATE "for
// CUMULATIVE and DELTA metrics with numeric values"; ALIGN_MEAN and ALIGN_SUM
// "for GAUGE and DELTA metrics"; ALIGN_FRACTION_TRUE "for GAUGE metrics with
// Boolean values"; ALIGN_NEXT_OLDER for any).
func aligners() map[string]struct{ kinds, values []string } {
	numeric := []string{"INT64", "DOUBLE"}
	return map[string]struct{ kinds, values []string }{
		"ALIGN_DELTA":         {[]string{"CUMULATIVE", "DELTA"}, []string{"INT64", "DOUBLE", "DISTRIBUTION"}},
		"ALIGN_RATE":          {[]string{"CUMULATIVE", "DELTA"}, numeric},
		"ALIGN_MEAN":          {[]string{"GAUGE", "DELTA"}, []string{"INT64", "DOUBLE", "DISTRIBUTION", "BOOL"}},
		"ALIGN_SUM":           {[]string{"GAUGE", "DELTA"}, []string{"INT64", "DOUBLE", "DISTRIBUTION"}},
		"ALIGN_FRACTION_TRUE": {[]string{"GAUGE"}, []string{"BOOL"}},
		"ALIGN_NEXT_OLDER":    {[]string{"GAUGE", "DELTA", "CUMULATIVE"}, []string{"BOOL", "INT64", "DOUBLE", "DISTRIBUTION"}},
	}
}

// timeSeriesFilter is one filter a resource sends, with the aligners applied
// to what it selects and where it sits.
type timeSeriesFilter struct {
	where, filter string
	aligners      []string
}

// timeSeriesFilters returns every time-series filter of the stack's alert
// policies, SLOs and dashboards, with the resource it belongs to.
func timeSeriesFilters(s Stack) map[string][]timeSeriesFilter {
	out := map[string][]timeSeriesFilter{}
	add := func(r Resource, where string, f any, aligns []string) {
		if str, ok := asString(f); ok && str != "" {
			out[r.URN] = append(out[r.URN], timeSeriesFilter{where, str, aligns})
		}
	}
	alignersOf := func(v any) []string {
		var as []string
		for _, a := range asList(v) {
			if s, ok := asString(must(lookup(a, "perSeriesAligner"))); ok {
				as = append(as, s)
			}
		}
		return as
	}
	for _, r := range s.ByType(typeAlertPolicy) {
		for _, c := range conditions(r) {
			if c.kind != "conditionThreshold" && c.kind != "conditionAbsent" {
				continue // a log filter or a query, not a time-series filter
			}
			where := fmt.Sprintf("condition %d (%s)", c.index, c.kind)
			add(r, where, c.body["filter"], alignersOf(c.body["aggregations"]))
			add(r, where+" denominator", c.body["denominatorFilter"], alignersOf(c.body["denominatorAggregations"]))
		}
	}
	for _, r := range s.ByType(typeSLO) {
		for _, k := range []string{"goodServiceFilter", "badServiceFilter", "totalServiceFilter"} {
			add(r, k, must(r.Get("requestBasedSli", "goodTotalRatio", k)), nil)
		}
	}
	for _, r := range s.ByType(typeDashboard) {
		d, err := dashboardJSON(r)
		if err != nil {
			continue // dashboard-json reports it
		}
		for i, t := range asList(must(lookup(d, "mosaicLayout", "tiles"))) {
			title, _ := asString(must(lookup(t, "widget", "title")))
			var queries []any
			for _, ds := range asList(must(lookup(t, "widget", "xyChart", "dataSets"))) {
				queries = append(queries, must(lookup(ds, "timeSeriesQuery", "timeSeriesFilter")))
			}
			queries = append(queries, must(lookup(t, "widget", "scorecard", "timeSeriesQuery", "timeSeriesFilter")))
			for _, q := range queries {
				var aligns []string
				if a, ok := asString(must(lookup(q, "aggregation", "perSeriesAligner"))); ok {
					aligns = append(aligns, a)
				}
				add(r, fmt.Sprintf("tile %d %q", i, title), must(lookup(q, "filter")), aligns)
			}
		}
	}
	return out
}

var (
	filterResourceRE = regexp.MustCompile(`resource\.type\s*=\s*"([^"]+)"`)
	metricLabelRE    = regexp.MustCompile(`metric\.labels?\.("?)([A-Za-z0-9_]+)`)
	resourceLabelRE  = regexp.MustCompile(`resource\.labels?\.("?)([A-Za-z0-9_]+)`)
	sloSelectorRE    = regexp.MustCompile(`^\s*select_slo_[a-z_]+\(`)
)

func checkMetricFilters(s Stack) []finding {
	metrics, resources := Metrics(), ResourceLabels()
	var out []finding
	urns := make([]string, 0)
	all := timeSeriesFilters(s)
	for u := range all {
		urns = append(urns, u)
	}
	sort.Strings(urns)
	for _, urn := range urns {
		r, _ := s.ByURN(urn)
		for _, f := range all[urn] {
			if sloSelectorRE.MatchString(f.filter) {
				continue // an SLO selector, judged by alert-slo-selector
			}
			report := func(format string, a ...any) {
				out = append(out, finding{urn, fmt.Sprintf("%s %s, %s: ", r.Type, r.Name, f.where) + fmt.Sprintf(format, a...)})
			}
			types := metricTypes(f.filter)
			if len(types) != 1 {
				report("the filter %q names %d metric types; a time-series filter selects exactly one", f.filter, len(types))
				continue
			}
			m, known := metrics[types[0]]
			if !known {
				report("the metric %s has no entry in policy.Metrics: nobody has said which resource type, kind and labels it has", types[0])
				continue
			}
			res := filterResourceRE.FindStringSubmatch(f.filter)
			switch {
			case res == nil:
				report("the filter on %s does not restrict resource.type; name its monitored resource (%s)", types[0], strings.Join(m.Resources, " or "))
				continue
			case m.Resources != nil && !slices.Contains(m.Resources, res[1]):
				report("%s is written against %s, not %q: the filter selects nothing", types[0], strings.Join(m.Resources, " or "), res[1])
			}
			for _, l := range metricLabelRE.FindAllStringSubmatch(f.filter, -1) {
				if !slices.Contains(m.Labels, l[2]) {
					report("%s has no metric label %q (it has %s): the filter selects nothing", types[0], l[2], strings.Join(m.Labels, ", "))
				}
			}
			if known, ok := resources[res[1]]; ok {
				for _, l := range resourceLabelRE.FindAllStringSubmatch(f.filter, -1) {
					if !slices.Contains(known, l[2]) {
						report("the resource type %s has no label %q (it has %s)", res[1], l[2], strings.Join(known, ", "))
					}
				}
			}
			for _, a := range f.aligners {
				rule, ok := aligners()[a]
				if !ok {
					continue
				}
				if !slices.Contains(rule.kinds, m.Kind) || !slices.Contains(rule.values, m.Value) {
					report("%s cannot align %s, a %s %s metric (it takes %s metrics of %s values)", a, types[0], m.Kind, m.Value,
						strings.Join(rule.kinds, " or "), strings.Join(rule.values, ", "))
				}
			}
			if r.Type == typeSLO && m.Kind == "GAUGE" {
				report("a request-based SLI counts a DELTA or CUMULATIVE metric; %s is a GAUGE", types[0])
			}
		}
	}
	return out
}

var (
	burnRateRE  = regexp.MustCompile(`^select_slo_burn_rate\("([^"]+)",\s*"([0-9]+(?:ns|us|ms|s|m|h))"\)$`)
	sloNameRE   = regexp.MustCompile(`^projects/[^/]+/services/[^/]+/serviceLevelObjectives/[^/]+$`)
	selectorArg = regexp.MustCompile(`^select_slo_[a-z_]+\("([^"]+)"`)
)

// checkSLOSelectors: a condition that filters by an SLO selector takes only
// the filter (no aggregations, no denominator), names an SLO by its full
// resource name, with a lookback the API parses, and waits for the SLO of
// the stack it names: an alert on an SLO that does not exist yet is refused.
func checkSLOSelectors(s Stack) []finding {
	// An SLO's resource name ends in services/SERVICE/serviceLevelObjectives/ID,
	// from its inputs; the project part is the API's (id or number).
	var slos, sloURNs []string
	for _, r := range s.ByType(typeSLO) {
		sloURNs = append(sloURNs, r.URN)
		svc, ok1 := asString(r.Props["service"])
		id, ok2 := asString(r.Props["sloId"])
		if ok1 && ok2 {
			slos = append(slos, "/services/"+svc+"/serviceLevelObjectives/"+id)
		}
	}
	var out []finding
	for _, r := range s.ByType(typeAlertPolicy) {
		for _, c := range conditions(r) {
			f, ok := asString(c.body["filter"])
			if !ok || !sloSelectorRE.MatchString(f) {
				continue
			}
			report := func(format string, a ...any) {
				out = append(out, finding{r.URN, fmt.Sprintf("alert policy %s, condition %d: ", r.Name, c.index) + fmt.Sprintf(format, a...)})
			}
			if c.kind != "conditionThreshold" {
				report("an SLO selector belongs in a conditionThreshold, not %s", c.kind)
			}
			for _, k := range []string{"aggregations", "denominatorAggregations"} {
				if len(asList(c.body[k])) > 0 {
					report("an SLO selector's condition uses only its filter, but sets %s", k)
				}
			}
			if d, _ := asString(c.body["denominatorFilter"]); d != "" {
				report("an SLO selector's condition uses only its filter, but sets denominatorFilter")
			}
			if strings.HasPrefix(f, "select_slo_burn_rate(") && !burnRateRE.MatchString(f) {
				report("%q is not select_slo_burn_rate(\"projects/P/services/S/serviceLevelObjectives/O\", \"LOOKBACK\") with a lookback in ns, us, ms, s, m or h", f)
			}
			m := selectorArg.FindStringSubmatch(f)
			if m == nil || !sloNameRE.MatchString(m[1]) {
				report("%q does not name an SLO by its resource name (projects/P/services/S/serviceLevelObjectives/O)", f)
				continue
			}
			declared := false
			for _, suffix := range slos {
				declared = declared || strings.HasSuffix(m[1], suffix)
			}
			if !declared && len(slos) > 0 {
				report("the SLO %s is not one of this stack's", m[1])
			}
			waits := false
			for _, u := range sloURNs {
				waits = waits || r.waitsFor(u)
			}
			if !waits {
				report("the alert does not wait for the SLO it selects, which the API must know before it takes the policy; take the name from the monitoring.Slo's output")
			}
		}
	}
	return out
}

func checkSLOObjectives(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSLO) {
		report := func(format string, a ...any) {
			out = append(out, finding{r.URN, fmt.Sprintf("SLO %s: ", r.Name) + fmt.Sprintf(format, a...)})
		}
		if g, ok := r.Props["goal"].(float64); ok && (g <= 0 || g > 0.999) {
			report("goal %v is outside (0, 0.999]", g)
		}
		if d, ok := r.Props["rollingPeriodDays"].(float64); ok && (d < 1 || d > 30 || d != float64(int(d))) {
			report("rollingPeriodDays %v is not a whole number of days from 1 to 30", d)
		}
		if ratio, ok := r.Get("requestBasedSli", "goodTotalRatio"); ok && !isUnknown(ratio) {
			n := 0
			for _, k := range []string{"goodServiceFilter", "badServiceFilter", "totalServiceFilter"} {
				if v, ok := asString(must(lookup(ratio, k))); ok && v != "" {
					n++
				}
			}
			if n != 2 {
				report("goodTotalRatio sets %d of the good, bad and total filters; the API takes exactly two", n)
			}
		}
	}
	return out
}

// dashboardJSON parses a dashboard's dashboardJson.
func dashboardJSON(r Resource) (map[string]any, error) {
	s, ok := asString(r.Props["dashboardJson"])
	if !ok {
		return nil, errUnknown
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, err
	}
	return d, nil
}

var errUnknown = fmt.Errorf("unknown")

func checkDashboards(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeDashboard) {
		report := func(format string, a ...any) {
			out = append(out, finding{r.URN, fmt.Sprintf("dashboard %s: ", r.Name) + fmt.Sprintf(format, a...)})
		}
		d, err := dashboardJSON(r)
		if err == errUnknown {
			continue
		}
		if err != nil {
			report("dashboardJson is not JSON: %v", err)
			continue
		}
		if zeros := zeroValues(d, ""); len(zeros) > 0 {
			report("dashboardJson sets %s to zero or empty values, which the API leaves out of what it returns: the provider sees a change on every preview", strings.Join(zeros, ", "))
		}
		layout, ok := d["mosaicLayout"].(map[string]any)
		if !ok {
			report("has no mosaicLayout")
			continue
		}
		cols, _ := layout["columns"].(float64)
		if cols < 1 || cols > 12 {
			report("mosaicLayout.columns %v is outside 1-12", cols)
		}
		taken := map[[2]int]int{}
		for i, t := range asList(layout["tiles"]) {
			num := func(k string) int { v, _ := must(lookup(t, k)).(float64); return int(v) }
			x, y, w, h := num("xPos"), num("yPos"), num("width"), num("height")
			if w < 1 || h < 1 || x < 0 || y < 0 || x+w > int(cols) {
				report("tile %d (%d,%d %dx%d) is not inside the %v columns", i, x, y, w, h, cols)
				continue
			}
			for a := x; a < x+w; a++ {
				for b := y; b < y+h; b++ {
					if j, clash := taken[[2]int{a, b}]; clash {
						report("tiles %d and %d overlap", j, i)
						a, b = x+w, y+h
						break
					}
					taken[[2]int{a, b}] = i
				}
			}
		}
	}
	return out
}

// zeroValues lists the paths holding 0, "" or false under v.
func zeroValues(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, zeroValues(x[k], strings.TrimPrefix(path+"."+k, "."))...)
		}
	case []any:
		for i, e := range x {
			out = append(out, zeroValues(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case float64:
		if x == 0 {
			out = append(out, path)
		}
	case string:
		if x == "" {
			out = append(out, path)
		}
	case bool:
		if !x {
			out = append(out, path)
		}
	}
	return out
}

func checkLogBuckets(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeBucketConfig) {
		id, _ := asString(r.Props["bucketId"])
		loc, _ := asString(r.Props["location"])
		switch {
		case id == "_Required":
			out = append(out, finding{r.URN, fmt.Sprintf("bucket config %s: the _Required bucket keeps 400 days and cannot be configured", r.Name)})
		case id == "_Default" && loc != "" && loc != "global":
			out = append(out, finding{r.URN, fmt.Sprintf("bucket config %s: the _Default bucket is in location global, not %q", r.Name, loc)})
		}
		if d, ok := r.Props["retentionDays"].(float64); ok && (d < 1 || d > 3650) {
			out = append(out, finding{r.URN, fmt.Sprintf("bucket config %s: retentionDays %v is outside 1-3650", r.Name, d)})
		}
	}
	return out
}

var exclusionNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

func logExclusionNameProblem(n string) string {
	if !exclusionNameRE.MatchString(n) {
		return fmt.Sprintf("is not 1-100 letters, digits, '_', '-' and '.' starting with a letter or digit (has %d)", len(n))
	}
	return ""
}
