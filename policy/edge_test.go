package policy_test

import (
	"github.com/dify-gcp/dify-gcp/topology"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// Small hand-built stacks for what the shipped stacks never show: the edges
// of each rule, on both sides.
func TestEdges(t *testing.T) {
	fw := func(props map[string]any) policy.Stack {
		s := policy.Stack{}
		add(&s, tFirewall, "rule", props, nil)
		return s
	}
	tcp := func(ports ...any) []any { return []any{map[string]any{"protocol": "tcp", "ports": ports}} }
	vm := func(props map[string]any) policy.Stack {
		s := policy.Stack{}
		add(&s, tInstance, "vm", props, nil)
		return s
	}
	meta := func(kv ...string) map[string]any {
		m := map[string]any{"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return map[string]any{"metadata": m}
	}
	cases := []struct {
		name   string
		policy string
		stack  policy.Stack
		want   int // violations
	}{
		{"deny from anywhere is fine", "firewall-no-open-ingress",
			fw(map[string]any{"direction": "INGRESS", "sourceRanges": []any{"0.0.0.0/0"}, "denies": tcp("22")}), 0},
		{"egress to anywhere is not ingress", "firewall-no-open-ingress",
			fw(map[string]any{"direction": "EGRESS", "destinationRanges": []any{"0.0.0.0/0"}, "allows": tcp("443")}), 0},
		{"a disabled rule admits nothing", "firewall-no-open-ingress",
			fw(map[string]any{"sourceRanges": []any{"0.0.0.0/0"}, "allows": tcp("80"), "disabled": true}), 0},
		{"direction defaults to ingress", "firewall-no-open-ingress",
			fw(map[string]any{"sourceRanges": []any{"0.0.0.0/0"}, "allows": tcp("80")}), 1},
		{"source tags alone are not anywhere", "firewall-no-open-ingress",
			fw(map[string]any{"sourceTags": []any{"web"}, "allows": tcp("80")}), 0},
		{"SSH from part of IAP's range", "firewall-ssh-only-from-iap",
			fw(map[string]any{"sourceRanges": []any{"35.235.241.0/24"}, "allows": tcp("22")}), 0},
		{"SSH from one IAP address", "firewall-ssh-only-from-iap",
			fw(map[string]any{"sourceRanges": []any{"35.235.240.7"}, "allows": tcp("22")}), 0},
		{"SSH by protocol number", "firewall-ssh-only-from-iap",
			fw(map[string]any{"sourceRanges": []any{"192.0.2.0/24"}, "allows": []any{map[string]any{"protocol": "6", "ports": []any{"22"}}}}), 1},
		{"SSH from anywhere by default", "firewall-ssh-only-from-iap",
			fw(map[string]any{"allows": tcp("22")}), 1},
		{"port 2222 is not SSH", "firewall-ssh-only-from-iap",
			fw(map[string]any{"sourceRanges": []any{"192.0.2.0/24"}, "allows": tcp("2222")}), 0},
		{"udp 22 is not SSH", "firewall-ssh-only-from-iap",
			fw(map[string]any{"sourceRanges": []any{"192.0.2.0/24"}, "allows": []any{map[string]any{"protocol": "udp", "ports": []any{"22"}}}}), 0},

		{"no service account at all is not the default one", "vm-dedicated-service-account", vm(map[string]any{}), 0},
		{"the literal default", "vm-dedicated-service-account",
			vm(map[string]any{"serviceAccount": map[string]any{"email": "default", "scopes": []any{"cloud-platform"}}}), 1},
		{"a dedicated account with the broad scope", "vm-dedicated-service-account",
			vm(map[string]any{"serviceAccount": map[string]any{"email": "app@p.iam.gserviceaccount.com", "scopes": []any{"cloud-platform"}}}), 0},
		{"lower-case true", "vm-os-login", vm(meta("enable-oslogin", "true")), 0},
		{"serial port 0", "vm-serial-port-off", vm(meta("serial-port-enable", "0")), 0},
		{"serial port 1", "vm-serial-port-off", vm(meta("serial-port-enable", "1")), 1},
		{"shielded VM left to the defaults (on)", "vm-shielded", vm(map[string]any{}), 0},
		{"spot", "vm-no-preemptible",
			vm(map[string]any{"scheduling": map[string]any{"preemptible": true, "provisioningModel": "SPOT"}}), 0},
		{"empty metadataStartupScript", "vm-startup-script-in-metadata", vm(map[string]any{"metadataStartupScript": ""}), 0},

		{"proxy-only subnets cannot log flows", "subnet-flow-logs", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tSubnet, "proxy-only", map[string]any{"purpose": "REGIONAL_MANAGED_PROXY"}, nil)
			return s
		}(), 0},
		{"the legacy flow log flag", "subnet-flow-logs", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tSubnet, "legacy", map[string]any{"enableFlowLogs": true}, nil)
			return s
		}(), 0},

		{"a snapshot schedule set on the disk itself", "data-disk-snapshots", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tDisk, "data", map[string]any{"name": "data", "resourcePolicies": []any{"projects/p/regions/r/resourcePolicies/daily"}}, nil)
			return s
		}(), 0},
		{"an attachment by self link", "data-disk-snapshots", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tDisk, "data", map[string]any{"name": "data"}, nil)
			add(&s, tAttachment, "att", map[string]any{"disk": "projects/p/zones/z/disks/data", "name": "daily"}, nil)
			return s
		}(), 0},
		{"a binding to allAuthenticatedUsers", "bucket-not-public", func() policy.Stack {
			s := policy.Stack{}
			add(&s, "gcp:storage/bucketIAMBinding:BucketIAMBinding", "b", map[string]any{"role": "roles/storage.objectViewer", "members": []any{"group:x@example.com", "allAuthenticatedUsers"}}, nil)
			return s
		}(), 1},
		{"an admin role bound to a service account", "no-admin-roles-on-service-accounts", func() policy.Stack {
			s := policy.Stack{}
			add(&s, "gcp:projects/iAMBinding:IAMBinding", "b", map[string]any{"role": "roles/compute.admin", "members": []any{"user:ana@example.com", "serviceAccount:ci@p.iam.gserviceaccount.com"}}, nil)
			return s
		}(), 1},
		{"an admin role for a person is not CIS 1.5's concern", "no-admin-roles-on-service-accounts", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tProjectIAM, "m", map[string]any{"role": "roles/owner", "member": "user:ana@example.com"}, nil)
			return s
		}(), 0},
		{"invokers granted by a binding", "run-invokers-match-access", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tRun, "svc", map[string]any{"name": "svc", "labels": map[string]any{topology.AccessLabel: "public"}}, nil)
			add(&s, "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding", "b", map[string]any{"name": "projects/p/locations/l/services/svc", "role": "roles/run.invoker", "members": []any{"allUsers"}}, nil)
			return s
		}(), 0},
		{"another role does not make an invoker", "run-invokers-match-access", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tRun, "svc", map[string]any{"name": "svc", "labels": map[string]any{topology.AccessLabel: "private"}}, nil)
			add(&s, tRunIAM, "m", map[string]any{"name": "svc", "role": "roles/run.viewer", "member": "user:ana@example.com"}, nil)
			return s
		}(), 1},
		{"a service that is not the proxy keeps its own timeout", "proxy-timeout-matches-run", func() policy.Stack {
			s := policy.Stack{}
			add(&s, tRun, "other", map[string]any{"template": map[string]any{"timeout": "60s", "containers": []any{map[string]any{"image": "x"}}}}, nil)
			return s
		}(), 0},
	}
	for _, c := range cases {
		t.Run(c.policy+"/"+c.name, func(t *testing.T) {
			if vs := of(t, c.stack, c.policy); len(vs) != c.want {
				t.Errorf("%d violations, want %d:%s", len(vs), c.want, describe(vs))
			}
		})
	}
}
