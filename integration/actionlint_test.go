package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// workflowFiles returns every workflow under .github/workflows.
func workflowFiles(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".github", "workflows")
	var files []string
	for _, pattern := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no workflow in %s", dir)
	}
	return files
}

// runActionlint runs actionlint over files, with shellcheck checking every
// run: script when it is installed (CI requires it), and returns the report
// and whether actionlint found problems.
func runActionlint(t *testing.T, files ...string) (report string, problems bool) {
	t.Helper()
	bin := actionlintPath(t)
	args := []string{"-no-color"}
	if sc, ok := findTool("shellcheck"); ok {
		args = append(args, "-shellcheck="+sc)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("shellcheck is not installed: actionlint would not check the run: scripts (apt-get install shellcheck)")
	} else {
		t.Log("WARNING: shellcheck is not installed, so the run: scripts are NOT checked (apt-get install shellcheck)")
		args = append(args, "-shellcheck=")
	}
	cmd := exec.Command(bin, append(args, files...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), false
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		// actionlint's documented exit status for "problems found".
		return string(out), true
	default:
		t.Fatalf("actionlint did not run: %v\n%s", err, out)
		return "", false
	}
}

// TestWorkflowsPassActionlint keeps the workflows free of what actionlint and
// shellcheck find: wrong expressions and contexts, bad job dependencies,
// unquoted shell variables and the like.
func TestWorkflowsPassActionlint(t *testing.T) {
	files := workflowFiles(t)
	report, problems := runActionlint(t, files...)
	if problems {
		t.Fatalf("actionlint found problems in the workflows:\n%s", report)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	t.Logf("actionlint: %s clean", strings.Join(names, ", "))
}

// TestActionlintReportsMistakes proves the check above can fail: actionlint,
// as this test runs it, reports a broken workflow, including shellcheck's
// finding in a run: script.
func TestActionlintReportsMistakes(t *testing.T) {
	report, problems := runActionlint(t, filepath.Join("integration", "testdata", "broken-workflow.yml"))
	if !problems {
		t.Fatalf("actionlint passed a broken workflow:\n%s", report)
	}
	if !strings.Contains(report, "no_such_property") {
		t.Errorf("actionlint did not report the unknown context property:\n%s", report)
	}
	if _, ok := findTool("shellcheck"); ok && !strings.Contains(report, "SC2086") {
		t.Errorf("actionlint did not pass the run: script to shellcheck (no SC2086):\n%s", report)
	}
}
