package outputs

import (
	"flag"
	"testing"

	"github.com/dify-gcp/dify-gcp/internal/marked"
)

// TestDocumented keeps docs/outputs.md's table equal to All: every output is
// documented with its meaning, and nothing is documented that is not exported.
var update = flag.Bool("update", false, "rewrite docs/outputs.md's table from All")

func TestDocumented(t *testing.T) {
	if *update {
		if err := marked.Replace("../docs/outputs.md", "<!-- outputs:begin -->\n", "<!-- outputs:end -->", Table()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := marked.Section("../docs/outputs.md", "<!-- outputs:begin -->\n", "<!-- outputs:end -->")
	if err != nil {
		t.Fatal(err)
	}
	if want := Table(); got != want {
		t.Errorf("docs/outputs.md's table is not the contract; run go test ./outputs -update, or replace it with:\n%s", want)
	}
}

func TestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All() {
		if s.Name == "" || s.Description == "" || s.Example == "" {
			t.Errorf("incomplete spec %+v", s)
		}
		if seen[s.Name] {
			t.Errorf("output %s listed twice", s.Name)
		}
		seen[s.Name] = true
	}
}
