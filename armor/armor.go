// Package armor builds the Cloud Armor security policy of the edge as plain
// values: which rules, in which order, matching what. The edge component turns
// them into pulumi-gcp resources; the cost estimate counts them; the tests
// read them without linking the Google Cloud SDK.
//
// Cloud Armor evaluates rules from the lowest priority number up and applies
// the first that matches; preview rules are logged and skipped
// (cloud.google.com/armor/docs/security-policy-overview). A throttle or
// rate-based ban rule whose client is under its threshold applies its conform
// action, allow, and so ends the evaluation too. Hence the order: the WAF rules
// first (they must see every request), then the sign-in limit, then the
// general limit, then the default rule. With an allow-list, each rule that can
// allow matches only the listed ranges, and the default rule denies.
package armor

import (
	"fmt"
	"strings"
)

// Settings are what the stack's configuration says about the policy.
type Settings struct {
	// WAF is "off", "preview" or "enforce".
	WAF string
	// AllowedRanges, when not empty, are the only client ranges let in.
	AllowedRanges []string
	// PerMinute is the general limit per client address.
	PerMinute int
	// SignInPerMinute is the limit on sign-in and similar requests.
	SignInPerMinute int
}

// Rule is one security policy rule.
type Rule struct {
	Priority    int
	Description string
	Action      string // allow, deny(403), deny(429), throttle, rate_based_ban
	Preview     bool
	// Exactly one of SrcIPRanges (a basic match) and Expression (the custom
	// rules language) is set.
	SrcIPRanges []string
	Expression  string
	RateLimit   *RateLimit
}

// RateLimit is a rule's throttle or ban, counted per client address.
type RateLimit struct {
	Count, IntervalSec int
	// BanSec, for rate_based_ban, is how long a client over the limit stays
	// denied.
	BanSec       int
	ExceedAction string
}

// Priorities of the rule groups; the default rule is always last.
const (
	PriorityWAF     = 1000
	PrioritySignIn  = 2000
	PriorityGeneral = 3000
	PriorityDefault = 2147483647
)

// SignInBanSec is how long a client over the sign-in limit is denied.
const SignInBanSec = 600

// SignInPath matches the requests that guess or reset credentials: console
// and web-app sign-in, email codes, password resets, and the installation
// check of INIT_PASSWORD (/console/api/init) and /console/api/setup. The
// routes are Dify 1.8.1's (api/controllers/console/auth/login.py,
// forgot_password.py, console/setup.py, console/init_validate.py, and
// controllers/web/login.py under /api).
const SignInPath = `^/(console/)?api/(login|email-code-login|reset-password|forgot-password|init|setup)(/|$)`

// WAFRules are Google's preconfigured rules the policy evaluates, at the
// lowest sensitivity (fewest false positives): the OWASP families that apply
// to a web app with a JSON API and a Next.js front end
// (cloud.google.com/armor/docs/waf-rules).
var WAFRules = []string{
	"sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rfi-v33-stable", "rce-v33-stable",
	"methodenforcement-v33-stable", "scannerdetection-v33-stable", "protocolattack-v33-stable",
	"sessionfixation-v33-stable", "nodejs-v33-stable",
}

// Rules returns the policy's rules, in priority order.
func Rules(s Settings) []Rule {
	var rules []Rule
	if s.WAF == "preview" || s.WAF == "enforce" {
		for i, name := range WAFRules {
			rules = append(rules, Rule{
				Priority:    PriorityWAF + i,
				Description: fmt.Sprintf("WAF %s (%s)", name, s.WAF),
				Action:      "deny(403)",
				Preview:     s.WAF == "preview",
				Expression:  fmt.Sprintf("evaluatePreconfiguredWaf('%s', {'sensitivity': 1})", name),
			})
		}
	}

	signIn := func() RateLimit {
		return RateLimit{Count: s.SignInPerMinute, IntervalSec: 60, BanSec: SignInBanSec, ExceedAction: "deny(429)"}
	}
	path := fmt.Sprintf("request.path.matches('%s')", SignInPath)
	if len(s.AllowedRanges) == 0 {
		rl := signIn()
		rules = append(rules, Rule{Priority: PrioritySignIn, Description: "sign-in: ban a client over the limit",
			Action: "rate_based_ban", Expression: path, RateLimit: &rl})
	} else {
		// A custom expression holds at most five subexpressions, so each
		// listed range gets a sign-in rule of its own (path && range).
		for i, r := range s.AllowedRanges {
			rl := signIn()
			rules = append(rules, Rule{Priority: PrioritySignIn + i, Description: "sign-in from " + r + ": ban a client over the limit",
				Action: "rate_based_ban", Expression: fmt.Sprintf("%s && inIpRange(origin.ip, '%s')", path, r), RateLimit: &rl})
		}
	}

	ranges := s.AllowedRanges
	if len(ranges) == 0 {
		ranges = []string{"*"}
	}
	rules = append(rules, Rule{Priority: PriorityGeneral, Description: "every request: throttle a client over the limit",
		Action: "throttle", SrcIPRanges: ranges,
		RateLimit: &RateLimit{Count: s.PerMinute, IntervalSec: 60, ExceedAction: "deny(429)"}})

	def := Rule{Priority: PriorityDefault, Description: "default: allow", Action: "allow", SrcIPRanges: []string{"*"}}
	if len(s.AllowedRanges) > 0 {
		def.Description, def.Action = "default: deny addresses outside "+strings.Join(s.AllowedRanges, ", "), "deny(403)"
	}
	return append(rules, def)
}
