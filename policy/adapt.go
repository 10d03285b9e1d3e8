package policy

import (
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// FromGraph turns a graph recorded under mocks (package graph) into the model:
// each resource's inputs, its protect option and property dependencies. In a
// preview graph, values computed from other resources are recorded as unknown
// and become Unknown here.
func FromGraph(g *graph.Graph) Stack {
	s := Stack{Resources: make([]Resource, 0, len(g.Resources))}
	for _, r := range g.Resources {
		s.Resources = append(s.Resources, Resource{
			URN: r.URN, Type: r.Type, Name: r.Name,
			Props:        plainMap(resource.FromResourcePropertyMap(r.Inputs)),
			Protect:      r.Protect,
			PropertyDeps: copyDeps(r.PropertyDeps),
			DependsOn:    append([]string(nil), r.DependsOn...),
		})
	}
	return s
}

// FromAnalyzer turns the resources the Pulumi engine hands a policy pack into
// the model. For a stack validation these are the planned outputs of every
// resource (unknown where a preview cannot know them); for a resource
// validation, one resource's inputs.
//
// policyx is experimental: its types may change with any release of the
// Pulumi SDK, which go.mod pins (v3.274.1); this adapter is the only place
// that reads them besides policy/pack.
func FromAnalyzer(rs []policyx.AnalyzerResource) Stack {
	s := Stack{Resources: make([]Resource, 0, len(rs))}
	for _, r := range rs {
		s.Resources = append(s.Resources, Resource{
			URN: r.URN, Type: r.Type, Name: r.Name,
			Props:        plainMap(r.Properties),
			Protect:      r.Options.Protect,
			PropertyDeps: copyDeps(r.PropertyDependencies),
			DependsOn:    append([]string(nil), r.Dependencies...),
		})
	}
	return s
}

func copyDeps(in map[string][]string) map[string][]string {
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = append([]string(nil), v...)
	}
	return out
}
