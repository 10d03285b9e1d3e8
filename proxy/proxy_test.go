package proxy_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/proxy/proxytest"
)

const checkScript = "docker-entrypoint.d/05-check-proxy-env.sh"

// settingNames are the environment variables the template takes from envsubst.
var settingNames = []string{proxy.EnvBackend, proxy.EnvTimeoutSeconds, proxy.EnvBodyLimitMiB, proxy.EnvLoadBalancerAddress, proxy.EnvPort}

func TestEnvNamesEverySetting(t *testing.T) {
	got := proxy.Settings{Backend: "10.10.0.2:80", TimeoutSeconds: 300, BodyLimitMiB: 16, LoadBalancerAddress: "34.120.7.9"}.Env()
	want := map[string]string{
		"DIFY_BACKEND":          "10.10.0.2:80",
		"PROXY_TIMEOUT_SECONDS": "300",
		"PROXY_BODY_LIMIT_MIB":  "16",
		"PROXY_LB_ADDRESS":      "34.120.7.9",
	}
	if len(got) != len(want) {
		t.Fatalf("Env = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Env[%s] = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got[proxy.EnvPort]; ok {
		t.Errorf("Env sets %s; Cloud Run refuses it as a user-set variable", proxy.EnvPort)
	}
}

// validationCases are run through Settings.Validate and through the image's
// start-up check; both must agree, and a refusal must name the variable at fault.
var validationCases = []struct {
	s       proxy.Settings
	wantBad []string // variables named in the refusal; none means accepted
}{
	{ok("10.10.0.2:80", 300, 16, ""), nil},
	{ok("dify-vm.internal:8080", 1, 1, ""), nil},
	{ok("[fd00::2]:80", 3600, 32, ""), nil},
	{ok("10.10.0.2:080", 300, 16, ""), nil},
	{ok("", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok(":80", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:0", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:65536", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:80; include /etc/passwd", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:80;", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:80\nx", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("dify vm:80", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("fd00::2:80", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("[fd00::2]", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("[dify]:80", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("[fd00::2]:80:90", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("${DIFY_BACKEND}", 300, 16, ""), []string{"DIFY_BACKEND"}},
	{ok("10.10.0.2:80", 0, 16, ""), []string{"PROXY_TIMEOUT_SECONDS"}},
	{ok("10.10.0.2:80", 3601, 16, ""), []string{"PROXY_TIMEOUT_SECONDS"}},
	{ok("10.10.0.2:80", -5, 16, ""), []string{"PROXY_TIMEOUT_SECONDS"}},
	{ok("10.10.0.2:80", 300, 0, ""), []string{"PROXY_BODY_LIMIT_MIB"}},
	{ok("10.10.0.2:80", 300, 33, ""), []string{"PROXY_BODY_LIMIT_MIB"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.7.9"), nil},
	{ok("10.10.0.2:80", 300, 16, "0.0.0.0"), nil},
	{ok("10.10.0.2:80", 300, 16, "255.255.255.255"), nil},
	{ok("10.10.0.2:80", 300, 16, "34.120.7"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.7.9.1"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.7.256"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.07.9"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120..9"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, ".34.120.7.9"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.7.9."), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "2001:db8::1"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.7.9;"), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "34.120.7.9 "), []string{"PROXY_LB_ADDRESS"}},
	{ok("10.10.0.2:80", 300, 16, "1234.1.1.1"), []string{"PROXY_LB_ADDRESS"}},
	{ok("x", 0, 100, "lb"), []string{"DIFY_BACKEND", "PROXY_TIMEOUT_SECONDS", "PROXY_BODY_LIMIT_MIB", "PROXY_LB_ADDRESS"}},
}

func ok(backend string, timeoutSeconds, bodyLimitMiB int, lb string) proxy.Settings {
	return proxy.Settings{Backend: backend, TimeoutSeconds: timeoutSeconds, BodyLimitMiB: bodyLimitMiB, LoadBalancerAddress: lb}
}

func TestValidate(t *testing.T) {
	for _, c := range validationCases {
		err := c.s.Validate()
		if len(c.wantBad) == 0 {
			if err != nil {
				t.Errorf("Validate(%+v) = %v, want nil", c.s, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Validate(%+v) = nil, want an error naming %v", c.s, c.wantBad)
			continue
		}
		for _, name := range c.wantBad {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Validate(%+v) = %q, does not name %s", c.s, err, name)
			}
		}
	}
}

// The image's start-up check and Validate apply one set of rules: a value that
// passes a preview must start, and a value the image refuses must fail a preview.
func TestStartupCheckAgreesWithValidate(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(strings.Join(shell, " "), func(t *testing.T) { checkAgreesWithValidate(t, shell) })
	}
}

func checkAgreesWithValidate(t *testing.T, shell []string) {
	for _, c := range validationCases {
		env := c.s.Env()
		env[proxy.EnvPort] = strconv.Itoa(proxy.ContainerPort)
		if c.s.Backend == "" {
			delete(env, proxy.EnvBackend)
		}
		out, err := runScript(t, shell, checkScript, env)
		if len(c.wantBad) == 0 {
			if err != nil {
				t.Errorf("%s refused %+v, which Validate accepts: %v\n%s", checkScript, c.s, err, out)
			}
			continue
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Errorf("%s accepted %+v, which Validate refuses (err %v)", checkScript, c.s, err)
			continue
		}
		for _, name := range c.wantBad {
			if !strings.Contains(out, "ERROR: "+name) {
				t.Errorf("%s refused %+v without naming %s:\n%s", checkScript, c.s, name, out)
			}
		}
	}
}

func TestStartupCheckNamesEachMissingVariable(t *testing.T) {
	full := proxy.Settings{Backend: "10.10.0.2:80", TimeoutSeconds: 300, BodyLimitMiB: 16}.Env()
	full[proxy.EnvPort] = "8080"
	for name := range full {
		env := map[string]string{}
		for k, v := range full {
			if k != name {
				env[k] = v
			}
		}
		out, err := runScript(t, nil, checkScript, env)
		if err == nil {
			t.Errorf("without %s: %s succeeded, want a refusal", name, checkScript)
			continue
		}
		if !strings.Contains(out, "ERROR: "+name+" is not set") {
			t.Errorf("without %s: output does not say so:\n%s", name, out)
		}
	}
}

// Every shell script in proxy/ runs under POSIX sh (alpine's busybox in the
// image, dash here) and must pass shellcheck.
func TestShellScriptsPassShellcheck(t *testing.T) {
	_, err := exec.LookPath("shellcheck")
	requireTool(t, err)
	var scripts []string
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".sh") {
			scripts = append(scripts, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 3 {
		t.Fatalf("found only %v: the walk is broken", scripts)
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "#!/bin/sh\n") {
			t.Errorf("%s: want #!/bin/sh (alpine has no bash)", s)
		}
		if !strings.Contains(string(b), "\nset -eu\n") {
			t.Errorf("%s: want set -eu", s)
		}
		if out, err := exec.Command("shellcheck", "--shell=sh", s).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
	}
}

// The Dockerfile is never built here, so its contract is checked line by line:
// what the tests run locally must be what the image runs.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []*regexp.Regexp{
		// An exact nginx release on alpine, never a floating tag.
		regexp.MustCompile(`(?m)^FROM nginx:\d+\.\d+\.\d+-alpine$`),
		// The official template mechanism: templates/*.template to conf.d/.
		regexp.MustCompile(`(?m)^COPY templates/ /etc/nginx/templates/$`),
		regexp.MustCompile(`(?m)^COPY docker-entrypoint\.d/ /docker-entrypoint\.d/$`),
		regexp.MustCompile(`(?m)^COPY proxy-entrypoint\.sh /usr/local/bin/proxy-entrypoint\.sh$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/proxy-entrypoint\.sh"\]$`),
		regexp.MustCompile(`(?m)^CMD \["nginx", "-g", "daemon off;"\]$`),
		regexp.MustCompile(`(?m)^EXPOSE ` + strconv.Itoa(proxy.ContainerPort) + `$`),
		regexp.MustCompile(`(?m)^\s+PORT=` + strconv.Itoa(proxy.ContainerPort) + `$`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile: no line matching %s", want)
		}
	}

	filter, err := proxytest.EnvsubstFilter(".")
	if err != nil {
		t.Fatal(err)
	}
	re, err := regexp.Compile(filter)
	if err != nil {
		t.Fatalf("NGINX_ENVSUBST_FILTER %q: %v", filter, err)
	}
	for _, name := range settingNames {
		if !re.MatchString(name) {
			t.Errorf("NGINX_ENVSUBST_FILTER %q does not let %s through", filter, name)
		}
	}
	for _, name := range nginxVariables(t, readTemplate(t)) {
		if re.MatchString(name) {
			t.Errorf("NGINX_ENVSUBST_FILTER %q would let an environment variable replace nginx's $%s", filter, name)
		}
	}

	// The image runs docker-entrypoint.d/ in version order and renders templates
	// in its 20-envsubst script: ours must run before it, and be executable
	// (the official entrypoint skips other files with a warning).
	entries, err := os.ReadDir("docker-entrypoint.d")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "-", 2)[0])
		if !strings.HasSuffix(e.Name(), ".sh") || err != nil || n >= 20 {
			t.Errorf("docker-entrypoint.d/%s: want NN-name.sh with NN below 20, to run before the template step", e.Name())
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("docker-entrypoint.d/%s is not executable; the official entrypoint would skip it", e.Name())
		}
	}
	for _, f := range []string{"proxy-entrypoint.sh", "proxytest/official-entrypoint.sh"} {
		if info, err := os.Stat(f); err != nil || info.Mode()&0o111 == 0 {
			t.Errorf("%s: not executable (%v)", f, err)
		}
	}
	ignore, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range strings.Split(string(ignore), "\n") {
		pattern = strings.TrimSpace(pattern)
		if pattern == "" || strings.HasPrefix(pattern, "#") {
			continue
		}
		for _, input := range []string{"Dockerfile", "templates", "templates/default.conf.template", "docker-entrypoint.d", "docker-entrypoint.d/05-check-proxy-env.sh", "proxy-entrypoint.sh"} {
			if ok, _ := filepath.Match(pattern, input); ok || strings.HasPrefix(pattern, "!") {
				t.Errorf(".dockerignore: %q would leave %s out of the build context (or is an exception, which this check does not model)", pattern, input)
			}
		}
	}
	templates, err := filepath.Glob("templates/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) != 1 || templates[0] != "templates/default.conf.template" {
		t.Errorf("templates/ = %v, want only default.conf.template (rendered to conf.d/default.conf, replacing the packaged one)", templates)
	}
}

func readTemplate(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("templates/default.conf.template")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var nginxVariable = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// nginxVariables returns the names of the template's own nginx variables (every
// $name that is not one of the settings), in order of appearance.
func nginxVariables(t *testing.T, text string) []string {
	t.Helper()
	var names []string
	for _, m := range nginxVariable.FindAllStringSubmatch(text, -1) {
		if slices.Contains(settingNames, m[1]) {
			continue
		}
		names = append(names, m[1])
	}
	return names
}
