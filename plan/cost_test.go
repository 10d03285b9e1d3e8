package plan

import (
	"strings"
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

func line(e Estimate, prefix string) *Line {
	for i := range e.Lines {
		if strings.HasPrefix(e.Lines[i].Item, prefix) {
			return &e.Lines[i]
		}
	}
	return nil
}

// What the signals cost: logs past the free allotment and past 30 days, the
// Ops Agent's chargeable metrics, and, with monitoring, every alert
// condition and the uptime checks.
func TestEstimateSignals(t *testing.T) {
	base := config.Config{MachineType: "e2-standard-2", Provisioning: config.Standard, BootDiskGiB: 30, DataDiskGiB: 100,
		DataDiskType: "pd-balanced", SnapshotRetentionDays: 14, BackupIntervalHours: 6, BackupRetentionDays: 30,
		LogRetentionDays: 30, DiskAlertPercent: 85, SLOTargetPercent: 99.5, SLOWindowDays: 28, ExcludeHealthCheckLogs: true}

	quiet := EstimateFor(&base)
	if l := line(quiet, "logs stored"); l == nil || l.USD != 0 {
		t.Errorf("logs within the free 50 GiB cost %+v", l)
	}
	if l := line(quiet, "logs kept past 30 days"); l != nil {
		t.Errorf("a 30-day retention costs nothing extra, got %+v", l)
	}
	if l := line(quiet, "Ops Agent metrics"); l == nil || l.USD != 0 || l.Quantity != "10.0 MiB, 30 series" {
		t.Errorf("the agent's metrics within the free allotment: %+v", l)
	}
	if line(quiet, "alert conditions") != nil || line(quiet, "uptime checks") != nil {
		t.Error("alerts priced without monitoring")
	}

	kept := base
	kept.LogRetentionDays = 90
	l := line(EstimateFor(&kept), "logs kept past 30 days")
	stored := line(EstimateFor(&kept), "logs stored")
	// 3 million requests x 4 entries x 1 KiB + 2 GiB = 13.44 GiB a month;
	// 60 more days keep two months of it: 26.9 GiB at $0.01.
	if stored == nil || stored.Quantity != "13.4 GiB a month (assumed)" || l == nil || l.USD != 0.27 {
		t.Errorf("90-day retention: stored %+v, kept %+v, want 13.4 GiB and 0.27", stored, l)
	}

	watched := base
	watched.Monitoring = true
	e := EstimateFor(&watched)
	a := line(e, "alert conditions")
	// 13 conditions x $1.50, and (13+2) series every 30 s for 730 h, 1.31
	// million, x $0.35/M: 19.50 + 0.46.
	if a == nil || a.Quantity != "13 conditions in 11 policies" || a.USD != 19.96 {
		t.Errorf("alert conditions %+v, want 13 in 11 policies for 19.96", a)
	}
	if u := line(e, "uptime checks"); u == nil || u.Quantity != "52560 executions" || u.USD != 0 {
		t.Errorf("uptime checks %+v", u)
	}
	noisy := watched
	noisy.ExcludeHealthCheckLogs = false
	if line(EstimateFor(&noisy), "logs stored").Quantity == line(e, "logs stored").Quantity {
		t.Error("keeping the probes' request logs stores nothing more")
	}
	sum := 0.0
	for _, l := range e.Lines {
		sum += l.USD
	}
	if d := sum - e.TotalUSD; d > 0.005 || d < -0.005 {
		t.Errorf("total %.2f is not the sum of its lines %.2f", e.TotalUSD, sum)
	}
}

// The managed tier adds Cloud SQL, Memorystore and the files bucket at their
// list prices; HA doubles the instance and its storage, so a reviewer sees
// what REGIONAL and STANDARD_HA cost.
func TestManagedEstimate(t *testing.T) {
	vm := config.Config{MachineType: "e2-standard-2", Provisioning: config.Standard, BootDiskGiB: 30, DataDiskGiB: 100,
		DataDiskType: "pd-balanced", SnapshotRetentionDays: 14, BackupIntervalHours: 6, BackupRetentionDays: 30, DataTier: "vm"}
	zonal := vm
	zonal.DataTier = "managed"
	zonal.Managed = config.ManagedSettings{DatabaseTier: "db-custom-2-7680", DatabaseDiskGiB: 20, DatabaseBackups: 7,
		DatabaseLogRetentionDays: 7, RedisTier: "BASIC", RedisMemoryGB: 1}
	ha := zonal
	ha.Managed.DatabaseHighAvailability, ha.Managed.RedisTier = true, "STANDARD_HA"

	line := func(e Estimate, prefix string) Line {
		for _, l := range e.Lines {
			if len(l.Item) >= len(prefix) && l.Item[:len(prefix)] == prefix {
				return l
			}
		}
		t.Fatalf("no line %q in %+v", prefix, e.Lines)
		return Line{}
	}
	ev, ez, eh := EstimateFor(&vm), EstimateFor(&zonal), EstimateFor(&ha)
	for _, l := range ev.Lines {
		if l.Item[:5] == "Cloud" && l.Item[:9] == "Cloud SQL" {
			t.Errorf("the vm tier prices %s", l.Item)
		}
	}
	// 730 h x (2 x 0.0535 + 7.5 x 0.0091) = 127.93 zonal; HA twice that.
	if got := line(ez, "Cloud SQL db-custom-2-7680").USD; got != 127.93 {
		t.Errorf("zonal instance %.2f, want 127.93", got)
	}
	if got := line(eh, "Cloud SQL db-custom-2-7680").USD; got != 255.87 {
		t.Errorf("REGIONAL instance %.2f, want 255.87", got)
	}
	if z, h := line(ez, "Cloud SQL storage").USD, line(eh, "Cloud SQL storage").USD; h != 2*z || z != 4.42 {
		t.Errorf("storage zonal %.2f, REGIONAL %.2f: want 4.42 and twice that", z, h)
	}
	// Memorystore: 730 h x 1 GB x 0.0637 (Basic), x 0.0832 (Standard).
	if b, s := line(ez, "Memorystore").USD, line(eh, "Memorystore").USD; b != 46.5 || s != 60.74 {
		t.Errorf("Memorystore basic %.2f, standard %.2f", b, s)
	}
	if ez.TotalUSD <= ev.TotalUSD || eh.TotalUSD <= ez.TotalUSD {
		t.Errorf("totals vm %.2f, zonal %.2f, HA %.2f do not rise", ev.TotalUSD, ez.TotalUSD, eh.TotalUSD)
	}
	for _, l := range eh.Lines {
		if l.Item[:5] == "Cloud" && l.Note == "" {
			t.Errorf("%s has no note (prices not in the reference notes must say so)", l.Item)
		}
	}
	shared := zonal
	shared.Managed.DatabaseTier = "db-g1-small"
	if got := line(EstimateFor(&shared), "Cloud SQL db-g1-small").USD; got != 33.21 { // 730 x 0.0455 = 33.215, rounded down in binary
		t.Errorf("shared-core %.2f, want 33.21", got)
	}
}
