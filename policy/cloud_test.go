package policy_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/plan"
	"github.com/dify-gcp/dify-gcp/policy"
	"github.com/dify-gcp/dify-gcp/stack"
	"github.com/dify-gcp/dify-gcp/topology"
)

// variant is a configuration the cloud rules run over: a shipped stack file,
// or one with a few keys changed to take another path through the program.
type variant struct {
	name, base string
	override   map[string]string // "" deletes the key
}

// variants are the shipped stacks and the configurations that take the
// program's other paths: private with monitoring, a private stack behind the
// edge, IAP, the edge with a DNS zone and an allow-list, a prebuilt proxy
// image (dev carries the VM schedule, prod monitoring and the public edge).
func variants() []variant {
	digest := "asia-northeast1-docker.pkg.dev/acme-dify-dev/dify-dev/proxy@sha256:" + strings.Repeat("ab", 32)
	return []variant{
		{name: "dev", base: "dev"},
		{name: "prod", base: "prod"},
		{name: "private-with-monitoring", base: "dev", override: map[string]string{
			"dify-gcp:monitoring": "true", "dify-gcp:alertEmails": `["ops@example.com"]`, "dify-gcp:backupIntervalHours": "12",
			"dify-gcp:vmStartCron": "", "dify-gcp:vmStopCron": "",
		}},
		{name: "private-with-domain", base: "dev", override: map[string]string{"dify-gcp:domain": "dify-dev.example.com"}},
		{name: "iap", base: "prod", override: map[string]string{"dify-gcp:access": "iap", "dify-gcp:invokers": `["group:dify-users@example.com"]`,
			"dify-gcp:iapClientId": "1234567890-abcdef.apps.googleusercontent.com", "dify-gcp:iapClientSecret": "GOCSPX-not-a-real-secret"}},
		{name: "dns-zone-and-allow-list", base: "prod", override: map[string]string{"dify-gcp:dnsZone": "example-com",
			"dify-gcp:wafMode": "enforce", "dify-gcp:allowedSourceRanges": `["203.0.113.0/24"]`}},
		{name: "prebuilt-image", base: "dev", override: map[string]string{"dify-gcp:proxyImage": digest}},
		// The managed data tier: prod's committed variant (plan.Variants),
		// and dev on it (zonal, BASIC, deletion protection off).
		{name: "managed", base: "prod", override: managedOverride()},
		{name: "dev-managed", base: "dev", override: map[string]string{"dify-gcp:dataTier": "managed"}},
	}
}

// managedOverride is the prod-managed variant's change to prod.
func managedOverride() map[string]string {
	v, ok := plan.FindVariant("prod-managed")
	if !ok {
		panic("no prod-managed variant")
	}
	return maps.Clone(v.Set)
}

// runVariant runs the real program for a variant.
func runVariant(t *testing.T, v variant, preview bool) *graph.Graph {
	t.Helper()
	project, cfg, secrets, err := graph.StackConfig("..", v.base)
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range v.override {
		if val == "" {
			delete(cfg, k)
		} else {
			cfg[k] = val
		}
	}
	for _, k := range config.Keys() {
		if _, ok := v.override[k.Name]; ok && k.Secret {
			secrets = append(secrets, k.Name) // set with --secret
		}
	}
	g, err := graph.Run(stack.Program, project, v.base, cfg, graph.Options{Preview: preview, SecretKeys: secrets})
	if err != nil {
		t.Fatalf("variant %s: program failed: %v", v.name, err)
	}
	return g
}

// The cloud rules hold for every shipped stack and variant, as deployed and as
// previewed. A failure is a request Google Cloud would refuse (or a resource
// that would not behave): a defect of the program, not of the test.
func TestCloudRulesPassEveryStackAndVariant(t *testing.T) {
	for _, v := range variants() {
		for _, preview := range []bool{false, true} {
			mode := map[bool]string{false: "up", true: "preview"}[preview]
			t.Run(v.name+"/"+mode, func(t *testing.T) {
				s := policy.FromGraph(runVariant(t, v, preview))
				if f := policy.Failures(policy.Evaluate(s, policy.CloudRules())); len(f) > 0 {
					t.Errorf("variant %s breaks %d cloud rules:%s", v.name, len(f), describe(f))
				}
			})
		}
	}
}

// Every resource type and every provider function the program uses, in every
// variant, has an API in the table, and the functions, which run before any
// resource, need only what the bootstrap enables.
func TestEveryTypeAndInvokeHasAnAPI(t *testing.T) {
	types := policy.ServiceAPIs()
	invokes := policy.InvokeAPIs()
	seen := map[string]bool{}
	for _, v := range variants() {
		g := runVariant(t, v, false)
		for _, r := range g.Resources {
			if r.Custom {
				seen[r.Type] = true
				if _, ok := types[r.Type]; !ok {
					t.Errorf("variant %s: type %s has no entry in policy.ServiceAPIs", v.name, r.Type)
				}
			}
		}
		for _, fn := range g.Invokes {
			api, ok := invokes[fn]
			if !ok {
				t.Errorf("variant %s: function %s has no entry in policy.InvokeAPIs", v.name, fn)
			} else if api != "" && !slices.Contains(topology.BootstrapAPIs(), api) {
				t.Errorf("variant %s: function %s needs %s before any resource exists, so the bootstrap must enable it", v.name, fn, api)
			}
		}
	}
	// The table holds no type the program never declares, except those the
	// security policies look for (keys, bindings): it stays reviewable.
	for _, typ := range slices.Sorted(maps.Keys(types)) {
		if !seen[typ] && !strings.Contains(typ, "Binding") && !strings.HasSuffix(typ, "/key:Key") {
			t.Errorf("policy.ServiceAPIs lists %s, which no variant declares", typ)
		}
	}
}

func TestCloudRulesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range policy.All() {
		if seen[p.ID] {
			t.Errorf("policy id %s twice among the policies and cloud rules", p.ID)
		}
		seen[p.ID] = true
	}
	for _, p := range policy.CloudRules() {
		if p.Title == "" || p.Fix == "" || p.Exception != nil {
			t.Errorf("%s: a cloud rule needs a title and a fix, and takes no exception: %+v", p.ID, p)
		}
		if !strings.Contains(p.Reference, "https://") && !strings.Contains(p.Reference, "#") && !strings.Contains(p.Reference, "pulumi-gcp v7.38.0") {
			t.Errorf("%s: reference %q cites no source (a URL, a provider issue or the pinned SDK)", p.ID, p.Reference)
		}
	}
}
