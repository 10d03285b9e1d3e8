// Command pack is dify-gcp's CrossGuard policy pack. It serves the policies and
// the cloud rules of package policy to the Pulumi engine:
//
//	pulumi preview --policy-pack policy/pack
//
// Each policy has one implementation, in package policy; this program only
// adapts what the engine sends (policyx.AnalyzerResource) to the policy model
// and reports what the policies find. A policy that judges each resource on its
// own (Policy.Local) runs as a resource validation, so `pulumi up` stops before
// the offending resource is created; the others look across resources and run
// as a stack validation over the planned state of the whole stack. Findings
// of a policy with a recorded exception are advisory: shown, never failing.
//
// policyx is experimental (its API may change in any Pulumi SDK release); it is
// pinned with the SDK in go.mod (github.com/pulumi/pulumi/sdk/v3 v3.274.1), and
// this file and policy.FromAnalyzer are the only code that depends on it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/blang/semver"
	"github.com/dify-gcp/dify-gcp/policy"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Name and version identify the pack in the engine's reports.
const (
	Name    = "dify-gcp"
	Version = "1.0.0"
)

func main() {
	if err := policyx.Main(func(*pulumi.Context) (policyx.PolicyPack, error) { return Pack() }); err != nil {
		fmt.Fprintln(os.Stderr, "dify-gcp policy pack:", err)
		os.Exit(1)
	}
}

// Pack returns the policy pack: every security policy and cloud rule of
// package policy (policy.All), in order.
func Pack() (policyx.PolicyPack, error) {
	var ps []policyx.Policy
	for _, p := range policy.All() {
		ps = append(ps, adapt(p))
	}
	pack, err := policyx.NewPolicyPack(Name, semver.MustParse(Version), policyx.EnforcementLevelMandatory, ps)
	if err != nil {
		return nil, fmt.Errorf("policy pack %s: %w", Name, err)
	}
	return pack, nil
}

// adapt wraps one policy for the engine.
func adapt(p policy.Policy) policyx.Policy {
	level := policyx.EnforcementLevelMandatory
	if p.Exception != nil {
		level = policyx.EnforcementLevelAdvisory
	}
	if p.Local {
		return policyx.NewResourceValidationPolicy(p.ID, policyx.ResourceValidationPolicyArgs{
			Description:      Describe(p),
			EnforcementLevel: level,
			ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
				report(args.Manager, p.Evaluate(policy.FromAnalyzer([]policyx.AnalyzerResource{args.Resource})))
				return nil
			},
		})
	}
	return policyx.NewStackValidationPolicy(p.ID, policyx.StackValidationPolicyArgs{
		Description:      Describe(p),
		EnforcementLevel: level,
		ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
			report(args.Manager, p.Evaluate(policy.FromAnalyzer(args.Resources)))
			return nil
		},
	})
}

// Describe is the policy's description as the engine prints it above every
// violation: title, severity, reference and, for an excepted policy, why the
// design accepts its findings.
func Describe(p policy.Policy) string {
	d := fmt.Sprintf("%s [%s; %s]", p.Title, p.Severity, p.Reference)
	if p.Exception != nil {
		d += " Accepted exception: " + p.Exception.Reason + "."
	}
	return d
}

func report(m policyx.PolicyManager, vs []policy.Violation) {
	for _, v := range vs {
		m.ReportViolation(v.Message, v.URN)
	}
}
