package policy

import (
	"fmt"
	"strings"
)

// defaultSASuffix ends the email of a project's default compute service
// account (PROJECT_NUMBER-compute@developer.gserviceaccount.com), which holds
// the Editor role in many projects.
const defaultSASuffix = "-compute@developer.gserviceaccount.com"

// broadScopes are the OAuth scopes that give a VM every API its service
// account may use.
func broadScopes() []string {
	return []string{"https://www.googleapis.com/auth/cloud-platform", "cloud-platform"}
}

func checkDedicatedServiceAccount(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		sa, ok := r.Get("serviceAccount")
		if !ok || isUnknown(sa) {
			continue // no identity at all is not the default one
		}
		email, ok := r.Get("serviceAccount", "email")
		if isUnknown(email) {
			continue
		}
		e, _ := asString(email)
		if ok && e != "" && e != "default" && !strings.HasSuffix(e, defaultSASuffix) {
			continue // a dedicated account: any scope is fine
		}
		who := "the default compute service account"
		if e != "" && e != "default" {
			who += " " + e
		}
		problem := fmt.Sprintf("instance %s runs as %s", r.Name, who)
		if scope := broadScope(r); scope != "" {
			problem += " with the broad scope " + scope
		}
		out = append(out, finding{r.URN, problem})
	}
	return out
}

// broadScope returns the first broad scope the instance's service account has.
func broadScope(r Resource) string {
	scopes, _ := r.Get("serviceAccount", "scopes")
	for _, sc := range asList(scopes) {
		s, _ := asString(sc)
		for _, b := range broadScopes() {
			if s == b {
				return s
			}
		}
	}
	return ""
}

// metadataMustBeTrue returns a check that the instance metadata key is TRUE.
func metadataMustBeTrue(key string) func(Stack) []finding {
	return func(s Stack) []finding {
		var out []finding
		for _, r := range s.ByType(typeInstance) {
			v, ok := r.Get("metadata", key)
			if isUnknown(v) {
				continue
			}
			str, _ := asString(v)
			if !ok {
				out = append(out, finding{r.URN, fmt.Sprintf("instance %s does not set metadata %q", r.Name, key)})
			} else if !isTrue(str) {
				out = append(out, finding{r.URN, fmt.Sprintf("instance %s sets metadata %q to %q", r.Name, key, str)})
			}
		}
		return out
	}
}

// isTrue and isFalse read Compute Engine metadata booleans.
func isTrue(s string) bool { return strings.EqualFold(s, "true") || s == "1" }

func isFalse(s string) bool { return strings.EqualFold(s, "false") || s == "0" }

func checkSerialPort(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		v, ok := r.Get("metadata", "serial-port-enable")
		if !ok || isUnknown(v) {
			continue
		}
		if str, _ := asString(v); !isFalse(str) {
			out = append(out, finding{r.URN, fmt.Sprintf("instance %s sets metadata \"serial-port-enable\" to %q", r.Name, str)})
		}
	}
	return out
}

func checkShielded(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		// Left out, both default to on in the provider.
		for _, flag := range []string{"enableVtpm", "enableIntegrityMonitoring"} {
			v, ok := r.Get("shieldedInstanceConfig", flag)
			if b, isBool := v.(bool); ok && isBool && !b {
				out = append(out, finding{r.URN, fmt.Sprintf("instance %s turns shieldedInstanceConfig.%s off", r.Name, flag)})
			}
		}
	}
	return out
}

func checkIPForwarding(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		if v, _ := r.Get("canIpForward"); v == true {
			out = append(out, finding{r.URN, fmt.Sprintf("instance %s can forward IP packets (canIpForward true)", r.Name)})
		}
	}
	return out
}

func checkPublicIP(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		nics, _ := r.Get("networkInterfaces")
		for i := range asList(nics) {
			acs, _ := r.Get("networkInterfaces", i, "accessConfigs")
			if n := len(asList(acs)); n > 0 {
				out = append(out, finding{r.URN, fmt.Sprintf("instance %s has an external address (networkInterfaces[%d] has %d access config)", r.Name, i, n)})
			}
		}
	}
	return out
}

func checkPreemptible(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		pre, _ := r.Get("scheduling", "preemptible")
		model, _ := r.Get("scheduling", "provisioningModel")
		if pre != true || isUnknown(model) {
			continue
		}
		if m, _ := asString(model); m != "SPOT" {
			out = append(out, finding{r.URN, fmt.Sprintf("instance %s is preemptible (provisioningModel %q): Compute Engine stops it within 24 hours", r.Name, m)})
		}
	}
	return out
}

func checkStartupScriptField(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeInstance) {
		v, ok := r.Get("metadataStartupScript")
		if str, _ := asString(v); ok && str != "" {
			out = append(out, finding{r.URN, fmt.Sprintf("instance %s sets metadataStartupScript: every change to the script would replace the VM", r.Name)})
		}
	}
	return out
}
