package stack_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/components"
	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/dify-gcp/dify-gcp/plan"
	"github.com/dify-gcp/dify-gcp/topology"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Type tokens of the managed data tier.
const (
	tPSA         = "dify-gcp:components:PrivateServiceAccess"
	tDatabase    = "dify-gcp:components:Database"
	tCache       = "dify-gcp:components:Cache"
	tFiles       = "dify-gcp:components:Files"
	tGlobalAddr  = "gcp:compute/globalAddress:GlobalAddress"
	tConnection  = "gcp:servicenetworking/connection:Connection"
	tSQL         = "gcp:sql/databaseInstance:DatabaseInstance"
	tSQLDatabase = "gcp:sql/database:Database"
	tSQLUser     = "gcp:sql/user:User"
	tRedis       = "gcp:redis/instance:Instance"
	tCustomRole  = "gcp:projects/iAMCustomRole:IAMCustomRole"
	tKey         = "gcp:serviceaccount/key:Key"
)

// managedTypes are every type only the managed tier declares.
func managedTypes() []string {
	return []string{tPSA, tDatabase, tCache, tFiles, tConnection, tSQL, tSQLDatabase, tSQLUser, tRedis, tCustomRole}
}

// prodManaged is the committed variant's change to prod.
func prodManaged(t *testing.T) map[string]string {
	v, ok := plan.FindVariant("prod-managed")
	if !ok {
		t.Fatal("no prod-managed variant")
	}
	return maps.Clone(v.Set)
}

// Both tiers, as deployed and as previewed: every check of the vm tier still
// holds on the managed one, and the managed tier's resources are what the
// config says.
func TestManagedStacks(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		set         map[string]string
	}{
		{"prod-managed", "prod", prodManaged(t)},
		// Outside production: zonal, BASIC, deletion protection off.
		{"dev-managed", "dev", map[string]string{"dify-gcp:dataTier": "managed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, cfg, err := run(t, tc.stack, tc.set, graph.Options{})
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
			checkGraph(t, g, cfg)
			checkManaged(t, g, cfg)
			if _, _, err := run(t, tc.stack, tc.set, graph.Options{Preview: true}); err != nil {
				t.Errorf("preview failed: %v", err)
			}
		})
	}
}

// The vm tier declares nothing of the managed one.
func checkVMTier(t *testing.T, g *graph.Graph, cfg *config.Config) {
	for _, typ := range managedTypes() {
		if rs := g.ByType(typ); len(rs) != 0 {
			t.Errorf("the vm tier declares %d %s", len(rs), typ)
		}
	}
	for _, name := range []string{outputs.DatabaseInstance, outputs.FilesBucket} {
		if v := g.Outputs[name].Value; v != "" {
			t.Errorf("output %s = %v on the vm tier, want empty", name, v)
		}
	}
	if v := g.Outputs[outputs.DataTier].Value; v != datatier.VM {
		t.Errorf("output dataTier = %v", v)
	}
	script := must(t, g, tInstance, cfg.Name()).String(`metadata["startup-script"]`)
	if !strings.Contains(script, "readonly DATA_TIER='vm'\n") || !strings.Contains(script, "readonly DB_HOST=''\n") {
		t.Error("the vm tier's script does not run the vm tier")
	}
}

func checkManaged(t *testing.T, g *graph.Graph, cfg *config.Config) {
	n, m := cfg.Name(), cfg.Managed
	for _, typ := range []string{tPSA, tDatabase, tCache, tFiles} {
		if len(g.ByType(typ)) != 1 {
			t.Errorf("%s registered %d times, want once", typ, len(g.ByType(typ)))
		}
	}
	vpc := must(t, g, tVPC, n+"-vpc")
	vpcID := "projects/" + cfg.Project + "/global/networks/" + n + "-vpc"

	rng := must(t, g, tGlobalAddr, n+"-psa")
	conn := must(t, g, tConnection, n+"-psa")
	t.Run("private services access", func(t *testing.T) {
		addr, bits, _ := strings.Cut(m.ServiceRangeCIDR, "/")
		if rng.String("purpose") != "VPC_PEERING" || rng.String("addressType") != "INTERNAL" || rng.String("address") != addr ||
			fmt.Sprint(plain(rng.Inputs["prefixLength"])) != bits || rng.String("network") != vpcID {
			t.Errorf("range %v", rng.Inputs)
		}
		if conn.String("service") != "servicenetworking.googleapis.com" || conn.String("network") != vpcID ||
			!slices.Contains(conn.PropertyDeps["reservedPeeringRanges"], rng.URN) || !slices.Contains(conn.PropertyDeps["network"], vpc.URN) {
			t.Errorf("connection %v", conn.Inputs)
		}
	})

	sql := must(t, g, tSQL, n+"-db")
	t.Run("cloud sql", func(t *testing.T) {
		availability := map[bool]string{true: "REGIONAL", false: "ZONAL"}[m.DatabaseHighAvailability]
		for path, want := range map[string]string{
			"name":                                      cfg.DatabaseInstanceName(),
			"region":                                    cfg.Region,
			"databaseVersion":                           "POSTGRES_15",
			"settings.edition":                          "ENTERPRISE",
			"settings.tier":                             m.DatabaseTier,
			"settings.availabilityType":                 availability,
			"settings.locationPreference.zone":          cfg.Zone,
			"settings.ipConfiguration.sslMode":          "ENCRYPTED_ONLY",
			"settings.ipConfiguration.privateNetwork":   vpcID,
			"settings.ipConfiguration.allocatedIpRange": n + "-psa",
			"settings.backupConfiguration.backupRetentionSettings.retentionUnit": "COUNT",
		} {
			if got := sql.String(path); got != want {
				t.Errorf("Cloud SQL %s = %q, want %q", path, got, want)
			}
		}
		for path, want := range map[string]any{
			"settings.ipConfiguration.ipv4Enabled":                                 false,
			"settings.deletionProtectionEnabled":                                   true,
			"deletionProtection":                                                   cfg.DeletionProtection,
			"settings.backupConfiguration.enabled":                                 true,
			"settings.backupConfiguration.pointInTimeRecoveryEnabled":              true,
			"settings.backupConfiguration.transactionLogRetentionDays":             float64(m.DatabaseLogRetentionDays),
			"settings.backupConfiguration.backupRetentionSettings.retainedBackups": float64(m.DatabaseBackups),
			"settings.diskSize":                                                    float64(m.DatabaseDiskGiB),
			"settings.diskAutoresize":                                              true,
		} {
			if v, ok := sql.Get(path); !ok || plain(v) != want {
				t.Errorf("Cloud SQL %s = %v, want %v", path, plain(v), want)
			}
		}
		if _, ok := sql.Get("settings.ipConfiguration.requireSsl"); ok {
			t.Error("requireSsl is set: with sslMode ENCRYPTED_ONLY it must be false or left out")
		}
		if !sql.Protect || !slices.Contains(sql.IgnoreChanges, "settings.diskSize") {
			t.Errorf("Cloud SQL protect %v, ignoreChanges %q", sql.Protect, sql.IgnoreChanges)
		}
		if !slices.Contains(sql.DependsOn, conn.URN) {
			t.Error("Cloud SQL does not wait for the private services connection")
		}
		var names []string
		for _, db := range g.ByType(tSQLDatabase) {
			names = append(names, db.String("name"))
			if !db.Protect || !slices.Contains(db.PropertyDeps["instance"], sql.URN) {
				t.Errorf("database %s: protect %v, on the instance %v", db.Name, db.Protect, db.PropertyDeps["instance"])
			}
		}
		if slices.Sort(names); !slices.Equal(names, datatier.Databases()) {
			t.Errorf("databases %q, want %q", names, datatier.Databases())
		}
	})

	redis := must(t, g, tRedis, n+"-redis")
	t.Run("memorystore", func(t *testing.T) {
		for path, want := range map[string]string{
			"name": cfg.RedisInstanceName(), "region": cfg.Region, "locationId": cfg.Zone, "tier": m.RedisTier,
			"connectMode": "PRIVATE_SERVICE_ACCESS", "transitEncryptionMode": "DISABLED", "authorizedNetwork": vpcID,
		} {
			if got := redis.String(path); got != want {
				t.Errorf("Memorystore %s = %q, want %q", path, got, want)
			}
		}
		if v, _ := redis.Get("authEnabled"); !v.IsBool() || !v.BoolValue() {
			t.Error("Memorystore without AUTH")
		}
		if v, _ := redis.Get("memorySizeGb"); int(v.NumberValue()) != m.RedisMemoryGB {
			t.Errorf("Memorystore size %v, want %d", v.NumberValue(), m.RedisMemoryGB)
		}
		if !slices.Contains(redis.DependsOn, conn.URN) {
			t.Error("Memorystore does not wait for the private services connection")
		}
	})

	sa := must(t, g, tAccount, n+"-vm")
	vm := must(t, g, tInstance, n)
	email := "serviceAccount:" + n + "-vm@" + cfg.Project + ".iam.gserviceaccount.com"
	t.Run("iam", func(t *testing.T) {
		want := map[string][]string{
			"db-client": datatier.DatabaseClientPermissions(), "cache-client": datatier.CacheClientPermissions(), "files-user": datatier.FilesPermissions(),
		}
		if len(g.ByType(tCustomRole)) != len(want) {
			t.Errorf("%d custom roles, want %d", len(g.ByType(tCustomRole)), len(want))
		}
		for suffix, perms := range want {
			role := must(t, g, tCustomRole, n+"-"+suffix)
			if got := fmt.Sprint(plain(role.Inputs["permissions"])); got != fmt.Sprint(perms) {
				t.Errorf("role %s permissions %s, want %v", suffix, got, perms)
			}
			if role.String("roleId") != datatier.RoleIDSegment(n)+"_"+strings.ReplaceAll(suffix, "-", "_") {
				t.Errorf("role id %q", role.String("roleId"))
			}
			if suffix == "files-user" {
				continue
			}
			// Cloud SQL and Memorystore have no per-instance IAM: granted on
			// the project, to the VM, which waits for it.
			grant := must(t, g, tProjectIAM, n+"-vm-"+suffix)
			if grant.String("member") != email || !slices.Contains(grant.PropertyDeps["role"], role.URN) ||
				grant.String("role") != "projects/"+cfg.Project+"/roles/"+role.String("roleId") {
				t.Errorf("grant %s: %s to %s", grant.Name, grant.String("role"), grant.String("member"))
			}
			if !slices.Contains(vm.DependsOn, grant.URN) {
				t.Errorf("the VM does not wait for %s", grant.Name)
			}
		}
		// No password, key or AUTH string is an input anywhere.
		if len(g.ByType(tSQLUser)) != 0 || len(g.ByType(tKey)) != 0 {
			t.Error("a database user or a service account key is declared")
		}
		for _, r := range g.Resources {
			for _, k := range []string{"password", "rootPassword", "authString"} {
				if _, ok := r.Inputs[resource.PropertyKey(k)]; ok {
					t.Errorf("%s %s has an input %s", r.Type, r.Name, k)
				}
			}
		}
	})

	files := must(t, g, "gcp:storage/bucket:Bucket", n+"-files")
	t.Run("files bucket", func(t *testing.T) {
		if files.String("name") != cfg.FilesBucketName() || files.String("location") != cfg.Region ||
			files.String("publicAccessPrevention") != "enforced" || files.String(`labels["`+topology.BucketLabel+`"]`) != topology.FilesBucket {
			t.Errorf("files bucket %v", files.Inputs)
		}
		for path, want := range map[string]any{"uniformBucketLevelAccess": true, "forceDestroy": false,
			"softDeletePolicy.retentionDurationSeconds": float64(components.FilesSoftDeleteSeconds)} {
			if v, ok := files.Get(path); !ok || plain(v) != want {
				t.Errorf("files bucket %s = %v, want %v", path, plain(v), want)
			}
		}
		if _, ok := files.Get("lifecycleRules"); ok || !files.Protect {
			t.Errorf("files bucket: a lifecycle rule (%v) or unprotected (%v)", ok, files.Protect)
		}
		grant := must(t, g, tBucketIAM, n+"-files-user")
		if grant.String("member") != email || !slices.Contains(grant.PropertyDeps["member"], sa.URN) ||
			!slices.Contains(grant.PropertyDeps["bucket"], files.URN) || !slices.Contains(grant.PropertyDeps["role"], must(t, g, tCustomRole, n+"-files-user").URN) {
			t.Errorf("files grant %s to %s", grant.String("role"), grant.String("member"))
		}
	})

	// What the startup script is rendered with is what the resources give:
	// the fake cloud's addresses, the instances' names, the bucket.
	t.Run("startup script", func(t *testing.T) {
		script := vm.String(`metadata["startup-script"]`)
		for k, v := range map[string]string{
			"DATA_TIER":      "managed",
			"DB_HOST":        g.Fake("<privateIpAddress of " + n + "-db>"),
			"DB_INSTANCE":    cfg.DatabaseInstanceName(),
			"DB_USER":        datatier.DBUser,
			"REDIS_HOST":     g.Fake("<host of " + n + "-redis>"),
			"REDIS_PORT":     fmt.Sprint(datatier.RedisPort),
			"REDIS_INSTANCE": "projects/" + cfg.Project + "/locations/" + cfg.Region + "/instances/" + cfg.RedisInstanceName(),
			"FILES_BUCKET":   cfg.FilesBucketName(),
		} {
			if v == "" {
				t.Fatalf("the fake cloud gave no value for %s", k)
			}
			if want := "readonly " + k + "='" + v + "'\n"; !strings.Contains(script, want) {
				t.Errorf("the startup script lacks %q", want)
			}
		}
		for _, r := range []*graph.Resource{sql, redis} {
			if !slices.Contains(vm.PropertyDeps["metadata"], r.URN) {
				t.Errorf("the startup script is not computed from %s", r.Name)
			}
		}
	})

	t.Run("outputs", func(t *testing.T) {
		for name, want := range map[string]string{
			outputs.DataTier: datatier.Managed, outputs.DatabaseInstance: cfg.DatabaseInstanceName(), outputs.FilesBucket: cfg.FilesBucketName(),
		} {
			if got := g.Outputs[name].Value; got != want {
				t.Errorf("output %s = %v, want %s", name, got, want)
			}
		}
	})
}

// A stack whose last deployment ran managed is refused vm before anything is
// registered, with the way out; it reads only its own last outputs to know.
// A fresh stack, one that stays managed, and vm -> managed all go ahead.
func TestManagedToVMIsRefused(t *testing.T) {
	wasManaged := graph.Options{Previous: map[string]any{outputs.DataTier: "managed", outputs.Region: "asia-northeast1"}}
	for _, preview := range []bool{false, true} {
		opts := wasManaged
		opts.Preview = preview
		g, _, err := run(t, "prod", nil, opts)
		wantRefused(t, g, err, "dify-gcp:dataTier", `"vm"`, "Back to the vm tier", "pulumi destroy")
		if want := []string{"pulumi:pulumi:StackReference::previous-deployment"}; !slices.Equal(g.Reads, want) {
			t.Errorf("reads %q, want only %q", g.Reads, want)
		}
	}
	for name, tc := range map[string]struct {
		set  map[string]string
		opts graph.Options
	}{
		"a stack never deployed, on vm":      {nil, graph.Options{}},
		"a stack deployed before the output": {nil, graph.Options{Previous: map[string]any{outputs.Region: "asia-northeast1"}}},
		"managed staying managed":            {prodManaged(t), wasManaged},
		"vm to managed (the migration)":      {prodManaged(t), graph.Options{Previous: map[string]any{outputs.DataTier: "vm"}}},
	} {
		if _, _, err := run(t, "prod", tc.set, tc.opts); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

// Bad managed-tier values stop the run before anything exists, each naming
// its key, and before the last deployment is even read.
func TestInvalidManagedConfigRegistersNothing(t *testing.T) {
	with := func(k, v string) map[string]string {
		out := prodManaged(t)
		out[k] = v
		return out
	}
	for _, tc := range []struct {
		name, key string
		set       map[string]string
	}{
		{"a tier unknown to the program", "dify-gcp:dataTier", map[string]string{"dify-gcp:dataTier": "cloud"}},
		{"HA off in production", "dify-gcp:databaseHighAvailability", with("dify-gcp:databaseHighAvailability", "false")},
		{"BASIC Redis in production", "dify-gcp:redisTier", with("dify-gcp:redisTier", "BASIC")},
		{"a Redis size out of range", "dify-gcp:redisMemoryGb", with("dify-gcp:redisMemoryGb", "500")},
		{"a MySQL machine tier", "dify-gcp:databaseTier", with("dify-gcp:databaseTier", "db-n1-standard-2")},
		{"a shared core in production", "dify-gcp:databaseTier", with("dify-gcp:databaseTier", "db-g1-small")},
		{"more days of logs than backups", "dify-gcp:databaseLogRetentionDays", with("dify-gcp:databaseBackups", "2")},
		{"a service range on the subnets", "dify-gcp:serviceRangeCidr", with("dify-gcp:serviceRangeCidr", "10.10.0.0/20")},
		{"a managed setting on the vm tier", "dify-gcp:redisTier", map[string]string{"dify-gcp:redisTier": "STANDARD_HA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _, err := run(t, "prod", tc.set, graph.Options{})
			wantRefused(t, g, err, tc.key)
			if len(g.Reads) != 0 {
				t.Errorf("the last deployment was read before the config was judged: %q", g.Reads)
			}
		})
	}
}
