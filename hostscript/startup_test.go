package hostscript

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/topology"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The startup script's secret handling and .env writing run here for real,
// sourced from startup/*.sh, against a fake metadata server and Secret Manager
// (the same REST paths and JSON as Google's). Nothing else of the VM is needed.

const fakeToken = "ya29.fake-access-token-for-tests"

// fakeSecretManager serves the metadata token endpoint and the two Secret
// Manager calls the script makes, keeping versions in memory.
type fakeSecretManager struct {
	mu       sync.Mutex
	versions map[string][][]byte // secret id -> payloads, oldest first
	failWith int                 // answer every access with this HTTP status
	// deny answers the first deny requests with 403, as Secret Manager does
	// until the IAM grant has propagated.
	deny     int
	requests []string

	// The managed tier's Cloud SQL instance and Memorystore instance, as the
	// Cloud SQL Admin API (v1) and the Memorystore for Redis API (v1) serve
	// them. sqlUsers maps a user to its password ("" for none yet);
	// sqlBusy answers the next users.update calls with 409, as Cloud SQL does
	// while another operation runs on the instance; opPolls is how many
	// operations.get calls see an operation RUNNING before DONE.
	sqlUsers  map[string]string
	sqlOps    map[string]int // operation -> polls left before DONE
	sqlBusy   int
	sqlDeny   int // like deny, for the Cloud SQL and Memorystore calls
	opPolls   int
	redisAuth string
	passwords []string // every password users.update set, in order
}

// The managed tier's instances in the dev project (managedDevValues).
const (
	fakeSQLInstance   = "dify-dev-db"
	fakeRedisInstance = "projects/acme-dify-dev/locations/asia-northeast1/instances/dify-dev-redis"
	fakeRedisAuth     = "7c1f5b2e-93d4-4a6b-b1e8-2f0d9c3a4e51"
)

func newFakeSecretManager(t *testing.T, secrets ...string) (*fakeSecretManager, *httptest.Server) {
	f := &fakeSecretManager{versions: map[string][][]byte{},
		sqlUsers: map[string]string{"postgres": "", "dify": ""}, sqlOps: map[string]int{}, redisAuth: fakeRedisAuth}
	for _, s := range secrets {
		f.versions[s] = nil
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

var (
	accessPath = regexp.MustCompile(`^/v1/projects/acme-dify-dev/secrets/([A-Za-z0-9_-]+)/versions/latest:access$`)
	addPath    = regexp.MustCompile(`^/v1/projects/acme-dify-dev/secrets/([A-Za-z0-9_-]+):addVersion$`)
	// sqladmin.googleapis.com/v1 and redis.googleapis.com/v1, each under a
	// prefix of the fake server.
	sqlUsersPath  = regexp.MustCompile(`^/sqladmin/v1/projects/acme-dify-dev/instances/` + fakeSQLInstance + `/users$`)
	sqlOpPath     = regexp.MustCompile(`^/sqladmin/v1/projects/acme-dify-dev/operations/([a-z0-9-]+)$`)
	redisAuthPath = "/redis/v1/" + fakeRedisInstance + "/authString"
)

// serveManaged answers the Cloud SQL Admin API's users.list, users.update and
// operations.get, and Memorystore's getAuthString, with Google's JSON shapes
// (Operation: name, status PENDING|RUNNING|DONE, operationType UPDATE_USER).
// It reports whether it handled the request.
func (f *fakeSecretManager) serveManaged(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case sqlUsersPath.MatchString(r.URL.Path) && r.Method == http.MethodGet:
		var items []map[string]any
		for name := range f.sqlUsers {
			items = append(items, map[string]any{"kind": "sql#user", "name": name, "instance": fakeSQLInstance,
				"project": "acme-dify-dev", "type": "BUILT_IN"})
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "sql#usersList", "items": items})
	case sqlUsersPath.MatchString(r.URL.Path) && r.Method == http.MethodPut:
		name := r.URL.Query().Get("name")
		var body struct{ Name, Password string }
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
			return true
		}
		if _, ok := f.sqlUsers[name]; !ok || body.Name != name {
			apiError(w, http.StatusNotFound, "NOT_FOUND", "The user does not exist.")
			return true
		}
		if f.sqlBusy > 0 {
			f.sqlBusy--
			apiError(w, http.StatusConflict, "ABORTED", "Operation failed because another operation was already in progress.")
			return true
		}
		if body.Password == "" {
			apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "password")
			return true
		}
		f.sqlUsers[name] = body.Password
		f.passwords = append(f.passwords, body.Password)
		op := fmt.Sprintf("op-%d", len(f.passwords))
		f.sqlOps[op] = f.opPolls
		json.NewEncoder(w).Encode(map[string]any{"kind": "sql#operation", "name": op, "status": "PENDING",
			"operationType": "UPDATE_USER", "targetId": fakeSQLInstance})
	case sqlOpPath.MatchString(r.URL.Path) && r.Method == http.MethodGet:
		op := sqlOpPath.FindStringSubmatch(r.URL.Path)[1]
		left, ok := f.sqlOps[op]
		if !ok {
			apiError(w, http.StatusNotFound, "NOT_FOUND", "The operation does not exist.")
			return true
		}
		status := "DONE"
		if left > 0 {
			f.sqlOps[op] = left - 1
			status = "RUNNING"
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "sql#operation", "name": op, "status": status,
			"operationType": "UPDATE_USER", "targetId": fakeSQLInstance})
	case r.URL.Path == redisAuthPath && r.Method == http.MethodGet:
		if f.redisAuth == "" { // AUTH off: the API answers an empty InstanceAuthString
			w.Write([]byte("{}"))
			return true
		}
		json.NewEncoder(w).Encode(map[string]string{"authString": f.redisAuth})
	default:
		return false
	}
	return true
}

func (f *fakeSecretManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.URL.Path == "/console/api/ping" { // Dify's health endpoint, for the end-to-end boots
		w.Write([]byte(`{"result": "pong"}`))
		return
	}
	if r.URL.Path == "/computeMetadata/v1/instance/service-accounts/default/token" {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": fakeToken, "expires_in": 3599, "token_type": "Bearer"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "no or wrong token")
		return
	}
	if f.sqlDeny > 0 && (sqlUsersPath.MatchString(r.URL.Path) || r.URL.Path == redisAuthPath) {
		f.sqlDeny--
		apiError(w, http.StatusForbidden, "PERMISSION_DENIED", "The client is not authorized to make this request.")
		return
	}
	if f.deny > 0 && (accessPath.MatchString(r.URL.Path) || addPath.MatchString(r.URL.Path)) {
		f.deny--
		apiError(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'secretmanager.versions.access' denied for resource (or it may not exist).")
		return
	}
	if f.serveManaged(w, r) {
		return
	}
	if m := accessPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		if f.failWith != 0 {
			apiError(w, f.failWith, "PERMISSION_DENIED", "Permission 'secretmanager.versions.access' denied")
			return
		}
		// Secret Manager gives the same answer for a secret without versions
		// and for one it does not know (gcloud prints it as "NOT_FOUND:
		// Secret [projects/N/secrets/X] not found or has no versions.").
		vs := f.versions[m[1]]
		if len(vs) == 0 {
			apiError(w, http.StatusNotFound, "NOT_FOUND", "Secret [projects/1234/secrets/"+m[1]+"] not found or has no versions.")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"name":    fmt.Sprintf("projects/1234/secrets/%s/versions/%d", m[1], len(vs)),
			"payload": map[string]string{"data": base64.StdEncoding.EncodeToString(vs[len(vs)-1])},
		})
		return
	}
	if m := addPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost {
		if _, ok := f.versions[m[1]]; !ok {
			apiError(w, http.StatusNotFound, "NOT_FOUND", "Secret [projects/1234/secrets/"+m[1]+"] not found.")
			return
		}
		var body struct {
			Payload struct{ Data string } `json:"payload"`
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
			return
		}
		data, err := base64.StdEncoding.DecodeString(body.Payload.Data)
		if err != nil || len(data) == 0 {
			apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "payload.data")
			return
		}
		f.versions[m[1]] = append(f.versions[m[1]], data)
		json.NewEncoder(w).Encode(map[string]any{"name": fmt.Sprintf("projects/1234/secrets/%s/versions/%d", m[1], len(f.versions[m[1]]))})
		return
	}
	apiError(w, http.StatusNotFound, "NOT_FOUND", "no such method")
}

func apiError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

func (f *fakeSecretManager) latest(secret string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.versions[secret]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

func (f *fakeSecretManager) count(secret string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.versions[secret])
}

// hostFixture is a data disk folder with a copy of Dify 1.8.1's real docker/
// folder in releases/1.8.1 (volumes/ linked to the shared volumes folder, as
// on the VM), a docker stand-in (testdata/fake-docker, which resolves the
// compose configuration with compose-go) and a private TMPDIR.
type hostFixture struct {
	root, dataMnt, docker string
	stubs, state, tmp     string
	env                   []string // added to the functions' environment
	// vars are shell assignments after the deployment's (the data tier's
	// values: vmTierVars, or managedTierVars).
	vars string
}

// vmTierVars and managedTierVars are the data tier's variables as the
// rendered script sets them for the dev stack (managedDevValues).
const (
	vmTierVars      = `DATA_TIER=vm DB_HOST= DB_INSTANCE= DB_USER= REDIS_HOST= REDIS_PORT=0 REDIS_INSTANCE= FILES_BUCKET=`
	managedTierVars = `DATA_TIER=managed DB_HOST=10.20.0.3 DB_INSTANCE=` + fakeSQLInstance + ` DB_USER=dify REDIS_HOST=10.20.1.4 REDIS_PORT=6379 REDIS_INSTANCE=` + fakeRedisInstance + ` FILES_BUCKET=acme-dify-dev-dify-dev-files`
)

func newHostFixture(t *testing.T) hostFixture {
	return newHostFixtureAt(t, "1.8.1")
}

func newHostFixtureAt(t *testing.T, version string) hostFixture {
	t.Helper()
	root := t.TempDir()
	h := hostFixture{root: root, dataMnt: filepath.Join(root, "data"), stubs: filepath.Join(root, "stubs"),
		state: filepath.Join(root, "docker-state"), tmp: filepath.Join(root, "tmp"), vars: vmTierVars}
	h.docker = filepath.Join(h.dataMnt, "releases", version, "docker")
	for _, d := range []string{h.docker, h.stubs, h.state, h.tmp, filepath.Join(h.dataMnt, "volumes")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyRelease(t, version, h.docker)
	if err := os.Symlink(filepath.Join(hostscriptDir(t), "testdata", "fake-docker"), filepath.Join(h.stubs, "docker")); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h hostFixture) calls() string {
	b, _ := os.ReadFile(filepath.Join(h.root, "calls"))
	return string(b)
}

// testImages is the release table's 1.8.1 row, as the host component passes it.
func testImages(version string) map[string]string {
	m := map[string]string{}
	for s, img := range config.Releases()[version].Images {
		m[s] = img
	}
	return m
}

// imagesDecl is the IMAGES and STATEFUL arrays as the rendered script declares them.
func imagesDecl(version string) string {
	var b strings.Builder
	b.WriteString("declare -rA IMAGES=(")
	for s, img := range testImages(version) {
		fmt.Fprintf(&b, "[%s]=%s ", s, shellQuote(img))
	}
	b.WriteString(")\ndeclare -rA STATEFUL=(")
	for s, m := range StatefulServices() {
		fmt.Fprintf(&b, "[%s]=%s ", s, shellQuote(m))
	}
	b.WriteString(")\n")
	return b.String()
}

// runStartupFunctions sources the startup libraries with the deployment's
// variables set as the rendered script sets them, then runs body.
func runStartupFunctions(t *testing.T, h hostFixture, srv *httptest.Server, body string) scriptResult {
	t.Helper()
	need(t, "jq", "/usr/bin/jq")
	dir := hostscriptDir(t)
	version := filepath.Base(filepath.Dir(h.docker))
	script := fmt.Sprintf(`set -euo pipefail
set -E
STACK=dev PROJECT=acme-dify-dev DIFY_VERSION=%[5]s
%[6]s
PUBLIC_URL=https://dify.example.com BROWSER_URL=https://dify.example.com UPLOAD_LIMIT_MIB=15 BODY_LIMIT_MIB=16
APP_SECRETS_SECRET=dify-dev-app-secrets ADMIN_PASSWORD_SECRET=dify-dev-admin-password
%[7]s
DIFY_PORT=%[3]d HEALTH_PATH=%[4]s RESTORE_MARKER=`+RestoreMarker+`
source %[1]s/startup/common.sh
source %[1]s/startup/secrets.sh
source %[1]s/startup/managed.sh
source %[1]s/startup/dify.sh
trap 'on_error "$?" "$LINENO" "$BASH_COMMAND"' ERR
trap 'on_exit' EXIT
%[2]s
`, dir, body, topology.DifyPort, topology.DifyHealthPath, version, imagesDecl(version), h.vars)
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append([]string{
		"PATH=" + h.stubs + ":" + os.Getenv("PATH"),
		"HOME=" + h.root,
		"TMPDIR=" + h.tmp,
		"STUB_LOG=" + filepath.Join(h.root, "calls"),
		"FAKE_DOCKER_STATE=" + h.state,
		"FAKE_COMPOSECONFIG=" + composeConfigBin(t),
		"DIFY_DATA_MNT=" + h.dataMnt,
		"DIFY_LIB_DIR=" + filepath.Join(dir, "startup"),
		"DIFY_RUN_DIR=" + filepath.Join(h.root, "run"),
		"DIFY_STATUS_FILE=" + filepath.Join(h.root, "status"),
		"DIFY_CONSOLE=/dev/null",
		"DIFY_METADATA_URL=" + srv.URL + "/computeMetadata/v1",
		"DIFY_SECRETMANAGER_URL=" + srv.URL + "/v1",
		"DIFY_SM_RETRY_DELAY=0", "DIFY_SM_RETRY_ATTEMPTS=4",
		"DIFY_SQLADMIN_URL=" + srv.URL + "/sqladmin/v1", "DIFY_REDIS_API_URL=" + srv.URL + "/redis/v1", "DIFY_SQL_POLL_SECONDS=0",
	}, h.env...)
	return run(t, cmd)
}

// publishedDefaults are secrets Dify publishes in .env.example and
// docker-compose.yaml; anyone can read them, so none may reach a deployment.
// The last one is listed as given in the issue; Dify's Weaviate default is the
// one before it.
var publishedDefaults = []string{
	"difyai123456",
	"sk-9f73s3ljTXVcMT3Blb3ljTqtsKiGHXVcMT3BlbkFJLK7U",
	"dify-sandbox",
	"lYkiYYT6owG+71oLerGzA7GXCgOT++6ovaezWAjpCjf+Sjc3ZtU+qUEi",
	"QaHbTe77CtuXmsfyhR7+vRjI/+XbV1AaFy691iy+kGDv2Jvy0/eAh8Y1",
	"WVF5YThaHlkYwhGUSmCRgsX3tD5ngdN8pkih",
	"WVF5YTha-1OTS-2xqfBh8MnUx8CcPyVK2pTOk3pB8C8",
}

func parseEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			if _, dup := m[k]; dup {
				t.Errorf("%s: %s set twice", path, k)
			}
			m[k] = v
		}
	}
	return m
}

var appSecretKeys = []string{"SECRET_KEY", "DB_PASSWORD", "REDIS_PASSWORD", "SANDBOX_API_KEY",
	"PLUGIN_DAEMON_KEY", "PLUGIN_DIFY_INNER_API_KEY", "WEAVIATE_API_KEY"}

// TestSecretsAndEnvFirstAndLaterBoots: the first boot generates every secret
// and stores it in Secret Manager; the .env replaces every published default
// and keeps coupled settings equal; no secret is ever printed; a later boot
// reads the same values back and changes nothing.
func TestSecretsAndEnvFirstAndLaterBoots(t *testing.T) {
	t.Parallel()
	sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	body := `mkdir -p "$RUN_DIR"; ln -sfn releases/1.8.1 "$CURRENT"
load_secrets
write_env "$RELEASES/1.8.1/docker"
RESULT="env written"`

	first := runStartupFunctions(t, h, srv, body)
	if first.exitCode != 0 {
		t.Fatalf("first boot failed (exit %d):\n%s", first.exitCode, first.out)
	}
	if sm.count("dify-dev-app-secrets") != 1 || sm.count("dify-dev-admin-password") != 1 {
		t.Fatalf("first boot should add one version to each secret, got %d and %d", sm.count("dify-dev-app-secrets"), sm.count("dify-dev-admin-password"))
	}
	app := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sm.latest("dify-dev-app-secrets"))), "\n") {
		k, v, _ := strings.Cut(line, "=")
		app[k] = v
	}
	for _, k := range appSecretKeys {
		if !regexp.MustCompile(`^[A-Za-z0-9]{48}$`).MatchString(app[k]) {
			t.Errorf("generated %s is not 48 letters and digits", k)
		}
	}
	if len(app) != len(appSecretKeys) {
		t.Errorf("app secret holds %d keys, want %d", len(app), len(appSecretKeys))
	}
	admin := string(sm.latest("dify-dev-admin-password"))
	if !regexp.MustCompile(`^[A-Za-z0-9]{24}$`).MatchString(admin) || !regexp.MustCompile(`[0-9]`).MatchString(admin) || !regexp.MustCompile(`[A-Za-z]`).MatchString(admin) {
		t.Errorf("admin password is not 24 letters and digits with both kinds")
	}

	envPath := filepath.Join(h.docker, ".env")
	fi, err := os.Stat(envPath)
	if err != nil {
		t.Fatalf(".env not written: %v\n%s", err, first.out)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, want 0600", fi.Mode().Perm())
	}
	env := parseEnv(t, envPath)
	want := map[string]string{
		"SECRET_KEY": app["SECRET_KEY"], "INIT_PASSWORD": admin,
		"DB_PASSWORD": app["DB_PASSWORD"], "POSTGRES_PASSWORD": app["DB_PASSWORD"],
		"REDIS_PASSWORD": app["REDIS_PASSWORD"], "CELERY_BROKER_URL": "redis://:" + app["REDIS_PASSWORD"] + "@redis:6379/1",
		"SANDBOX_API_KEY": app["SANDBOX_API_KEY"], "CODE_EXECUTION_API_KEY": app["SANDBOX_API_KEY"],
		"PLUGIN_DAEMON_KEY": app["PLUGIN_DAEMON_KEY"], "PLUGIN_DIFY_INNER_API_KEY": app["PLUGIN_DIFY_INNER_API_KEY"],
		"WEAVIATE_API_KEY": app["WEAVIATE_API_KEY"], "WEAVIATE_AUTHENTICATION_APIKEY_ALLOWED_KEYS": app["WEAVIATE_API_KEY"],
		"CONSOLE_API_URL": "https://dify.example.com", "CONSOLE_WEB_URL": "https://dify.example.com",
		"SERVICE_API_URL": "https://dify.example.com", "APP_API_URL": "https://dify.example.com",
		"APP_WEB_URL": "https://dify.example.com", "FILES_URL": "https://dify.example.com",
		"TRIGGER_URL": "https://dify.example.com", "INTERNAL_FILES_URL": "http://api:5001",
		"ENDPOINT_URL_TEMPLATE":  "https://dify.example.com/e/{hook_id}",
		"UPLOAD_FILE_SIZE_LIMIT": "15", "UPLOAD_IMAGE_FILE_SIZE_LIMIT": "10", "UPLOAD_VIDEO_FILE_SIZE_LIMIT": "15",
		"UPLOAD_AUDIO_FILE_SIZE_LIMIT": "15", "PLUGIN_MAX_PACKAGE_SIZE": "15728640",
		"NGINX_CLIENT_MAX_BODY_SIZE": "16M", "MIGRATION_ENABLED": "true",
		"VECTOR_STORE": "weaviate", "COMPOSE_PROFILES": "weaviate", "WEAVIATE_AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
		// Untouched settings keep the example's values.
		"DB_USERNAME": "postgres", "PGDATA": "/var/lib/postgresql/data/pgdata", "EXPOSE_PLUGIN_DEBUGGING_PORT": "5003",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf(".env %s: got %q (set: %v), want %q", k, redact(got, app, admin), ok, redact(v, app, admin))
		}
	}
	raw, _ := os.ReadFile(envPath)
	settings := regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(string(raw), "") // Dify's comments quote examples
	for _, d := range publishedDefaults {
		if strings.Contains(settings, d) {
			t.Errorf(".env still sets the published default %q", d)
		}
	}
	// Settings of stores and services this deployment does not run get values
	// of their own: blank, compose would bring the published default back.
	derived := map[string]bool{}
	for _, k := range []string{"QDRANT_API_KEY", "PGVECTOR_PASSWORD", "OCEANBASE_VECTOR_PASSWORD", "MILVUS_PASSWORD",
		"OPENSEARCH_PASSWORD", "MINIO_SECRET_KEY", "COUCHBASE_PASSWORD", "ELASTICSEARCH_PASSWORD", "RESEND_API_KEY"} {
		v, ok := env[k]
		if k == "MILVUS_PASSWORD" { // published default empty: left as it is
			if v != "" {
				t.Errorf("%s has no published default and should stay empty", k)
			}
			continue
		}
		if !ok || !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(v) || derived[v] {
			t.Errorf(".env %s should be a value of this deployment's own (40 hex digits, distinct): %q", k, redact(v, app, admin))
		}
		derived[v] = true
	}
	secrets := append([]string{fakeToken, admin}, mapValues(app)...)
	for _, s := range secrets {
		if strings.Contains(first.out, s) {
			t.Errorf("the output contains a secret value (%s...):\n%s", s[:6], first.out)
		}
	}
	if !strings.Contains(first.out, "RESULT: SUCCESS") {
		t.Errorf("no final success line:\n%s", first.out)
	}
	if _, err := os.Stat(filepath.Join(h.root, "run", "auth.header")); !os.IsNotExist(err) {
		t.Errorf("the access token file should be gone after load_secrets: %v", err)
	}

	// A later boot (or a replaced VM with the same disk): same values, no new
	// versions, .env unchanged.
	second := runStartupFunctions(t, h, srv, body)
	if second.exitCode != 0 {
		t.Fatalf("second boot failed (exit %d):\n%s", second.exitCode, second.out)
	}
	if sm.count("dify-dev-app-secrets") != 1 || sm.count("dify-dev-admin-password") != 1 {
		t.Errorf("a later boot must not add versions: %d, %d", sm.count("dify-dev-app-secrets"), sm.count("dify-dev-admin-password"))
	}
	raw2, _ := os.ReadFile(envPath)
	if !bytes.Equal(raw, raw2) {
		t.Errorf(".env changed on a boot that changed nothing")
	}
	if !strings.Contains(second.out, "is up to date") {
		t.Errorf("second boot should report .env up to date:\n%s", second.out)
	}

	// A replaced VM with a fresh data disk: the values come from Secret
	// Manager, so the new .env matches the old one.
	fresh := newHostFixture(t)
	third := runStartupFunctions(t, fresh, srv, body)
	if third.exitCode != 0 {
		t.Fatalf("boot with a fresh disk failed (exit %d):\n%s", third.exitCode, third.out)
	}
	raw3, _ := os.ReadFile(filepath.Join(fresh.docker, ".env"))
	if !bytes.Equal(raw, raw3) {
		t.Errorf("a fresh disk with the same Secret Manager should get the same .env")
	}
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// redact keeps secret values out of test failure messages too.
func redact(s string, app map[string]string, admin string) string {
	for k, v := range app {
		s = strings.ReplaceAll(s, v, "<"+k+">")
	}
	if admin == "" {
		return s
	}
	return strings.ReplaceAll(s, admin, "<INIT_PASSWORD>")
}

// TestSecretsRecoveryAndRefusal covers Secret Manager losing its versions
// while the data disk keeps its database.
func TestSecretsRecoveryAndRefusal(t *testing.T) {
	t.Parallel()
	body := `mkdir -p "$RUN_DIR"; ln -sfn releases/1.8.1 "$CURRENT"
load_secrets
write_env "$RELEASES/1.8.1/docker"`

	t.Run("re-seeds from the installed .env", func(t *testing.T) {
		sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		h := newHostFixture(t)
		if res := runStartupFunctions(t, h, srv, body); res.exitCode != 0 {
			t.Fatalf("install failed:\n%s", res.out)
		}
		before, _ := os.ReadFile(filepath.Join(h.docker, ".env"))
		// The secrets are recreated empty (say, by a replaced Pulumi resource).
		sm2, srv2 := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		pgdata := filepath.Join(h.dataMnt, "volumes", "db", "data", "pgdata")
		os.MkdirAll(pgdata, 0o700)
		os.WriteFile(filepath.Join(pgdata, "PG_VERSION"), []byte("15\n"), 0o600)
		res := runStartupFunctions(t, h, srv2, body)
		if res.exitCode != 0 {
			t.Fatalf("recovery failed (exit %d):\n%s", res.exitCode, res.out)
		}
		if !bytes.Equal(sm.latest("dify-dev-app-secrets"), sm2.latest("dify-dev-app-secrets")) {
			t.Errorf("the re-seeded app secret differs from the one the database was created with")
		}
		if !bytes.Equal(sm.latest("dify-dev-admin-password"), sm2.latest("dify-dev-admin-password")) {
			t.Errorf("the re-seeded admin password differs")
		}
		after, _ := os.ReadFile(filepath.Join(h.docker, ".env"))
		if !bytes.Equal(before, after) {
			t.Errorf(".env changed during recovery")
		}
		if !strings.Contains(res.out, "storing those") {
			t.Errorf("recovery should be logged as a warning:\n%s", res.out)
		}
	})

	t.Run("refuses to generate over an existing database", func(t *testing.T) {
		sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		h := newHostFixture(t)
		pgdata := filepath.Join(h.dataMnt, "volumes", "db", "data", "pgdata")
		os.MkdirAll(pgdata, 0o700)
		os.WriteFile(filepath.Join(pgdata, "PG_VERSION"), []byte("15\n"), 0o600)
		res := runStartupFunctions(t, h, srv, body)
		if res.exitCode == 0 {
			t.Fatalf("generated new secrets although a database exists:\n%s", res.out)
		}
		if sm.count("dify-dev-app-secrets") != 0 {
			t.Errorf("no version may be added when refusing")
		}
		if !strings.Contains(res.out, "RESULT: FAILED in step") || !strings.Contains(res.out, "lock Dify out") {
			t.Errorf("refusal should explain itself and end with a failure line:\n%s", res.out)
		}
		if _, err := os.Stat(filepath.Join(h.docker, ".env")); !os.IsNotExist(err) {
			t.Errorf(".env written despite the refusal")
		}
	})

	t.Run("fails closed when Secret Manager refuses access", func(t *testing.T) {
		sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		sm.failWith = http.StatusForbidden
		h := newHostFixture(t)
		res := runStartupFunctions(t, h, srv, body)
		if res.exitCode == 0 {
			t.Fatalf("went on without secrets:\n%s", res.out)
		}
		if sm.count("dify-dev-app-secrets") != 0 {
			t.Errorf("must not generate secrets when Secret Manager cannot be read")
		}
		if !strings.Contains(res.out, "reading secret dify-dev-app-secrets failed: HTTP 403") || !strings.Contains(res.out, "attempt 3 of 4") {
			t.Errorf("the HTTP status should be logged, after the retries:\n%s", res.out)
		}
	})

	t.Run("fails when the secret does not exist", func(t *testing.T) {
		_, srv := newFakeSecretManager(t) // neither secret exists
		h := newHostFixture(t)
		res := runStartupFunctions(t, h, srv, body)
		if res.exitCode == 0 || !strings.Contains(res.out, "adding a version to secret dify-dev-app-secrets failed: HTTP 404") ||
			!strings.Contains(res.out, "attempt 3 of 4") {
			t.Fatalf("a missing secret should be waited for, then fail with the HTTP status (exit %d):\n%s", res.exitCode, res.out)
		}
	})

	t.Run("waits while the IAM grant propagates", func(t *testing.T) {
		sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
		sm.deny = 3 // 403 for the first three calls, as right after `pulumi up`
		h := newHostFixture(t)
		res := runStartupFunctions(t, h, srv, body)
		if res.exitCode != 0 {
			t.Fatalf("a 403 right after the grant must be retried (exit %d):\n%s", res.exitCode, res.out)
		}
		if !strings.Contains(res.out, "Secret Manager answered HTTP 403 to read dify-dev-app-secrets (PERMISSION_DENIED") ||
			!strings.Contains(res.out, "can take minutes to propagate; retrying") {
			t.Errorf("the retries should be logged with the reason:\n%s", res.out)
		}
		if sm.count("dify-dev-app-secrets") != 1 || !strings.Contains(res.out, "first install: generating application secrets") {
			t.Errorf("after the wait, an empty secret is still a first install (%d versions):\n%s", sm.count("dify-dev-app-secrets"), res.out)
		}
	})
}

// TestEnvLocalSettings: the operator's env.local on the data disk adds and
// replaces settings, but cannot override what the script owns.
func TestEnvLocalSettings(t *testing.T) {
	t.Parallel()
	sm, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	local := "# mail for invitations\nMAIL_TYPE=smtp\nSMTP_PASSWORD=operator-smtp-pass-42\nLOG_LEVEL=DEBUG\nSECRET_KEY=mine\n"
	if err := os.WriteFile(filepath.Join(h.dataMnt, "env.local"), []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"; ln -sfn releases/1.8.1 "$CURRENT"
load_secrets
write_env "$RELEASES/1.8.1/docker"`)
	if res.exitCode != 0 {
		t.Fatalf("failed (exit %d):\n%s", res.exitCode, res.out)
	}
	env := parseEnv(t, filepath.Join(h.docker, ".env"))
	for k, v := range map[string]string{"MAIL_TYPE": "smtp", "SMTP_PASSWORD": "operator-smtp-pass-42", "LOG_LEVEL": "DEBUG"} {
		if env[k] != v {
			t.Errorf("%s = %q, want %q from env.local", k, env[k], v)
		}
	}
	if env["SECRET_KEY"] == "mine" || !strings.Contains(string(sm.latest("dify-dev-app-secrets")), "SECRET_KEY="+env["SECRET_KEY"]+"\n") {
		t.Errorf("env.local must not override SECRET_KEY")
	}
	if !strings.Contains(res.out, "ignored SECRET_KEY") {
		t.Errorf("the ignored key should be reported:\n%s", res.out)
	}
	if strings.Contains(res.out, "operator-smtp-pass-42") {
		t.Errorf("a value from env.local was printed:\n%s", res.out)
	}
}
