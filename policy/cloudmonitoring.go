package policy

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	metricTypeRE   = regexp.MustCompile(`metric\.type\s*=\s*"([^"]+)"`)
	resourceTypeRE = regexp.MustCompile(`resource\.type\s*=\s*"([^"]+)"`)
	promUserRE     = regexp.MustCompile(`logging_googleapis_com:user_[A-Za-z0-9_]+`)
)

// logMetricPrefix starts the type of every metric Cloud Logging derives from
// log entries: user-defined ones (logging.googleapis.com/user/NAME) and the
// system ones such as logging.googleapis.com/log_entry_count.
const logMetricPrefix = "logging.googleapis.com/"

// userMetricPrefix starts a user-defined log-based metric's type.
const userMetricPrefix = logMetricPrefix + "user/"

// condition is one alert condition: its kind (conditionThreshold, ...) and
// its settings.
type condition struct {
	index int
	kind  string
	body  map[string]any
}

func conditions(r Resource) []condition {
	var out []condition
	for i, c := range asList(r.Props["conditions"]) {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		for _, kind := range []string{"conditionThreshold", "conditionAbsent", "conditionMatchedLog", "conditionMonitoringQueryLanguage", "conditionPrometheusQueryLanguage"} {
			if b, ok := m[kind].(map[string]any); ok {
				out = append(out, condition{i, kind, b})
			}
		}
	}
	return out
}

// filters returns the known metric filters of a filter-based condition.
func (c condition) filters() []string {
	if c.kind != "conditionThreshold" && c.kind != "conditionAbsent" {
		return nil
	}
	var out []string
	for _, k := range []string{"filter", "denominatorFilter"} {
		if f, ok := asString(c.body[k]); ok && f != "" {
			out = append(out, f)
		}
	}
	return out
}

func metricTypes(filter string) []string {
	var out []string
	for _, m := range metricTypeRE.FindAllStringSubmatch(filter, -1) {
		out = append(out, m[1])
	}
	return out
}

func checkLogMetricResourceType(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeAlertPolicy) {
		for _, c := range conditions(r) {
			for _, f := range c.filters() {
				for _, mt := range metricTypes(f) {
					if strings.HasPrefix(mt, logMetricPrefix) && !resourceTypeRE.MatchString(f) {
						out = append(out, finding{r.URN, fmt.Sprintf("alert policy %s, condition %d (%s): the filter on the log-based metric %s does not restrict resource.type, and the Monitoring API refuses it with 400", r.Name, c.index, c.kind, mt)})
					}
				}
			}
		}
	}
	return out
}

// promName is a Cloud Monitoring metric type as PromQL spells it: the first
// "/" becomes ":", every other character but letters, digits and "_"
// becomes "_".
func promName(metricType string) string {
	domain, path, _ := strings.Cut(metricType, "/")
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, s)
	}
	return clean(domain) + ":" + clean(path)
}

func checkAlertMetricRace(s Stack) []finding {
	created := map[string]string{} // metric type -> the logging.Metric's name
	for _, m := range s.ByType(typeLogMetric) {
		if name, ok := asString(m.Props["name"]); ok {
			created[userMetricPrefix+name] = m.Name
			created[promName(userMetricPrefix+name)] = m.Name
		}
	}
	var out []finding
	for _, r := range s.ByType(typeAlertPolicy) {
		report := func(c condition, metric string) {
			out = append(out, finding{r.URN, fmt.Sprintf("alert policy %s, condition %d (%s) needs the metric %s, which the logging.Metric %s of this stack creates: Cloud Monitoring answers 404 for up to 10 minutes after that, so the first deployment fails", r.Name, c.index, c.kind, metric, created[metric])})
		}
		for _, c := range conditions(r) {
			for _, f := range c.filters() {
				for _, mt := range metricTypes(f) {
					if created[mt] != "" {
						report(c, mt)
					}
				}
			}
			if q, ok := asString(c.body["query"]); ok {
				for _, name := range promUserRE.FindAllString(q, -1) {
					if created[name] != "" {
						report(c, name)
					}
				}
			}
		}
	}
	return dedupe(out)
}

func checkAbsenceOnLogMetric(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeAlertPolicy) {
		for _, c := range conditions(r) {
			if c.kind != "conditionAbsent" {
				continue
			}
			for _, f := range c.filters() {
				for _, mt := range metricTypes(f) {
					if strings.HasPrefix(mt, logMetricPrefix) {
						out = append(out, finding{r.URN, fmt.Sprintf("alert policy %s, condition %d is an absence condition on %s: a log-derived series exists only once an entry was logged, and an absence condition needs one data point after the policy is created or changed, so a stack that never logs one is never alerted", r.Name, c.index, mt)})
					}
				}
			}
		}
	}
	return out
}

// dedupe drops repeated findings, keeping the first.
func dedupe(fs []finding) []finding {
	seen := map[finding]bool{}
	var out []finding
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
