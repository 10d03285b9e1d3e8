package armor

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// request is what the evaluator below looks at.
type request struct {
	ip       string
	path     string
	wafMatch bool // a preconfigured WAF rule would match it
}

// evaluate applies rules the way Cloud Armor documents it
// (cloud.google.com/armor/docs/security-policy-overview, "Rule evaluation
// order", and .../rate-limiting-overview): in priority order, preview rules
// skipped, the first match decides; a throttle or ban rule allows a client
// under its threshold and applies its exceed action above it. counts holds
// each rule's requests per client in the current minute. It understands only
// the expressions Rules writes, and fails the test on any other.
func evaluate(t *testing.T, rules []Rule, r request, counts map[string]int) string {
	t.Helper()
	for _, rule := range rules {
		if !matches(t, rule, r) {
			continue
		}
		if rule.Preview {
			continue
		}
		if rule.RateLimit == nil {
			return rule.Action
		}
		key := fmt.Sprint(rule.Priority, "/", r.ip)
		counts[key]++
		if counts[key] > rule.RateLimit.Count {
			return rule.RateLimit.ExceedAction
		}
		return "allow"
	}
	t.Fatalf("no rule matched %+v: the default rule must match everything", r)
	return ""
}

func matches(t *testing.T, rule Rule, r request) bool {
	t.Helper()
	if rule.Expression == "" {
		for _, s := range rule.SrcIPRanges {
			if s == "*" || inRange(t, r.ip, s) {
				return true
			}
		}
		return false
	}
	ok := true
	for _, part := range strings.Split(rule.Expression, " && ") {
		switch {
		case strings.HasPrefix(part, "evaluatePreconfiguredWaf("):
			ok = ok && r.wafMatch
		case strings.HasPrefix(part, "request.path.matches('"):
			re := strings.TrimSuffix(strings.TrimPrefix(part, "request.path.matches('"), "')")
			ok = ok && regexp.MustCompile(re).MatchString(r.path)
		case strings.HasPrefix(part, "inIpRange(origin.ip, '"):
			ok = ok && inRange(t, r.ip, strings.TrimSuffix(strings.TrimPrefix(part, "inIpRange(origin.ip, '"), "')"))
		default:
			t.Fatalf("the evaluator does not know %q", part)
		}
	}
	return ok
}

func inRange(t *testing.T, ip, cidr string) bool {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatalf("rule range %q: %v", cidr, err)
	}
	return p.Contains(netip.MustParseAddr(ip))
}

func TestRulesWithoutAllowList(t *testing.T) {
	rules := Rules(Settings{WAF: "preview", PerMinute: 100, SignInPerMinute: 5})
	counts := map[string]int{}
	// Sign-in is limited first and more strictly.
	for i := 1; i <= 6; i++ {
		got := evaluate(t, rules, request{ip: "203.0.113.7", path: "/console/api/login"}, counts)
		if want := map[bool]string{true: "allow", false: "deny(429)"}[i <= 5]; got != want {
			t.Errorf("sign-in attempt %d: %s, want %s", i, got, want)
		}
	}
	// The rest of the app still works for that client, up to its own limit.
	for i := 1; i <= 101; i++ {
		got := evaluate(t, rules, request{ip: "203.0.113.7", path: "/console/api/apps"}, counts)
		if want := map[bool]string{true: "allow", false: "deny(429)"}[i <= 100]; got != want {
			t.Errorf("request %d: %s, want %s", i, got, want)
		}
	}
	// Another client is counted apart.
	if got := evaluate(t, rules, request{ip: "198.51.100.9", path: "/console/api/apps"}, counts); got != "allow" {
		t.Errorf("another client: %s", got)
	}
	// Preview WAF rules block nothing.
	if got := evaluate(t, rules, request{ip: "198.51.100.9", path: "/v1/chat-messages", wafMatch: true}, counts); got != "allow" {
		t.Errorf("preview WAF blocked: %s", got)
	}
}

func TestRulesWithAllowList(t *testing.T) {
	rules := Rules(Settings{WAF: "enforce", AllowedRanges: []string{"203.0.113.0/24", "2001:db8::/32"}, PerMinute: 100, SignInPerMinute: 5})
	counts := map[string]int{}
	for _, c := range []struct {
		r    request
		want string
	}{
		{request{ip: "203.0.113.7", path: "/console/api/apps"}, "allow"},
		{request{ip: "2001:db8::7", path: "/apps"}, "allow"},
		{request{ip: "203.0.113.7", path: "/console/api/login"}, "allow"},
		{request{ip: "198.51.100.9", path: "/console/api/apps"}, "deny(403)"},
		// Outside the list, sign-in is no way in either.
		{request{ip: "198.51.100.9", path: "/console/api/login"}, "deny(403)"},
		{request{ip: "198.51.100.9", path: "/console/api/init"}, "deny(403)"},
		// Enforced WAF rules block even listed clients.
		{request{ip: "203.0.113.7", path: "/v1/chat-messages", wafMatch: true}, "deny(403)"},
	} {
		if got := evaluate(t, rules, c.r, counts); got != c.want {
			t.Errorf("%+v: %s, want %s", c.r, got, c.want)
		}
	}
}

func TestRulesWAFModes(t *testing.T) {
	for mode, want := range map[string]int{"off": 0, "preview": len(WAFRules), "enforce": len(WAFRules)} {
		n := 0
		for _, r := range Rules(Settings{WAF: mode, PerMinute: 100, SignInPerMinute: 5}) {
			if strings.HasPrefix(r.Expression, "evaluatePreconfiguredWaf") {
				n++
				if r.Preview != (mode == "preview") || r.Action != "deny(403)" {
					t.Errorf("%s: %+v", mode, r)
				}
			}
		}
		if n != want {
			t.Errorf("%s: %d WAF rules, want %d", mode, n, want)
		}
	}
}

// What Cloud Armor accepts: unique priorities, at most ten ranges in a basic
// match, at most five subexpressions in an expression
// (cloud.google.com/armor/docs/rules-language-reference, and .../quotas), a
// throttle's or ban's interval among the allowed ones, and RE2 regexes.
func TestRulesStayWithinArmorsLimits(t *testing.T) {
	ranges := make([]string, 10)
	for i := range ranges {
		ranges[i] = fmt.Sprintf("10.%d.0.0/16", i)
	}
	for _, s := range []Settings{
		{WAF: "enforce", PerMinute: 100, SignInPerMinute: 5},
		{WAF: "preview", AllowedRanges: ranges, PerMinute: 100000, SignInPerMinute: 1000},
	} {
		rules := Rules(s)
		last := -1
		for _, r := range rules {
			if r.Priority <= last {
				t.Errorf("priority %d after %d", r.Priority, last)
			}
			last = r.Priority
			if (r.Expression == "") == (len(r.SrcIPRanges) == 0) {
				t.Errorf("rule %d: exactly one of a basic match and an expression: %+v", r.Priority, r)
			}
			if len(r.SrcIPRanges) > 10 {
				t.Errorf("rule %d: %d ranges", r.Priority, len(r.SrcIPRanges))
			}
			if n := strings.Count(r.Expression, "&&") + strings.Count(r.Expression, "||") + 1; r.Expression != "" && n > 5 {
				t.Errorf("rule %d: %d subexpressions", r.Priority, n)
			}
			if rl := r.RateLimit; rl != nil && (rl.IntervalSec != 60 || rl.Count < 1) {
				t.Errorf("rule %d: rate limit %+v", r.Priority, rl)
			}
		}
		if d := rules[len(rules)-1]; d.Priority != PriorityDefault || len(d.SrcIPRanges) != 1 || d.SrcIPRanges[0] != "*" {
			t.Errorf("the last rule is not the default rule: %+v", d)
		}
	}
}

func TestSignInPathMatchesDifysRoutes(t *testing.T) {
	re := regexp.MustCompile(SignInPath)
	for _, p := range []string{"/console/api/login", "/console/api/email-code-login", "/console/api/email-code-login/validity",
		"/console/api/reset-password", "/console/api/forgot-password", "/console/api/forgot-password/validity",
		"/console/api/forgot-password/resets", "/console/api/init", "/console/api/setup", "/api/login", "/api/email-code-login"} {
		if !re.MatchString(p) {
			t.Errorf("%s is not limited as sign-in", p)
		}
	}
	for _, p := range []string{"/console/api/logout", "/console/api/apps", "/console/api/login-history", "/v1/chat-messages",
		"/apps/login", "/api/passport", "/console/api/refresh-token", "/", "/signin"} {
		if re.MatchString(p) {
			t.Errorf("%s is limited as sign-in", p)
		}
	}
}
