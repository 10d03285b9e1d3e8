package policy_test

import (
	"github.com/dify-gcp/dify-gcp/topology"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// A value a preview cannot know yet must never fail a policy. Each case takes
// a failing case, checks that it fails, then makes the offending value unknown
// (as `pulumi preview` would show a value computed by the cloud): the policy
// must stay silent.
func TestUnknownValuesDoNotFail(t *testing.T) {
	unknown := policy.Unknown{}
	cases := []struct {
		bad     string // name of a failing case
		obscure func(t *testing.T, s *policy.Stack)
	}{
		{"default compute account with cloud-platform", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "serviceAccount", "email")
		}},
		{"default compute account with cloud-platform", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "serviceAccount")
		}},
		{"OS Login off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "metadata", "enable-oslogin")
		}},
		{"OS Login off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "metadata")
		}},
		{"project keys allowed", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "metadata", "block-project-ssh-keys")
		}},
		{"serial port on", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "metadata", "serial-port-enable")
		}},
		{"vTPM off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "shieldedInstanceConfig", "enableVtpm")
		}},
		{"IP forwarding on", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "canIpForward")
		}},
		{"preemptible standard VM", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "scheduling", "provisioningModel")
		}},
		{"metadataStartupScript field", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "metadataStartupScript")
		}},
		{"proxy port from anywhere", func(t *testing.T, s *policy.Stack) {
			// The broken allow rule, not the deny rule that also names 0.0.0.0/0.
			set(t, first(t, *s, tFirewall, func(r policy.Resource) bool { return !denying(r) && withSource("0.0.0.0/0")(r) }), []any{unknown}, "sourceRanges")
		}},
		{"SSH from a private range", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tFirewall, withSource("10.0.0.0/8")), unknown, "sourceRanges")
		}},
		{"a port range covering 22", func(t *testing.T, s *policy.Stack) {
			r := first(t, *s, tFirewall, func(r policy.Resource) bool { v, _ := r.Get("allows", 0, "ports", 0); return v == "20-80" })
			set(t, r, unknown, "allows", 0, "ports")
		}},
		{"a subnet without flow logs", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSubnet, func(r policy.Resource) bool { _, ok := r.Get("logConfig"); return !ok }), unknown, "logConfig")
		}},
		{"fine-grained ACLs", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), unknown, "uniformBucketLevelAccess")
		}},
		{"public access prevention inherited", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), unknown, "publicAccessPrevention")
		}},
		{"a grant to allUsers", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucketIAM, func(r policy.Resource) bool { return r.Props["member"] == "allUsers" }), unknown, "member")
		}},
		{"editor", func(t *testing.T, s *policy.Stack) {
			// Unknown, and not computed from a service account of the stack.
			g := first(t, *s, tProjectIAM, func(r policy.Resource) bool { return r.Props["role"] == "roles/editor" })
			set(t, g, unknown, "member")
			delete(g.PropertyDeps, "member")
		}},
		{"the VM mounts a disk from outside the stack", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tInstance, nil), unknown, "attachedDisks", 0, "source")
		}},
		{"the schedule attached to another disk", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tAttachment, nil), unknown, "disk")
		}},
		{"private service open to allUsers", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRunIAM, func(r policy.Resource) bool { return r.Props["member"] == "allUsers" }), unknown, "member")
		}},
		{"private service nobody may call", func(t *testing.T, s *policy.Stack) {
			// A grant whose service is not known yet could be this service's.
			add(s, tRunIAM, "later", map[string]any{"name": unknown, "role": "roles/run.invoker", "member": "group:team@example.com"}, nil)
		}},
		{"public service with another member", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRunIAM, func(r policy.Resource) bool { return r.Props["member"] == "user:ana@example.com" }), unknown, "member")
		}},
		{"access mode not public or private", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRun, nil), unknown, "labels", topology.AccessLabel)
		}},
		{"Cloud Run cuts earlier than the proxy", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRun, nil), unknown, "template", "timeout")
		}},
		{"proxy timeout not a number", func(t *testing.T, s *policy.Stack) {
			r := first(t, *s, tRun, nil)
			envs, _ := r.Get("template", "containers", 0, "envs")
			for j, e := range envs.([]any) {
				if e.(map[string]any)["value"] == "1h" {
					set(t, r, unknown, "template", "containers", 0, "envs", j, "value")
				}
			}
		}},
		{"no lifecycle", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), unknown, "lifecycleRules")
		}},
		{"a delete rule without an age", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, nil), unknown, "lifecycleRules", 0, "condition", "age")
		}},
		// The managed data tier.
		{"a public address", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), unknown, "settings", "ipConfiguration", "ipv4Enabled")
		}},
		{"a public address", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), unknown, "settings", "ipConfiguration")
		}},
		{"unencrypted connections allowed", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), unknown, "settings", "ipConfiguration", "sslMode")
		}},
		{"backups off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), unknown, "settings", "backupConfiguration")
		}},
		{"Cloud SQL's deletion protection off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tSQL, nil), unknown, "settings", "deletionProtectionEnabled")
		}},
		{"AUTH off", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tRedis, nil), unknown, "authEnabled")
		}},
		{"a lifecycle rule on the files", func(t *testing.T, s *policy.Stack) {
			set(t, first(t, *s, tBucket, filesBucket), []any{unknown}, "lifecycleRules")
		}},
	}
	bad := map[string]badCase{}
	for _, c := range badCases() {
		bad[c.name] = c
	}
	for _, c := range cases {
		b, ok := bad[c.bad]
		if !ok {
			t.Fatalf("no failing case %q", c.bad)
		}
		t.Run(b.policy+"/"+c.bad, func(t *testing.T) {
			s := shipped(t, b.stack, false)
			b.break_(t, &s)
			if len(of(t, s, b.policy)) == 0 {
				t.Fatal("the failing case does not fail")
			}
			c.obscure(t, &s)
			if vs := of(t, s, b.policy); len(vs) > 0 {
				t.Errorf("an unknown value fails %s:%s", b.policy, describe(vs))
			}
		})
	}
}
