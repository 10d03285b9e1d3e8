package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// FakeProjectNumber is the project number the fake cloud reports.
const FakeProjectNumber = "123456789012"

// urn computes a resource URN the way the mock monitor does.
func urn(project, stack, parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(stack), tokens.PackageName(project), parentType, tokens.Type(typ), name))
}

// fakeState is what a fake cloud answers for a new resource: its inputs plus the
// outputs a provider computes. In a preview the computed outputs are left out,
// which the SDK treats as unknown, exactly as during `pulumi preview`.
//
// Every computed value is unique and recorded in symbols with the reference a
// reviewer should see instead ("<address of dify-dev-internal-ip>"), so a plan
// can show where a value comes from rather than a made-up value.
func fakeState(project, typ, name string, inputs resource.PropertyMap, preview bool, symbols map[string]string, seq int) (string, resource.PropertyMap) {
	state := inputs.Copy()
	str := func(k string) string {
		if v, ok := inputs[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	physical := str("name")
	if physical == "" {
		physical = name
	}
	// Compute Engine resources get the id and self link the provider really
	// gives them (projects/P/LOCATION/KIND/NAME, and the same under
	// https://www.googleapis.com/compute/v1/), so a check that cares which
	// form a field holds sees the real one. Other ids are only unique.
	id := name + "-id"
	path, isCompute := computePath(project, typ, physical, str)
	if isCompute {
		id = path
	}
	if typ == "gcp:monitoring/dashboard:Dashboard" {
		// The provider's id is the API's name, projects/NUMBER/dashboards/ID
		// with a server-chosen ID (resource_monitoring_dashboard.go sets
		// d.SetId(res["name"])).
		d := digest(name)
		id = "projects/" + FakeProjectNumber + "/dashboards/" + d[:8] + "-" + d[8:12] + "-" + d[12:16] + "-" + d[16:20] + "-" + d[20:32]
		if !preview {
			symbols[id[strings.LastIndex(id, "/")+1:]] = fmt.Sprintf("<id of %s>", name)
		}
	}
	if preview {
		return id, state
	}
	if isCompute {
		symbols[id] = fmt.Sprintf("<id of %s>", name)
	}
	set := func(k, v string) {
		state[resource.PropertyKey(k)] = resource.NewStringProperty(v)
		symbols[v] = fmt.Sprintf("<%s of %s>", k, name)
	}
	if isCompute {
		set("selfLink", ComputeAPI+path)
	} else {
		set("selfLink", fmt.Sprintf("https://www.googleapis.com/fake/projects/%s/%s/%s", project, kind(typ), physical))
	}
	switch typ {
	case "gcp:compute/address:Address":
		// Unique per address; external ones in TEST-NET-3, for documentation only.
		if str("addressType") == "INTERNAL" {
			set("address", fmt.Sprintf("10.10.0.%d", 2+seq%250))
		} else {
			set("address", fmt.Sprintf("203.0.113.%d", 10+seq%240))
		}
	case "gcp:compute/globalAddress:GlobalAddress":
		// TEST-NET-2, so a global address never looks like a regional one.
		set("address", fmt.Sprintf("198.51.100.%d", 10+seq%240))
	case "gcp:serviceaccount/account:Account":
		email := str("accountId") + "@" + project + ".iam.gserviceaccount.com"
		set("email", email)
		set("member", "serviceAccount:"+email)
	case "gcp:projects/serviceIdentity:ServiceIdentity":
		// What services.generateServiceIdentity answers: the service's
		// agent, service-NUMBER@DOMAIN.iam.gserviceaccount.com.
		domain := map[string]string{"monitoring.googleapis.com": "gcp-sa-monitoring-notification", "run.googleapis.com": "serverless-robot-prod"}[str("service")]
		if domain == "" {
			domain = "gcp-sa-" + strings.TrimSuffix(str("service"), ".googleapis.com")
		}
		email := "service-" + FakeProjectNumber + "@" + domain + ".iam.gserviceaccount.com"
		set("email", email)
		set("member", "serviceAccount:"+email)
	case "gcp:cloudrunv2/service:Service":
		set("uri", "https://"+physical+"-"+digest(physical)[:10]+"-an.a.run.app")
	case "gcp:storage/bucket:Bucket":
		set("url", "gs://"+physical)
	case "gcp:secretmanager/secret:Secret":
		set("name", "projects/"+FakeProjectNumber+"/secrets/"+str("secretId"))
	case "gcp:compute/instance:Instance":
		set("instanceId", digest(physical)[:19])
	case "gcp:monitoring/customService:CustomService":
		// The API names a service projects/NUMBER/services/ID.
		set("name", "projects/"+FakeProjectNumber+"/services/"+str("serviceId"))
	case "gcp:monitoring/slo:Slo":
		set("name", "projects/"+FakeProjectNumber+"/services/"+str("service")+"/serviceLevelObjectives/"+str("sloId"))
	case "gcp:sql/databaseInstance:DatabaseInstance":
		// Private IPs in the stack's private services range (10.20.0.0/20
		// by default): unique, and private as the VM's script demands.
		set("privateIpAddress", fmt.Sprintf("10.20.0.%d", 2+seq%250))
		set("connectionName", project+":"+str("region")+":"+physical)
	case "gcp:redis/instance:Instance":
		set("host", fmt.Sprintf("10.20.1.%d", 2+seq%250))
		state["port"] = resource.NewNumberProperty(6379)
	case "gcp:projects/iAMCustomRole:IAMCustomRole":
		set("name", "projects/"+project+"/roles/"+str("roleId"))
	case "docker:index/image:Image":
		image := str("imageName")
		repo := image
		if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
			repo = image[:i]
		}
		set("repoDigest", repo+"@sha256:"+digest(image))
	}
	return id, state
}

// fakeCall answers the functions the program invokes.
func fakeCall(project string, args pulumi.MockCallArgs, symbols map[string]string) (resource.PropertyMap, error) {
	switch args.Token {
	case "gcp:organizations/getProject:getProject":
		symbols[FakeProjectNumber] = "<number of project " + project + ">"
		return resource.NewPropertyMapFromMap(map[string]any{
			"projectId": project, "number": FakeProjectNumber, "name": project,
		}), nil
	case "gcp:organizations/getClientConfig:getClientConfig":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accessToken": "fake-access-token", "project": project, "region": "", "zone": "",
		}), nil
	}
	return nil, fmt.Errorf("graph: no fake for function %s", args.Token)
}

// ComputeAPI is the prefix of every Compute Engine self link.
const ComputeAPI = "https://www.googleapis.com/compute/v1/"

// computePath returns projects/P/LOCATION/KIND/NAME for the Compute Engine
// types the program declares (the provider's id format, see each resource's
// "Import" section in the pulumi-gcp SDK), and false for any other type.
func computePath(project, typ, name string, str func(string) string) (string, bool) {
	kinds := map[string]string{
		"gcp:compute/network:Network":               "global/networks",
		"gcp:compute/firewall:Firewall":             "global/firewalls",
		"gcp:compute/subnetwork:Subnetwork":         "regions/%s/subnetworks",
		"gcp:compute/address:Address":               "regions/%s/addresses",
		"gcp:compute/resourcePolicy:ResourcePolicy": "regions/%s/resourcePolicies",
		"gcp:compute/disk:Disk":                     "zones/%s/disks",
		"gcp:compute/instance:Instance":             "zones/%s/instances",
	}
	k, ok := kinds[typ]
	if !ok {
		return "", false
	}
	switch {
	case strings.HasPrefix(k, "regions/"):
		k = fmt.Sprintf(k, str("region"))
	case strings.HasPrefix(k, "zones/"):
		k = fmt.Sprintf(k, str("zone"))
	}
	return fmt.Sprintf("projects/%s/%s/%s", project, k, name), true
}

func kind(typ string) string {
	if i := strings.LastIndex(typ, ":"); i >= 0 {
		return strings.ToLower(typ[i+1:]) + "s"
	}
	return typ
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
