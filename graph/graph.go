// Package graph runs a Pulumi program in-process under the SDK's mocks and
// records the desired state it declares: every resource with its inputs,
// options and dependencies, and the stack outputs. It needs no credentials, no
// provider plugins and no network, so the tests and the offline plan see exactly
// what `pulumi up` would be asked to create.
package graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Resource is one registered resource, component or custom.
type Resource struct {
	URN    string
	Type   string // type token, such as gcp:compute/instance:Instance
	Name   string // logical name
	Parent string // parent URN; empty for children of the stack
	Custom bool   // false for components
	Inputs resource.PropertyMap

	Protect       bool
	IgnoreChanges []string            // properties Pulumi leaves as they are in the cloud
	DependsOn     []string            // explicit dependsOn URNs
	PropertyDeps  map[string][]string // input property -> URNs it was computed from
}

// Output is one stack output after the program ran.
type Output struct {
	Value  any
	Known  bool // false in a preview when the value comes from a resource not yet created
	Secret bool
	// From lists the URNs of the resources the value came from.
	From []string
}

// Graph is the desired state of one stack.
type Graph struct {
	Project, Stack string
	Resources      []*Resource // in the order the mocks saw them, which varies: the SDK registers concurrently
	Outputs        map[string]Output
	// Symbols maps each value the fake cloud made up to the reference a reader
	// should see instead, such as "<address of dify-dev-internal-ip>".
	Symbols map[string]string
	// Invokes are the provider functions the program called (such as
	// gcp:organizations/getProject:getProject), sorted, each once: they
	// reach Google's APIs too, before any resource exists.
	Invokes []string
	// Reads are the resources the program read rather than registered (the
	// stack reference to its own last deployment), as TYPE::NAME: they
	// change nothing and are not part of Resources.
	Reads []string
}

// Options changes how the program is run.
type Options struct {
	// Preview runs the program as `pulumi preview` does: values only a cloud
	// provider can know (addresses, URLs, digests) stay unknown.
	Preview bool
	// SecretKeys are the config keys the stack holds encrypted, as
	// StackConfig reports them (ctx.IsConfigSecret answers from these).
	SecretKeys []string
	// Previous are the stack outputs of the last deployment, as a stack
	// reference to the stack itself reads them; nil for a stack never
	// deployed.
	Previous map[string]any
}

// Run executes program for project and stack with the given config (keys
// namespaced, values as Pulumi passes them: arrays and objects as JSON). The
// graph is returned even when the program fails, holding what it registered.
func Run(program pulumi.RunFunc, project, stack string, config map[string]string, opts Options) (*Graph, error) {
	cloudProject := config["gcp:project"]
	if cloudProject == "" {
		cloudProject = project
	}
	m := &mocks{project: project, stack: stack, cloudProject: cloudProject, preview: opts.Preview, symbols: map[string]string{}, previous: opts.Previous}
	var exports map[string]pulumi.Input
	var outputs map[string]Output
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := program(ctx); err != nil {
			return err
		}
		exports = ctx.GetCurrentExportMap()
		var err error
		outputs, err = await(ctx.Context(), exports)
		return err
	}, pulumi.WithMocks(project, stack, m), func(ri *pulumi.RunInfo) {
		ri.Config = config
		ri.ConfigSecretKeys = opts.SecretKeys
		ri.DryRun = opts.Preview
	})
	// The graph comes back even with an error: what was registered before the
	// failure (nothing, for a config error) is part of the answer.
	return &Graph{Project: project, Stack: stack, Resources: m.resources, Outputs: outputs, Symbols: m.symbols,
		Invokes: slices.Sorted(maps.Keys(m.invokes)), Reads: m.reads}, err
}

func await(ctx context.Context, exports map[string]pulumi.Input) (map[string]Output, error) {
	out := make(map[string]Output, len(exports))
	for name, in := range exports {
		r, err := internals.UnsafeAwaitOutput(ctx, pulumi.ToOutput(in))
		if err != nil {
			return nil, fmt.Errorf("graph: output %s: %w", name, err)
		}
		o := Output{Value: r.Value, Known: r.Known, Secret: r.Secret}
		for _, d := range r.Dependencies {
			u, err := internals.UnsafeAwaitOutput(ctx, d.URN())
			if err != nil {
				return nil, fmt.Errorf("graph: output %s: dependency: %w", name, err)
			}
			if u.Known {
				o.From = append(o.From, fmt.Sprint(u.Value))
			}
		}
		sort.Strings(o.From)
		out[name] = o
	}
	return out, nil
}

// ByType returns the resources of one type token, in registration order.
func (g *Graph) ByType(typ string) []*Resource {
	var out []*Resource
	for _, r := range g.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the resource of a type and logical name, or nil.
func (g *Graph) Find(typ, name string) *Resource {
	for _, r := range g.Resources {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	return nil
}

// ByURN returns the resource with that URN, or nil.
func (g *Graph) ByURN(urn string) *Resource {
	for _, r := range g.Resources {
		if r.URN == urn {
			return r
		}
	}
	return nil
}

// Dependencies returns the URNs a resource waits for: its explicit dependsOn
// and every resource its inputs were computed from, sorted, without duplicates.
func (r *Resource) Dependencies() []string {
	set := map[string]bool{}
	for _, u := range r.DependsOn {
		set[u] = true
	}
	for _, us := range r.PropertyDeps {
		for _, u := range us {
			set[u] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// mocks records every registration and answers with a fake cloud's values.
type mocks struct {
	project, stack string
	cloudProject   string // the Google Cloud project the fake cloud answers for
	preview        bool

	previous map[string]any // the last deployment's outputs, for stack references

	mu        sync.Mutex
	resources []*Resource
	reads     []string
	symbols   map[string]string
	invokes   map[string]bool
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if args.ReadRPC != nil {
		return m.read(args)
	}
	rpc := args.RegisterRPC
	r := &Resource{
		Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs,
		PropertyDeps: map[string][]string{},
	}
	if rpc != nil {
		// The mock monitor decodes inputs without unknowns, so in a preview a
		// value computed from another resource would vanish instead of reading
		// "unknown". Decode the request again, keeping them.
		if in, err := plugin.UnmarshalProperties(rpc.GetObject(), plugin.MarshalOptions{
			KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
		}); err == nil {
			r.Inputs = in
		}
		r.Parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.IgnoreChanges = append(r.IgnoreChanges, rpc.GetIgnoreChanges()...)
		r.DependsOn = append(r.DependsOn, rpc.GetDependencies()...)
		for k, deps := range rpc.GetPropertyDependencies() {
			if len(deps.GetUrns()) > 0 {
				r.PropertyDeps[k] = append([]string(nil), deps.GetUrns()...)
			}
		}
	}
	r.URN = urn(m.project, m.stack, r.Parent, r.Type, r.Name)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resources = append(m.resources, r)
	if !args.Custom {
		return "", resource.PropertyMap{}, nil
	}
	id, state := fakeState(m.cloudProject, args.TypeToken, args.Name, args.Inputs, m.preview, m.symbols, len(m.resources))
	return id, state, nil
}

// read answers a resource the program reads. The only one it reads is a
// stack reference to itself, answered from Options.Previous the way the
// engine's built-in provider answers: name, outputs and the names of the
// secret ones.
func (m *mocks) read(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads = append(m.reads, args.TypeToken+"::"+args.Name)
	if args.TypeToken != "pulumi:pulumi:StackReference" {
		return "", nil, fmt.Errorf("graph: no fake for reading %s", args.TypeToken)
	}
	name := args.Inputs["name"].StringValue()
	if want := "organization/" + m.project + "/" + m.stack; name != want {
		return "", nil, fmt.Errorf("graph: stack reference to %q; only the stack itself (%s) is known here", name, want)
	}
	return name, resource.PropertyMap{
		"name":              resource.NewStringProperty(name),
		"outputs":           resource.NewObjectProperty(resource.NewPropertyMapFromMap(m.previous)),
		"secretOutputNames": resource.NewArrayProperty(nil),
	}, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.invokes == nil {
		m.invokes = map[string]bool{}
	}
	m.invokes[args.Token] = true
	return fakeCall(m.cloudProject, args, m.symbols)
}

// Get returns the input at a property path such as
// "template.containers[0].image", unwrapping secrets, and whether it is set.
func (r *Resource) Get(path string) (resource.PropertyValue, bool) {
	p, err := resource.ParsePropertyPath(path)
	if err != nil {
		return resource.PropertyValue{}, false
	}
	v, ok := p.Get(resource.NewObjectProperty(r.Inputs))
	for ok && v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v, ok && !v.IsNull()
}

// String returns the string input at path, or "" when it is not a string.
func (r *Resource) String(path string) string {
	v, ok := r.Get(path)
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Fake returns the value the fake cloud made up for a reference such as
// "<address of dify-dev-internal-ip>", or "" if it made none.
func (g *Graph) Fake(ref string) string {
	for v, r := range g.Symbols {
		if r == ref {
			return v
		}
	}
	return ""
}
