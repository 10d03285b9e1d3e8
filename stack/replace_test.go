package stack_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/graph"
)

// forceNew lists, for each resource that holds state (the VM and its boot
// disk, the data disk, the backup bucket, the secrets, the reserved
// addresses), the inputs a change of which makes the provider delete and
// recreate it. pulumi-gcp v7.38.0 is built on terraform-provider-google-beta
// v5.42.0 (pulumi/pulumi-gcp, commit "Upgrade terraform-provider-google-beta
// to v5.42.0", #2343); the fields are those marked ForceNew: true in the
// schema of the same release of hashicorp/terraform-provider-google:
//
//   - google/services/compute/resource_compute_instance.go: name, zone,
//     project, hostname, metadata_startup_script, boot_disk and every field
//     in it, network_interface (the list; nic_type, queue_count and, by
//     forceNewIfNetworkIPNotUpdatable, network_ip unless the network or
//     subnetwork changes too), network_performance_config,
//     guest_accelerator, params, scheduling.preemptible,
//     scheduling.provisioning_model, scheduling.max_run_duration,
//     scheduling.on_instance_stop_action, scheduling.local_ssd_recovery_timeout,
//     scratch_disk, confidential_instance_config, reservation_affinity;
//   - resource_compute_disk.go: name, zone, project, description, type, image,
//     snapshot, source_disk, disk_encryption_key, physical_block_size_bytes,
//     licenses, guest_os_features, storage_pool, async_primary_disk,
//     enable_confidential_compute, the source encryption keys; and size when
//     it shrinks (CustomizeDiff IsDiskShrinkage);
//   - google/services/storage/resource_storage_bucket.go: name, location,
//     project, enable_object_retention, custom_placement_config;
//   - google/services/secretmanager/resource_secret_manager_secret.go:
//     secret_id, project, replication;
//   - google/services/compute/resource_compute_address.go: name, address,
//     address_type, description, ip_version, network, network_tier,
//     prefix_length, purpose, region, subnetwork, project.
//
// And for the managed data tier:
//
//   - google/services/sql/resource_sql_database_instance.go: name, project,
//     region, encryption_key_name, settings.collation, settings.disk_type,
//     settings.time_zone, replica_configuration; by CustomizeDiff a
//     shrinking settings.disk_size (which the program ignores: Cloud SQL
//     grows the disk) and removing settings.ip_configuration.private_network.
//     The tier, availability_type, backups and flags update in place (with a
//     restart);
//   - google/services/sql/resource_sql_database.go: instance, name, project;
//   - google/services/redis/resource_redis_instance.go: name, project,
//     region, location_id, alternative_location_id, tier, authorized_network,
//     connect_mode, reserved_ip_range, transit_encryption_mode,
//     customer_managed_key; by CustomizeDiff a lower redis_version.
//     memory_size_gb updates in place;
//   - resource_compute_global_address.go: name, address, address_type,
//     description, ip_version, network, prefix_length, purpose, project;
//   - google/services/servicenetworking/resource_service_networking_connection.go:
//     network, service;
//   - google/services/resourcemanager/resource_google_project_iam_custom_role.go:
//     role_id, project.
//
// Property names are Pulumi's (camelCase, lists plural).
func forceNew() map[string][]string {
	return map[string][]string{
		tInstance: {"name", "zone", "project", "hostname", "metadataStartupScript", "bootDisk",
			"networkPerformanceConfig", "guestAccelerators", "params", "scheduling.preemptible",
			"scheduling.provisioningModel", "scheduling.maxRunDuration", "scheduling.onInstanceStopAction",
			"scheduling.localSsdRecoveryTimeout", "scratchDisks", "confidentialInstanceConfig", "reservationAffinity"},
		tDisk: {"name", "zone", "project", "description", "type", "image", "snapshot", "sourceDisk",
			"diskEncryptionKey", "physicalBlockSizeBytes", "licenses", "guestOsFeatures", "storagePool",
			"asyncPrimaryDisk", "enableConfidentialCompute", "sourceImageEncryptionKey", "sourceSnapshotEncryptionKey"},
		tBucket:  {"name", "location", "project", "enableObjectRetention", "customPlacementConfig"},
		tSecret:  {"secretId", "project", "replication"},
		tAddress: {"name", "address", "addressType", "description", "ipVersion", "network", "networkTier", "prefixLength", "purpose", "region", "subnetwork", "project"},

		tSQL: {"name", "project", "region", "encryptionKeyName", "settings.collation", "settings.diskType",
			"settings.timeZone", "replicaConfiguration"},
		tSQLDatabase: {"instance", "name", "project"},
		tRedis: {"name", "project", "region", "locationId", "alternativeLocationId", "tier", "authorizedNetwork",
			"connectMode", "reservedIpRange", "transitEncryptionMode", "customerManagedKey"},
		tGlobalAddr: {"name", "address", "addressType", "description", "ipVersion", "network", "prefixLength", "purpose", "project"},
		tConnection: {"network", "service"},
		tCustomRole: {"roleId", "project"},
	}
}

// replacements returns, for every stateful resource of before, the inputs
// whose change from before to after makes the provider replace it, as
// "TYPE NAME: PATH before -> after". Values the fake cloud made up are
// compared by what they stand for ("<address of ...>"), so two runs that
// merely registered in another order compare equal.
func replacements(t *testing.T, before, after *graph.Graph) []string {
	t.Helper()
	var out []string
	for typ, paths := range forceNew() {
		for _, b := range before.ByType(typ) {
			a := after.Find(typ, b.Name)
			if a == nil {
				out = append(out, fmt.Sprintf("%s %s: gone", typ, b.Name))
				continue
			}
			for _, p := range paths {
				bv, av := normalized(before, b, p), normalized(after, a, p)
				if bv != av {
					out = append(out, fmt.Sprintf("%s %s: %s %s -> %s", typ, b.Name, p, short(bv), short(av)))
				}
			}
			switch typ {
			case tDisk:
				if bs, as := number(b, "size"), number(a, "size"); as < bs {
					out = append(out, fmt.Sprintf("%s %s: size shrinks %v -> %v", typ, b.Name, bs, as))
				}
			case tSQL:
				if bs, as := number(b, "settings.diskSize"), number(a, "settings.diskSize"); as < bs && !slices.Contains(a.IgnoreChanges, "settings.diskSize") {
					out = append(out, fmt.Sprintf("%s %s: settings.diskSize shrinks %v -> %v", typ, b.Name, bs, as))
				}
				if p := "settings.ipConfiguration.privateNetwork"; normalized(before, b, p) != "<unset>" && normalized(after, a, p) == "<unset>" {
					out = append(out, fmt.Sprintf("%s %s: %s removed", typ, b.Name, p))
				}
			case tInstance:
				// network_ip may change only together with the network.
				for i := range max(count(b, "networkInterfaces"), count(a, "networkInterfaces")) {
					nic := fmt.Sprintf("networkInterfaces[%d].", i)
					if normalized(before, b, nic+"networkIp") != normalized(after, a, nic+"networkIp") &&
						normalized(before, b, nic+"subnetwork") == normalized(after, a, nic+"subnetwork") &&
						normalized(before, b, nic+"network") == normalized(after, a, nic+"network") {
						out = append(out, fmt.Sprintf("%s %s: %snetworkIp changes on the same network", typ, b.Name, nic))
					}
					for _, f := range []string{"nicType", "queueCount"} {
						if normalized(before, b, nic+f) != normalized(after, a, nic+f) {
							out = append(out, fmt.Sprintf("%s %s: %s%s changes", typ, b.Name, nic, f))
						}
					}
				}
				if count(b, "networkInterfaces") != count(a, "networkInterfaces") {
					out = append(out, fmt.Sprintf("%s %s: the number of network interfaces changes", typ, b.Name))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func normalized(g *graph.Graph, r *graph.Resource, path string) string {
	v, ok := r.Get(path)
	if !ok {
		return "<unset>"
	}
	s := fmt.Sprint(plain(v))
	// Longest first: a self link holds its resource's id.
	fakes := slices.Collect(maps.Keys(g.Symbols))
	sort.Slice(fakes, func(i, j int) bool { return len(fakes[i]) > len(fakes[j]) })
	for _, fake := range fakes {
		s = strings.ReplaceAll(s, fake, g.Symbols[fake])
	}
	return s
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func number(r *graph.Resource, path string) float64 {
	v, _ := r.Get(path)
	if v.IsNumber() {
		return v.NumberValue()
	}
	return 0
}

func count(r *graph.Resource, path string) int {
	v, ok := r.Get(path)
	if !ok || !v.IsArray() {
		return 0
	}
	return len(v.ArrayValue())
}

// A configuration change that should update in place never touches a field
// that replaces the VM, the data disk, the bucket, a secret or an address.
func TestInPlaceChangesReplaceNothing(t *testing.T) {
	cases := []struct {
		stack, name string
		change      map[string]string
	}{
		{"prod", "a new Dify release", map[string]string{"dify-gcp:difyVersion": "1.9.1",
			"dify-gcp:pluginDaemonImage": "langgenius/dify-plugin-daemon:0.3.0-local", "dify-gcp:sandboxImage": "langgenius/dify-sandbox:0.2.12"}},
		{"prod", "another backup interval", map[string]string{"dify-gcp:backupIntervalHours": "12"}},
		{"prod", "another upload limit", map[string]string{"dify-gcp:uploadLimitMiB": "31"}},
		{"prod", "a larger machine", map[string]string{"dify-gcp:machineType": "e2-standard-4"}},
		{"prod", "a larger data disk", map[string]string{"dify-gcp:dataDiskGiB": "200"}},
		{"prod", "longer snapshot and backup retention", map[string]string{"dify-gcp:snapshotRetentionDays": "30", "dify-gcp:backupRetentionDays": "90"}},
		{"prod", "another request timeout and scaling", map[string]string{"dify-gcp:requestTimeoutSeconds": "1800", "dify-gcp:proxyMinInstances": "0", "dify-gcp:proxyMaxInstances": "20"}},
		{"prod", "a custom domain", map[string]string{"dify-gcp:domain": "dify.example.com"}},
		{"prod", "deletion protection off", map[string]string{"dify-gcp:deletionProtection": "false"}},
		{"prod", "other alert addresses", map[string]string{"dify-gcp:alertEmails": `["ops@example.com","dify-oncall@example.com"]`}},
		{"dev", "other invokers", map[string]string{"dify-gcp:invokers": `["group:dify-developers@example.com","user:ana@example.com"]`}},
		{"dev", "public instead of private", map[string]string{"dify-gcp:access": "public", "dify-gcp:invokers": "[]"}},
		{"dev", "no VM schedule", map[string]string{"dify-gcp:vmStartCron": "", "dify-gcp:vmStopCron": ""}},
		{"dev", "monitoring on", map[string]string{"dify-gcp:monitoring": "true", "dify-gcp:alertEmails": `["ops@example.com"]`,
			"dify-gcp:backupIntervalHours": "12", "dify-gcp:vmStartCron": "", "dify-gcp:vmStopCron": ""}},
		// The managed tier resizes, turns HA on and changes its backups in
		// place (Cloud SQL restarts for the first two).
		{"prod-managed", "a larger Cloud SQL tier", map[string]string{"dify-gcp:databaseTier": "db-custom-4-15360"}},
		{"prod-managed", "more backups and a larger Redis", map[string]string{"dify-gcp:databaseBackups": "30", "dify-gcp:databaseLogRetentionDays": "3", "dify-gcp:redisMemoryGb": "5"}},
		{"prod-managed", "a smaller initial Cloud SQL disk (ignored: Cloud SQL grows it)", map[string]string{"dify-gcp:databaseDiskGiB": "10"}},
		{"dev-managed", "HA turned on", map[string]string{"dify-gcp:databaseHighAvailability": "true"}},
		{"dev-managed", "deletion protection on", map[string]string{"dify-gcp:deletionProtection": "true"}},
	}
	for _, tc := range cases {
		t.Run(tc.stack+"/"+tc.name, func(t *testing.T) {
			before, after := runChange(t, tc.stack, tc.change)
			if r := replacements(t, before, after); len(r) > 0 {
				t.Errorf("%s would replace stateful resources:\n  %s", tc.name, strings.Join(r, "\n  "))
			}
		})
	}
}

// The comparison finds what does replace: these changes must be reported, with
// the field that forces it. (They are legitimate, and documented in
// docs/operations.md; the data disk survives all but its own.)
func TestReplacingChangesAreFound(t *testing.T) {
	cases := []struct {
		stack, name string
		change      map[string]string
		want        []string // fragments of the reported replacements
	}{
		{"prod", "another boot disk size", map[string]string{"dify-gcp:bootDiskGiB": "50"}, []string{"compute/instance:Instance dify-prod: bootDisk"}},
		{"dev", "standard instead of Spot", map[string]string{"dify-gcp:provisioningModel": "standard"}, []string{"dify-dev: scheduling.preemptible", "dify-dev: scheduling.provisioningModel"}},
		{"prod", "another data disk type", map[string]string{"dify-gcp:dataDiskType": "pd-ssd"}, []string{"compute/disk:Disk dify-prod-data: type"}},
		{"prod", "a smaller data disk", map[string]string{"dify-gcp:dataDiskGiB": "50"}, []string{"dify-prod-data: size shrinks 100 -> 50"}},
		{"prod", "another zone", map[string]string{"dify-gcp:zone": "asia-northeast1-b"}, []string{"dify-prod: zone", "dify-prod-data: zone"}},
		// The managed tier: Memorystore's tier and the peering range are
		// fixed once created (docs/managed.md).
		{"dev-managed", "Redis from BASIC to STANDARD_HA", map[string]string{"dify-gcp:redisTier": "STANDARD_HA"}, []string{"redis/instance:Instance dify-dev-redis: tier"}},
		{"dev-managed", "another service range", map[string]string{"dify-gcp:serviceRangeCidr": "10.30.0.0/20"}, []string{"globalAddress:GlobalAddress dify-dev-psa: address"}},
		{"dev-managed", "another zone", map[string]string{"dify-gcp:zone": "asia-northeast1-b"}, []string{"dify-dev-redis: locationId"}},
	}
	for _, tc := range cases {
		t.Run(tc.stack+"/"+tc.name, func(t *testing.T) {
			before, after := runChange(t, tc.stack, tc.change)
			got := replacements(t, before, after)
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("%s: no replacement reported for %q; got %q", tc.name, w, got)
				}
			}
		})
	}
}

// runChange runs a stack, or a managed variant of one (prod-managed: the
// committed variant; dev-managed: dev with dify-gcp:dataTier managed), before
// and after a change.
func runChange(t *testing.T, name string, change map[string]string) (before, after *graph.Graph) {
	t.Helper()
	stackName, base := name, map[string]string{}
	switch name {
	case "prod-managed":
		stackName, base = "prod", prodManaged(t)
	case "dev-managed":
		stackName, base = "dev", map[string]string{"dify-gcp:dataTier": "managed"}
	}
	changed := maps.Clone(base)
	maps.Copy(changed, change)
	before, _, err := run(t, stackName, base, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, _, err = run(t, stackName, changed, graph.Options{})
	if err != nil {
		t.Fatalf("the changed configuration is refused: %v", err)
	}
	return before, after
}
