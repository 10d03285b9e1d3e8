package policy

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"strings"
)

// refersTo reports whether a reference to a named cloud resource (a name, a
// self link or a relative path such as projects/p/zones/z/disks/NAME) points
// at r, whose cloud name is its "name" property. kind is the path segment
// before the name ("disks", "resourcePolicies", "services").
func refersTo(ref string, r Resource, kind string) bool {
	if ref == "" {
		return false
	}
	name, _ := r.Get("name")
	if n, _ := asString(name); n != "" && (ref == n || strings.HasSuffix(ref, "/"+kind+"/"+n)) {
		return true
	}
	selfLink, _ := r.Get("selfLink")
	sl, _ := asString(selfLink)
	return sl != "" && ref == sl
}

// references reports whether from's property prop refers to r: by value when
// the value is known, else by the dependency the engine recorded. An unknown
// reference without a recorded dependency could point anywhere: maybe is true.
func references(from Resource, prop string, path []any, r Resource, kind string) (yes, maybe bool) {
	if from.dependsOn(prop, r.URN) {
		return true, false
	}
	v, ok := from.Get(append([]any{prop}, path...)...)
	if isUnknown(v) {
		// Computed from other resources, none of them r: not r. Computed from
		// nothing recorded: it could be r.
		return false, len(from.PropertyDeps[prop]) == 0
	}
	ref, _ := asString(v)
	return ok && refersTo(ref, r, kind), false
}

func checkDiskProtected(s Stack) []finding {
	var out []finding
	disks := s.ByType(typeDisk)
	for _, d := range disks {
		if !d.Protect {
			out = append(out, finding{d.URN, fmt.Sprintf("disk %s is not protected: `pulumi destroy` or a replacement would delete Dify's data", d.Name)})
		}
	}
	// The disk the VM mounts as its data disk must be one of the stack's own,
	// or nothing above has protected it.
	for _, vm := range s.ByType(typeInstance) {
		ads, _ := vm.Get("attachedDisks")
		for i := range asList(ads) {
			dev, _ := vm.Get("attachedDisks", i, "deviceName")
			if name, _ := asString(dev); name != topology.DataDeviceName {
				continue
			}
			found := false
			for _, d := range disks {
				yes, maybe := references(vm, "attachedDisks", []any{i, "source"}, d, "disks")
				found = found || yes || maybe
			}
			if !found {
				src, _ := vm.Get("attachedDisks", i, "source")
				out = append(out, finding{vm.URN, fmt.Sprintf("instance %s mounts %v as %s, which is not a disk of this stack: nothing protects or snapshots it", vm.Name, src, topology.DataDeviceName)})
			}
		}
	}
	return out
}

func checkDiskSnapshots(s Stack) []finding {
	var out []finding
	for _, d := range s.ByType(typeDisk) {
		if scheduled(s, d) {
			continue
		}
		out = append(out, finding{d.URN, fmt.Sprintf("disk %s has no snapshot schedule", d.Name)})
	}
	return out
}

// scheduled reports whether a snapshot schedule is attached to the disk, or
// may be (a reference still unknown).
func scheduled(s Stack, d Resource) bool {
	rps, _ := d.Get("resourcePolicies")
	if isUnknown(rps) || len(asList(rps)) > 0 {
		return true
	}
	for _, a := range s.ByType(typeDiskAttachment) {
		yes, maybe := references(a, "disk", nil, d, "disks")
		if maybe {
			return true
		}
		if yes && snapshotPolicy(s, a) {
			return true
		}
	}
	return false
}

// snapshotPolicy reports whether the resource policy an attachment names is a
// snapshot schedule. A policy that is not part of the stack cannot be judged
// and counts.
func snapshotPolicy(s Stack, a Resource) bool {
	for _, p := range s.ByType(typeResourcePolicy) {
		yes, maybe := references(a, "name", nil, p, "resourcePolicies")
		if maybe {
			return true
		}
		if yes {
			sp, ok := p.Get("snapshotSchedulePolicy")
			return ok || isUnknown(sp)
		}
	}
	return true
}

func checkUniformAccess(s Stack) []finding {
	var out []finding
	for _, b := range s.ByType(typeBucket) {
		if v, _ := b.Get("uniformBucketLevelAccess"); v != true && !isUnknown(v) {
			out = append(out, finding{b.URN, fmt.Sprintf("bucket %s does not use uniform bucket-level access: object ACLs could share backups", b.Name)})
		}
	}
	return out
}

// publicMembers are the IAM members that mean "anyone".
func publicMembers() []string { return []string{"allUsers", "allAuthenticatedUsers"} }

func isPublicMember(m string) bool {
	for _, p := range publicMembers() {
		if m == p {
			return true
		}
	}
	return false
}

func checkBucketNotPublic(s Stack) []finding {
	var out []finding
	for _, b := range s.ByType(typeBucket) {
		v, _ := b.Get("publicAccessPrevention")
		if p, _ := asString(v); !isUnknown(v) && p != "enforced" {
			out = append(out, finding{b.URN, fmt.Sprintf("bucket %s does not enforce public access prevention (publicAccessPrevention %q)", b.Name, p)})
		}
	}
	for _, g := range append(s.ByType(typeBucketIAMMember), s.ByType(typeBucketIAMBinding)...) {
		for _, m := range members(g) {
			if isPublicMember(m) {
				out = append(out, finding{g.URN, fmt.Sprintf("%s grants %s on a bucket to %s", g.Name, roleOf(g), m)})
			}
		}
	}
	return out
}

func checkBackupLifecycle(s Stack) []finding {
	var out []finding
	for _, b := range s.ByType(typeBucket) {
		if isFilesBucket(b) {
			continue // Dify's files, which nothing may delete (files-bucket-keeps-files)
		}
		rules, _ := b.Get("lifecycleRules")
		if isUnknown(rules) || hasDeleteByAge(asList(rules)) {
			continue
		}
		out = append(out, finding{b.URN, fmt.Sprintf("bucket %s has no lifecycle rule deleting objects by age: backups would pile up forever", b.Name)})
	}
	return out
}

// hasDeleteByAge reports whether a rule deletes objects some days after
// creation (an unknown rule may).
func hasDeleteByAge(rules []any) bool {
	for _, rule := range rules {
		typ, _ := lookup(rule, "action", "type")
		age, _ := lookup(rule, "condition", "age")
		if isUnknown(rule) || isUnknown(typ) || isUnknown(age) {
			return true
		}
		if n, isNum := age.(float64); typ == "Delete" && isNum && n > 0 {
			return true
		}
	}
	return false
}
