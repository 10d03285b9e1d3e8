package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dify-gcp/dify-gcp/topology"
)

// Type tokens the cloud rules read besides those of the security policies.
const (
	typeProjectService  = "gcp:projects/service:Service"
	typeServiceIdentity = "gcp:projects/serviceIdentity:ServiceIdentity"
	typeAlertPolicy     = "gcp:monitoring/alertPolicy:AlertPolicy"
	typeLogMetric       = "gcp:logging/metric:Metric"
	typeUptimeCheck     = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
	typeRepository      = "gcp:artifactregistry/repository:Repository"
	typeSecret          = "gcp:secretmanager/secret:Secret"
	typeNetwork         = "gcp:compute/network:Network"
	typeAddress         = "gcp:compute/address:Address"
	typeChannel         = "gcp:monitoring/notificationChannel:NotificationChannel"
)

// ServiceAPIs maps every resource type the program may declare to the Google
// Cloud service its provider calls to create it. A type missing here fails the
// cloud rule api-enabled: whoever adds a resource of a new kind must say which
// API it needs, and the program or the bootstrap must enable that API.
//
// Sources: the pulumi-gcp v7.38.0 SDK's doc comment of each resource links
// its API reference ("API documentation"); the provider's
// resource_google_project_service.go reads services through Cloud Resource
// Manager; projects.ServiceIdentity calls serviceusage
// services.generateServiceIdentity; a docker.Image is pushed to Artifact
// Registry.
func ServiceAPIs() map[string]string {
	const (
		compute  = "compute.googleapis.com"
		run      = "run.googleapis.com"
		registry = "artifactregistry.googleapis.com"
		storage  = "storage.googleapis.com"
		secrets  = "secretmanager.googleapis.com"
		iam      = "iam.googleapis.com"
		monitor  = "monitoring.googleapis.com"
		logs     = "logging.googleapis.com"
		crm      = "cloudresourcemanager.googleapis.com"
		usage    = "serviceusage.googleapis.com"
	)
	return map[string]string{
		typeProjectService:    usage,
		typeServiceIdentity:   usage,
		typeProjectIAMMember:  crm,
		typeProjectIAMBinding: crm,
		typeNetwork:           compute,
		typeSubnetwork:        compute,
		typeFirewall:          compute,
		typeAddress:           compute,
		typeDisk:              compute,
		typeDiskAttachment:    compute,
		typeResourcePolicy:    compute,
		typeInstance:          compute,
		typeAccount:           iam,
		typeAccountKey:        iam,
		typeSecret:            secrets,
		"gcp:secretmanager/secretIamMember:SecretIamMember": secrets,
		typeBucket:                 storage,
		typeBucketIAMMember:        storage,
		typeBucketIAMBinding:       storage,
		typeRepository:             registry,
		"docker:index/image:Image": registry,
		typeRunService:             run,
		typeRunIAMMember:           run,
		typeRunIAMBinding:          run,
		// The edge.
		"gcp:compute/globalAddress:GlobalAddress":                           compute,
		"gcp:compute/managedSslCertificate:ManagedSslCertificate":           compute,
		"gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup": compute,
		"gcp:compute/securityPolicy:SecurityPolicy":                         compute,
		"gcp:compute/backendService:BackendService":                         compute,
		"gcp:compute/uRLMap:URLMap":                                         compute,
		"gcp:compute/targetHttpsProxy:TargetHttpsProxy":                     compute,
		"gcp:compute/targetHttpProxy:TargetHttpProxy":                       compute,
		"gcp:compute/globalForwardingRule:GlobalForwardingRule":             compute,
		"gcp:dns/recordSet:RecordSet":                                       "dns.googleapis.com",
		"gcp:iap/webBackendServiceIamMember:WebBackendServiceIamMember":     "iap.googleapis.com",
		typeAlertPolicy: monitor,
		typeChannel:     monitor,
		typeUptimeCheck: monitor,
		// What the stack watches and shows.
		typeCustomService: monitor,
		typeSLO:           monitor,
		typeDashboard:     monitor,
		typeBucketConfig:  logs,
		typeLogExclusion:  logs,
		// The managed data tier.
		typeConnection:  "servicenetworking.googleapis.com",
		typeSQLInstance: "sqladmin.googleapis.com",
		typeSQLDatabase: "sqladmin.googleapis.com",
		typeRedis:       "redis.googleapis.com",
		typeCustomRole:  iam,
	}
}

// InvokeAPIs maps the provider functions the program calls to the service
// each reaches ("" for one that only reads the provider's own credentials).
// They run before any resource exists, so their APIs must come from the
// bootstrap.
func InvokeAPIs() map[string]string {
	return map[string]string{
		"gcp:organizations/getProject:getProject":           "cloudresourcemanager.googleapis.com",
		"gcp:organizations/getClientConfig:getClientConfig": "",
	}
}

// checkAPIEnabled: every custom resource's API is enabled by a projects.Service
// of the stack that the resource waits for, or by the documented bootstrap.
func checkAPIEnabled(s Stack) []finding {
	enabled := map[string]string{} // API -> URN of the projects.Service
	for _, r := range s.ByType(typeProjectService) {
		if svc, ok := asString(r.Props["service"]); ok {
			enabled[svc] = r.URN
		}
	}
	apis := ServiceAPIs()
	var out []finding
	for _, r := range s.Resources {
		if strings.HasPrefix(r.Type, "dify-gcp:") || strings.HasPrefix(r.Type, "pulumi:") {
			continue // components and providers call no API themselves
		}
		api, known := apis[r.Type]
		switch {
		case !known:
			out = append(out, finding{r.URN, fmt.Sprintf("%s %s is of type %s, which has no entry in policy.ServiceAPIs: nobody has said which API it needs", r.Type, r.Name, r.Type)})
		case slices.Contains(topology.BootstrapAPIs(), api):
		case enabled[api] == "":
			out = append(out, finding{r.URN, fmt.Sprintf("%s %s needs %s, which neither the stack (a projects.Service) nor the documented bootstrap enables; a fresh project refuses it with 403 SERVICE_DISABLED", r.Type, r.Name, api)})
		case r.Type != typeProjectService && !r.waitsFor(enabled[api]):
			out = append(out, finding{r.URN, fmt.Sprintf("%s %s does not wait for the projects.Service that enables %s: in a fresh project it can be created before its API answers", r.Type, r.Name, api)})
		}
	}
	return out
}

// waitsFor reports whether r depends on urn, explicitly or through an input.
func (r Resource) waitsFor(urn string) bool {
	if slices.Contains(r.DependsOn, urn) {
		return true
	}
	for _, us := range r.PropertyDeps {
		if slices.Contains(us, urn) {
			return true
		}
	}
	return false
}
