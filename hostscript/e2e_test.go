package hostscript

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The rendered startup script runs here from main to its last line, on a real
// ext4 data disk (a loop device) with the real blkid, mkfs.ext4, mount,
// findmnt and resize2fs, in a private mount namespace whose /etc is an overlay,
// so the host is never touched. What cannot run here is stubbed and recorded:
// docker, systemctl, apt-get, gcloud, and curl for GitHub's release tarballs.
// Secret Manager, the metadata server and Dify's ping are the fake server.

// dockerStub answers the docker calls the startup script makes. Its compose
// configuration takes the images from the override the script wrote, so the
// script's own check of pinned images runs against what it produced.
const dockerStub = `#!/bin/bash
echo "docker $* @ $(pwd -P)" >>"$STUB_LOG"
case "$*" in
--version) echo "Docker version 27.3.1, build stub" ;;
"compose version --short") echo 2.29.7 ;;
"compose config --services") printf '%s\n' api worker worker_beat web db redis sandbox plugin_daemon ssrf_proxy nginx weaviate ;;
"compose config --format json")
	imgs=$(awk '/^  [a-z_]+:$/ { s = $1; sub(/:$/, "", s) } /^    image: / { print s "=" $2 }' docker-compose.override.yaml)
	jq -n --arg imgs "$imgs" '($imgs | split("\n") | map(select(length > 0) | split("=") | {(.[0]): {image: .[1]}}) | add) as $s
		| {name: "dify", services: ($s + {nginx: {image: "nginx:latest", ports: [{target: 80, published: "80"}]}, db: {image: "postgres:15-alpine"}})}
		| .services.plugin_daemon.ports = [{host_ip: "127.0.0.1", target: 5003, published: "5003"}]'
	;;
esac
`

const systemctlStub = `#!/bin/bash
echo "systemctl $*" >>"$STUB_LOG"
if [[ "$*" == "start dify-backup.service" && -n ${STUB_BACKUP_FAIL:-} ]]; then
	echo "Job for dify-backup.service failed" >&2
	exit 1
fi
`

const curlStub = `#!/bin/bash
for a in "$@"; do
	if [[ $a == https://github.com/langgenius/dify/archive/refs/tags/*.tar.gz ]]; then
		out="" prev=""
		for b in "$@"; do
			[[ $prev == -o ]] && out=$b
			prev=$b
		done
		echo "curl ${a##*/}" >>"$STUB_LOG"
		exec cp "$STUB_TARBALLS/${a##*/}" "$out"
	fi
done
exec /usr/bin/curl "$@"
`

const recordStub = `#!/bin/bash
echo "$(basename "$0") $*" >>"$STUB_LOG"
`

// sandbox is one VM: a loop-device data disk, a persistent /etc overlay, the
// fake Google APIs, and stubs.
type sandbox struct {
	t                      *testing.T
	root, loop, mnt, stubs string
	srv                    string
	sm                     *fakeSecretManager
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED, NOT PASSED: the end-to-end boot needs root (loop devices, mount namespaces)")
	}
	for _, tool := range []string{"unshare", "losetup", "mkfs.ext4", "blkid", "findmnt", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED, NOT PASSED: %s is missing", tool)
		}
	}
	if out, err := exec.Command("unshare", "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED, NOT PASSED: no mount namespaces here: %v %s", err, out)
	}
	root := t.TempDir()
	s := &sandbox{t: t, root: root, mnt: filepath.Join(root, "mnt", "dify-data"), stubs: filepath.Join(root, "stubs")}
	img := filepath.Join(root, "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(96 << 20)
	f.Close()
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("SKIPPED, NOT PASSED: no loop device: %v %s", err, out)
	}
	s.loop = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", s.loop).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v %s", s.loop, err, out)
		}
	})
	for _, d := range []string{"by-id", "etc-upper", "etc-work", "stubs", "tarballs", "lib", "bin", "etc-dify", "units", "run"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Symlink(s.loop, filepath.Join(root, "by-id", "google-dify-data"))
	for name, body := range map[string]string{"docker": dockerStub, "systemctl": systemctlStub, "curl": curlStub,
		"apt-get": recordStub, "gcloud": recordStub, "gpg": recordStub} {
		os.WriteFile(filepath.Join(s.stubs, name), []byte(body), 0o755)
	}
	for _, v := range []string{"1.8.1", "1.9.0", "1.10.0"} {
		s.tarball(v)
	}
	sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	s.sm, s.srv = sm, srv.URL
	return s
}

// tarball writes what GitHub serves for a Dify tag, reduced: the docker/
// folder (compose file, .env.example, a seed file in volumes/) and one file
// outside it that must not be extracted.
func (s *sandbox) tarball(v string) {
	dir := hostscriptDir(s.t)
	compose, _ := os.ReadFile(filepath.Join(dir, "testdata", "docker-compose.yaml"))
	example, _ := os.ReadFile(filepath.Join(dir, "testdata", "env.example"))
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string][]byte{
		"docker/docker-compose.yaml":              compose,
		"docker/.env.example":                     example,
		"docker/volumes/sandbox/conf/config.yaml": []byte("app:\n  port: 8194\n  version: " + v + "\n"),
		"docker/nginx/nginx.conf.template":        []byte("# nginx\n"),
		"api/app.py":                              []byte("print('not for the VM')\n"),
	} {
		tw.WriteHeader(&tar.Header{Name: "dify-" + v + "/" + name, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	os.WriteFile(filepath.Join(s.root, "tarballs", v+".tar.gz"), buf.Bytes(), 0o644)
}

// boot runs the startup script rendered for v, as Compute Engine would at boot.
func (s *sandbox) boot(v Values, env ...string) scriptResult {
	s.t.Helper()
	script := filepath.Join(s.root, "startup-"+v.DifyVersion+".sh")
	os.WriteFile(script, []byte(render(s.t, v)), 0o755)
	os.Remove(filepath.Join(s.root, "calls"))
	setup := fmt.Sprintf(`set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc
mount -t tmpfs tmpfs /run/lock
exec bash %s`, filepath.Join(s.root, "etc-upper"), filepath.Join(s.root, "etc-work"), script)
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c", setup)
	cmd.Env = append([]string{
		"PATH=" + s.stubs + ":" + os.Getenv("PATH"),
		"STUB_LOG=" + filepath.Join(s.root, "calls"), "STUB_TARBALLS=" + filepath.Join(s.root, "tarballs"),
		"DIFY_DISK_BY_ID=" + filepath.Join(s.root, "by-id"), "DIFY_DATA_MNT=" + s.mnt,
		"DIFY_LIB_DIR=" + filepath.Join(s.root, "lib"), "DIFY_BIN_DIR=" + filepath.Join(s.root, "bin"),
		"DIFY_ETC_DIR=" + filepath.Join(s.root, "etc-dify"), "DIFY_UNIT_DIR=" + filepath.Join(s.root, "units"),
		"DIFY_RUN_DIR=" + filepath.Join(s.root, "run", "dify-gcp"), "DIFY_STATUS_FILE=" + filepath.Join(s.root, "status"),
		"DIFY_LOCK_FILE=" + filepath.Join(s.root, "backup.lock"), "DIFY_CONSOLE=/dev/null",
		"DIFY_METADATA_URL=" + s.srv + "/computeMetadata/v1", "DIFY_SECRETMANAGER_URL=" + s.srv + "/v1",
		"DIFY_HEALTH_URL=" + s.srv + "/console/api/ping",
	}, env...)
	return run(s.t, cmd)
}

func (s *sandbox) calls() string {
	b, _ := os.ReadFile(filepath.Join(s.root, "calls"))
	return string(b)
}

// onDisk runs a shell command in the data disk's root, mounted read-only.
func (s *sandbox) onDisk(command string) string {
	s.t.Helper()
	dir := s.t.TempDir()
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c",
		fmt.Sprintf("mount -o ro %s %s && cd %s && %s", s.loop, dir, dir, command)).CombinedOutput()
	if err != nil {
		s.t.Fatalf("on the data disk: %s: %v\n%s", command, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (s *sandbox) fsType() string {
	out, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", s.loop).Output()
	return strings.TrimSpace(string(out))
}

// TestStartupScriptEndToEnd boots the rendered script four times on one data
// disk: first boot, a boot that changes nothing, an upgrade (backup first),
// and an upgrade whose backup fails (nothing changes).
func TestStartupScriptEndToEnd(t *testing.T) {
	s := newSandbox(t)
	v := devValues()

	first := s.boot(v)
	if first.exitCode != 0 || !strings.Contains(first.out, "RESULT: SUCCESS") {
		t.Fatalf("first boot failed (exit %d):\n%s\ncalls:\n%s", first.exitCode, first.out, s.calls())
	}
	if got := s.fsType(); got != "ext4" {
		t.Errorf("the blank disk should now be ext4, is %q", got)
	}
	fstab, _ := os.ReadFile(filepath.Join(s.root, "etc-upper", "fstab"))
	if !strings.Contains(string(fstab), " "+s.mnt+" ext4 defaults,nofail,discard 0 2\n") || !strings.Contains(string(fstab), "UUID=") {
		t.Errorf("fstab lacks the data disk by UUID with nofail:\n%s", fstab)
	}
	dropIn, _ := os.ReadFile(filepath.Join(s.root, "etc-upper", "systemd/system/docker.service.d/10-dify-data-disk.conf"))
	if !strings.Contains(string(dropIn), "RequiresMountsFor="+s.mnt) {
		t.Errorf("docker.service should require the data disk's mount:\n%s", dropIn)
	}
	if _, err := os.Stat(filepath.Join(s.root, "etc-upper", "docker", "daemon.json")); err != nil {
		t.Errorf("daemon.json (log rotation) not written: %v", err)
	}
	for cmd, want := range map[string]string{
		"readlink current":                                "releases/1.8.1",
		"readlink releases/1.8.1/docker/volumes":          "../../../volumes",
		"stat -c %a releases/1.8.1/docker/.env":           "600",
		"cat volumes/sandbox/conf/config.yaml | tail -n1": "version: 1.8.1",
		"ls releases/1.8.1":                               "docker",
		"grep -c 'image: langgenius/dify-api:1.8.1' releases/1.8.1/docker/docker-compose.override.yaml": "3",
	} {
		if got := s.onDisk(cmd); got != want {
			t.Errorf("after the first boot, %s: %q, want %q", cmd, got, want)
		}
	}
	calls := s.calls()
	for _, want := range []string{
		"curl 1.8.1.tar.gz",
		"docker compose up -d --remove-orphans --pull missing --quiet-pull @ " + s.mnt + "/releases/1.8.1/docker",
		"systemctl enable -q --now dify-backup.timer",
		"systemctl daemon-reload",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("first boot should run %q; calls:\n%s", want, calls)
		}
	}
	if strings.Contains(calls, "start dify-backup.service") {
		t.Errorf("a first install has nothing to back up; calls:\n%s", calls)
	}
	for _, f := range []string{"bin/dify-backup", "bin/dify-restore", "lib/dify-backup-lib.sh", "lib/env.awk", "units/dify-backup.timer", "etc-dify/backup.env"} {
		if _, err := os.Stat(filepath.Join(s.root, f)); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	if s.sm.count("dify-dev-app-secrets") != 1 || s.sm.count("dify-dev-admin-password") != 1 {
		t.Errorf("the first boot should store one version of each secret")
	}
	if _, err := os.Stat(filepath.Join(s.root, "run", "dify-gcp")); !os.IsNotExist(err) {
		t.Errorf("secrets in transit should be gone after the run: %v", err)
	}
	status, _ := os.ReadFile(filepath.Join(s.root, "status"))
	if !strings.Contains(string(status), "RESULT: SUCCESS") {
		t.Errorf("status file: %q", status)
	}
	envBefore := s.onDisk("sha256sum releases/1.8.1/docker/.env")

	// A reboot: the disk is found again, nothing is formatted or generated.
	second := s.boot(v)
	if second.exitCode != 0 || !strings.Contains(second.out, "RESULT: SUCCESS") {
		t.Fatalf("second boot failed (exit %d):\n%s", second.exitCode, second.out)
	}
	if strings.Contains(second.out, "blank") || strings.Contains(second.out, "generating") || strings.Contains(s.calls(), "curl 1.8.1") {
		t.Errorf("a later boot must not format, generate or download:\n%s", second.out)
	}
	if s.sm.count("dify-dev-app-secrets") != 1 {
		t.Errorf("a later boot added a secret version")
	}
	if got := s.onDisk("sha256sum releases/1.8.1/docker/.env"); got != envBefore {
		t.Errorf(".env changed on a boot that changed nothing")
	}
	if strings.Contains(s.calls(), "start dify-backup.service") {
		t.Errorf("no upgrade, no pre-upgrade backup:\n%s", s.calls())
	}

	// An upgrade: backup with the old release first, then switch and start.
	v.DifyVersion = "1.9.0"
	up := s.boot(v)
	if up.exitCode != 0 || !strings.Contains(up.out, "RESULT: SUCCESS") {
		t.Fatalf("upgrade failed (exit %d):\n%s\ncalls:\n%s", up.exitCode, up.out, s.calls())
	}
	calls = s.calls()
	dbUp := strings.Index(calls, "docker compose up -d --wait db @ "+s.mnt+"/releases/1.8.1/docker")
	backup := strings.Index(calls, "systemctl start dify-backup.service")
	start := strings.Index(calls, "docker compose up -d --remove-orphans --pull missing --quiet-pull @ "+s.mnt+"/releases/1.9.0/docker")
	if dbUp < 0 || backup < 0 || start < 0 || !(dbUp < backup && backup < start) {
		t.Errorf("upgrade order should be: old database up, backup, new release up; calls:\n%s", calls)
	}
	if got := s.onDisk("readlink current"); got != "releases/1.9.0" {
		t.Errorf("current -> %s after the upgrade", got)
	}
	if got := s.onDisk("cat volumes/sandbox/conf/config.yaml | tail -n1"); got != "version: 1.8.1" {
		t.Errorf("seeding a new release must not overwrite existing volume files: %q", got)
	}

	// An upgrade whose backup fails changes nothing.
	v.DifyVersion = "1.10.0"
	bad := s.boot(v, "STUB_BACKUP_FAIL=1")
	if bad.exitCode == 0 || !strings.Contains(bad.out, "RESULT: FAILED in step 'upgrade'") || !strings.Contains(bad.out, "pre-upgrade backup failed") {
		t.Fatalf("an upgrade without its backup must stop (exit %d):\n%s", bad.exitCode, bad.out)
	}
	if got := s.onDisk("readlink current"); got != "releases/1.9.0" {
		t.Errorf("current moved to %s although the backup failed", got)
	}
	if strings.Contains(s.calls(), "/releases/1.10.0/docker") && strings.Contains(s.calls(), "up -d --remove-orphans") {
		t.Errorf("the new release was started although the backup failed:\n%s", s.calls())
	}
	for _, r := range []scriptResult{first, second, up, bad} {
		for _, secret := range strings.Split(string(s.sm.latest("dify-dev-app-secrets")), "\n") {
			if _, val, ok := strings.Cut(secret, "="); ok && strings.Contains(r.out, val) {
				t.Errorf("a secret value appears in the script's output")
			}
		}
	}
}

// TestStartupScriptRefusesForeignDisk: a data disk that holds another file
// system is neither formatted nor mounted.
func TestStartupScriptRefusesForeignDisk(t *testing.T) {
	s := newSandbox(t)
	if out, err := exec.Command("mkfs.ext2", "-q", s.loop).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext2: %v %s", err, out)
	}
	res := s.boot(devValues())
	if res.exitCode == 0 || !strings.Contains(res.out, "holds 'ext2', not ext4: refusing to format or mount it") ||
		!strings.Contains(res.out, "RESULT: FAILED in step 'disk'") {
		t.Fatalf("a foreign disk must be refused (exit %d):\n%s", res.exitCode, res.out)
	}
	if got := s.fsType(); got != "ext2" {
		t.Errorf("the disk was changed to %q", got)
	}
	if s.sm.count("dify-dev-app-secrets") != 0 {
		t.Errorf("no secret may be generated when the disk is refused")
	}
}
