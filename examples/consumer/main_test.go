package main

import (
	"context"
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"strings"
	"sync"
	"testing"

	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// fakeStack plays the dify-gcp stack behind the reference. A stack reference
// is a read of the resource pulumi:pulumi:StackReference, whose state holds
// the stack's exports under "outputs" (sdk go/pulumi/stack_reference.go).
type fakeStack struct {
	outputs map[string]string

	mu   sync.Mutex
	read []string // stack names referenced
}

func (f *fakeStack) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if args.TypeToken != "pulumi:pulumi:StackReference" {
		return "", nil, fmt.Errorf("the consumer created %s %s: it should only read the dify-gcp stack", args.TypeToken, args.Name)
	}
	f.mu.Lock()
	f.read = append(f.read, args.ID)
	f.mu.Unlock()
	outs := resource.PropertyMap{}
	for k, v := range f.outputs {
		outs[resource.PropertyKey(k)] = resource.NewProperty(v)
	}
	return args.ID, resource.PropertyMap{
		"name":    resource.NewProperty(args.ID),
		"outputs": resource.NewProperty(outs),
	}, nil
}

func (f *fakeStack) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("the consumer called %s: it should only read the dify-gcp stack", args.Token)
}

// prodOutputs is what a dify-gcp prod stack exports, keyed by the contract's
// names: every output, as a real stack has them all.
func prodOutputs() map[string]string {
	m := map[string]string{}
	for _, o := range outputs.All() {
		m[o.Name] = o.Example
	}
	m[outputs.ServiceURL] = "https://dify-prod-abc123-an.a.run.app"
	m[outputs.ExternalAddress] = "34.84.1.2"
	return m
}

// consume runs the consumer program against stack with the given config and
// returns its derived values, awaited.
func consume(t *testing.T, stack *fakeStack, cfg map[string]string) (health, egress string, err error) {
	t.Helper()
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		d, err := run(ctx)
		if err != nil {
			return err
		}
		h, err := internals.UnsafeAwaitOutput(ctx.Context(), d.HealthCheckURL)
		if err != nil {
			return err
		}
		e, err := internals.UnsafeAwaitOutput(ctx.Context(), d.EgressCIDR)
		if err != nil {
			return err
		}
		health, _ = h.Value.(string)
		egress, _ = e.Value.(string)
		return nil
	}, pulumi.WithMocks("dify-consumer", "monitoring", stack), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
	})
	return health, egress, err
}

// TestConsumerDerivesFromTheContract: the consumer references
// ORG/dify-gcp/STACK and derives its values from the outputs named in package
// outputs.
func TestConsumerDerivesFromTheContract(t *testing.T) {
	for _, tc := range []struct {
		cfg       map[string]string
		wantStack string
	}{
		{map[string]string{"dify-consumer:difyOrg": "acme"}, "acme/dify-gcp/prod"},
		{map[string]string{"dify-consumer:difyOrg": "acme", "dify-consumer:difyStack": "dev"}, "acme/dify-gcp/dev"},
	} {
		t.Run(tc.wantStack, func(t *testing.T) {
			stack := &fakeStack{outputs: prodOutputs()}
			health, egress, err := consume(t, stack, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(stack.read) != 1 || stack.read[0] != tc.wantStack {
				t.Errorf("referenced %v, want [%s]", stack.read, tc.wantStack)
			}
			if want := "https://dify-prod-abc123-an.a.run.app/console/api/ping"; health != want {
				t.Errorf("%s = %q, want %q", HealthCheckURL, health, want)
			}
			if want := "34.84.1.2/32"; egress != want {
				t.Errorf("%s = %q, want %q", EgressCIDR, egress, want)
			}
		})
	}
}

// TestConsumerReadsExactlyTheseOutputs: removing any one output the consumer
// depends on fails it, naming the output, so the test above cannot pass on
// values read from the wrong names.
func TestConsumerReadsExactlyTheseOutputs(t *testing.T) {
	for _, name := range []string{outputs.ServiceURL, outputs.ExternalAddress} {
		t.Run(name, func(t *testing.T) {
			outs := prodOutputs()
			delete(outs, name)
			_, _, err := consume(t, &fakeStack{outputs: outs}, map[string]string{"dify-consumer:difyOrg": "acme"})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q does not exist", name)) {
				t.Errorf("without output %s: err = %v, want it named as missing", name, err)
			}
		})
	}
}

// TestConsumerRefusesOddValues: a consumer that monitors the wrong URL or
// allowlists a range instead of one address fails loudly instead.
func TestConsumerRefusesOddValues(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{outputs.ServiceURL, "http://dify-prod-abc123-an.a.run.app", "not an https origin"},
		{outputs.ServiceURL, "https://dify.example.com/some/path", "not an https origin"},
		{outputs.ExternalAddress, "34.84.1.0/24", "not an IPv4 address"},
		{outputs.ExternalAddress, "2001:db8::1", "not an IPv4 address"},
	} {
		outs := prodOutputs()
		outs[tc.name] = tc.value
		_, _, err := consume(t, &fakeStack{outputs: outs}, map[string]string{"dify-consumer:difyOrg": "acme"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %q: err = %v, want %q", tc.name, tc.value, err, tc.want)
		}
	}
	// A trailing slash is still the origin.
	if got, err := healthCheckURL("https://dify.example.com/"); err != nil || got != "https://dify.example.com"+topology.DifyHealthPath {
		t.Errorf("healthCheckURL with a trailing slash = %q, %v", got, err)
	}
}

// TestConsumerNeedsTheOrganization: without difyOrg the program stops before
// referencing anything, and says which key to set.
func TestConsumerNeedsTheOrganization(t *testing.T) {
	stack := &fakeStack{outputs: prodOutputs()}
	_, _, err := consume(t, stack, map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "pulumi config set difyOrg") {
		t.Errorf("err = %v, want the missing difyOrg explained", err)
	}
	if len(stack.read) != 0 {
		t.Errorf("referenced %v without an organization", stack.read)
	}
}

// TestConsumerPreviewBeforeTheOutputsExist: in a preview against a stack that
// does not export an output yet, the value is unknown, not an error, so the
// consumer can be previewed while the producer is being deployed.
func TestConsumerPreviewBeforeTheOutputsExist(t *testing.T) {
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		d, err := run(ctx)
		if err != nil {
			return err
		}
		h, err := internals.UnsafeAwaitOutput(context.Background(), d.HealthCheckURL)
		if err != nil {
			return err
		}
		if h.Known {
			return fmt.Errorf("health check URL known (%v) from a stack without outputs", h.Value)
		}
		return nil
	}, pulumi.WithMocks("dify-consumer", "monitoring", &fakeStack{outputs: map[string]string{}}), func(ri *pulumi.RunInfo) {
		ri.Config = map[string]string{"dify-consumer:difyOrg": "acme"}
		ri.DryRun = true
	})
	if err != nil {
		t.Fatal(err)
	}
}
