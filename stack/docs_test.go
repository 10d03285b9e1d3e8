package stack_test

import (
	"os"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/components"
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
