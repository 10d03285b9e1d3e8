package hostscript

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The rendered startup script runs here from main to its last line, on a real
// ext4 data disk (a loop device) with the real blkid, mkfs.ext4, mount,
// findmnt and resize2fs, in a private mount namespace whose /etc is an overlay,
// so the host is never touched. What cannot run here is stubbed and recorded:
// docker, systemctl, apt-get, gcloud, and curl for GitHub's release tarballs.
// Secret Manager, the metadata server and Dify's ping are the fake server.

// systemctlStub stands in for systemd: it records the call, starts a mount
// unit by mounting its fstab entry (what systemd's generated unit does), and
// fails the backup service on demand.
const systemctlStub = `#!/bin/bash
echo "systemctl $*" >>"$STUB_LOG"
if [[ "$*" == "start dify-backup.service" && -n ${STUB_BACKUP_FAIL:-} ]]; then
	echo "Job for dify-backup.service failed" >&2
	exit 1
fi
if [[ $1 == start && $2 == *.mount ]]; then
	exec mount "$(systemd-escape --unescape --path "${2%.mount}")"
fi
`

// dpkgStubs: dpkg --configure -a is recorded (and finishes an interrupted
// dpkg); with STUB_DPKG_INTERRUPTED=1, dpkg-query reports jq half-configured
// and apt-get refuses as apt does until dpkg --configure -a has run.
const dpkgStub = `#!/bin/bash
if [[ "$*" == "--configure -a" ]]; then
	echo "dpkg $*" >>"$STUB_LOG"
	touch "$STUB_STATE/dpkg-configured"
	exit 0
fi
exec /usr/bin/dpkg "$@"
`

const dpkgQueryStub = `#!/bin/bash
if [[ -n ${STUB_DPKG_INTERRUPTED:-} && "$*" == *" jq" ]]; then
	printf 'install ok half-configured'
	exit 0
fi
exec /usr/bin/dpkg-query "$@"
`

const aptGetStub = `#!/bin/bash
echo "apt-get $*" >>"$STUB_LOG"
if [[ -n ${STUB_DPKG_INTERRUPTED:-} && ! -f $STUB_STATE/dpkg-configured ]]; then
	echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." >&2
	exit 100
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
	tmp                    string // the boot's TMPDIR: /tmp on the VM
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
	s.tmp = filepath.Join(root, "tmp")
	for _, d := range []string{"by-id", "etc-upper", "etc-work", "stubs", "tarballs", "lib", "bin", "etc-dify", "units", "run", "tmp", "state", "docker-root"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Symlink(s.loop, filepath.Join(root, "by-id", "google-dify-data"))
	for name, body := range map[string]string{"systemctl": systemctlStub, "curl": curlStub,
		"apt-get": aptGetStub, "dpkg": dpkgStub, "dpkg-query": dpkgQueryStub, "gcloud": recordStub, "gpg": recordStub} {
		os.WriteFile(filepath.Join(s.stubs, name), []byte(body), 0o755)
	}
	os.Symlink(filepath.Join(hostscriptDir(t), "testdata", "fake-docker"), filepath.Join(s.stubs, "docker"))
	for _, v := range []string{"1.8.1", "1.9.1"} {
		s.tarball(v)
	}
	sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	s.sm, s.srv = sm, srv.URL
	return s
}

// tarball writes what GitHub serves for a Dify tag: the release's real
// docker/ folder (../shared/upstream), and one file outside it that must not
// be extracted.
func (s *sandbox) tarball(v string) {
	src := upstream(s.t, v)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := "dify-" + v + "/docker/" + filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o755, Typeflag: tar.TypeDir})
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			link, _ := os.Readlink(p)
			return tw.WriteHeader(&tar.Header{Name: name, Linkname: link, Typeflag: tar.TypeSymlink, Mode: 0o777})
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(info.Mode().Perm() | 0o200), Size: int64(len(body))}); err != nil {
			return err
		}
		_, err = tw.Write(body)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	body := []byte("print('not for the VM')\n")
	tw.WriteHeader(&tar.Header{Name: "dify-" + v + "/api/app.py", Mode: 0o644, Size: int64(len(body))})
	tw.Write(body)
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
	// The boot disk's room for images is a tmpfs of STUB_DOCKER_ROOT_SIZE
	// (df reports its size limit; nothing is allocated).
	setup := fmt.Sprintf(`set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc
mount -t tmpfs tmpfs /run/lock
mount -t tmpfs -o size=${STUB_DOCKER_ROOT_SIZE:-8g} tmpfs %s
exec bash %s`, filepath.Join(s.root, "etc-upper"), filepath.Join(s.root, "etc-work"), filepath.Join(s.root, "docker-root"), script)
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
		// Google's package host is not reachable here: the fake server
		// answers 404 at once, and the agent step (opsagent_test.go tests it
		// against a package host of its own) logs its failure and lets the
		// boot go on, as on a VM whose network is not ready yet.
		"DIFY_OPS_AGENT_REPO=" + s.srv + "/no-ops-agent-here",
		"DIFY_SM_RETRY_DELAY=0", "DIFY_RETRY_SLEEP=0", "DIFY_DOCKER_ROOT=" + filepath.Join(s.root, "docker-root"),
		"DIFY_SQLADMIN_URL=" + s.srv + "/sqladmin/v1", "DIFY_REDIS_API_URL=" + s.srv + "/redis/v1", "DIFY_SQL_POLL_SECONDS=0",
		"TMPDIR=" + s.tmp, "STUB_STATE=" + filepath.Join(s.root, "state"),
		"FAKE_DOCKER_STATE=" + filepath.Join(s.root, "state"), "FAKE_COMPOSECONFIG=" + composeConfigBin(s.t),
	}, env...)
	return run(s.t, cmd)
}

func (s *sandbox) calls() string {
	b, _ := os.ReadFile(filepath.Join(s.root, "calls"))
	return string(b)
}

// onDiskRW runs a shell command in the data disk's root, mounted read-write.
func (s *sandbox) onDiskRW(command string) {
	s.t.Helper()
	dir := s.t.TempDir()
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c",
		fmt.Sprintf("mount %s %s && cd %s && %s", s.loop, dir, dir, command)).CombinedOutput()
	if err != nil {
		s.t.Fatalf("on the data disk: %s: %v\n%s", command, err, out)
	}
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

// TestStartupScriptEndToEnd boots the rendered script on one data disk, on
// Dify's real release folders: a first boot of 1.8.1, a boot that changes
// nothing, upgrades to 1.9.1 that must stop before anything moves (a failed
// pull, a full boot disk, a failed backup), the upgrade itself, and a
// rollback to 1.8.1 that the migration check stops. Nothing the script does
// may write a file to TMPDIR (the boot disk's /tmp on the VM).
func TestStartupScriptEndToEnd(t *testing.T) {
	s := newSandbox(t)
	v := devValues()
	created := watchCreates(t, s.tmp)
	ok := func(name string, r scriptResult) {
		t.Helper()
		if r.exitCode != 0 || !strings.Contains(r.out, "RESULT: SUCCESS") {
			t.Fatalf("%s failed (exit %d):\n%s\ncalls:\n%s", name, r.exitCode, r.out, s.calls())
		}
	}

	first := s.boot(v)
	ok("first boot", first)
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
	var daemon struct {
		LogOpts        map[string]string `json:"log-opts"`
		RegistryMirror []string          `json:"registry-mirrors"`
	}
	if b, err := os.ReadFile(filepath.Join(s.root, "etc-upper", "docker", "daemon.json")); err != nil || json.Unmarshal(b, &daemon) != nil {
		t.Errorf("daemon.json not written or not JSON: %v", err)
	} else if strings.Join(daemon.RegistryMirror, ",") != "https://mirror.gcr.io" || daemon.LogOpts["max-size"] != "20m" {
		t.Errorf("daemon.json should rotate logs and pull through mirror.gcr.io: %+v", daemon)
	}
	for cmd, want := range map[string]string{
		"readlink current":                                         "releases/1.8.1",
		"readlink releases/1.8.1/docker/volumes":                   "../../../volumes",
		"stat -c %a releases/1.8.1/docker/.env":                    "600",
		"grep -c '^  port: 8194' volumes/sandbox/conf/config.yaml": "1",
		"ls releases/1.8.1":                                        "docker",
		"grep -c 'image: langgenius/dify-api:1.8.1' releases/1.8.1/docker/docker-compose.override.yaml": "3",
	} {
		if got := s.onDisk(cmd); got != want {
			t.Errorf("after the first boot, %s: %q, want %q", cmd, got, want)
		}
	}
	calls := s.calls()
	unit := strings.TrimSpace(must(exec.Command("systemd-escape", "--path", "--suffix=mount", s.mnt).Output()))
	for _, want := range []string{
		"dpkg --configure -a",
		"systemctl start " + unit,
		"curl 1.8.1.tar.gz",
		"docker compose up -d --remove-orphans --pull missing --quiet-pull @ " + s.mnt + "/releases/1.8.1/docker",
		"docker compose exec -T api flask db current @ " + s.mnt + "/releases/1.8.1/docker",
		"systemctl enable -q --now dify-backup.timer",
		"systemctl daemon-reload",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("first boot should run %q; calls:\n%s", want, calls)
		}
	}
	if !strings.Contains(first.out, "database migrations are at head") {
		t.Errorf("the first boot should prove the migrations from the database:\n%s", first.out)
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
	ok("second boot", second)
	if strings.Contains(second.out, "blank") || strings.Contains(second.out, "generating") || strings.Contains(s.calls(), "curl 1.8.1") {
		t.Errorf("a later boot must not format, generate or download:\n%s", second.out)
	}
	if s.sm.count("dify-dev-app-secrets") != 1 {
		t.Errorf("a later boot added a secret version")
	}
	if got := s.onDisk("sha256sum releases/1.8.1/docker/.env"); got != envBefore {
		t.Errorf(".env changed on a boot that changed nothing")
	}
	if strings.Contains(s.calls(), "start dify-backup.service") || strings.Contains(s.calls(), "image prune") {
		t.Errorf("no upgrade, no pre-upgrade backup, no prune:\n%s", s.calls())
	}

	// Upgrades that cannot succeed stop before the backup and the switch.
	up := devValues()
	up.DifyVersion, up.Images = "1.9.1", testImages("1.9.1")
	for _, tc := range []struct {
		name, env, want string
	}{
		{"images cannot be pulled", "FAKE_PULL_FAIL=1", "pulling Dify 1.9.1's images failed: not upgrading, Dify 1.8.1 stays current and running"},
		{"boot disk full", "STUB_DOCKER_ROOT_SIZE=64m", "upgrading needs 6 GiB for the new release's images. Nothing was changed"},
		{"backup fails", "STUB_BACKUP_FAIL=1", "pre-upgrade backup failed"},
	} {
		r := s.boot(up, tc.env)
		if r.exitCode == 0 || !strings.Contains(r.out, "RESULT: FAILED in step 'upgrade'") || !strings.Contains(r.out, tc.want) {
			t.Fatalf("%s: the upgrade must stop with the reason (exit %d):\n%s", tc.name, r.exitCode, r.out)
		}
		if got := s.onDisk("readlink current"); got != "releases/1.8.1" {
			t.Errorf("%s: current moved to %s", tc.name, got)
		}
		if c := s.calls(); strings.Contains(c, "up -d --remove-orphans") || (tc.name != "backup fails" && strings.Contains(c, "dify-backup.service")) {
			t.Errorf("%s: the backup ran or the new release started:\n%s", tc.name, c)
		}
	}

	// The upgrade: checks, backup with the old release, switch, start, prune.
	upgraded := s.boot(up)
	ok("upgrade to 1.9.1", upgraded)
	calls = s.calls()
	order := []string{
		"docker compose pull --quiet @ " + s.mnt + "/releases/1.9.1/docker",
		"docker compose up -d --wait db @ " + s.mnt + "/releases/1.8.1/docker",
		"systemctl start dify-backup.service",
		"docker compose up -d --remove-orphans --pull missing --quiet-pull @ " + s.mnt + "/releases/1.9.1/docker",
		"docker compose exec -T api flask db current @ " + s.mnt + "/releases/1.9.1/docker",
		"docker image prune -a -f",
	}
	last := -1
	for _, step := range order {
		i := strings.Index(calls, step)
		if i < 0 || i < last {
			t.Errorf("upgrade order should be: pull, old database up, backup, new release up, migrations checked, prune; %q is missing or out of order; calls:\n%s", step, calls)
			break
		}
		last = i
	}
	if got := s.onDisk("readlink current"); got != "releases/1.9.1" {
		t.Errorf("current -> %s after the upgrade", got)
	}
	if got := s.onDisk("grep -c 'image: langgenius/dify-plugin-daemon:0.3.0-local' releases/1.9.1/docker/docker-compose.override.yaml"); got != "1" {
		t.Errorf("1.9.1's plugin daemon is not pinned in its override")
	}

	// Rolling back by version alone: the old api cannot read the newer
	// database, and flask upgrade-db exits 0 anyway: the database check says so.
	back := s.boot(v)
	if back.exitCode == 0 || !strings.Contains(back.out, "RESULT: FAILED in step 'migrations'") ||
		!strings.Contains(back.out, "the database holds a migration Dify 1.8.1 does not know") {
		t.Fatalf("a rollback without a restore must fail in step 'migrations' (exit %d):\n%s", back.exitCode, back.out)
	}
	if strings.Contains(s.calls(), "image prune") {
		t.Errorf("a failed run must not prune images:\n%s", s.calls())
	}

	for _, r := range []scriptResult{first, second, upgraded, back} {
		for _, secret := range strings.Split(string(s.sm.latest("dify-dev-app-secrets")), "\n") {
			if _, val, ok := strings.Cut(secret, "="); ok && strings.Contains(r.out, val) {
				t.Errorf("a secret value appears in the script's output")
			}
		}
	}
	if files := created(); len(files) > 0 {
		t.Errorf("the script wrote files to TMPDIR (the boot disk's /tmp on the VM): %v", files)
	}
}

func must(b []byte, err error) string {
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestStartupScriptGuards: boots that must stop, each on a fresh disk, with
// the reason and nothing started: a migration that failed (flask upgrade-db
// exits 0), a restore that did not finish, an upgrade that changes a stateful
// image (weaviate 1.19 -> 1.27, as Dify 1.9.2 does), and an interrupted dpkg
// (which the script finishes instead of failing on every boot).
func TestStartupScriptGuards(t *testing.T) {
	t.Run("migration failed", func(t *testing.T) {
		s := newSandbox(t)
		r := s.boot(devValues(), "FAKE_MIGRATION=fail")
		if r.exitCode == 0 || !strings.Contains(r.out, "RESULT: FAILED in step 'migrations'") ||
			!strings.Contains(r.out, "database migrations are not at head: the database is at no revision, Dify 1.8.1 expects") {
			t.Fatalf("a failed migration must fail the boot with the reason (exit %d):\n%s", r.exitCode, r.out)
		}
		if strings.Contains(s.calls(), "dify-backup.timer") {
			t.Errorf("the backup timer was enabled on a broken install:\n%s", s.calls())
		}
	})
	t.Run("restore unfinished", func(t *testing.T) {
		s := newSandbox(t)
		if r := s.boot(devValues()); r.exitCode != 0 {
			t.Fatalf("first boot failed:\n%s", r.out)
		}
		s.onDiskRW("printf 'RUN=20250904T061500Z\\nSTARTED=2025-09-04T07:00:00Z\\n' > volumes/.restore-in-progress")
		r := s.boot(devValues())
		if r.exitCode == 0 || !strings.Contains(r.out, "RESULT: FAILED in step 'disk'") ||
			!strings.Contains(r.out, "a restore of backup 20250904T061500Z did not finish") ||
			!strings.Contains(r.out, "sudo dify-restore --yes 20250904T061500Z") {
			t.Fatalf("a boot must refuse to start Dify on half-restored data (exit %d):\n%s", r.exitCode, r.out)
		}
		if strings.Contains(s.calls(), "compose up") {
			t.Errorf("Dify was started:\n%s", s.calls())
		}
	})
	t.Run("stateful image changes", func(t *testing.T) {
		s := newSandbox(t)
		if r := s.boot(devValues()); r.exitCode != 0 {
			t.Fatalf("first boot failed:\n%s", r.out)
		}
		v := devValues()
		v.DifyVersion, v.Images = "1.9.1", testImages("1.9.1")
		v.Images["weaviate"] = "semitechnologies/weaviate:1.27.0"
		r := s.boot(v)
		if r.exitCode == 0 || !strings.Contains(r.out, "RESULT: FAILED in step 'upgrade'") ||
			!strings.Contains(r.out, "weaviate changes from semitechnologies/weaviate:1.19.0 to semitechnologies/weaviate:1.27.0") ||
			!strings.Contains(r.out, "Weaviate v4 migration") {
			t.Fatalf("a weaviate 1.19 -> 1.27 upgrade must be refused, naming the migration (exit %d):\n%s", r.exitCode, r.out)
		}
		if c := s.calls(); strings.Contains(c, "compose pull") || strings.Contains(c, "dify-backup.service") || strings.Contains(c, "--remove-orphans") {
			t.Errorf("something moved before the refusal:\n%s", c)
		}
		if got := s.onDisk("readlink current"); got != "releases/1.8.1" {
			t.Errorf("current moved to %s", got)
		}
	})
	t.Run("dpkg interrupted", func(t *testing.T) {
		s := newSandbox(t)
		r := s.boot(devValues(), "STUB_DPKG_INTERRUPTED=1")
		if r.exitCode != 0 {
			t.Fatalf("an interrupted dpkg must be finished, not fail the boot (exit %d):\n%s", r.exitCode, r.out)
		}
		c := s.calls()
		if i, j := strings.Index(c, "dpkg --configure -a"), strings.Index(c, "apt-get"); i < 0 || j < 0 || i > j {
			t.Errorf("dpkg --configure -a should run before apt; calls:\n%s", c)
		}
	})
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

// managedDevValues are dev's on the managed data tier, with the instances the
// fake APIs serve.
func managedDevValues() Values {
	v := devValues()
	v.DataTier = TierManaged
	v.Managed = Managed{
		DBHost: "10.20.0.3", DBInstance: fakeSQLInstance, DBUser: "dify",
		RedisHost: "10.20.1.4", RedisPort: 6379, RedisInstance: fakeRedisInstance,
		FilesBucket: "acme-dify-dev-dify-dev-files",
	}
	return v
}

// TestStartupScriptManagedTier boots the rendered script on the managed tier:
// a vm-tier stack first, switched to managed, where the script stops before
// starting Dify on the empty Cloud SQL database (the vm tier's is still on the
// disk, and nothing was migrated); once the database holds Dify's schema, the
// boot succeeds: the Cloud SQL user's password set, the vector store's
// extension created in Cloud SQL (a real PostgreSQL server stands in, reached
// as that user), the vm tier's db, redis and weaviate containers removed, and
// Dify started with none of them. A fresh managed stack boots in one go.
func TestStartupScriptManagedTier(t *testing.T) {
	s := newSandbox(t)
	sql := cloudSQL(t)
	net := "FAKE_DOCKER_RUN_NETWORK=PGHOST=" + sql.sock + " PGPORT=" + strconv.Itoa(sql.port)
	ext := "DIFY_VECTOR_EXTENSION=" + testVectorExtension
	ok := func(name string, r scriptResult) {
		t.Helper()
		if r.exitCode != 0 || !strings.Contains(r.out, "RESULT: SUCCESS") {
			t.Fatalf("%s failed (exit %d):\n%s\ncalls:\n%s", name, r.exitCode, r.out, s.calls())
		}
	}
	ok("vm-tier boot", s.boot(devValues()))
	// The vm tier's database has been initialised on the data disk.
	s.onDiskRW("mkdir -p volumes/db/data/pgdata && echo 15 > volumes/db/data/pgdata/PG_VERSION")

	v := managedDevValues()
	refused := s.boot(v, net, ext)
	if refused.exitCode == 0 || !strings.Contains(refused.out, "RESULT: FAILED in step 'database'") ||
		!strings.Contains(refused.out, "Cloud SQL database dify is empty, and this data disk still holds the vm tier's database") ||
		!strings.Contains(refused.out, "sudo dify-restore --yes") {
		t.Fatalf("an unmigrated switch must stop before Dify starts, naming the migration (exit %d):\n%s", refused.exitCode, refused.out)
	}
	if c := s.calls(); strings.Contains(c, "compose up") || strings.Contains(c, "docker rm") {
		t.Errorf("nothing may start or be removed before the migration:\n%s", c)
	}
	// What dify-restore leaves: Dify's schema in Cloud SQL.
	sql.psql(t, "dify", "SET ROLE dify; CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
	migrated := s.boot(v, net, ext)
	ok("managed boot after the migration", migrated)
	calls := s.calls()
	for _, want := range []string{
		"docker run --rm -i --network host -v ",
		"-e PGSSLMODE=require -e PGCONNECT_TIMEOUT=10 postgres:15-alpine psql",
		"docker rm -f c0ffee-db", "docker rm -f c0ffee-redis", "docker rm -f c0ffee-weaviate",
		"docker compose up -d --remove-orphans --pull missing --quiet-pull @ " + s.mnt + "/releases/1.8.1/docker",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("the managed boot should run %q; calls:\n%s", want, calls)
		}
	}
	if i, j := strings.Index(calls, "docker rm -f c0ffee-db"), strings.Index(calls, "compose up -d --remove-orphans"); i < 0 || j < i {
		t.Errorf("the vm tier's containers go before Dify starts; calls:\n%s", calls)
	}
	if got := sql.psql(t, "dify", "SELECT count(*) FROM pg_extension WHERE extname = '"+testVectorExtension+"'"); strings.TrimSpace(got) != "1" {
		t.Errorf("the vector store's extension is not in Cloud SQL's dify database")
	}
	app := appSecrets(t, s.sm)
	if s.sm.sqlUsers["dify"] != app["MANAGED_DB_PASSWORD"] || app["MANAGED_DB_PASSWORD"] == "" {
		t.Errorf("the Cloud SQL user's password is not the one in the app secret")
	}
	if got := s.onDisk("grep -c 'dify-gcp-vm-tier' releases/1.8.1/docker/docker-compose.override.yaml"); got != "3" {
		t.Errorf("db, redis and weaviate should be turned off in the override (%s)", got)
	}
	backupEnv, _ := os.ReadFile(filepath.Join(s.root, "etc-dify", "backup.env"))
	for _, want := range []string{"DIFY_DATA_TIER=managed\n", "DIFY_PG_HOST=10.20.0.3\n", "DIFY_PG_USER=dify\n",
		"DIFY_PG_IMAGE=postgres:15-alpine\n", "DIFY_REDIS_IMAGE=redis:6-alpine\n", "DIFY_FILES_DEST=gs://acme-dify-dev-dify-dev-files\n"} {
		if !strings.Contains(string(backupEnv), want) {
			t.Errorf("backup.env lacks %q:\n%s", want, backupEnv)
		}
	}
	for _, r := range []scriptResult{refused, migrated} {
		for _, v := range append(mapValues(app), fakeRedisAuth, fakeToken) {
			if strings.Contains(r.out, v) {
				t.Errorf("a secret value appears in the script's output")
			}
		}
	}

	// An upgrade on the managed tier backs up first, with no database
	// container to start.
	up := managedDevValues()
	up.DifyVersion, up.Images = "1.9.1", testImages("1.9.1")
	ok("managed upgrade to 1.9.1", s.boot(up, net, ext))
	if c := s.calls(); strings.Contains(c, "--wait db") || !strings.Contains(c, "systemctl start dify-backup.service") {
		t.Errorf("a managed upgrade runs the backup and starts no database container:\n%s", c)
	}

	// A fresh managed stack: no vm-tier database on its disk, an empty Cloud
	// SQL database, one boot.
	fresh := newSandbox(t)
	freshSQL := cloudSQL(t)
	ok("fresh managed boot", fresh.boot(v, "FAKE_DOCKER_RUN_NETWORK=PGHOST="+freshSQL.sock+" PGPORT="+strconv.Itoa(freshSQL.port), ext))
	if c := fresh.calls(); strings.Contains(c, "docker rm") || !strings.Contains(c, "compose up -d --remove-orphans") {
		t.Errorf("a fresh managed stack has nothing to remove and starts Dify:\n%s", c)
	}
}
