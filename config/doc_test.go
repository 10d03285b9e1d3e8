package config

import (
	"testing"

	"github.com/dify-gcp/dify-gcp/internal/marked"
)

// TestDocumented keeps docs/configuration.md's table equal to Keys.
func TestDocumented(t *testing.T) {
	if *update {
		if err := marked.Replace("../docs/configuration.md", "<!-- keys:begin -->\n", "<!-- keys:end -->", Table()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := marked.Section("../docs/configuration.md", "<!-- keys:begin -->\n", "<!-- keys:end -->")
	if err != nil {
		t.Fatal(err)
	}
	if want := Table(); got != want {
		t.Errorf("docs/configuration.md's table is not config.Keys(); run go test ./config -update, or replace it with:\n%s", want)
	}
}
