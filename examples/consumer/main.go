// Command consumer is the Pulumi program another team writes to build on a
// dify-gcp stack. It reads the stack's outputs through a stack reference, by
// the names in package outputs (never by string literals, so a renamed output
// breaks the build instead of a deployment), and derives what the team needs:
//
//   - difyHealthCheckUrl: Dify's liveness endpoint behind the service URL, for
//     the team's uptime monitoring;
//   - difyEgressCidr: the VM's egress address as a /32, for the allowlist a
//     model provider or a partner's firewall keeps.
//
// It imports only package outputs and the Pulumi SDK, so a consumer does not
// pull in the Google Cloud provider to read a few strings. docs/consumers.md
// explains the permissions it needs.
package main

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"net/netip"
	"net/url"
	"strings"

	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// difyProject is the Pulumi project name of dify-gcp (its Pulumi.yaml).
const difyProject = "dify-gcp"

// Names of this program's own outputs.
const (
	HealthCheckURL = "difyHealthCheckUrl"
	EgressCIDR     = "difyEgressCidr"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		_, err := run(ctx)
		return err
	})
}

// Dify is what this program derives from the dify-gcp stack.
type Dify struct {
	HealthCheckURL pulumi.StringOutput
	EgressCIDR     pulumi.StringOutput
}

// run reads the configuration, references the dify-gcp stack and exports the
// derived values. It returns them so tests can check them.
func run(ctx *pulumi.Context) (*Dify, error) {
	// Read through ctx rather than package config, which would pull in a
	// dependency for two strings.
	org, ok := ctx.GetConfig(ctx.Project() + ":difyOrg")
	if !ok || org == "" {
		return nil, fmt.Errorf("consumer: no Pulumi organization for the dify-gcp stack: pulumi config set difyOrg ORG")
	}
	stack, ok := ctx.GetConfig(ctx.Project() + ":difyStack")
	if !ok || stack == "" {
		stack = "prod" // Pulumi.yaml's default
	}
	d, err := readDify(ctx, org+"/"+difyProject+"/"+stack)
	if err != nil {
		return nil, err
	}
	ctx.Export(HealthCheckURL, d.HealthCheckURL)
	ctx.Export(EgressCIDR, d.EgressCIDR)
	return d, nil
}

// readDify references the fully qualified stack ORG/dify-gcp/STACK and
// derives the consumer's values from its outputs.
func readDify(ctx *pulumi.Context, stackName string) (*Dify, error) {
	ref, err := pulumi.NewStackReference(ctx, stackName, nil)
	if err != nil {
		return nil, fmt.Errorf("consumer: reference %s: %w", stackName, err)
	}
	health := ref.GetStringOutput(pulumi.String(outputs.ServiceURL)).ApplyT(healthCheckURL).(pulumi.StringOutput)
	egress := ref.GetStringOutput(pulumi.String(outputs.ExternalAddress)).ApplyT(egressCIDR).(pulumi.StringOutput)
	return &Dify{HealthCheckURL: health, EgressCIDR: egress}, nil
}

// healthCheckURL appends Dify's ping path to the service URL. Monitoring an
// http URL or a path the producer did not mean would watch the wrong thing,
// so anything but a bare https origin is refused.
func healthCheckURL(serviceURL string) (string, error) {
	u, err := url.Parse(serviceURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return "", fmt.Errorf("consumer: stack output %s = %q is not an https origin", outputs.ServiceURL, serviceURL)
	}
	return "https://" + u.Host + topology.DifyHealthPath, nil
}

// egressCIDR turns the VM's external address into a single-address IPv4
// range, the form allowlists take.
func egressCIDR(address string) (string, error) {
	a, err := netip.ParseAddr(address)
	if err != nil || !a.Is4() {
		return "", fmt.Errorf("consumer: stack output %s = %q is not an IPv4 address", outputs.ExternalAddress, address)
	}
	return netip.PrefixFrom(a, 32).String(), nil
}
