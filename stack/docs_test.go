package stack_test

import (
	"os"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/components"
	"github.com/dify-gcp/dify-gcp/topology"
)

// TestDocsListDeployerRoles: the roles an operator grants by hand (deploy.md)
// and the ones CI's deployer gets (ci.md) are the ones the program needs.
func TestDocsListDeployerRoles(t *testing.T) {
	for _, doc := range []string{"../docs/deploy.md", "../docs/ci.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range components.DeployerRoles() {
			if !strings.Contains(string(b), role) {
				t.Errorf("%s does not list %s, which `pulumi up` needs (components.DeployerRoles)", doc, role)
			}
		}
	}
}

// TestDocsListManagedTierRoles: the roles a managed-tier deployer needs
// besides are listed wherever a deployer is set up.
func TestDocsListManagedTierRoles(t *testing.T) {
	for _, doc := range []string{"../docs/deploy.md", "../docs/ci.md", "../docs/managed.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range components.ManagedTierDeployerRoles() {
			if !strings.Contains(string(b), role) {
				t.Errorf("%s does not list %s, which a managed-tier `pulumi up` needs (components.ManagedTierDeployerRoles)", doc, role)
			}
		}
	}
}

// TestDeployStartsWithTheBootstrap: docs/deploy.md opens with the one command
// a fresh project needs before the program can run, enabling exactly what
// the program cannot (topology.BootstrapAPIs) and granting the deployer's
// roles; ci.md's set-up enables the same APIs.
func TestDeployStartsWithTheBootstrap(t *testing.T) {
	b, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "```sh\n")
	if start < 0 || strings.Contains(doc[:start], "\n## Before") {
		t.Fatal("docs/deploy.md does not start with the bootstrap command")
	}
	block := doc[start : start+strings.Index(doc[start+5:], "```")+5]
	if !strings.Contains(block, "gcloud services enable "+strings.Join(topology.BootstrapAPIs(), " ")) {
		t.Errorf("the bootstrap block does not enable %q:\n%s", topology.BootstrapAPIs(), block)
	}
	for _, role := range components.DeployerRoles() {
		if !strings.Contains(block, role) {
			t.Errorf("the bootstrap block does not grant %s", role)
		}
	}
	ci, err := os.ReadFile("../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range topology.BootstrapAPIs() {
		if !strings.Contains(string(ci), api) {
			t.Errorf("docs/ci.md does not enable %s, which the program cannot enable itself", api)
		}
	}
}
