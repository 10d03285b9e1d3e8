// Package topology names the fixed facts of a deployment's shape that several
// parts must agree on: ports, address ranges, device names, labels and paths.
// The components build with them, the VM's startup script is rendered from
// them, the policies check against them and the alerts probe them, so a change
// here reaches every side at once. It imports nothing, so the policy pack and
// other light tools can use it without linking the Google Cloud SDK.
package topology

const (
	// DifyPort is where Dify's own nginx listens on the VM: the port the
	// firewall opens to the Cloud Run subnet, the proxy's backend port, and the
	// only port the VM publishes.
	DifyPort = 80
	// SSHPort is reachable only from IAPRange.
	SSHPort = 22
	// PluginDebugPort is the plugin daemon's remote debugging port (Dify's
	// default). The VM binds it to loopback and the firewall denies it anyway.
	PluginDebugPort = 5003
	// IAPRange is where Identity-Aware Proxy TCP forwarding connects from: the
	// only source allowed to reach SSH (CIS 3.10).
	IAPRange = "35.235.240.0/20"
	// DataDeviceName is the data disk's device name; the VM finds the disk at
	// /dev/disk/by-id/google-<DataDeviceName> whatever order disks attach in.
	DataDeviceName = "dify-data"
	// AccessLabel is the Cloud Run service label recording the stack's access
	// mode (public, private or iap), so invokers can be checked against it.
	AccessLabel = "dify-access"
	// ProductionLabel is the Cloud Run service label recording whether the
	// stack serves real users ("true" or "false"), for the policies that
	// hold production stacks to more.
	ProductionLabel = "dify-production"
	// DifyHealthPath answers {"result":"pong"} when Dify's api is up, through
	// Dify's nginx and through the proxy alike.
	DifyHealthPath = "/console/api/ping"
)

// BootstrapAPIs are the services a project must have before the program can
// do anything: it reads the project (organizations.LookupProject) and every
// projects.Service through Cloud Resource Manager, and enables services
// through Service Usage, so it cannot enable these two itself. The first
// command of docs/deploy.md enables them; the cloud rules accept resources
// served by them without a projects.Service in the stack.
func BootstrapAPIs() []string {
	return []string{"cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com"}
}

// The bucket label saying what a bucket holds: the backup bucket's lifecycle
// rule deletes, the files bucket must never lose a file, and the policies
// tell them apart by it.
const (
	BucketLabel = "dify-bucket"
	FilesBucket = "files"
)
