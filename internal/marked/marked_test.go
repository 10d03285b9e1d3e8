package marked

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSectionAndReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	if err := os.WriteFile(path, []byte("intro\n<!-- b -->\nold\n<!-- e -->\nrest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Section(path, "<!-- b -->\n", "<!-- e -->")
	if err != nil || got != "old\n" {
		t.Fatalf("Section = %q, %v", got, err)
	}
	if err := Replace(path, "<!-- b -->\n", "<!-- e -->", "new\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "intro\n<!-- b -->\nnew\n<!-- e -->\nrest\n" {
		t.Fatalf("after Replace: %q", b)
	}
	if _, err := Section(path, "<!-- x -->", "<!-- e -->"); err == nil {
		t.Error("a missing marker was not reported")
	}
}
