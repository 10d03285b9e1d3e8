package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// actionlintInstall is the command that installs the actionlint these tests
// were written against; checks.yml and .ci/run install the same version.
const actionlintInstall = "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// repoRoot returns the repository's root folder: the test runs in
// integration/, one level below it.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// tool returns the path of a command-line tool a test cannot do without,
// looking in PATH and then in the given folders. A missing tool fails the
// test under CI=true, where the tools are part of the contract, and skips it
// loudly elsewhere.
func tool(t *testing.T, name, install string, dirs ...string) string {
	t.Helper()
	if p, ok := findTool(name, dirs...); ok {
		return p
	}
	msg := name + " is not installed, so this test cannot run; install it with: " + install
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED, NOT PASSED: " + msg + " (CI=true turns this into a failure)")
	return ""
}

// findTool looks name up in PATH, then in dirs.
func findTool(name string, dirs ...string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// goBinDirs returns the folders `go install` writes to: $GOBIN, or the bin
// folder of the first GOPATH entry.
func goBinDirs() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	var dirs []string
	if len(lines) > 0 && lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		if first := filepath.SplitList(lines[1]); len(first) > 0 && first[0] != "" {
			dirs = append(dirs, filepath.Join(first[0], "bin"))
		}
	}
	return dirs
}

// actionlintPath finds the actionlint binary.
func actionlintPath(t *testing.T) string {
	t.Helper()
	return tool(t, "actionlint", actionlintInstall, goBinDirs()...)
}
