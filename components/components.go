// Package components holds one Pulumi ComponentResource per concern of a Dify
// deployment: the project APIs, the network, the host VM, the backups bucket, the
// proxy image and the Cloud Run service. Each takes a narrow Args struct, never
// reads stack config, and exposes what others need as typed outputs, so the
// composition in package stack reads as the architecture itself.
package components

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// pkg is the first part of every component's type token.
const pkg = "dify-gcp:components:"

// childOptions returns the options for a component's children: parented to the
// component, and waiting for whatever the component itself was told to wait for.
// Pulumi does not pass dependsOn from a component down to its children, and the
// children are what must wait (for example, for the project APIs to be enabled).
func childOptions(parent pulumi.Resource, opts []pulumi.ResourceOption) ([]pulumi.ResourceOption, error) {
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("resource options: %w", err)
	}
	out := []pulumi.ResourceOption{pulumi.Parent(parent)}
	if len(ro.DependsOn) > 0 {
		out = append(out, pulumi.DependsOn(ro.DependsOn))
	}
	return out, nil
}

// with returns base plus extra, without aliasing base's backing array.
func with(base []pulumi.ResourceOption, extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	out := make([]pulumi.ResourceOption, 0, len(base)+len(extra))
	return append(append(out, base...), extra...)
}

// Labels are set on every labelled resource, so billing and inventory can tell
// one stack from another.
func Labels(stack string) pulumi.StringMap {
	return pulumi.StringMap{"app": pulumi.String("dify"), "stack": pulumi.String(stack), "managed-by": pulumi.String("pulumi")}
}
