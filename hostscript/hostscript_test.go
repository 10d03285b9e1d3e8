package hostscript

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// devValues and prodValues are what the host component passes for the two
// stacks in Pulumi.dev.yaml and Pulumi.prod.yaml.
func devValues() Values {
	return Values{
		Stack: "dev", Project: "acme-dify-dev", DifyVersion: "1.8.1", Images: testImages("1.8.1"),
		DataDiskDevice: "dify-data", PublicURL: "https://dify-dev-proxy-7x2kq4abcd-an.a.run.app",
		UploadLimitMiB: 15, BodyLimitMiB: 16,
		BackupBucket: "acme-dify-dev-dify-dev-backups", BackupOnCalendar: "*-*-* 03:15:00",
		AppSecretsSecret: "dify-dev-app-secrets", AdminPasswordSecret: "dify-dev-admin-password",
		DataTier: TierVM,
	}
}

func prodValues() Values {
	return Values{
		Stack: "prod", Project: "acme-dify-prod", DifyVersion: "1.8.1", Images: testImages("1.8.1"),
		DataDiskDevice: "dify-data", PublicURL: "https://dify.example.com",
		UploadLimitMiB: 31, BodyLimitMiB: 32,
		BackupBucket: "acme-dify-prod-dify-prod-backups", BackupOnCalendar: "*-*-* 00/6:15:00",
		AppSecretsSecret: "dify-prod-app-secrets", AdminPasswordSecret: "dify-prod-admin-password",
		DataTier: TierVM,
	}
}

// managedValues are prod's on the managed data tier.
func managedValues() Values {
	v := prodValues()
	v.DataTier = TierManaged
	v.Managed = Managed{
		DBHost: "10.20.0.3", DBInstance: "dify-prod-db", DBUser: "dify",
		RedisHost: "10.20.1.4", RedisPort: 6378, RedisInstance: "projects/acme-dify-prod/locations/asia-northeast1/instances/dify-prod-redis",
		FilesBucket: "acme-dify-prod-dify-prod-files",
	}
	return v
}

func render(t *testing.T, v Values) string {
	t.Helper()
	s, err := Render(v)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return s
}

func shellcheck(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin := need(t, "shellcheck", "/usr/bin/shellcheck")
	cmd := exec.Command(bin, append([]string{"--severity=style", "--external-sources"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestShellcheck checks every script the VM runs: the startup script as
// rendered for both stacks (which holds all of startup/*.sh), the tools it
// installs, and the test stand-ins.
func TestShellcheck(t *testing.T) {
	t.Parallel()
	dir := hostscriptDir(t)
	for name, v := range map[string]Values{"dev": devValues(), "prod": prodValues(), "prod on the managed tier": managedValues()} {
		t.Run("rendered "+name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "startup.sh")
			if err := os.WriteFile(p, []byte(render(t, v)), 0o644); err != nil {
				t.Fatal(err)
			}
			shellcheck(t, dir, p)
			if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s", err, out)
			}
		})
	}
	t.Run("installed tools", func(t *testing.T) {
		shellcheck(t, filepath.Join(dir, "files"), "dify-backup", "dify-restore", "dify-backup-lib.sh")
	})
	t.Run("test stand-ins", func(t *testing.T) {
		shellcheck(t, dir, "testdata/fake-gcloud", "testdata/fake-docker")
	})
}

// TestRenderedScriptEmbedsTheTestedFiles: the files the startup script writes
// on the VM are byte for byte the ones the tests run. The script is sourced
// (without its main) and its install function run into a temporary root,
// with systemctl and systemd-analyze stubbed.
func TestRenderedScriptEmbedsTheTestedFiles(t *testing.T) {
	dir := hostscriptDir(t)
	root := t.TempDir()
	stubs := filepath.Join(root, "stubs")
	os.MkdirAll(stubs, 0o755)
	for _, name := range []string{"systemctl", "systemd-analyze"} {
		os.WriteFile(filepath.Join(stubs, name), []byte("#!/bin/sh\necho \"$0 $*\" >>\""+root+"/calls\"\n"), 0o755)
	}
	v := prodValues()
	script := strings.TrimSuffix(render(t, v), "main \"$@\"\n")
	if script == render(t, v) {
		t.Fatal("the rendered script no longer ends with main \"$@\"")
	}
	p := filepath.Join(root, "startup.sh")
	os.WriteFile(p, []byte(script+"\ninstall_backup_tools\nwrite_override \"$1\"\n"), 0o644)
	override := filepath.Join(root, "release")
	os.MkdirAll(override, 0o755)
	cmd := exec.Command("bash", p, override)
	cmd.Env = []string{
		"PATH=" + stubs + ":" + os.Getenv("PATH"),
		"DIFY_LIB_DIR=" + filepath.Join(root, "lib"), "DIFY_BIN_DIR=" + filepath.Join(root, "bin"),
		"DIFY_ETC_DIR=" + filepath.Join(root, "etc"), "DIFY_UNIT_DIR=" + filepath.Join(root, "units"),
		"DIFY_DATA_MNT=/mnt/disks/dify-data", "DIFY_CONSOLE=/dev/null",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install_backup_tools: %v\n%s", err, out)
	}
	for installed, source := range map[string]string{
		"lib/dify-backup-lib.sh":    "files/dify-backup-lib.sh",
		"bin/dify-backup":           "files/dify-backup",
		"bin/dify-restore":          "files/dify-restore",
		"lib/env.awk":               "startup/env.awk",
		"units/dify-backup.service": "files/dify-backup.service",
	} {
		got, err := os.ReadFile(filepath.Join(root, installed))
		if err != nil {
			t.Errorf("%s not installed: %v", installed, err)
			continue
		}
		want, _ := os.ReadFile(filepath.Join(dir, source))
		if string(got) != string(want) {
			t.Errorf("%s differs from %s", installed, source)
		}
		if fi, _ := os.Stat(filepath.Join(root, installed)); strings.HasPrefix(installed, "bin/") && fi.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %v, want 0755", installed, fi.Mode().Perm())
		}
	}
	timer, _ := os.ReadFile(filepath.Join(root, "units/dify-backup.timer"))
	for _, want := range []string{"OnCalendar=*-*-* 00/6:15:00\n", "Persistent=true\n", "WantedBy=timers.target\n"} {
		if !strings.Contains(string(timer), want) {
			t.Errorf("timer lacks %q:\n%s", want, timer)
		}
	}
	config, _ := os.ReadFile(filepath.Join(root, "etc/backup.env"))
	for _, want := range []string{"BACKUP_DEST=gs://acme-dify-prod-dify-prod-backups/prod\n", "DIFY_DIR=/mnt/disks/dify-data/current/docker\n",
		"DIFY_VOLUMES=/mnt/disks/dify-data/volumes\n", "DIFY_STACK=prod\n",
		fmt.Sprintf("DIFY_HEALTH_URL=http://127.0.0.1:%d%s\n", topology.DifyPort, topology.DifyHealthPath)} {
		if !strings.Contains(string(config), want) {
			t.Errorf("backup.env lacks %q:\n%s", want, config)
		}
	}
	calls, _ := os.ReadFile(filepath.Join(root, "calls"))
	if !strings.Contains(string(calls), "systemd-analyze calendar *-*-* 00/6:15:00") || !strings.Contains(string(calls), "systemctl daemon-reload") {
		t.Errorf("the timer expression should be checked and systemd reloaded; calls:\n%s", calls)
	}
	ov, _ := os.ReadFile(filepath.Join(override, "docker-compose.override.yaml"))
	for _, want := range []string{
		"name: dify\n",
		"  api:\n    image: langgenius/dify-api:1.8.1\n",
		"  worker:\n    image: langgenius/dify-api:1.8.1\n    environment:\n      MIGRATION_ENABLED: \"false\"\n",
		"  worker_beat:\n    image: langgenius/dify-api:1.8.1\n    environment:\n      MIGRATION_ENABLED: \"false\"\n",
		"  web:\n    image: langgenius/dify-web:1.8.1\n",
		"  sandbox:\n    image: langgenius/dify-sandbox:0.2.12\n",
		"  db:\n    image: postgres:15-alpine\n",
		"  redis:\n    image: redis:6-alpine\n",
		"  weaviate:\n    image: semitechnologies/weaviate:1.19.0\n",
		"  ssrf_proxy:\n    image: ubuntu/squid:6.6-24.04_edge\n",
		"  plugin_daemon:\n    image: langgenius/dify-plugin-daemon:0.2.0-local\n    ports: !override\n" +
			`      - "127.0.0.1:${EXPOSE_PLUGIN_DEBUGGING_PORT:-5003}:${PLUGIN_DEBUGGING_PORT:-5003}"` + "\n",
		"  nginx:\n    image: nginx:1.29.1\n    ports: !override\n" + fmt.Sprintf(`      - "%d:${NGINX_PORT:-80}"`, topology.DifyPort) + "\n",
	} {
		if !strings.Contains(string(ov), want) {
			t.Errorf("override lacks %q:\n%s", want, ov)
		}
	}
	if strings.Contains(string(ov), "443") {
		t.Errorf("override publishes 443:\n%s", ov)
	}
}

// TestRenderQuotesEveryValue: the variable block, run by bash, yields exactly
// the values given, and every value sits inside single quotes.
func TestRenderQuotesEveryValue(t *testing.T) {
	v := managedValues()
	v.BrowserURL = v.PublicURL
	s := render(t, v)
	start := strings.Index(s, "# This deployment.")
	end := strings.Index(s[start:], "\n\n")
	if start < 0 || end < 0 {
		t.Fatal("no deployment block in the script")
	}
	var block []string
	for _, line := range strings.Split(s[start:start+end], "\n")[1:] {
		if !strings.HasPrefix(line, "# ") {
			block = append(block, line)
		}
	}
	if len(block) != 22 {
		t.Fatalf("want 20 readonly values and 2 arrays, found %d:\n%s", len(block), strings.Join(block, "\n"))
	}
	for _, line := range block[:20] {
		if !regexp.MustCompile(`^readonly [A-Z_]+='[^']*'$`).MatchString(line) {
			t.Errorf("not single-quoted: %s", line)
		}
	}
	for _, line := range block[20:] {
		if !regexp.MustCompile(`^declare -rA [A-Z]+=\((\[[a-z_]+\]='[^']*' )+\)$`).MatchString(line) {
			t.Errorf("not an array of single-quoted values: %s", line)
		}
	}
	out, err := exec.Command("bash", "-c", strings.Join(block, "\n")+`
for s in "${!IMAGES[@]}"; do printf '%s=%s\n' "$s" "${IMAGES[$s]}"; done | sort
for s in "${!STATEFUL[@]}"; do printf '%s=%s\n' "$s" "${STATEFUL[$s]}"; done | sort
printf '%s\n' "$STACK" "$PROJECT" "$DIFY_VERSION" "$DATA_DISK_DEVICE" \
  "$PUBLIC_URL" "$BROWSER_URL" "$UPLOAD_LIMIT_MIB" "$BODY_LIMIT_MIB" "$BACKUP_BUCKET" "$BACKUP_ON_CALENDAR" \
  "$APP_SECRETS_SECRET" "$ADMIN_PASSWORD_SECRET" "$DATA_TIER" "$DB_HOST" "$DB_INSTANCE" "$DB_USER" \
  "$REDIS_HOST" "$REDIS_PORT" "$REDIS_INSTANCE" "$FILES_BUCKET"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range sortedKeys(v.Images) {
		want = append(want, s+"="+v.Images[s])
	}
	stateful := StatefulServices()
	for _, s := range sortedKeys(stateful) {
		want = append(want, s+"="+stateful[s])
	}
	want = append(want, v.Stack, v.Project, v.DifyVersion, v.DataDiskDevice,
		v.PublicURL, v.BrowserURL, "31", "32", v.BackupBucket, v.BackupOnCalendar, v.AppSecretsSecret, v.AdminPasswordSecret,
		v.DataTier, v.Managed.DBHost, v.Managed.DBInstance, v.Managed.DBUser,
		v.Managed.RedisHost, "6378", v.Managed.RedisInstance, v.Managed.FilesBucket)
	if string(out) != strings.Join(want, "\n")+"\n" {
		t.Errorf("values read back by bash:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// TestShellQuote: the quoting holds for text that validation would refuse
// anyway, so a future field cannot turn into shell syntax.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "it's", `$(touch /tmp/x) ; "a" \ b`, "new\nline", "'", ""} {
		out, err := exec.Command("bash", "-c", "printf '%s' "+shellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("shellQuote(%q) reads back as %q", s, out)
		}
	}
}

// TestRenderedScriptHoldsNoSecret: neither Dify's published defaults nor any
// literal secret appear in the script that goes into instance metadata.
func TestRenderedScriptHoldsNoSecret(t *testing.T) {
	literal := regexp.MustCompile(`(?m)^\s*(export\s+)?[A-Z_]*(PASSWORD|SECRET_KEY|API_KEY|DAEMON_KEY|_TOKEN)=['"]?[A-Za-z0-9+/]{8,}`)
	for name, v := range map[string]Values{"dev": devValues(), "prod": prodValues(), "managed": managedValues()} {
		// "dify-sandbox", the sandbox's default key, is also part of its image name.
		s := strings.ReplaceAll(render(t, v), "langgenius/dify-sandbox:", "")
		for _, d := range publishedDefaults {
			if strings.Contains(s, d) {
				t.Errorf("%s: the script contains Dify's published default %q", name, d)
			}
		}
		if m := literal.FindAllString(s, -1); len(m) > 0 {
			t.Errorf("%s: the script assigns literal secrets: %q", name, m)
		}
		for _, bad := range []string{"set -x", "BEGIN RSA PRIVATE KEY", "ya29."} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: the script contains %q", name, bad)
			}
		}
	}
}

// TestRenderValidation: bad values are refused with an error that names the
// field and the problem; all problems are reported together.
func TestRenderValidation(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Values)
		want   string
	}{
		{"empty stack", func(v *Values) { v.Stack = "" }, "Stack: must be set"},
		{"stack with a quote", func(v *Values) { v.Stack = "dev'; rm -rf /" }, "Stack: \"dev'; rm -rf /\" is not a stack name"},
		{"project uppercase", func(v *Values) { v.Project = "Acme-Dify" }, "Project: \"Acme-Dify\" is not a Google Cloud project id"},
		{"version without patch", func(v *Values) { v.DifyVersion = "1.8" }, "DifyVersion: \"1.8\" is not a Dify release tag"},
		{"version with a v", func(v *Values) { v.DifyVersion = "v1.8.1" }, "DifyVersion"},
		{"version latest", func(v *Values) { v.DifyVersion = "latest" }, "DifyVersion"},
		{"image unpinned", func(v *Values) { v.Images["sandbox"] = "langgenius/dify-sandbox" }, "Images[sandbox]: \"langgenius/dify-sandbox\" is not pinned"},
		{"image latest", func(v *Values) { v.Images["nginx"] = "nginx:latest" }, "Images[nginx]: \"nginx:latest\" is not pinned"},
		{"image with a space", func(v *Values) { v.Images["sandbox"] = "langgenius/dify-sandbox:0.2.12 --privileged" }, "Images[sandbox]"},
		{"image missing", func(v *Values) { delete(v.Images, "weaviate") }, "Images[weaviate]: must be set"},
		{"image of an unknown service", func(v *Values) { v.Images["qdrant"] = "langgenius/qdrant:v1.7.3" }, `Images: "qdrant" is not a service this deployment runs`},
		{"device uppercase", func(v *Values) { v.DataDiskDevice = "Dify-Data" }, "DataDiskDevice"},
		{"url http", func(v *Values) { v.PublicURL = "http://dify.example.com" }, "PublicURL: \"http://dify.example.com\" must start with https://"},
		{"url trailing slash", func(v *Values) { v.PublicURL = "https://dify.example.com/" }, "must not end with a slash"},
		{"url with path", func(v *Values) { v.PublicURL = "https://example.com/dify" }, "no path"},
		{"url with query", func(v *Values) { v.PublicURL = "https://example.com?x=1" }, "no path, query"},
		{"url with user", func(v *Values) { v.PublicURL = "https://u@example.com" }, "user"},
		{"url empty", func(v *Values) { v.PublicURL = "" }, "PublicURL: must be set"},
		{"url with a space", func(v *Values) { v.PublicURL = "https://exa mple.com" }, "PublicURL"},
		{"upload zero", func(v *Values) { v.UploadLimitMiB = 0 }, "UploadLimitMiB: 0 is outside 1..1024"},
		{"body below upload", func(v *Values) { v.BodyLimitMiB = 10 }, "BodyLimitMiB: 10 is below UploadLimitMiB 15"},
		{"bucket with gs://", func(v *Values) { v.BackupBucket = "gs://bucket" }, "without gs://"},
		{"bucket uppercase", func(v *Values) { v.BackupBucket = "Backups" }, "BackupBucket"},
		{"calendar with a newline", func(v *Values) { v.BackupOnCalendar = "daily\nExecStart=/bin/sh" }, "BackupOnCalendar"},
		{"calendar empty", func(v *Values) { v.BackupOnCalendar = "" }, "BackupOnCalendar: must be set"},
		{"secret with a slash", func(v *Values) { v.AppSecretsSecret = "projects/p/secrets/s" }, "AppSecretsSecret"},
		{"same secret twice", func(v *Values) { v.AdminPasswordSecret = v.AppSecretsSecret }, "must differ from AppSecretsSecret"},
		{"no data tier", func(v *Values) { v.DataTier = "" }, `DataTier: "" is not "vm" or "managed"`},
		{"managed endpoints on the vm tier", func(v *Values) { v.Managed = managedValues().Managed }, "Managed: must be empty"},
		{"managed without endpoints", func(v *Values) { v.DataTier = TierManaged }, "Managed.DBHost"},
		{"managed database on a public address", func(v *Values) { *v = managedValues(); v.Managed.DBHost = "34.84.1.2" }, "Managed.DBHost: \"34.84.1.2\" is not a private IPv4 address"},
		{"managed redis instance malformed", func(v *Values) { *v = managedValues(); v.Managed.RedisInstance = "dify-prod-redis" }, "Managed.RedisInstance"},
		{"managed files in the backup bucket", func(v *Values) { *v = managedValues(); v.Managed.FilesBucket = v.BackupBucket }, "the backup bucket's lifecycle rule deletes"},
		{"managed redis port zero", func(v *Values) { *v = managedValues(); v.Managed.RedisPort = 0 }, "Managed.RedisPort"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := devValues()
			tc.change(&v)
			s, err := Render(v)
			if err == nil {
				t.Fatalf("accepted; rendered %d bytes", len(s))
			}
			if s != "" {
				t.Errorf("returned a script along with the error")
			}
			if !strings.HasPrefix(err.Error(), "hostscript: invalid values: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		_, err := Render(Values{})
		if err == nil {
			t.Fatal("accepted empty values")
		}
		for _, f := range []string{"Stack", "Project", "DifyVersion", "Images[api]", "Images[weaviate]", "DataDiskDevice",
			"PublicURL", "UploadLimitMiB", "BodyLimitMiB", "BackupBucket", "BackupOnCalendar", "AppSecretsSecret", "AdminPasswordSecret", "DataTier"} {
			if !strings.Contains(err.Error(), f+":") {
				t.Errorf("error does not mention %s: %v", f, err)
			}
		}
	})
	t.Run("the managed tier", func(t *testing.T) {
		if _, err := Render(managedValues()); err != nil {
			t.Errorf("refused the managed tier: %v", err)
		}
	})
	t.Run("accepted variants", func(t *testing.T) {
		for _, change := range []func(*Values){
			func(v *Values) { v.Images["sandbox"] = "langgenius/dify-sandbox@sha256:" + strings.Repeat("ab", 32) },
			func(v *Values) {
				v.Images["plugin_daemon"] = "asia-northeast1-docker.pkg.dev/acme/mirror/dify-plugin-daemon:0.2.0-local"
			},
			func(v *Values) {
				v.Images["plugin_daemon"] = "registry.example.com:5000/dify-plugin-daemon:0.2.0-local"
			},
			func(v *Values) { v.PublicURL = "https://dify.example.com:8443" },
			func(v *Values) { v.DifyVersion = "1.9.0-rc1" },
		} {
			v := devValues()
			change(&v)
			if _, err := Render(v); err != nil {
				t.Errorf("refused a valid variant: %v", err)
			}
		}
	})
}

// TestRenderSize: the script fits in a metadata value with room to grow.
func TestRenderSize(t *testing.T) {
	if n := len(render(t, prodValues())); n > maxScriptBytes/2 {
		t.Errorf("the script is %d bytes; the metadata limit is %d", n, maxScriptBytes)
	}
}

// TestBackupContractInScripts: the names alerts and docs rely on are the ones
// the scripts use.
func TestBackupContractInScripts(t *testing.T) {
	lib, err := assets.ReadFile("files/dify-backup-lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	backup, _ := assets.ReadFile("files/dify-backup")
	for _, want := range []string{"gcloud logging write " + BackupLogName + " ", "MANIFEST=" + BackupManifest + " ", "readonly RESTORE_MARKER=" + RestoreMarker + "\n"} {
		if !strings.Contains(string(lib), want) {
			t.Errorf("dify-backup-lib.sh lacks %q", want)
		}
	}
	for _, want := range []string{"cloud_log " + BackupSuccessEvent + " NOTICE", "cloud_log " + BackupFailureEvent + " ERROR"} {
		if !strings.Contains(string(backup), want) {
			t.Errorf("dify-backup lacks %q", want)
		}
	}
}
