package config

import (
	"slices"
	"strings"
	"testing"
)

// withBase is base() with m applied.
func withBase(m map[string]string) map[string]string {
	out := base()
	for k, v := range m {
		out[k] = v
	}
	return out
}

// managed turns the valid production stack of base() to the managed tier,
// then applies m.
func managed(m map[string]string) map[string]string {
	out := map[string]string{"dify-gcp:dataTier": "managed", "dify-gcp:databaseHighAvailability": "true", "dify-gcp:redisTier": "STANDARD_HA"}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestDataTierRules(t *testing.T) {
	dev := func(m map[string]string) map[string]string {
		out := managed(map[string]string{"dify-gcp:production": "false", "dify-gcp:monitoring": "false",
			"dify-gcp:databaseHighAvailability": "false", "dify-gcp:redisTier": "BASIC"})
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name     string
		set      map[string]string
		wantKeys []string
		wantText string
	}{
		{name: "valid vm (the default)"},
		{name: "valid managed production", set: managed(nil)},
		{name: "valid managed outside production, zonal and basic", set: dev(nil)},
		{name: "valid shared-core outside production", set: dev(map[string]string{"dify-gcp:databaseTier": "db-g1-small"})},
		{name: "valid largest settings", set: managed(map[string]string{"dify-gcp:databaseTier": "db-custom-96-638976", "dify-gcp:databaseDiskGiB": "65536",
			"dify-gcp:databaseBackups": "365", "dify-gcp:databaseLogRetentionDays": "7", "dify-gcp:redisMemoryGb": "300", "dify-gcp:serviceRangeCidr": "172.16.0.0/16"})},

		{name: "tier unknown", set: map[string]string{"dify-gcp:dataTier": "cloud"}, wantKeys: []string{"dify-gcp:dataTier"}, wantText: "vm or managed"},
		{name: "high availability off in production", set: managed(map[string]string{"dify-gcp:databaseHighAvailability": "false"}),
			wantKeys: []string{"dify-gcp:databaseHighAvailability"}, wantText: "pulumi config set dify-gcp:databaseHighAvailability true"},
		{name: "basic redis in production", set: managed(map[string]string{"dify-gcp:redisTier": "BASIC"}),
			wantKeys: []string{"dify-gcp:redisTier"}, wantText: "pulumi config set dify-gcp:redisTier STANDARD_HA"},
		{name: "redis tier unknown", set: managed(map[string]string{"dify-gcp:redisTier": "standard"}), wantKeys: []string{"dify-gcp:redisTier"}, wantText: "BASIC or STANDARD_HA"},
		{name: "database tier of MySQL's kind", set: managed(map[string]string{"dify-gcp:databaseTier": "db-n1-standard-2"}),
			wantKeys: []string{"dify-gcp:databaseTier"}, wantText: "db-custom-VCPUS-MEMORY_MIB"},
		{name: "database tier with odd vCPUs", set: managed(map[string]string{"dify-gcp:databaseTier": "db-custom-3-11520"}),
			wantKeys: []string{"dify-gcp:databaseTier"}, wantText: "1 or an even number"},
		{name: "database tier with too much memory", set: managed(map[string]string{"dify-gcp:databaseTier": "db-custom-2-14336"}),
			wantKeys: []string{"dify-gcp:databaseTier"}, wantText: "0.9 to 6.5"},
		{name: "shared-core in production", set: managed(map[string]string{"dify-gcp:databaseTier": "db-f1-micro"}),
			wantKeys: []string{"dify-gcp:databaseTier"}, wantText: "no SLA"},
		{name: "disk too small", set: managed(map[string]string{"dify-gcp:databaseDiskGiB": "5"}), wantKeys: []string{"dify-gcp:databaseDiskGiB"}, wantText: "pulumi config set dify-gcp:databaseDiskGiB 10"},
		{name: "no backups", set: managed(map[string]string{"dify-gcp:databaseBackups": "0", "dify-gcp:databaseLogRetentionDays": "1"}), wantKeys: []string{"dify-gcp:databaseBackups"}},
		{name: "log retention over seven days", set: managed(map[string]string{"dify-gcp:databaseLogRetentionDays": "14", "dify-gcp:databaseBackups": "30"}),
			wantKeys: []string{"dify-gcp:databaseLogRetentionDays"}, wantText: "at most 7 days"},
		{name: "log retention past the oldest backup", set: managed(map[string]string{"dify-gcp:databaseBackups": "3"}),
			wantKeys: []string{"dify-gcp:databaseLogRetentionDays"}, wantText: "reaches back only as far as the oldest one"},
		{name: "redis too small", set: managed(map[string]string{"dify-gcp:redisMemoryGb": "0"}), wantKeys: []string{"dify-gcp:redisMemoryGb"}},
		{name: "redis too large", set: managed(map[string]string{"dify-gcp:redisMemoryGb": "301"}), wantKeys: []string{"dify-gcp:redisMemoryGb"}, wantText: "1-300"},
		{name: "service range overlaps the VM subnet", set: managed(map[string]string{"dify-gcp:serviceRangeCidr": "10.10.0.0/16"}),
			wantKeys: []string{"dify-gcp:serviceRangeCidr", "dify-gcp:serviceRangeCidr"}, wantText: "overlaps dify-gcp:vmSubnetCidr 10.10.0.0/24"},
		{name: "service range too small", set: managed(map[string]string{"dify-gcp:serviceRangeCidr": "10.20.0.0/28"}), wantKeys: []string{"dify-gcp:serviceRangeCidr"}, wantText: "/16 to /24"},
		{name: "service range public", set: managed(map[string]string{"dify-gcp:serviceRangeCidr": "8.8.0.0/20"}), wantKeys: []string{"dify-gcp:serviceRangeCidr"}},

		{name: "managed settings on the vm tier", set: map[string]string{"dify-gcp:databaseHighAvailability": "true", "dify-gcp:redisMemoryGb": "5"},
			wantKeys: []string{"dify-gcp:databaseHighAvailability", "dify-gcp:redisMemoryGb"}, wantText: "dify-gcp:dataTier is vm"},
		{name: "every data tier problem at once", set: managed(map[string]string{"dify-gcp:databaseTier": "db-custom-2", "dify-gcp:databaseHighAvailability": "false",
			"dify-gcp:redisTier": "BASIC", "dify-gcp:redisMemoryGb": "1000"}),
			wantKeys: []string{"dify-gcp:databaseTier", "dify-gcp:databaseHighAvailability", "dify-gcp:redisTier", "dify-gcp:redisMemoryGb"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			for k, v := range tc.set {
				m[k] = v
			}
			c, err := load(t, "prod", m)
			if len(tc.wantKeys) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid config accepted: %+v", c.Managed)
			}
			ps := err.(Problems)
			if got := ps.Keys(); !slices.Equal(got, tc.wantKeys) {
				t.Errorf("problem keys = %q, want %q\n%v", got, tc.wantKeys, err)
			}
			for _, p := range ps {
				if p.Reason == "" || p.Fix == "" || p.Value == "" {
					t.Errorf("problem without value, reason or fix: %+v", p)
				}
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error does not mention %q:\n%v", tc.wantText, err)
			}
		})
	}
}

func TestManagedDefaultsAndNames(t *testing.T) {
	c, err := load(t, "prod", withBase(managed(nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := ManagedSettings{DatabaseTier: "db-custom-2-7680", DatabaseDiskGiB: 20, DatabaseHighAvailability: true,
		DatabaseBackups: 7, DatabaseLogRetentionDays: 7, RedisTier: "STANDARD_HA", RedisMemoryGB: 1, ServiceRangeCIDR: "10.20.0.0/20"}
	if c.Managed != want || !c.IsManaged() {
		t.Errorf("managed settings %+v, want %+v", c.Managed, want)
	}
	for got, want := range map[string]string{
		c.FilesBucketName(): "acme-dify-prod-dify-prod-files", c.DatabaseInstanceName(): "dify-prod-db", c.RedisInstanceName(): "dify-prod-redis",
	} {
		if got != want {
			t.Errorf("name %q, want %q", got, want)
		}
	}
	vm, err := load(t, "prod", base())
	if err != nil || vm.IsManaged() || vm.DataTier != "vm" {
		t.Errorf("default tier %q (%v)", vm.DataTier, err)
	}
}

// A stack that last ran managed is refused vm, with the way out; every other
// change, including the first deployment and vm to managed, goes ahead.
func TestCheckTierChange(t *testing.T) {
	vm, _ := load(t, "prod", base())
	mg, _ := load(t, "prod", withBase(managed(nil)))
	for _, tc := range []struct {
		previous string
		cfg      *Config
		refused  bool
	}{
		{"", vm, false}, {"", mg, false}, {"vm", vm, false}, {"vm", mg, false}, {"managed", mg, false}, {"managed", vm, true},
	} {
		err := tc.cfg.CheckTierChange(tc.previous)
		if (err != nil) != tc.refused {
			t.Errorf("previous %q, now %q: error %v, want refused %v", tc.previous, tc.cfg.DataTier, err, tc.refused)
			continue
		}
		if err == nil {
			continue
		}
		for _, want := range []string{`dify-gcp:dataTier = "vm"`, "nothing was created", "Back to the vm tier", "pulumi config set dify-gcp:dataTier managed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal lacks %q:\n%v", want, err)
			}
		}
	}
}
