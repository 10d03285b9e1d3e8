// Package hostscript renders the VM's startup script from embedded templates. The
// script converges the VM on every boot: data disk, Docker, Dify at a pinned
// version, secrets from Secret Manager, and the backup timer.
//
// Everything the VM runs is embedded in the one rendered script: the startup
// functions (startup/), and the backup tools it installs (files/). The scripts
// are plain files in this package so that tests can run them directly.
package hostscript

import (
	"embed"
	"errors"
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// Values are everything the startup script needs to know about its deployment.
// The host component fills them from validated config and resolved outputs; none of
// them is secret (secrets are read on the VM from Secret Manager).
type Values struct {
	Stack               string            // Pulumi stack name, e.g. "dev"
	Project             string            // Google Cloud project id
	DifyVersion         string            // e.g. "1.8.1": the git tag of the release's docker/ folder
	Images              map[string]string // every service's pinned image (config.Release.Images)
	DataDiskDevice      string            // device name; the disk is /dev/disk/by-id/google-<DataDiskDevice>
	PublicURL           string            // https://... where users reach Dify (no trailing slash)
	UploadLimitMiB      int               // Dify's UPLOAD_FILE_SIZE_LIMIT; every other upload limit is capped by it
	BodyLimitMiB        int               // Dify's nginx client_max_body_size, same value the proxy uses
	BackupBucket        string            // bucket name, without gs://
	BackupOnCalendar    string            // systemd OnCalendar expression for the backup timer
	AppSecretsSecret    string            // Secret Manager secret id holding generated app secrets
	AdminPasswordSecret string            // Secret Manager secret id holding INIT_PASSWORD

	// BrowserURL is the base of the URLs Dify's web app calls from the browser
	// (CONSOLE_API_URL, APP_API_URL, FILES_URL and the web URLs): PublicURL,
	// or "" for the origin that served the page, Dify's own rule for an empty
	// value ("If empty, it is the same domain", docker/.env.example). A
	// private stack needs "": through `gcloud run services proxy` the page
	// comes from http://localhost:8080, and calls to the run.app URL would go
	// out without an ID token. API callers are not affected: they hold a token
	// and call PublicURL directly.
	BrowserURL string

	// DataTier is "vm" (Dify's databases, Redis and vectors in containers on
	// the data disk) or "managed" (Cloud SQL, Memorystore and a files bucket,
	// described by Managed).
	DataTier string
	// Managed is the managed tier's endpoints; zero on the VM tier.
	Managed Managed
}

// Data tiers, the values of Values.DataTier.
const (
	TierVM      = "vm"
	TierManaged = "managed"
)

// Managed is where the managed data tier lives. None of it is secret: the VM
// sets the database user's password through the Cloud SQL Admin API and reads
// Redis's AUTH string through the Memorystore API, with its own identity, so
// no credential passes through Pulumi or the metadata.
type Managed struct {
	// DBHost is Cloud SQL's private IP address (PostgreSQL on 5432, SSL
	// required).
	DBHost string
	// DBInstance is Cloud SQL's instance name in the project: the VM calls
	// sqladmin users.update on projects/PROJECT/instances/DBInstance.
	DBInstance string
	// DBUser is the built-in user Dify, the plugin daemon and the backups
	// connect as (databases dify and dify_plugin).
	DBUser string
	// RedisHost and RedisPort are Memorystore's private endpoint (AUTH on,
	// in-transit encryption off: docs/managed.md).
	RedisHost string
	RedisPort int
	// RedisInstance is projects/P/locations/R/instances/N: the VM reads its
	// AUTH string with redis instances.getAuthString.
	RedisInstance string
	// FilesBucket holds Dify's uploaded files (STORAGE_TYPE=google-storage,
	// read and written with the VM's own identity, no key).
	FilesBucket string
}

// assets holds the template and every script it embeds. It is the package's
// only global: the files are part of the binary, read-only.
//
//go:embed templates/startup.sh.tmpl startup/*.sh startup/env.awk files/dify-backup files/dify-restore files/dify-backup-lib.sh files/dify-backup.service
var assets embed.FS

// What dify-backup writes, for the alerts and docs that depend on it. Each
// run writes one entry to the Cloud Logging log BackupLogName, whose
// jsonPayload has "event" (BackupSuccessEvent, or BackupFailureEvent with
// severity ERROR), "stack", "run" and "message". A run's objects live under
// gs://BUCKET/STACK/RUN/ (RUN a UTC timestamp like 20250904T061500Z), and the
// run is complete exactly when BackupManifest exists there.
const (
	BackupLogName      = "dify-backup"
	BackupSuccessEvent = "backup-complete"
	BackupFailureEvent = "backup-failed"
	BackupManifest     = "manifest.json"
	// RestoreMarker, in the volumes folder, exists while dify-restore changes
	// Dify's data: the startup script and dify-backup refuse to run over
	// half-restored data while it is there.
	RestoreMarker = ".restore-in-progress"
	// BackupLogResourceType is the monitored resource type the entries are
	// written with (gcloud logging write --monitored-resource-type), chosen
	// rather than left to gcloud's default: "global", the backups of the
	// stack rather than of one VM, so a replaced VM continues the same
	// series. An alert on a log-based metric must restrict resource.type to
	// it, or Cloud Monitoring refuses the policy (cloud rule
	// alert-log-metric-resource-type).
	BackupLogResourceType = "global"
	// BackupSuccessSeverity is the severity of a BackupSuccessEvent entry and
	// of no other entry of the log: the missed-backup alert counts the log's
	// entries of this severity.
	BackupSuccessSeverity = "NOTICE"
)

// Services are the compose services the deployment runs (Dify's default
// profile and its default vector store, weaviate); Values.Images pins each.
func Services() []string {
	return []string{"api", "db", "nginx", "plugin_daemon", "redis", "sandbox", "ssrf_proxy", "weaviate", "web", "worker", "worker_beat"}
}

// StatefulServices are the services whose image change needs a data
// migration: the VM refuses an upgrade that changes one, naming it, before
// anything moves. Dify 1.9.2 moves weaviate 1.19 -> 1.27 (v4 client); classes
// created before stop working until Dify's migration is run
// (langgenius/dify#27291). A PostgreSQL major version cannot read the data
// folder of another.
func StatefulServices() map[string]string {
	return map[string]string{
		"db":       "a PostgreSQL major-version upgrade of volumes/db/data (dump with the old image, restore with the new)",
		"weaviate": "the Weaviate v4 migration of Dify (docs.dify.ai, Weaviate Migration Guide; langgenius/dify#27291), or re-indexing every knowledge base",
	}
}

const (
	// heredocEnd closes the here-documents that carry embedded files; no file
	// may contain it as a line of its own.
	heredocEnd = "DIFY_GCP_EOF"
	// maxScriptBytes is Compute Engine's limit for a metadata value.
	maxScriptBytes = 256 * 1024
)

// Render returns the startup script for v. It refuses values that fail
// validation, listing every problem, so that nothing the script would choke on
// (or be subverted by) reaches the VM.
func Render(v Values) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	t, err := template.New("startup.sh.tmpl").
		Option("missingkey=error").
		Funcs(template.FuncMap{
			"shq": shellQuote, "inline": inlineFile, "file": embeddedFile, "sorted": sortedKeys,
			"stateful": StatefulServices,
			// The facts the firewall, the proxy and the alerts agree on.
			"difyPort": func() int { return topology.DifyPort }, "healthPath": func() string { return topology.DifyHealthPath },
			"restoreMarker": func() string { return RestoreMarker },
		}).
		ParseFS(assets, "templates/startup.sh.tmpl")
	if err != nil {
		return "", fmt.Errorf("hostscript: parse template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("hostscript: render: %w", err)
	}
	if b.Len() > maxScriptBytes {
		return "", fmt.Errorf("hostscript: the script is %d bytes, over the %d-byte metadata limit", b.Len(), maxScriptBytes)
	}
	return b.String(), nil
}

// shellQuote returns v's text as one single-quoted shell word. Validation
// already keeps quotes and newlines out; quoting anyway means no value is ever
// parsed as shell syntax.
func shellQuote(v any) string {
	return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) + "'"
}

// sortedKeys returns m's keys in order, so the script renders the same
// every time.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// inlineFile returns a function library for pasting into the script, without
// its shellcheck "shell=" directive (the rendered script has its own shebang).
func inlineFile(name string) (string, error) {
	s, err := embeddedFile(name)
	return strings.TrimPrefix(s, "# shellcheck shell=bash\n"), err
}

// embeddedFile returns an embedded file verbatim, for a here-document: the VM
// gets the very bytes the tests ran. It always ends with a newline, so that the
// here-document's end marker starts a line.
func embeddedFile(name string) (string, error) {
	b, err := assets.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("hostscript: %w", err)
	}
	s := string(b)
	for _, line := range strings.Split(s, "\n") {
		if line == heredocEnd {
			return "", fmt.Errorf("hostscript: %s contains the line %s, which would end its here-document", name, heredocEnd)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s, nil
}

var (
	stackRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	projectRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	versionRE  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z][0-9A-Za-z.]*)?$`)
	imageRE    = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
	deviceRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	hostRE     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$`)
	bucketRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)
	calendarRE = regexp.MustCompile(`^[A-Za-z0-9*:/,.~ -]{1,100}$`)
	secretRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	// Cloud SQL instance ids: lowercase letters, digits and hyphens, starting
	// with a letter, at most 98 characters with the project id.
	sqlInstanceRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dbUserRE        = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	redisInstanceRE = regexp.MustCompile(`^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z]+-[a-z]+[0-9]+/instances/[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
)

// Validate reports every problem with v at once. Beyond "set and well formed",
// it checks what the VM would otherwise discover late: unpinned images, a
// public URL the browser and nginx would disagree on, an upload limit nginx
// would reject.
func (v Values) Validate() error {
	var problems []string
	bad := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	match := func(field, value string, re *regexp.Regexp, want string) {
		switch {
		case value == "":
			bad(field, "must be set")
		case !re.MatchString(value):
			bad(field, "%q is not %s", value, want)
		}
	}
	match("Stack", v.Stack, stackRE, "a stack name (letters, digits, '_', '.', '-')")
	match("Project", v.Project, projectRE, "a Google Cloud project id (6-30 lowercase letters, digits, hyphens)")
	match("DifyVersion", v.DifyVersion, versionRE, "a Dify release tag like 1.8.1")
	for _, s := range Services() {
		field, img := "Images["+s+"]", v.Images[s]
		match(field, img, imageRE, "an image reference like langgenius/dify-sandbox:0.2.12")
		if imageRE.MatchString(img) && !strings.Contains(img, "@") {
			switch tag := imageTag(img); tag {
			case "", "latest":
				bad(field, "%q is not pinned: give a version tag or a digest", img)
			}
		}
	}
	for s := range v.Images {
		if !slices.Contains(Services(), s) {
			bad("Images", "%q is not a service this deployment runs (%s)", s, strings.Join(Services(), ", "))
		}
	}
	match("DataDiskDevice", v.DataDiskDevice, deviceRE, "a Compute Engine device name (lowercase letters, digits, hyphens)")
	if err := checkPublicURL(v.PublicURL); err != nil {
		bad("PublicURL", "%v", err)
	}
	if v.BrowserURL != "" && v.BrowserURL != v.PublicURL {
		bad("BrowserURL", "%q must be PublicURL or empty (same origin)", v.BrowserURL)
	}
	switch {
	case v.UploadLimitMiB < 1 || v.UploadLimitMiB > 1024:
		bad("UploadLimitMiB", "%d is outside 1..1024", v.UploadLimitMiB)
	case v.BodyLimitMiB < v.UploadLimitMiB:
		bad("BodyLimitMiB", "%d is below UploadLimitMiB %d: nginx would reject uploads Dify accepts", v.BodyLimitMiB, v.UploadLimitMiB)
	}
	if v.BodyLimitMiB < 1 || v.BodyLimitMiB > 4096 {
		bad("BodyLimitMiB", "%d is outside 1..4096", v.BodyLimitMiB)
	}
	if strings.HasPrefix(v.BackupBucket, "gs://") {
		bad("BackupBucket", "%q: give the bucket name without gs://", v.BackupBucket)
	} else {
		match("BackupBucket", v.BackupBucket, bucketRE, "a Cloud Storage bucket name (3-63 lowercase letters, digits, '.', '_', '-')")
	}
	match("BackupOnCalendar", v.BackupOnCalendar, calendarRE, `a systemd OnCalendar expression like "*-*-* 00/6:15:00"`)
	match("AppSecretsSecret", v.AppSecretsSecret, secretRE, "a Secret Manager secret id")
	match("AdminPasswordSecret", v.AdminPasswordSecret, secretRE, "a Secret Manager secret id")
	if v.AppSecretsSecret != "" && v.AppSecretsSecret == v.AdminPasswordSecret {
		bad("AdminPasswordSecret", "must differ from AppSecretsSecret (%q)", v.AppSecretsSecret)
	}
	switch v.DataTier {
	case TierVM:
		if v.Managed != (Managed{}) {
			bad("Managed", "must be empty with DataTier %q", TierVM)
		}
	case TierManaged:
		m := v.Managed
		for _, a := range []struct{ field, value string }{{"Managed.DBHost", m.DBHost}, {"Managed.RedisHost", m.RedisHost}} {
			if ip, err := netip.ParseAddr(a.value); err != nil || !ip.Is4() || !ip.IsPrivate() {
				bad(a.field, "%q is not a private IPv4 address", a.value)
			}
		}
		match("Managed.DBInstance", m.DBInstance, sqlInstanceRE, "a Cloud SQL instance name")
		match("Managed.DBUser", m.DBUser, dbUserRE, "a PostgreSQL user name (lowercase letters, digits, '_')")
		if m.RedisPort < 1 || m.RedisPort > 65535 {
			bad("Managed.RedisPort", "%d is not a port", m.RedisPort)
		}
		match("Managed.RedisInstance", m.RedisInstance, redisInstanceRE, "projects/P/locations/R/instances/N")
		match("Managed.FilesBucket", m.FilesBucket, bucketRE, "a Cloud Storage bucket name")
		if m.FilesBucket != "" && m.FilesBucket == v.BackupBucket {
			bad("Managed.FilesBucket", "must differ from BackupBucket (%q): the backup bucket's lifecycle rule deletes what it holds", v.BackupBucket)
		}
	default:
		bad("DataTier", "%q is not %q or %q", v.DataTier, TierVM, TierManaged)
	}
	if len(problems) > 0 {
		return fmt.Errorf("hostscript: invalid values: %w", errors.New(strings.Join(problems, "; ")))
	}
	return nil
}

// imageTag returns the tag of an image reference without a digest, "" if none.
// A colon before the last slash belongs to a registry port, not a tag.
func imageTag(ref string) string {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return ""
}

// checkPublicURL accepts exactly https://host[:port]: Dify builds its links by
// appending paths, and nginx serves it at the root.
func checkPublicURL(s string) error {
	if s == "" {
		return errors.New("must be set")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "https":
		return fmt.Errorf("%q must start with https://", s)
	case strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q must not end with a slash", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "" || u.Opaque != "":
		return fmt.Errorf("%q must be https://host with no path, query, fragment or user", s)
	case !hostRE.MatchString(u.Host):
		return fmt.Errorf("%q has an invalid host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has an invalid port", s)
		}
	}
	return nil
}
