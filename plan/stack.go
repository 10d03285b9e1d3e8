package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ForStack runs program for the stack file Pulumi.<stack>.yaml in dir and
// returns its plan. A configuration the program refuses is an error carrying
// every problem, exactly as `pulumi up` would report it.
func ForStack(dir, stack string, program pulumi.RunFunc) (*Plan, error) {
	return ForStackWith(dir, stack, nil, program)
}

// ForStackWith is ForStack with some keys of the stack file changed (set,
// namespaced; "" removes a key), as `pulumi config set` would before an
// update: what-if plans, and the variants.
func ForStackWith(dir, stack string, set map[string]string, program pulumi.RunFunc) (*Plan, error) {
	project, raw, secrets, err := graph.StackConfig(dir, stack)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	for k, v := range set {
		if v == "" {
			delete(raw, k)
		} else {
			raw[k] = v
		}
	}
	cfg, err := config.Load(stack, func(k string) (string, bool) { v, ok := raw[k]; return v, ok },
		config.SecretKeys(func(k string) bool { return slices.Contains(secrets, k) }))
	if err != nil {
		return nil, fmt.Errorf("plan: stack %s: %w", stack, err)
	}
	g, err := graph.Run(program, project, stack, raw, graph.Options{SecretKeys: secrets})
	if err != nil {
		return nil, fmt.Errorf("plan: stack %s: %w", stack, err)
	}
	p := Build(g, cfg)
	if len(set) > 0 {
		p.Overrides = maps.Clone(set)
	}
	return p, nil
}

// Variant is a shipped stack file with a few keys changed: a configuration a
// team would run, planned and reviewed like the stacks themselves but without
// a stack file of its own (a stack file would be a real stack). Its plan is
// committed in docs/plans as NAME.{txt,json,mmd}.
type Variant struct {
	Name        string
	Base        string            // the stack file it starts from
	Set         map[string]string // the keys it changes
	Description string
}

// Variants are the committed variants: prod on the managed data tier, so
// reviewers see what the tier adds and costs next to prod itself.
func Variants() []Variant {
	return []Variant{{
		Name: "prod-managed", Base: "prod",
		Description: "prod with its state in Cloud SQL (REGIONAL), Memorystore (STANDARD_HA) and a files bucket",
		Set: map[string]string{
			"dify-gcp:dataTier":                 "managed",
			"dify-gcp:databaseHighAvailability": "true",
			"dify-gcp:redisTier":                "STANDARD_HA",
		},
	}}
}

// FindVariant returns the variant of that name.
func FindVariant(name string) (Variant, bool) {
	for _, v := range Variants() {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// ForVariant plans a variant.
func ForVariant(dir string, v Variant, program pulumi.RunFunc) (*Plan, error) {
	p, err := ForStackWith(dir, v.Base, v.Set, program)
	if err != nil {
		return nil, fmt.Errorf("plan: variant %s: %w", v.Name, err)
	}
	p.Variant = v.Name
	return p, nil
}

// overridesText renders the changed keys for the table's header.
func overridesText(set map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(set)) {
		parts = append(parts, k+"="+set[k])
	}
	return strings.Join(parts, ", ")
}
