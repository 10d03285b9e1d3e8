package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Limits of the edge's rules, named so the docs and errors quote the same numbers.
const (
	// MaxAllowedSourceRanges is how many ranges one Cloud Armor rule's basic
	// match (srcIpRanges) holds (cloud.google.com/armor/quotas, "IP addresses
	// or ranges per rule": 10).
	MaxAllowedSourceRanges = 10
	// MinRateLimitPerMinute and MaxRateLimitPerMinute bound the general
	// per-client limit.
	MinRateLimitPerMinute = 60
	MaxRateLimitPerMinute = 100000
	// MaxSignInRateLimitPerMinute bounds the sign-in limit.
	MaxSignInRateLimitPerMinute = 1000
)

var (
	dnsZoneRE  = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	clientIDRE = regexp.MustCompile(`^[0-9]+-[a-z0-9]+\.apps\.googleusercontent\.com$`)
)

// edge judges the domain and everything that configures the edge: what it
// needs, and what makes no sense without it.
func (r *rules) edge() {
	c := r.c
	domain := ns("domain")
	if r.judge(domain) && c.Domain != "" && !domainRE.MatchString(c.Domain) {
		r.fail(domain, c.Domain, "is not a lowercase host name (no scheme, no path)", "pulumi config set dify-gcp:domain dify.example.com")
	}
	edge := c.Edge()
	if r.judge(domain) && r.judge(ns("access")) && !edge {
		switch {
		case c.Access == IAP:
			r.fail(domain, "", "is empty with access iap: Identity-Aware Proxy sits on the edge's load balancer, which needs the domain its certificate is for",
				"pulumi config set dify-gcp:domain dify.example.com (and point its DNS at the edge address: docs/deploy.md)")
		case c.Access == Public && c.Production && r.judge(ns("production")):
			r.fail(domain, "", "is empty in a public production stack: anyone could reach the run.app address with no WAF and no rate limit in front of Dify",
				"pulumi config set dify-gcp:domain dify.example.com to put the edge with Cloud Armor in front, or make the stack private")
		}
	}

	if k := ns("dnsZone"); r.judge(k) && c.DNSZone != "" {
		switch {
		case !dnsZoneRE.MatchString(c.DNSZone):
			r.fail(k, c.DNSZone, "is not a Cloud DNS managed zone name (lowercase letters, digits and hyphens, at most 63)",
				"pulumi config set dify-gcp:dnsZone ZONE (gcloud dns managed-zones list shows the names)")
		case !edge:
			r.fail(k, c.DNSZone, "is set but dify-gcp:domain is empty: there is no record to create",
				"set dify-gcp:domain, or remove dify-gcp:dnsZone")
		}
	}

	if k := ns("wafMode"); r.judge(k) {
		switch c.WAFMode {
		case WAFOff, WAFPreview:
		case WAFEnforce:
			if !edge && r.judge(domain) {
				r.fail(k, string(c.WAFMode), "is enforce but there is no edge (dify-gcp:domain is empty): Cloud Armor only runs on the load balancer, so nothing would be blocked",
					"set dify-gcp:domain to build the edge, or pulumi config set dify-gcp:wafMode preview")
			}
		default:
			r.fail(k, string(c.WAFMode), "must be off, preview or enforce", "pulumi config set dify-gcp:wafMode preview")
		}
	}

	if k := ns("allowedSourceRanges"); r.judge(k) && len(c.AllowedSourceRanges) > 0 {
		if !edge && r.judge(domain) {
			r.fail(k, strings.Join(c.AllowedSourceRanges, ","), "is set but there is no edge (dify-gcp:domain is empty): Cloud Armor, which enforces it, only runs on the load balancer",
				"set dify-gcp:domain, or remove dify-gcp:allowedSourceRanges")
		}
		if n := len(c.AllowedSourceRanges); n > MaxAllowedSourceRanges {
			r.fail(k, strconv.Itoa(n)+" ranges", fmt.Sprintf("lists more than %d ranges, what one Cloud Armor rule matches", MaxAllowedSourceRanges),
				"merge ranges into wider ones (or list your egress NAT addresses only)")
		}
		seen := map[netip.Prefix]bool{}
		for _, s := range c.AllowedSourceRanges {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				if a, aerr := netip.ParseAddr(s); aerr == nil {
					r.fail(k, s, "is an address, not a range", fmt.Sprintf("write it as %s/%d", a, a.BitLen()))
				} else {
					r.fail(k, s, "is not a CIDR range such as 203.0.113.0/24 or 2001:db8::/32", "list ranges in CIDR notation")
				}
				continue
			}
			switch {
			case p.Masked() != p:
				r.fail(k, s, "has host bits set", fmt.Sprintf("use %s", p.Masked()))
			case p.Bits() == 0:
				r.fail(k, s, "lets in every address, which is no allow-list", "remove dify-gcp:allowedSourceRanges to let everyone in, or list your ranges")
			case seen[p]:
				r.fail(k, s, "is listed twice", "list each range once")
			}
			seen[p] = true
		}
	}

	general, signIn := ns("rateLimitPerMinute"), ns("signInRateLimitPerMinute")
	r.between(general, c.RateLimitPerMinute, MinRateLimitPerMinute, MaxRateLimitPerMinute, "requests per minute")
	if r.judge(signIn) {
		switch {
		case c.SignInRateLimitPerMinute < 1 || c.SignInRateLimitPerMinute > MaxSignInRateLimitPerMinute:
			r.between(signIn, c.SignInRateLimitPerMinute, 1, MaxSignInRateLimitPerMinute, "requests per minute")
		case r.judge(general) && c.SignInRateLimitPerMinute >= c.RateLimitPerMinute:
			r.fail(signIn, strconv.Itoa(c.SignInRateLimitPerMinute),
				fmt.Sprintf("is not below dify-gcp:rateLimitPerMinute (%d): sign-in must be limited more strictly than the rest, or password guessing is as cheap as browsing", c.RateLimitPerMinute),
				"pulumi config set dify-gcp:signInRateLimitPerMinute 10")
		}
	}

	id, secret := ns("iapClientId"), ns("iapClientSecret")
	if !r.judge(ns("access")) {
		return
	}
	if c.Access == IAP {
		if r.judge(id) {
			switch {
			case c.IAPClientID == "":
				r.fail(id, "", "is empty with access iap: IAP signs people in with an OAuth client you create once in the console",
					"create the client (docs/deploy.md, \"Sign-in through IAP\"), then pulumi config set dify-gcp:iapClientId NUMBER-ID.apps.googleusercontent.com")
			case !clientIDRE.MatchString(c.IAPClientID):
				r.fail(id, c.IAPClientID, "is not an OAuth client ID (NUMBER-ID.apps.googleusercontent.com)",
					"copy the client ID from APIs & Services > Credentials")
			}
		}
		if r.judge(secret) && c.IAPClientSecret == "" {
			r.fail(secret, "", "is empty with access iap: the load balancer needs the OAuth client's secret",
				"pulumi config set --secret dify-gcp:iapClientSecret (it prompts for the value)")
		}
		return
	}
	if r.judge(id) && c.IAPClientID != "" {
		r.fail(id, c.IAPClientID, fmt.Sprintf("is set but access is %s, which does not use IAP", c.Access),
			"remove dify-gcp:iapClientId and dify-gcp:iapClientSecret, or pulumi config set dify-gcp:access iap")
	}
	if r.judge(secret) && c.IAPClientSecret != "" {
		r.fail(secret, "[secret]", fmt.Sprintf("is set but access is %s, which does not use IAP", c.Access),
			"pulumi config rm dify-gcp:iapClientSecret, or pulumi config set dify-gcp:access iap")
	}
}
