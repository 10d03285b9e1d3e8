package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// agentRE matches a Google-managed service agent of a project:
// serviceAccount:service-PROJECT_NUMBER@DOMAIN.iam.gserviceaccount.com.
var agentRE = regexp.MustCompile(`^serviceAccount:service-[0-9]+@([a-z0-9-]+)\.iam\.gserviceaccount\.com$`)

// ServiceAgent says how one of Google's service agents comes to exist.
type ServiceAgent struct {
	// API is the service the agent belongs to.
	API string
	// Primary agents are created on request by services.generateServiceIdentity
	// (projects.ServiceIdentity); the others appear when their API is enabled.
	Primary bool
}

// ServiceAgents are the agents the program may grant roles to, by the domain
// of their email. Source: https://cloud.google.com/iam/docs/service-agents, as
// tabulated in GoogleCloudPlatform/cloud-foundation-fabric
// modules/project/service-agents.yaml (is_primary).
func ServiceAgents() map[string]ServiceAgent {
	return map[string]ServiceAgent{
		"gcp-sa-monitoring-notification": {API: "monitoring.googleapis.com", Primary: true},
		"serverless-robot-prod":          {API: "run.googleapis.com", Primary: true},
		// IAP calls Cloud Run as this agent; Google's IAP-for-Cloud-Run guide
		// creates it with `gcloud beta services identity create --service=iap.googleapis.com`.
		"gcp-sa-iap":     {API: "iap.googleapis.com", Primary: true},
		"compute-system": {API: "compute.googleapis.com", Primary: false},
	}
}

// grantedMembers returns a grant's members that are known strings.
func grantedMembers(r Resource) []string {
	var out []string
	if m, ok := asString(r.Props["member"]); ok {
		out = append(out, m)
	}
	for _, e := range asList(r.Props["members"]) {
		if m, ok := asString(e); ok {
			out = append(out, m)
		}
	}
	return out
}

func checkServiceAgents(s Stack) []finding {
	identities := map[string]string{} // API -> URN of its projects.ServiceIdentity
	for _, r := range s.ByType(typeServiceIdentity) {
		if svc, ok := asString(r.Props["service"]); ok {
			identities[svc] = r.URN
		}
	}
	enabled := map[string]string{}
	for _, r := range s.ByType(typeProjectService) {
		if svc, ok := asString(r.Props["service"]); ok {
			enabled[svc] = r.URN
		}
	}
	var out []finding
	for _, r := range s.Resources {
		for _, m := range grantedMembers(r) {
			sub := agentRE.FindStringSubmatch(m)
			if sub == nil {
				continue
			}
			agent, known := ServiceAgents()[sub[1]]
			switch {
			case !known:
				out = append(out, finding{r.URN, fmt.Sprintf("%s %s grants to the service agent %s, which policy.ServiceAgents does not know: say whether projects.ServiceIdentity creates it or its API's enablement does", r.Type, r.Name, m)})
			case agent.Primary && (identities[agent.API] == "" || !slices.Contains(r.PropertyDeps["member"], identities[agent.API])):
				out = append(out, finding{r.URN, fmt.Sprintf("%s %s grants to %s, which may not exist yet in a fresh project: take the member from a projects.ServiceIdentity of %s, which creates the agent first", r.Type, r.Name, m, agent.API)})
			case !agent.Primary && (enabled[agent.API] == "" || !r.waitsFor(enabled[agent.API])):
				out = append(out, finding{r.URN, fmt.Sprintf("%s %s grants to %s, which exists only once %s is enabled, but does not wait for that projects.Service", r.Type, r.Name, m, agent.API)})
			}
		}
	}
	return out
}

// startStopRoles hold compute.instances.start and compute.instances.stop.
func startStopRoles() []string {
	return []string{"roles/compute.instanceAdmin.v1", "roles/compute.instanceAdmin", "roles/compute.admin"}
}

func checkScheduledVMWaits(s Stack) []finding {
	schedules := map[string]bool{}
	for _, p := range s.ByType(typeResourcePolicy) {
		if _, ok := p.Get("instanceSchedulePolicy"); ok {
			schedules[p.URN] = true
		}
	}
	var grants []string
	for _, g := range append(s.ByType(typeProjectIAMMember), s.ByType(typeProjectIAMBinding)...) {
		role, _ := asString(g.Props["role"])
		for _, m := range grantedMembers(g) {
			if strings.HasSuffix(m, "@compute-system.iam.gserviceaccount.com") && slices.Contains(startStopRoles(), role) {
				grants = append(grants, g.URN)
			}
		}
	}
	var out []finding
	for _, vm := range s.ByType(typeInstance) {
		scheduled := false
		for _, u := range vm.PropertyDeps["resourcePolicies"] {
			scheduled = scheduled || schedules[u]
		}
		if !scheduled {
			continue
		}
		waits := false
		for _, g := range grants {
			waits = waits || vm.waitsFor(g)
		}
		if !waits {
			out = append(out, finding{vm.URN, fmt.Sprintf("instance %s carries a start/stop schedule but does not wait for a grant of %s to the Compute Engine service agent: Compute Engine refuses the instance (412) until the agent may start and stop it", vm.Name, strings.Join(startStopRoles()[:1], ""))})
		}
	}
	return out
}

func checkDirectVPCIDs(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeRunService) {
		walk(map[string]any(r.Props), []any{"template", "vpcAccess", "networkInterfaces", "*"}, func(v any) {
			nic, ok := v.(map[string]any)
			if !ok {
				return
			}
			for _, k := range []string{"network", "subnetwork"} {
				if ref, ok := asString(nic[k]); ok && strings.Contains(ref, "://") {
					out = append(out, finding{r.URN, fmt.Sprintf("Cloud Run service %s: Direct VPC egress %s is the self link %q, not a name or a projects/... id", r.Name, k, ref)})
				}
			}
		})
	}
	return out
}
