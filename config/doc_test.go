package config

import (
	"os"
	"strings"
	"testing"
)

// TestDocumented keeps docs/configuration.md's table equal to Keys.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- keys:begin -->\n", "<!-- keys:end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/configuration.md lacks the table between %q and %q", strings.TrimSpace(begin), end)
	}
	if got, want := s[i+len(begin):j], Table(); got != want {
		t.Errorf("docs/configuration.md's table is not config.Keys(); replace it with:\n%s", want)
	}
}
