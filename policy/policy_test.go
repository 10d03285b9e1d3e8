package policy_test

import (
	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/topology"
	"slices"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// badCase breaks one shipped stack in one way that one policy must catch.
type badCase struct {
	policy string
	stack  string // dev or prod
	name   string
	break_ func(t *testing.T, s *policy.Stack)
	// want is a fragment of the violation's message.
	want string
}

// badCases is every failing case: each policy fails on at least one.
func badCases() []badCase {
	vm := func(t *testing.T, s *policy.Stack) *policy.Resource { return first(t, *s, tInstance, nil) }
	iapRule := func(t *testing.T, s *policy.Stack) *policy.Resource {
		return first(t, *s, tFirewall, withSource(topology.IAPRange))
	}
	proxyRule := func(t *testing.T, s *policy.Stack) *policy.Resource {
		return first(t, *s, tFirewall, func(r policy.Resource) bool { return !denying(r) && !withSource(topology.IAPRange)(r) })
	}
	bucket := func(t *testing.T, s *policy.Stack) *policy.Resource { return first(t, *s, tBucket, nil) }
	svc := func(t *testing.T, s *policy.Stack) *policy.Resource { return first(t, *s, tRun, nil) }
	timeoutEnv := func(t *testing.T, r *policy.Resource) int {
		envs, _ := r.Get("template", "containers", 0, "envs")
		for j, e := range envs.([]any) {
			if e.(map[string]any)["name"] == proxy.EnvTimeoutSeconds {
				return j
			}
		}
		t.Fatal("no timeout env")
		return -1
	}
	invoker := func(t *testing.T, s *policy.Stack, member string) {
		r := first(t, *s, tRun, nil)
		add(s, tRunIAM, "extra-invoker", map[string]any{
			"name": r.Props["name"], "location": r.Props["location"], "role": "roles/run.invoker", "member": member,
		}, map[string][]string{"name": {r.URN}})
	}
	return []badCase{
		{"vm-dedicated-service-account", "prod", "default compute account with cloud-platform", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), "123456789012-compute@developer.gserviceaccount.com", "serviceAccount", "email")
		}, "broad scope https://www.googleapis.com/auth/cloud-platform"},
		{"vm-dedicated-service-account", "dev", "no email means the default account", func(t *testing.T, s *policy.Stack) {
			del(t, vm(t, s), "serviceAccount", "email")
		}, "runs as the default compute service account"},

		{"vm-os-login", "prod", "OS Login off", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), "FALSE", "metadata", "enable-oslogin")
		}, `"enable-oslogin" to "FALSE"`},
		{"vm-os-login", "dev", "OS Login not set", func(t *testing.T, s *policy.Stack) {
			del(t, vm(t, s), "metadata", "enable-oslogin")
		}, `does not set metadata "enable-oslogin"`},

		{"vm-block-project-ssh-keys", "prod", "project keys allowed", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), "false", "metadata", "block-project-ssh-keys")
		}, `"block-project-ssh-keys" to "false"`},
		{"vm-block-project-ssh-keys", "dev", "project keys not blocked", func(t *testing.T, s *policy.Stack) {
			del(t, vm(t, s), "metadata", "block-project-ssh-keys")
		}, `does not set metadata "block-project-ssh-keys"`},

		{"vm-serial-port-off", "prod", "serial port on", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), "TRUE", "metadata", "serial-port-enable")
		}, `"serial-port-enable" to "TRUE"`},

		{"vm-shielded", "prod", "vTPM off", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), false, "shieldedInstanceConfig", "enableVtpm")
		}, "enableVtpm off"},
		{"vm-shielded", "dev", "integrity monitoring off", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), false, "shieldedInstanceConfig", "enableIntegrityMonitoring")
		}, "enableIntegrityMonitoring off"},

		{"vm-no-ip-forwarding", "prod", "IP forwarding on", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), true, "canIpForward")
		}, "canIpForward true"},

		{"vm-no-preemptible", "prod", "preemptible standard VM", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), true, "scheduling", "preemptible")
		}, `provisioningModel "STANDARD"`},
		{"vm-no-preemptible", "dev", "preemptible without the Spot model", func(t *testing.T, s *policy.Stack) {
			del(t, vm(t, s), "scheduling", "provisioningModel")
		}, "stops it within 24 hours"},

		{"vm-startup-script-in-metadata", "prod", "metadataStartupScript field", func(t *testing.T, s *policy.Stack) {
			set(t, vm(t, s), "#!/bin/bash\ntrue\n", "metadataStartupScript")
		}, "would replace the VM"},

		{"firewall-no-open-ingress", "prod", "proxy port from anywhere", func(t *testing.T, s *policy.Stack) {
			set(t, proxyRule(t, s), []any{"0.0.0.0/0"}, "sourceRanges")
		}, "from 0.0.0.0/0"},
		{"firewall-no-open-ingress", "dev", "a rule with no source applies to anywhere", func(t *testing.T, s *policy.Stack) {
			del(t, proxyRule(t, s), "sourceRanges")
		}, "from 0.0.0.0/0"},
		{"firewall-no-open-ingress", "prod", "the deny rule turned into an allow", func(t *testing.T, s *policy.Stack) {
			r := first(t, *s, tFirewall, denying)
			set(t, r, r.Props["denies"], "allows")
			del(t, r, "denies")
		}, "allows ingress (tcp:5003) from 0.0.0.0/0"},
		{"firewall-no-open-ingress", "dev", "IPv6 anywhere", func(t *testing.T, s *policy.Stack) {
			set(t, proxyRule(t, s), []any{"::/0"}, "sourceRanges")
		}, "from ::/0"},

		{"firewall-ssh-only-from-iap", "prod", "SSH from a private range", func(t *testing.T, s *policy.Stack) {
			set(t, iapRule(t, s), []any{"10.0.0.0/8"}, "sourceRanges")
		}, "from 10.0.0.0/8"},
		{"firewall-ssh-only-from-iap", "dev", "SSH from a range wider than IAP's", func(t *testing.T, s *policy.Stack) {
			set(t, iapRule(t, s), []any{"35.235.0.0/16"}, "sourceRanges")
		}, "from 35.235.0.0/16"},
		{"firewall-ssh-only-from-iap", "prod", "SSH from tagged VMs", func(t *testing.T, s *policy.Stack) {
			set(t, iapRule(t, s), []any{"bastion"}, "sourceTags")
		}, "from bastion"},
		{"firewall-ssh-only-from-iap", "prod", "a port range covering 22", func(t *testing.T, s *policy.Stack) {
			set(t, proxyRule(t, s), []any{map[string]any{"protocol": "tcp", "ports": []any{"20-80"}}}, "allows")
		}, "allows SSH (tcp 22)"},
		{"firewall-ssh-only-from-iap", "dev", "every protocol and port", func(t *testing.T, s *policy.Stack) {
			set(t, proxyRule(t, s), []any{map[string]any{"protocol": "all"}}, "allows")
		}, "allows SSH (tcp 22)"},

		{"subnet-flow-logs", "prod", "a subnet without flow logs", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tSubnet, nil), "logConfig")
		}, "has no flow logs"},

		{"bucket-uniform-access", "prod", "fine-grained ACLs", func(t *testing.T, s *policy.Stack) {
			set(t, bucket(t, s), false, "uniformBucketLevelAccess")
		}, "uniform bucket-level access"},
		{"bucket-uniform-access", "dev", "uniform access not set", func(t *testing.T, s *policy.Stack) {
			del(t, bucket(t, s), "uniformBucketLevelAccess")
		}, "uniform bucket-level access"},

		{"bucket-not-public", "prod", "public access prevention inherited", func(t *testing.T, s *policy.Stack) {
			set(t, bucket(t, s), "inherited", "publicAccessPrevention")
		}, `publicAccessPrevention "inherited"`},
		{"bucket-not-public", "dev", "a grant to allUsers", func(t *testing.T, s *policy.Stack) {
			b := bucket(t, s)
			add(s, tBucketIAM, "public-read", map[string]any{"bucket": b.Props["name"], "role": "roles/storage.objectViewer", "member": "allUsers"},
				map[string][]string{"bucket": {b.URN}})
		}, "roles/storage.objectViewer on a bucket to allUsers"},

		{"no-service-account-keys", "prod", "a key", func(t *testing.T, s *policy.Stack) {
			sa := first(t, *s, tAccount, nil)
			add(s, tKey, "ci-key", map[string]any{"serviceAccountId": sa.Props["accountId"]}, map[string][]string{"serviceAccountId": {sa.URN}})
		}, "user-managed service account key"},

		{"no-admin-roles-on-service-accounts", "prod", "editor", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tProjectIAM, nil), "roles/editor", "role")
		}, "grants roles/editor to serviceAccount:"},
		{"no-admin-roles-on-service-accounts", "dev", "an admin role", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tProjectIAM, nil), "roles/storage.admin", "role")
		}, "grants roles/storage.admin"},
		{"no-admin-roles-on-service-accounts", "prod", "owner to an account whose email is still unknown", func(t *testing.T, s *policy.Stack) {
			g := first(t, *s, tProjectIAM, nil)
			set(t, g, "roles/owner", "role")
			set(t, g, policy.Unknown{}, "member")
		}, "grants roles/owner to a service account of this stack"},

		{"data-disk-protected", "prod", "unprotected data disk", func(t *testing.T, s *policy.Stack) {
			first(t, *s, tDisk, nil).Protect = false
		}, "is not protected"},
		{"data-disk-protected", "dev", "the VM mounts a disk from outside the stack", func(t *testing.T, s *policy.Stack) {
			v := vm(t, s)
			set(t, v, "projects/acme/zones/asia-northeast1-c/disks/somewhere-else", "attachedDisks", 0, "source")
			delete(v.PropertyDeps, "attachedDisks")
		}, "mounts projects/acme/zones/asia-northeast1-c/disks/somewhere-else as dify-data"},

		{"data-disk-snapshots", "prod", "no attachment", func(t *testing.T, s *policy.Stack) {
			remove(s, tAttachment)
		}, "has no snapshot schedule"},
		{"data-disk-snapshots", "dev", "the schedule attached to another disk", func(t *testing.T, s *policy.Stack) {
			a := first(t, *s, tAttachment, nil)
			set(t, a, "some-other-disk", "disk")
			delete(a.PropertyDeps, "disk")
		}, "has no snapshot schedule"},
		{"data-disk-snapshots", "prod", "the attached policy is not a snapshot schedule", func(t *testing.T, s *policy.Stack) {
			p := first(t, *s, tResourcePolicy, nil)
			del(t, p, "snapshotSchedulePolicy")
			set(t, p, map[string]any{"timeZone": "UTC"}, "instanceSchedulePolicy")
		}, "has no snapshot schedule"},

		{"run-invokers-match-access", "dev", "private service open to allUsers", func(t *testing.T, s *policy.Stack) {
			invoker(t, s, "allUsers")
		}, "grants roles/run.invoker to allUsers"},
		{"run-invokers-match-access", "dev", "private service open to allAuthenticatedUsers", func(t *testing.T, s *policy.Stack) {
			invoker(t, s, "allAuthenticatedUsers")
		}, "grants roles/run.invoker to allAuthenticatedUsers"},
		{"run-invokers-match-access", "dev", "private service nobody may call", func(t *testing.T, s *policy.Stack) {
			remove(s, tRunIAM)
		}, "grants roles/run.invoker to nobody"},
		{"run-invokers-match-access", "prod", "public service with another member", func(t *testing.T, s *policy.Stack) {
			invoker(t, s, "user:ana@example.com")
		}, "to user:ana@example.com besides allUsers"},
		{"run-invokers-match-access", "prod", "public service without allUsers", func(t *testing.T, s *policy.Stack) {
			remove(s, tRunIAM)
		}, "to allUsers 0 times, want exactly once"},
		{"run-invokers-match-access", "prod", "access not declared", func(t *testing.T, s *policy.Stack) {
			del(t, svc(t, s), "labels", topology.AccessLabel)
		}, `dify-access="": access must be declared`},
		{"run-invokers-match-access", "prod", "access mode not public or private", func(t *testing.T, s *policy.Stack) {
			set(t, svc(t, s), "everyone", "labels", topology.AccessLabel)
		}, `dify-access="everyone"`},
		{"run-invokers-match-access", "dev", "labelled public, granted to a group", func(t *testing.T, s *policy.Stack) {
			set(t, svc(t, s), "public", "labels", topology.AccessLabel)
		}, "besides allUsers"},

		{"run-invokers-match-access", "iap", "a person may call the service behind IAP", func(t *testing.T, s *policy.Stack) {
			invoker(t, s, "user:ana@example.com")
		}, "only IAP's service agent may call it"},
		{"run-invokers-match-access", "iap", "IAP's agent not an invoker", func(t *testing.T, s *policy.Stack) {
			remove(s, tRunIAM)
		}, "want exactly IAP's service agent"},

		{"edge-armor-on-public-production", "prod", "no edge in front", func(t *testing.T, s *policy.Stack) {
			remove(s, tNEG)
		}, "no load balancer and Cloud Armor policy in front"},
		{"edge-armor-on-public-production", "prod", "a backend service without Armor", func(t *testing.T, s *policy.Stack) {
			b := first(t, *s, tBackend, nil)
			del(t, b, "securityPolicy")
			delete(b.PropertyDeps, "securityPolicy")
		}, "no load balancer and Cloud Armor policy in front"},
		{"edge-locks-cloud-run", "prod", "ingress from everywhere behind the edge", func(t *testing.T, s *policy.Stack) {
			set(t, svc(t, s), "INGRESS_TRAFFIC_ALL", "ingress")
		}, "clients can go around Cloud Armor and IAP"},
		{"edge-locks-cloud-run", "iap", "the run.app URL left on", func(t *testing.T, s *policy.Stack) {
			set(t, svc(t, s), false, "defaultUriDisabled")
		}, "its run.app URL is on"},
		{"iap-on-the-edge", "iap", "no IAP on the backend service", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tBackend, nil), "iap")
		}, "has no IAP"},
		{"iap-on-the-edge", "iap", "IAP open to everyone", func(t *testing.T, s *policy.Stack) {
			b := first(t, *s, tBackend, nil)
			add(s, tIAPMember, "everyone", map[string]any{"webBackendService": b.Props["name"], "role": "roles/iap.httpsResourceAccessor", "member": "allAuthenticatedUsers"},
				map[string][]string{"webBackendService": {b.URN}})
		}, "lets allAuthenticatedUsers through IAP"},
		{"iap-on-the-edge", "iap", "no load balancer at all", func(t *testing.T, s *policy.Stack) {
			remove(s, tNEG)
		}, "has no load balancer in front"},

		{"proxy-timeout-matches-run", "dev", "Cloud Run cuts earlier than the proxy", func(t *testing.T, s *policy.Stack) {
			set(t, svc(t, s), "300s", "template", "timeout")
		}, "cuts requests after 5m0s but its proxy's PROXY_TIMEOUT_SECONDS is \"900\""},
		{"proxy-timeout-matches-run", "prod", "no Cloud Run timeout: the 300 s default", func(t *testing.T, s *policy.Stack) {
			del(t, svc(t, s), "template", "timeout")
		}, "cuts requests after 5m0s but its proxy's PROXY_TIMEOUT_SECONDS is \"3600\""},
		{"proxy-timeout-matches-run", "prod", "proxy timeout not a number", func(t *testing.T, s *policy.Stack) {
			r := svc(t, s)
			set(t, r, "1h", "template", "containers", 0, "envs", timeoutEnv(t, r), "value")
		}, `PROXY_TIMEOUT_SECONDS is "1h"`},
		{"proxy-timeout-matches-run", "dev", "proxy timeout not set", func(t *testing.T, s *policy.Stack) {
			r := svc(t, s)
			envs, _ := r.Get("template", "containers", 0, "envs")
			set(t, r, slices.Delete(slices.Clone(envs.([]any)), timeoutEnv(t, r), timeoutEnv(t, r)+1), "template", "containers", 0, "envs")
		}, "sets no PROXY_TIMEOUT_SECONDS"},

		{"backup-lifecycle", "prod", "no lifecycle", func(t *testing.T, s *policy.Stack) {
			del(t, bucket(t, s), "lifecycleRules")
		}, "no lifecycle rule deleting objects by age"},
		{"backup-lifecycle", "dev", "a rule that only changes the storage class", func(t *testing.T, s *policy.Stack) {
			set(t, bucket(t, s), "SetStorageClass", "lifecycleRules", 0, "action", "type")
		}, "no lifecycle rule deleting objects by age"},
		{"backup-lifecycle", "prod", "a delete rule without an age", func(t *testing.T, s *policy.Stack) {
			del(t, bucket(t, s), "lifecycleRules", 0, "condition", "age")
		}, "no lifecycle rule deleting objects by age"},
		{"backup-lifecycle", "managed", "the backup bucket taken for the files bucket's exemption", func(t *testing.T, s *policy.Stack) {
			b := first(t, *s, tBucket, backupBucket)
			del(t, b, "lifecycleRules")
		}, "no lifecycle rule deleting objects by age"},

		// The managed data tier.
		{"sql-no-public-ip", "managed", "a public address", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), true, "settings", "ipConfiguration", "ipv4Enabled")
		}, "has a public IP address (ipConfiguration.ipv4Enabled is true)"},
		{"sql-no-public-ip", "dev-managed", "ipv4Enabled left out, which the provider turns on", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tSQL, nil), "settings", "ipConfiguration", "ipv4Enabled")
		}, "ipConfiguration.ipv4Enabled is unset"},
		{"sql-requires-ssl", "managed", "unencrypted connections allowed", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), "ALLOW_UNENCRYPTED_AND_ENCRYPTED", "settings", "ipConfiguration", "sslMode")
		}, "accepts connections without SSL (sslMode ALLOW_UNENCRYPTED_AND_ENCRYPTED)"},
		{"sql-requires-ssl", "dev-managed", "no SSL setting at all", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tSQL, nil), "settings", "ipConfiguration", "sslMode")
		}, "sslMode unset"},
		{"sql-backups-and-pitr", "managed", "backups off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), false, "settings", "backupConfiguration", "enabled")
		}, "automated backups are off"},
		{"sql-backups-and-pitr", "dev-managed", "no point-in-time recovery", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tSQL, nil), "settings", "backupConfiguration", "pointInTimeRecoveryEnabled")
		}, "point-in-time recovery is off"},
		{"sql-backups-and-pitr", "managed", "no backup kept", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), float64(0), "settings", "backupConfiguration", "backupRetentionSettings", "retainedBackups")
		}, "keeps 0 of retainedBackups"},
		{"sql-protected", "managed", "Cloud SQL's deletion protection off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), false, "settings", "deletionProtectionEnabled")
		}, "deletion protection off"},
		{"sql-protected", "dev-managed", "the instance not protected by Pulumi", func(t *testing.T, s *policy.Stack) {
			first(t, *s, tSQL, nil).Protect = false
		}, "is not protected by Pulumi"},
		{"sql-protected", "managed", "a database not protected", func(t *testing.T, s *policy.Stack) {
			first(t, *s, tSQLDatabase, nil).Protect = false
		}, "would drop it"},
		{"redis-auth", "managed", "AUTH off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRedis, nil), false, "authEnabled")
		}, "without AUTH (authEnabled false)"},
		{"redis-auth", "dev-managed", "AUTH left out (the API's default is off)", func(t *testing.T, s *policy.Stack) {
			del(t, first(t, *s, tRedis, nil), "authEnabled")
		}, "authEnabled unset"},
		{"files-bucket-keeps-files", "managed", "a lifecycle rule on the files", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, filesBucket), []any{map[string]any{"action": map[string]any{"type": "Delete"}, "condition": map[string]any{"age": float64(30)}}}, "lifecycleRules")
		}, "has a lifecycle rule deleting objects"},
		{"files-bucket-keeps-files", "dev-managed", "soft delete off, as on the backup bucket", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, filesBucket), float64(0), "softDeletePolicy", "retentionDurationSeconds")
		}, "turns soft delete off"},
		{"files-bucket-keeps-files", "managed", "unprotected and force-destroyed", func(t *testing.T, s *policy.Stack) {
			b := first(t, *s, tBucket, filesBucket)
			b.Protect = false
			set(t, b, true, "forceDestroy")
		}, "force-destroyed with its files"},
		{"bucket-not-public", "managed", "the files bucket without public access prevention", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, filesBucket), "inherited", "publicAccessPrevention")
		}, `publicAccessPrevention "inherited"`},
		{"bucket-uniform-access", "managed", "the files bucket with object ACLs", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, filesBucket), false, "uniformBucketLevelAccess")
		}, "uniform bucket-level access"},
		{"no-service-account-keys", "managed", "a key for Dify's google-storage backend", func(t *testing.T, s *policy.Stack) {
			sa := first(t, *s, tAccount, nil)
			add(s, tKey, "files-key", map[string]any{"serviceAccountId": sa.Props["accountId"]}, map[string][]string{"serviceAccountId": {sa.URN}})
		}, "user-managed service account key"},
	}
}

// Each policy passes on the shipped stack and fails on the broken one, with a
// message that says what is wrong and how to fix it.
func TestPoliciesFailOnBrokenStacks(t *testing.T) {
	covered := map[string]int{}
	for _, c := range badCases() {
		t.Run(c.policy+"/"+c.name, func(t *testing.T) {
			p, ok := policy.Find(policy.Policies(), c.policy)
			if !ok {
				t.Fatalf("no policy %s", c.policy)
			}
			s := shipped(t, c.stack, false)
			if vs := p.Evaluate(s); len(vs) > 0 {
				t.Fatalf("the shipped %s stack already violates %s:%s", c.stack, c.policy, describe(vs))
			}
			c.break_(t, &s)
			vs := policy.Failures(p.Evaluate(s))
			if len(vs) == 0 {
				t.Fatalf("%s does not catch: %s", c.policy, c.name)
			}
			said := false
			for _, v := range vs {
				said = said || strings.Contains(v.Message, c.want)
				if v.PolicyID != c.policy || !strings.HasSuffix(v.Message, ". Fix: "+p.Fix) {
					t.Errorf("violation %s\nwant policy %s and a message ending with the fix", v, c.policy)
				}
				if _, ok := s.ByURN(v.URN); !ok {
					t.Errorf("violation names %s, not a resource of the stack", v.URN)
				}
			}
			if !said {
				t.Errorf("no violation says %q:%s", c.want, describe(vs))
			}
			covered[c.policy]++
		})
	}
	t.Logf("%d failing cases", len(badCases()))
	for _, p := range policy.Policies() {
		if covered[p.ID] == 0 && p.Exception == nil {
			t.Errorf("policy %s has no failing case", p.ID)
		}
	}
}

// A policy that judges each resource alone (Local) runs per resource in the
// policy pack; it must find the same on one resource as on the whole stack.
func TestLocalPoliciesJudgeEachResourceAlone(t *testing.T) {
	for _, c := range badCases() {
		p, _ := policy.Find(policy.Policies(), c.policy)
		if !p.Local {
			continue
		}
		t.Run(c.policy+"/"+c.name, func(t *testing.T) {
			s := shipped(t, c.stack, false)
			c.break_(t, &s)
			whole := p.Evaluate(s)
			var alone []policy.Violation
			for _, r := range s.Resources {
				alone = append(alone, p.Evaluate(policy.Stack{Resources: []policy.Resource{r}})...)
			}
			if describe(whole) != describe(alone) {
				t.Errorf("whole stack:%s\none resource at a time:%s", describe(whole), describe(alone))
			}
		})
	}
}

// Redis without TLS is reported with its reason but does not fail, and an
// instance with TLS is not reported at all.
func TestRedisTransitException(t *testing.T) {
	s := shipped(t, "managed", false)
	vs := of(t, s, "redis-in-transit-encryption")
	if len(vs) != 1 || vs[0].Fails() || !strings.Contains(vs[0].Message, "without TLS (transitEncryptionMode DISABLED)") ||
		!strings.Contains(vs[0].Excepted, "plugin daemon") {
		t.Fatalf("want one accepted finding naming the plugin daemon, got:%s", describe(vs))
	}
	set(t, first(t, s, tRedis, nil), "SERVER_AUTHENTICATION", "transitEncryptionMode")
	if vs := of(t, s, "redis-in-transit-encryption"); len(vs) > 0 {
		t.Errorf("an instance with TLS is reported:%s", describe(vs))
	}
}

// The exception is reported with its reason but does not fail; a VM without an
// external address is not reported at all.
func TestPublicIPException(t *testing.T) {
	s := shipped(t, "prod", false)
	vs := of(t, s, "vm-no-public-ip")
	if len(vs) != 1 || vs[0].Fails() || !strings.Contains(vs[0].Message, "has an external address") || vs[0].Excepted == "" {
		t.Fatalf("want one accepted finding, got:%s", describe(vs))
	}
	del(t, first(t, s, tInstance, nil), "networkInterfaces", 0, "accessConfigs")
	if vs := of(t, s, "vm-no-public-ip"); len(vs) > 0 {
		t.Errorf("a VM without an access config is reported:%s", describe(vs))
	}
}
