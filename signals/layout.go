package signals

import (
	"fmt"
	"html"
	"regexp"
	"strings"
)

// ExampleInputs are the inputs of the picture and table in docs/operations.md:
// a monitored stack (prod), so every tile shows what it draws. Without
// monitoring, the uptime and SLO tiles hold a line of text instead, in the
// same place.
func ExampleInputs() DashboardInputs {
	return DashboardInputs{Name: "dify-prod", Service: "dify-prod", InstanceName: "dify-prod", InstanceID: "INSTANCE_ID",
		UptimeCheckID: "UPTIME_CHECK_ID", SLOName: "projects/PROJECT/services/dify-prod/serviceLevelObjectives/availability",
		DiskPercent: 85, BackupLog: "dify-backup", BackupLogResourceType: "global", BackupSuccessSeverity: "NOTICE"}
}

// SVG draws the dashboard's layout: each tile where the console shows it,
// with its title. docs/dashboard.svg is this picture (a test keeps it so).
func (d Dashboard) SVG() string {
	const unit, row, pad = 80, 36, 6
	width, height := d.MosaicLayout.Columns*unit, 0
	for _, t := range d.MosaicLayout.Tiles {
		height = max(height, (t.YPos+t.Height)*row)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n",
		width, height+40, width, height+40)
	fmt.Fprintf(&b, `  <text x="%d" y="24" font-size="16" font-weight="bold">%s (%d columns)</text>`+"\n", pad, html.EscapeString(d.DisplayName), d.MosaicLayout.Columns)
	for _, t := range d.MosaicLayout.Tiles {
		x, y := t.XPos*unit+pad, t.YPos*row+40+pad
		w, h := t.Width*unit-2*pad, t.Height*row-2*pad
		fill := "#e8f0fe"
		switch {
		case t.Widget.Scorecard != nil:
			fill = "#e6f4ea"
		case t.Widget.Text != nil:
			fill = "#f1f3f4"
		}
		fmt.Fprintf(&b, `  <rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="#5f6368"/>`+"\n", x, y, w, h, fill)
		lines := wrap(t.Widget.Title, w/7)
		for i, l := range lines {
			fmt.Fprintf(&b, `  <text x="%d" y="%d">%s</text>`+"\n", x+8, y+20+16*i, html.EscapeString(l))
		}
		for i, r := range reads(t.Widget) {
			fmt.Fprintf(&b, `  <text x="%d" y="%d" fill="#1a73e8" font-size="11">%s</text>`+"\n", x+8, y+26+16*len(lines)+14*i, html.EscapeString(strings.Trim(r, "`")))
		}
		fmt.Fprintf(&b, `  <text x="%d" y="%d" fill="#5f6368" font-size="11">%s</text>`+"\n", x+8, y+h-10, html.EscapeString(kind(t.Widget)))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// Table lists the tiles, left to right and top to bottom, with what each
// reads: the Markdown table of docs/operations.md.
func (d Dashboard) Table() string {
	var b strings.Builder
	b.WriteString("| row | tile | reads |\n| --- | --- | --- |\n")
	for _, t := range d.MosaicLayout.Tiles {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", t.YPos/t.Height+1, t.Widget.Title, strings.Join(reads(t.Widget), "; "))
	}
	return b.String()
}

// Filters returns every time-series filter of the dashboard, for the cloud
// rules and the tests.
func (d Dashboard) Filters() []string {
	var out []string
	for _, t := range d.MosaicLayout.Tiles {
		if c := t.Widget.XyChart; c != nil {
			for _, s := range c.DataSets {
				out = append(out, s.TimeSeriesQuery.TimeSeriesFilter.Filter)
			}
		}
		if s := t.Widget.Scorecard; s != nil {
			out = append(out, s.TimeSeriesQuery.TimeSeriesFilter.Filter)
		}
	}
	return out
}

var metricTypeRE = regexp.MustCompile(`metric\.type="([^"]+)"|(select_slo_[a-z_]+)\(`)

func reads(w Widget) []string {
	var filters []string
	switch {
	case w.XyChart != nil:
		for _, s := range w.XyChart.DataSets {
			filters = append(filters, s.TimeSeriesQuery.TimeSeriesFilter.Filter)
		}
	case w.Scorecard != nil:
		filters = append(filters, w.Scorecard.TimeSeriesQuery.TimeSeriesFilter.Filter)
	default:
		return []string{"text"}
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range filters {
		for _, m := range metricTypeRE.FindAllStringSubmatch(f, -1) {
			name := "`" + m[1] + m[2] + "`"
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

func kind(w Widget) string {
	switch {
	case w.Scorecard != nil:
		return "scorecard"
	case w.Text != nil:
		return "text"
	}
	return "chart"
}

// wrap breaks s into lines of at most n characters, at spaces.
func wrap(s string, n int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(word) > n {
			lines = append(lines, cur)
			cur = word
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += word
	}
	return append(lines, cur)
}
