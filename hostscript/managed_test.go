package hostscript

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The managed data tier on the VM: the startup functions against the fake
// Secret Manager, Cloud SQL Admin API and Memorystore API (startup_test.go),
// writing .env and the override into Dify's real release folders, resolved
// by compose-go.

// appSecrets parses the latest version of the fake's app secret.
func appSecrets(t *testing.T, sm *fakeSecretManager) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sm.latest("dify-dev-app-secrets"))), "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

// managedFixture is a data disk with a release of version, on the managed tier.
func managedFixture(t *testing.T, version string) hostFixture {
	h := newHostFixtureAt(t, version)
	h.vars = managedTierVars
	return h
}

// TestManagedTierOnRealRelease: on the managed tier the VM generates the Cloud
// SQL user's password once (a key of its own in the app secret), sets it
// through the Cloud SQL Admin API, reads Memorystore's AUTH string, and writes a
// configuration, resolved by compose-go from Dify's own folders, in which db,
// redis and weaviate do not run, nothing depends on them, every Dify service
// reaches Cloud SQL over TLS, Memorystore with AUTH, pgvector and the files
// bucket with the VM's identity, and no published default secret is left. A
// later boot changes nothing, and no secret is printed.
func TestManagedTierOnRealRelease(t *testing.T) {
	for _, version := range []string{"1.8.1", "1.9.1"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
			sm.opPolls = 2 // users.update is RUNNING twice before DONE
			h := managedFixture(t, version)
			body := setupBody + `verify_compose "$RELEASES/$DIFY_VERSION/docker"
RESULT=checked`
			res := runStartupFunctions(t, h, srv, body)
			if res.exitCode != 0 {
				t.Fatalf("the managed tier's setup failed (exit %d):\n%s", res.exitCode, res.out)
			}
			if n := sm.count("dify-dev-app-secrets"); n != 1 {
				t.Errorf("a first install on the managed tier should store one version, got %d", n)
			}
			app := appSecrets(t, sm)
			pw := app["MANAGED_DB_PASSWORD"]
			// red keeps the secrets out of failure messages.
			red := func(s string) string { return strings.ReplaceAll(redact(s, app, ""), fakeRedisAuth, "<AUTH>") }
			if !regexp.MustCompile(`^[A-Za-z0-9]{48}$`).MatchString(pw) || pw == app["DB_PASSWORD"] {
				t.Errorf("MANAGED_DB_PASSWORD should be 48 letters and digits of its own")
			}
			if len(app) != len(appSecretKeys)+1 {
				t.Errorf("app secret holds %d keys, want %d", len(app), len(appSecretKeys)+1)
			}
			if len(sm.passwords) != 1 || sm.sqlUsers["dify"] != pw {
				t.Errorf("users.update should set MANAGED_DB_PASSWORD on Cloud SQL user dify once (%d calls)", len(sm.passwords))
			}
			if strings.Count(strings.Join(sm.requests, "\n"), "GET /sqladmin/v1/projects/acme-dify-dev/operations/op-1") != 3 {
				t.Errorf("the operation should be polled until DONE:\n%s", strings.Join(sm.requests, "\n"))
			}

			env := parseEnv(t, filepath.Join(h.docker, ".env"))
			for k, v := range map[string]string{
				"DB_HOST": "10.20.0.3", "DB_PORT": "5432", "DB_USERNAME": "dify", "DB_PASSWORD": pw, "DB_DATABASE": "dify",
				"DB_PLUGIN_DATABASE": "dify_plugin", "REDIS_HOST": "10.20.1.4", "REDIS_PORT": "6379", "REDIS_PASSWORD": fakeRedisAuth,
				"REDIS_USE_SSL": "false", "CELERY_BROKER_URL": "redis://:" + fakeRedisAuth + "@10.20.1.4:6379/1",
				"VECTOR_STORE": "pgvector", "COMPOSE_PROFILES": "", "PGVECTOR_HOST": "10.20.0.3", "PGVECTOR_PORT": "5432",
				"PGVECTOR_USER": "dify", "PGVECTOR_PASSWORD": pw, "PGVECTOR_DATABASE": "dify",
				"STORAGE_TYPE": "google-storage", "GOOGLE_STORAGE_BUCKET_NAME": "acme-dify-dev-dify-dev-files",
				"GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64": "", "POSTGRES_PASSWORD": app["DB_PASSWORD"],
			} {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf(".env %s = %q (set: %v), want %q", k, red(got), ok, red(v))
				}
			}

			p := resolve(t, h.docker)
			var names []string
			for name, s := range p.Services {
				names = append(names, name)
				if s.Image != testImages(version)[name] {
					t.Errorf("%s runs %q, the release table pins %q", name, s.Image, testImages(version)[name])
				}
			}
			sort.Strings(names)
			if want := "api nginx plugin_daemon sandbox ssrf_proxy web worker worker_beat"; strings.Join(names, " ") != want {
				t.Errorf("services %v, want %s: db, redis and weaviate are replaced by Cloud SQL, Memorystore and pgvector", names, want)
			}
			var raw struct {
				Services map[string]struct {
					DependsOn map[string]any `json:"depends_on"`
				} `json:"services"`
			}
			json.Unmarshal(p.raw, &raw)
			for name, s := range raw.Services {
				for dep := range s.DependsOn {
					if dep == "db" || dep == "redis" || dep == "weaviate" {
						t.Errorf("%s still depends on %s", name, dep)
					}
				}
			}
			for _, s := range []string{"api", "worker", "worker_beat", "plugin_daemon"} {
				svc := p.Services[s]
				for k, v := range map[string]string{"DB_HOST": "10.20.0.3", "DB_USERNAME": "dify", "DB_PASSWORD": pw,
					"REDIS_HOST": "10.20.1.4", "REDIS_PORT": "6379", "REDIS_PASSWORD": fakeRedisAuth, "REDIS_USE_SSL": "false"} {
					if svc.env(k) != v {
						t.Errorf("%s %s = %q, want %q", s, k, red(svc.env(k)), red(v))
					}
				}
			}
			for _, s := range []string{"api", "worker", "worker_beat"} {
				svc := p.Services[s]
				for k, v := range map[string]string{"DB_DATABASE": "dify", "DB_EXTRAS": "sslmode=require", "PGSSLMODE": "require",
					"VECTOR_STORE": "pgvector", "PGVECTOR_HOST": "10.20.0.3", "PGVECTOR_PASSWORD": pw, "STORAGE_TYPE": "google-storage",
					"GOOGLE_STORAGE_BUCKET_NAME": "acme-dify-dev-dify-dev-files", "GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64": "",
					"CELERY_BROKER_URL": "redis://:" + fakeRedisAuth + "@10.20.1.4:6379/1"} {
					if svc.env(k) != v {
						t.Errorf("%s %s = %q, want %q", s, k, red(svc.env(k)), red(v))
					}
				}
			}
			d := p.Services["plugin_daemon"]
			for k, v := range map[string]string{"DB_DATABASE": "dify_plugin", "DB_SSL_MODE": "require", "PLUGIN_STORAGE_TYPE": "local"} {
				if d.env(k) != v {
					t.Errorf("plugin_daemon %s = %q, want %q", k, d.env(k), v)
				}
			}
			if api := p.Services["api"]; api.env("MIGRATION_ENABLED") != "true" || p.Services["worker"].env("MIGRATION_ENABLED") != "false" {
				t.Errorf("only api migrates, on the managed tier too")
			}
			checkNoPublishedDefault(t, p, version)
			secrets := []string{fakeToken, fakeRedisAuth, string(sm.latest("dify-dev-admin-password"))}
			for _, v := range app {
				secrets = append(secrets, v)
			}
			for _, s := range secrets {
				if strings.Contains(res.out, s) {
					t.Errorf("the output contains a secret value (%s...):\n%s", s[:6], res.out)
				}
			}

			envBefore, _ := os.ReadFile(filepath.Join(h.docker, ".env"))
			again := runStartupFunctions(t, h, srv, body)
			if again.exitCode != 0 {
				t.Fatalf("a later boot failed:\n%s", again.out)
			}
			envAfter, _ := os.ReadFile(filepath.Join(h.docker, ".env"))
			if sm.count("dify-dev-app-secrets") != 1 || string(envBefore) != string(envAfter) {
				t.Errorf("a later boot must add no version and leave .env as it is")
			}
			if len(sm.passwords) != 2 || sm.passwords[1] != pw {
				t.Errorf("every boot sets the same password again (a hand-changed one is put right): %d calls", len(sm.passwords))
			}
		})
	}
}

// TestManagedTierFromVMTier: a stack that moves from the vm tier keeps every
// secret it had (SECRET_KEY encrypts data in the database being migrated)
// and gains the Cloud SQL password in one new version.
func TestManagedTierFromVMTier(t *testing.T) {
	t.Parallel()
	sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	if res := runStartupFunctions(t, h, srv, setupBody); res.exitCode != 0 {
		t.Fatalf("vm tier setup failed:\n%s", res.out)
	}
	before := appSecrets(t, sm)
	h.vars = managedTierVars
	res := runStartupFunctions(t, h, srv, setupBody+`verify_compose "$RELEASES/$DIFY_VERSION/docker"`)
	if res.exitCode != 0 {
		t.Fatalf("switching to the managed tier failed (exit %d):\n%s", res.exitCode, res.out)
	}
	after := appSecrets(t, sm)
	if sm.count("dify-dev-app-secrets") != 2 {
		t.Errorf("want exactly one new version, have %d", sm.count("dify-dev-app-secrets"))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed on the move to the managed tier", k)
		}
	}
	if after["MANAGED_DB_PASSWORD"] == "" || sm.sqlUsers["dify"] != after["MANAGED_DB_PASSWORD"] {
		t.Errorf("the new version should hold the password set on Cloud SQL")
	}
	if !strings.Contains(res.out, "generating the Cloud SQL user's password, stored as MANAGED_DB_PASSWORD") {
		t.Errorf("the new key should be logged (by name):\n%s", res.out)
	}
}

// TestManagedTierAPIsFailAndRecover: the Cloud SQL Admin API's 409 (another
// operation on the instance) and 403 (the role's grant still propagating) are
// waited out; a missing user, AUTH turned off and an operation that failed stop
// the boot with the cause, before .env is written.
func TestManagedTierAPIsFailAndRecover(t *testing.T) {
	t.Parallel()
	body := `mkdir -p "$RUN_DIR"; ln -sfn "releases/$DIFY_VERSION" "$CURRENT"
load_secrets
write_env "$RELEASES/$DIFY_VERSION/docker"`
	t.Run("busy instance, grant propagating", func(t *testing.T) {
		sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		h := managedFixture(t, "1.8.1")
		// users.list is denied once, users.update finds the instance busy twice.
		sm.sqlDeny, sm.sqlBusy = 1, 2
		res := runStartupFunctions(t, h, srv, body)
		if res.exitCode != 0 {
			t.Fatalf("403 and 409 must be retried (exit %d):\n%s", res.exitCode, res.out)
		}
		for _, want := range []string{
			"Cloud SQL Admin API answered HTTP 403 to users.list on dify-dev-db (PERMISSION_DENIED",
			"Cloud SQL Admin API answered HTTP 409 to users.update of dify on dify-dev-db (ABORTED: Operation failed because another operation was already in progress.): Cloud SQL runs one operation at a time on an instance; retrying",
		} {
			if !strings.Contains(res.out, want) {
				t.Errorf("output lacks %q:\n%s", want, res.out)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		spoil func(*fakeSecretManager)
		want  string
	}{
		{"user missing", func(f *fakeSecretManager) { delete(f.sqlUsers, "dify") }, "Cloud SQL instance dify-dev-db has no built-in user 'dify' (pulumi up creates it)"},
		{"AUTH off", func(f *fakeSecretManager) { f.redisAuth = "" }, "has no AUTH string: AUTH is off, and the managed tier requires it"},
		{"access denied", func(f *fakeSecretManager) { f.sqlDeny = 1000 }, "listing the users of Cloud SQL instance dify-dev-db failed: HTTP 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
			tc.spoil(sm)
			h := managedFixture(t, "1.8.1")
			res := runStartupFunctions(t, h, srv, body)
			if res.exitCode == 0 || !strings.Contains(res.out, tc.want) || !strings.Contains(res.out, "RESULT: FAILED") {
				t.Fatalf("want a failure naming %q (exit %d):\n%s", tc.want, res.exitCode, res.out)
			}
			if _, err := os.Stat(filepath.Join(h.docker, ".env")); !os.IsNotExist(err) {
				t.Errorf(".env written although the managed tier's credentials are missing")
			}
		})
	}
}

// TestCheckComposeRefusesUnsafeManagedConfigurations runs check_compose on
// the real resolved configuration of the managed tier, and on variants that
// must be refused: a data service back in, a connection without TLS, a files
// key, the wrong instance, a broker URL that does not match, the published
// default secrets the vm tier refuses too.
func TestCheckComposeRefusesUnsafeManagedConfigurations(t *testing.T) {
	t.Parallel()
	env := composeEnv
	// setEnv sets one setting of one service.
	setEnv := func(s, k, v string) func(map[string]any) {
		return func(c map[string]any) { env(c, s)[k] = v }
	}
	checkComposeVariants(t, managedFixture(t, "1.8.1"), []composeVariant{
		{name: "as written", change: func(map[string]any) {}},
		{name: "the database container back", want: "db, redis and weaviate, but these would run: db", change: func(c map[string]any) {
			c["services"].(map[string]any)["db"] = map[string]any{"image": "postgres:15-alpine"}
		}},
		{name: "weaviate back", want: "these would run: weaviate", change: func(c map[string]any) {
			c["services"].(map[string]any)["weaviate"] = map[string]any{"image": "semitechnologies/weaviate:1.19.0"}
		}},
		{name: "api without TLS to Cloud SQL", want: "api DB_EXTRAS should be sslmode=require", change: func(c map[string]any) {
			delete(env(c, "api"), "DB_EXTRAS")
		}},
		{name: "pgvector pool without TLS", want: "worker PGSSLMODE should be require", change: setEnv("worker", "PGSSLMODE", "prefer")},
		{name: "plugin daemon without TLS", want: "plugin_daemon DB_SSL_MODE should be require", change: setEnv("plugin_daemon", "DB_SSL_MODE", "disable")},
		{name: "a service account key for the files", want: "api GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64 should be empty", change: setEnv("api", "GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64", "eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0=")},
		{name: "files on the data disk", want: "worker STORAGE_TYPE should be google-storage", change: setEnv("worker", "STORAGE_TYPE", "opendal")},
		{name: "another database host", want: "plugin_daemon DB_HOST should be 10.20.0.3", change: setEnv("plugin_daemon", "DB_HOST", "db")},
		{name: "weaviate as the vector store", want: "worker_beat VECTOR_STORE should be pgvector", change: setEnv("worker_beat", "VECTOR_STORE", "weaviate")},
		{name: "plugin storage in a bucket", want: "plugin_daemon PLUGIN_STORAGE_TYPE should be local", change: setEnv("plugin_daemon", "PLUGIN_STORAGE_TYPE", "gcs")},
		{name: "Redis with TLS", want: "api REDIS_USE_SSL should be false", change: setEnv("api", "REDIS_USE_SSL", "true")},
		{name: "broker on the vm tier's redis", want: "api CELERY_BROKER_URL and REDIS_PASSWORD", change: func(c map[string]any) {
			for _, s := range []string{"api", "worker", "worker_beat"} {
				env(c, s)["CELERY_BROKER_URL"] = "redis://:" + fakeRedisAuth + "@redis:6379/1"
			}
		}},
		{name: "vector store password differs", want: "api DB_PASSWORD and worker PGVECTOR_PASSWORD", change: setEnv("worker", "PGVECTOR_PASSWORD", "AnotherGeneratedValue0123456789")},
		{name: "plugin daemon on the published Redis default", want: "api REDIS_PASSWORD and plugin_daemon REDIS_PASSWORD", change: setEnv("plugin_daemon", "REDIS_PASSWORD", "AnotherGeneratedValue0123456789")},
		{name: "published default secret", want: "a published default secret reaches api PGVECTOR_PASSWORD", change: setEnv("api", "PGVECTOR_PASSWORD", "difyai123456")},
	}, fakeRedisAuth)
}

// TestManagedTierRefusesOtherStores: on the managed tier env.local may not
// bring back weaviate (or any profile's container).
func TestManagedTierRefusesOtherStores(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"VECTOR_STORE=weaviate", "COMPOSE_PROFILES=pgvector"} {
		_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		h := managedFixture(t, "1.8.1")
		os.WriteFile(filepath.Join(h.dataMnt, "env.local"), []byte(line+"\n"), 0o600)
		res := runStartupFunctions(t, h, srv, setupBody)
		k, v, _ := strings.Cut(line, "=")
		if res.exitCode == 0 || !strings.Contains(res.out, "sets "+k+"="+v+": this deployment runs the pgvector vector store only, and only its data (the Cloud SQL database's dumps)") {
			t.Errorf("%s must be refused on the managed tier (exit %d):\n%s", line, res.exitCode, res.out)
		}
	}
}
