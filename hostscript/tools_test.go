package hostscript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pgBinDir is where Debian installs PostgreSQL 15's server and client tools.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// need returns the path of a tool the test cannot run without. A missing tool
// fails the test in CI (CI=true), where the tools are part of the contract, and
// skips it loudly elsewhere.
func need(t *testing.T, name string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed: this test cannot run (Debian: apt-get install postgresql-15 shellcheck gettext-base jq)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED, NOT PASSED: " + msg)
	return ""
}

// hostscriptDir is this package's folder, where the scripts under test live.
func hostscriptDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the hostscript package folder")
	}
	return filepath.Dir(file)
}

// pgServer is a throwaway PostgreSQL 15 cluster reachable only through a unix
// socket in its own temporary folder.
type pgServer struct {
	dir, sock string
	port      int
	bin       string
	asUser    []string // prefix that runs a command as the cluster's owner
}

// startPG initialises and starts a cluster; t.Cleanup stops and deletes it.
// initdb refuses to run as root, so as root the cluster belongs to the
// "postgres" user (or "nobody").
func startPG(t *testing.T) *pgServer {
	t.Helper()
	need(t, "initdb", filepath.Join(pgBinDir, "initdb"))
	dir, err := os.MkdirTemp("", "dify-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgServer{dir: dir, sock: filepath.Join(dir, "sock"), port: 20000 + rand.IntN(40000), bin: pgBinDir}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{s.sock, filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		owner := "postgres"
		u, err := user.Lookup(owner)
		if err != nil {
			owner = "nobody"
			if u, err = user.Lookup(owner); err != nil {
				t.Fatalf("running as root, and neither a postgres nor a nobody user exists to own the cluster: %v", err)
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{s.sock, filepath.Join(dir, "data")} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		s.asUser = []string{"runuser", "-u", owner, "--"}
	}
	s.run(t, filepath.Join(s.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses= -c fsync=off", s.port, s.sock)
	s.run(t, filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-l", filepath.Join(s.sock, "server.log"),
		"-w", "-t", "60", "-o", opts, "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
		if len(s.asUser) > 0 {
			cmd = exec.Command(s.asUser[0], append(s.asUser[1:], cmd.Args...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stopping PostgreSQL: %v\n%s", err, out)
		}
	})
	return s
}

func (s *pgServer) run(t *testing.T, args ...string) {
	t.Helper()
	args = append(append([]string{}, s.asUser...), args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.sock, "server.log"))
		t.Fatalf("%s: %v\n%s\nserver log:\n%s", strings.Join(args, " "), err, out, log)
	}
}

// env is what libpq needs to reach this server as its superuser.
func (s *pgServer) env() []string {
	return []string{"PGHOST=" + s.sock, "PGPORT=" + strconv.Itoa(s.port), "PGUSER=postgres"}
}

// psql runs SQL in db and returns the unaligned, tuples-only output.
func (s *pgServer) psql(t *testing.T, db, sql string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), s.env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", db, err, stderr.String())
	}
	return string(out)
}

// dumpText is a plain-text dump of db: schema, data and sequence positions, in a
// stable order, so two servers hold the same database exactly when their
// dumps are equal. The per-run \restrict keys of newer pg_dump are dropped.
func (s *pgServer) dumpText(t *testing.T, db string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "pg_dump"), "--no-password", "-d", db)
	cmd.Env = append(os.Environ(), s.env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump %s: %v\n%s", db, err, stderr.String())
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, `\restrict`) || strings.HasPrefix(line, `\unrestrict`) {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

func (s *pgServer) databases(t *testing.T) string {
	return s.psql(t, "postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")
}

// treeEntry describes one file system entry for comparison.
type treeEntry struct {
	Mode     fs.FileMode
	Uid, Gid uint32
	Size     int64
	SHA256   string
	Link     string
}

// snapshotTree maps every path under root (relative) to its type, mode,
// owner, size and content hash.
func snapshotTree(t *testing.T, root string) map[string]treeEntry {
	t.Helper()
	m := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := treeEntry{Mode: info.Mode()}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			e.Uid, e.Gid = st.Uid, st.Gid
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Link, err = os.Readlink(p)
		case info.Mode().IsRegular():
			e.Size = info.Size()
			e.SHA256, err = fileSHA256(p)
		}
		m[rel] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// diffTrees lists the differences between two snapshots, sorted.
func diffTrees(want, got map[string]treeEntry) []string {
	var d []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			d = append(d, "missing: "+p)
		case g != w:
			d = append(d, fmt.Sprintf("differs: %s: want %+v, got %+v", p, w, g))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, "unexpected: "+p)
		}
	}
	sort.Strings(d)
	return d
}

func treeBytes(m map[string]treeEntry) int64 {
	var n int64
	for _, e := range m {
		n += e.Size
	}
	return n
}

// script runs one of the scripts in files/ with env added to a minimal
// environment, returning combined output and the exit code.
type scriptResult struct {
	out      string
	exitCode int
	took     time.Duration
}

func runScript(t *testing.T, name string, env []string, args ...string) scriptResult {
	t.Helper()
	dir := hostscriptDir(t)
	cmd := exec.Command("bash", append([]string{filepath.Join(dir, "files", name)}, args...)...)
	cmd.Env = append([]string{
		"PATH=" + pgBinDir + ":" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(),
		"DIFY_LIB_DIR=" + filepath.Join(dir, "files"),
		"DIFY_BACKUP_CONFIG=/nonexistent",
		"DIFY_CLOUD_LOGGING=0", // tests that check Cloud Logging entries turn it on with fake-gcloud
		"DIFY_LOCK_FILE=" + filepath.Join(t.TempDir(), "lock"),
		"DIFY_TMP_ROOT=" + t.TempDir(),
	}, env...)
	return run(t, cmd)
}

// run runs cmd with its output captured, timed, and its exit code kept; a
// command that cannot start at all fails the test.
func run(t *testing.T, cmd *exec.Cmd) scriptResult {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	res := scriptResult{out: out.String(), took: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
		res.exitCode = ee.ExitCode()
	}
	return res
}

// upstream returns Dify's own docker/ folder of release version, from
// ../shared/upstream (DIFY_UPSTREAM_DIR overrides where that is; a relative
// path is from the repository root). Like need, a
// missing folder fails the test under CI and skips it loudly elsewhere: these
// tests are worth nothing on an excerpt.
func upstream(t *testing.T, version string) string {
	t.Helper()
	root := os.Getenv("DIFY_UPSTREAM_DIR")
	switch {
	case root == "":
		root = filepath.Join(hostscriptDir(t), "..", "..", "shared", "upstream")
	case !filepath.IsAbs(root):
		root = filepath.Join(hostscriptDir(t), "..", root)
	}
	dir := filepath.Join(root, "dify-"+version, "docker")
	if _, err := os.Stat(filepath.Join(dir, "docker-compose.yaml")); err != nil {
		msg := fmt.Sprintf("Dify %s's docker/ folder is not at %s (%v): this test runs on the real release only", version, dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT PASSED: " + msg)
	}
	return dir
}

// copyRelease copies Dify version's docker/ folder to dst, writable, as the
// VM lays it out: volumes/ is a symlink to the shared volumes folder
// (../../../volumes from releases/<version>/docker), seeded with the
// release's own volume files.
func copyRelease(t *testing.T, version, dst string) {
	t.Helper()
	src := upstream(t, version)
	volumes := filepath.Join(dst, "..", "..", "..", "volumes")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if rel == "volumes" || strings.HasPrefix(rel, "volumes"+string(filepath.Separator)) {
			target = filepath.Join(volumes, strings.TrimPrefix(rel, "volumes"))
			if _, err := os.Lstat(target); err == nil {
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm()|0o200)
		}
	})
	if err == nil {
		err = os.RemoveAll(filepath.Join(dst, "volumes"))
	}
	if err == nil {
		err = os.Symlink("../../../volumes", filepath.Join(dst, "volumes"))
	}
	if err != nil {
		t.Fatalf("copying Dify %s's docker/ folder: %v", version, err)
	}
}

var composeConfig struct {
	once sync.Once
	path string
	err  error
}

// composeConfigBin builds hostscript/internal/composeconfig once per test
// binary: compose-go resolving a project as `docker compose config` does.
func composeConfigBin(t *testing.T) string {
	t.Helper()
	composeConfig.once.Do(func() {
		dir, err := os.MkdirTemp("", "composeconfig-")
		if err != nil {
			composeConfig.err = err
			return
		}
		composeConfig.path = filepath.Join(dir, "composeconfig")
		cmd := exec.Command("go", "build", "-o", composeConfig.path, "./internal/composeconfig")
		cmd.Dir = hostscriptDir(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			composeConfig.err = fmt.Errorf("go build ./internal/composeconfig: %v\n%s", err, out)
		}
	})
	if composeConfig.err != nil {
		t.Fatal(composeConfig.err)
	}
	return composeConfig.path
}

// resolve runs `docker compose config --format json` (compose-go) in dir with
// env added, and decodes it.
func resolve(t *testing.T, dir string, env ...string) composeProject {
	t.Helper()
	cmd := exec.Command(composeConfigBin(t), "--format", "json")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("compose config in %s: %v\n%s", dir, err, stderr.String())
	}
	var p composeProject
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("compose config JSON: %v", err)
	}
	p.raw = out
	return p
}

// composeProject is what `docker compose config --format json` prints,
// reduced to what the tests read.
type composeProject struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	raw      []byte
}

type composeService struct {
	Image       string             `json:"image"`
	Environment map[string]*string `json:"environment"`
	Command     []string           `json:"command"`
	Entrypoint  []string           `json:"entrypoint"`
	Ports       []struct {
		HostIP    string `json:"host_ip"`
		Target    int    `json:"target"`
		Published string `json:"published"`
	} `json:"ports"`
	Profiles []string `json:"profiles"`
}

// env returns a service's environment value ("" when unset or null).
func (s composeService) env(k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}
