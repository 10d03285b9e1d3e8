package signals

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/internal/marked"
)

var update = flag.Bool("update", false, "rewrite docs/dashboard.svg and the dashboard and alert tables of docs/operations.md")

// The burn-rate thresholds follow the SRE workbook: for its 30-day window
// they are its 14.4 (2% of the budget in an hour) and 6 (5% in six hours);
// other windows spend the same shares in the same times.
func TestBurnWindowsFollowTheWorkbook(t *testing.T) {
	for _, c := range []struct {
		days       int
		fast, slow float64
	}{{30, 14.4, 6}, {28, 13.44, 5.6}, {7, 3.36, 1.4}} {
		ws := SLO{Percent: 99.5, WindowDays: c.days}.BurnWindows()
		if len(ws) != 2 || ws[0].Threshold != c.fast || ws[1].Threshold != c.slow {
			t.Errorf("%d-day window: burn rates %+v, want %v and %v", c.days, ws, c.fast, c.slow)
		}
		for _, w := range ws {
			if w.Short*12 != w.Long {
				t.Errorf("%s: short window %s is not a twelfth of %s", w.ID, w.Short, w.Long)
			}
			// At the threshold, the share BudgetSpent of the budget goes in Long.
			spent := w.Threshold * float64(w.Long) / float64(time.Duration(c.days)*24*time.Hour)
			if math.Abs(spent-w.BudgetSpent) > 1e-3 {
				t.Errorf("%s: %.4f of the budget burns in %s, want %.2f", w.ID, spent, w.Long, w.BudgetSpent)
			}
		}
	}
	s := SLO{Percent: 99.5, WindowDays: 28}
	if s.Goal() != 0.995 || math.Abs(s.Budget()-0.005) > 1e-12 {
		t.Errorf("goal %v budget %v", s.Goal(), s.Budget())
	}
	if got := BurnRateFilter("projects/p/services/s/serviceLevelObjectives/o", time.Hour); got != `select_slo_burn_rate("projects/p/services/s/serviceLevelObjectives/o", "3600s")` {
		t.Errorf("burn-rate filter %s", got)
	}
}

func defaultSettings() Settings {
	return Settings{BackupAlertAfter: 9 * time.Hour, DiskPercent: 85, SLO: SLO{Percent: 99.5, WindowDays: 28}}
}

// Every alert has a unique id, says when it fires and why there, and points
// at a section of docs/operations.md that exists.
func TestAlertsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range Alerts(defaultSettings()) {
		if seen[a.ID] || a.Title == "" || a.Fires == "" || a.Why == "" || a.Conditions < 1 {
			t.Errorf("alert %+v: duplicate or incomplete", a)
		}
		seen[a.ID] = true
		if !strings.Contains(string(doc), "\n## "+a.Section+"\n") {
			t.Errorf("alert %s: docs/operations.md has no section %q", a.ID, a.Section)
		}
		if !slices.Contains([]string{"CRITICAL", "ERROR", "WARNING"}, a.Severity) {
			t.Errorf("alert %s: severity %q", a.ID, a.Severity)
		}
	}
	if got := Conditions(Alerts(defaultSettings())); got != 13 {
		t.Errorf("%d conditions, want 13 (9 alerts of one, two burn-rate alerts of two)", got)
	}
	if *update {
		if err := marked.Replace("../docs/operations.md", "<!-- alerts:begin -->\n", "<!-- alerts:end -->", AlertTable(defaultSettings())); err != nil {
			t.Fatal(err)
		}
	}
	got, err := marked.Section("../docs/operations.md", "<!-- alerts:begin -->\n", "<!-- alerts:end -->")
	if err != nil {
		t.Fatal(err)
	}
	if got != AlertTable(defaultSettings()) {
		t.Errorf("docs/operations.md's alert table is not signals.Alerts; run go test ./signals -update")
	}
}

var filterClauseRE = regexp.MustCompile(`^(metric\.type|resource\.type|resource\.label\.[a-z_]+|metric\.label\.[a-z_]+)(=|!=)"[^"]*"$`)

// The dashboard fits Cloud Monitoring's grid (tiles inside the columns, none
// overlapping), every chart reads one metric on its resource type narrowed to
// this stack, and the JSON leaves zero values out, as the API returns it.
func TestDashboardLayout(t *testing.T) {
	in := ExampleInputs()
	d := BuildDashboard(in)
	if d.MosaicLayout.Columns < 1 || d.MosaicLayout.Columns > 12 {
		t.Fatalf("%d columns", d.MosaicLayout.Columns)
	}
	taken := map[[2]int]string{}
	for _, tile := range d.MosaicLayout.Tiles {
		if tile.XPos < 0 || tile.YPos < 0 || tile.Width < 1 || tile.Height < 1 || tile.XPos+tile.Width > d.MosaicLayout.Columns {
			t.Errorf("tile %q at %d,%d size %dx%d leaves the grid", tile.Widget.Title, tile.XPos, tile.YPos, tile.Width, tile.Height)
		}
		for x := tile.XPos; x < tile.XPos+tile.Width; x++ {
			for y := tile.YPos; y < tile.YPos+tile.Height; y++ {
				if other, ok := taken[[2]int{x, y}]; ok {
					t.Errorf("tiles %q and %q overlap at %d,%d", other, tile.Widget.Title, x, y)
				}
				taken[[2]int{x, y}] = tile.Widget.Title
			}
		}
	}
	var titles []string
	for _, tile := range d.MosaicLayout.Tiles {
		titles = append(titles, tile.Widget.Title)
	}
	for _, want := range []string{"Requests", "Latency", "instances", "5xx", "unreachable", "Uptime", "CPU", "memory", "disks", "Backups", "error budget"} {
		if !strings.Contains(strings.Join(titles, "|"), want) {
			t.Errorf("no tile about %s: %q", want, titles)
		}
	}
	for _, f := range d.Filters() {
		if strings.HasPrefix(f, "select_slo_") {
			if !strings.Contains(f, in.SLOName) {
				t.Errorf("SLO tile reads another SLO: %s", f)
			}
			continue
		}
		for _, clause := range strings.Split(f, " AND ") {
			if !filterClauseRE.MatchString(clause) {
				t.Errorf("filter %q: clause %q is not field=\"value\"", f, clause)
			}
		}
		if !strings.HasPrefix(f, `metric.type="`) || !strings.Contains(f, ` AND resource.type="`) {
			t.Errorf("filter %q does not name its metric and resource types", f)
		}
		if !strings.Contains(f, in.Service) && !strings.Contains(f, in.InstanceID) && !strings.Contains(f, in.UptimeCheckID) && !strings.Contains(f, in.BackupLog) {
			t.Errorf("filter %q reads more than this stack", f)
		}
	}
	js, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js, `"xPos":0`) || strings.Contains(js, `"yPos":0`) || strings.Contains(js, `:""`) {
		t.Errorf("the JSON carries zero values the API leaves out:\n%s", js)
	}
	var back Dashboard
	if err := json.Unmarshal([]byte(js), &back); err != nil || back.DisplayName != "Dify dify-prod" || len(back.MosaicLayout.Tiles) != len(d.MosaicLayout.Tiles) {
		t.Errorf("JSON does not read back: %v", err)
	}
	// Without monitoring there is no uptime check and no SLO: the same tiles,
	// in the same places, say so.
	in.UptimeCheckID, in.SLOName = "", ""
	bare := BuildDashboard(in)
	for i, tile := range bare.MosaicLayout.Tiles {
		if tile.XPos != d.MosaicLayout.Tiles[i].XPos || tile.YPos != d.MosaicLayout.Tiles[i].YPos {
			t.Errorf("tile %d moved without monitoring", i)
		}
	}
	if texts := strings.Count(mustJSON(t, bare), `"text":{`); texts != 2 {
		t.Errorf("%d text tiles without monitoring, want 2 (uptime, SLO)", texts)
	}
}

func mustJSON(t *testing.T, d Dashboard) string {
	t.Helper()
	s, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// docs/dashboard.svg and the dashboard table of docs/operations.md are the
// dashboard the program declares, drawn from the same values.
func TestDashboardPictureIsGenerated(t *testing.T) {
	d := BuildDashboard(ExampleInputs())
	if *update {
		if err := os.WriteFile("../docs/dashboard.svg", []byte(d.SVG()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := marked.Replace("../docs/operations.md", "<!-- dashboard:begin -->\n", "<!-- dashboard:end -->", d.Table()); err != nil {
			t.Fatal(err)
		}
	}
	svg, err := os.ReadFile("../docs/dashboard.svg")
	if err != nil || string(svg) != d.SVG() {
		t.Errorf("docs/dashboard.svg is not the dashboard's layout (%v); run go test ./signals -update", err)
	}
	table, err := marked.Section("../docs/operations.md", "<!-- dashboard:begin -->\n", "<!-- dashboard:end -->")
	if err != nil || table != d.Table() {
		t.Errorf("docs/operations.md's dashboard table is not the dashboard (%v); run go test ./signals -update", err)
	}
}
