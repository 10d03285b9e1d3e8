package plan

import (
	"slices"
	"testing"
)

func TestDependencyOrder(t *testing.T) {
	comps := []Component{
		{Type: "Service", Name: "s", DependsOn: []string{"APIs apis", "Host h", "Network n", "ProxyImage p"}},
		{Type: "Backups", Name: "b", DependsOn: []string{"APIs apis", "Host h"}},
		{Type: "Host", Name: "h", DependsOn: []string{"APIs apis", "Network n"}},
		{Type: "ProxyImage", Name: "p", DependsOn: []string{"APIs apis"}},
		{Type: "Network", Name: "n", DependsOn: []string{"APIs apis"}},
		{Type: "APIs", Name: "apis"},
	}
	want := []string{"APIs", "Network", "Host", "Backups", "ProxyImage", "Service"}
	// Any input order gives the same answer.
	for i := range comps {
		in := append(slices.Clone(comps[i:]), comps[:i]...)
		var got []string
		for _, c := range dependencyOrder(in) {
			got = append(got, c.Type)
		}
		if !slices.Equal(got, want) {
			t.Errorf("rotation %d: %v, want %v", i, got, want)
		}
	}
}

func TestShortType(t *testing.T) {
	for token, want := range map[string]string{
		"gcp:compute/instance:Instance":    "compute/instance",
		"docker:index/image:Image":         "docker/image",
		"dify-gcp:components:Host":         "Host",
		"gcp:projects/iAMMember:IAMMember": "projects/iAMMember",
		"gcp:cloudrunv2/service:Service":   "cloudrunv2/service",
		"not-a-token":                      "not-a-token",
	} {
		if got := shortType(token); got != want {
			t.Errorf("shortType(%q) = %q, want %q", token, got, want)
		}
	}
}
