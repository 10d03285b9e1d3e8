package hostscript

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The compose tests run on copies of Dify's own docker/ folders (1.8.1 and
// 1.9.1, ../shared/upstream), with the .env and override the startup
// functions write, and read the configuration compose-go resolves from them:
// what `docker compose config` prints on the VM.

// setupBody loads the secrets and writes .env and the override for the
// fixture's release, as the startup script's config step does.
const setupBody = `mkdir -p "$RUN_DIR"; ln -sfn "releases/$DIFY_VERSION" "$CURRENT"
load_secrets
write_env "$RELEASES/$DIFY_VERSION/docker"
write_override "$RELEASES/$DIFY_VERSION/docker"
`

// passwordLike is the rule for settings that hold secrets: the name ends in
// PASSWORD, SECRET, KEY, TOKEN, AUTH, CREDENTIALS and the like.
var passwordLike = regexp.MustCompile(`(^|_)(PASSWORD|PWD|SECRET|KEY|KEYS|TOKEN|AUTH|CREDENTIALS|KEY_ID|SECRET_ID)$`)

// upstreamDefaults reads every published default of a password-like setting
// from Dify's own files: .env.example's values and the compose file's
// ${NAME:-default} fallbacks.
func upstreamDefaults(t *testing.T, version string) map[string][]string {
	t.Helper()
	dir := upstream(t, version)
	out := map[string][]string{}
	add := func(k, v string) {
		if passwordLike.MatchString(k) && v != "" && !strings.HasPrefix(v, "$") {
			out[v] = append(out[v], k)
		}
	}
	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(example), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			add(k, v)
		}
	}
	compose, err := os.ReadFile(filepath.Join(dir, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}$]+)\}`).FindAllStringSubmatch(string(compose), -1) {
		add(m[1], m[2])
	}
	return out
}

// TestUpstreamDefaultsRule: the rule finds every published default this
// project knows of by name, so a rule that missed one would show here.
func TestUpstreamDefaultsRule(t *testing.T) {
	for _, version := range []string{"1.8.1", "1.9.1"} {
		d := upstreamDefaults(t, version)
		for _, known := range publishedDefaults[:len(publishedDefaults)-1] { // the last is the issue's, not Dify's
			if _, ok := d[known]; !ok {
				t.Errorf("Dify %s: the password-like rule misses the published default %q", version, known)
			}
		}
		for _, v := range []string{"difyai123456", "minioadmin", "Qazwsxedc!@#123", "dify-sandbox"} {
			if _, ok := d[v]; !ok {
				t.Errorf("Dify %s: %q is not found as a published default", version, v)
			}
		}
	}
}

// TestComposeOnRealRelease writes .env and the override into Dify's real
// docker/ folder, lets the VM's own check pass, and then checks the resolved
// configuration independently: every service's image pinned to the release
// table; only nginx on port 80 and the plugin daemon on 127.0.0.1:5003
// published; no published default secret in any service's environment or
// command (settings of stores the profile does not start included); coupled
// settings equal; only api migrating; weaviate refusing anonymous access;
// every size limit within the upload limit the proxy's body limit is built on.
func TestComposeOnRealRelease(t *testing.T) {
	for _, version := range []string{"1.8.1", "1.9.1"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
			h := newHostFixtureAt(t, version)
			res := runStartupFunctions(t, h, srv, setupBody+`verify_compose "$RELEASES/$DIFY_VERSION/docker"
RESULT=checked`)
			if res.exitCode != 0 {
				t.Fatalf("the VM's check refused the configuration it wrote (exit %d):\n%s", res.exitCode, res.out)
			}
			p := resolve(t, h.docker)
			if p.Name != "dify" {
				t.Errorf("project name %q, want dify", p.Name)
			}
			want := testImages(version)
			var got []string
			for name, s := range p.Services {
				got = append(got, name)
				if s.Image != want[name] {
					t.Errorf("%s runs %q, the release table pins %q", name, s.Image, want[name])
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(Services(), " ") {
				t.Errorf("services %v, want %v", got, Services())
			}

			var published []string
			for name, s := range p.Services {
				for _, port := range s.Ports {
					published = append(published, name+" "+port.HostIP+":"+port.Published+"->"+strconv.Itoa(port.Target))
				}
			}
			sort.Strings(published)
			if w := []string{"nginx :80->80", "plugin_daemon 127.0.0.1:5003->5003"}; strings.Join(published, ",") != strings.Join(w, ",") {
				t.Errorf("published ports %q, want %q", published, w)
			}

			checkNoPublishedDefault(t, p, version)

			api, redis := p.Services["api"], p.Services["redis"]
			for _, c := range []struct{ a, ak, b, bk string }{
				{"api", "DB_PASSWORD", "db", "POSTGRES_PASSWORD"}, {"api", "DB_PASSWORD", "plugin_daemon", "DB_PASSWORD"},
				{"api", "REDIS_PASSWORD", "redis", "REDISCLI_AUTH"}, {"api", "REDIS_PASSWORD", "plugin_daemon", "REDIS_PASSWORD"},
				{"api", "CODE_EXECUTION_API_KEY", "sandbox", "API_KEY"}, {"api", "PLUGIN_DAEMON_KEY", "plugin_daemon", "SERVER_KEY"},
				{"api", "INNER_API_KEY_FOR_PLUGIN", "plugin_daemon", "DIFY_INNER_API_KEY"},
				{"api", "PLUGIN_DIFY_INNER_API_KEY", "plugin_daemon", "DIFY_INNER_API_KEY"},
				{"api", "WEAVIATE_API_KEY", "weaviate", "AUTHENTICATION_APIKEY_ALLOWED_KEYS"},
				{"api", "SECRET_KEY", "worker", "SECRET_KEY"}, {"api", "SECRET_KEY", "worker_beat", "SECRET_KEY"},
			} {
				a, b := p.Services[c.a].env(c.ak), p.Services[c.b].env(c.bk)
				if a == "" || a != b {
					t.Errorf("%s %s and %s %s differ or are empty", c.a, c.ak, c.b, c.bk)
				}
			}
			if i := indexOf(redis.Command, "--requirepass"); i < 0 || i+1 >= len(redis.Command) || redis.Command[i+1] != api.env("REDIS_PASSWORD") {
				t.Errorf("redis's --requirepass differs from api's REDIS_PASSWORD")
			}
			if api.env("CELERY_BROKER_URL") != "redis://:"+api.env("REDIS_PASSWORD")+"@redis:6379/1" {
				t.Errorf("CELERY_BROKER_URL does not carry REDIS_PASSWORD")
			}

			for name, s := range p.Services {
				if strings.Contains(s.Image, "/dify-api:") && (s.env("MIGRATION_ENABLED") == "true") != (name == "api") {
					t.Errorf("%s: MIGRATION_ENABLED=%q; only api may migrate", name, s.env("MIGRATION_ENABLED"))
				}
			}
			if got := p.Services["weaviate"].env("AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"); got != "false" {
				t.Errorf("weaviate AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=%q, want false", got)
			}

			const uploadMiB, bodyMiB = 15, 16 // what runStartupFunctions sets, from BodyLimitMiB = upload + 1
			for _, l := range []struct {
				service, key string
				unit         int
			}{
				{"api", "UPLOAD_FILE_SIZE_LIMIT", 1 << 20}, {"api", "UPLOAD_IMAGE_FILE_SIZE_LIMIT", 1 << 20},
				{"api", "UPLOAD_VIDEO_FILE_SIZE_LIMIT", 1 << 20}, {"api", "UPLOAD_AUDIO_FILE_SIZE_LIMIT", 1 << 20},
				{"api", "PLUGIN_MAX_PACKAGE_SIZE", 1}, {"worker", "PLUGIN_MAX_PACKAGE_SIZE", 1},
				{"plugin_daemon", "MAX_PLUGIN_PACKAGE_SIZE", 1},
			} {
				n, err := strconv.Atoi(p.Services[l.service].env(l.key))
				if err != nil || n <= 0 || n*l.unit > uploadMiB<<20 {
					t.Errorf("%s %s = %q: beyond the %d MiB upload limit (the proxy accepts %d MiB bodies)", l.service, l.key, p.Services[l.service].env(l.key), uploadMiB, bodyMiB)
				}
			}
			if got := p.Services["nginx"].env("NGINX_CLIENT_MAX_BODY_SIZE"); got != strconv.Itoa(bodyMiB)+"M" {
				t.Errorf("nginx NGINX_CLIENT_MAX_BODY_SIZE = %q, want the proxy's %dM", got, bodyMiB)
			}
		})
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestCheckComposeRefusesUnsafeConfigurations runs check_compose on the real
// resolved configuration, and on variants of it that must be refused.
func TestCheckComposeRefusesUnsafeConfigurations(t *testing.T) {
	t.Parallel()
	env, svc := composeEnv, composeSvc
	checkComposeVariants(t, newHostFixture(t), []composeVariant{
		{name: "as written", change: func(map[string]any) {}},
		{name: "443 published", want: "nginx publishes 443", change: func(c map[string]any) {
			s := svc(c, "nginx")
			s["ports"] = append(s["ports"].([]any), map[string]any{"target": 443, "published": "443"})
		}},
		{name: "debug port on all interfaces", want: "plugin_daemon publishes 5003 on all interfaces", change: func(c map[string]any) {
			svc(c, "plugin_daemon")["ports"] = []any{map[string]any{"target": 5003, "published": "5003"}}
		}},
		{name: "nginx on another port", want: "nginx publishes 80 on all interfaces:8080", change: func(c map[string]any) {
			svc(c, "nginx")["ports"] = []any{map[string]any{"target": 80, "published": "8080"}}
		}},
		{name: "web left on 1.8.0", want: "web runs langgenius/dify-web:1.8.0, not langgenius/dify-web:1.8.1", change: func(c map[string]any) {
			svc(c, "web")["image"] = "langgenius/dify-web:1.8.0"
		}},
		{name: "nginx on latest", want: "nginx runs nginx:latest", change: func(c map[string]any) { svc(c, "nginx")["image"] = "nginx:latest" }},
		{name: "a service the table does not pin", want: "qdrant runs langgenius/qdrant:v1.7.3, which the release table does not pin", change: func(c map[string]any) {
			c["services"].(map[string]any)["qdrant"] = map[string]any{"image": "langgenius/qdrant:v1.7.3"}
		}},
		{name: "a pinned service missing", want: "weaviate is not in the configuration", change: func(c map[string]any) {
			delete(c["services"].(map[string]any), "weaviate")
		}},
		{name: "sandbox key from the compose default", want: "sandbox API_KEY", change: func(c map[string]any) {
			env(c, "sandbox")["API_KEY"] = "dify-sandbox"
		}},
		{name: "unused store's password from the compose default", want: "api QDRANT_API_KEY", change: func(c map[string]any) {
			env(c, "api")["QDRANT_API_KEY"] = "difyai123456"
		}},
		{name: "short published default", want: "plugin_daemon MATRIXONE_PASSWORD", change: func(c map[string]any) {
			env(c, "plugin_daemon")["MATRIXONE_PASSWORD"] = "111"
		}},
		{name: "redis password default in its command", want: "redis command", change: func(c map[string]any) {
			svc(c, "redis")["command"] = []any{"redis-server", "--requirepass", "difyai123456"}
		}},
		{name: "broker URL with the default password", want: "worker CELERY_BROKER_URL", change: func(c map[string]any) {
			env(c, "worker")["CELERY_BROKER_URL"] = "redis://:difyai123456@redis:6379/1"
		}},
		{name: "sandbox key differs", want: "api CODE_EXECUTION_API_KEY and sandbox API_KEY", change: func(c map[string]any) {
			env(c, "sandbox")["API_KEY"] = "AnotherGeneratedValue0123456789"
		}},
		{name: "redis command password differs", want: "redis --requirepass", change: func(c map[string]any) {
			svc(c, "redis")["command"] = []any{"redis-server", "--requirepass", "AnotherGeneratedValue0123456789"}
		}},
		{name: "worker migrates", want: "only api may run the database migrations", change: func(c map[string]any) {
			env(c, "worker")["MIGRATION_ENABLED"] = "true"
		}},
		{name: "video limit above the upload limit", want: "api UPLOAD_VIDEO_FILE_SIZE_LIMIT", change: func(c map[string]any) {
			env(c, "api")["UPLOAD_VIDEO_FILE_SIZE_LIMIT"] = "100"
		}},
		{name: "plugin packages above the upload limit", want: "plugin_daemon MAX_PLUGIN_PACKAGE_SIZE", change: func(c map[string]any) {
			env(c, "plugin_daemon")["MAX_PLUGIN_PACKAGE_SIZE"] = "52428800"
		}},
		{name: "nginx body limit of its own", want: "nginx NGINX_CLIENT_MAX_BODY_SIZE", change: func(c map[string]any) {
			env(c, "nginx")["NGINX_CLIENT_MAX_BODY_SIZE"] = "100M"
		}},
	})
}

// composeVariant is a change to the resolved configuration and the refusal
// it must meet ("" for none).
type composeVariant struct {
	name   string
	want   string
	change func(c map[string]any)
}

func composeSvc(c map[string]any, s string) map[string]any {
	return c["services"].(map[string]any)[s].(map[string]any)
}

func composeEnv(c map[string]any, s string) map[string]any {
	return composeSvc(c, s)["environment"].(map[string]any)
}

// checkComposeVariants writes .env and the override into h's release, then
// runs the VM's check_compose on the configuration compose-go resolves from
// it, changed by each variant: accepted as written, each unsafe change refused
// with its message, which never repeats a secret (publishedDefaults, the
// variants' own, and secrets).
func checkComposeVariants(t *testing.T, h hostFixture, cases []composeVariant, secrets ...string) {
	t.Helper()
	_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	if res := runStartupFunctions(t, h, srv, setupBody); res.exitCode != 0 {
		t.Fatalf("setup failed:\n%s", res.out)
	}
	base := resolve(t, h.docker).raw
	defaults := filepath.Join(h.root, "secret-defaults")
	if res := runStartupFunctions(t, h, srv, `secret_defaults "$RELEASES/$DIFY_VERSION/docker" >`+shellQuote(defaults)); res.exitCode != 0 {
		t.Fatalf("secret_defaults failed:\n%s", res.out)
	}
	secrets = append(append(secrets, publishedDefaults...), "AnotherGeneratedValue0123456789")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal(base, &c); err != nil {
				t.Fatal(err)
			}
			tc.change(c)
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(t.TempDir(), "config.json")
			os.WriteFile(in, js, 0o600)
			res := runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"
check_compose `+shellQuote(in)+` `+shellQuote(defaults)+`
RESULT=accepted`)
			switch {
			case tc.want == "" && res.exitCode != 0:
				t.Fatalf("refused a safe configuration:\n%s", res.out)
			case tc.want != "" && res.exitCode == 0:
				t.Fatalf("accepted it:\n%s", res.out)
			case tc.want != "" && !strings.Contains(res.out, tc.want):
				t.Errorf("refusal should name %q:\n%s", tc.want, res.out)
			}
			for _, d := range secrets {
				if strings.Contains(res.out, d) {
					t.Errorf("the message repeats a secret value %q:\n%s", d, res.out)
				}
			}
		})
	}
}

// TestComposeChecksOnWhatWasWritten: without the override, or with a setting
// missing from .env (compose then takes its own published default), the VM's
// check refuses the real configuration.
func TestComposeChecksOnWhatWasWritten(t *testing.T) {
	t.Parallel()
	_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	if res := runStartupFunctions(t, h, srv, setupBody); res.exitCode != 0 {
		t.Fatalf("setup failed:\n%s", res.out)
	}
	envPath := filepath.Join(h.docker, ".env")
	env, _ := os.ReadFile(envPath)
	for key, want := range map[string]string{
		"SANDBOX_API_KEY": "sandbox API_KEY;",
		"QDRANT_API_KEY":  "api QDRANT_API_KEY;",
	} {
		os.WriteFile(envPath, regexp.MustCompile(`(?m)^`+key+`=.*\n`).ReplaceAll(env, nil), 0o600)
		res := runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"
verify_compose "$RELEASES/1.8.1/docker"`)
		if res.exitCode == 0 || !strings.Contains(res.out, "a published default secret reaches") || !strings.Contains(res.out, want) {
			t.Errorf("without %s in .env the compose default must be refused (exit %d):\n%s", key, res.exitCode, res.out)
		}
	}
	os.WriteFile(envPath, env, 0o600)

	os.Remove(filepath.Join(h.docker, "docker-compose.override.yaml"))
	res := runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"
verify_compose "$RELEASES/1.8.1/docker"`)
	if res.exitCode == 0 || !strings.Contains(res.out, "worker runs langgenius/dify-api:1.8.0, not langgenius/dify-api:1.8.1") ||
		!strings.Contains(res.out, "nginx runs nginx:latest") {
		t.Errorf("without the override the check must refuse the 1.8.0 worker and the unpinned nginx (exit %d):\n%s", res.exitCode, res.out)
	}
}

// TestVerifyComposeWritesNothingToTMPDIR: the resolved configuration holds
// every secret, and is far larger than a pipe (about 140 KB). Bash 5.2 writes
// such a here-string or here-document to a file under $TMPDIR (default /tmp,
// on the boot disk). Every file created in the functions' TMPDIR while the
// real check runs on the real configuration is caught by inotify, however
// briefly it lived.
func TestVerifyComposeWritesNothingToTMPDIR(t *testing.T) {
	t.Parallel()
	_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	if res := runStartupFunctions(t, h, srv, setupBody); res.exitCode != 0 {
		t.Fatalf("setup failed:\n%s", res.out)
	}
	if n := len(resolve(t, h.docker).raw); n < 65536 {
		t.Fatalf("the resolved configuration is %d bytes: no longer larger than a pipe, this test proves nothing", n)
	}
	created := watchCreates(t, h.tmp)
	res := runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"
verify_compose "$RELEASES/1.8.1/docker"`)
	if res.exitCode != 0 {
		t.Fatalf("verify_compose failed:\n%s", res.out)
	}
	if files := created(); len(files) > 0 {
		t.Errorf("files were created in TMPDIR (the boot disk's /tmp on the VM) while the compose configuration was checked: %v", files)
	}
}

// watchCreates watches dir with inotify and returns a function that lists the
// names created in it since.
func watchCreates(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		t.Fatalf("inotify watch %s: %v", dir, err)
	}
	return func() []string {
		var names []string
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if n <= 0 || err != nil {
				return names
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				names = append(names, name)
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// TestOtherVectorStoreRefused: an operator who switches VECTOR_STORE (or the
// profiles) in env.local is refused with the setting and the reason: only
// weaviate's data is in the backups.
func TestOtherVectorStoreRefused(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"VECTOR_STORE=qdrant", "COMPOSE_PROFILES=weaviate,pgvector"} {
		_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		h := newHostFixture(t)
		os.WriteFile(filepath.Join(h.dataMnt, "env.local"), []byte("MAIL_TYPE=smtp\n"+line+"\n"), 0o600)
		res := runStartupFunctions(t, h, srv, setupBody)
		k, v, _ := strings.Cut(line, "=")
		if res.exitCode == 0 || !strings.Contains(res.out, "sets "+k+"="+v+": this deployment runs the weaviate vector store only") ||
			!strings.Contains(res.out, "backups") {
			t.Errorf("%s in env.local must be refused, naming it and why (exit %d):\n%s", line, res.exitCode, res.out)
		}
		if _, err := os.Stat(filepath.Join(h.docker, ".env")); !os.IsNotExist(err) {
			t.Errorf("%s: .env written despite the refusal", line)
		}
	}
}

// checkNoPublishedDefault: no password-like setting of any service holds a
// published default of Dify version's files, no setting or command contains
// a long one, and the resolved configuration names none this project knows.
func checkNoPublishedDefault(t *testing.T, p composeProject, version string) {
	t.Helper()
	defaults := upstreamDefaults(t, version)
	for name, s := range p.Services {
		for k, v := range s.Environment {
			if v == nil {
				continue
			}
			if keys, ok := defaults[*v]; ok && passwordLike.MatchString(k) {
				t.Errorf("%s %s holds the published default of %v", name, k, keys)
			}
			for d := range defaults {
				if len(d) >= 12 && strings.Contains(*v, d) {
					t.Errorf("%s %s contains a published default", name, k)
				}
			}
		}
		cmd := strings.Join(append(s.Command, s.Entrypoint...), " ")
		for d := range defaults {
			if len(d) >= 8 && strings.Contains(cmd, d) {
				t.Errorf("%s's command contains a published default", name)
			}
		}
	}
	// "dify-sandbox", the sandbox's default key, is also its image's name.
	raw := strings.ReplaceAll(string(p.raw), `"langgenius/dify-sandbox:`, `"`)
	for _, d := range publishedDefaults {
		if strings.Contains(raw, d) {
			t.Errorf("the resolved configuration contains the published default %q", d)
		}
	}
}
