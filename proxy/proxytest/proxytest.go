// Package proxytest runs the proxy image's own files on this machine's nginx, the
// way the image runs them, for tests and benchmarks where Docker is not available.
//
// A started proxy goes through the same steps as a container of the image:
// proxy-entrypoint.sh (its PID 1) calls the configuration step, which runs the
// scripts in docker-entrypoint.d/ and renders templates/ with envsubst exactly as
// the official image's 20-envsubst-on-templates.sh does (official-entrypoint.sh in
// this directory stands in for the official /docker-entrypoint.sh), checks the
// result with "nginx -t", and only then starts nginx. The nginx.conf around the
// rendered template mirrors the official image's. What differs from the image is
// the nginx build (Debian's instead of the alpine package) and the file paths.
package proxytest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dify-gcp/dify-gcp/proxy"
)

// DefaultNginx is Debian's nginx, used when Options.Nginx is empty.
const DefaultNginx = "/usr/sbin/nginx"

// Options describe one proxy run.
type Options struct {
	// Dir is the proxy/ directory holding Dockerfile, templates/,
	// docker-entrypoint.d/ and proxy-entrypoint.sh.
	Dir string
	// Nginx is the nginx binary; DefaultNginx when empty.
	Nginx string
	// Env is the container's environment as Cloud Run would set it, usually
	// proxy.Env plus anything a test adds. Nothing else from this process's
	// environment reaches the proxy except PATH. When Env has no PORT, a free port
	// is chosen; setting PORT to "" leaves it unset (to test its absence).
	Env map[string]string
	// WorkerProcesses is nginx's worker_processes, "auto" (as in the official
	// nginx.conf) when empty.
	WorkerProcesses string
	// Bare runs the image as the official nginx image would, without
	// proxy-entrypoint.sh: the configuration step becomes PID 1 and executes nginx
	// in place. Tests use it to show what SIGTERM does to nginx itself.
	Bare bool
	// Stdout and Stderr, when set, also receive nginx's output (the JSON access
	// log and the error log).
	Stdout, Stderr io.Writer
	// Shell, when set, runs proxy-entrypoint.sh with this command instead of its
	// #! line, e.g. {"busybox", "sh"} for the image's shell (alpine's busybox ash).
	Shell []string
	// DropAccessLog keeps nginx's stdout out of memory (benchmarks): nginx still
	// writes every line, but Proxy.Stdout stays empty.
	DropAccessLog bool
}

// Proxy is a running proxy. Stop it (tests: t.Cleanup(p.Stop)).
type Proxy struct {
	// Addr is the loopback address clients use, 127.0.0.1:port.
	Addr string
	// Prefix is the temporary directory holding nginx.conf and the rendered conf.d/.
	Prefix string

	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error // the process's exit error, set before done is closed
}

// Available reports why the tools a proxy needs are missing, or nil.
func Available(nginx string) error {
	if nginx == "" {
		nginx = DefaultNginx
	}
	var missing []string
	if info, err := os.Stat(nginx); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		missing = append(missing, nginx+" (Debian package nginx)")
	}
	for _, tool := range []string{"envsubst", "awk", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// FindDir returns the proxy/ directory of the module that holds the working
// directory, so tools run from anywhere inside the repository find it.
func FindDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding proxy/: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "proxy")
			if _, err := os.Stat(filepath.Join(p, "Dockerfile")); err != nil {
				return "", fmt.Errorf("finding proxy/: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding proxy/: no go.mod above the working directory")
		}
		dir = parent
	}
}

var filterLine = regexp.MustCompile(`(?m)^\s*(?:ENV\s+)?NGINX_ENVSUBST_FILTER="([^"]*)"`)

// EnvsubstFilter returns NGINX_ENVSUBST_FILTER as the Dockerfile in dir sets it,
// so local runs render with the filter the image uses.
func EnvsubstFilter(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return "", fmt.Errorf("reading the envsubst filter: %w", err)
	}
	m := filterLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("reading the envsubst filter: no NGINX_ENVSUBST_FILTER=\"...\" in %s", filepath.Join(dir, "Dockerfile"))
	}
	return string(m[1]), nil
}

// Render runs only the image's configuration step (docker-entrypoint.d/ and the
// template rendering) and writes the rendered files into outDir. On failure the
// error carries the step's output.
func Render(ctx context.Context, opt Options, outDir string) error {
	if err := absDir(&opt); err != nil {
		return err
	}
	env, err := environment(opt, outDir)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(opt.Dir, "proxytest", "official-entrypoint.sh"), "true")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rendering the proxy configuration: %w\n%s", err, out)
	}
	return nil
}

// Start runs the proxy and returns once it answers on proxy.HealthPath, or with
// an error holding its output when it exits first. A port taken between choosing
// and binding it is retried.
func Start(ctx context.Context, opt Options) (*Proxy, error) {
	if opt.Nginx == "" {
		opt.Nginx = DefaultNginx
	}
	if err := absDir(&opt); err != nil {
		return nil, err
	}
	if opt.WorkerProcesses == "" {
		opt.WorkerProcesses = "auto"
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p, err := start(ctx, opt)
		if err == nil || attempt == attempts || !errors.Is(err, errAddrInUse) {
			return p, err
		}
	}
}

// absDir makes opt.Dir absolute: the scripts run from other directories.
func absDir(opt *Options) error {
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return fmt.Errorf("locating the proxy directory: %w", err)
	}
	opt.Dir = dir
	return nil
}

var errAddrInUse = errors.New("address already in use")

func start(ctx context.Context, opt Options) (_ *Proxy, err error) {
	if _, ok := opt.Env[proxy.EnvPort]; !ok {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		env := make(map[string]string, len(opt.Env)+1)
		for k, v := range opt.Env {
			env[k] = v
		}
		env[proxy.EnvPort] = strconv.Itoa(port)
		opt.Env = env
	}
	prefix, err := os.MkdirTemp("", "proxytest-")
	if err != nil {
		return nil, fmt.Errorf("starting the proxy: %w", err)
	}
	started := false
	defer func() {
		if !started {
			os.RemoveAll(prefix)
		}
	}()
	// nginx's workers run as an unprivileged user when the tests run as root;
	// they must be able to reach the prefix.
	if err := os.Chmod(prefix, 0o755); err != nil {
		return nil, fmt.Errorf("starting the proxy: %w", err)
	}
	confD := filepath.Join(prefix, "conf.d")
	for _, d := range []string{confD, filepath.Join(prefix, "temp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("starting the proxy: %w", err)
		}
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(opt.WorkerProcesses)), 0o644); err != nil {
		return nil, fmt.Errorf("starting the proxy: %w", err)
	}
	env, err := environment(opt, confD)
	if err != nil {
		return nil, err
	}
	nginxArgs := []string{opt.Nginx, "-p", prefix + "/", "-c", conf, "-g", "daemon off;"}
	var cmd *exec.Cmd
	if opt.Bare {
		cmd = exec.Command(filepath.Join(opt.Dir, "proxytest", "official-entrypoint.sh"), nginxArgs...)
	} else {
		argv := append(slices.Clone(opt.Shell), filepath.Join(opt.Dir, "proxy-entrypoint.sh"))
		argv = append(argv, nginxArgs...)
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Env = env
	cmd.Dir = prefix
	// Its own process group, so Stop can end the script, nginx's master and its
	// workers together, whatever state they are in.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proxy{
		Prefix: prefix,
		cmd:    cmd,
		stdout: &syncBuffer{tee: opt.Stdout, drop: opt.DropAccessLog},
		stderr: &syncBuffer{tee: opt.Stderr},
		done:   make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the proxy: %w", err)
	}
	started = true // from here on, Stop removes the prefix
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	p.Addr = net.JoinHostPort("127.0.0.1", opt.Env[proxy.EnvPort])
	if err := p.awaitHealthy(ctx, 20*time.Second); err != nil {
		p.Stop()
		if strings.Contains(p.Stderr(), "Address already in use") {
			return nil, fmt.Errorf("starting the proxy on %s: %w", p.Addr, errAddrInUse)
		}
		return nil, fmt.Errorf("starting the proxy: %w\n--- proxy output ---\n%s%s", err, p.Stderr(), p.Stdout())
	}
	return p, nil
}

// environment is the proxy's whole environment: PATH, opt.Env, and what the
// stand-in for the official entrypoint needs to find this directory's files.
func environment(opt Options, outDir string) ([]string, error) {
	filter, err := EnvsubstFilter(opt.Dir)
	if err != nil {
		return nil, err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"PROXY_CONFIGURE=" + filepath.Join(opt.Dir, "proxytest", "official-entrypoint.sh"),
		"ENTRYPOINT_D=" + filepath.Join(opt.Dir, "docker-entrypoint.d"),
		"NGINX_ENVSUBST_TEMPLATE_DIR=" + filepath.Join(opt.Dir, "templates"),
		"NGINX_ENVSUBST_OUTPUT_DIR=" + outDir,
		"NGINX_ENVSUBST_FILTER=" + filter,
	}
	for k, v := range opt.Env {
		if k == proxy.EnvPort && v == "" {
			continue
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

func (p *Proxy) awaitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.done:
			return fmt.Errorf("the proxy exited before answering on %s: %v", proxy.HealthPath, p.err)
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s within %v", proxy.HealthPath, limit)
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := client.Get(p.URL(proxy.HealthPath))
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

// URL returns the proxy's URL for path.
func (p *Proxy) URL(path string) string { return "http://" + p.Addr + path }

// PID is the process that is PID 1 in the image: proxy-entrypoint.sh (or, with
// Options.Bare, nginx's master once configuration is done).
func (p *Proxy) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to PID 1 only, as Cloud Run and "docker stop" do.
func (p *Proxy) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signalling the proxy: %w", err)
	}
	return nil
}

// Done is closed when PID 1 has exited and nginx's output is drained.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// ExitErr is PID 1's exit error (nil for status 0); valid once Done is closed.
func (p *Proxy) ExitErr() error { return p.err }

// Stdout is everything nginx wrote to stdout so far: the access log.
func (p *Proxy) Stdout() string { return p.stdout.String() }

// Stderr is everything written to stderr so far: the entrypoint's messages and
// nginx's error log.
func (p *Proxy) Stderr() string { return p.stderr.String() }

// AccessLog returns the access log lines written so far.
func (p *Proxy) AccessLog() []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(p.Stdout()))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// Stop kills whatever is left of the proxy's processes, waits for them and
// removes its directory. It is safe to call more than once.
func (p *Proxy) Stop() {
	select {
	case <-p.done:
	default:
		// The negative pid addresses the whole process group.
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
	// Workers of a bare nginx master that died first may linger in the group.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	os.RemoveAll(p.Prefix)
}

// freePort returns a TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		return 0, fmt.Errorf("choosing a port for the proxy: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// nginxConf mirrors the official image's /etc/nginx/nginx.conf. Differences: no
// "user" directive (meaningful only for root), error log straight to stderr
// (the image links its file there), and the pid file, temporary files and
// includes under the prefix.
func nginxConf(workerProcesses string) string {
	return `worker_processes  ` + workerProcesses + `;

error_log  stderr notice;
pid        nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /dev/stdout  main;

    sendfile        on;
    keepalive_timeout  65;

    client_body_temp_path temp/client_body;
    proxy_temp_path       temp/proxy;
    fastcgi_temp_path     temp/fastcgi;
    uwsgi_temp_path       temp/uwsgi;
    scgi_temp_path        temp/scgi;

    include conf.d/*.conf;
}
`
}

// syncBuffer collects a process's output for concurrent readers.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	tee  io.Writer
	drop bool // keep nothing
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tee != nil {
		b.tee.Write(p)
	}
	if b.drop {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
