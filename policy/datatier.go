package policy

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/topology"
)

// Type tokens of the managed data tier.
const (
	typeSQLInstance   = "gcp:sql/databaseInstance:DatabaseInstance"
	typeSQLDatabase   = "gcp:sql/database:Database"
	typeRedis         = "gcp:redis/instance:Instance"
	typeConnection    = "gcp:servicenetworking/connection:Connection"
	typeGlobalAddress = "gcp:compute/globalAddress:GlobalAddress"
	typeCustomRole    = "gcp:projects/iAMCustomRole:IAMCustomRole"
)

// dataTierPolicies are the managed data tier's policies, in the order
// reports list them (after the others).
func dataTierPolicies() []Policy {
	return []Policy{
		{
			ID: "sql-no-public-ip", Title: "Cloud SQL instances have no public IP address",
			Severity: High, Reference: "CIS GCP 6.6", Local: true,
			Fix:   "set settings.ipConfiguration.ipv4Enabled to false and give the instance a privateNetwork through private services access (components/database.go)",
			check: checkSQLNoPublicIP,
		},
		{
			ID: "sql-requires-ssl", Title: "Cloud SQL refuses connections without SSL",
			Severity: High, Reference: "CIS GCP 6.4", Local: true,
			Fix:   `set settings.ipConfiguration.sslMode to "ENCRYPTED_ONLY" (what libpq's sslmode=require and the plugin daemon's DB_SSL_MODE=require satisfy) or "TRUSTED_CLIENT_CERTIFICATE_REQUIRED" (components/database.go, datatier.SSLMode)`,
			check: checkSQLRequiresSSL,
		},
		{
			ID: "sql-backups-and-pitr", Title: "Cloud SQL takes automated backups and keeps logs for point-in-time recovery",
			Severity: High, Reference: "CIS GCP 6.7; DESIGN.md: data tier (point-in-time recovery)", Local: true,
			Fix:   "set settings.backupConfiguration.enabled and .pointInTimeRecoveryEnabled to true, with retainedBackups and transactionLogRetentionDays of at least 1 (config databaseBackups, databaseLogRetentionDays; components/database.go)",
			check: checkSQLBackups,
		},
		{
			ID: "sql-protected", Title: "Cloud SQL and its databases are protected from deletion",
			Severity: Critical, Reference: "DESIGN.md: data that must survive (deletion protection on what holds Dify's data)", Local: true,
			Fix:   "declare the instance with settings.deletionProtectionEnabled true and pulumi.Protect(true), and each sql.Database with pulumi.Protect(true) (components/database.go)",
			check: checkSQLProtected,
		},
		{
			ID: "redis-auth", Title: "Memorystore for Redis requires AUTH",
			Severity: High, Reference: "DESIGN.md: data tier (Memorystore with AUTH on; secrets never default)", Local: true,
			Fix:   "set authEnabled to true on the instance; the VM reads the AUTH string with instances.getAuthString (components/cache.go)",
			check: checkRedisAuth,
		},
		{
			ID: "redis-in-transit-encryption", Title: "Traffic to Memorystore for Redis is encrypted in transit",
			Severity: Medium, Reference: "DESIGN.md: data tier (data in transit)", Local: true,
			Fix: `set transitEncryptionMode to "SERVER_AUTHENTICATION" (at creation only: it replaces the instance) once every client verifies Memorystore's CA (components/cache.go)`,
			Exception: &Exception{Reason: "the plugin daemon of Dify 1.8.1 (0.2.0) builds its Redis TLS config from the system roots only " +
				"(tls.Config{} in internal/utils/cache/redis.go), so it cannot verify the private CA Memorystore gives each instance and would fail to connect; " +
				"the traffic stays inside the VPC's private services peering and AUTH is required (redis-auth); a custom CA arrives in daemon 0.5.3"},
			check: checkRedisTransit,
		},
		{
			ID: "files-bucket-keeps-files", Title: "The bucket of Dify's files deletes nothing by itself and is protected",
			Severity: Critical, Reference: "DESIGN.md: data that must survive (the tenants' private keys are among the files)", Local: true,
			Fix:   "on the bucket labelled " + topology.BucketLabel + "=" + topology.FilesBucket + ": no lifecycle Delete rule, soft delete not turned off, forceDestroy false and pulumi.Protect(true) (components/files.go)",
			check: checkFilesBucket,
		},
	}
}

func checkSQLNoPublicIP(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		// Left out, ipv4Enabled is true: the provider gives an instance a
		// public address unless told not to.
		v, ok := r.Get("settings", "ipConfiguration", "ipv4Enabled")
		if isUnknown(v) || (ok && v == false) {
			continue
		}
		out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s has a public IP address (ipConfiguration.ipv4Enabled is %v)", r.Name, describeValue(v, ok))})
	}
	return out
}

func checkSQLRequiresSSL(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		mode, okMode := r.Get("settings", "ipConfiguration", "sslMode")
		legacy, _ := r.Get("settings", "ipConfiguration", "requireSsl")
		if isUnknown(mode) || isUnknown(legacy) {
			continue
		}
		switch m, _ := asString(mode); {
		case m == "ENCRYPTED_ONLY" || m == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED":
		case !okMode && legacy == true:
		default:
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s accepts connections without SSL (sslMode %s)", r.Name, describeValue(mode, okMode))})
		}
	}
	return out
}

func checkSQLBackups(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		for _, f := range []struct{ path, what string }{
			{"enabled", "automated backups are off"}, {"pointInTimeRecoveryEnabled", "point-in-time recovery is off"},
		} {
			v, ok := r.Get("settings", "backupConfiguration", f.path)
			if !isUnknown(v) && !(ok && v == true) {
				out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s: %s (backupConfiguration.%s %s)", r.Name, f.what, f.path, describeValue(v, ok))})
			}
		}
		for _, path := range [][]any{{"transactionLogRetentionDays"}, {"backupRetentionSettings", "retainedBackups"}} {
			v, ok := r.Get(append([]any{"settings", "backupConfiguration"}, path...)...)
			if n, isNum := v.(float64); ok && isNum && n < 1 {
				out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s keeps %v of %v", r.Name, n, path[len(path)-1])})
			}
		}
	}
	return out
}

func checkSQLProtected(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSQLInstance) {
		if v, ok := r.Get("settings", "deletionProtectionEnabled"); !isUnknown(v) && !(ok && v == true) {
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s has Cloud SQL's deletion protection off (settings.deletionProtectionEnabled %s)", r.Name, describeValue(v, ok))})
		}
		if !r.Protect {
			out = append(out, finding{r.URN, fmt.Sprintf("Cloud SQL instance %s is not protected by Pulumi: `pulumi destroy` or a replacement would delete every row", r.Name)})
		}
	}
	for _, r := range s.ByType(typeSQLDatabase) {
		if !r.Protect {
			out = append(out, finding{r.URN, fmt.Sprintf("database %s is not protected by Pulumi: removing it from the program would drop it", r.Name)})
		}
	}
	return out
}

func checkRedisAuth(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeRedis) {
		if v, ok := r.Get("authEnabled"); !isUnknown(v) && !(ok && v == true) {
			out = append(out, finding{r.URN, fmt.Sprintf("Memorystore instance %s lets anyone on the network in without AUTH (authEnabled %s)", r.Name, describeValue(v, ok))})
		}
	}
	return out
}

func checkRedisTransit(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeRedis) {
		if v, ok := r.Get("transitEncryptionMode"); !isUnknown(v) && v != "SERVER_AUTHENTICATION" {
			out = append(out, finding{r.URN, fmt.Sprintf("Memorystore instance %s is reached without TLS (transitEncryptionMode %s)", r.Name, describeValue(v, ok))})
		}
	}
	return out
}

// isFilesBucket reports whether a bucket holds Dify's files.
func isFilesBucket(b Resource) bool {
	v, _ := b.Get("labels", topology.BucketLabel)
	return v == topology.FilesBucket
}

func checkFilesBucket(s Stack) []finding {
	var out []finding
	for _, b := range s.ByType(typeBucket) {
		if !isFilesBucket(b) {
			continue
		}
		for _, rule := range asList(must(b.Get("lifecycleRules"))) {
			if typ, _ := lookup(rule, "action", "type"); typ == "Delete" {
				out = append(out, finding{b.URN, fmt.Sprintf("files bucket %s has a lifecycle rule deleting objects: uploads and the tenants' keys would disappear", b.Name)})
			}
		}
		if v, ok := b.Get("softDeletePolicy", "retentionDurationSeconds"); ok && v == float64(0) {
			out = append(out, finding{b.URN, fmt.Sprintf("files bucket %s turns soft delete off: a deleted or overwritten file cannot be restored", b.Name)})
		}
		if v, _ := b.Get("forceDestroy"); v == true {
			out = append(out, finding{b.URN, fmt.Sprintf("files bucket %s is force-destroyed with its files", b.Name)})
		}
		if !b.Protect {
			out = append(out, finding{b.URN, fmt.Sprintf("files bucket %s is not protected by Pulumi", b.Name)})
		}
	}
	return out
}

// describeValue shows a property's value in a message, or that it is unset.
func describeValue(v any, set bool) string {
	if !set {
		return "unset"
	}
	return fmt.Sprintf("%v", v)
}
