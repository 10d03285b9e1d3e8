package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// The end-to-end test: a real `pulumi up` of a throwaway stack, a request
// through Cloud Run to Dify, then `pulumi destroy`. It costs money and takes
// half an hour, so it runs only when asked to (docs/ci.md says how).

// Environment variables that configure the end-to-end test.
const (
	envProject    = "DIFY_GCP_IT_PROJECT"      // Google Cloud project; setting it opts in
	envStack      = "DIFY_GCP_IT_STACK"        // stack name, it-<something>
	envInvoker    = "DIFY_GCP_IT_INVOKER"      // IAM member allowed to call the service: user:ana@example.com
	envIDToken    = "DIFY_GCP_IT_ID_TOKEN"     // ID token of the invoker; else gcloud makes one
	envRegion     = "DIFY_GCP_IT_REGION"       // default asia-northeast1
	envZone       = "DIFY_GCP_IT_ZONE"         // default asia-northeast1-c (required with a region)
	envProxyImage = "DIFY_GCP_IT_PROXY_IMAGE"  // prebuilt proxy image by digest: no Docker daemon needed
	envPingWait   = "DIFY_GCP_IT_PING_TIMEOUT" // how long Dify may take to answer, default 25m
	envKeep       = "DIFY_GCP_IT_KEEP"         // "1" keeps the stack for debugging (destroy it yourself)
)

const (
	// itStackPrefix marks the test's stacks, so it can never select, reconfigure
	// and destroy dev or prod.
	itStackPrefix = "it-"
	// minTestTime is what a run needs before cleanup can be trusted: up, the
	// wait for Dify, and destroy. `go test` kills a test at its -timeout
	// without running cleanups, which would leave the stack's resources behind.
	minTestTime = 100 * time.Minute
)

// itSettings is the end-to-end test's configuration, read from the
// environment.
type itSettings struct {
	Project, Stack, Region, Zone string
	Invoker, ProxyImage          string
	PingWait                     time.Duration
	Keep                         bool
}

// itSettingsFromEnv reads the settings. It reports every missing or invalid
// variable at once.
func itSettingsFromEnv(getenv func(string) string) (itSettings, error) {
	s := itSettings{
		Project:    getenv(envProject),
		Stack:      getenv(envStack),
		Region:     getenv(envRegion),
		Zone:       getenv(envZone),
		Invoker:    getenv(envInvoker),
		ProxyImage: getenv(envProxyImage),
		PingWait:   25 * time.Minute,
		Keep:       getenv(envKeep) == "1",
	}
	var problems []string
	if s.Project == "" {
		problems = append(problems, envProject+" is not set")
	}
	if !strings.HasPrefix(s.Stack, itStackPrefix) {
		problems = append(problems, fmt.Sprintf("%s=%q must start with %q (such as it-ana): the test destroys its stack, so it never touches dev or prod", envStack, s.Stack, itStackPrefix))
	}
	if s.Invoker == "" {
		problems = append(problems, envInvoker+" is not set (the IAM member whose ID token calls the service, such as user:ana@example.com)")
	}
	switch {
	case s.Region == "" && s.Zone == "":
		s.Region, s.Zone = "asia-northeast1", "asia-northeast1-c"
	case s.Region == "" || s.Zone == "":
		problems = append(problems, fmt.Sprintf("set both %s and %s, or neither", envRegion, envZone))
	}
	if v := getenv(envPingWait); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("%s=%q is not a positive duration such as 25m", envPingWait, v))
		}
		s.PingWait = d
	}
	if len(problems) > 0 {
		return s, errors.New(strings.Join(problems, "; "))
	}
	return s, nil
}

// scalarConfig is the stack configuration the test sets, but for the list of
// invokers, which is set by path (see invokersKey).
func (s itSettings) scalarConfig() auto.ConfigMap {
	ns := func(k string) string { return config.Namespace + ":" + k }
	c := auto.ConfigMap{
		"gcp:project":            {Value: s.Project},
		"gcp:region":             {Value: s.Region},
		ns("zone"):               {Value: s.Zone},
		ns("production"):         {Value: "false"},
		ns("access"):             {Value: "private"},
		ns("deletionProtection"): {Value: "false"},
	}
	if s.ProxyImage != "" {
		c[ns("proxyImage")] = auto.ConfigValue{Value: s.ProxyImage}
	}
	return c
}

// invokersKey is the path of the first invoker in the array-typed key.
const invokersKey = config.Namespace + ":invokers[0]"

// validate runs the program's own configuration rules over what the test will
// set, so a mistake shows here rather than after a cloud round trip.
func (s itSettings) validate() (*config.Config, error) {
	values := map[string]string{}
	for k, v := range s.scalarConfig() {
		values[k] = v.Value
	}
	invokers, err := json.Marshal([]string{s.Invoker})
	if err != nil {
		return nil, err
	}
	values[strings.TrimSuffix(invokersKey, "[0]")] = string(invokers)
	return config.Load(s.Stack, func(k string) (string, bool) {
		v, ok := values[k]
		return v, ok
	})
}

// googleCredentials reports whether Google credentials are visible the ways
// the gcp provider and gcloud find them.
func googleCredentials() bool {
	for _, v := range []string{"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	dir := os.Getenv("CLOUDSDK_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return false
		}
		dir = filepath.Join(home, ".config", "gcloud")
	}
	_, err := os.Stat(filepath.Join(dir, "application_default_credentials.json"))
	return err == nil
}

// TestDeployDifyEndToEnd deploys a private throwaway stack, calls Dify through
// the Cloud Run proxy with an ID token, checks the outputs contract against a
// real stack, and destroys everything.
func TestDeployDifyEndToEnd(t *testing.T) {
	if os.Getenv(envProject) == "" || !googleCredentials() {
		t.Skipf("SKIPPED, opt-in end-to-end test: set %s and Google credentials "+
			"(gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS), plus %s=it-<name>, %s, "+
			"and optionally %s, %s/%s, %s, %s, %s; log in to a Pulumi backend; run with -timeout 2h (docs/ci.md)",
			envProject, envStack, envInvoker, envIDToken, envRegion, envZone, envProxyImage, envPingWait, envKeep)
	}
	s, err := itSettingsFromEnv(os.Getenv)
	if err != nil {
		t.Fatalf("the end-to-end test is switched on (%s is set) but: %v", envProject, err)
	}
	if _, err := s.validate(); err != nil {
		t.Fatalf("the program refuses the test stack's configuration: %v", err)
	}
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < minTestTime {
		t.Fatalf("only %s left before go test's -timeout: a timeout mid-deploy skips cleanup and leaves resources behind; run with -timeout 2h",
			time.Until(deadline).Round(time.Minute))
	}

	ctx := context.Background()
	root := repoRoot(t)
	log := &testWriter{t: t}
	stack, err := auto.UpsertStackLocalSource(ctx, s.Stack, root)
	if err != nil {
		t.Fatalf("select or create stack %s in %s (is the pulumi CLI installed and logged in?): %v", s.Stack, root, err)
	}
	// Registered before anything is created, so a failed up is cleaned too.
	t.Cleanup(func() { destroyStack(t, stack, s, log) })

	if err := stack.SetAllConfig(ctx, s.scalarConfig()); err != nil {
		t.Fatalf("set config: %v", err)
	}
	if err := stack.SetConfigWithOptions(ctx, invokersKey, auto.ConfigValue{Value: s.Invoker}, &auto.ConfigOptions{Path: true}); err != nil {
		t.Fatalf("set %s: %v", invokersKey, err)
	}

	if _, err := stack.Preview(ctx, optpreview.ProgressStreams(log), optpreview.Message("dify-gcp integration test preview")); err != nil {
		t.Fatalf("preview: %v", err)
	}
	up, err := stack.Up(ctx, optup.ProgressStreams(log), optup.Message("dify-gcp integration test"))
	if err != nil {
		t.Fatalf("up: %v", err)
	}

	// The outputs contract, against a real stack: every name exported.
	for _, o := range outputs.All() {
		if v, ok := up.Outputs[o.Name]; !ok || v.Value == nil || v.Value == "" {
			t.Errorf("stack output %q (%s) is missing or empty", o.Name, o.Description)
		}
	}
	serviceURL, ok := up.Outputs[outputs.ServiceURL].Value.(string)
	if !ok || !strings.HasPrefix(serviceURL, "https://") {
		t.Fatalf("stack output %s = %v, want an https URL", outputs.ServiceURL, up.Outputs[outputs.ServiceURL].Value)
	}

	pingCtx, cancel := context.WithTimeout(ctx, s.PingWait)
	defer cancel()
	if err := waitForPong(pingCtx, t.Logf, strings.TrimRight(serviceURL, "/")+topology.DifyHealthPath, idTokenSource(serviceURL), 15*time.Second); err != nil {
		t.Fatalf("Dify did not answer through the proxy within %s: %v", s.PingWait, err)
	}
}

// destroyStack removes everything the test created: it lifts the protection
// of the data disk (the program protects it so that no update can lose Dify's
// data; a throwaway stack has none to lose), destroys the resources and
// removes the stack and its Pulumi.<stack>.yaml.
func destroyStack(t *testing.T, stack auto.Stack, s itSettings, log io.Writer) {
	if s.Keep {
		t.Logf("%s=1: keeping stack %s; remove it with: pulumi state unprotect --all --yes -s %s && pulumi destroy --yes -s %s && pulumi stack rm --yes %s",
			envKeep, s.Stack, s.Stack, s.Stack, s.Stack)
		return
	}
	// t.Context is cancelled before cleanups run: cleanup gets its own.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	ws := stack.Workspace()
	if err := unprotectAll(ctx, ws, s.Stack, log); err != nil {
		t.Errorf("unprotect %s (destroy will refuse the data disk): %v", s.Stack, err)
	}
	if _, err := stack.Destroy(ctx, optdestroy.ProgressStreams(log), optdestroy.Message("dify-gcp integration test cleanup")); err != nil {
		t.Errorf("DESTROY FAILED, resources of stack %s may remain in project %s; finish with: pulumi destroy -s %s: %v",
			s.Stack, s.Project, s.Stack, err)
		return
	}
	if err := ws.RemoveStack(ctx, s.Stack); err != nil {
		t.Errorf("remove stack %s: %v", s.Stack, err)
	}
}

// unprotectAll runs `pulumi state unprotect --all`, which the Automation API
// has no method for, through the workspace's own CLI and environment.
func unprotectAll(ctx context.Context, ws auto.Workspace, stackName string, log io.Writer) error {
	var env []string
	if home := ws.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	_, stderr, code, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, []io.Writer{log}, []io.Writer{log}, env,
		"state", "unprotect", "--all", "--yes", "--stack", stackName, "--non-interactive")
	if err != nil {
		return fmt.Errorf("pulumi state unprotect exited %d: %w: %s", code, err, stderr)
	}
	return nil
}

// idTokenSource returns where the ID token for the service comes from:
// DIFY_GCP_IT_ID_TOKEN if set, else gcloud, asked afresh on every call
// because ID tokens live an hour. A service account's token carries the
// service URL as audience; a user account cannot choose one, and Cloud Run
// accepts gcloud's own for users.
func idTokenSource(audience string) func(context.Context) (string, error) {
	if tok := os.Getenv(envIDToken); tok != "" {
		return func(context.Context) (string, error) { return tok, nil }
	}
	return func(ctx context.Context) (string, error) {
		gcloud, err := exec.LookPath("gcloud")
		if err != nil {
			return "", fmt.Errorf("no %s and no gcloud to make an ID token: %w", envIDToken, err)
		}
		var lastErr error
		for _, args := range [][]string{
			{"auth", "print-identity-token", "--audiences=" + audience},
			{"auth", "print-identity-token"},
		} {
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, gcloud, args...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err == nil {
				return strings.TrimSpace(string(out)), nil
			}
			lastErr = fmt.Errorf("gcloud %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return "", lastErr
	}
}

// waitForPong asks url every interval until Dify answers {"result":"pong"}
// or ctx ends. A fresh VM installs Docker and pulls Dify's images first, and
// until then the proxy answers 502 or 504. Each new kind of answer is logged.
func waitForPong(ctx context.Context, logf func(string, ...any), url string, token func(context.Context) (string, error), interval time.Duration) error {
	client := &http.Client{Timeout: 30 * time.Second}
	var last string
	var lastErr error
	for {
		status, err := ping(ctx, client, url, token)
		if err == nil {
			logf("%s answered pong", url)
			return nil
		}
		// An attempt cut short by the deadline says nothing about the service:
		// report the last real answer, as that is what the operator must fix.
		if ctx.Err() == nil || lastErr == nil {
			lastErr = err
		}
		if status != last {
			logf("%s: %v (retrying)", url, err)
			last = status
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("last answer: %w", lastErr)
		case <-time.After(interval):
		}
	}
}

// ping makes one request; status summarises the answer for logging.
func ping(ctx context.Context, client *http.Client, url string, token func(context.Context) (string, error)) (status string, err error) {
	tok, err := token(ctx)
	if err != nil {
		return "no token", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "bad request", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return "no answer", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "unreadable", err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Status, fmt.Errorf("%s: %.200s", resp.Status, body)
	}
	var answer struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Result != "pong" {
		return "not pong", fmt.Errorf("200 OK but not {\"result\":\"pong\"}: %.200s", body)
	}
	return "pong", nil
}

// testWriter sends Pulumi's progress to the test log, line by line.
type testWriter struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Log(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}
