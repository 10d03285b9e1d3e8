// Package datatier holds the fixed facts of the managed data tier (Cloud SQL
// for PostgreSQL, Memorystore for Redis and a Cloud Storage bucket for Dify's
// files) that several parts must agree on: the config rules judge machine
// tiers and sizes with them, the components build with them, the cloud rules
// check the graph against them and the cost estimate prices with them. Like
// package topology it imports nothing, so the policy pack stays light.
//
// Every fact cites where it is written down; docs/managed.md repeats them for
// operators.
package datatier

import (
	"fmt"
	"strconv"
	"strings"
)

// Data tiers, the values of dify-gcp:dataTier (and of hostscript.TierVM and
// hostscript.TierManaged, the startup script's side of the same choice).
const (
	VM      = "vm"
	Managed = "managed"
)

const (
	// DatabaseVersion is Cloud SQL's PostgreSQL major version: the one of the
	// vm tier's db service (postgres:15-alpine in Dify 1.8.1's compose file),
	// so the VM's pg_dump (never older than the server, or it refuses) and a
	// dump from the vm tier both restore as they are.
	DatabaseVersion = "POSTGRES_15"
	// Edition is Cloud SQL Enterprise: it takes the shared-core and
	// db-custom tiers below (Enterprise Plus takes only db-perf-optimized-*,
	// and is the default for PostgreSQL 16 and later, so it is named).
	Edition = "ENTERPRISE"
	// DBUser is the built-in user Dify, the plugin daemon and the backups use:
	// Cloud SQL creates postgres with the instance, without a password, as a
	// member of cloudsqlsuperuser (CREATEDB, CREATEROLE, LOGIN; may CREATE
	// EXTENSION vector). The VM sets its password through the Admin API
	// (users.update), so no password ever passes through Pulumi.
	// Source: https://cloud.google.com/sql/docs/postgres/users ("Default
	// PostgreSQL users"). The program cannot create another user without a
	// password: the API refuses a PostgreSQL user without one
	// (hashicorp/terraform-provider-google#4123, "Missing user password for
	// PostgreSQL instance").
	DBUser = "postgres"
	// SSLMode makes Cloud SQL refuse unencrypted connections without asking
	// for client certificates: what libpq's sslmode=require (Dify's api) and
	// the plugin daemon's DB_SSL_MODE=require (0.2.0 accepts disable or
	// require) both satisfy. TRUSTED_CLIENT_CERTIFICATE_REQUIRED would need
	// client certificates neither is given. With it, the legacy requireSsl
	// flag must be false or unset (Cloud SQL Admin API, IpConfiguration.SslMode).
	SSLMode = "ENCRYPTED_ONLY"
	// RedisPort is Memorystore for Redis's port.
	RedisPort = 6379
	// RedisConnectMode puts Memorystore in the same private services access
	// range as Cloud SQL: one allocated range and one peering for both.
	RedisConnectMode = "PRIVATE_SERVICE_ACCESS"
	// RedisTransitEncryption stays off: the plugin daemon 0.2.0 builds its
	// TLS config with the system roots only (tls.Config{} in
	// internal/utils/cache/redis.go at tag 0.2.0), so it cannot verify the
	// private CA Memorystore gives each instance; a custom CA arrives in
	// daemon 0.5.3. A recorded policy exception (redis-in-transit-encryption)
	// says so in every preview.
	RedisTransitEncryption = "DISABLED"
	// PeeringService is the producer service of private services access.
	PeeringService = "servicenetworking.googleapis.com"
)

// Memorystore for Redis tiers.
const (
	RedisBasic      = "BASIC"
	RedisStandardHA = "STANDARD_HA"
)

// Memorystore for Redis capacity, in GB, for both tiers
// (https://cloud.google.com/memorystore/docs/redis/redis-tiers; check).
const (
	RedisMinGB = 1
	RedisMaxGB = 300
)

// RedisMaxClients is Memorystore for Redis's connection limit per instance,
// whatever its size (https://cloud.google.com/memorystore/docs/redis/quotas;
// check).
const RedisMaxClients = 65000

// Databases are the PostgreSQL databases Dify uses: dify for the api (and
// pgvector's tables, VECTOR_STORE=pgvector), dify_plugin for the plugin
// daemon.
func Databases() []string { return []string{"dify", "dify_plugin"} }

// Transaction log retention for point-in-time recovery, in days, in the
// Enterprise edition (pulumi-gcp v7.38.0
// sql.DatabaseInstanceSettingsBackupConfigurationArgs.TransactionLogRetentionDays:
// "from 1-7").
const (
	MinLogRetentionDays = 1
	MaxLogRetentionDays = 7
)

// Automated backups kept, one a day
// (https://cloud.google.com/sql/docs/postgres/backup-recovery/backups; 1-365).
const (
	MinRetainedBackups = 1
	MaxRetainedBackups = 365
)

// Cloud SQL storage, in GB (10 GB to 64 TB).
const (
	MinDiskGB = 10
	MaxDiskGB = 65536
)

// SQLTier is a Cloud SQL machine tier read from its name.
type SQLTier struct {
	Name string
	// Shared is true for the shared-core tiers, which no SLA covers.
	Shared bool
	// VCPUs is 0 for the shared-core tiers.
	VCPUs int
	// MemoryMiB is the tier's memory.
	MemoryMiB int
}

// shared are the shared-core tiers and their memory (0.6 and 1.7 GB).
func shared() map[string]int { return map[string]int{"db-f1-micro": 614, "db-g1-small": 1740} }

// ParseSQLTier reads a Cloud SQL Enterprise tier for PostgreSQL: db-f1-micro,
// db-g1-small, or db-custom-VCPUS-MEMORY_MIB with 1 or an even number of vCPUs
// from 2 to 96, and memory a multiple of 256 MiB, at least 3840 MiB and 0.9 to
// 6.5 GiB per vCPU. PostgreSQL takes no other Enterprise tier: the API answers
// "Only custom or shared-core instance Billing Tier type allowed for
// PostgreSQL database" (https://cloud.google.com/sql/docs/postgres/instance-settings,
// machine types; the pinned SDK's DatabaseInstanceSettings.Tier doc).
func ParseSQLTier(name string) (SQLTier, error) {
	if mem, ok := shared()[name]; ok {
		return SQLTier{Name: name, Shared: true, MemoryMiB: mem}, nil
	}
	rest, ok := strings.CutPrefix(name, "db-custom-")
	cpuText, memText, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 {
		return SQLTier{}, fmt.Errorf("%q is not a Cloud SQL tier for PostgreSQL (db-custom-VCPUS-MEMORY_MIB such as db-custom-2-7680, or the shared-core db-f1-micro and db-g1-small)", name)
	}
	cpus, err1 := strconv.Atoi(cpuText)
	mem, err2 := strconv.Atoi(memText)
	switch {
	case err1 != nil || err2 != nil || cpuText != strconv.Itoa(cpus) || memText != strconv.Itoa(mem):
		return SQLTier{}, fmt.Errorf("%q does not give whole numbers of vCPUs and MiB (db-custom-2-7680)", name)
	case cpus != 1 && (cpus < 2 || cpus > 96 || cpus%2 != 0):
		return SQLTier{}, fmt.Errorf("%q has %d vCPUs: Cloud SQL takes 1 or an even number from 2 to 96", name, cpus)
	case mem%256 != 0:
		return SQLTier{}, fmt.Errorf("%q has %d MiB of memory: it must be a multiple of 256", name, mem)
	case mem < 3840:
		return SQLTier{}, fmt.Errorf("%q has %d MiB of memory: at least 3840 (3.75 GiB)", name, mem)
	case mem*10 < cpus*9*1024 || mem*2 > cpus*13*1024:
		return SQLTier{}, fmt.Errorf("%q has %.2f GiB per vCPU: Cloud SQL takes 0.9 to 6.5", name, float64(mem)/1024/float64(cpus))
	}
	return SQLTier{Name: name, VCPUs: cpus, MemoryMiB: mem}, nil
}

// MaxConnections is PostgreSQL's max_connections on Cloud SQL for an instance
// of memMiB, unless the flag is set: 25 and 50 for the shared-core tiers, then
// 100 from 3.75 GB, 200 from 6, 400 from 7.5, 500 from 15, 600 from 30, 800
// from 60 and 1000 from 120 (https://cloud.google.com/sql/docs/postgres/quotas,
// "Maximum concurrent connections"; check: which side of a boundary an exact
// size such as 7.5 GB falls on is not confirmed).
func MaxConnections(memMiB int) int {
	gib := float64(memMiB) / 1024
	steps := []struct {
		from float64
		max  int
	}{{120, 1000}, {60, 800}, {30, 600}, {15, 500}, {7.5, 400}, {6, 200}, {3.75, 100}, {1.5, 50}}
	for _, s := range steps {
		if gib >= s.from {
			return s.max
		}
	}
	return 25
}

// RoleIDSegment turns a stack name into a part of a custom role id, which
// takes only letters, digits, '_' and '.' (3-64 characters): hyphens become
// underscores.
func RoleIDSegment(s string) string { return strings.ReplaceAll(s, "-", "_") }

// DatabaseClientPermissions are all the VM needs of the Cloud SQL Admin API:
// set the postgres user's password (users.update), check the user is there
// (users.list), and read the instance and wait for its operations
// (instances.get; "Get the operations of an instance" needs
// cloudsql.instances.get). Source:
// https://cloud.google.com/sql/docs/postgres/iam-permissions. Cloud SQL has
// no per-instance IAM policy, so the role is granted on the project.
func DatabaseClientPermissions() []string {
	return []string{"cloudsql.instances.get", "cloudsql.users.list", "cloudsql.users.update"}
}

// CacheClientPermissions are all the VM needs of the Memorystore API: read the
// AUTH string (instances.getAuthString). Source:
// https://cloud.google.com/iam/docs/roles-permissions/redis.
func CacheClientPermissions() []string { return []string{"redis.instances.getAuthString"} }

// FilesPermissions are what Dify's google-storage backend needs on its bucket,
// and no more: every call starts with client.get_bucket (buckets.get), then
// uploads, reads or deletes one object (api/extensions/storage/google_cloud_storage.py:
// save, load_once, load_stream, download, exists, delete); the backup and
// the migration list the bucket. The permission per call is Cloud Storage's
// (https://cloud.google.com/storage/docs/access-control/iam-json: buckets.get
// needs storage.buckets.get; an upload that overwrites needs
// storage.objects.delete too). A restore copies the files back with `gcloud
// storage rsync`, which patches the metadata (the recorded mtime) of an
// object whose content already matches: storage.objects.update.
// roles/storage.objectUser lacks storage.buckets.get, and objectAdmin with
// legacyBucketReader grants more, so the bucket gets a custom role of exactly
// these (https://cloud.google.com/storage/docs/access-control/iam-roles).
func FilesPermissions() []string {
	return []string{"storage.buckets.get", "storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list", "storage.objects.update"}
}
