package components

import (
	"crypto/sha256"
	"fmt"

	"github.com/dify-gcp/dify-gcp/armor"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/dns"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iap"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// IAPAccessorRole lets a principal through Identity-Aware Proxy.
const IAPAccessorRole = "roles/iap.httpsResourceAccessor"

// EdgeArgs describes the front door on the team's domain.
type EdgeArgs struct {
	Project string
	Region  string // the Cloud Run service's region, where the serverless NEG lives
	Domain  string
	// DNSZone, when set, is the Cloud DNS managed zone in Project that gets
	// the domain's A record.
	DNSZone string
	Labels  pulumi.StringMap
	// ServiceName is the Cloud Run service the balancer sends requests to. It
	// is a name, not an output: the service's proxy needs this edge's address,
	// so the edge is created first, and a serverless NEG names its service
	// without waiting for it.
	ServiceName string
	// Armor is the Cloud Armor policy's configuration.
	Armor armor.Settings
	// IAP, when set, puts Identity-Aware Proxy on the backend service.
	IAP *EdgeIAP
}

// EdgeIAP is the sign-in through Identity-Aware Proxy.
type EdgeIAP struct {
	// ClientID and ClientSecret are the OAuth client the operator created in
	// the console; the secret must be a Pulumi secret.
	ClientID     string
	ClientSecret pulumi.StringInput
	// Members may pass IAP (roles/iap.httpsResourceAccessor on the backend).
	Members []string
}

// Edge is a global external Application Load Balancer in front of the Cloud
// Run proxy: HTTPS on the domain with a Google-managed certificate, HTTP
// redirected to HTTPS, Cloud Armor on the backend service, and optionally IAP.
// With it, the service admits only load-balancer traffic, so nothing bypasses
// Armor or IAP.
type Edge struct {
	pulumi.ResourceState

	// Address is the reserved global IPv4 address the domain's A record must
	// point at.
	Address pulumi.StringOutput
	// URL is https://DOMAIN.
	URL pulumi.StringOutput
	// BackendServiceName names the backend service Armor and IAP sit on.
	BackendServiceName pulumi.StringOutput
	// IAPAgentMember is IAP's service agent, the one invoker of the Cloud Run
	// service with access iap; empty otherwise.
	IAPAgentMember pulumi.StringOutput
}

// NewEdge creates the load balancer, its certificate, Armor policy and, as
// configured, the DNS record and IAP.
func NewEdge(ctx *pulumi.Context, name string, args *EdgeArgs, opts ...pulumi.ResourceOption) (*Edge, error) {
	c := &Edge{}
	if err := ctx.RegisterComponentResource(pkg+"Edge", name, c, opts...); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}

	address, err := compute.NewGlobalAddress(ctx, name+"-ip", &compute.GlobalAddressArgs{
		Name:        pulumi.String(name + "-ip"),
		IpVersion:   pulumi.String("IPV4"),
		AddressType: pulumi.String("EXTERNAL"),
		Description: pulumi.String("Dify's public address: " + args.Domain + " points here"),
		Labels:      args.Labels,
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: address: %w", err)
	}
	// Google provisions the certificate once the domain resolves to the
	// address; until then HTTPS fails with a certificate error (docs/edge.md).
	// Its domains cannot change in place, so its name carries the domain: a
	// new domain creates a new certificate before the old one goes.
	sum := sha256.Sum256([]byte(args.Domain))
	certName := fmt.Sprintf("%s-cert-%x", name, sum[:4])
	cert, err := compute.NewManagedSslCertificate(ctx, certName, &compute.ManagedSslCertificateArgs{
		Name:        pulumi.String(certName),
		Description: pulumi.String("Google-managed certificate for " + args.Domain),
		Managed:     &compute.ManagedSslCertificateManagedArgs{Domains: pulumi.StringArray{pulumi.String(args.Domain)}},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: certificate: %w", err)
	}
	neg, err := compute.NewRegionNetworkEndpointGroup(ctx, name+"-neg", &compute.RegionNetworkEndpointGroupArgs{
		Name:                pulumi.String(name + "-neg"),
		Region:              pulumi.String(args.Region),
		NetworkEndpointType: pulumi.String("SERVERLESS"),
		Description:         pulumi.String("The Cloud Run proxy " + args.ServiceName),
		CloudRun:            &compute.RegionNetworkEndpointGroupCloudRunArgs{Service: pulumi.String(args.ServiceName)},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: serverless NEG: %w", err)
	}

	policy, err := compute.NewSecurityPolicy(ctx, name+"-armor", &compute.SecurityPolicyArgs{
		Name:        pulumi.String(name + "-armor"),
		Description: pulumi.String("Dify's edge: WAF (" + args.Armor.WAF + "), per-client rate limits"),
		Type:        pulumi.String("CLOUD_ARMOR"),
		Rules:       armorRules(armor.Rules(args.Armor)),
		// Dify's API takes JSON: parse it, so the WAF rules judge values
		// rather than the whole body as text (fewer false positives).
		AdvancedOptionsConfig: &compute.SecurityPolicyAdvancedOptionsConfigArgs{JsonParsing: pulumi.String("STANDARD")},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: Cloud Armor policy: %w", err)
	}

	backendArgs := &compute.BackendServiceArgs{
		Name:                pulumi.String(name + "-backend"),
		Description:         pulumi.String("The Cloud Run proxy, behind Cloud Armor"),
		LoadBalancingScheme: pulumi.String("EXTERNAL_MANAGED"),
		Backends:            compute.BackendServiceBackendArray{&compute.BackendServiceBackendArgs{Group: neg.ID()}},
		SecurityPolicy:      policy.ID(),
		// Every request is logged, with the Armor rule that judged it: how a
		// preview WAF rule is tuned before enforcing (docs/operations.md).
		LogConfig: &compute.BackendServiceLogConfigArgs{Enable: pulumi.Bool(true), SampleRate: pulumi.Float64(1)},
		// No timeoutSec: a serverless NEG's requests end at Cloud Run's own
		// request timeout, which the proxy shares.
	}
	agentMember := pulumi.String("").ToStringOutput()
	if args.IAP != nil {
		backendArgs.Iap = &compute.BackendServiceIapArgs{
			Oauth2ClientId:     pulumi.String(args.IAP.ClientID),
			Oauth2ClientSecret: pulumi.ToSecret(args.IAP.ClientSecret).(pulumi.StringOutput),
		}
		// IAP calls Cloud Run as its service agent, which Google creates on
		// demand: create it here, so the service's invoker grant can name it.
		agent, err := projects.NewServiceIdentity(ctx, name+"-iap-agent", &projects.ServiceIdentityArgs{
			Project: pulumi.String(args.Project), Service: pulumi.String("iap.googleapis.com"),
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("edge: IAP service agent: %w", err)
		}
		agentMember = agent.Member
	}
	backend, err := compute.NewBackendService(ctx, name+"-backend", backendArgs, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: backend service: %w", err)
	}
	if args.IAP != nil {
		for _, m := range args.IAP.Members {
			if _, err := iap.NewWebBackendServiceIamMember(ctx, name+"-iap-"+memberSlug(m), &iap.WebBackendServiceIamMemberArgs{
				Project: pulumi.String(args.Project), WebBackendService: backend.Name,
				Role: pulumi.String(IAPAccessorRole), Member: pulumi.String(m),
			}, child...); err != nil {
				return nil, fmt.Errorf("edge: IAP member %s: %w", m, err)
			}
		}
	}

	urlMap, err := compute.NewURLMap(ctx, name+"-https", &compute.URLMapArgs{
		Name:           pulumi.String(name + "-https"),
		Description:    pulumi.String("Everything to the Cloud Run proxy"),
		DefaultService: backend.ID(),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: URL map: %w", err)
	}
	httpsProxy, err := compute.NewTargetHttpsProxy(ctx, name+"-https", &compute.TargetHttpsProxyArgs{
		Name:            pulumi.String(name + "-https"),
		UrlMap:          urlMap.ID(),
		SslCertificates: pulumi.StringArray{cert.ID()},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: HTTPS proxy: %w", err)
	}
	redirect, err := compute.NewURLMap(ctx, name+"-http", &compute.URLMapArgs{
		Name:        pulumi.String(name + "-http"),
		Description: pulumi.String("Plain HTTP: redirect to HTTPS"),
		DefaultUrlRedirect: &compute.URLMapDefaultUrlRedirectArgs{
			HttpsRedirect: pulumi.Bool(true), StripQuery: pulumi.Bool(false),
			RedirectResponseCode: pulumi.String("MOVED_PERMANENTLY_DEFAULT"),
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: redirect URL map: %w", err)
	}
	httpProxy, err := compute.NewTargetHttpProxy(ctx, name+"-http", &compute.TargetHttpProxyArgs{
		Name: pulumi.String(name + "-http"), UrlMap: redirect.ID(),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("edge: HTTP proxy: %w", err)
	}
	for _, fr := range []struct {
		suffix, port string
		target       pulumi.StringInput
	}{{"https", "443", httpsProxy.ID()}, {"http", "80", httpProxy.ID()}} {
		if _, err := compute.NewGlobalForwardingRule(ctx, name+"-"+fr.suffix, &compute.GlobalForwardingRuleArgs{
			Name:                pulumi.String(name + "-" + fr.suffix),
			IpAddress:           address.Address,
			IpProtocol:          pulumi.String("TCP"),
			PortRange:           pulumi.String(fr.port),
			LoadBalancingScheme: pulumi.String("EXTERNAL_MANAGED"),
			Target:              fr.target,
			Labels:              args.Labels,
		}, child...); err != nil {
			return nil, fmt.Errorf("edge: forwarding rule %s: %w", fr.suffix, err)
		}
	}

	if args.DNSZone != "" {
		if _, err := dns.NewRecordSet(ctx, name+"-dns", &dns.RecordSetArgs{
			Project: pulumi.String(args.Project), ManagedZone: pulumi.String(args.DNSZone),
			Name: pulumi.String(args.Domain + "."), Type: pulumi.String("A"), Ttl: pulumi.Int(300),
			Rrdatas: pulumi.StringArray{address.Address},
		}, child...); err != nil {
			return nil, fmt.Errorf("edge: DNS record: %w", err)
		}
	}

	c.Address = address.Address
	c.URL = pulumi.String("https://" + args.Domain).ToStringOutput()
	c.BackendServiceName = backend.Name
	c.IAPAgentMember = agentMember
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"address": c.Address, "url": c.URL, "backendServiceName": c.BackendServiceName,
	}); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	return c, nil
}

// armorRules turns the plain rules into the SDK's.
func armorRules(rules []armor.Rule) compute.SecurityPolicyRuleTypeArray {
	out := make(compute.SecurityPolicyRuleTypeArray, 0, len(rules))
	for _, r := range rules {
		rule := &compute.SecurityPolicyRuleTypeArgs{
			Priority:    pulumi.Int(r.Priority),
			Description: pulumi.String(r.Description),
			Action:      pulumi.String(r.Action),
			Preview:     pulumi.Bool(r.Preview),
		}
		if r.Expression != "" {
			rule.Match = &compute.SecurityPolicyRuleMatchArgs{Expr: &compute.SecurityPolicyRuleMatchExprArgs{Expression: pulumi.String(r.Expression)}}
		} else {
			rule.Match = &compute.SecurityPolicyRuleMatchArgs{
				VersionedExpr: pulumi.String("SRC_IPS_V1"),
				Config:        &compute.SecurityPolicyRuleMatchConfigArgs{SrcIpRanges: pulumi.ToStringArray(r.SrcIPRanges)},
			}
		}
		if rl := r.RateLimit; rl != nil {
			opts := &compute.SecurityPolicyRuleRateLimitOptionsArgs{
				ConformAction: pulumi.String("allow"),
				ExceedAction:  pulumi.String(rl.ExceedAction),
				EnforceOnKey:  pulumi.String("IP"),
				RateLimitThreshold: &compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs{
					Count: pulumi.Int(rl.Count), IntervalSec: pulumi.Int(rl.IntervalSec),
				},
			}
			if rl.BanSec > 0 {
				opts.BanDurationSec = pulumi.Int(rl.BanSec)
			}
			rule.RateLimitOptions = opts
		}
		out = append(out, rule)
	}
	return out
}
