package config

import (
	"testing"

	"github.com/dify-gcp/dify-gcp/internal/marked"
)

// TestDocumented keeps docs/configuration.md's table equal to Keys.
func TestDocumented(t *testing.T) {
	got, err := marked.Section("../docs/configuration.md", "<!-- keys:begin -->\n", "<!-- keys:end -->")
	if err != nil {
		t.Fatal(err)
	}
	if want := Table(); got != want {
		t.Errorf("docs/configuration.md's table is not config.Keys(); replace it with:\n%s", want)
	}
}
