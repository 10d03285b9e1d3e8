package config

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/dify-gcp/dify-gcp/datatier"
)

// ManagedSettings configure the managed data tier (dify-gcp:dataTier
// managed): Cloud SQL for PostgreSQL, Memorystore for Redis and a files bucket.
// On the vm tier every one must keep its default.
type ManagedSettings struct {
	DatabaseTier    string // Cloud SQL machine tier, such as db-custom-2-7680
	DatabaseDiskGiB int    // initial storage; Cloud SQL grows it, never shrinks it
	// DatabaseHighAvailability makes the instance REGIONAL: a standby in a
	// second zone takes over when the first fails.
	DatabaseHighAvailability bool
	DatabaseBackups          int // automated daily backups kept
	DatabaseLogRetentionDays int // point-in-time recovery window

	RedisTier     string // datatier.RedisBasic or datatier.RedisStandardHA
	RedisMemoryGB int

	// ServiceRangeCIDR is the private services access range Cloud SQL and
	// Memorystore take their addresses from, in the stack's VPC.
	ServiceRangeCIDR string
}

// dataTierKeys are the keys of the managed data tier, after every other key.
func dataTierKeys() []Key {
	return []Key{
		{Name: Namespace + ":dataTier", Type: "string", Default: datatier.VM,
			Description: "Where Dify keeps its state: vm (default: PostgreSQL, Redis and Weaviate in containers on the VM's data disk) or managed (Cloud SQL for PostgreSQL with pgvector, Memorystore for Redis, a Cloud Storage bucket for files; docs/managed.md). A stack that ran managed refuses vm: its data would be left behind."},
		{Name: Namespace + ":databaseTier", Type: "string", Default: "db-custom-2-7680",
			Description: "With dataTier managed: the Cloud SQL machine tier, db-custom-VCPUS-MEMORY_MIB (1 or an even number of vCPUs, 0.9-6.5 GiB per vCPU in multiples of 256 MiB, at least 3840), or the shared-core db-f1-micro and db-g1-small outside production."},
		{Name: Namespace + ":databaseDiskGiB", Type: "integer", Default: 20,
			Description: "With dataTier managed: Cloud SQL's initial SSD storage in GB (10-65536); it grows by itself and never shrinks, so raising this later changes nothing."},
		{Name: Namespace + ":databaseHighAvailability", Type: "boolean", Default: false,
			Description: "With dataTier managed: REGIONAL Cloud SQL, a standby in a second zone that takes over within about a minute. Required in production; it doubles the instance's price."},
		{Name: Namespace + ":databaseBackups", Type: "integer", Default: 7,
			Description: "With dataTier managed: how many daily automated Cloud SQL backups are kept (1-365)."},
		{Name: Namespace + ":databaseLogRetentionDays", Type: "integer", Default: 7,
			Description: "With dataTier managed: days of transaction logs kept for point-in-time recovery (1-7, and at most dify-gcp:databaseBackups)."},
		{Name: Namespace + ":redisTier", Type: "string", Default: datatier.RedisBasic,
			Description: "With dataTier managed: Memorystore for Redis tier, BASIC (one node) or STANDARD_HA (a replica in another zone with automatic failover; required in production)."},
		{Name: Namespace + ":redisMemoryGb", Type: "integer", Default: 1,
			Description: "With dataTier managed: Memorystore capacity in GB (1-300). Dify keeps its cache and Celery's queue there."},
		{Name: Namespace + ":serviceRangeCidr", Type: "string", Default: "10.20.0.0/20",
			Description: "With dataTier managed: the private services access range (/16 to /24) Cloud SQL and Memorystore take their private addresses from; must not overlap the stack's subnets."},
	}
}

// readDataTier reads the keys of dataTierKeys.
func (r *reader) readDataTier() (string, ManagedSettings) {
	return r.str(ns("dataTier")), ManagedSettings{
		DatabaseTier:             r.str(ns("databaseTier")),
		DatabaseDiskGiB:          r.integer(ns("databaseDiskGiB")),
		DatabaseHighAvailability: r.boolean(ns("databaseHighAvailability")),
		DatabaseBackups:          r.integer(ns("databaseBackups")),
		DatabaseLogRetentionDays: r.integer(ns("databaseLogRetentionDays")),
		RedisTier:                r.str(ns("redisTier")),
		RedisMemoryGB:            r.integer(ns("redisMemoryGb")),
		ServiceRangeCIDR:         r.str(ns("serviceRangeCidr")),
	}
}

// IsManaged reports whether the stack runs the managed data tier.
func (c *Config) IsManaged() bool { return c.DataTier == datatier.Managed }

// FilesBucketName is the globally unique name of the bucket holding Dify's
// files on the managed tier.
func (c *Config) FilesBucketName() string { return c.Project + "-" + c.Name() + "-files" }

// DatabaseInstanceName is the Cloud SQL instance's name. A deleted
// instance's name cannot be used again for about a week.
func (c *Config) DatabaseInstanceName() string { return c.Name() + "-db" }

// RedisInstanceName is the Memorystore instance's id.
func (c *Config) RedisInstanceName() string { return c.Name() + "-redis" }

// dataTier judges the data tier and the managed tier's settings: on the vm
// tier none may be changed (it would do nothing), on the managed tier each
// must be what Cloud SQL and Memorystore accept, and production must survive
// a zone failure.
func (r *rules) dataTier() {
	c := r.c
	k := ns("dataTier")
	if !r.judge(k) {
		return
	}
	switch c.DataTier {
	case datatier.VM:
		r.unusedOnVM()
		return
	case datatier.Managed:
	default:
		r.fail(k, c.DataTier, "must be vm or managed", "pulumi config set dify-gcp:dataTier vm (or managed: docs/managed.md)")
		return
	}
	m := c.Managed
	prod := c.Production && r.judge(ns("production"))

	if k := ns("databaseTier"); r.judge(k) {
		tier, err := datatier.ParseSQLTier(m.DatabaseTier)
		switch {
		case err != nil:
			r.fail(k, m.DatabaseTier, fmt.Sprintf("is refused: %v", err), "pulumi config set dify-gcp:databaseTier db-custom-2-7680")
		case tier.Shared && prod:
			r.fail(k, m.DatabaseTier, "is a shared-core tier in a production stack: no SLA covers it, and it allows only 25 or 50 connections where Dify's api, worker and plugin daemon pool up to about 160",
				"pulumi config set dify-gcp:databaseTier db-custom-2-7680")
		}
	}
	r.between(ns("databaseDiskGiB"), m.DatabaseDiskGiB, datatier.MinDiskGB, datatier.MaxDiskGB, "GB")
	if k := ns("databaseHighAvailability"); r.judge(k) && prod && !m.DatabaseHighAvailability {
		r.fail(k, "false", "is off in a production stack: a zone failure would take the database, and Dify with it, down until Google restores the zone",
			"pulumi config set dify-gcp:databaseHighAvailability true (a standby in a second zone; it doubles the instance's price, see docs/managed.md)")
	}
	backups, logs := ns("databaseBackups"), ns("databaseLogRetentionDays")
	r.between(backups, m.DatabaseBackups, datatier.MinRetainedBackups, datatier.MaxRetainedBackups, "backups")
	if r.judge(logs) {
		switch {
		case m.DatabaseLogRetentionDays < datatier.MinLogRetentionDays || m.DatabaseLogRetentionDays > datatier.MaxLogRetentionDays:
			r.between(logs, m.DatabaseLogRetentionDays, datatier.MinLogRetentionDays, datatier.MaxLogRetentionDays, "days (Cloud SQL Enterprise keeps at most 7 days of transaction logs)")
		case r.judge(backups) && m.DatabaseBackups >= datatier.MinRetainedBackups && m.DatabaseLogRetentionDays > m.DatabaseBackups:
			r.fail(logs, strconv.Itoa(m.DatabaseLogRetentionDays),
				fmt.Sprintf("is more than dify-gcp:databaseBackups (%d): point-in-time recovery replays logs onto a kept backup, so it reaches back only as far as the oldest one", m.DatabaseBackups),
				fmt.Sprintf("pulumi config set dify-gcp:databaseLogRetentionDays %d, or keep more backups", m.DatabaseBackups))
		}
	}
	if k := ns("redisTier"); r.judge(k) {
		switch m.RedisTier {
		case datatier.RedisStandardHA:
		case datatier.RedisBasic:
			if prod {
				r.fail(k, m.RedisTier, "is BASIC in a production stack: one node, so a zone failure or maintenance loses Dify's queue and sessions",
					"pulumi config set dify-gcp:redisTier STANDARD_HA")
			}
		default:
			r.fail(k, m.RedisTier, "must be BASIC or STANDARD_HA", "pulumi config set dify-gcp:redisTier STANDARD_HA")
		}
	}
	r.between(ns("redisMemoryGb"), m.RedisMemoryGB, datatier.RedisMinGB, datatier.RedisMaxGB, "GB (Memorystore for Redis's capacity)")
	if p, ok := r.prefix(ns("serviceRangeCidr"), m.ServiceRangeCIDR, 16, 24); ok {
		for _, sub := range []struct{ key, value string }{{ns("vmSubnetCidr"), c.VMSubnetCIDR}, {ns("runSubnetCidr"), c.RunSubnetCIDR}} {
			if !r.judge(sub.key) {
				continue
			}
			if q, err := netip.ParsePrefix(sub.value); err == nil && q.Overlaps(p) {
				r.fail(ns("serviceRangeCidr"), m.ServiceRangeCIDR, fmt.Sprintf("overlaps %s %s: Cloud SQL and Memorystore would take addresses the VPC already routes", sub.key, sub.value),
					"choose a range outside the stack's subnets, such as 10.20.0.0/20")
			}
		}
	}
}

// unusedOnVM refuses a managed-tier setting changed on the vm tier, where it
// would silently do nothing.
func (r *rules) unusedOnVM() {
	m := r.c.Managed
	values := map[string]string{
		ns("databaseTier"): m.DatabaseTier, ns("databaseDiskGiB"): strconv.Itoa(m.DatabaseDiskGiB),
		ns("databaseHighAvailability"): strconv.FormatBool(m.DatabaseHighAvailability), ns("databaseBackups"): strconv.Itoa(m.DatabaseBackups),
		ns("databaseLogRetentionDays"): strconv.Itoa(m.DatabaseLogRetentionDays), ns("redisTier"): m.RedisTier,
		ns("redisMemoryGb"): strconv.Itoa(m.RedisMemoryGB), ns("serviceRangeCidr"): m.ServiceRangeCIDR,
	}
	for _, k := range dataTierKeys()[1:] { // every key but dataTier itself, in order
		if v := values[k.Name]; r.judge(k.Name) && v != fmt.Sprint(k.Default) {
			r.fail(k.Name, v, "is set but dify-gcp:dataTier is vm, which has no Cloud SQL, Memorystore or files bucket: it would do nothing",
				fmt.Sprintf("pulumi config rm %s, or pulumi config set dify-gcp:dataTier managed", k.Name))
		}
	}
}

// CheckTierChange refuses to run a stack on the vm tier when its last
// deployment ran the managed tier (previous is the dataTier output that
// deployment exported; "" for a stack never deployed, or deployed before the
// output existed, which could only be vm). Going back would register the vm
// tier without Cloud SQL, Memorystore and the files bucket, and every row
// and file in them would be left behind, out of the program's hands (Cloud
// SQL and the bucket are protected, so `pulumi up` would stop at them, but
// only after the VM had already been switched to an empty tier). The refusal
// comes before any resource is registered, like every config problem.
func (c *Config) CheckTierChange(previous string) error {
	if previous != datatier.Managed || c.DataTier != datatier.VM {
		return nil
	}
	return Problems{{
		Key: ns("dataTier"), Value: c.DataTier,
		Reason: "would move a stack whose last deployment ran the managed tier back to the vm tier: Dify's database, files and queue are in Cloud SQL, the files bucket and Memorystore, and the VM would start on an empty data disk while they stayed behind",
		Fix:    "keep pulumi config set dify-gcp:dataTier managed; to go back to a VM, restore a backup into a new vm stack, or take a backup, pulumi destroy this stack and deploy it again on vm (docs/managed.md, \"Back to the vm tier\")",
	}}
}
