package plan

import (
	"fmt"
	"slices"

	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ForStack runs program for the stack file Pulumi.<stack>.yaml in dir and
// returns its plan. A configuration the program refuses is an error carrying
// every problem, exactly as `pulumi up` would report it.
func ForStack(dir, stack string, program pulumi.RunFunc) (*Plan, error) {
	project, raw, secrets, err := graph.StackConfig(dir, stack)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
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
	return Build(g, cfg), nil
}
