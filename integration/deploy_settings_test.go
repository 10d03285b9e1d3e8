package integration

import (
	"context"
	"github.com/dify-gcp/dify-gcp/topology"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/config"
)

// These tests run everywhere: they hold the end-to-end test's own logic to
// account, so that the expensive run does not fail on a mistake that could
// have been seen offline.

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		envProject: "acme-dify-it",
		envStack:   "it-ana",
		envInvoker: "user:ana@example.com",
	}
}

// TestEndToEndConfigIsAcceptedByTheProgram runs the program's own rules over
// the configuration the end-to-end test sets: a new required key, or a rule
// the test stack breaks, fails here instead of in the cloud.
func TestEndToEndConfigIsAcceptedByTheProgram(t *testing.T) {
	for _, image := range []string{"", "asia-northeast1-docker.pkg.dev/acme/dify/proxy@sha256:" + strings.Repeat("a", 64)} {
		e := validEnv()
		e[envProxyImage] = image
		s, err := itSettingsFromEnv(env(e))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := s.validate()
		if err != nil {
			t.Fatalf("proxyImage %q: the program refuses the test's configuration: %v", image, err)
		}
		if cfg.Access != config.Private || !slices.Equal(cfg.Invokers, []string{"user:ana@example.com"}) {
			t.Errorf("access %q, invokers %v; want private to user:ana@example.com", cfg.Access, cfg.Invokers)
		}
		if cfg.Production || cfg.DeletionProtection {
			t.Errorf("production %v, deletionProtection %v; a throwaway stack wants neither", cfg.Production, cfg.DeletionProtection)
		}
		if cfg.Project != "acme-dify-it" || cfg.Region != "asia-northeast1" || cfg.Zone != "asia-northeast1-c" {
			t.Errorf("project/region/zone = %s/%s/%s", cfg.Project, cfg.Region, cfg.Zone)
		}
		if cfg.ProxyImage != image {
			t.Errorf("proxyImage = %q, want %q", cfg.ProxyImage, image)
		}
	}
}

// TestEndToEndConfigKeysExist catches a key the program no longer reads
// (config.Load ignores unknown keys, so the check above cannot).
func TestEndToEndConfigKeysExist(t *testing.T) {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Name] = true
	}
	e := validEnv()
	e[envProxyImage] = "r/p@sha256:x"
	s, err := itSettingsFromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{strings.TrimSuffix(invokersKey, "[0]")}
	for k := range s.scalarConfig() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if !known[k] {
			t.Errorf("the end-to-end test sets %s, which config.Keys does not declare", k)
		}
	}
}

// TestEndToEndSettingsRefuseMistakes: the test destroys its stack, so it
// must never be pointed at a real one, and a half-configured run stops
// before it creates anything.
func TestEndToEndSettingsRefuseMistakes(t *testing.T) {
	for name, tc := range map[string]struct {
		set  map[string]string
		want string
	}{
		"dev stack":           {map[string]string{envStack: "dev"}, envStack},
		"prod stack":          {map[string]string{envStack: "prod"}, envStack},
		"no stack":            {map[string]string{envStack: ""}, envStack},
		"no invoker":          {map[string]string{envInvoker: ""}, envInvoker},
		"region without zone": {map[string]string{envRegion: "europe-west1"}, envZone},
		"bad wait":            {map[string]string{envPingWait: "soon"}, envPingWait},
	} {
		t.Run(name, func(t *testing.T) {
			e := validEnv()
			for k, v := range tc.set {
				e[k] = v
			}
			_, err := itSettingsFromEnv(env(e))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	// The program's own stack-name rule applies too.
	e := validEnv()
	e[envStack] = "it-" + strings.Repeat("x", config.MaxStackNameLength)
	s, err := itSettingsFromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.validate(); err == nil {
		t.Errorf("stack %q is longer than the program allows, but validate accepted it", s.Stack)
	}
}

// TestWaitForPong: the wait outlasts a proxy that answers 502 while the VM
// boots, sends the ID token, and accepts only Dify's pong.
func TestWaitForPong(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != topology.DifyHealthPath || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if calls.Add(1) < 3 {
			http.Error(w, "upstream not ready", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result": "pong"}`))
	}))
	defer srv.Close()
	token := func(context.Context) (string, error) { return "tok", nil }

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitForPong(ctx, t.Logf, srv.URL+topology.DifyHealthPath, token, 10*time.Millisecond); err != nil {
		t.Fatalf("waitForPong: %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (two 502s, then pong)", calls.Load())
	}

	// A wrong token never gets through: the wait ends with the last answer.
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	bad := func(context.Context) (string, error) { return "other", nil }
	err := waitForPong(short, t.Logf, srv.URL+topology.DifyHealthPath, bad, 10*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("waitForPong with a wrong token: %v, want the 403 as last answer", err)
	}
}

// TestPingWantsPong: a 200 that is not Dify's answer (a default page, a
// login redirect followed to HTML) does not count.
func TestPingWantsPong(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"result":"pong"}`:  true,
		`{"result":"pang"}`:  false,
		`<html>hello</html>`: false,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(body))
		}))
		_, err := ping(context.Background(), srv.Client(), srv.URL+topology.DifyHealthPath,
			func(context.Context) (string, error) { return "tok", nil })
		srv.Close()
		if (err == nil) != ok {
			t.Errorf("body %s: err %v, want ok=%v", body, err, ok)
		}
	}
}
