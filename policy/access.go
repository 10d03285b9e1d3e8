package policy

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/topology"
	"strconv"
	"strings"
	"time"
)

// invokerRole lets a principal call a Cloud Run service.
const invokerRole = "roles/run.invoker"

// Access modes, the values of the topology.AccessLabel label.
const (
	accessPublic  = "public"
	accessPrivate = "private"
)

// defaultRunTimeout is Cloud Run's request timeout when a revision sets none.
const defaultRunTimeout = 300 * time.Second

// grantMembers returns the known members of an IAM member or binding
// resource, and how many are not known yet.
func grantMembers(g Resource) (known []string, unknown int) {
	for _, prop := range []string{"member", "members"} {
		v, ok := g.Get(prop)
		if !ok {
			continue
		}
		if isUnknown(v) {
			unknown++
			continue
		}
		if s, isStr := asString(v); isStr {
			known = append(known, s)
			continue
		}
		for _, e := range asList(v) {
			if s, isStr := asString(e); isStr {
				known = append(known, s)
			} else {
				unknown++
			}
		}
	}
	return known, unknown
}

// members returns the known members of an IAM member or binding resource.
func members(g Resource) []string {
	known, _ := grantMembers(g)
	return known
}

func roleOf(g Resource) string {
	v, _ := g.Get("role")
	s, _ := asString(v)
	return s
}

func checkNoKeys(s Stack) []finding {
	var out []finding
	for _, k := range s.ByType(typeAccountKey) {
		out = append(out, finding{k.URN, fmt.Sprintf("%s is a user-managed service account key: a long-lived secret that leaks and never rotates itself", k.Name)})
	}
	return out
}

// isAdminRole reports whether a role is one CIS 1.5 keeps from service
// accounts: owner, editor, or any role whose name ends in admin.
func isAdminRole(role string) bool {
	return role == "roles/owner" || role == "roles/editor" || strings.HasSuffix(strings.ToLower(role), "admin")
}

func checkAdminRoles(s Stack) []finding {
	var out []finding
	for _, g := range append(s.ByType(typeProjectIAMMember), s.ByType(typeProjectIAMBinding)...) {
		role := roleOf(g)
		if !isAdminRole(role) {
			continue
		}
		known, unknown := grantMembers(g)
		var sas []string
		for _, m := range known {
			if strings.HasPrefix(m, "serviceAccount:") {
				sas = append(sas, m)
			}
		}
		// A member not known yet is a service account when it is computed
		// from one the stack creates.
		if unknown > 0 && fromAccount(s, g) {
			sas = append(sas, "a service account of this stack")
		}
		for _, m := range sas {
			out = append(out, finding{g.URN, fmt.Sprintf("%s grants %s to %s", g.Name, role, m)})
		}
	}
	return out
}

// fromAccount reports whether a grant's member(s) were computed from a
// service account resource of the stack.
func fromAccount(s Stack, g Resource) bool {
	for _, prop := range []string{"member", "members"} {
		for _, u := range g.PropertyDeps[prop] {
			if r, ok := s.ByURN(u); ok && r.Type == typeAccount {
				return true
			}
		}
	}
	return false
}

func checkInvokers(s Stack) []finding {
	var out []finding
	for _, svc := range s.ByType(typeRunService) {
		label, ok := svc.Get("labels", topology.AccessLabel)
		if isUnknown(label) {
			continue
		}
		mode, _ := asString(label)
		if !ok || (mode != accessPublic && mode != accessPrivate && mode != accessIAP) {
			out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s has %s=%q: access must be declared public, private or iap", svc.Name, topology.AccessLabel, mode)})
			continue
		}
		var known []string
		unknown := 0
		for _, g := range append(s.ByType(typeRunIAMMember), s.ByType(typeRunIAMBinding)...) {
			if roleOf(g) != invokerRole {
				continue
			}
			yes, maybe := references(g, "name", nil, svc, "services")
			if !yes && !maybe {
				continue
			}
			k, u := grantMembers(g)
			if maybe { // may not be this service's grant at all
				unknown += len(k) + u
				continue
			}
			if u > 0 && mode == accessIAP && fromIAPAgent(s, g) {
				// Not known in a preview, but computed from IAP's agent.
				k, u = append(k, "serviceAccount:service-0@gcp-sa-iap.iam.gserviceaccount.com"), u-1
			}
			known, unknown = append(known, k...), unknown+u
		}
		out = append(out, judgeInvokers(svc, mode, known, unknown)...)
	}
	return out
}

// judgeInvokers compares a service's invoker members with its access mode.
func judgeInvokers(svc Resource, mode string, known []string, unknown int) []finding {
	var out []finding
	bad := func(format string, a ...any) {
		out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s (%s=%s) ", svc.Name, topology.AccessLabel, mode) + fmt.Sprintf(format, a...)})
	}
	switch mode {
	case accessPublic:
		for _, m := range known {
			if m != "allUsers" {
				bad("grants %s to %s besides allUsers", invokerRole, m)
			}
		}
		n := 0
		for _, m := range known {
			if m == "allUsers" {
				n++
			}
		}
		if unknown == 0 && n != 1 {
			bad("grants %s to allUsers %d times, want exactly once", invokerRole, n)
		}
	case accessPrivate:
		for _, m := range known {
			if isPublicMember(m) {
				bad("grants %s to %s", invokerRole, m)
			}
		}
		if unknown == 0 && len(known) == 0 {
			bad("grants %s to nobody: no one could call it", invokerRole)
		}
	case accessIAP:
		for _, m := range known {
			if !iapAgentRE.MatchString(m) {
				bad("grants %s to %s: behind IAP, only IAP's service agent may call it, or IAP is bypassed", invokerRole, m)
			}
		}
		if unknown == 0 && len(known) != 1 {
			bad("grants %s to %d members, want exactly IAP's service agent", invokerRole, len(known))
		}
	}
	return out
}

// isProxy reports whether a Cloud Run service is Dify's proxy: it declares
// an access mode or carries the proxy's timeout variable.
func isProxy(svc Resource) bool {
	if _, ok := svc.Get("labels", topology.AccessLabel); ok {
		return true
	}
	cs, _ := svc.Get("template", "containers")
	for i := range asList(cs) {
		envs, _ := svc.Get("template", "containers", i, "envs")
		for j := range asList(envs) {
			if n, _ := svc.Get("template", "containers", i, "envs", j, "name"); n == proxy.EnvTimeoutSeconds {
				return true
			}
		}
	}
	return false
}

func checkProxyTimeout(s Stack) []finding {
	var out []finding
	for _, svc := range s.ByType(typeRunService) {
		if !isProxy(svc) {
			continue
		}
		tv, ok := svc.Get("template", "timeout")
		cs, _ := svc.Get("template", "containers")
		if isUnknown(tv) || isUnknown(cs) {
			continue
		}
		runTimeout := defaultRunTimeout
		if ts, _ := asString(tv); ok {
			d, err := time.ParseDuration(ts)
			if err != nil {
				out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s has template.timeout %q, not a duration", svc.Name, ts)})
				continue
			}
			runTimeout = d
		}
		found := false
		for i := range asList(cs) {
			envs, _ := svc.Get("template", "containers", i, "envs")
			for j := range asList(envs) {
				if n, _ := svc.Get("template", "containers", i, "envs", j, "name"); n != proxy.EnvTimeoutSeconds {
					continue
				}
				found = true
				v, _ := svc.Get("template", "containers", i, "envs", j, "value")
				if isUnknown(v) {
					continue
				}
				str, _ := asString(v)
				secs, err := strconv.Atoi(str)
				if err != nil || time.Duration(secs)*time.Second != runTimeout {
					out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s cuts requests after %s but its proxy's %s is %q", svc.Name, runTimeout, proxy.EnvTimeoutSeconds, str)})
				}
			}
		}
		if !found {
			out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s sets no %s: the proxy's own default would disagree with Cloud Run's %s", svc.Name, proxy.EnvTimeoutSeconds, runTimeout)})
		}
	}
	return out
}
