package hostscript

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The managed tier's backups and restores, and the migration from the vm
// tier, run here as on the VM with the substitutions of backup_test.go: a
// second real PostgreSQL server stands in for Cloud SQL, reached through libpq
// (DIFY_DOCKER=0) as a built-in user that is no superuser, only a member of
// cloudsqlsuperuser with CREATEDB and CREATEROLE, as Cloud SQL makes them
// (https://cloud.google.com/sql/docs/postgres/users); the files bucket is a
// folder served by testdata/fake-gcloud. The stand-in has no pgvector (Debian
// does not ship it), so the tools are told to create another trusted
// extension where they create vector.

// testVectorExtension stands in for pgvector's vector extension.
const testVectorExtension = "pg_trgm"

// cloudSQL is a PostgreSQL server set up as Pulumi leaves Cloud SQL: the
// cloudsqlsuperuser role, the built-in user dify in it, and the two empty
// databases (sql.Database) owned by cloudsqlsuperuser.
func cloudSQL(t *testing.T) *pgServer {
	t.Helper()
	s := startPG(t)
	s.psql(t, "postgres", `CREATE ROLE cloudsqlsuperuser CREATEDB CREATEROLE;
CREATE ROLE dify LOGIN CREATEDB CREATEROLE IN ROLE cloudsqlsuperuser`)
	s.psql(t, "postgres", "CREATE DATABASE dify OWNER cloudsqlsuperuser")
	s.psql(t, "postgres", "CREATE DATABASE dify_plugin OWNER cloudsqlsuperuser")
	return s
}

// filesBucket is a fake-gcloud root with the files bucket in it.
type filesBucket struct {
	root, bin, calls string
}

func newFilesBucket(t *testing.T) filesBucket {
	t.Helper()
	b := filesBucket{root: t.TempDir(), bin: t.TempDir(), calls: filepath.Join(t.TempDir(), "gcloud-calls")}
	if err := os.Symlink(filepath.Join(hostscriptDir(t), "testdata", "fake-gcloud"), filepath.Join(b.bin, "gcloud")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(b.root, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// dir is where the bucket's objects are.
func (b filesBucket) dir() string { return filepath.Join(b.root, "files") }

// managedEnv is the backup tools' environment on the managed tier: Cloud SQL
// (the stand-in s) as dify, the files bucket gs://files.
func managedEnv(s *pgServer, b filesBucket, volumes, dest string) []string {
	env := append(backupEnv(s, volumes, dest), "DIFY_DATA_TIER=managed", "DIFY_FILES_DEST=gs://files",
		"DIFY_PG_USER=dify", "PGUSER=dify", "DIFY_VECTOR_EXTENSION="+testVectorExtension,
		"FAKE_GCS_ROOT="+b.root, "FAKE_GCLOUD_CALLS="+b.calls, "PATH="+b.bin+":"+pgBinDir+":"+os.Getenv("PATH"))
	return env
}

// storedFiles maps every regular file under root to its sha256: what a bucket
// holds of a folder (objects have no modes, owners, links or empty folders).
func storedFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for rel, e := range snapshotTree(t, root) {
		if e.Mode.IsRegular() {
			m[rel] = e.SHA256
		}
	}
	return m
}

func diffFiles(want, got map[string]string) []string {
	var d []string
	for p, w := range want {
		switch g, ok := got[p]; {
		case !ok:
			d = append(d, "missing: "+p)
		case g != w:
			d = append(d, "differs: "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, "unexpected: "+p)
		}
	}
	return d
}

// portableDump is a plain dump of db without owners and privileges (which
// differ by design across tiers: everything belongs to the restoring user)
// and without the extension the tools add on the managed tier.
func (s *pgServer) portableDump(t *testing.T, db string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "pg_dump"), "--no-password", "--no-owner", "--no-acl", "-d", db)
	cmd.Env = append(os.Environ(), s.env()...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump %s: %v", db, err)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		// pg_dump's comments only name each object; blank lines separate them.
		if line == "" || strings.HasPrefix(line, "--") || strings.HasPrefix(line, `\restrict`) ||
			strings.HasPrefix(line, `\unrestrict`) || strings.Contains(line, testVectorExtension) {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// seedDifyFiles adds what Dify's storage keeps beyond seedVolumes' files:
// tool files and a third tenant's key, all regular files, as Dify writes them.
func seedDifyFiles(t *testing.T, volumes string) {
	t.Helper()
	for rel, body := range map[string]string{
		"app/storage/tools/00000000-0000-4000-8000-000000000003/chart.png":      strings.Repeat("png", 20000),
		"app/storage/privkeys/00000000-0000-4000-8000-000000000003/private.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
	} {
		p := filepath.Join(volumes, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateVMToManaged is the migration of docs/managed.md ("Migrating from
// the vm tier") on real servers: a vm-tier backup, restored on the managed
// tier into a second PostgreSQL server (the Cloud SQL stand-in, as a
// non-superuser) and the files bucket. Every row, sequence and file must
// arrive; the plugin and sandbox folders land on the data disk as they were,
// weaviate's does not (the vectors are rebuilt in pgvector). Then the managed
// tier's own backup of the migrated stack (dumps from Cloud SQL, files from
// the bucket, no weaviate) restores into another managed stack identically,
// and a vm-tier stack refuses it before changing anything. The migration's
// time for this data set, extrapolated to 1 GiB, is logged.
func TestMigrateVMToManaged(t *testing.T) {
	t.Parallel()
	vm := startPG(t)
	seedDatabases(t, vm, 20_000)
	vm.psql(t, "dify", `CREATE EXTENSION "uuid-ossp"`) // Dify's schema uses uuid_generate_v4()
	vmVolumes := t.TempDir()
	seedVolumes(t, vmVolumes)
	seedDifyFiles(t, vmVolumes)
	dest := t.TempDir()

	// 1. The vm tier's last backup.
	res := runScript(t, "dify-backup", backupEnv(vm, vmVolumes, dest))
	if res.exitCode != 0 {
		t.Fatalf("vm-tier backup failed (exit %d):\n%s", res.exitCode, res.out)
	}
	backupTook := res.took
	run := runs(t, dest)[0]
	if m := readManifest(t, filepath.Join(dest, run, BackupManifest)); m.DataTier != "vm" || len(m.Objects) != 6 {
		t.Fatalf("a vm-tier manifest should say data_tier vm and list 6 objects: %+v", m)
	}

	// 2. Restored on the managed tier: databases into Cloud SQL, files into
	// the bucket, plugin storage onto the (new) data disk.
	sql := cloudSQL(t)
	bucket := newFilesBucket(t)
	managedVolumes := t.TempDir()
	res = runScript(t, "dify-restore", managedEnv(sql, bucket, managedVolumes, dest), "--yes", run)
	if res.exitCode != 0 {
		t.Fatalf("restoring the vm-tier backup on the managed tier failed (exit %d):\n%s", res.exitCode, res.out)
	}
	restoreTook := res.took
	for _, want := range []string{"backup " + run + " is from the vm tier, this host runs the managed tier",
		"symbolic links in " + managedVolumes + "/app/storage are not copied"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, res.out)
		}
	}
	for _, db := range []string{"dify", "dify_plugin"} {
		if want, got := vm.portableDump(t, db), sql.portableDump(t, db); want != got {
			t.Errorf("database %s differs after the migration (portable dumps: %d vs %d bytes)", db, len(want), len(got))
		}
		if owner := sql.psql(t, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '"+db+"'"); strings.TrimSpace(owner) != "cloudsqlsuperuser" {
			t.Errorf("database %s belongs to %q: Pulumi's database should stay as it was", db, owner)
		}
	}
	q := "SELECT count(*), md5(string_agg(m::text, '|' ORDER BY id)), (SELECT last_value FROM messages_id_seq) FROM messages m"
	if want, got := vm.psql(t, "dify", q), sql.psql(t, "dify", q); want != got {
		t.Errorf("messages differ: %s vs %s", want, got)
	}
	if got := sql.psql(t, "dify", "SELECT count(*) FROM pg_extension WHERE extname = '"+testVectorExtension+"'"); strings.TrimSpace(got) != "1" {
		t.Errorf("the vector store's extension was not created in dify")
	}
	if diff := diffFiles(storedFiles(t, filepath.Join(vmVolumes, "app/storage")), storedFiles(t, bucket.dir())); len(diff) > 0 {
		t.Errorf("the bucket does not hold the vm tier's files:\n%s", strings.Join(diff, "\n"))
	}
	for _, p := range []string{"plugin_daemon", "sandbox/conf", "sandbox/dependencies"} {
		if diff := diffTrees(snapshotTree(t, filepath.Join(vmVolumes, p)), snapshotTree(t, filepath.Join(managedVolumes, p))); len(diff) > 0 {
			t.Errorf("%s differs on the managed tier's disk:\n%s", p, strings.Join(diff, "\n"))
		}
	}
	if _, err := os.Stat(filepath.Join(managedVolumes, "weaviate")); !os.IsNotExist(err) {
		t.Errorf("the managed tier has no weaviate, but its folder was restored: %v", err)
	}
	calls, _ := os.ReadFile(bucket.calls)
	if !strings.Contains(string(calls), "gcloud storage rsync --recursive --delete-unmatched-destination-objects --quiet "+managedVolumes+"/app/storage gs://files") {
		t.Errorf("the files should be copied with gcloud storage rsync; calls:\n%s", calls)
	}

	// 3. The managed tier's own backup of the migrated stack: a file Dify
	// wrote to the bucket since the migration is in it, one deleted from the
	// bucket is not.
	os.WriteFile(filepath.Join(bucket.dir(), "upload_files", "after-migration.txt"), []byte("new"), 0o644)
	gone := filepath.Join(bucket.dir(), "image_files", "00000000-0000-4000-8000-000000000001", "logo.png")
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	dest2 := t.TempDir()
	res = runScript(t, "dify-backup", managedEnv(sql, bucket, managedVolumes, dest2))
	if res.exitCode != 0 {
		t.Fatalf("managed-tier backup failed (exit %d):\n%s", res.exitCode, res.out)
	}
	run2 := runs(t, dest2)[0]
	m := readManifest(t, filepath.Join(dest2, run2, BackupManifest))
	var names []string
	for _, o := range m.Objects {
		names = append(names, o.Name)
	}
	if m.DataTier != "managed" || m.Format != "dify-backup/1" ||
		strings.Join(names, " ") != "db-dify.dump db-dify_plugin.dump app-storage.tar.gz plugin-daemon.tar.gz sandbox.tar.gz" {
		t.Errorf("a managed-tier manifest: data_tier managed, the same format, no weaviate.tar.gz: %s %s %v", m.DataTier, m.Format, names)
	}
	other := cloudSQL(t)
	otherBucket := newFilesBucket(t)
	otherVolumes := t.TempDir()
	res = runScript(t, "dify-restore", managedEnv(other, otherBucket, otherVolumes, dest2), "--yes", "latest")
	if res.exitCode != 0 {
		t.Fatalf("restoring the managed backup into another managed stack failed (exit %d):\n%s", res.exitCode, res.out)
	}
	for _, db := range []string{"dify", "dify_plugin"} {
		if sql.portableDump(t, db) != other.portableDump(t, db) {
			t.Errorf("database %s differs after the managed round trip", db)
		}
	}
	if diff := diffFiles(storedFiles(t, bucket.dir()), storedFiles(t, otherBucket.dir())); len(diff) > 0 {
		t.Errorf("the other stack's bucket differs:\n%s", strings.Join(diff, "\n"))
	}
	if _, ok := storedFiles(t, otherBucket.dir())["upload_files/after-migration.txt"]; !ok {
		t.Errorf("a file written to the bucket after the migration is not in the managed backup")
	}

	// 4. A vm-tier stack refuses the managed backup before anything changes.
	vm2 := startPG(t)
	pristine := vm2.databases(t)
	vm2Volumes := t.TempDir()
	res = runScript(t, "dify-restore", backupEnv(vm2, vm2Volumes, dest2), "--yes", run2)
	if res.exitCode == 0 || !strings.Contains(res.out, "is from the managed data tier") || !strings.Contains(res.out, "Nothing was changed") {
		t.Errorf("a vm-tier restore of a managed backup must be refused with the reason (exit %d):\n%s", res.exitCode, res.out)
	}
	if vm2.databases(t) != pristine {
		t.Errorf("the refused restore changed the databases")
	}
	if entries, _ := os.ReadDir(vm2Volumes); len(entries) != 0 {
		t.Errorf("the refused restore wrote into the volume folder")
	}

	dbBytes, _ := strconv.ParseInt(strings.TrimSpace(vm.psql(t, "postgres",
		"SELECT sum(pg_database_size(datname)) FROM pg_database WHERE datname IN ('dify','dify_plugin')")), 10, 64)
	fileBytes := treeBytes(snapshotBackedUp(t, vmVolumes))
	total := dbBytes + fileBytes
	migration := backupTook + restoreTook
	perGiB := time.Duration(float64(migration) * float64(1<<30) / float64(total))
	t.Logf("migration data set: databases %d bytes on disk, files %d bytes (%d MiB together)", dbBytes, fileBytes, total>>20)
	t.Logf("migration: vm backup %v + restore on the managed tier %v = %v; at that rate 1 GiB takes %v (local disks and servers: no network)",
		backupTook.Round(time.Millisecond), restoreTook.Round(time.Millisecond), migration.Round(time.Millisecond), perGiB.Round(time.Second))
}

// TestManagedBackupFailures: on the managed tier a bucket that cannot be read
// fails the run with the cause and no manifest.
func TestManagedBackupFailures(t *testing.T) {
	t.Parallel()
	sql := cloudSQL(t)
	sql.psql(t, "dify", "SET ROLE dify; CREATE TABLE t (i int); INSERT INTO t VALUES (1)")
	bucket := newFilesBucket(t)
	os.RemoveAll(bucket.dir()) // the bucket does not exist (or cannot be listed)
	volumes := t.TempDir()
	seedVolumes(t, volumes)
	dest := t.TempDir()
	res := runScript(t, "dify-backup", managedEnv(sql, bucket, volumes, dest))
	if res.exitCode == 0 || !strings.Contains(res.out, "copying the files from gs://files failed") {
		t.Fatalf("an unreadable files bucket must fail the backup with the cause (exit %d):\n%s", res.exitCode, res.out)
	}
	if m := manifests(t, dest); len(m) > 0 {
		t.Errorf("a failed run left a manifest: %v", m)
	}
	res = runScript(t, "dify-backup", append(managedEnv(sql, bucket, volumes, dest), "DIFY_FILES_DEST=files"))
	if res.exitCode == 0 || !strings.Contains(res.out, "DIFY_FILES_DEST must be gs://BUCKET on the managed tier") {
		t.Errorf("a files destination that is not gs:// must be refused (exit %d):\n%s", res.exitCode, res.out)
	}
}

// redisServer is a throwaway Redis with AUTH on a loopback port: the
// Memorystore stand-in.
type redisServer struct {
	port int
	cli  string
}

func startRedis(t *testing.T, auth string) *redisServer {
	t.Helper()
	bin := need(t, "redis-server", "/usr/bin/redis-server")
	cli := need(t, "redis-cli", "/usr/bin/redis-cli")
	r := &redisServer{port: 20000 + rand.IntN(40000), cli: cli}
	cmd := exec.Command(bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--requirepass", auth,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if out, _ := r.do(auth, "PING"); out == "PONG" {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-server on port %d did not answer", r.port)
	return nil
}

func (r *redisServer) do(auth string, args ...string) (string, error) {
	cmd := exec.Command(r.cli, append([]string{"-p", strconv.Itoa(r.port)}, args...)...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+auth)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// TestManagedRestoreOnTheVM runs dify-restore as the VM does on the managed
// tier: PostgreSQL's client from the release's image (docker run, which the
// docker stand-in runs here against the Cloud SQL stand-in), the password
// from .env in a pgpass file, Memorystore (a real Redis with AUTH) flushed,
// Dify started, and after a vm-tier backup the vectors rebuilt with Dify's
// `flask vdb-migrate`, whose failures for a dataset (it exits 0 anyway) fail
// the restore with the way out. No secret reaches a command line.
func TestManagedRestoreOnTheVM(t *testing.T) {
	t.Parallel()
	_, dest := backedUp(t)
	sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := managedFixture(t, "1.8.1")
	if res := runStartupFunctions(t, h, srv, setupBody); res.exitCode != 0 {
		t.Fatalf("setup failed:\n%s", res.out)
	}
	redis := startRedis(t, fakeRedisAuth)
	// Memorystore's private address is this test's Redis.
	envPath := filepath.Join(h.docker, ".env")
	raw, _ := os.ReadFile(envPath)
	raw = []byte(strings.Replace(strings.Replace(string(raw), "\nREDIS_HOST=10.20.1.4\n", "\nREDIS_HOST=127.0.0.1\n", 1),
		"\nREDIS_PORT=6379\n", "\nREDIS_PORT="+strconv.Itoa(redis.port)+"\n", 1))
	os.WriteFile(envPath, raw, 0o600)
	sql := cloudSQL(t)
	bucket := newFilesBucket(t)
	output := filepath.Join(t.TempDir(), "vdb-migrate")
	env := []string{
		"BACKUP_DEST=" + dest, "DIFY_DIR=" + h.docker, "DIFY_VOLUMES=" + filepath.Join(h.dataMnt, "volumes"),
		"DIFY_STACK=dev", "DIFY_DATA_TIER=managed", "DIFY_PG_HOST=10.20.0.3", "DIFY_PG_USER=dify",
		"DIFY_PG_IMAGE=postgres:15-alpine", "DIFY_REDIS_IMAGE=redis:6-alpine", "DIFY_FILES_DEST=gs://files",
		"DIFY_VECTOR_EXTENSION=" + testVectorExtension, "DIFY_HEALTH_URL=" + srv.URL + "/console/api/ping",
		"DIFY_PG_WAIT_SECONDS=5",
		"PATH=" + h.stubs + ":" + bucket.bin + ":" + os.Getenv("PATH"), "FAKE_GCS_ROOT=" + bucket.root,
		"STUB_LOG=" + filepath.Join(h.root, "calls"), "FAKE_DOCKER_STATE=" + h.state, "FAKE_COMPOSECONFIG=" + composeConfigBin(t),
		"FAKE_DOCKER_RUN_NETWORK=PGHOST=" + sql.sock + " PGPORT=" + strconv.Itoa(sql.port),
		"FAKE_VDB_MIGRATE_OUTPUT=" + output,
	}
	app := appSecrets(t, sm)
	for _, tc := range []struct {
		name, output, want string
		ok                 bool
	}{
		{"vectors rebuilt", "Starting vector database migration.\nProcessing the 1 dataset 5b1c. 0 created, 0 skipped.\n" +
			"Successfully migrated dataset 5b1c.\nMigration complete. Created 1 dataset indexes. Skipped 0 datasets.\n" +
			"Starting annotation data migration.\nMigration complete. Created 0 app annotation indexes. Skipped 0 apps.\n",
			"vector indexes rebuilt: Migration complete. Created 1 dataset indexes. Skipped 0 datasets.", true},
		{"a dataset not rebuilt", "Starting vector database migration.\nProcessing the 1 dataset 5b1c. 0 created, 0 skipped.\n" +
			"Error creating dataset index: ValueError Embedding model not found\n" +
			"Migration complete. Created 0 dataset indexes. Skipped 0 datasets.\n",
			"1 vector indexes could not be rebuilt", false},
	} {
		os.WriteFile(output, []byte(tc.output), 0o644)
		if _, err := redis.do(fakeRedisAuth, "SET", "vector_indexing_stale", "1"); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(h.root, "calls"))
		res := runScript(t, "dify-restore", env, "--yes", "latest")
		if (res.exitCode == 0) != tc.ok || !strings.Contains(res.out, tc.want) {
			t.Fatalf("%s: want exit ok=%v and %q (exit %d):\n%s", tc.name, tc.ok, tc.want, res.exitCode, res.out)
		}
		if got, _ := redis.do(fakeRedisAuth, "EXISTS", "vector_indexing_stale"); got != "0" {
			t.Errorf("%s: Memorystore was not flushed (EXISTS %s)", tc.name, got)
		}
		calls, _ := os.ReadFile(filepath.Join(h.root, "calls"))
		c := string(calls)
		for _, want := range []string{
			"docker run --rm -i --network host -v ", "-e PGHOST=10.20.0.3 -e PGPORT=5432 -e PGSSLMODE=require postgres:15-alpine pg_restore",
			"docker run --rm --network host -e REDISCLI_AUTH redis:6-alpine redis-cli -h 127.0.0.1",
			"docker compose up -d @ ", "docker compose exec -T api flask vdb-migrate --scope all @ ",
		} {
			if !strings.Contains(c, want) {
				t.Errorf("%s: the restore should run %q; calls:\n%s", tc.name, want, c)
			}
		}
		if i, j := strings.Index(c, "compose up -d @"), strings.Index(c, "flask vdb-migrate"); i < 0 || j < i {
			t.Errorf("%s: vectors are rebuilt once Dify is up; calls:\n%s", tc.name, c)
		}
		for _, v := range append(mapValues(app), fakeRedisAuth) {
			if strings.Contains(c, v) || strings.Contains(res.out, v) {
				t.Errorf("%s: a secret value reached a command line or the output", tc.name)
			}
		}
	}
	if got := sql.psql(t, "dify", "SELECT count(*) FROM messages"); strings.TrimSpace(got) != "2000" {
		t.Errorf("the restore through docker run did not restore the messages: %s", got)
	}
}
