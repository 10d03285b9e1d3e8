package hostscript

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dify-gcp/dify-gcp/signals"
	"gopkg.in/yaml.v3"
)

// The Ops Agent step runs here for real (startup/opsagent.sh, with
// common.sh's logging and install_file and docker.sh's apt_install), with real
// gpg on keys made for the test and served by a fake packages.cloud.google.com.
// Stubs stand in for what changes the machine: apt-get and apt-mark (which
// record, and make dpkg-query report the package they installed), and
// systemctl.

const agentStubs = `#!/bin/bash
echo "$(basename "$0") $*" >>"$STUB_LOG"
case "$(basename "$0") $*" in
"apt-get"*"install"*google-cloud-ops-agent=*)
	for a in "$@"; do [[ $a == google-cloud-ops-agent=* ]] && echo "${a#*=}" >"$STUB_STATE/agent"; done ;;
esac
`

const dpkgQueryAgentStub = `#!/bin/bash
if [[ "$*" == *google-cloud-ops-agent* ]]; then
	[[ -f $STUB_STATE/agent ]] || exit 1
	printf 'installed %s' "$(cat "$STUB_STATE/agent")"
	exit 0
fi
exec /usr/bin/dpkg-query "$@"
`

// agentVM is one VM's worth of the agent step: its files, stubs and the fake
// package host.
type agentVM struct {
	t                                *testing.T
	root, stubs, state, gnupg        string
	trusted, intruder                string // fingerprints of the test's keys
	served                           []byte // what the fake host answers for apt-key.gpg
	keyRequests                      atomic.Int64
	url                              string
	keyring, list, config, osRelease string
}

// gpgKey makes a signing key in the agent VM's test keyring and returns its
// fingerprint.
func (vm *agentVM) gpgKey(uid string) string {
	vm.t.Helper()
	out, err := exec.Command("gpg", "--homedir", vm.gnupg, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", uid, "ed25519", "sign", "never").CombinedOutput()
	if err != nil {
		vm.t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	out, err = exec.Command("gpg", "--homedir", vm.gnupg, "--batch", "--with-colons", "--list-keys", uid).Output()
	if err != nil {
		vm.t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^fpr:+([0-9A-F]{40}):`).FindSubmatch(out)
	if m == nil {
		vm.t.Fatalf("no fingerprint for %s:\n%s", uid, out)
	}
	return string(m[1])
}

func (vm *agentVM) export(fprs ...string) []byte {
	vm.t.Helper()
	out, err := exec.Command("gpg", append([]string{"--homedir", vm.gnupg, "--batch", "--armor", "--export"}, fprs...)...).Output()
	if err != nil {
		vm.t.Fatal(err)
	}
	return out
}

func newAgentVM(t *testing.T) *agentVM {
	t.Helper()
	need(t, "gpg", "/usr/bin/gpg")
	root := t.TempDir()
	vm := &agentVM{t: t, root: root, stubs: filepath.Join(root, "stubs"), state: filepath.Join(root, "state"),
		gnupg: filepath.Join(root, "gnupg"), keyring: filepath.Join(root, "etc/apt/keyrings/google-cloud-ops-agent.gpg"),
		list: filepath.Join(root, "etc/apt/sources.list.d/google-cloud-ops-agent.list"), config: filepath.Join(root, "etc/google-cloud-ops-agent/config.yaml"),
		osRelease: filepath.Join(root, "os-release")}
	for _, d := range []string{vm.stubs, vm.state, vm.gnupg} {
		os.MkdirAll(d, 0o700)
	}
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", vm.gnupg, "--kill", "gpg-agent").Run() })
	for _, name := range []string{"apt-get", "apt-mark", "systemctl"} {
		os.WriteFile(filepath.Join(vm.stubs, name), []byte(agentStubs), 0o755)
	}
	os.WriteFile(filepath.Join(vm.stubs, "dpkg-query"), []byte(dpkgQueryAgentStub), 0o755)
	// What Debian 12's /etc/os-release says (the image components/host.go boots).
	os.WriteFile(vm.osRelease, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"), 0o644)
	vm.trusted = vm.gpgKey("Google Cloud Packages (test) <packages@example.com>")
	vm.intruder = vm.gpgKey("Someone Else <intruder@example.com>")
	vm.served = vm.export(vm.trusted, vm.intruder)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apt/doc/apt-key.gpg" {
			http.NotFound(w, r)
			return
		}
		vm.keyRequests.Add(1)
		w.Write(vm.served)
	}))
	t.Cleanup(srv.Close)
	vm.url = srv.URL + "/apt"
	return vm
}

// boot runs ensure_ops_agent as the startup script's main does.
func (vm *agentVM) boot() (scriptResult, string) {
	vm.t.Helper()
	os.Remove(filepath.Join(vm.root, "calls"))
	dir := hostscriptDir(vm.t)
	script := fmt.Sprintf(`set -euo pipefail
set -E
DIFY_PORT=80 HEALTH_PATH=/console/api/ping
source %[1]s/startup/common.sh
source %[1]s/startup/docker.sh
source %[1]s/startup/opsagent.sh
trap 'on_error "$?" "$LINENO" "$BASH_COMMAND"' ERR
ensure_ops_agent || { log err "ERROR: the Ops Agent is not set up"; exit 3; }
`, dir)
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = []string{
		"PATH=" + vm.stubs + ":" + os.Getenv("PATH"),
		"HOME=" + vm.root, "DIFY_CONSOLE=/dev/null", "DIFY_STATUS_FILE=" + filepath.Join(vm.root, "status"),
		"STUB_LOG=" + filepath.Join(vm.root, "calls"), "STUB_STATE=" + vm.state,
		"DIFY_OPS_AGENT_REPO=" + vm.url, "DIFY_OPS_AGENT_TRUSTED_KEYS=" + vm.trusted,
		"DIFY_OPS_AGENT_KEYRING=" + vm.keyring, "DIFY_OPS_AGENT_LIST=" + vm.list,
		"DIFY_OPS_AGENT_CONFIG=" + vm.config, "DIFY_OS_RELEASE=" + vm.osRelease,
	}
	res := run(vm.t, cmd)
	calls, _ := os.ReadFile(filepath.Join(vm.root, "calls"))
	return res, string(calls)
}

// The first boot installs the pinned agent from Google's repository, trusting
// only the listed key, holds it, writes the configuration and starts it; the
// next boot changes nothing and downloads nothing; a configuration edited on
// the VM is put back and the agent restarted; a new pin installs.
func TestOpsAgentInstallsPinnedAndIdempotent(t *testing.T) {
	vm := newAgentVM(t)
	want := "google-cloud-ops-agent=2.70.0~debian12"

	first, calls := vm.boot()
	if first.exitCode != 0 {
		t.Fatalf("first boot failed (exit %d):\n%s\ncalls:\n%s", first.exitCode, first.out, calls)
	}
	for _, c := range []string{"apt-get -q -o DPkg::Lock::Timeout=600 update", want, "apt-mark hold google-cloud-ops-agent",
		"systemctl restart google-cloud-ops-agent", "systemctl enable -q google-cloud-ops-agent"} {
		if !strings.Contains(calls, c) {
			t.Errorf("first boot should run %q; calls:\n%s", c, calls)
		}
	}
	if !strings.Contains(calls, "--allow-change-held-packages") {
		t.Errorf("a held agent could never move to a new pin; calls:\n%s", calls)
	}
	list, _ := os.ReadFile(vm.list)
	if got, w := string(list), "deb [signed-by="+vm.keyring+"] "+vm.url+" google-cloud-ops-agent-bookworm-2 main\n"; got != w {
		t.Errorf("sources list %q, want %q", got, w)
	}
	// The keyring apt trusts holds the trusted key and not the other one the
	// download carried.
	shown, err := exec.Command("gpg", "--homedir", t.TempDir(), "--batch", "--with-colons", "--show-keys", vm.keyring).Output()
	if err != nil {
		t.Fatalf("the keyring is not an OpenPGP keyring: %v", err)
	}
	if !bytes.Contains(shown, []byte(vm.trusted)) || bytes.Contains(shown, []byte(vm.intruder)) {
		t.Errorf("keyring holds:\n%s\nwant %s alone", shown, vm.trusted)
	}

	second, calls := vm.boot()
	if second.exitCode != 0 || strings.Contains(calls, "apt-get") || strings.Contains(calls, "restart") || vm.keyRequests.Load() != 1 {
		t.Errorf("a boot with everything in place should download, install and restart nothing (exit %d, %d key downloads); calls:\n%s",
			second.exitCode, vm.keyRequests.Load(), calls)
	}

	os.WriteFile(vm.config, []byte("logging: {}\n"), 0o644)
	third, calls := vm.boot()
	if third.exitCode != 0 || !strings.Contains(calls, "systemctl restart google-cloud-ops-agent") || strings.Contains(calls, "apt-get") {
		t.Errorf("an edited configuration should be rewritten and the agent restarted, without a reinstall; calls:\n%s", calls)
	}

	os.WriteFile(filepath.Join(vm.state, "agent"), []byte("2.60.0~debian12\n"), 0o644)
	fourth, calls := vm.boot()
	if fourth.exitCode != 0 || !strings.Contains(calls, want) {
		t.Errorf("an agent off the pin should be replaced by %s; calls:\n%s", want, calls)
	}
}

// A download that carries none of the trusted keys installs nothing, and the
// step fails with a reason instead of taking the key on trust.
func TestOpsAgentRefusesAnUntrustedKey(t *testing.T) {
	vm := newAgentVM(t)
	vm.served = vm.export(vm.intruder)
	res, calls := vm.boot()
	if res.exitCode != 3 || !strings.Contains(res.out, "holds none of the trusted keys") {
		t.Fatalf("an untrusted key must be refused (exit %d):\n%s", res.exitCode, res.out)
	}
	if strings.Contains(calls, "install") || fileExists(vm.list) || fileExists(vm.keyring) {
		t.Errorf("nothing may be installed or trusted; calls:\n%s", calls)
	}

	os.WriteFile(vm.osRelease, []byte("ID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n"), 0o644)
	vm.served = vm.export(vm.trusted)
	if res, _ := vm.boot(); res.exitCode != 3 || !strings.Contains(res.out, "pinned for Debian") {
		t.Errorf("another distribution must be refused (exit %d):\n%s", res.exitCode, res.out)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// The Ops Agent's configuration schema as far as this deployment uses it:
// the field names of GoogleCloudPlatform/ops-agent's confgenerator
// (LoggingReceiverFiles, ParserShared and LoggingProcessorParseJson,
// LoggingProcessorModifyFields and ModifyField, apps.MetricsProcessorExcludeMetrics;
// commit 588c4b9625). Decoding with KnownFields refuses any other key, as the
// agent's own validation does.
type (
	agentConfig struct {
		Metrics struct {
			Processors map[string]struct {
				Type           string   `yaml:"type"`
				MetricsPattern []string `yaml:"metrics_pattern"`
			} `yaml:"processors"`
		} `yaml:"metrics"`
		Logging struct {
			Receivers map[string]struct {
				Type         string   `yaml:"type"`
				IncludePaths []string `yaml:"include_paths"`
				ExcludePaths []string `yaml:"exclude_paths"`
			} `yaml:"receivers"`
			Processors map[string]struct {
				Type       string                  `yaml:"type"`
				Field      string                  `yaml:"field"`
				TimeKey    string                  `yaml:"time_key"`
				TimeFormat string                  `yaml:"time_format"`
				Fields     map[string]*modifyField `yaml:"fields"`
			} `yaml:"processors"`
			Service struct {
				Pipelines map[string]struct {
					Receivers  []string `yaml:"receivers"`
					Processors []string `yaml:"processors"`
				} `yaml:"pipelines"`
			} `yaml:"service"`
		} `yaml:"logging"`
	}
	modifyField struct {
		MoveFrom     string  `yaml:"move_from"`
		CopyFrom     string  `yaml:"copy_from"`
		StaticValue  *string `yaml:"static_value"`
		DefaultValue *string `yaml:"default_value"`
	}
)

// globMatch is the agent's exclude_metrics pattern: '*' matches anything
// (apps/metric_processors.go, globToRegex).
func globMatch(pattern, metric string) bool {
	parts := strings.Split(pattern, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(metric)
}

// The configuration the agent gets is valid YAML of the agent's schema and
// does what the alerts, the dashboard, the exclusion and the cost estimate
// count on: the memory, swap and disk-use metrics stay (the disk and memory
// alerts read them), the rest of the chargeable host metrics are left out,
// and the containers' json-file logs become entries of the log
// signals.ContainerLog with the compose service as signals.ServiceLabel and
// the line as the message.
func TestOpsAgentConfiguration(t *testing.T) {
	vm := newAgentVM(t)
	if res, calls := vm.boot(); res.exitCode != 0 {
		t.Fatalf("boot failed:\n%s\n%s", res.out, calls)
	}
	raw, err := os.ReadFile(vm.config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg agentConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("config.yaml is not the agent's schema: %v\n%s", err, raw)
	}

	// The built-in pipeline's processor, replaced by id (confgenerator's
	// built-in-config-linux.yaml names it metrics_filter).
	filter, ok := cfg.Metrics.Processors["metrics_filter"]
	if !ok || filter.Type != "exclude_metrics" {
		t.Fatalf("no exclude_metrics processor metrics_filter: %+v", cfg.Metrics.Processors)
	}
	excluded := func(m string) bool {
		return slices.ContainsFunc(filter.MetricsPattern, func(p string) bool { return globMatch(p, m) })
	}
	// Every metric the agent's hostmetrics receiver writes on Linux
	// (apps/hostmetrics.go, with agent.googleapis.com/ prefixed).
	host := []string{"cpu/usage_time", "cpu/utilization", "cpu/load_1m", "cpu/load_5m", "cpu/load_15m",
		"disk/read_bytes_count", "disk/write_bytes_count", "disk/operation_count", "disk/io_time", "disk/weighted_io_time",
		"disk/operation_time", "disk/pending_operations", "disk/merged_operations", "disk/bytes_used", "disk/percent_used",
		"memory/bytes_used", "memory/percent_used", "interface/traffic", "interface/errors", "interface/packets",
		"network/tcp_connections", "processes/fork_count", "processes/count_by_state", "swap/bytes_used", "swap/percent_used",
		"swap/io", "processes/cpu_time", "processes/disk/read_bytes_count", "processes/disk/write_bytes_count",
		"processes/rss_usage", "processes/vm_usage"}
	var kept []string
	for _, m := range host {
		if !excluded("agent.googleapis.com/" + m) {
			kept = append(kept, m)
		}
	}
	// plan.AgentChargeableSeries counts the series of exactly these.
	if want := []string{"disk/bytes_used", "disk/percent_used", "memory/bytes_used", "memory/percent_used", "swap/bytes_used", "swap/io", "swap/percent_used"}; !slices.Equal(sorted(kept), want) {
		t.Errorf("the agent keeps %q, want %q", sorted(kept), want)
	}
	for _, m := range []string{signals.AgentDiskPercent, signals.AgentMemoryPercent, signals.AgentUptime} {
		if excluded(m) {
			t.Errorf("%s, which the alerts read, is excluded", m)
		}
	}

	recv, ok := cfg.Logging.Receivers[signals.ContainerLog]
	if !ok || recv.Type != "files" || !slices.Equal(recv.IncludePaths, []string{"/var/lib/docker/containers/*/*-json.log"}) {
		t.Errorf("receiver %s: %+v, want the files of Docker's json-file driver", signals.ContainerLog, cfg.Logging.Receivers)
	}
	pipe, ok := cfg.Logging.Service.Pipelines[signals.ContainerLog]
	if !ok || !slices.Equal(pipe.Receivers, []string{signals.ContainerLog}) || len(pipe.Processors) != 2 {
		t.Fatalf("pipeline %s: %+v", signals.ContainerLog, cfg.Logging.Service.Pipelines)
	}
	parse, modify := cfg.Logging.Processors[pipe.Processors[0]], cfg.Logging.Processors[pipe.Processors[1]]
	// Docker's line: {"log":"...","stream":"stdout","attrs":{...},"time":"2026-...Z"};
	// the agent's own transformation tests parse such lines with this format
	// (transformation_test/testdata/logging_processor-parse_json).
	if parse.Type != "parse_json" || parse.Field != "message" || parse.TimeKey != "time" || parse.TimeFormat != "%Y-%m-%dT%H:%M:%S.%L%z" {
		t.Errorf("first processor %+v should parse Docker's JSON line and its time", parse)
	}
	label := modify.Fields[`labels."`+signals.ServiceLabel+`"`]
	msg := modify.Fields["jsonPayload.message"]
	if modify.Type != "modify_fields" || label == nil || label.MoveFrom != `jsonPayload.attrs."com.docker.compose.service"` || msg == nil || msg.MoveFrom != "jsonPayload.log" {
		t.Errorf("second processor %+v should move the compose service to the label %s and the line to the message", modify, signals.ServiceLabel)
	}

	// Docker writes the service into attrs only when its daemon.json asks for
	// the label (docs.docker.com/engine/logging/drivers/json-file, "labels").
	docker, err := os.ReadFile(filepath.Join(hostscriptDir(t), "startup", "docker.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docker), `"labels": "com.docker.compose.service"`) {
		t.Error("daemon.json does not ask the json-file driver for the com.docker.compose.service label")
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
