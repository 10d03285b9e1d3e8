package proxy_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
)

// requireTool skips the test when a tool is missing, loudly, and fails it under
// CI=true, where a skipped proxy test would hide a broken proxy.
func requireTool(t *testing.T, missing error) {
	t.Helper()
	if missing == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %v: the proxy tests cannot run", missing)
	}
	t.Skipf("SKIPPED, NOT PASSED: %v (install Debian's nginx, gettext-base and shellcheck; CI=true turns this into a failure)", missing)
}

func requireNginx(t *testing.T) {
	t.Helper()
	requireTool(t, proxytest.Available(""))
}

// settings are the proxy's environment for a test: a timeout long enough not to
// matter unless the test is about it, and a 2 MiB body limit, small enough to
// upload quickly.
type settings struct {
	backend        string
	timeoutSeconds int
	bodyLimitMiB   int
	lbAddress      string // the edge's address; "" for clients straight to Cloud Run
	extraEnv       map[string]string
	workers        string
	bare           bool
	shell          []string
}

func defaults(backend string) settings {
	return settings{backend: backend, timeoutSeconds: 30, bodyLimitMiB: 2}
}

// startProxy runs the proxy through the image's own entrypoint on Debian's nginx
// and stops it when the test ends.
func startProxy(t *testing.T, s settings) *proxytest.Proxy {
	t.Helper()
	requireNginx(t)
	env := proxy.Settings{Backend: s.backend, TimeoutSeconds: s.timeoutSeconds, BodyLimitMiB: s.bodyLimitMiB, LoadBalancerAddress: s.lbAddress}.Env()
	for k, v := range s.extraEnv {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := proxytest.Start(ctx, proxytest.Options{
		Dir:             ".",
		Env:             env,
		WorkerProcesses: s.workers,
		Bare:            s.bare,
		Shell:           s.shell,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("proxy stderr:\n%s", p.Stderr())
		}
	})
	return p
}

// backend is a fake Dify: an HTTP/1.1 server on 127.0.0.1 that counts the TCP
// connections and requests it receives.
type backend struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
	// done is closed when the test ends, before the server closes: handlers that
	// wait on something select on it too, so a failed test cannot hang in Close.
	done chan struct{}
}

func newBackend(t *testing.T, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{done: make(chan struct{})}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		h(w, r)
	}))
	b.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.Start()
	t.Cleanup(func() {
		close(b.done)
		b.Close()
	})
	return b
}

// hostPort is the backend's address as DIFY_BACKEND takes it.
func (b *backend) hostPort() string { return strings.TrimPrefix(b.URL, "http://") }

// closedPort returns 127.0.0.1:port where nothing listens: a Dify VM whose nginx
// is down refuses connections the same way.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// client returns an HTTP client with an overall limit, so a hanging proxy fails
// the test instead of stalling it.
func client(limit time.Duration) *http.Client {
	return &http.Client{Timeout: limit, Transport: &http.Transport{}}
}

// runScript runs a shell script with exactly the given environment (and PATH),
// with the given shell, or by its #! line when shell is empty.
func runScript(t *testing.T, shell []string, path string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	argv := append(append(slices.Clone(shell), path), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func itoa(n int) string { return strconv.Itoa(n) }

// shells are the shells the scripts must work in: dash (Debian's /bin/sh) and,
// when installed, busybox ash, which is /bin/sh in the alpine image.
func shells(t *testing.T) [][]string {
	t.Helper()
	list := [][]string{{"sh"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		list = append(list, []string{"busybox", "sh"})
	} else {
		t.Log("busybox is not installed: the scripts run under dash only, not under the image's busybox ash (apt-get install busybox)")
	}
	return list
}
