// Package policy holds dify-gcp's security and design rules as code: CIS Google
// Cloud Foundations items that apply to one VM behind Cloud Run, and the
// lessons of DESIGN.md that the program must keep (no preemptible VM, explicit
// public or private access, one timeout for proxy and Cloud Run, protected and
// snapshotted data, declarative backup retention).
//
// The rules judge a neutral model of a stack (Stack, Resource) rather than any
// SDK's types, so one implementation runs in two places: the tests run them over
// the resource graph of every shipped stack file (FromGraph), and the CrossGuard
// policy pack in policy/pack runs them during `pulumi preview` (FromAnalyzer).
// The package does not import pulumi-gcp: the rules read resources by type
// token and property name, exactly as the engine hands them to a policy pack.
package policy

import (
	"fmt"
	"sort"
)

// Severity says how bad a violation is; it orders the work, it does not decide
// whether a violation fails (every violation fails unless its policy records an
// exception).
type Severity string

// Severities, from worst to least.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Resource is one resource of a stack as a policy sees it.
type Resource struct {
	URN  string
	Type string // type token, such as gcp:compute/instance:Instance
	Name string // logical name
	// Props holds the resource's properties as plain values: bool, float64,
	// string, []any, map[string]any, or Unknown for what a preview cannot know.
	Props map[string]any
	// Protect is Pulumi's protect option: the engine refuses to delete the resource.
	Protect bool
	// PropertyDeps maps a top-level property to the URNs its value was computed
	// from.
	PropertyDeps map[string][]string
	// DependsOn lists the URNs the resource waits for besides its inputs
	// (Pulumi's dependsOn); the engine may list the input dependencies too.
	DependsOn []string
}

// Get returns the property at path (string keys into objects, int indexes into
// lists) and whether it is set. An Unknown along the way is returned as is.
func (r Resource) Get(path ...any) (any, bool) {
	return lookup(map[string]any(r.Props), path...)
}

// dependsOn reports whether the property prop was computed from the resource urn.
func (r Resource) dependsOn(prop, urn string) bool {
	for _, u := range r.PropertyDeps[prop] {
		if u == urn {
			return true
		}
	}
	return false
}

// Stack is every resource of one stack.
type Stack struct {
	Resources []Resource
}

// ByType returns the resources of one type token, in order.
func (s Stack) ByType(typ string) []Resource {
	var out []Resource
	for _, r := range s.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// ByURN returns the resource with that URN and whether it exists.
func (s Stack) ByURN(urn string) (Resource, bool) {
	for _, r := range s.Resources {
		if r.URN == urn {
			return r, true
		}
	}
	return Resource{}, false
}

// Exception records that the design accepts what a policy finds, and why. The
// policy still runs and its findings are still reported, so the exception stays
// visible in every preview; they just do not fail it.
type Exception struct {
	Reason string
}

// Policy is one rule.
type Policy struct {
	ID       string // stable, kebab-case; the CrossGuard policy name
	Title    string
	Severity Severity
	// Reference is the CIS Google Cloud Foundations item the rule implements,
	// or the DESIGN.md lesson it enforces.
	Reference string
	// Fix says how to make a violating stack pass; every message ends with it.
	Fix string
	// Exception, when set, turns findings into advisories.
	Exception *Exception
	// Local is true when the check judges each resource on its own, never
	// looking at another one. The policy pack then also runs it per resource,
	// before the resource is created, instead of only over the whole stack.
	Local bool

	check func(Stack) []finding
}

// finding is what a check reports: the resource and what is wrong with it.
type finding struct {
	urn, problem string
}

// Violation is one finding of one policy.
type Violation struct {
	PolicyID string
	URN      string
	// Message says what is wrong and how to fix it.
	Message string
	// Excepted holds the recorded exception's reason when the design accepts
	// the finding; such a violation is reported but does not fail.
	Excepted string
}

// Fails reports whether the violation must stop a deployment.
func (v Violation) Fails() bool { return v.Excepted == "" }

func (v Violation) String() string {
	s := fmt.Sprintf("[%s] %s: %s", v.PolicyID, v.URN, v.Message)
	if v.Excepted != "" {
		s += " (accepted: " + v.Excepted + ")"
	}
	return s
}

// Evaluate runs the policy over a stack.
func (p Policy) Evaluate(s Stack) []Violation {
	var out []Violation
	for _, f := range p.check(s) {
		v := Violation{PolicyID: p.ID, URN: f.urn, Message: f.problem + ". Fix: " + p.Fix}
		if p.Exception != nil {
			v.Excepted = p.Exception.Reason
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// Evaluate runs every policy over a stack, in the order given.
func Evaluate(s Stack, policies []Policy) []Violation {
	var out []Violation
	for _, p := range policies {
		out = append(out, p.Evaluate(s)...)
	}
	return out
}

// Failures returns the violations that fail a deployment.
func Failures(vs []Violation) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Fails() {
			out = append(out, v)
		}
	}
	return out
}

// Find returns the policy with an id.
func Find(policies []Policy, id string) (Policy, bool) {
	for _, p := range policies {
		if p.ID == id {
			return p, true
		}
	}
	return Policy{}, false
}
