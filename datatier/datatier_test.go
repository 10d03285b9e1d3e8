package datatier

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseSQLTier(t *testing.T) {
	valid := map[string]SQLTier{
		"db-custom-2-7680":    {Name: "db-custom-2-7680", VCPUs: 2, MemoryMiB: 7680},
		"db-custom-1-3840":    {Name: "db-custom-1-3840", VCPUs: 1, MemoryMiB: 3840},
		"db-custom-4-26624":   {Name: "db-custom-4-26624", VCPUs: 4, MemoryMiB: 26624}, // 6.5 GiB per vCPU
		"db-custom-96-638976": {Name: "db-custom-96-638976", VCPUs: 96, MemoryMiB: 638976},
		"db-g1-small":         {Name: "db-g1-small", Shared: true, MemoryMiB: 1740},
		"db-f1-micro":         {Name: "db-f1-micro", Shared: true, MemoryMiB: 614},
	}
	for name, want := range valid {
		got, err := ParseSQLTier(name)
		if err != nil || got != want {
			t.Errorf("ParseSQLTier(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	invalid := map[string]string{
		"db-n1-standard-2":          "not a Cloud SQL tier for PostgreSQL",
		"db-perf-optimized-N-2":     "not a Cloud SQL tier",
		"db-custom-3-11520":         "1 or an even number",
		"db-custom-98-600064":       "1 or an even number",
		"db-custom-2-7000":          "multiple of 256",
		"db-custom-2-3584":          "at least 3840",
		"db-custom-2-14080":         "0.9 to 6.5", // 6.875 GiB per vCPU
		"db-custom-8-7168":          "0.9 to 6.5", // 0.875 GiB per vCPU
		"db-custom-02-7680":         "whole numbers",
		"db-custom-two-7680":        "whole numbers",
		"":                          "not a Cloud SQL tier",
		"db-custom-2-7680-extended": "whole numbers",
	}
	for name, want := range invalid {
		if _, err := ParseSQLTier(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSQLTier(%q) = %v, want an error saying %q", name, err, want)
		}
	}
}

func TestMaxConnections(t *testing.T) {
	for mem, want := range map[int]int{614: 25, 1740: 50, 3840: 100, 6144: 200, 7680: 400, 15360: 500, 30720: 600, 61440: 800, 122880: 1000} {
		if got := MaxConnections(mem); got != want {
			t.Errorf("MaxConnections(%d MiB) = %d, want %d", mem, got, want)
		}
	}
}

// Permissions are IAM permission names (service.resource.verb), and a custom
// role id made from any valid stack name fits the IAM API's pattern.
func TestPermissionsAndRoleIDs(t *testing.T) {
	perm := regexp.MustCompile(`^[a-z]+\.[a-zA-Z]+\.[a-zA-Z]+$`)
	for _, ps := range [][]string{DatabaseClientPermissions(), CacheClientPermissions(), FilesPermissions()} {
		for _, p := range ps {
			if !perm.MatchString(p) {
				t.Errorf("%q is not a permission name", p)
			}
		}
	}
	roleID := regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`) // terraform-provider-google verify.IAMCustomRoleIDRegex
	for _, stack := range []string{"dev", "prod", "a-very-long-name-19"} {
		if id := "dify_" + RoleIDSegment(stack) + "_files_user"; !roleID.MatchString(id) {
			t.Errorf("role id %q is not valid", id)
		}
	}
}
