package policy

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve in the policy pack without the OS's zoneinfo
)

var durationRE = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?s$`)

// durationField is one duration-valued property: where it is, and its range.
type durationField struct {
	path     []any // may hold "*" for every element of a list
	min, max time.Duration
	minutes  bool            // a whole number of minutes
	oneOf    []time.Duration // when set, the only values allowed
}

// durationFields lists the google.protobuf.Duration properties of the types
// the program declares, with the ranges their API documents.
func durationFields() map[string][]durationField {
	cond := func(kind, field string) []any { return []any{"conditions", "*", kind, field} }
	agg := func(kind string) []any { return []any{"conditions", "*", kind, "aggregations", "*", "alignmentPeriod"} }
	return map[string][]durationField{
		typeRunService: {{path: []any{"template", "timeout"}, min: time.Second, max: time.Hour}},
		typeUptimeCheck: {
			{path: []any{"period"}, oneOf: []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute}},
			{path: []any{"timeout"}, min: time.Second, max: time.Minute},
		},
		typeAlertPolicy: {
			{path: cond("conditionThreshold", "duration"), max: 24 * time.Hour, minutes: true},
			{path: cond("conditionAbsent", "duration"), min: 2 * time.Minute, max: 23*time.Hour + 30*time.Minute, minutes: true},
			{path: cond("conditionPrometheusQueryLanguage", "duration")},
			{path: cond("conditionMonitoringQueryLanguage", "duration")},
			{path: agg("conditionThreshold"), min: time.Minute},
			{path: agg("conditionAbsent"), min: time.Minute},
			{path: []any{"alertStrategy", "notificationRateLimit", "period"}},
			{path: []any{"alertStrategy", "autoClose"}},
		},
		typeRepository: {
			{path: []any{"cleanupPolicies", "*", "condition", "olderThan"}},
			{path: []any{"cleanupPolicies", "*", "condition", "newerThan"}},
		},
	}
}

// walk calls fn with every value at path under v ("*" visits each element).
func walk(v any, path []any, fn func(any)) {
	if len(path) == 0 {
		if v != nil {
			fn(v)
		}
		return
	}
	if path[0] == "*" {
		for _, e := range asList(v) {
			walk(e, path[1:], fn)
		}
		return
	}
	next, ok := lookup(v, path[0])
	if !ok {
		return
	}
	if isUnknown(next) {
		fn(next)
		return
	}
	walk(next, path[1:], fn)
}

func checkDurations(s Stack) []finding {
	var out []finding
	for typ, fields := range durationFields() {
		for _, r := range s.ByType(typ) {
			for _, f := range fields {
				walk(map[string]any(r.Props), f.path, func(v any) {
					str, ok := asString(v)
					if !ok {
						return // unknown: cannot tell
					}
					if why := f.problem(str); why != "" {
						out = append(out, finding{r.URN, fmt.Sprintf("%s %s: %s = %q %s", r.Type, r.Name, pathString(f.path), str, why)})
					}
				})
			}
		}
	}
	return out
}

func (f durationField) problem(s string) string {
	if !durationRE.MatchString(s) {
		return `is not a duration the API parses (seconds with an "s" suffix, such as "900s")`
	}
	d, _ := time.ParseDuration(s)
	switch {
	case len(f.oneOf) > 0 && !containsDuration(f.oneOf, d):
		return fmt.Sprintf("is not one of the values the API accepts (%s)", durationList(f.oneOf))
	case f.min > 0 && d < f.min:
		return fmt.Sprintf("is shorter than the API's minimum of %s", f.min)
	case f.max > 0 && d > f.max:
		return fmt.Sprintf("is longer than the API's maximum of %s", f.max)
	case f.minutes && d%time.Minute != 0:
		return "is not a whole number of minutes, which the API requires"
	}
	return ""
}

func containsDuration(ds []time.Duration, d time.Duration) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func durationList(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%ds", int(d.Seconds())))
	}
	return strings.Join(parts, ", ")
}

func pathString(path []any) string {
	var b strings.Builder
	for i, p := range path {
		switch p := p.(type) {
		case string:
			if p == "*" {
				b.WriteString("[*]")
				continue
			}
			if i > 0 {
				b.WriteString(".")
			}
			b.WriteString(p)
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		}
	}
	return b.String()
}

// cronFieldRanges are the five fields of a Unix cron expression.
var cronFieldRanges = [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}

// cronProblem says why expr is not a five-field cron expression, or "".
func cronProblem(expr string) string {
	fields := strings.Fields(expr)
	if len(fields) != 5 || strings.Join(fields, " ") != expr {
		return "is not five fields (minute hour day-of-month month day-of-week) separated by single spaces"
	}
	for i, f := range fields {
		for _, part := range strings.Split(f, ",") {
			if !cronPartOK(part, cronFieldRanges[i][0], cronFieldRanges[i][1]) {
				return fmt.Sprintf("has %q in field %d, outside %d-%d or not a number, range, step or *", part, i+1, cronFieldRanges[i][0], cronFieldRanges[i][1])
			}
		}
	}
	return ""
}

func cronPartOK(part string, lo, hi int) bool {
	base, step, hasStep := strings.Cut(part, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 {
			return false
		}
	}
	if base == "*" {
		return true
	}
	a, b, isRange := strings.Cut(base, "-")
	if !isRange {
		b = a
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return err1 == nil && err2 == nil && x >= lo && y <= hi && x <= y
}

func checkSchedules(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeResourcePolicy) {
		sched, ok := r.Get("instanceSchedulePolicy")
		if !ok || isUnknown(sched) {
			continue
		}
		for _, which := range []string{"vmStartSchedule", "vmStopSchedule"} {
			if v, ok := asString(must(lookup(sched, which, "schedule"))); ok {
				if why := cronProblem(v); why != "" {
					out = append(out, finding{r.URN, fmt.Sprintf("resource policy %s: %s %q %s", r.Name, which, v, why)})
				}
			}
		}
		tz, ok := asString(must(lookup(sched, "timeZone")))
		if !ok {
			continue
		}
		if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
			out = append(out, finding{r.URN, fmt.Sprintf("resource policy %s: timeZone %q is not an IANA time zone", r.Name, tz)})
		}
	}
	return out
}

// must drops lookup's ok: a missing value becomes nil, which is no string.
func must(v any, _ bool) any { return v }

func checkCIDRs(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSubnetwork) {
		v, ok := asString(r.Props["ipCidrRange"])
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(v)
		switch {
		case err != nil || !p.Addr().Is4():
			out = append(out, finding{r.URN, fmt.Sprintf("subnetwork %s: ipCidrRange %q is not an IPv4 range", r.Name, v)})
		case p.Masked() != p:
			out = append(out, finding{r.URN, fmt.Sprintf("subnetwork %s: ipCidrRange %q has host bits set (the API wants %s)", r.Name, v, p.Masked())})
		case p.Bits() < 8 || p.Bits() > 29:
			out = append(out, finding{r.URN, fmt.Sprintf("subnetwork %s: ipCidrRange %q is not a /8 to /29", r.Name, v)})
		}
	}
	for _, r := range s.ByType(typeFirewall) {
		for _, e := range asList(r.Props["sourceRanges"]) {
			v, ok := asString(e)
			if !ok {
				continue
			}
			if _, err := netip.ParsePrefix(v); err != nil {
				if _, err := netip.ParseAddr(v); err != nil {
					out = append(out, finding{r.URN, fmt.Sprintf("firewall %s: source range %q is neither a CIDR range nor an address", r.Name, v)})
				}
			}
		}
	}
	return out
}

var startTimeRE = regexp.MustCompile(`^([0-9]{2}):([0-9]{2})$`)

func checkSnapshotStart(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeResourcePolicy) {
		v, ok := asString(must(r.Get("snapshotSchedulePolicy", "schedule", "dailySchedule", "startTime")))
		if !ok {
			continue
		}
		m := startTimeRE.FindStringSubmatch(v)
		h, _ := strconv.Atoi(valueAt(m, 1))
		if m == nil || m[2] != "00" || h%4 != 0 || h > 20 {
			out = append(out, finding{r.URN, fmt.Sprintf("snapshot schedule %s starts daily at %q; the API accepts only 00:00, 04:00, 08:00, 12:00, 16:00 or 20:00 UTC", r.Name, v)})
		}
	}
	return out
}

func valueAt(m []string, i int) string {
	if i < len(m) {
		return m[i]
	}
	return ""
}
