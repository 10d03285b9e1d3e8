package signals

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
	"gopkg.in/yaml.v3"
)

const probeUA = UptimeCheckUserAgent + "(https://cloud.google.com/monitoring)"

// upstream returns Dify's own docker/ folder of a release, from
// ../shared/upstream or DIFY_UPSTREAM_DIR (relative to the repository root),
// as the hostscript tests find it. Missing, it fails under CI=true and skips
// loudly elsewhere: these tests are worth nothing on an excerpt.
func upstream(t *testing.T, version string) string {
	t.Helper()
	root := os.Getenv("DIFY_UPSTREAM_DIR")
	switch {
	case root == "":
		root = filepath.Join("..", "..", "shared", "upstream")
	case !filepath.IsAbs(root):
		root = filepath.Join("..", root)
	}
	dir := filepath.Join(root, "dify-"+version, "docker")
	if _, err := os.Stat(filepath.Join(dir, "docker-compose.yaml")); err != nil {
		msg := fmt.Sprintf("Dify %s's docker/ folder is not at %s (%v)", version, dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT PASSED: " + msg)
	}
	return dir
}

// requireNginx skips without Debian's nginx, and fails under CI=true.
func requireNginx(t *testing.T) {
	t.Helper()
	if err := proxytest.Available(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: %v (install Debian's nginx and gettext-base)", err)
	}
}

// getAs requests url with the user agent ua and reads the answer.
func getAs(t *testing.T, url, ua string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// httpRequestEntry is a request entry as Cloud Run and the load balancer
// write it: LogEntry with an httpRequest (cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest).
func httpRequestEntry(logName, resourceType string, labels map[string]any, ua string, status int) map[string]any {
	return map[string]any{
		"logName":     logName,
		"resource":    map[string]any{"type": resourceType, "labels": labels},
		"httpRequest": map[string]any{"requestMethod": "GET", "requestUrl": "https://dify.example.com/console/api/ping", "status": float64(status), "userAgent": ua},
	}
}

// proxyLines runs the real proxy (proxy/templates on Debian's nginx) in front
// of a fake Dify and returns its access-log lines for requests with these
// user agents to paths: what Cloud Run takes from stdout.
func proxyLines(t *testing.T, backendUp bool, requests map[string]string) map[string]map[string]any {
	t.Helper()
	requireNginx(t)
	backend := "127.0.0.1:9" // nothing listens: the VM refuses
	if backendUp {
		dify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"result":"pong"}`) }))
		t.Cleanup(dify.Close)
		backend = strings.TrimPrefix(dify.URL, "http://")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := proxytest.Start(ctx, proxytest.Options{Dir: "../proxy", Env: proxy.Settings{Backend: backend, TimeoutSeconds: 30, BodyLimitMiB: 2}.Env()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	out := map[string]map[string]any{}
	for path, ua := range requests {
		getAs(t, p.URL(path), ua)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < len(requests) && time.Now().Before(deadline) {
		for _, line := range p.AccessLog() {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil {
				out[fmt.Sprint(e["path"])] = e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

// difyNginxLines runs nginx with the log format of Dify's own nginx, taken
// from the upstream release folder, and returns the line it logs for each
// request: what Docker's json-file driver wraps and the Ops Agent ships.
func difyNginxLines(t *testing.T, requests map[string]string) map[string]string {
	t.Helper()
	requireNginx(t)
	tmpl, err := os.ReadFile(filepath.Join(upstream(t, "1.8.1"), "nginx", "nginx.conf.template"))
	if err != nil {
		t.Fatal(err)
	}
	format := regexp.MustCompile(`(?s)log_format\s+main\s.*?;`).Find(tmpl)
	if format == nil {
		t.Fatal("no log_format main in Dify's nginx.conf.template")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`daemon off; master_process off; error_log %[1]s/error.log; pid %[1]s/nginx.pid;
events {}
http {
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  %[2]s
  access_log %[1]s/access.log main;
  server {
    listen %[3]s;
    location = /console/api/down { return 502; }
    location / { return 200 '{"result":"pong"}'; }
  }
}
`, dir, format, addr)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	cmd := exec.Command(proxytest.DefaultNginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp4", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := map[string]string{}
	for path, ua := range requests {
		getAs(t, "http://"+addr+path, ua)
	}
	time.Sleep(50 * time.Millisecond)
	b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		for path := range requests {
			if strings.Contains(line, " "+path+" ") {
				out[path] = line
			}
		}
	}
	if len(out) != len(requests) {
		t.Fatalf("nginx logged %d of %d requests:\n%s", len(out), len(requests), b)
	}
	return out
}

// containerEntry is a line of a container's log as the Ops Agent ships it
// with the configuration of hostscript/startup/opsagent.sh: Docker's
// json-file line ({"log": ..., "stream": ..., "attrs": {"com.docker.compose.service": ...},
// "time": ...}, with daemon.json's "labels" log option) parsed into
// jsonPayload, the log line moved to jsonPayload.message and the compose
// service to a label, in the log named after the receiver. The hostscript
// tests hold the agent's configuration to these names.
func containerEntry(service, line string) map[string]any {
	return map[string]any{
		"logName":     "projects/acme-dify-prod/logs/" + ContainerLog,
		"resource":    map[string]any{"type": "gce_instance", "labels": map[string]any{"instance_id": "1234567890"}},
		"labels":      map[string]any{ServiceLabel: service},
		"jsonPayload": map[string]any{"message": line + "\n", "stream": "stdout", "attrs": map[string]any{}},
	}
}

// The exclusion drops what successful uptime probes leave in each log, and
// nothing else: not a failed probe, not a user's request, not another
// service's or another log's entries. The proxy's and Dify's nginx lines are
// the ones the real nginx writes with their real formats.
func TestHealthCheckExclusion(t *testing.T) {
	const service, backend = "dify-prod", "dify-prod-edge-backend"
	browser := "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0"
	runLog := "projects/acme-dify-prod/logs/" + strings.ReplaceAll(RunRequestsLog, "/", "%2F")
	stdoutLog := "projects/acme-dify-prod/logs/" + strings.ReplaceAll(RunStdoutLog, "/", "%2F")
	runRes := map[string]any{"service_name": service, "revision_name": service + "-00001-abc", "location": "asia-northeast1"}
	lbRes := map[string]any{"backend_service_name": backend, "url_map_name": "dify-prod-edge-https"}

	proxyUp := proxyLines(t, true, map[string]string{"/console/api/ping": probeUA, "/apps": browser})
	proxyDown := proxyLines(t, false, map[string]string{"/console/api/ping": probeUA})
	nginx := difyNginxLines(t, map[string]string{"/console/api/ping": probeUA, "/console/api/down": probeUA, "/apps": browser})
	stdout := func(e map[string]any) map[string]any {
		return map[string]any{"logName": stdoutLog, "resource": map[string]any{"type": "cloud_run_revision", "labels": runRes}, "jsonPayload": e, "severity": e["severity"]}
	}

	for _, c := range []struct {
		name    string
		entry   map[string]any
		edge    bool
		dropped bool
	}{
		{"Cloud Run's entry of a passing probe", httpRequestEntry(runLog, "cloud_run_revision", runRes, probeUA, 200), false, true},
		{"Cloud Run's entry of a failing probe", httpRequestEntry(runLog, "cloud_run_revision", runRes, probeUA, 503), false, false},
		{"Cloud Run's entry of a user's request", httpRequestEntry(runLog, "cloud_run_revision", runRes, browser, 200), false, false},
		{"another service's probe", httpRequestEntry(runLog, "cloud_run_revision", map[string]any{"service_name": "other"}, probeUA, 200), false, false},
		{"the balancer's entry of a passing probe", httpRequestEntry("projects/acme-dify-prod/logs/requests", "http_load_balancer", lbRes, probeUA, 302), true, true},
		{"the balancer's entry of a failing probe", httpRequestEntry("projects/acme-dify-prod/logs/requests", "http_load_balancer", lbRes, probeUA, 502), true, false},
		{"a balancer's probe without the edge", httpRequestEntry("projects/acme-dify-prod/logs/requests", "http_load_balancer", lbRes, probeUA, 302), false, false},
		{"the proxy's line of a passing probe", stdout(proxyUp["/console/api/ping"]), false, true},
		{"the proxy's line of a user's request", stdout(proxyUp["/apps"]), false, false},
		{"the proxy's line of a probe the VM refused", stdout(proxyDown["/console/api/ping"]), false, false},
		{"Dify's nginx line of a passing probe", containerEntry("nginx", nginx["/console/api/ping"]), false, true},
		{"Dify's nginx line of a probe answered 502", containerEntry("nginx", nginx["/console/api/down"]), false, false},
		{"Dify's nginx line of a user's request", containerEntry("nginx", nginx["/apps"]), false, false},
		{"the api container's line naming the agent", containerEntry("api", "GET /console/api/ping 200 "+probeUA), false, false},
		{"a backup entry", map[string]any{"logName": "projects/acme-dify-prod/logs/dify-backup", "resource": map[string]any{"type": "global"},
			"jsonPayload": map[string]any{"event": "backup-complete"}}, false, false},
	} {
		lb := ""
		if c.edge {
			lb = backend
		}
		q := parseQuery(t, HealthCheckExclusion(service, lb))
		if got := q.eval(c.entry); got != c.dropped {
			js, _ := json.Marshal(c.entry)
			t.Errorf("%s: dropped = %v, want %v\n%s", c.name, got, c.dropped, js)
		}
	}
}

// The compose services the exclusion, the runbook and the dashboard name are
// services of Dify's real compose files, whose containers carry them in the
// label com.docker.compose.service.
func TestServicesAreDifys(t *testing.T) {
	for _, release := range []string{"1.8.1", "1.9.1"} {
		b, err := os.ReadFile(filepath.Join(upstream(t, release), "docker-compose.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var compose struct {
			Services map[string]any `yaml:"services"`
		}
		if err := yaml.Unmarshal(b, &compose); err != nil {
			t.Fatalf("%s: %v", release, err)
		}
		for _, s := range []string{"nginx", "api", "worker", "plugin_daemon"} {
			if _, ok := compose.Services[s]; !ok {
				t.Errorf("%s has no compose service %q", release, s)
			}
		}
	}
}
