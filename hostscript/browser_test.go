package hostscript

// The private stack, end to end in a real browser: the .env the startup
// script writes on Dify 1.8.1's own .env.example, the URLs Dify's web
// container derives from it (web/docker/entrypoint.sh), the real proxy on
// nginx, an IAM front standing in for Cloud Run (403 without an ID token) and
// a stand-in for `gcloud run services proxy` (adds the token), and headless
// Chromium loading a page whose script calls what Dify's pages call.

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
)

// runAppURL is the deterministic URL a dev stack's service gets, as the
// program computes it (SERVICE-PROJECT_NUMBER.REGION.run.app).
const runAppURL = "https://dify-dev-123456789012.asia-northeast1.run.app"

// envFor runs write_env on Dify's own .env.example with the browser URL the
// rendered script would carry and returns the .env.
func envFor(t *testing.T, docker, browserURL string) map[string]string {
	t.Helper()
	_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	example, err := os.ReadFile(filepath.Join(docker, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.docker, ".env.example"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runStartupFunctions(t, h, srv, fmt.Sprintf(`PUBLIC_URL=%s BROWSER_URL=%s
mkdir -p "$RUN_DIR"; ln -sfn releases/1.8.1 "$CURRENT"
load_secrets
write_env "$RELEASES/1.8.1/docker"`, shellQuote(runAppURL), shellQuote(browserURL)))
	if res.exitCode != 0 {
		t.Fatalf("write_env failed (exit %d):\n%s", res.exitCode, res.out)
	}
	return parseEnv(t, filepath.Join(h.docker, ".env"))
}

// webPrefixes are the API bases Dify's web app calls, as
// web/docker/entrypoint.sh builds them from the web container's environment:
// NEXT_PUBLIC_API_PREFIX=${CONSOLE_API_URL}/console/api and
// NEXT_PUBLIC_PUBLIC_API_PREFIX=${APP_API_URL}/api. The compose file hands
// the web service both straight from .env, which is checked on the real file.
func webPrefixes(t *testing.T, docker string, env map[string]string) (console, public string) {
	t.Helper()
	compose, err := os.ReadFile(filepath.Join(docker, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	web := regexp.MustCompile(`(?ms)^  web:\n(.*?)^  [a-z_]+:\n`).FindSubmatch(compose)
	if web == nil {
		t.Fatal("no web service in docker-compose.yaml")
	}
	for _, k := range []string{"CONSOLE_API_URL", "APP_API_URL"} {
		if want := k + ": ${" + k + ":-}"; !strings.Contains(string(web[1]), want) {
			t.Fatalf("the web service's environment lacks %q: Dify changed how the browser's API base is set", want)
		}
	}
	return env["CONSOLE_API_URL"] + "/console/api", env["APP_API_URL"] + "/api"
}

// fakeDify serves, behind the proxy, a console page whose script calls what
// Dify's pages call: the console API, a file by the signed URL the API
// answers with (built from FILES_URL, as Dify's api builds it), and the web
// app API. It records every request that reaches it.
type fakeDify struct {
	console, public, files string

	mu   sync.Mutex
	seen []string // "PATH AUTHORIZATION"
}

func (f *fakeDify) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.URL.Path+" "+r.Header.Get("Authorization"))
	f.mu.Unlock()
	switch r.URL.Path {
	case "/apps":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body data-api-prefix="%s" data-public-api-prefix="%s"><pre id="result">pending</pre>
<script>
const api = document.body.getAttribute('data-api-prefix'), pub = document.body.getAttribute('data-public-api-prefix');
const where = (u) => new URL(u, location.href).origin;
async function call(name, u) {
  try { const r = await fetch(u); return name + ' ' + r.status + ' ' + where(u); }
  catch (e) { return name + ' failed ' + where(u); }
}
(async () => {
  const lines = [await call('console', api + '/ping')];
  let file = '';
  try { file = (await (await fetch(api + '/files/upload')).json()).preview_url; } catch (e) {}
  lines.push(file ? await call('files', file) : 'files failed ' + where(api));
  lines.push(await call('app', pub + '/site'));
  document.getElementById('result').textContent = lines.join('\n');
})();
</script></body></html>`, html.EscapeString(f.console), html.EscapeString(f.public))
	case "/console/api/ping":
		fmt.Fprint(w, `{"result":"pong"}`)
	case "/console/api/files/upload":
		fmt.Fprintf(w, `{"preview_url":%q}`, f.files+"/files/abc/file-preview?timestamp=1&nonce=n&sign=s")
	case "/files/abc/file-preview", "/api/site", "/v1/chat-messages":
		fmt.Fprint(w, `{"ok":true}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeDify) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// forward is a reverse proxy to target that passes the Host it was asked for
// and lets edit change each request, as the Google front end and the gcloud
// proxy do.
func forward(t *testing.T, target string, edit func(*http.Request)) http.Handler {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		edit(r)
		rp.ServeHTTP(w, r)
	})
}

// browse loads pageURL in headless Chromium and returns the page's result
// text once its script has run (flags from the machine notes: no sandbox as
// root, no background networking on a closed network).
func browse(t *testing.T, chromium, pageURL string) string {
	t.Helper()
	var dom []byte
	for _, budget := range []string{"5000", "20000"} {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--no-proxy-server", "--user-data-dir="+t.TempDir(), "--virtual-time-budget="+budget, "--dump-dom", pageURL)
		var err error
		dom, err = cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		if !strings.Contains(string(dom), ">pending<") {
			break
		}
	}
	m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no result on the page:\n%s", dom)
	}
	return html.UnescapeString(string(m[1]))
}

// TestPrivateStackWorksInABrowser: with the .env a private stack gets, every
// call the page makes goes back to the origin that served it (the gcloud
// proxy on localhost), through the real proxy, with the ID token the gcloud
// proxy adds. With the first release's .env the same page calls run.app
// directly, without a token, and nothing works. API callers holding a token
// still reach Dify at the run.app URL; without one Cloud Run refuses them.
func TestPrivateStackWorksInABrowser(t *testing.T) {
	chromium := need(t, "chromium", "/usr/bin/chromium")
	if err := proxytest.Available(""); err != nil {
		msg := fmt.Sprintf("the proxy cannot run on nginx here: %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT PASSED: " + msg)
	}
	docker := upstream(t, "1.8.1")
	const token = "id-token-for-ana"

	for _, tc := range []struct {
		name       string
		browserURL string
		works      bool
	}{
		{"private stack: same origin", "", true},
		{"first release: run.app URLs", runAppURL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := envFor(t, docker, tc.browserURL)
			console, public := webPrefixes(t, docker, env)
			dify := &fakeDify{console: console, public: public, files: env["FILES_URL"]}
			backend := httptest.NewServer(dify)
			t.Cleanup(backend.Close)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := proxytest.Start(ctx, proxytest.Options{Dir: filepath.Join(hostscriptDir(t), "..", "proxy"),
				Env: proxy.Settings{Backend: strings.TrimPrefix(backend.URL, "http://"), TimeoutSeconds: 30, BodyLimitMiB: 2}.Env()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Stop)

			// Cloud Run with IAM: no valid ID token, no entry.
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+token {
					http.Error(w, "403 Forbidden: Your client does not have permission to get URL", http.StatusForbidden)
					return
				}
				forward(t, p.URL(""), func(*http.Request) {}).ServeHTTP(w, r)
			}))
			t.Cleanup(front.Close)
			// gcloud run services proxy: localhost, adds the caller's token.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			local := &http.Server{Handler: forward(t, front.URL, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })}
			go local.Serve(ln)
			t.Cleanup(func() { local.Close() })
			origin := "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)

			got := browse(t, chromium, origin+"/apps")
			want := strings.Join([]string{"console 200 " + origin, "files 200 " + origin, "app 200 " + origin}, "\n")
			if tc.works && got != want {
				t.Errorf("the page's calls did not all come back to %s:\n%s\nwant:\n%s\n.env: CONSOLE_API_URL=%q APP_API_URL=%q FILES_URL=%q",
					origin, got, want, env["CONSOLE_API_URL"], env["APP_API_URL"], env["FILES_URL"])
			}
			if !tc.works && (got == want || !strings.Contains(got, "console failed "+runAppURL)) {
				t.Errorf("with run.app URLs the browser should call run.app and fail, got:\n%s", got)
			}
			reached := map[string]bool{}
			for _, r := range dify.requests() {
				path, auth, _ := strings.Cut(r, " ")
				if path == "/favicon.ico" {
					continue // the browser's own, not the page's
				}
				reached[path] = true
				if auth != "Bearer "+token {
					t.Errorf("%s reached Dify without the caller's ID token (%q): not through the gcloud proxy", path, auth)
				}
			}
			for _, path := range []string{"/apps", "/console/api/ping", "/console/api/files/upload", "/files/abc/file-preview", "/api/site"} {
				if tc.works && !reached[path] {
					t.Errorf("%s never reached Dify; it saw %q", path, dify.requests())
				}
			}
			if !tc.works && len(reached) != 1 {
				t.Errorf("only the page itself should have reached Dify, it saw %q", dify.requests())
			}

			// API callers: the run.app URL with an ID token works; without, 403.
			for _, auth := range []string{"Bearer " + token, ""} {
				req, _ := http.NewRequest("POST", front.URL+"/v1/chat-messages", strings.NewReader(`{}`))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if want := map[bool]int{true: 200, false: 403}[auth != ""]; resp.StatusCode != want {
					t.Errorf("API call with authorization %q: %d, want %d", auth, resp.StatusCode, want)
				}
			}
			// What API callers and other systems are shown stays the public URL.
			for _, k := range []string{"SERVICE_API_URL"} {
				if env[k] != runAppURL {
					t.Errorf("%s = %q, want %s: API callers use it with their token", k, env[k], runAppURL)
				}
			}
		})
	}
}
