package stack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/armor"
	"github.com/dify-gcp/dify-gcp/components"
	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/dify-gcp/dify-gcp/stack"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	tEdge           = "dify-gcp:components:Edge"
	tGlobalAddress  = "gcp:compute/globalAddress:GlobalAddress"
	tCert           = "gcp:compute/managedSslCertificate:ManagedSslCertificate"
	tNEG            = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
	tArmor          = "gcp:compute/securityPolicy:SecurityPolicy"
	tBackend        = "gcp:compute/backendService:BackendService"
	tURLMap         = "gcp:compute/uRLMap:URLMap"
	tHTTPSProxy     = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
	tHTTPProxy      = "gcp:compute/targetHttpProxy:TargetHttpProxy"
	tForwardingRule = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
	tRecordSet      = "gcp:dns/recordSet:RecordSet"
	tIAPMember      = "gcp:iap/webBackendServiceIamMember:WebBackendServiceIamMember"
	tServiceAgent   = "gcp:projects/serviceIdentity:ServiceIdentity"
)

// iapConfig turns a stack into an iap one (the secret counts as set with
// --secret: see run).
var iapConfig = map[string]string{
	"dify-gcp:access": "iap", "dify-gcp:invokers": `["group:dify-users@example.com", "serviceAccount:reports@acme.iam.gserviceaccount.com"]`,
	"dify-gcp:iapClientId": "1234567890-abcdef.apps.googleusercontent.com", "dify-gcp:iapClientSecret": "GOCSPX-not-a-real-secret",
}

func merged(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestEdgeVariants runs the whole program for the shipped stacks and for the
// variants that take the edge's other paths, and checks every graph both with
// the general checks and the edge's own.
func TestEdgeVariants(t *testing.T) {
	for _, v := range []struct {
		name, stack string
		override    map[string]string
	}{
		{"dev, no edge", "dev", nil},
		{"prod, public with the edge", "prod", nil},
		{"prod, iap", "prod", iapConfig},
		{"prod, allow-list and WAF enforced", "prod", map[string]string{"dify-gcp:wafMode": "enforce",
			"dify-gcp:allowedSourceRanges": `["203.0.113.0/24", "2001:db8::/32"]`}},
		{"prod, WAF off and a DNS zone", "prod", map[string]string{"dify-gcp:wafMode": "off", "dify-gcp:dnsZone": "example-com"}},
		{"dev, private with the edge", "dev", map[string]string{"dify-gcp:domain": "dify-dev.example.com"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			g, cfg, err := run(t, v.stack, v.override, graph.Options{})
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
			checkGraph(t, g, cfg)
			checkEdge(t, g, cfg)
		})
	}
}

func checkEdge(t *testing.T, g *graph.Graph, cfg *config.Config) {
	n := cfg.Name()
	svc := must(t, g, tRun, n)
	if !cfg.Edge() {
		for _, typ := range []string{tEdge, tGlobalAddress, tBackend, tArmor, tForwardingRule} {
			if len(g.ByType(typ)) != 0 {
				t.Errorf("%s registered without a domain", typ)
			}
		}
		if svc.String("ingress") != "INGRESS_TRAFFIC_ALL" {
			t.Errorf("without the edge, ingress %s", svc.String("ingress"))
		}
		return
	}
	e := n + "-edge"
	if len(g.ByType(tEdge)) != 1 {
		t.Fatalf("%d Edge components", len(g.ByType(tEdge)))
	}
	addr := must(t, g, tGlobalAddress, e+"-ip")
	certs := g.ByType(tCert)
	if len(certs) != 1 || !strings.HasPrefix(certs[0].Name, e+"-cert-") {
		t.Fatalf("want one certificate named after the domain, got %v", certs)
	}
	cert := certs[0]
	neg := must(t, g, tNEG, e+"-neg")
	policy := must(t, g, tArmor, e+"-armor")
	backend := must(t, g, tBackend, e+"-backend")
	urlMap := must(t, g, tURLMap, e+"-https")
	redirect := must(t, g, tURLMap, e+"-http")
	httpsProxy := must(t, g, tHTTPSProxy, e+"-https")
	httpProxy := must(t, g, tHTTPProxy, e+"-http")

	t.Run("load balancer", func(t *testing.T) {
		if got := fmt.Sprint(plain(cert.Inputs["managed"])); got != "map[domains:["+cfg.Domain+"]]" {
			t.Errorf("certificate for %s, want %s", got, cfg.Domain)
		}
		if neg.String("networkEndpointType") != "SERVERLESS" || neg.String("cloudRun.service") != n || neg.String("region") != cfg.Region {
			t.Errorf("NEG does not point at the Cloud Run service %s in %s", n, cfg.Region)
		}
		if backend.String("loadBalancingScheme") != "EXTERNAL_MANAGED" || !slices.Contains(backend.PropertyDeps["backends"], neg.URN) {
			t.Error("backend service is not an EXTERNAL_MANAGED one on the NEG")
		}
		if !slices.Contains(backend.PropertyDeps["securityPolicy"], policy.URN) {
			t.Error("Cloud Armor is not attached to the backend service")
		}
		if v, _ := backend.Get("logConfig.enable"); !v.IsBool() || !v.BoolValue() {
			t.Error("backend service logs nothing")
		}
		if !slices.Contains(urlMap.PropertyDeps["defaultService"], backend.URN) {
			t.Error("URL map does not send requests to the backend service")
		}
		if v, _ := redirect.Get("defaultUrlRedirect.httpsRedirect"); !v.IsBool() || !v.BoolValue() {
			t.Error("plain HTTP is not redirected to HTTPS")
		}
		if !slices.Contains(httpsProxy.PropertyDeps["sslCertificates"], cert.URN) || !slices.Contains(httpsProxy.PropertyDeps["urlMap"], urlMap.URN) {
			t.Error("HTTPS proxy lacks the certificate or the URL map")
		}
		if !slices.Contains(httpProxy.PropertyDeps["urlMap"], redirect.URN) {
			t.Error("HTTP proxy does not redirect")
		}
		rules := map[string]*graph.Resource{}
		for _, fr := range g.ByType(tForwardingRule) {
			rules[fr.String("portRange")] = fr
			if fr.String("loadBalancingScheme") != "EXTERNAL_MANAGED" || fr.String("ipAddress") != g.Fake("<address of "+e+"-ip>") {
				t.Errorf("forwarding rule %s is not on the edge's address", fr.Name)
			}
		}
		if len(rules) != 2 || !slices.Contains(rules["443"].PropertyDeps["target"], httpsProxy.URN) || !slices.Contains(rules["80"].PropertyDeps["target"], httpProxy.URN) {
			t.Errorf("want 443 to the HTTPS proxy and 80 to the redirect, got %v", rules)
		}
		dns := g.ByType(tRecordSet)
		if cfg.DNSZone == "" {
			if len(dns) != 0 {
				t.Error("a DNS record without a zone")
			}
		} else if len(dns) != 1 || dns[0].String("managedZone") != cfg.DNSZone || dns[0].String("name") != cfg.Domain+"." ||
			dns[0].String("type") != "A" || fmt.Sprint(plain(dns[0].Inputs["rrdatas"])) != "["+g.Fake("<address of "+e+"-ip>")+"]" {
			t.Errorf("DNS record %v does not point %s at the edge", dns, cfg.Domain)
		}
	})

	t.Run("nothing bypasses it", func(t *testing.T) {
		if svc.String("ingress") != "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" {
			t.Errorf("ingress %s: the run.app address is reachable around the edge", svc.String("ingress"))
		}
		if v, _ := svc.Get("defaultUriDisabled"); !v.IsBool() || !v.BoolValue() {
			t.Error("the run.app URL is still on")
		}
		audiences := fmt.Sprint(plain(svc.Inputs["customAudiences"]))
		if cfg.Access == config.Private && audiences != "[https://"+cfg.Domain+"]" {
			t.Errorf("private behind the edge: custom audiences %s, want the domain", audiences)
		}
		if !slices.Contains(svc.Dependencies(), addr.URN) {
			t.Error("the proxy does not get the balancer's address")
		}
	})

	t.Run("cloud armor", func(t *testing.T) {
		want := armor.Rules(armor.Settings{WAF: string(cfg.WAFMode), AllowedRanges: cfg.AllowedSourceRanges,
			PerMinute: cfg.RateLimitPerMinute, SignInPerMinute: cfg.SignInRateLimitPerMinute})
		got, _ := policy.Get("rules")
		if len(got.ArrayValue()) != len(want) {
			t.Fatalf("%d rules, want %d", len(got.ArrayValue()), len(want))
		}
		for i, r := range got.ArrayValue() {
			m := r.ObjectValue()
			w := want[i]
			if int(m["priority"].NumberValue()) != w.Priority || m["action"].StringValue() != w.Action || m["preview"].BoolValue() != w.Preview {
				t.Errorf("rule %d: %v, want %+v", i, plain(r), w)
			}
			match := fmt.Sprint(plain(m["match"]))
			if w.Expression != "" && !strings.Contains(match, w.Expression) || w.Expression == "" && !strings.Contains(match, strings.Join(w.SrcIPRanges, " ")) {
				t.Errorf("rule %d matches %s, want %+v", i, match, w)
			}
			if w.RateLimit != nil {
				rl := m["rateLimitOptions"].ObjectValue()
				if rl["enforceOnKey"].StringValue() != "IP" || int(rl["rateLimitThreshold"].ObjectValue()["count"].NumberValue()) != w.RateLimit.Count {
					t.Errorf("rule %d rate limit %v, want %+v per client address", i, plain(m["rateLimitOptions"]), w.RateLimit)
				}
			}
		}
		if policy.String("type") != "CLOUD_ARMOR" {
			t.Errorf("policy type %s", policy.String("type"))
		}
	})

	t.Run("iap", func(t *testing.T) {
		members := g.ByType(tIAPMember)
		if cfg.Access != config.IAP {
			if _, ok := backend.Get("iap"); ok || len(members) != 0 || len(g.ByType(tServiceAgent)) != 0 {
				t.Error("IAP declared without access iap")
			}
			return
		}
		if backend.String("iap.oauth2ClientId") != cfg.IAPClientID {
			t.Errorf("IAP client %q", backend.String("iap.oauth2ClientId"))
		}
		secret := backend.Inputs["iap"].ObjectValue()["oauth2ClientSecret"]
		if !secret.IsSecret() {
			t.Error("the OAuth client secret reaches the provider as plain text")
		}
		var got []string
		for _, m := range members {
			if m.String("role") != components.IAPAccessorRole || !slices.Contains(m.PropertyDeps["webBackendService"], backend.URN) {
				t.Errorf("IAP member %s: role %s", m.Name, m.String("role"))
			}
			got = append(got, m.String("member"))
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(cfg.Invokers)); !slices.Equal(got, want) {
			t.Errorf("IAP members %q, want exactly the invokers %q", got, want)
		}
		agent := must(t, g, tServiceAgent, e+"-iap-agent")
		if agent.String("service") != "iap.googleapis.com" {
			t.Errorf("service agent of %s", agent.String("service"))
		}
		grant := must(t, g, tRunIAM, n+"-invoker-agent")
		if !slices.Contains(grant.PropertyDeps["member"], agent.URN) {
			t.Error("the IAP agent's invoker grant does not wait for the agent")
		}
	})

	t.Run("outputs", func(t *testing.T) {
		if got := g.Outputs[outputs.EdgeAddress]; got.Value != g.Fake("<address of "+e+"-ip>") || !slices.Contains(got.From, addr.URN) {
			t.Errorf("edgeAddress output %v", got)
		}
	})
}

// The secret never reaches the plan or any output as plain text.
func TestIAPSecretStaysSecret(t *testing.T) {
	g, _, err := run(t, "prod", iapConfig, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const value = "GOCSPX-not-a-real-secret"
	for _, r := range g.Resources {
		walk(r.Inputs, func(v resource.PropertyValue, secret bool) {
			if v.IsString() && strings.Contains(v.StringValue(), value) && !secret {
				t.Errorf("%s %s holds the client secret outside a secret", r.Type, r.Name)
			}
		})
	}
	for k, o := range g.Outputs {
		if strings.Contains(fmt.Sprint(o.Value), value) {
			t.Errorf("output %s holds the client secret", k)
		}
	}
}

// walk visits every value under m, saying whether it sits inside a secret.
func walk(m resource.PropertyMap, f func(resource.PropertyValue, bool)) {
	var visit func(v resource.PropertyValue, secret bool)
	visit = func(v resource.PropertyValue, secret bool) {
		switch {
		case v.IsSecret():
			visit(v.SecretValue().Element, true)
		case v.IsObject():
			for _, e := range v.ObjectValue() {
				visit(e, secret)
			}
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				visit(e, secret)
			}
		default:
			f(v, secret)
		}
	}
	visit(resource.NewObjectProperty(m), false)
}

func TestInvalidEdgeConfigRegistersNothing(t *testing.T) {
	cases := map[string]map[string]string{
		"iap without a domain":        merged(iapConfig, map[string]string{"dify-gcp:domain": ""}),
		"public production, no edge":  {"dify-gcp:domain": ""},
		"malformed domain":            {"dify-gcp:domain": "https://dify.example.com"},
		"malformed allow-list range":  {"dify-gcp:allowedSourceRanges": `["203.0.113.0/33"]`},
		"enforce without the edge":    {"dify-gcp:domain": "", "dify-gcp:access": "private", "dify-gcp:invokers": `["user:ana@example.com"]`, "dify-gcp:wafMode": "enforce"},
		"iap without its client":      merged(iapConfig, map[string]string{"dify-gcp:iapClientId": ""}),
		"sign-in limit not stricter":  {"dify-gcp:signInRateLimitPerMinute": "2000"},
		"DNS zone that is not a name": {"dify-gcp:dnsZone": "example.com."},
	}
	for name, override := range cases {
		t.Run(name, func(t *testing.T) {
			g, _, err := run(t, "prod", override, graph.Options{})
			wantRefused(t, g, err)
			if strings.Contains(err.Error(), "GOCSPX-not-a-real-secret") {
				t.Errorf("the error repeats the client secret: %v", err)
			}
		})
	}
	// A client secret in plain text in the stack file is refused too.
	project, cfg, _, err := graph.StackConfig("..", "prod")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range iapConfig {
		cfg[k] = v
	}
	g, err := graph.Run(stack.Program, project, "prod", cfg, graph.Options{}) // no secret keys: all plain
	wantRefused(t, g, err, "pulumi config set --secret dify-gcp:iapClientSecret")
}
