package outputs

import (
	"os"
	"strings"
	"testing"
)

// TestDocumented keeps docs/outputs.md's table equal to All: every output is
// documented with its meaning, and nothing is documented that is not exported.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/outputs.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- outputs:begin -->\n", "<!-- outputs:end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/outputs.md lacks the table between %q and %q", strings.TrimSpace(begin), end)
	}
	if got, want := s[i+len(begin):j], Table(); got != want {
		t.Errorf("docs/outputs.md's table is not the contract; replace it with:\n%s", want)
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
