package plan

import (
	"testing"

	"github.com/dify-gcp/dify-gcp/config"
)

func TestScheduledHoursPerWeek(t *testing.T) {
	cases := []struct {
		start, stop string
		hours       float64
		ok          bool
	}{
		{"0 8 * * 1-5", "0 20 * * 1-5", 60, true},
		{"30 9 * * *", "30 17 * * *", 56, true},
		{"0 8 * * 1,3,5", "0 12 * * 1,3,5", 12, true},
		{"0 8 * * 1-5", "0 20 * * 1-4", 0, false}, // different days
		{"0 20 * * 1-5", "0 8 * * 1-5", 0, false}, // overnight: not the plain form
		{"*/5 * * * *", "0 8 * * *", 0, false},
		{"", "", 0, false},
	}
	for _, c := range cases {
		h, ok := ScheduledHoursPerWeek(c.start, c.stop)
		if h != c.hours || ok != c.ok {
			t.Errorf("%q..%q: %v %v, want %v %v", c.start, c.stop, h, ok, c.hours, c.ok)
		}
	}
}

func TestEstimate(t *testing.T) {
	base := config.Config{MachineType: "e2-standard-2", Provisioning: config.Standard, BootDiskGiB: 30, DataDiskGiB: 100,
		DataDiskType: "pd-balanced", SnapshotRetentionDays: 14, BackupIntervalHours: 6, BackupRetentionDays: 30}
	always := EstimateFor(&base)
	if always.Lines[0].USD != 62.78 { // 730 h x $0.086
		t.Errorf("VM line %+v, want 62.78", always.Lines[0])
	}
	sum := 0.0
	for _, l := range always.Lines {
		sum += l.USD
	}
	if d := sum - always.TotalUSD; d > 0.005 || d < -0.005 {
		t.Errorf("total %.2f is not the sum of its lines %.2f", always.TotalUSD, sum)
	}

	scheduled := base
	scheduled.VMStartCron, scheduled.VMStopCron = "0 8 * * 1-5", "0 20 * * 1-5"
	s := EstimateFor(&scheduled)
	// 60 of 168 hours a week: 260.7 h a month.
	if s.Lines[0].USD != 22.42 {
		t.Errorf("scheduled VM line %+v, want 22.42", s.Lines[0])
	}
	if s.TotalUSD >= always.TotalUSD {
		t.Errorf("a schedule saves nothing: %.2f vs %.2f", s.TotalUSD, always.TotalUSD)
	}

	spot := base
	spot.Provisioning = config.Spot
	if got := EstimateFor(&spot).Lines[0].USD; got != 37.96 {
		t.Errorf("spot VM %.2f, want 37.96", got)
	}
	min1 := base
	min1.ProxyMinInstances = 1
	if EstimateFor(&min1).TotalUSD <= always.TotalUSD {
		t.Error("a minimum instance costs nothing")
	}
}
