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
