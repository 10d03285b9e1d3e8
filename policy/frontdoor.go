package policy

import (
	"fmt"
	"regexp"

	"github.com/dify-gcp/dify-gcp/topology"
)

// Type tokens of the edge.
const (
	typeNEG            = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
	typeBackendService = "gcp:compute/backendService:BackendService"
	typeSecurityPolicy = "gcp:compute/securityPolicy:SecurityPolicy"
	typeIAPMember      = "gcp:iap/webBackendServiceIamMember:WebBackendServiceIamMember"
	typeIAPBinding     = "gcp:iap/webBackendServiceIamBinding:WebBackendServiceIamBinding"
)

const (
	accessIAP       = "iap"
	ingressEdgeOnly = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
	iapAccessorRole = "roles/iap.httpsResourceAccessor"
)

// iapAgentRE is IAP's service agent, the one caller of a Cloud Run service
// behind IAP (cloud.google.com/iap/docs/enabling-cloud-run).
var iapAgentRE = regexp.MustCompile(`^serviceAccount:service-[0-9]+@gcp-sa-iap\.iam\.gserviceaccount\.com$`)

// negsOf returns the serverless NEGs that send requests to svc.
func negsOf(s Stack, svc Resource) []Resource {
	var out []Resource
	v, _ := svc.Get("name")
	name, _ := asString(v)
	for _, neg := range s.ByType(typeNEG) {
		target, _ := neg.Get("cloudRun", "service")
		if neg.dependsOn("cloudRun", svc.URN) || isUnknown(target) {
			out = append(out, neg)
			continue
		}
		if t, ok := asString(target); ok && t != "" && t == name {
			out = append(out, neg)
		}
	}
	return out
}

// backendsOf returns the backend services with neg among their backends.
func backendsOf(s Stack, neg Resource) []Resource {
	var out []Resource
	for _, b := range s.ByType(typeBackendService) {
		if b.dependsOn("backends", neg.URN) {
			out = append(out, b)
			continue
		}
		bs, _ := b.Get("backends")
		for i := range asList(bs) {
			g, _ := b.Get("backends", i, "group")
			if ref, ok := asString(g); ok && refersTo(ref, neg, "networkEndpointGroups") {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

// edgeBackends are the backend services in front of svc.
func edgeBackends(s Stack, svc Resource) []Resource {
	var out []Resource
	for _, neg := range negsOf(s, svc) {
		out = append(out, backendsOf(s, neg)...)
	}
	return out
}

func label(svc Resource, key string) (string, bool) {
	v, ok := svc.Get("labels", key)
	if isUnknown(v) {
		return "", false
	}
	str, _ := asString(v)
	return str, ok
}

func checkArmorOnPublicProduction(s Stack) []finding {
	var out []finding
	for _, svc := range s.ByType(typeRunService) {
		access, _ := label(svc, topology.AccessLabel)
		prod, _ := label(svc, topology.ProductionLabel)
		if access != accessPublic || prod != "true" {
			continue
		}
		armored := false
		for _, b := range edgeBackends(s, svc) {
			for _, p := range s.ByType(typeSecurityPolicy) {
				yes, maybe := references(b, "securityPolicy", nil, p, "securityPolicies")
				armored = armored || yes || maybe
			}
		}
		if !armored {
			out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s is public in production with no load balancer and Cloud Armor policy in front: anyone reaches Dify with no WAF and no rate limit", svc.Name)})
		}
	}
	return out
}

func checkEdgeLocksIngress(s Stack) []finding {
	var out []finding
	for _, svc := range s.ByType(typeRunService) {
		if len(negsOf(s, svc)) == 0 {
			continue
		}
		if v, _ := svc.Get("ingress"); !isUnknown(v) && v != ingressEdgeOnly {
			out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s sits behind a load balancer but its ingress is %v: clients can go around Cloud Armor and IAP", svc.Name, v)})
		}
		if v, _ := svc.Get("defaultUriDisabled"); !isUnknown(v) && v != true {
			out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s sits behind a load balancer but its run.app URL is on", svc.Name)})
		}
	}
	return out
}

func checkIAP(s Stack) []finding {
	var out []finding
	for _, svc := range s.ByType(typeRunService) {
		if access, _ := label(svc, topology.AccessLabel); access != accessIAP {
			continue
		}
		backends := edgeBackends(s, svc)
		if len(backends) == 0 {
			out = append(out, finding{svc.URN, fmt.Sprintf("Cloud Run service %s (%s=iap) has no load balancer in front, where IAP would sit", svc.Name, topology.AccessLabel)})
		}
		for _, b := range backends {
			if v, ok := b.Get("iap"); !ok && !isUnknown(v) {
				out = append(out, finding{b.URN, fmt.Sprintf("backend service %s in front of %s (%s=iap) has no IAP", b.Name, svc.Name, topology.AccessLabel)})
			}
		}
		for _, g := range append(s.ByType(typeIAPMember), s.ByType(typeIAPBinding)...) {
			for _, m := range members(g) {
				if isPublicMember(m) {
					out = append(out, finding{g.URN, fmt.Sprintf("%s lets %s through IAP: everyone", g.Name, m)})
				}
			}
		}
	}
	return out
}

// fromIAPAgent reports whether a grant's member is computed from the stack's
// service identity of IAP.
func fromIAPAgent(s Stack, g Resource) bool {
	for _, u := range g.PropertyDeps["member"] {
		if r, ok := s.ByURN(u); ok && r.Type == typeServiceIdentity {
			if v, _ := r.Get("service"); v == "iap.googleapis.com" {
				return true
			}
		}
	}
	return false
}
