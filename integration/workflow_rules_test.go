package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/outputs"
	"gopkg.in/yaml.v3"
)

// The repository's own rules for its workflows, beyond what actionlint knows:
// least privilege, pinned actions, no key files, previews that fork code
// cannot reach credentials from, deploys that never overlap, production behind
// an approval, and the names the workflows share with the code (stacks, policy
// pack, CLI version, output names) kept equal to it.

const (
	// policyPackDir is where the policy pack lives, relative to the root.
	policyPackDir = "policy/pack"
	// forkGuard is the condition that keeps a job away from fork pull requests.
	forkGuard = "github.event.pull_request.head.repo.full_name == github.repository"
	// forkSkip is its complement, on the job that explains the skip.
	forkSkip = "github.event.pull_request.head.repo.full_name != github.repository"
)

// pinned matches an action reference pinned to an exact release or commit.
// actionlint checks the inputs of major-version references only, so
// knownInputs below does that for the pinned ones.
var pinned = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$`)

// knownInputs lists, per action, the inputs its action.yml declares (read from
// the actions' repositories for the pinned versions). A typo in a with: key
// would otherwise be ignored by the runner with a mere warning.
// google-github-actions/auth's credentials_json is left out on purpose: this
// project never uses a service account key.
var knownInputs = map[string][]string{
	"actions/checkout": {"repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user",
		"persist-credentials", "path", "clean", "filter", "sparse-checkout", "sparse-checkout-cone-mode",
		"fetch-depth", "fetch-tags", "show-progress", "lfs", "submodules", "set-safe-directory", "github-server-url"},
	"actions/setup-go": {"go-version", "go-version-file", "check-latest", "token", "cache",
		"cache-dependency-path", "architecture"},
	"google-github-actions/auth": {"project_id", "workload_identity_provider", "service_account", "audience",
		"create_credentials_file", "export_environment_variables", "token_format", "delegates", "universe",
		"request_reason", "cleanup_credentials", "access_token_lifetime", "access_token_scopes",
		"access_token_subject", "retries", "backoff", "backoff_limit", "id_token_audience", "id_token_include_email"},
	"pulumi/actions": {"command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir",
		"comment-on-pr", "comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url",
		"secrets-provider", "parallel", "message", "config-map", "expect-no-changes", "diff", "replace", "target",
		"target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove", "edit-pr-comment",
		"color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress", "always-include-summary",
		"log-verbosity", "log-flow", "debug", "omit-stdout", "continue-on-error"},
}

type workflow struct {
	file string
	On   yaml.Node         `yaml:"on"`
	Perm yaml.Node         `yaml:"permissions"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]*job   `yaml:"jobs"`
}

type job struct {
	id          string
	Uses        string            `yaml:"uses"`
	Needs       yaml.Node         `yaml:"needs"`
	If          string            `yaml:"if"`
	RunsOn      string            `yaml:"runs-on"`
	Timeout     int               `yaml:"timeout-minutes"`
	Permissions map[string]string `yaml:"permissions"`
	Environment yaml.Node         `yaml:"environment"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress *bool  `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Strategy struct {
		Matrix map[string]yaml.Node `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []step `yaml:"steps"`
}

type step struct {
	ID   string            `yaml:"id"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// action returns the step's action without its version.
func (s step) action() string {
	name, _, _ := strings.Cut(s.Uses, "@")
	return name
}

// stepUsing returns the job's first step that uses action, and its index.
func (j *job) stepUsing(action string) (step, int) {
	for i, s := range j.Steps {
		if s.action() == action {
			return s, i
		}
	}
	return step{}, -1
}

// needs returns the jobs this one waits for.
func (j *job) needs() []string {
	switch j.Needs.Kind {
	case yaml.ScalarNode:
		return []string{j.Needs.Value}
	case yaml.SequenceNode:
		var out []string
		for _, n := range j.Needs.Content {
			out = append(out, n.Value)
		}
		return out
	}
	return nil
}

// environment returns the job's environment name and URL.
func (j *job) environment() (name, url string) {
	switch j.Environment.Kind {
	case yaml.ScalarNode:
		return j.Environment.Value, ""
	case yaml.MappingNode:
		var e struct{ Name, URL string }
		if err := j.Environment.Decode(&e); err == nil {
			return e.Name, e.URL
		}
	}
	return "", ""
}

func loadWorkflows(t *testing.T) map[string]*workflow {
	t.Helper()
	all := map[string]*workflow{}
	for _, f := range workflowFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w := &workflow{file: filepath.Base(f)}
		if err := yaml.Unmarshal(data, w); err != nil {
			t.Fatalf("%s: %v", w.file, err)
		}
		for id, j := range w.Jobs {
			j.id = id
		}
		all[w.file] = w
	}
	for _, name := range []string{"checks.yml", "pull-request.yml", "deploy.yml"} {
		if all[name] == nil {
			t.Fatalf(".github/workflows/%s is missing", name)
		}
	}
	return all
}

// stackFiles returns the stacks that have a Pulumi.<stack>.yaml in the
// repository root, leaving out the integration test's throwaway it-* stacks.
func stackFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repoRoot(t), "Pulumi.*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var stacks []string
	for _, f := range m {
		s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		if !strings.HasPrefix(s, itStackPrefix) {
			stacks = append(stacks, s)
		}
	}
	sort.Strings(stacks)
	return stacks
}

// sdkVersion returns the version of the Pulumi Go SDK that go.mod requires.
func sdkVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "github.com/pulumi/pulumi/sdk/v3" {
			return strings.TrimPrefix(fields[1], "v")
		}
	}
	t.Fatal("go.mod does not require github.com/pulumi/pulumi/sdk/v3")
	return ""
}

// TestWorkflowRules checks what every workflow and job must hold.
func TestWorkflowRules(t *testing.T) {
	for _, w := range loadWorkflows(t) {
		t.Run(w.file, func(t *testing.T) {
			// Least privilege: the workflow grants read access to the code
			// only; jobs widen it for themselves.
			var perm map[string]string
			if err := w.Perm.Decode(&perm); err != nil || len(perm) != 1 || perm["contents"] != "read" {
				t.Errorf("top-level permissions must be exactly {contents: read}")
			}
			if strings.Contains(nodeText(&w.On), "pull_request_target") {
				t.Errorf("pull_request_target runs fork code with the repository's secrets: use pull_request")
			}
			runsPulumi := false
			for _, j := range w.Jobs {
				checkJob(t, j)
				if _, at := j.stepUsing("pulumi/actions"); at >= 0 {
					runsPulumi = true
				}
			}
			if got, want := w.Env["PULUMI_VERSION"], sdkVersion(t); runsPulumi && got != want {
				t.Errorf("PULUMI_VERSION is %q; go.mod requires sdk v%s: keep the CLI and the SDK on one version", got, want)
			}
		})
	}
}

func checkJob(t *testing.T, j *job) {
	t.Helper()
	if j.Uses != "" {
		if !strings.HasPrefix(j.Uses, "./.github/workflows/") {
			t.Errorf("job %s calls %s: only this repository's reusable workflows are allowed", j.id, j.Uses)
		}
		return
	}
	if j.Timeout <= 0 {
		t.Errorf("job %s has no timeout-minutes", j.id)
	}
	_, auth := j.stepUsing("google-github-actions/auth")
	pulumiStep, pulumi := j.stepUsing("pulumi/actions")
	for scope, level := range j.Permissions {
		if level != "write" {
			continue
		}
		switch {
		case scope == "id-token" && auth >= 0:
		case scope == "pull-requests" && pulumi >= 0 && pulumiStep.With["comment-on-pr"] == "true":
		default:
			t.Errorf("job %s has %s: write, which it does not need", j.id, scope)
		}
	}
	if auth >= 0 && j.Permissions["id-token"] != "write" {
		t.Errorf("job %s authenticates to Google Cloud but lacks id-token: write", j.id)
	}
	for i, s := range j.Steps {
		if s.Uses == "" || strings.HasPrefix(s.Uses, "./") {
			continue
		}
		if !pinned.MatchString(s.Uses) {
			t.Errorf("job %s step %d uses %s: pin an exact release (vX.Y.Z) or commit", j.id, i+1, s.Uses)
		}
		inputs, ok := knownInputs[s.action()]
		if !ok {
			t.Errorf("job %s step %d uses %s, whose inputs this test does not know: add them to knownInputs from its action.yml", j.id, i+1, s.action())
			continue
		}
		for k := range s.With {
			if !slices.Contains(inputs, k) {
				t.Errorf("job %s step %d: %s has no input %q", j.id, i+1, s.action(), k)
			}
		}
		if _, ok := s.With["credentials_json"]; ok {
			t.Errorf("job %s step %d authenticates with a key file: use workload identity federation", j.id, i+1)
		}
	}
	if pulumi >= 0 {
		checkPulumiJob(t, j, pulumiStep, pulumi, auth)
	}
}

// checkPulumiJob checks a job that runs the Pulumi CLI against a stack.
func checkPulumiJob(t *testing.T, j *job, s step, at, auth int) {
	t.Helper()
	if auth < 0 || auth > at {
		t.Errorf("job %s runs pulumi without authenticating to Google Cloud first", j.id)
	}
	if _, goAt := j.stepUsing("actions/setup-go"); goAt < 0 || goAt > at {
		t.Errorf("job %s runs pulumi before actions/setup-go: the Go program would build without the cache", j.id)
	}
	if got := s.With["policyPacks"]; got != policyPackDir {
		t.Errorf("job %s: policyPacks is %q, want %q", j.id, got, policyPackDir)
	}
	if got := s.With["pulumi-version"]; got != "${{ env.PULUMI_VERSION }}" {
		t.Errorf("job %s: pulumi-version is %q, want ${{ env.PULUMI_VERSION }}", j.id, got)
	}
	if got := s.Env["PULUMI_ACCESS_TOKEN"]; got != "${{ secrets.PULUMI_ACCESS_TOKEN }}" {
		t.Errorf("job %s: PULUMI_ACCESS_TOKEN must come from the secret, got %q", j.id, got)
	}
}

// TestPullRequestPreviewsEveryStack checks the preview: every stack, the
// result on the pull request, never for code from forks, and a job that says
// why when it is skipped.
func TestPullRequestPreviewsEveryStack(t *testing.T) {
	w := loadWorkflows(t)["pull-request.yml"]
	if !strings.Contains(nodeText(&w.On), "pull_request") {
		t.Errorf("pull-request.yml does not run on pull_request")
	}
	var preview *job
	skipped := false
	for _, j := range w.Jobs {
		if s, at := j.stepUsing("pulumi/actions"); at >= 0 && s.With["command"] == "preview" {
			preview = j
		}
		if strings.Contains(j.If, forkSkip) {
			skipped = true
		}
	}
	if preview == nil {
		t.Fatal("no job runs pulumi preview")
	}
	s, _ := preview.stepUsing("pulumi/actions")
	if s.With["comment-on-pr"] != "true" {
		t.Errorf("the preview is not commented on the pull request (comment-on-pr: true)")
	}
	if s.With["stack-name"] != "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}" {
		t.Errorf("stack-name is %q, want ${{ vars.PULUMI_ORG }}/${{ matrix.stack }}", s.With["stack-name"])
	}
	var matrix []string
	if n, ok := preview.Strategy.Matrix["stack"]; !ok || n.Decode(&matrix) != nil {
		t.Fatalf("job %s has no strategy.matrix.stack list", preview.id)
	}
	sort.Strings(matrix)
	if want := stackFiles(t); !slices.Equal(matrix, want) {
		t.Errorf("preview matrix is %v, the stack files are %v", matrix, want)
	}
	if !strings.Contains(preview.If, forkGuard) {
		t.Errorf("job %s runs for fork pull requests, which get no secrets: guard it with %q", preview.id, forkGuard)
	}
	if !skipped {
		t.Errorf("no job tells fork pull requests why there is no preview (if: %s)", forkSkip)
	}
	if !slices.Contains(preview.needs(), "checks") {
		t.Errorf("job %s does not wait for the offline checks", preview.id)
	}
}

// TestDeployRollsOutInOrder checks the deploy: on pushes to main only, every
// stack, dev before prod, prod behind the production environment, and no two
// updates of one stack at once.
func TestDeployRollsOutInOrder(t *testing.T) {
	w := loadWorkflows(t)["deploy.yml"]
	var on struct {
		Push struct {
			Branches []string `yaml:"branches"`
		} `yaml:"push"`
	}
	if err := w.On.Decode(&on); err != nil || len(w.On.Content) != 2 || !slices.Equal(on.Push.Branches, []string{"main"}) {
		t.Errorf("deploy.yml must run on pushes to main and nothing else")
	}
	byStack := map[string]*job{}
	groups := map[string]string{}
	for _, j := range w.Jobs {
		s, at := j.stepUsing("pulumi/actions")
		if at < 0 {
			continue
		}
		if s.With["command"] != "up" {
			t.Errorf("job %s runs pulumi %s; deploy.yml only runs up", j.id, s.With["command"])
			continue
		}
		stack := s.With["stack-name"][strings.LastIndex(s.With["stack-name"], "/")+1:]
		byStack[stack] = j
		if j.Concurrency.Group == "" || j.Concurrency.CancelInProgress == nil || *j.Concurrency.CancelInProgress {
			t.Errorf("job %s: needs a concurrency group with cancel-in-progress: false (a cancelled pulumi up leaves pending operations)", j.id)
		}
		if other, dup := groups[j.Concurrency.Group]; dup {
			t.Errorf("jobs %s and %s share the concurrency group %q", j.id, other, j.Concurrency.Group)
		}
		groups[j.Concurrency.Group] = j.id
		name, url := j.environment()
		if name == "" {
			t.Errorf("job %s deploys without a GitHub environment", j.id)
		}
		if want := fmt.Sprintf("${{ steps.%s.outputs.%s }}", s.ID, outputs.ServiceURL); url != want {
			t.Errorf("job %s: environment url is %q, want %q (the stack output outputs.ServiceURL)", j.id, url, want)
		}
	}
	var deployed []string
	for s := range byStack {
		deployed = append(deployed, s)
	}
	sort.Strings(deployed)
	if want := stackFiles(t); !slices.Equal(deployed, want) {
		t.Errorf("deploy.yml deploys %v, the stack files are %v", deployed, want)
	}
	dev, prod := byStack["dev"], byStack["prod"]
	if dev == nil || prod == nil {
		t.Fatal("deploy.yml must deploy dev and prod")
	}
	if name, _ := prod.environment(); name != "production" {
		t.Errorf("prod deploys in environment %q, want production (required reviewers)", name)
	}
	if !slices.Contains(prod.needs(), dev.id) {
		t.Errorf("prod does not wait for dev")
	}
	if !slices.Contains(dev.needs(), "checks") {
		t.Errorf("dev does not wait for the offline checks")
	}
}

// TestChecksInstallTheTestedActionlint keeps CI on the actionlint version
// these tests were written against.
func TestChecksInstallTheTestedActionlint(t *testing.T) {
	w := loadWorkflows(t)["checks.yml"]
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, actionlintInstall) {
				return
			}
		}
	}
	t.Errorf("checks.yml does not run %q", actionlintInstall)
}

// nodeText renders a YAML node back to text, for substring checks.
func nodeText(n *yaml.Node) string {
	out, err := yaml.Marshal(n)
	if err != nil {
		return ""
	}
	return string(out)
}
