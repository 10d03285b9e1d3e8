package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/dify-gcp/dify-gcp/datatier"
)

var (
	customRoleIDRE = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)
	permissionRE   = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+){2,}$`)
	sqlInstanceRE  = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	redisIDRE      = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
)

// dataTierCloudRules are what Cloud SQL, Memorystore, Service Networking and
// IAM would refuse or do differently in the managed data tier.
func dataTierCloudRules() []Policy {
	return []Policy{
		{
			ID: "sql-tier", Title: "A Cloud SQL Enterprise instance of PostgreSQL has a tier PostgreSQL accepts",
			Severity: High, Local: true,
			Reference: "pulumi-gcp v7.38.0 sql.DatabaseInstanceSettings.Tier (\"Postgres supports only shared-core machine types, and custom machine types\"); https://cloud.google.com/sql/docs/postgres/instance-settings (vCPUs 1 or even up to 96; 0.9-6.5 GB per vCPU, a multiple of 256 MB, at least 3.75 GB)",
			Fix:       "set dify-gcp:databaseTier to db-custom-VCPUS-MEMORY_MIB (such as db-custom-2-7680) or a shared-core tier (datatier.ParseSQLTier)",
			check:     checkSQLTier,
		},
		{
			ID: "sql-ssl-mode-pair", Title: "Cloud SQL's sslMode and the legacy requireSsl flag agree",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1beta4/instances#ipconfiguration (SslMode: with ALLOW_UNENCRYPTED_AND_ENCRYPTED or ENCRYPTED_ONLY the legacy requireSsl flag must be false or cleared; with TRUSTED_CLIENT_CERTIFICATE_REQUIRED, true or cleared)",
			Fix:       "leave settings.ipConfiguration.requireSsl unset and set only sslMode (components/database.go)",
			check:     checkSSLModePair,
		},
		{
			ID: "sql-ha-needs-pitr", Title: "A REGIONAL PostgreSQL instance has backups and point-in-time recovery on",
			Severity: High, Local: true,
			Reference: "pulumi-gcp v7.38.0 sql.DatabaseInstanceSettings.AvailabilityType (\"For Postgres and SQL Server instances, ensure that settings.backup_configuration.point_in_time_recovery_enabled is set to true\"; backups enabled for all)",
			Fix:       "enable settings.backupConfiguration and its pointInTimeRecoveryEnabled (components/database.go)",
			check:     checkHANeedsPITR,
		},
		{
			ID: "sql-log-retention", Title: "Cloud SQL keeps 1-7 days of transaction logs (1-35 in Enterprise Plus)",
			Severity: High, Local: true,
			Reference: "pulumi-gcp v7.38.0 sql.DatabaseInstanceSettingsBackupConfiguration.TransactionLogRetentionDays (\"from 1-7. For PostgreSQL Enterprise Plus instances ... from 1 to 35\")",
			Fix:       "set dify-gcp:databaseLogRetentionDays to 1-7",
			check:     checkLogRetention,
		},
		{
			ID: "private-services-first", Title: "Cloud SQL with a private network and Memorystore in private services access wait for the Service Networking connection",
			Severity:  High,
			Reference: "pulumi-gcp v7.38.0 sql.DatabaseInstance and redis.Instance examples (pulumi.DependsOn the servicenetworking.Connection); https://cloud.google.com/sql/docs/postgres/configure-private-services-access",
			Fix:       "give the instance pulumi.DependsOn the servicenetworking.Connection of its network (components/database.go, cache.go)",
			check:     checkPrivateServicesFirst,
		},
		{
			ID: "psa-range", Title: "A private services access range is an INTERNAL VPC_PEERING global address in a network, with a prefix length",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/vpc/docs/configure-private-services-access#allocating-range (--purpose=VPC_PEERING --prefix-length --network); pulumi-gcp v7.38.0 servicenetworking.Connection example",
			Fix:       "declare the range with purpose VPC_PEERING, addressType INTERNAL, a network and a prefixLength (components/psa.go)",
			check:     checkPSARange,
		},
		{
			ID: "name-custom-role", Title: "Custom role ids are 3-64 letters, digits, '_' and '.', and their permissions are permission names",
			Severity: High, Local: true,
			Reference: "terraform-provider-google v5.42.0 google/verify/validation.go IAMCustomRoleIDRegex ^[a-zA-Z0-9_\\.]{3,64}$; https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create",
			Fix:       "make role ids from datatier.RoleIDSegment (hyphens become underscores) and list permissions as service.resource.verb (package datatier)",
			check:     checkCustomRoles,
		},
		{
			ID: "name-managed-instances", Title: "Cloud SQL instance names and Memorystore instance ids follow their APIs' rules",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/sql/docs/postgres/instance-settings (instance ID: lowercase letters, numbers and hyphens, starting with a letter, 98 characters or less with the project id); https://cloud.google.com/memorystore/docs/redis/reference/rest/v1/projects.locations.instances/create (instanceId: 1-40 lowercase letters, numbers and hyphens, starting with a letter, ending with a letter or number)",
			Fix:       "shorten the stack name; the instances are dify-STACK-db and dify-STACK-redis (config.DatabaseInstanceName, RedisInstanceName)",
			check:     checkManagedNames,
		},
		{
			ID: "redis-size", Title: "Memorystore for Redis is BASIC or STANDARD_HA with 1-300 GB",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/memorystore/docs/redis/redis-tiers (capacity 1-300 GB); pulumi-gcp v7.38.0 redis.Instance.Tier (BASIC, STANDARD_HA)",
			Fix:       "set dify-gcp:redisTier to BASIC or STANDARD_HA and dify-gcp:redisMemoryGb to 1-300",
			check:     checkRedisSize,
		},
	}
}

func checkSQLTier(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		version, _ := asString(r.Props["databaseVersion"])
		edition, _ := asString(must(r.Get("settings", "edition")))
		tier, ok := asString(must(r.Get("settings", "tier")))
		if !ok || !strings.HasPrefix(version, "POSTGRES_") || (edition != "" && edition != "ENTERPRISE") {
			continue // Enterprise Plus takes db-perf-optimized tiers; not what the program declares
		}
		if _, err := datatier.ParseSQLTier(tier); err != nil {
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s: %v", r.Name, err)})
		}
	}
	return out
}

func checkSSLModePair(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		mode, _ := asString(must(r.Get("settings", "ipConfiguration", "sslMode")))
		legacy, set := r.Get("settings", "ipConfiguration", "requireSsl")
		if !set || isUnknown(legacy) {
			continue
		}
		want := mode == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
		if mode != "" && legacy != want {
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s: sslMode %s with requireSsl %v, which the API refuses as a conflict", r.Name, mode, legacy)})
		}
	}
	return out
}

func checkHANeedsPITR(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		version, _ := asString(r.Props["databaseVersion"])
		if v, _ := r.Get("settings", "availabilityType"); v != "REGIONAL" || !strings.HasPrefix(version, "POSTGRES_") {
			continue
		}
		for _, f := range []string{"enabled", "pointInTimeRecoveryEnabled"} {
			if v, ok := r.Get("settings", "backupConfiguration", f); !isUnknown(v) && !(ok && v == true) {
				out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s is REGIONAL without backupConfiguration.%s", r.Name, f)})
			}
		}
	}
	return out
}

func checkLogRetention(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		v, ok := r.Get("settings", "backupConfiguration", "transactionLogRetentionDays")
		n, isNum := v.(float64)
		if !ok || !isNum {
			continue
		}
		hi := float64(datatier.MaxLogRetentionDays)
		if e, _ := r.Get("settings", "edition"); e == "ENTERPRISE_PLUS" {
			hi = 35
		}
		if n < datatier.MinLogRetentionDays || n > hi {
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s keeps %v days of transaction logs; its edition allows 1-%v", r.Name, n, hi)})
		}
	}
	return out
}

// privateNetworkOf returns a managed instance's network property and whether
// it reaches it through private services access.
func privateNetworkOf(r Resource) (prop string, path []any, private bool) {
	switch r.Type {
	case typeSQLInstance:
		v, ok := r.Get("settings", "ipConfiguration", "privateNetwork")
		return "settings", []any{"ipConfiguration", "privateNetwork"}, ok && v != ""
	case typeRedis:
		v, _ := r.Get("connectMode")
		return "authorizedNetwork", nil, v == datatier.RedisConnectMode
	}
	return "", nil, false
}

func checkPrivateServicesFirst(s Stack) []finding {
	var out []finding
	conns := s.ByType(typeConnection)
	for _, r := range append(s.ByType(typeSQLInstance), s.ByType(typeRedis)...) {
		prop, path, private := privateNetworkOf(r)
		if !private {
			continue
		}
		waits := false
		for _, c := range conns {
			if !r.waitsFor(c.URN) {
				continue
			}
			// The connection must be on the instance's network: the same
			// value, or both computed from the same network.
			theirs, _ := c.Get("network")
			mine, _ := r.Get(append([]any{prop}, path...)...)
			same := theirs == mine && !isUnknown(mine)
			for _, u := range c.PropertyDeps["network"] {
				same = same || r.dependsOn(prop, u)
			}
			waits = waits || same
		}
		if !waits {
			out = append(out, finding{r.URN, fmt.Sprintf("%s %s takes a private address through private services access but does not wait for the Service Networking connection of its network: the API refuses it until the peering exists", r.Type, r.Name)})
		}
	}
	return out
}

func checkPSARange(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeGlobalAddress) {
		if p, _ := r.Get("purpose"); p != "VPC_PEERING" {
			continue
		}
		if t, _ := r.Get("addressType"); t != "INTERNAL" && !isUnknown(t) {
			out = append(out, finding{r.URN, fmt.Sprintf("range %s has purpose VPC_PEERING but addressType %v, not INTERNAL", r.Name, t)})
		}
		for _, f := range []string{"network", "prefixLength"} {
			if _, ok := r.Get(f); !ok {
				out = append(out, finding{r.URN, fmt.Sprintf("range %s has purpose VPC_PEERING but no %s", r.Name, f)})
			}
		}
		if n, isNum := must(r.Get("prefixLength")).(float64); isNum && (n < 8 || n > 29) {
			out = append(out, finding{r.URN, fmt.Sprintf("range %s has prefix length /%v, outside /8 to /29", r.Name, n)})
		}
	}
	return out
}

func checkCustomRoles(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeCustomRole) {
		if id, ok := asString(r.Props["roleId"]); ok && !customRoleIDRE.MatchString(id) {
			out = append(out, finding{r.URN, fmt.Sprintf("custom role %s: roleId %q is not 3-64 letters, digits, '_' or '.'", r.Name, id)})
		}
		perms := asList(r.Props["permissions"])
		if len(perms) == 0 && !isUnknown(r.Props["permissions"]) {
			out = append(out, finding{r.URN, fmt.Sprintf("custom role %s has no permissions", r.Name)})
		}
		for _, p := range perms {
			if name, ok := asString(p); ok && !permissionRE.MatchString(name) {
				out = append(out, finding{r.URN, fmt.Sprintf("custom role %s: %q is not a permission name (service.resource.verb)", r.Name, name)})
			}
		}
	}
	return out
}

func checkManagedNames(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		name, ok := asString(r.Props["name"])
		project, _ := asString(r.Props["project"])
		if !ok {
			continue
		}
		if !sqlInstanceRE.MatchString(name) || len(project)+1+len(name) > 98 {
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance name %q is not lowercase letters, digits and hyphens starting with a letter, within 98 characters with the project id", name)})
		}
	}
	for _, r := range s.ByType(typeRedis) {
		if name, ok := asString(r.Props["name"]); ok && !redisIDRE.MatchString(name) {
			out = append(out, finding{r.URN, fmt.Sprintf("Memorystore instance id %q is not 1-40 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit", name)})
		}
	}
	return out
}

func checkRedisSize(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeRedis) {
		if t, ok := r.Get("tier"); ok && t != datatier.RedisBasic && t != datatier.RedisStandardHA && !isUnknown(t) {
			out = append(out, finding{r.URN, fmt.Sprintf("Memorystore instance %s has tier %v", r.Name, t)})
		}
		if n, isNum := must(r.Get("memorySizeGb")).(float64); isNum && (n < datatier.RedisMinGB || n > datatier.RedisMaxGB) {
			out = append(out, finding{r.URN, fmt.Sprintf("Memorystore instance %s has %v GB; it takes %d-%d", r.Name, n, datatier.RedisMinGB, datatier.RedisMaxGB)})
		}
	}
	return out
}
