package hostscript

import (
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
		if owner := sql.psql(t, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '"+db+"'"); strings.TrimSpace(owner) != "dify" {
			t.Errorf("database %s belongs to %q, want the Cloud SQL user dify", db, owner)
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
