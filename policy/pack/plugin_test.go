package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/policy"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// startPack builds this directory as the Go language host does (`go build` in
// the pack directory) and starts it as the engine does: it prints its port and
// serves the analyzer protocol. No Pulumi CLI is needed.
func startPack(t *testing.T) pulumirpc.AnalyzerClient {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pack")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	var addr string
	select {
	case p := <-port:
		addr = "127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		t.Fatal("the pack printed no port")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pulumirpc.NewAnalyzerClient(conn)
}

// marshal encodes properties as the engine sends them (unknowns and secrets kept).
func marshal(t *testing.T, props resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(props, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPackRunsAsAnAnalyzerPlugin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pack := startPack(t)
	dir, _ := os.Getwd()
	if _, err := pack.Handshake(ctx, &pulumirpc.AnalyzerHandshakeRequest{RootDirectory: &dir, ProgramDirectory: &dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := pack.ConfigureStack(ctx, &pulumirpc.AnalyzerStackConfigureRequest{Stack: "prod", Project: "dify-gcp", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	info, err := pack.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != Name || len(info.GetPolicies()) != len(policy.All()) {
		t.Errorf("analyzer %s with %d policies", info.GetName(), len(info.GetPolicies()))
	}

	// Per resource, before creation: the serial port is on; the service
	// account's email is unknown in the preview and must not be reported.
	vm := resource.NewPropertyMapFromMap(map[string]any{
		"metadata":       map[string]any{"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "serial-port-enable": "TRUE"},
		"serviceAccount": map[string]any{"email": resource.MakeComputed(resource.NewStringProperty(""))},
	})
	res, err := pack.Analyze(ctx, &pulumirpc.AnalyzeRequest{
		Type: "gcp:compute/instance:Instance", Urn: "urn:pulumi:prod::dify-gcp::gcp:compute/instance:Instance::vm", Name: "vm",
		Properties: marshal(t, vm),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range res.GetDiagnostics() {
		got = append(got, d.GetPolicyName())
	}
	if !slices.Equal(got, []string{"vm-serial-port-off"}) {
		t.Errorf("Analyze reported %q, want [vm-serial-port-off]", got)
	}

	// Over the whole stack: the shipped prod stack with its data disk
	// unprotected fails data-disk-protected; the exception stays advisory.
	var rs []*pulumirpc.AnalyzerResource
	for _, r := range analyzerResources(t, "prod") {
		protect := r.Options.Protect && r.Type != "gcp:compute/disk:Disk"
		deps := map[string]*pulumirpc.AnalyzerPropertyDependencies{}
		for k, us := range r.PropertyDependencies {
			deps[k] = &pulumirpc.AnalyzerPropertyDependencies{Urns: us}
		}
		rs = append(rs, &pulumirpc.AnalyzerResource{
			Type: r.Type, Urn: r.URN, Name: r.Name, Parent: r.Parent,
			Properties:           marshal(t, resource.ToResourcePropertyMap(r.Properties)),
			Options:              &pulumirpc.AnalyzerResourceOptions{Protect: protect},
			Dependencies:         r.Dependencies,
			PropertyDependencies: deps,
		})
	}
	res, err = pack.AnalyzeStack(ctx, &pulumirpc.AnalyzeStackRequest{Resources: rs})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, d := range res.GetDiagnostics() {
		got = append(got, d.GetPolicyName()+"/"+d.GetEnforcementLevel().String())
		if !strings.Contains(d.GetMessage(), "Fix: ") {
			t.Errorf("diagnostic without a fix: %s", d.GetMessage())
		}
	}
	if !slices.Equal(got, []string{"data-disk-protected/MANDATORY"}) {
		t.Errorf("AnalyzeStack reported %q, want [data-disk-protected/MANDATORY]", got)
	}
}
