package policy

import (
	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/topology"
)

// Type tokens the policies read, as pulumi-gcp v7 names them.
const (
	typeInstance          = "gcp:compute/instance:Instance"
	typeFirewall          = "gcp:compute/firewall:Firewall"
	typeSubnetwork        = "gcp:compute/subnetwork:Subnetwork"
	typeDisk              = "gcp:compute/disk:Disk"
	typeDiskAttachment    = "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment"
	typeResourcePolicy    = "gcp:compute/resourcePolicy:ResourcePolicy"
	typeBucket            = "gcp:storage/bucket:Bucket"
	typeBucketIAMMember   = "gcp:storage/bucketIAMMember:BucketIAMMember"
	typeBucketIAMBinding  = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
	typeRunService        = "gcp:cloudrunv2/service:Service"
	typeRunIAMMember      = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
	typeRunIAMBinding     = "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding"
	typeAccount           = "gcp:serviceaccount/account:Account"
	typeAccountKey        = "gcp:serviceaccount/key:Key"
	typeProjectIAMMember  = "gcp:projects/iAMMember:IAMMember"
	typeProjectIAMBinding = "gcp:projects/iAMBinding:IAMBinding"
)

// Policies returns every policy, in the order reports list them.
func Policies() []Policy {
	return append([]Policy{
		{
			ID: "vm-dedicated-service-account", Title: "VMs run as a dedicated service account, never the default compute one",
			Severity: High, Reference: "CIS GCP 4.1, 4.2", Local: true,
			Fix:   "give the instance's serviceAccount the email of a serviceaccount.Account created for it (components/host.go); a broad scope such as cloud-platform is acceptable only with that dedicated account, whose IAM roles are then the limit",
			check: checkDedicatedServiceAccount,
		},
		{
			ID: "vm-os-login", Title: "OS Login is enabled on every VM",
			Severity: High, Reference: "CIS GCP 4.4", Local: true,
			Fix:   `set metadata "enable-oslogin" to "TRUE" on the instance (components/host.go)`,
			check: metadataMustBeTrue("enable-oslogin"),
		},
		{
			ID: "vm-block-project-ssh-keys", Title: "Project-wide SSH keys are blocked on every VM",
			Severity: High, Reference: "CIS GCP 4.3", Local: true,
			Fix:   `set metadata "block-project-ssh-keys" to "TRUE" on the instance (components/host.go)`,
			check: metadataMustBeTrue("block-project-ssh-keys"),
		},
		{
			ID: "vm-serial-port-off", Title: "The interactive serial console is off on every VM",
			Severity: Medium, Reference: "CIS GCP 4.5", Local: true,
			Fix:   `set metadata "serial-port-enable" to "FALSE", or leave it out (components/host.go)`,
			check: checkSerialPort,
		},
		{
			ID: "vm-shielded", Title: "VMs are Shielded VMs with vTPM and integrity monitoring",
			Severity: Medium, Reference: "CIS GCP 4.8", Local: true,
			Fix:   "set shieldedInstanceConfig.enableVtpm and .enableIntegrityMonitoring to true on the instance (components/host.go); secure boot is optional under CIS 4.8 and the program turns it on",
			check: checkShielded,
		},
		{
			ID: "vm-no-ip-forwarding", Title: "VMs do not forward IP packets",
			Severity: Medium, Reference: "CIS GCP 4.6", Local: true,
			Fix:   "set canIpForward to false on the instance (components/host.go)",
			check: checkIPForwarding,
		},
		{
			ID: "vm-no-public-ip", Title: "VMs have no external IP address",
			Severity: Medium, Reference: "CIS GCP 4.9", Local: true,
			Fix: "remove the access config from the instance's network interface and give the VM egress through Cloud NAT instead (components/host.go)",
			Exception: &Exception{Reason: "DESIGN.md keeps a reserved static external address on the VM on purpose: " +
				"egress to model APIs and plugin registries with a stable identity, without Cloud NAT; " +
				"nothing can enter through it, which firewall-no-open-ingress and firewall-ssh-only-from-iap enforce"},
			check: checkPublicIP,
		},
		{
			ID: "vm-no-preemptible", Title: "No preemptible VM (Spot is an explicit opt-in)",
			Severity: High, Reference: "DESIGN.md lesson: preemptible VMs stop within 24 h",
			Local: true,
			Fix:   `use provisioningModel "STANDARD" (config provisioningModel: standard), or "SPOT" outside production; never plain preemptible (components/host.go scheduling)`,
			check: checkPreemptible,
		},
		{
			ID: "vm-startup-script-in-metadata", Title: "The startup script is set through the metadata key, not the field that replaces the VM",
			Severity: Medium, Reference: "DESIGN.md: data that must survive (startup-script metadata key, updated in place)",
			Local: true,
			Fix:   `move the script from metadataStartupScript into metadata["startup-script"] (components/host.go)`,
			check: checkStartupScriptField,
		},
		{
			ID: "firewall-no-open-ingress", Title: "No firewall rule allows ingress from anywhere",
			Severity: Critical, Reference: "CIS GCP 3.6, 3.7", Local: true,
			Fix:   "narrow the rule's sourceRanges to the addresses that need it (the Cloud Run egress subnet, IAP's " + topology.IAPRange + "); a deny rule from 0.0.0.0/0 is fine (components/network.go)",
			check: checkOpenIngress,
		},
		{
			ID: "firewall-ssh-only-from-iap", Title: "SSH is allowed only from Identity-Aware Proxy",
			Severity: High, Reference: "CIS GCP 3.10", Local: true,
			Fix:   "allow tcp 22 only with sourceRanges [" + topology.IAPRange + "] and no source tags or service accounts; connect with `gcloud compute ssh --tunnel-through-iap` (components/network.go)",
			check: checkSSHOnlyFromIAP,
		},
		{
			ID: "subnet-flow-logs", Title: "VPC flow logs are on for every subnet",
			Severity: Low, Reference: "CIS GCP 3.8", Local: true,
			Fix:   "give the subnetwork a logConfig (aggregationInterval, flowSampling, metadata) (components/network.go)",
			check: checkFlowLogs,
		},
		{
			ID: "bucket-uniform-access", Title: "Buckets use uniform bucket-level access",
			Severity: Medium, Reference: "CIS GCP 5.2", Local: true,
			Fix:   "set uniformBucketLevelAccess to true on the bucket (components/backups.go)",
			check: checkUniformAccess,
		},
		{
			ID: "bucket-not-public", Title: "Buckets enforce public access prevention and grant nothing to allUsers",
			Severity: Critical, Reference: "CIS GCP 5.1", Local: true,
			Fix:   `set publicAccessPrevention to "enforced" on the bucket and remove any grant to allUsers or allAuthenticatedUsers (components/backups.go)`,
			check: checkBucketNotPublic,
		},
		{
			ID: "no-service-account-keys", Title: "No user-managed service account keys",
			Severity: High, Reference: "CIS GCP 1.4", Local: true,
			Fix:   "delete the serviceaccount.Key; run workloads as an attached service account and authenticate CI with workload identity federation",
			check: checkNoKeys,
		},
		{
			ID: "no-admin-roles-on-service-accounts", Title: "No service account holds an admin, owner or editor role on the project",
			Severity: High, Reference: "CIS GCP 1.5",
			Fix:   "grant the least role that does the job (logWriter, metricWriter, objectUser on one bucket, accessor on one secret) instead of an admin, owner or editor role",
			check: checkAdminRoles,
		},
		{
			ID: "data-disk-protected", Title: "The data disk is declared in the stack and protected from deletion",
			Severity: Critical, Reference: "DESIGN.md: data that must survive (separate persistent disk, protected by the program)",
			Fix:   "create the data disk as a compute.Disk of this stack with pulumi.Protect(true), and attach it with deviceName " + topology.DataDeviceName + " (components/host.go)",
			check: checkDiskProtected,
		},
		{
			ID: "data-disk-snapshots", Title: "The data disk has a snapshot schedule",
			Severity: High, Reference: "DESIGN.md: data disk with snapshot schedule",
			Fix:   "attach a compute.ResourcePolicy with a snapshotSchedulePolicy to the disk, by a compute.DiskResourcePolicyAttachment or the disk's resourcePolicies (components/host.go)",
			check: checkDiskSnapshots,
		},
		{
			ID: "run-invokers-match-access", Title: "Cloud Run invokers are exactly what the access mode says",
			Severity: Critical, Reference: "DESIGN.md lesson: public or private must be explicit",
			Fix:   `label the service ` + topology.AccessLabel + `=public with exactly one roles/run.invoker member, allUsers; ` + topology.AccessLabel + `=private with the configured principals and never allUsers or allAuthenticatedUsers; or ` + topology.AccessLabel + `=iap with IAP's service agent alone (config access and invokers; components/service.go)`,
			check: checkInvokers,
		},
		{
			ID: "edge-armor-on-public-production", Title: "A public production stack is reached only through the edge, with Cloud Armor",
			Severity: Critical, Reference: "DESIGN.md: the edge (a load balancer with Cloud Armor; nothing bypasses it)",
			Fix:   "set dify-gcp:domain in the production stack, which builds the edge: a serverless NEG for the service, an EXTERNAL_MANAGED backend service with a securityPolicy (components/edge.go)",
			check: checkArmorOnPublicProduction,
		},
		{
			ID: "edge-locks-cloud-run", Title: "Behind the edge, Cloud Run admits only the load balancer and its run.app URL is off",
			Severity: High, Reference: "DESIGN.md: the edge (Cloud Run's ingress is the load balancer only and its run.app URL is off)",
			Fix:   `set the service's ingress to "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" and defaultUriDisabled to true when a serverless NEG sends to it (components/service.go)`,
			check: checkEdgeLocksIngress,
		},
		{
			ID: "iap-on-the-edge", Title: "With access iap, the backend service has IAP and lets no one in by default",
			Severity: Critical, Reference: "DESIGN.md: the edge (Identity-Aware Proxy for access: iap)",
			Fix:   "give the backend service in front of the service an iap block (OAuth client id and secret), and grant roles/iap.httpsResourceAccessor only to the configured invokers, never allUsers or allAuthenticatedUsers (components/edge.go)",
			check: checkIAP,
		},
		{
			ID: "proxy-timeout-matches-run", Title: "The proxy's timeout equals Cloud Run's request timeout",
			Severity: Medium, Reference: "DESIGN.md lesson: proxy timeouts and Cloud Run's timeout must agree",
			Local: true,
			Fix:   "feed one value (config requestTimeoutSeconds) to both template.timeout and the container's " + proxy.EnvTimeoutSeconds + " (components/service.go)",
			check: checkProxyTimeout,
		},
		{
			ID: "backup-lifecycle", Title: "Backup retention is a bucket lifecycle rule",
			Severity: Medium, Reference: "DESIGN.md lesson: backups automatic, retention declarative",
			Local: true,
			Fix:   `give the bucket a lifecycle rule with action.type "Delete" and condition.age set to the retention in days (config backupRetentionDays; components/backups.go); only the files bucket, labelled ` + topology.BucketLabel + "=" + topology.FilesBucket + `, has none`,
			check: checkBackupLifecycle,
		},
	}, dataTierPolicies()...)
}
