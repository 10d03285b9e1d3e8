// Package plan turns the desired state of a stack, as recorded by package graph,
// into something a reviewer reads: every resource with its settings, protection
// and dependencies, the stack outputs, warnings and a monthly cost estimate. It
// is the offline counterpart of `pulumi preview`: no credentials, no plugins.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Plan is the reviewable desired state of one stack.
type Plan struct {
	Stack string `json:"stack"`
	// Variant names the variant planned (plan.Variants), Overrides the keys
	// changed from the stack file; both empty for a stack file as it is.
	Variant    string            `json:"variant,omitempty"`
	Overrides  map[string]string `json:"overrides,omitempty"`
	Project    string            `json:"project"`
	Components []Component       `json:"components"`
	Outputs    []Output          `json:"outputs"`
	Warnings   []string          `json:"warnings"`
	Cost       Estimate          `json:"cost"`
}

// Component groups the resources one ComponentResource created.
type Component struct {
	Type      string     `json:"type"` // short type, such as Host
	Name      string     `json:"name"`
	DependsOn []string   `json:"dependsOn,omitempty"` // other components it waits for
	Resources []Resource `json:"resources"`
}

// Resource is one cloud resource as a reviewer sees it.
type Resource struct {
	Type      string            `json:"type"` // short type, such as compute/instance
	Name      string            `json:"name"`
	Label     string            `json:"-"` // how dependencies name it: unique in the plan
	Protected bool              `json:"protected,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
	Settings  map[string]string `json:"settings"`
}

// Output is one stack output, with references in place of values only known
// after deployment.
type Output struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Build makes the plan of g, whose configuration is cfg.
func Build(g *graph.Graph, cfg *config.Config) *Plan {
	b := builder{g: g, symbols: symbolTable(g.Symbols)}
	p := &Plan{Stack: g.Stack, Project: cfg.Project, Warnings: Warnings(cfg), Cost: EstimateFor(cfg)}

	// Children sorted by type and name; components ordered after what they
	// wait for (see dependencyOrder). Registration order cannot serve: the SDK
	// registers resources concurrently.
	children := map[string][]*graph.Resource{}
	for _, r := range g.Resources {
		if r.Custom {
			children[r.Parent] = append(children[r.Parent], r)
		}
	}
	var comps []*graph.Resource
	for _, r := range g.Resources {
		if !r.Custom {
			comps = append(comps, r)
		}
	}
	// A dependency is named by its logical name, qualified with its type when
	// two resources share the name (the VM and the service both carry the
	// stack's base name).
	uses := map[string]int{}
	for _, r := range g.Resources {
		if r.Custom {
			uses[r.Name]++
		}
	}
	label := func(r *graph.Resource) string {
		if uses[r.Name] > 1 {
			return shortType(r.Type) + " " + r.Name
		}
		return r.Name
	}
	owner := map[string]*graph.Resource{} // child URN -> component
	for _, c := range comps {
		for _, r := range children[c.URN] {
			owner[r.URN] = c
		}
	}
	for _, c := range comps {
		rs := children[c.URN]
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].Type != rs[j].Type {
				return shortType(rs[i].Type) < shortType(rs[j].Type)
			}
			return rs[i].Name < rs[j].Name
		})
		comp := Component{Type: shortType(c.Type), Name: c.Name}
		waits := map[string]bool{}
		for _, r := range rs {
			item := Resource{Type: shortType(r.Type), Name: r.Name, Label: label(r), Protected: r.Protect, Settings: b.settings(r)}
			deps := map[string]bool{}
			all := r.Dependencies()
			for _, u := range all {
				d := g.ByURN(u)
				if d == nil {
					continue
				}
				o := owner[u]
				if o != nil && o != c {
					waits[shortType(o.Type)+" "+o.Name] = true
				}
				// Waiting for every resource of another component (such as
				// every API) reads as waiting for that component.
				if o != nil && o != c && len(children[o.URN]) > 1 && containsAll(all, children[o.URN]) {
					deps[shortType(o.Type)+" "+o.Name] = true
				} else {
					deps[label(d)] = true
				}
			}
			item.DependsOn = slices.Sorted(maps.Keys(deps))
			comp.Resources = append(comp.Resources, item)
		}
		comp.DependsOn = slices.Sorted(maps.Keys(waits))
		p.Components = append(p.Components, comp)
	}
	p.Components = dependencyOrder(p.Components)

	names := make([]string, 0, len(g.Outputs))
	for k := range g.Outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o := g.Outputs[k]
		v := "<known after deployment>"
		switch {
		case o.Secret:
			v = "[secret]"
		case o.Known:
			v = b.text(fmt.Sprint(o.Value))
		}
		p.Outputs = append(p.Outputs, Output{Name: k, Value: v})
	}
	return p
}

// ResourceCount is the number of cloud resources in the plan.
func (p *Plan) ResourceCount() int {
	n := 0
	for _, c := range p.Components {
		n += len(c.Resources)
	}
	return n
}

// containsAll reports whether the sorted URNs in have every resource of rs.
func containsAll(in []string, rs []*graph.Resource) bool {
	for _, r := range rs {
		if _, ok := slices.BinarySearch(in, r.URN); !ok {
			return false
		}
	}
	return true
}

// shortType drops the provider and module noise from a type token:
// gcp:compute/instance:Instance -> compute/instance, dify-gcp:components:Host -> Host.
func shortType(token string) string {
	parts := strings.Split(token, ":")
	if len(parts) != 3 {
		return token
	}
	if parts[0] == "dify-gcp" {
		return parts[2]
	}
	mod := parts[1]
	if i := strings.Index(mod, "/"); i >= 0 {
		mod = mod[:i]
	}
	if mod == "index" { // a provider's top-level module: docker:index/image:Image
		mod = parts[0]
	}
	return mod + "/" + lowerFirst(parts[2])
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// dependencyOrder puts every component after the components it waits for,
// breaking ties by type and name, so the same program always reads the same.
func dependencyOrder(cs []Component) []Component {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Type != cs[j].Type {
			return cs[i].Type < cs[j].Type
		}
		return cs[i].Name < cs[j].Name
	})
	placed := map[string]bool{}
	out := make([]Component, 0, len(cs))
	for len(out) < len(cs) {
		progressed := false
		for _, c := range cs {
			key := c.Type + " " + c.Name
			if placed[key] || !allPlaced(c.DependsOn, placed) {
				continue
			}
			placed[key] = true
			out = append(out, c)
			progressed = true
			break // restart, so the earliest ready component goes next
		}
		if !progressed { // a cycle cannot happen in Pulumi; keep the rest as sorted
			for _, c := range cs {
				if !placed[c.Type+" "+c.Name] {
					placed[c.Type+" "+c.Name] = true
					out = append(out, c)
				}
			}
		}
	}
	return out
}

func allPlaced(keys []string, placed map[string]bool) bool {
	for _, k := range keys {
		if !placed[k] {
			return false
		}
	}
	return true
}

type builder struct {
	g       *graph.Graph
	symbols [][2]string // fake value -> reference, longest first
}

func symbolTable(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for v, ref := range m {
		out = append(out, [2]string{v, ref})
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i][0]) != len(out[j][0]) {
			return len(out[i][0]) > len(out[j][0])
		}
		return out[i][0] < out[j][0]
	})
	return out
}

// text replaces every made-up value with its reference, and shortens a long
// text (a script) to its size and digest: its content is reviewed where it is
// written, and the digest still changes in the plan when it does.
func (b *builder) text(s string) string {
	for _, sym := range b.symbols {
		s = strings.ReplaceAll(s, sym[0], sym[1])
	}
	if strings.Contains(s, "\n") || len(s) > 160 {
		sum := sha256.Sum256([]byte(s))
		return fmt.Sprintf("<text: %d lines, %d bytes, sha256:%s>", strings.Count(s, "\n")+1, len(s), hex.EncodeToString(sum[:])[:12])
	}
	return s
}

// settings flattens a resource's inputs to "path = value" pairs.
func (b *builder) settings(r *graph.Resource) map[string]string {
	out := map[string]string{}
	var walk func(path string, v resource.PropertyValue)
	walk = func(path string, v resource.PropertyValue) {
		switch {
		case v.IsNull():
		case v.IsSecret():
			out[path] = "[secret]"
		case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
			out[path] = "<known after deployment>"
		case v.IsOutput():
			walk(path, v.OutputValue().Element)
		case v.IsObject():
			obj := v.ObjectValue()
			if len(obj) == 0 {
				out[path] = "{}"
			}
			for k, e := range obj {
				if strings.HasPrefix(string(k), "__") {
					continue // provider bookkeeping such as __defaults
				}
				walk(join(path, string(k)), e)
			}
		case v.IsArray():
			arr := v.ArrayValue()
			if len(arr) == 0 {
				out[path] = "[]"
			}
			// Arrays of scalars read best on one line.
			if scalars(arr) {
				parts := make([]string, len(arr))
				for i, e := range arr {
					parts[i] = b.scalar(e)
				}
				out[path] = "[" + strings.Join(parts, ", ") + "]"
				return
			}
			for i, e := range arr {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		default:
			out[path] = b.scalar(v)
		}
	}
	walk("", resource.NewObjectProperty(r.Inputs))
	return out
}

func scalars(arr []resource.PropertyValue) bool {
	return !slices.ContainsFunc(arr, func(e resource.PropertyValue) bool { return e.IsObject() || e.IsArray() })
}

func (b *builder) scalar(v resource.PropertyValue) string {
	switch {
	case v.IsString():
		return b.text(v.StringValue())
	case v.IsNumber():
		return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64)
	case v.IsBool():
		return strconv.FormatBool(v.BoolValue())
	case v.IsSecret():
		return "[secret]"
	case v.IsComputed():
		return "<known after deployment>"
	}
	return b.text(fmt.Sprint(v.Mappable()))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
