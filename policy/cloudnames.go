package policy

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

var (
	serviceAccountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	bucketNameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*[a-z0-9]$`)
	rfc1035RE          = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	secretIDRE         = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	labelKeyRE         = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE       = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

// checkNames applies problem to the string property prop of every resource
// of type typ; an unknown or missing value is not judged.
func checkNames(typ, prop string, problem func(string) string) func(Stack) []finding {
	return func(s Stack) []finding {
		var out []finding
		for _, r := range s.ByType(typ) {
			v, ok := asString(r.Props[prop])
			if !ok {
				continue
			}
			if why := problem(v); why != "" {
				out = append(out, finding{r.URN, fmt.Sprintf("%s %s: %s %q %s", r.Type, r.Name, prop, v, why)})
			}
		}
		return out
	}
}

func serviceAccountIDProblem(id string) string {
	switch {
	case len(id) < 6 || len(id) > 30:
		return fmt.Sprintf("has %d characters; the IAM API wants 6-30", len(id))
	case !serviceAccountIDRE.MatchString(id):
		return "is not lowercase letters, digits and hyphens starting with a letter"
	}
	return ""
}

func bucketNameProblem(name string) string {
	switch {
	case len(name) < 3 || len(name) > 222:
		return fmt.Sprintf("has %d characters; bucket names have 3-63 (222 with dots)", len(name))
	case !strings.Contains(name, ".") && len(name) > 63:
		return fmt.Sprintf("has %d characters; a name without dots has at most 63", len(name))
	case !bucketNameRE.MatchString(name):
		return "may hold only lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	case strings.HasPrefix(name, "goog") || strings.Contains(name, "google") || strings.Contains(name, "g00gle"):
		return `may not start with "goog" or contain "google"`
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) > 63 {
			return "has a dot-separated part longer than 63 characters"
		}
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "may not be an IP address"
	}
	return ""
}

func runServiceNameProblem(name string) string {
	switch {
	case len(name) >= 50:
		return fmt.Sprintf("has %d characters; Cloud Run wants fewer than 50", len(name))
	case !rfc1035RE.MatchString(name):
		return "is not lowercase letters, digits and hyphens starting with a letter and not ending with a hyphen"
	}
	return ""
}

func secretIDProblem(id string) string {
	if !secretIDRE.MatchString(id) {
		return "is not 1-255 letters, digits, '_' and '-'"
	}
	return ""
}

// computeNamed are the types whose name property Compute Engine or Artifact
// Registry checks as an RFC 1035 label.
func computeNamed() map[string]string {
	return map[string]string{
		typeNetwork: "name", typeSubnetwork: "name", typeFirewall: "name", typeAddress: "name",
		typeDisk: "name", typeInstance: "name", typeResourcePolicy: "name", typeRepository: "repositoryId",
		typeGlobalAddress: "name",
	}
}

func checkComputeNames(s Stack) []finding {
	var out []finding
	for typ, prop := range computeNamed() {
		out = append(out, checkNames(typ, prop, func(n string) string {
			if !rfc1035RE.MatchString(n) {
				return fmt.Sprintf("is not an RFC 1035 label (lowercase letters, digits, hyphens; starts with a letter; at most 63 characters; has %d)", len(n))
			}
			return ""
		})(s)...)
	}
	return out
}

// checkLabels judges the labels map of every resource (a notification
// channel's labels are its settings, not resource labels).
func checkLabels(s Stack) []finding {
	var out []finding
	for _, r := range s.Resources {
		if r.Type == typeChannel {
			continue
		}
		labels, ok := r.Props["labels"].(map[string]any)
		if r.Type == typeSQLInstance { // Cloud SQL's are settings.userLabels
			labels, ok = must(r.Get("settings", "userLabels")).(map[string]any)
		}
		if !ok {
			continue
		}
		if len(labels) > 64 {
			out = append(out, finding{r.URN, fmt.Sprintf("%s %s has %d labels; at most 64 are allowed", r.Type, r.Name, len(labels))})
		}
		for k, v := range labels {
			if !labelKeyRE.MatchString(k) {
				out = append(out, finding{r.URN, fmt.Sprintf("%s %s: label key %q is not 1-63 lowercase letters, digits, '_' or '-' starting with a letter", r.Type, r.Name, k)})
			}
			if val, ok := asString(v); ok && !labelValueRE.MatchString(val) {
				out = append(out, finding{r.URN, fmt.Sprintf("%s %s: label %s = %q is not at most 63 lowercase letters, digits, '_' or '-'", r.Type, r.Name, k, val)})
			}
		}
	}
	return out
}
