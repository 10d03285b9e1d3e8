package policy_test

import (
	"strings"
	"testing"

	"github.com/dify-gcp/dify-gcp/policy"
)

// Type tokens the tests build or look up.
const (
	tInstance       = "gcp:compute/instance:Instance"
	tFirewall       = "gcp:compute/firewall:Firewall"
	tSubnet         = "gcp:compute/subnetwork:Subnetwork"
	tDisk           = "gcp:compute/disk:Disk"
	tAttachment     = "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment"
	tResourcePolicy = "gcp:compute/resourcePolicy:ResourcePolicy"
	tBucket         = "gcp:storage/bucket:Bucket"
	tBucketIAM      = "gcp:storage/bucketIAMMember:BucketIAMMember"
	tRun            = "gcp:cloudrunv2/service:Service"
	tRunIAM         = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
	tAccount        = "gcp:serviceaccount/account:Account"
	tKey            = "gcp:serviceaccount/key:Key"
	tProjectIAM     = "gcp:projects/iAMMember:IAMMember"
	tNEG            = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
	tBackend        = "gcp:compute/backendService:BackendService"
	tIAPMember      = "gcp:iap/webBackendServiceIamMember:WebBackendServiceIamMember"
	tSQL            = "gcp:sql/databaseInstance:DatabaseInstance"
	tSQLDatabase    = "gcp:sql/database:Database"
	tRedis          = "gcp:redis/instance:Instance"
	tConnection     = "gcp:servicenetworking/connection:Connection"
	tGlobalAddress  = "gcp:compute/globalAddress:GlobalAddress"
	tCustomRole     = "gcp:projects/iAMCustomRole:IAMCustomRole"
)

// filesBucket matches the bucket of Dify's files.
func filesBucket(r policy.Resource) bool { v, _ := r.Get("labels", "dify-bucket"); return v == "files" }

// backupBucket matches any other bucket.
func backupBucket(r policy.Resource) bool { return !filesBucket(r) }

// shippedStacks are the stack files of the repository, the iap variant and
// the managed tier's.
func shippedStacks() []string { return []string{"dev", "prod", "iap", "managed", "dev-managed"} }

// shipped runs the real program for a stack file of the repository, or one of
// the variants (cloud_test.go), and returns its resources in the policy model.
func shipped(t *testing.T, name string, preview bool) policy.Stack {
	t.Helper()
	for _, v := range variants() {
		if v.name == name {
			return policy.FromGraph(runVariant(t, v, preview))
		}
	}
	t.Fatalf("no stack or variant %q", name)
	return policy.Stack{}
}

// first returns the first resource of a type that satisfies match (nil
// matches any), as a pointer into s so a test can change it.
func first(t *testing.T, s policy.Stack, typ string, match func(policy.Resource) bool) *policy.Resource {
	t.Helper()
	for i := range s.Resources {
		if s.Resources[i].Type == typ && (match == nil || match(s.Resources[i])) {
			return &s.Resources[i]
		}
	}
	t.Fatalf("no %s matching in the stack", typ)
	return nil
}

// withSource matches a firewall rule whose source ranges include cidr.
func withSource(cidr string) func(policy.Resource) bool {
	return func(r policy.Resource) bool {
		v, _ := r.Get("sourceRanges")
		l, _ := v.([]any)
		for _, e := range l {
			if e == cidr {
				return true
			}
		}
		return false
	}
}

// denying matches a firewall rule that denies traffic.
func denying(r policy.Resource) bool { _, ok := r.Get("denies"); return ok }

// set puts v at path inside r's properties, creating objects on the way.
func set(t *testing.T, r *policy.Resource, v any, path ...any) {
	t.Helper()
	var cur any = r.Props
	for i, step := range path {
		last := i == len(path)-1
		switch s := step.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%s: %v is not an object at %v", r.Name, cur, path[:i])
			}
			if last {
				m[s] = v
				return
			}
			if _, ok := m[s]; !ok {
				m[s] = map[string]any{}
			}
			cur = m[s]
		case int:
			l, ok := cur.([]any)
			if !ok || s >= len(l) {
				t.Fatalf("%s: no index %d at %v", r.Name, s, path[:i])
			}
			if last {
				l[s] = v
				return
			}
			cur = l[s]
		}
	}
}

// del removes the value at path inside r's properties.
func del(t *testing.T, r *policy.Resource, path ...any) {
	t.Helper()
	parent := any(r.Props)
	if len(path) > 1 {
		var ok bool
		if parent, ok = r.Get(path[:len(path)-1]...); !ok {
			t.Fatalf("%s: nothing at %v", r.Name, path[:len(path)-1])
		}
	}
	m, ok := parent.(map[string]any)
	key, isKey := path[len(path)-1].(string)
	if !ok || !isKey {
		t.Fatalf("%s: cannot delete %v", r.Name, path)
	}
	if _, ok := m[key]; !ok {
		t.Fatalf("%s: nothing to delete at %v", r.Name, path)
	}
	delete(m, key)
}

// dropDependency makes r no longer wait explicitly for the resource urn.
func dropDependency(r *policy.Resource, urn string) {
	var keep []string
	for _, u := range r.DependsOn {
		if u != urn {
			keep = append(keep, u)
		}
	}
	r.DependsOn = keep
}

// remove drops every resource of a type from the stack.
func remove(s *policy.Stack, typ string) {
	var keep []policy.Resource
	for _, r := range s.Resources {
		if r.Type != typ {
			keep = append(keep, r)
		}
	}
	s.Resources = keep
}

// add appends a resource, named after its type, to the stack.
func add(s *policy.Stack, typ, name string, props map[string]any, deps map[string][]string) *policy.Resource {
	s.Resources = append(s.Resources, policy.Resource{
		URN: "urn:pulumi:test::dify-gcp::" + typ + "::" + name, Type: typ, Name: name,
		Props: props, PropertyDeps: deps,
	})
	return &s.Resources[len(s.Resources)-1]
}

// of returns the violations of one policy.
func of(t *testing.T, s policy.Stack, id string) []policy.Violation {
	t.Helper()
	p, ok := policy.Find(policy.Policies(), id)
	if !ok {
		t.Fatalf("no policy %s", id)
	}
	return p.Evaluate(s)
}

func describe(vs []policy.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\n  " + v.String())
	}
	return b.String()
}
