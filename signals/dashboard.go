package signals

import (
	"encoding/json"
	"fmt"
)

// The dashboard as Cloud Monitoring's dashboards API takes it
// (cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards): only
// the fields this dashboard uses. Zero values are left out, as the API leaves
// them out of what it returns, so the provider sees no difference between
// what was sent and what it reads back.
type (
	// Dashboard is one dashboard.
	Dashboard struct {
		DisplayName  string            `json:"displayName"`
		MosaicLayout MosaicLayout      `json:"mosaicLayout"`
		Labels       map[string]string `json:"labels,omitempty"`
	}
	// MosaicLayout places tiles on a grid of Columns.
	MosaicLayout struct {
		Columns int    `json:"columns"`
		Tiles   []Tile `json:"tiles"`
	}
	// Tile is one widget at a place on the grid, in grid blocks.
	Tile struct {
		XPos   int    `json:"xPos,omitempty"`
		YPos   int    `json:"yPos,omitempty"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		Widget Widget `json:"widget"`
	}
	// Widget is a chart, a scorecard or text.
	Widget struct {
		Title     string     `json:"title"`
		XyChart   *XyChart   `json:"xyChart,omitempty"`
		Scorecard *Scorecard `json:"scorecard,omitempty"`
		Text      *Text      `json:"text,omitempty"`
	}
	// XyChart draws time series.
	XyChart struct {
		DataSets   []DataSet   `json:"dataSets"`
		Thresholds []Threshold `json:"thresholds,omitempty"`
		YAxis      *Axis       `json:"yAxis,omitempty"`
	}
	// DataSet is one query of a chart.
	DataSet struct {
		TimeSeriesQuery TimeSeriesQuery `json:"timeSeriesQuery"`
		PlotType        string          `json:"plotType"`
		LegendTemplate  string          `json:"legendTemplate,omitempty"`
	}
	// TimeSeriesQuery selects time series by filter.
	TimeSeriesQuery struct {
		TimeSeriesFilter TimeSeriesFilter `json:"timeSeriesFilter"`
	}
	// TimeSeriesFilter is a filter and how to align and reduce what it selects.
	TimeSeriesFilter struct {
		Filter      string       `json:"filter"`
		Aggregation *Aggregation `json:"aggregation,omitempty"`
	}
	// Aggregation aligns each series and reduces across them.
	Aggregation struct {
		AlignmentPeriod    string   `json:"alignmentPeriod,omitempty"`
		PerSeriesAligner   string   `json:"perSeriesAligner,omitempty"`
		CrossSeriesReducer string   `json:"crossSeriesReducer,omitempty"`
		GroupByFields      []string `json:"groupByFields,omitempty"`
	}
	// Threshold is a line across a chart or a scorecard's warning mark.
	Threshold struct {
		Label     string  `json:"label,omitempty"`
		Value     float64 `json:"value"`
		Color     string  `json:"color,omitempty"`
		Direction string  `json:"direction,omitempty"`
	}
	// Axis labels a chart's vertical axis.
	Axis struct {
		Label string `json:"label,omitempty"`
		Scale string `json:"scale,omitempty"`
	}
	// Scorecard shows the latest value of one query.
	Scorecard struct {
		TimeSeriesQuery TimeSeriesQuery `json:"timeSeriesQuery"`
		Thresholds      []Threshold     `json:"thresholds,omitempty"`
		GaugeView       *GaugeView      `json:"gaugeView,omitempty"`
	}
	// GaugeView draws a scorecard as a gauge between bounds.
	GaugeView struct {
		LowerBound float64 `json:"lowerBound,omitempty"`
		UpperBound float64 `json:"upperBound"`
	}
	// Text is Markdown.
	Text struct {
		Content string `json:"content"`
		Format  string `json:"format"`
	}
)

// Columns is the width of the dashboard's grid. The dashboards API has taken
// 1-12 columns (google/monitoring/dashboard/v1/layouts.proto) and now takes up
// to 48 (the v1 discovery document); 12 is valid under both.
const Columns = 12

// DashboardInputs are the names and ids a stack's dashboard shows.
type DashboardInputs struct {
	Name         string // dify-prod
	Service      string // the Cloud Run service
	InstanceName string // the VM, for Compute Engine's own metrics
	InstanceID   string // the VM's numeric id, for the Ops Agent's
	// UptimeCheckID and SLOName exist with dify-gcp:monitoring only; empty,
	// their tiles say so instead.
	UptimeCheckID string
	SLOName       string
	DiskPercent   int
	// The backup log, as dify-backup writes it (package hostscript).
	BackupLog, BackupLogResourceType, BackupSuccessSeverity string
}

// BuildDashboard lays out the stack's dashboard: the front door (requests,
// latency, instances), its errors (5xx, the VM unreachable, the uptime
// check), the VM (CPU, memory, disks) and the data (backups, the SLO's error
// budget). Every chart is filtered to this stack's service and VM.
func BuildDashboard(in DashboardInputs) Dashboard {
	rate := func(groupBy ...string) *Aggregation {
		return &Aggregation{AlignmentPeriod: "60s", PerSeriesAligner: "ALIGN_RATE", CrossSeriesReducer: "REDUCE_SUM", GroupByFields: groupBy}
	}
	mean := func(groupBy ...string) *Aggregation {
		return &Aggregation{AlignmentPeriod: "60s", PerSeriesAligner: "ALIGN_MEAN", CrossSeriesReducer: "REDUCE_MEAN", GroupByFields: groupBy}
	}
	line := func(filter string, agg *Aggregation, legend string) DataSet {
		return DataSet{TimeSeriesQuery: TimeSeriesQuery{TimeSeriesFilter{Filter: filter, Aggregation: agg}}, PlotType: "LINE", LegendTemplate: legend}
	}
	chart := func(title, axis string, sets ...DataSet) Widget {
		return Widget{Title: title, XyChart: &XyChart{DataSets: sets, YAxis: &Axis{Label: axis, Scale: "LINEAR"}}}
	}
	limit := func(w Widget, label string, v float64) Widget {
		w.XyChart.Thresholds = []Threshold{{Label: label, Value: v, Color: "RED", Direction: "ABOVE"}}
		return w
	}
	text := func(title, content string) Widget {
		return Widget{Title: title, Text: &Text{Content: content, Format: "MARKDOWN"}}
	}
	run := func(clauses ...string) string {
		return Filter(RunRequestCount, RunRevision, append([]string{Service(in.Service)}, clauses...)...)
	}
	latency := func(p int) DataSet {
		return line(Filter(RunRequestLatencies, RunRevision, Service(in.Service)),
			&Aggregation{AlignmentPeriod: "60s", PerSeriesAligner: "ALIGN_DELTA", CrossSeriesReducer: fmt.Sprintf("REDUCE_PERCENTILE_%02d", p)}, fmt.Sprintf("p%d", p))
	}

	uptime := text("Uptime check", "No uptime check in this stack: set `dify-gcp:monitoring: true`.")
	if in.UptimeCheckID != "" {
		uptime = chart("Uptime check: share of checkers passing", "passing",
			line(Filter(UptimeCheckPassed, UptimeURL, Eq("metric.label.check_id", in.UptimeCheckID)),
				&Aggregation{AlignmentPeriod: "300s", PerSeriesAligner: "ALIGN_FRACTION_TRUE", CrossSeriesReducer: "REDUCE_MEAN"}, ""))
	}
	budget := text("SLO: error budget left", "No SLO in this stack: set `dify-gcp:monitoring: true`.")
	if in.SLOName != "" {
		budget = Widget{Title: "SLO: error budget left", Scorecard: &Scorecard{
			TimeSeriesQuery: TimeSeriesQuery{TimeSeriesFilter{Filter: BudgetFractionFilter(in.SLOName)}},
			GaugeView:       &GaugeView{LowerBound: 0, UpperBound: 1},
			Thresholds:      []Threshold{{Label: "a quarter left", Value: 0.25, Color: "YELLOW", Direction: "BELOW"}},
		}}
	}
	backups := Widget{Title: "Backups: succeeded (NOTICE) and failed (ERROR), per hour", XyChart: &XyChart{
		DataSets: []DataSet{{
			TimeSeriesQuery: TimeSeriesQuery{TimeSeriesFilter{
				Filter: Filter(LogEntryCount, in.BackupLogResourceType, Eq("metric.label.log", in.BackupLog)),
				Aggregation: &Aggregation{AlignmentPeriod: "3600s", PerSeriesAligner: "ALIGN_SUM", CrossSeriesReducer: "REDUCE_SUM",
					GroupByFields: []string{"metric.label.severity"}},
			}},
			PlotType: "STACKED_BAR",
		}},
		YAxis: &Axis{Label: "runs", Scale: "LINEAR"},
	}}

	rows := [][]Widget{
		{
			chart("Requests per second, by response class", "requests/s", line(run(), rate("metric.label.response_code_class"), "")),
			chart("Latency at the proxy (ms)", "ms", latency(50), latency(95), latency(99)),
			chart("Proxy instances", "instances", line(Filter(RunInstanceCount, RunRevision, Service(in.Service)), mean("metric.label.state"), "")),
		},
		{
			chart("5xx answers per second, by code", "requests/s", line(BadFilter(in.Service), rate("metric.label.response_code"), "")),
			chart("The proxy's own 502/504: the VM unreachable", "answers/min",
				line(Filter(LogEntryCount, RunRevision, Service(in.Service), Eq("metric.label.log", RunStdoutLog), Eq("metric.label.severity", ProxyOwnErrorSeverity)),
					&Aggregation{AlignmentPeriod: "60s", PerSeriesAligner: "ALIGN_SUM", CrossSeriesReducer: "REDUCE_SUM"}, "")),
			uptime,
		},
		{
			chart("VM CPU (Compute Engine)", "share of vCPUs", line(Filter(ComputeCPU, GCEInstance, InstanceName(in.InstanceName)), mean(), "")),
			limit(chart("VM memory in use (%)", "%", line(Filter(AgentMemoryPercent, GCEInstance, Instance(in.InstanceID), Eq("metric.label.state", "used")), mean(), "")),
				"memory alert", MemoryPercent),
			limit(chart("VM disks in use (%), by device", "%", line(Filter(AgentDiskPercent, GCEInstance, Instance(in.InstanceID), Eq("metric.label.state", "used")), mean("metric.label.device"), "")),
				"disk alert", float64(in.DiskPercent)),
		},
		{backups, budget},
	}
	var tiles []Tile
	const height = 4
	for y, row := range rows {
		width := Columns / len(row)
		for x, w := range row {
			tiles = append(tiles, Tile{XPos: x * width, YPos: y * height, Width: width, Height: height, Widget: w})
		}
	}
	return Dashboard{DisplayName: "Dify " + in.Name, MosaicLayout: MosaicLayout{Columns: Columns, Tiles: tiles}}
}

// JSON is the dashboard as monitoring.Dashboard's dashboardJson takes it.
func (d Dashboard) JSON() (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("signals: dashboard %s: %w", d.DisplayName, err)
	}
	return string(b), nil
}
