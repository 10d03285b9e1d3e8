package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/policy"
	"github.com/dify-gcp/dify-gcp/stack"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// The engine loads this file before it starts the pack.
func TestPulumiPolicyYAML(t *testing.T) {
	proj, err := workspace.LoadPolicyPack("PulumiPolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if proj.Runtime.Name() != "go" {
		t.Errorf("runtime %q, want go", proj.Runtime.Name())
	}
}

// The pack serves every policy of package policy, under its id, as a resource
// validation when it is local, and advisory when it records an exception.
func TestPackServesEveryPolicy(t *testing.T) {
	pack, err := Pack()
	if err != nil {
		t.Fatal(err)
	}
	if pack.Name() != Name || pack.Version().String() != Version {
		t.Errorf("pack %s %s", pack.Name(), pack.Version())
	}
	ps := policy.All()
	if len(pack.Policies()) != len(ps) {
		t.Fatalf("%d policies served, %d defined", len(pack.Policies()), len(ps))
	}
	for i, served := range pack.Policies() {
		p := ps[i]
		if served.Name() != p.ID || served.Description() != Describe(p) {
			t.Errorf("policy %d served as %s %q", i, served.Name(), served.Description())
		}
		_, perResource := served.(policyx.ResourceValidationPolicy)
		if perResource != p.Local {
			t.Errorf("%s: per resource %v, local %v", p.ID, perResource, p.Local)
		}
		want := policyx.EnforcementLevelMandatory
		if p.Exception != nil {
			want = policyx.EnforcementLevelAdvisory
		}
		if served.EnforcementLevel() != want {
			t.Errorf("%s: enforcement %v, want %v", p.ID, served.EnforcementLevel(), want)
		}
	}
}

// diagnostic is one violation the pack reported to the engine.
type diagnostic struct {
	policy  string
	level   policyx.EnforcementLevel
	urn     string
	message string
}

// manager records what a policy reports.
type manager struct {
	policy policyx.Policy
	out    *[]diagnostic
}

func (m manager) ReportViolation(message, urn string) {
	*m.out = append(*m.out, diagnostic{m.policy.Name(), m.policy.EnforcementLevel(), urn, message})
}

// analyze runs the pack as the engine does: each resource validation on every
// resource, each stack validation once on all of them.
func analyze(t *testing.T, rs []policyx.AnalyzerResource) []diagnostic {
	t.Helper()
	pack, err := Pack()
	if err != nil {
		t.Fatal(err)
	}
	var out []diagnostic
	ctx := context.Background()
	for _, p := range pack.Policies() {
		m := manager{p, &out}
		switch p := p.(type) {
		case policyx.ResourceValidationPolicy:
			for _, r := range rs {
				if err := p.Validate(ctx, policyx.ResourceValidationArgs{Manager: m, Resource: r}); err != nil {
					t.Fatal(err)
				}
			}
		case policyx.StackValidationPolicy:
			if err := p.Validate(ctx, policyx.StackValidationArgs{Manager: m, Resources: rs}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// analyzerResources presents a shipped stack the way the engine presents a
// deployment to a policy pack. Only a deployed (not previewed) graph is used:
// the mocks drop unknown values, where the engine would send them as unknown.
func analyzerResources(t *testing.T, name string) []policyx.AnalyzerResource {
	t.Helper()
	project, cfg, _, err := graph.StackConfig("../..", name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := graph.Run(stack.Program, project, name, cfg, graph.Options{})
	if err != nil {
		t.Fatalf("stack %s: %v", name, err)
	}
	var rs []policyx.AnalyzerResource
	for _, r := range g.Resources {
		rs = append(rs, policyx.AnalyzerResource{
			Type: r.Type, URN: r.URN, Name: r.Name, Parent: r.Parent,
			Properties:           resource.FromResourcePropertyMap(r.Inputs),
			Options:              pulumi.ResourceOptions{Protect: r.Protect},
			Dependencies:         r.Dependencies(),
			PropertyDependencies: r.PropertyDeps,
		})
	}
	return rs
}

func TestPackPassesShippedStacks(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		t.Run(name, func(t *testing.T) {
			ds := analyze(t, analyzerResources(t, name))
			if len(ds) != 1 || ds[0].policy != "vm-no-public-ip" || ds[0].level != policyx.EnforcementLevelAdvisory {
				t.Errorf("want only the advisory vm-no-public-ip, got %+v", ds)
			}
		})
	}
}

func TestPackFailsBrokenStack(t *testing.T) {
	rs := analyzerResources(t, "prod")
	for i := range rs {
		switch rs[i].Type {
		case "gcp:compute/disk:Disk": // a stack policy
			rs[i].Options.Protect = false
		case "gcp:compute/instance:Instance": // a resource policy
			sa := rs[i].Properties.Get("serviceAccount").AsMap()
			rs[i].Properties = rs[i].Properties.Set("serviceAccount",
				property.New(sa.Set("email", property.New("123456789012-compute@developer.gserviceaccount.com"))))
		}
	}
	var failing []string
	for _, d := range analyze(t, rs) {
		if d.level == policyx.EnforcementLevelMandatory {
			failing = append(failing, d.policy)
			if !strings.Contains(d.message, "Fix: ") || !strings.HasPrefix(d.urn, "urn:pulumi:prod::") {
				t.Errorf("diagnostic %+v", d)
			}
		}
	}
	slices.Sort(failing)
	if want := []string{"data-disk-protected", "vm-dedicated-service-account"}; !slices.Equal(failing, want) {
		t.Errorf("failing policies %q, want %q", failing, want)
	}
}

// During a preview the engine sends what the cloud has not computed yet as
// unknown, and secrets as secrets: neither may fail a policy.
func TestPackReadsUnknownsAndSecrets(t *testing.T) {
	computed := property.New(property.Computed)
	api := "urn:pulumi:dev::dify-gcp::gcp:projects/service:Service::compute"
	rs := []policyx.AnalyzerResource{{
		Type: "gcp:projects/service:Service", URN: api, Name: "compute",
		Properties: property.NewMap(map[string]property.Value{"service": property.New("compute.googleapis.com")}),
	}, {
		Type: "gcp:compute/instance:Instance", URN: "urn:pulumi:dev::dify-gcp::gcp:compute/instance:Instance::vm", Name: "vm",
		Dependencies: []string{api},
		Properties: property.NewMap(map[string]property.Value{
			"serviceAccount": property.New(map[string]property.Value{"email": computed}),
			"metadata": property.New(map[string]property.Value{
				"enable-oslogin":         property.New("TRUE").WithSecret(true),
				"block-project-ssh-keys": computed,
				"startup-script":         computed.WithSecret(true),
			}),
		}),
	}}
	if ds := analyze(t, rs); len(ds) != 0 {
		t.Errorf("unknown or secret values reported: %+v", ds)
	}
	s := policy.FromAnalyzer(rs)
	if v, _ := s.Resources[1].Get("metadata", "enable-oslogin"); v != "TRUE" {
		t.Errorf("secret read as %v", v)
	}
	if v, _ := s.Resources[1].Get("serviceAccount", "email"); v != (policy.Unknown{}) {
		t.Errorf("computed read as %v", v)
	}
}
