package hostscript

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// composeConfig is the shape of `docker compose config --format json` for
// Dify 1.8.1 with the override applied, reduced to what check_compose reads.
func composeConfig() map[string]any {
	shared := func(extra map[string]any) map[string]any {
		env := map[string]any{
			"SECRET_KEY": "k1", "DB_PASSWORD": "k2", "REDIS_PASSWORD": "k3",
			"CELERY_BROKER_URL": "redis://:k3@redis:6379/1", "CODE_EXECUTION_API_KEY": "k4",
			"PLUGIN_DAEMON_KEY": "k5", "INNER_API_KEY_FOR_PLUGIN": "k6", "WEAVIATE_API_KEY": "k7",
			"INIT_PASSWORD": "k8", "QDRANT_API_KEY": "difyai123456", // unused store: tolerated
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	port := func(target int, published, hostIP string) map[string]any {
		p := map[string]any{"mode": "ingress", "target": target, "published": published, "protocol": "tcp"}
		if hostIP != "" {
			p["host_ip"] = hostIP
		}
		return p
	}
	return map[string]any{
		"name": "dify",
		"services": map[string]any{
			"api":           map[string]any{"image": "langgenius/dify-api:1.8.1", "environment": shared(map[string]any{"MODE": "api"})},
			"worker":        map[string]any{"image": "langgenius/dify-api:1.8.1", "environment": shared(nil)},
			"worker_beat":   map[string]any{"image": "langgenius/dify-api:1.8.1", "environment": shared(nil)},
			"web":           map[string]any{"image": "langgenius/dify-web:1.8.1", "environment": map[string]any{"CONSOLE_API_URL": "https://dify.example.com"}},
			"db":            map[string]any{"image": "postgres:15-alpine", "environment": map[string]any{"POSTGRES_PASSWORD": "k2", "PGUSER": "postgres"}, "command": []any{"postgres", "-c", "max_connections=100"}},
			"redis":         map[string]any{"image": "redis:6-alpine", "environment": map[string]any{"REDISCLI_AUTH": "k3"}, "command": []any{"redis-server", "--requirepass", "k3"}},
			"sandbox":       map[string]any{"image": "langgenius/dify-sandbox:0.2.12", "environment": map[string]any{"API_KEY": "k4"}},
			"plugin_daemon": map[string]any{"image": "langgenius/dify-plugin-daemon:0.2.0-local", "environment": shared(map[string]any{"SERVER_KEY": "k5", "DIFY_INNER_API_KEY": "k6"}), "ports": []any{port(5003, "5003", "127.0.0.1")}},
			"weaviate":      map[string]any{"image": "semitechnologies/weaviate:1.19.0", "environment": map[string]any{"AUTHENTICATION_APIKEY_ALLOWED_KEYS": "k7"}},
			"ssrf_proxy":    map[string]any{"image": "ubuntu/squid:latest"},
			"nginx":         map[string]any{"image": "nginx:latest", "ports": []any{port(80, "80", "")}},
		},
	}
}

func service(c map[string]any, name string) map[string]any {
	return c["services"].(map[string]any)[name].(map[string]any)
}

// TestCheckComposeRefusesUnsafeConfigurations runs check_compose on the
// configuration the VM would start, and on variants that must be refused.
func TestCheckComposeRefusesUnsafeConfigurations(t *testing.T) {
	t.Parallel()
	defaults := filepath.Join(t.TempDir(), "defaults")
	if err := os.WriteFile(defaults, []byte(strings.Join(publishedDefaults, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(c map[string]any)
		want   string // "" means accepted
	}{
		{name: "pinned, loopback, no defaults", change: func(map[string]any) {}},
		{name: "443 published", want: "nginx publishes 443", change: func(c map[string]any) {
			s := service(c, "nginx")
			s["ports"] = append(s["ports"].([]any), map[string]any{"target": 443, "published": "443"})
		}},
		{name: "debug port on all interfaces", want: "plugin_daemon publishes 5003 on all interfaces", change: func(c map[string]any) {
			service(c, "plugin_daemon")["ports"] = []any{map[string]any{"target": 5003, "published": "5003"}}
		}},
		{name: "nginx on another port", want: "nginx publishes 80 on all interfaces:8080", change: func(c map[string]any) {
			service(c, "nginx")["ports"] = []any{map[string]any{"target": 80, "published": "8080"}}
		}},
		{name: "web left on 1.8.0", want: "web runs langgenius/dify-web:1.8.0", change: func(c map[string]any) {
			service(c, "web")["image"] = "langgenius/dify-web:1.8.0"
		}},
		{name: "worker_beat left on 1.8.0", want: "worker_beat runs langgenius/dify-api:1.8.0", change: func(c map[string]any) {
			service(c, "worker_beat")["image"] = "langgenius/dify-api:1.8.0"
		}},
		{name: "sandbox key from the compose default", want: "sandbox API_KEY", change: func(c map[string]any) {
			service(c, "sandbox")["environment"].(map[string]any)["API_KEY"] = "dify-sandbox"
		}},
		{name: "redis password default in its command", want: "redis command", change: func(c map[string]any) {
			service(c, "redis")["command"] = []any{"redis-server", "--requirepass", "difyai123456"}
		}},
		{name: "plugin daemon key default", want: "plugin_daemon SERVER_KEY", change: func(c map[string]any) {
			service(c, "plugin_daemon")["environment"].(map[string]any)["SERVER_KEY"] = "lYkiYYT6owG+71oLerGzA7GXCgOT++6ovaezWAjpCjf+Sjc3ZtU+qUEi"
		}},
		{name: "broker URL with the default password", want: "worker CELERY_BROKER_URL", change: func(c map[string]any) {
			service(c, "worker")["environment"].(map[string]any)["CELERY_BROKER_URL"] = "redis://:difyai123456@redis:6379/1"
		}},
	}
	_, srv := newFakeSecretManager(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := composeConfig()
			tc.change(c)
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(t.TempDir(), "config.json")
			os.WriteFile(in, js, 0o600)
			res := runStartupFunctions(t, newHostFixture(t), srv, `check_compose `+shellQuote(defaults)+` <`+shellQuote(in)+`
RESULT=accepted`)
			switch {
			case tc.want == "" && res.exitCode != 0:
				t.Fatalf("refused a safe configuration:\n%s", res.out)
			case tc.want != "" && res.exitCode == 0:
				t.Fatalf("accepted it:\n%s", res.out)
			case tc.want != "" && !strings.Contains(res.out, tc.want):
				t.Errorf("refusal should name %q:\n%s", tc.want, res.out)
			}
			for _, d := range publishedDefaults {
				if strings.Contains(res.out, d) {
					t.Errorf("the message repeats a secret value %q:\n%s", d, res.out)
				}
			}
		})
	}
}

// TestOverrideOnDifyCompose runs the real `docker compose config` on an excerpt
// of Dify 1.8.1's compose file with the .env and override the startup script
// writes, and checks the result as the VM would: every image pinned (the
// excerpt, like the real file, leaves worker, worker_beat and web on 1.8.0),
// 443 unpublished, the debugging port on loopback, no published default
// secret. Without the override, the same check must refuse. Needs the
// docker compose plugin (no daemon); skipped without it.
func TestOverrideOnDifyCompose(t *testing.T) {
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED, NOT PASSED: docker compose is not available here (%v: %s); the same checks run on the VM before every start", err, strings.TrimSpace(string(out)))
	}
	_, srv := newFakeSecretManager(t, "dify-dev-app-secrets", "dify-dev-admin-password")
	h := newHostFixture(t)
	compose, err := os.ReadFile(filepath.Join(hostscriptDir(t), "testdata", "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(h.docker, "docker-compose.yaml"), compose, 0o644)
	res := runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"; ln -sfn releases/1.8.1 "$CURRENT"
load_secrets
write_env "$RELEASES/1.8.1/docker"
write_override "$RELEASES/1.8.1/docker"
verify_compose "$RELEASES/1.8.1/docker"
compose_in "$RELEASES/1.8.1/docker" config --format json | jq -c '{name, plugin: .services.plugin_daemon.ports, nginx: .services.nginx.ports, qdrant: (.services.qdrant != null), weaviate: (.services.weaviate != null)}'
RESULT=checked`)
	if res.exitCode != 0 {
		t.Fatalf("the override did not make the configuration safe (exit %d):\n%s", res.exitCode, res.out)
	}
	for _, want := range []string{`"name":"dify"`, `"host_ip":"127.0.0.1"`, `"qdrant":false`, `"weaviate":true`, "compose configuration checked"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %s:\n%s", want, res.out)
		}
	}
	if strings.Contains(res.out, `"target":443`) {
		t.Errorf("443 is still published:\n%s", res.out)
	}

	// A setting missing from .env lets the compose file's own default through.
	env, _ := os.ReadFile(filepath.Join(h.docker, ".env"))
	os.WriteFile(filepath.Join(h.docker, ".env"), regexp.MustCompile(`(?m)^SANDBOX_API_KEY=.*\n`).ReplaceAll(env, nil), 0o600)
	res = runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"
verify_compose "$RELEASES/1.8.1/docker"`)
	if res.exitCode == 0 || !strings.Contains(res.out, "published default secret reaches sandbox API_KEY") {
		t.Errorf("the compose default for the sandbox key must be refused (exit %d):\n%s", res.exitCode, res.out)
	}
	os.WriteFile(filepath.Join(h.docker, ".env"), env, 0o600)

	os.Remove(filepath.Join(h.docker, "docker-compose.override.yaml"))
	res = runStartupFunctions(t, h, srv, `mkdir -p "$RUN_DIR"
verify_compose "$RELEASES/1.8.1/docker"`)
	if res.exitCode == 0 || !strings.Contains(res.out, "worker runs langgenius/dify-api:1.8.0") {
		t.Errorf("without the override the check must refuse the 1.8.0 worker (exit %d):\n%s", res.exitCode, res.out)
	}
}
