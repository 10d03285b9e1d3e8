package hostscript

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The backup log's entries carry the monitored resource type the alerts
// restrict their filters to (BackupLogResourceType), written out on the
// gcloud line rather than left to gcloud's default, and only the success
// entry has BackupSuccessSeverity, which the missed-backup alert counts.
func TestBackupLogResourceTypeAndSeverity(t *testing.T) {
	lib, err := assets.ReadFile("files/dify-backup-lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	if want := "--monitored-resource-type=" + BackupLogResourceType + " "; !strings.Contains(string(lib), want) {
		t.Errorf("dify-backup-lib.sh's gcloud logging write does not say %q: the alert filters name that resource type", want)
	}
	backup, err := assets.ReadFile("files/dify-backup")
	if err != nil {
		t.Fatal(err)
	}
	calls := regexp.MustCompile(`cloud_log ([a-z-]+) ([A-Z]+)`).FindAllStringSubmatch(string(backup), -1)
	if len(calls) == 0 {
		t.Fatal("dify-backup calls cloud_log nowhere")
	}
	for _, c := range calls {
		if (c[2] == BackupSuccessSeverity) != (c[1] == BackupSuccessEvent) {
			t.Errorf("dify-backup logs %s at %s: only %s may have severity %s, which the missed-backup alert counts", c[1], c[2], BackupSuccessEvent, BackupSuccessSeverity)
		}
	}

	// And the line really passes it: run cloud_log against fake-gcloud.
	need(t, "jq", "/usr/bin/jq")
	fakeBin := t.TempDir()
	if err := os.Symlink(filepath.Join(hostscriptDir(t), "testdata", "fake-gcloud"), filepath.Join(fakeBin, "gcloud")); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "cloud-logging")
	cmd := exec.Command("bash", "-c", `set -euo pipefail
source "$1"
cloud_log `+BackupSuccessEvent+` `+BackupSuccessSeverity+` "backup RUN complete"`, "bash", filepath.Join(hostscriptDir(t), "files", "dify-backup-lib.sh"))
	cmd.Env = []string{"PATH=" + fakeBin + ":" + os.Getenv("PATH"), "DIFY_CLOUD_LOGGING=1", "DIFY_STACK=dev", "FAKE_GCLOUD_LOG=" + logFile}
	if res := run(t, cmd); res.exitCode != 0 {
		t.Fatalf("cloud_log failed (exit %d):\n%s", res.exitCode, res.out)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"log":"` + BackupLogName + `"`, `"severity":"` + BackupSuccessSeverity + `"`, `"resource":"` + BackupLogResourceType + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the entry gcloud was asked to write lacks %s: %s", want, b)
		}
	}
}
