package policy_test

import (
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// Every shipped stack passes every policy, as deployed and as previewed (where
// the cloud's values are unknown). A failure here is a defect of the program
// (components/ or the stack files), not of the test.
func TestShippedStacksPassEveryPolicy(t *testing.T) {
	for _, name := range shippedStacks() {
		for _, preview := range []bool{false, true} {
			mode := map[bool]string{false: "up", true: "preview"}[preview]
			t.Run(name+"/"+mode, func(t *testing.T) {
				s := shipped(t, name, preview)
				vs := policy.Evaluate(s, policy.Policies())
				if f := policy.Failures(vs); len(f) > 0 {
					t.Errorf("stack %s violates %d policies:%s", name, len(f), describe(f))
				}
				// The accepted exceptions are reported, not silenced: the VM's
				// egress address, and on the managed tier Redis without TLS.
				want := []string{"vm-no-public-ip"}
				if strings.Contains(name, "managed") {
					want = append(want, "redis-in-transit-encryption")
				}
				var got []string
				for _, v := range vs {
					if !v.Fails() {
						got = append(got, v.PolicyID)
						if v.Excepted == "" {
							t.Errorf("advisory without its reason: %s", v)
						}
					}
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("want exactly the exceptions %q reported, got:%s", want, describe(vs))
				}
			})
		}
	}
}

// The preview runs above prove something only if the preview really leaves
// values unknown where a policy looks.
func TestPreviewLeavesPolicyInputsUnknown(t *testing.T) {
	s := shipped(t, "prod", true)
	vm := first(t, s, tInstance, nil)
	for _, path := range [][]any{{"serviceAccount", "email"}, {"attachedDisks", 0, "source"}, {"networkInterfaces", 0, "networkIp"}} {
		if v, _ := vm.Get(path...); v != (policy.Unknown{}) {
			t.Errorf("instance %v = %v in a preview, want unknown", path, v)
		}
	}
	if v, _ := first(t, s, tProjectIAM, nil).Get("member"); v != (policy.Unknown{}) {
		t.Errorf("project IAM member = %v in a preview, want unknown", v)
	}
	// Known inputs stay known.
	if v, _ := vm.Get("metadata", "enable-oslogin"); v != "TRUE" {
		t.Errorf("enable-oslogin = %v in a preview", v)
	}
}

func TestPoliciesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range policy.Policies() {
		if seen[p.ID] {
			t.Errorf("policy id %s twice", p.ID)
		}
		seen[p.ID] = true
		switch p.Severity {
		case policy.Critical, policy.High, policy.Medium, policy.Low:
		default:
			t.Errorf("%s: severity %q", p.ID, p.Severity)
		}
		if p.Title == "" || p.Reference == "" || p.Fix == "" {
			t.Errorf("%s: title, reference and fix are required: %+v", p.ID, p)
		}
		if !strings.HasPrefix(p.Reference, "CIS GCP ") && !strings.HasPrefix(p.Reference, "DESIGN.md") {
			t.Errorf("%s: reference %q names neither a CIS item nor a DESIGN.md lesson", p.ID, p.Reference)
		}
		if p.Exception != nil && p.Exception.Reason == "" {
			t.Errorf("%s: an exception without a reason", p.ID)
		}
	}
}
