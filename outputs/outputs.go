// Package outputs is the contract between a dify-gcp stack and the teams that
// build on it: the name of every stack output, in one place. Consumers import it
// and read outputs by these names through pulumi.NewStackReference; the program
// exports by them; docs/outputs.md is checked against them by a test. The package
// imports nothing, so depending on it costs a consumer nothing.
package outputs

// Output names. Renaming one breaks consumers: add a new name instead, and keep
// the old one until they have moved.
const (
	// ServiceURL is the HTTPS address users and API clients reach Dify at:
	// https://DOMAIN with the edge (the run.app URL is then off), else the
	// Cloud Run service's run.app URL.
	ServiceURL = "serviceUrl"
	// EdgeAddress is the edge's global IPv4 address, which the domain's A
	// record points at; empty without an edge.
	EdgeAddress = "edgeAddress"
	// PublicURL is the address Dify believes it is served at: the custom domain
	// when one is configured, else the service's deterministic run.app URL.
	PublicURL = "publicUrl"
	// ServiceName is the Cloud Run service name (for IAM bindings, log queries).
	ServiceName = "serviceName"
	// Region is the region of the service, VM, registry and bucket.
	Region = "region"
	// Zone is the VM's zone.
	Zone = "zone"
	// VMName is the Compute Engine instance name (for gcloud compute ssh).
	VMName = "vmName"
	// InternalAddress is the VM's reserved internal IPv4 address.
	InternalAddress = "internalAddress"
	// ExternalAddress is the VM's reserved external IPv4 address, the source
	// address of its egress (for allowlists at model providers).
	ExternalAddress = "externalAddress"
	// BackupBucket is the name of the bucket holding complete backups.
	BackupBucket = "backupBucket"
	// ImageRef is the proxy image the service runs, by digest.
	ImageRef = "imageRef"
	// VMServiceAccount is the email of the VM's service account.
	VMServiceAccount = "vmServiceAccount"
	// ProxyServiceAccount is the email of the Cloud Run service's account.
	ProxyServiceAccount = "proxyServiceAccount"
	// AdminPasswordSecret is the Secret Manager secret id holding Dify's initial
	// admin password (INIT_PASSWORD); reading it needs secretAccessor on it.
	AdminPasswordSecret = "adminPasswordSecret"
	// DashboardURL opens the stack's Cloud Monitoring dashboard in the
	// console (docs/operations.md shows its layout).
	DashboardURL = "dashboardUrl"
	// DataTier is vm or managed: where Dify keeps its state. The program
	// also reads it back on the next update, to refuse moving a managed stack
	// back to vm.
	DataTier = "dataTier"
	// DatabaseInstance is the Cloud SQL instance's name on the managed tier
	// (gcloud sql ... --instance NAME); empty on the vm tier.
	DatabaseInstance = "databaseInstance"
	// FilesBucket is the bucket holding Dify's files on the managed tier;
	// empty on the vm tier, where they are on the data disk.
	FilesBucket = "filesBucket"
)

// Spec describes one output for documentation and checks.
type Spec struct {
	Name        string
	Description string
	Example     string
}

// All returns every output in the order docs/outputs.md lists them.
func All() []Spec {
	return []Spec{
		{ServiceURL, "HTTPS address of the front door: https://DOMAIN with the edge, else the Cloud Run service's run.app URL", "https://dify.example.com"},
		{EdgeAddress, "Global IPv4 address of the edge, where the domain's A record points (empty without an edge)", "34.120.7.9"},
		{PublicURL, "Address Dify is configured to be served at (custom domain or deterministic run.app URL)", "https://dify-prod-123456789012.asia-northeast1.run.app"},
		{ServiceName, "Cloud Run service name", "dify-prod"},
		{Region, "Region of the service, VM, registry and bucket", "asia-northeast1"},
		{Zone, "Zone of the VM", "asia-northeast1-c"},
		{VMName, "Compute Engine instance name", "dify-prod"},
		{InternalAddress, "Reserved internal IPv4 address of the VM (the proxy's backend)", "10.10.0.2"},
		{ExternalAddress, "Reserved external IPv4 address of the VM (its egress identity; no ingress)", "34.84.1.2"},
		{BackupBucket, "Bucket holding complete backups", "acme-dify-prod-dify-prod-backups"},
		{ImageRef, "Proxy image by digest", "asia-northeast1-docker.pkg.dev/acme/dify-prod/proxy@sha256:..."},
		{VMServiceAccount, "Email of the VM's service account", "dify-prod-vm@acme.iam.gserviceaccount.com"},
		{ProxyServiceAccount, "Email of the Cloud Run service's service account", "dify-prod-proxy@acme.iam.gserviceaccount.com"},
		{AdminPasswordSecret, "Secret Manager secret id of Dify's initial admin password", "dify-prod-admin-password"},
		{DashboardURL, "The stack's Cloud Monitoring dashboard in the console", "https://console.cloud.google.com/monitoring/dashboards/builder/0f1e2d3c-...?project=acme-dify-prod"},
		{DataTier, "Where Dify keeps its state: vm (the VM's data disk) or managed (Cloud SQL, Memorystore, a files bucket)", "managed"},
		{DatabaseInstance, "Cloud SQL instance name on the managed tier (empty on vm)", "dify-prod-db"},
		{FilesBucket, "Bucket holding Dify's files on the managed tier (empty on vm)", "acme-dify-prod-dify-prod-files"},
	}
}

// Table renders All as the Markdown table docs/outputs.md carries.
func Table() string {
	s := "| output | meaning | example |\n| --- | --- | --- |\n"
	for _, o := range All() {
		s += "| `" + o.Name + "` | " + o.Description + " | `" + o.Example + "` |\n"
	}
	return s
}
