// Package hostscript renders the VM's startup script from embedded templates. The
// script converges the VM on every boot: data disk, Docker, Dify at a pinned
// version, secrets from Secret Manager, and the backup timer.
package hostscript

import "fmt"

// Values are everything the startup script needs to know about its deployment.
// The host component fills them from validated config and resolved outputs; none of
// them is secret (secrets are read on the VM from Secret Manager).
type Values struct {
	Stack               string // Pulumi stack name, e.g. "dev"
	Project             string // Google Cloud project id
	DifyVersion         string // e.g. "1.8.1": the git tag and the api/worker/web image tag
	PluginDaemonImage   string // full image reference pinned for this Dify version
	SandboxImage        string // full image reference pinned for this Dify version
	DataDiskDevice      string // device name; the disk is /dev/disk/by-id/google-<DataDiskDevice>
	PublicURL           string // https://... where users reach Dify (no trailing slash)
	UploadLimitMiB      int    // Dify's UPLOAD_FILE_SIZE_LIMIT
	BodyLimitMiB        int    // Dify's nginx client_max_body_size, same value the proxy uses
	BackupBucket        string // bucket name, without gs://
	BackupOnCalendar    string // systemd OnCalendar expression for the backup timer
	AppSecretsSecret    string // Secret Manager secret id holding generated app secrets
	AdminPasswordSecret string // Secret Manager secret id holding INIT_PASSWORD
}

// Render returns the startup script for v.
func Render(v Values) (string, error) {
	// Placeholder until the host issue lands the real template.
	return fmt.Sprintf("#!/bin/bash\nset -euo pipefail\necho 'dify-gcp %s: dify %s'\n", v.Stack, v.DifyVersion), nil
}
