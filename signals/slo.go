package signals

import (
	"fmt"
	"math"
	"time"
)

// SLO is the availability objective of the front door: Percent of the
// requests Cloud Run answers are not 5xx, over a rolling window of
// WindowDays. A request the proxy or Dify answers 4xx counts as good: the
// service worked, the request was wrong.
type SLO struct {
	Percent    float64
	WindowDays int
}

// Goal is the objective as the API takes it, a fraction (0.995).
func (s SLO) Goal() float64 { return math.Round(s.Percent*1000) / 100000 }

// Budget is the share of requests that may fail (0.005).
func (s SLO) Budget() float64 { return 1 - s.Goal() }

// BadFilter and TotalFilter are the request-based SLI: the service's requests
// answered 5xx, of all its requests; the good ones are the rest (Cloud
// Monitoring takes two of good, bad and total and assumes good + bad = total,
// each a DELTA or CUMULATIVE metric: pulumi-gcp v7.38.0
// monitoring.SloRequestBasedSliGoodTotalRatioArgs). Naming the bad ones
// needs only equality, which every filter takes.
func BadFilter(service string) string {
	return Filter(RunRequestCount, RunRevision, Service(service), Eq("metric.label.response_code_class", "5xx"))
}

// TotalFilter counts every request the service answered.
func TotalFilter(service string) string {
	return Filter(RunRequestCount, RunRevision, Service(service))
}

// BurnWindow is one burn-rate alert of the SRE workbook's multiwindow,
// multi-burn-rate scheme (sre.google/workbook/alerting-on-slos, "Recommended
// parameters": page when 2% of the window's budget burns in 1 hour or 5% in 6
// hours, each confirmed over a short window of a twelfth of the long one, so
// the alert also stops soon after the burning does).
type BurnWindow struct {
	ID          string        // "fast" or "slow": the policy's name ends in burn-<ID>
	Long, Short time.Duration // both must burn faster than Threshold
	BudgetSpent float64       // the share of the window's budget that burns in Long at Threshold
	Threshold   float64       // the burn rate: error rate divided by the budget
	ExhaustsIn  time.Duration // at Threshold, the whole budget is gone in this long
	Severity    string
	Catches     string
}

// BurnWindows returns the fast and the slow burn-rate alerts of s. The
// workbook's 14.4 and 6 are for a 30-day window; the threshold that spends the
// same share of the budget in the same time follows from the window:
// BudgetSpent x window / Long (13.44 and 5.6 for 28 days).
func (s SLO) BurnWindows() []BurnWindow {
	window := time.Duration(s.WindowDays) * 24 * time.Hour
	mk := func(id string, long time.Duration, spent float64, severity, what string) BurnWindow {
		rate := math.Round(spent*float64(window)/float64(long)*100) / 100
		return BurnWindow{ID: id, Long: long, Short: long / 12, BudgetSpent: spent, Threshold: rate,
			ExhaustsIn: time.Duration(float64(window) / rate).Round(time.Minute), Severity: severity, Catches: what}
	}
	return []BurnWindow{
		mk("fast", time.Hour, 0.02, "CRITICAL", "an outage or a broken release: most requests failing"),
		mk("slow", 6*time.Hour, 0.05, "ERROR", "a partial failure: some requests failing for hours"),
	}
}

// BurnRateFilter is the time-series selector a burn-rate condition filters
// by: select_slo_burn_rate(SLO name, lookback). Such a condition takes no
// aggregations (cloud.google.com/stackdriver/docs/solutions/slo-monitoring/api/create-policy-api;
// api/timeseries-selectors for the selector and its lookback units).
func BurnRateFilter(sloName string, lookback time.Duration) string {
	return fmt.Sprintf("select_slo_burn_rate(%q, %q)", sloName, fmt.Sprintf("%ds", int(lookback.Seconds())))
}

// BudgetFractionFilter selects the share of the error budget left.
func BudgetFractionFilter(sloName string) string {
	return fmt.Sprintf("select_slo_budget_fraction(%q)", sloName)
}
