package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/signals"
)

// accessLogEntry waits for the access-log line of the request to path and
// returns it as Cloud Logging would take it: the JSON object as jsonPayload,
// its "severity" as the entry's severity.
func accessLogEntry(t *testing.T, logLines func() []string, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range logLines() {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("access log line is not JSON: %v\n%s", err, line)
			}
			if e["path"] == path {
				return e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no access log line for %s", path)
	return nil
}

// The proxy marks the answers it makes up itself because the VM did not give
// one (502: refused or reset, 504: timed out) with severity ERROR and the
// reason, and nothing else: Dify's own 502, passed through, is a WARNING. The
// unreachable alert counts exactly the ERROR entries of the proxy's log, and
// the runbook tells the two 502s apart by proxy_error.
func TestAccessLogMarksTheProxysOwnErrors(t *testing.T) {
	t.Parallel()
	dify := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/console/api/api-down": // Dify's nginx when its api container is down
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><center><h1>502 Bad Gateway</h1></center></html>")
		case "/console/api/slow":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		case "/console/api/missing":
			http.NotFound(w, r)
		default:
			io.WriteString(w, `{"result":"pong"}`)
		}
	})
	up := defaults(dify.hostPort())
	up.timeoutSeconds = 1
	p := startProxy(t, up)
	down := startProxy(t, defaults(closedPort(t)))

	get := func(base func(string) string, path string) int {
		t.Helper()
		resp, err := client(10 * time.Second).Get(base(path))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name       string
		proxy      func(string) string
		lines      func() []string
		path       string
		status     float64
		severity   string
		proxyError string
	}{
		{"Dify answers", p.URL, p.AccessLog, "/console/api/ping", 200, "INFO", ""},
		{"Dify answers 404", p.URL, p.AccessLog, "/console/api/missing", 404, "INFO", ""},
		{"Dify's own 502 passes through", p.URL, p.AccessLog, "/console/api/api-down", 502, "WARNING", ""},
		{"the VM refuses the connection", down.URL, down.AccessLog, "/console/api/ping", 502, signals.ProxyOwnErrorSeverity, "unreachable"},
		{"the VM does not answer in time", p.URL, p.AccessLog, "/console/api/slow", 504, signals.ProxyOwnErrorSeverity, "timeout"},
	} {
		if got := get(c.proxy, c.path); float64(got) != c.status {
			t.Errorf("%s: status %d, want %v", c.name, got, c.status)
		}
		e := accessLogEntry(t, c.lines, c.path)
		if e["status"] != c.status || e["severity"] != c.severity || e["proxy_error"] != c.proxyError {
			t.Errorf("%s: logged status %v severity %v proxy_error %v, want %v %q %q", c.name, e["status"], e["severity"], e["proxy_error"], c.status, c.severity, c.proxyError)
		}
	}
	for _, px := range []interface{ Stderr() string }{p, down} {
		if strings.Contains(px.Stderr(), "uninitialized") {
			t.Errorf("nginx warns about an uninitialized variable:\n%s", px.Stderr())
		}
	}
}
