package stack_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/internal/marked"
	"github.com/dify-gcp/dify-gcp/plan"
	"github.com/dify-gcp/dify-gcp/stack"
)

var update = flag.Bool("update", false, "rewrite the golden plans in docs/plans and the README diagram")

// goldenDir holds the committed plans: a pull request that changes the
// infrastructure changes these files, and review sees the change as a diff.
const goldenDir = "../docs/plans"

// planned is every committed plan: the stack files and the variants
// (plan.Variants), by the name of their files in docs/plans.
func planned() map[string]func() (*plan.Plan, error) {
	out := map[string]func() (*plan.Plan, error){}
	for _, name := range []string{"dev", "prod"} {
		out[name] = func() (*plan.Plan, error) { return plan.ForStack("..", name, stack.Program) }
	}
	for _, v := range plan.Variants() {
		out[v.Name] = func() (*plan.Plan, error) { return plan.ForVariant("..", v, stack.Program) }
	}
	return out
}

// TestGoldenPlans renders each stack and variant offline in every format and
// compares it with the committed files.
func TestGoldenPlans(t *testing.T) {
	for name, render := range planned() {
		p, err := render()
		if err != nil {
			t.Fatal(err)
		}
		for format, ext := range map[string]string{plan.FormatTable: "txt", plan.FormatJSON: "json", plan.FormatMermaid: "mmd"} {
			var buf bytes.Buffer
			if err := plan.Write(&buf, p, format); err != nil {
				t.Fatal(err)
			}
			// A second run must give the same bytes: the plan is only
			// reviewable as a diff if it is deterministic.
			again, err := render()
			if err != nil {
				t.Fatal(err)
			}
			var buf2 bytes.Buffer
			if err := plan.Write(&buf2, again, format); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
				t.Fatalf("plan of %s in %s differs between two runs", name, format)
			}
			path := filepath.Join(goldenDir, name+"."+ext)
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("the %s plan of %s differs from %s (%v); if the change is intended, run: go test ./stack -run TestGoldenPlans -update",
					format, name, path, firstDiff(string(want), buf.String()))
			}
		}
	}
}

// TestREADMEDiagramIsGenerated keeps the README's architecture picture equal
// to the generated diagram of prod.
func TestREADMEDiagramIsGenerated(t *testing.T) {
	const begin, end = "<!-- plan:prod:mermaid -->\n```mermaid\n", "```\n<!-- end plan -->"
	p, err := plan.ForStack("..", "prod", stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := plan.Mermaid(&buf, p); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := marked.Replace("../README.md", begin, end, buf.String()); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := marked.Section("../README.md", begin, end)
	if err != nil {
		t.Fatal(err)
	}
	if got != buf.String() {
		t.Errorf("README.md's diagram is not the generated one (%v); run: go test ./stack -run TestREADMEDiagramIsGenerated -update", firstDiff(got, buf.String()))
	}
}

// firstDiff names the first line where two texts differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("first difference at line %d: committed %q, now %q", i+1, x, y)
		}
	}
	return "no line differs"
}
