// Package signals is what a Dify deployment watches and shows, as plain
// values: the Cloud Monitoring metrics and filters that the alerts, the SLO and
// the dashboard read; the catalog of alert policies with their thresholds and
// reasons; the SLO and its burn-rate windows; the dashboard, built as the JSON
// Cloud Monitoring's dashboards API takes and drawn as a picture for the docs;
// and the exclusion of health-check request logs.
//
// It imports no Pulumi SDK. The components turn these values into resources,
// and the cost estimate, the docs and their tests read the very same values,
// quickly, without linking the Google Cloud SDK.
package signals

import (
	"fmt"
	"strings"
)

// Metric types the deployment reads, with the monitored resource type their
// time series are written against (a filter names both). Sources: Google's
// metrics lists, cloud.google.com/monitoring/api/metrics_gcp (run, compute,
// logging, monitoring) and metrics_opsagent (agent.googleapis.com), and the
// Ops Agent's own list of what it sends, GoogleCloudPlatform/ops-agent
// integration_test/ops_agent_test/agent_metrics/metadata.yaml. The cloud rule
// metric-filters (policy.Metrics) holds every filter of a stack to them.
const (
	RunRequestCount     = "run.googleapis.com/request_count"            // DELTA INT64; response_code, response_code_class
	RunRequestLatencies = "run.googleapis.com/request_latencies"        // DELTA DISTRIBUTION, ms
	RunInstanceCount    = "run.googleapis.com/container/instance_count" // GAUGE INT64; state (active, idle)
	RunRevision         = "cloud_run_revision"                          // resource labels service_name, revision_name, location

	ComputeCPU    = "compute.googleapis.com/instance/cpu/utilization" // GAUGE DOUBLE, 0-1; instance_name
	ComputeUptime = "compute.googleapis.com/instance/uptime"          // DELTA DOUBLE; instance_name
	GCEInstance   = "gce_instance"                                    // resource labels instance_id, zone, project_id

	// The Ops Agent's metrics carry no instance name: filter them by the
	// resource's instance_id.
	AgentMemoryPercent = "agent.googleapis.com/memory/percent_used" // GAUGE DOUBLE; state: buffered, cached, free, slab, used
	AgentSwapPercent   = "agent.googleapis.com/swap/percent_used"   // GAUGE DOUBLE; device, state
	AgentDiskPercent   = "agent.googleapis.com/disk/percent_used"   // GAUGE DOUBLE; device, state: free, reserved, used
	AgentUptime        = "agent.googleapis.com/agent/uptime"        // CUMULATIVE INT64; version

	UptimeCheckPassed = "monitoring.googleapis.com/uptime_check/check_passed" // GAUGE BOOL; check_id, checker_location
	UptimeURL         = "uptime_url"

	// LogEntryCount counts log entries by log and severity. Every project has
	// it, so an alert on it never waits for a log-based metric to exist
	// (terraform-provider-google#11102).
	LogEntryCount = "logging.googleapis.com/log_entry_count" // DELTA INT64; log, severity
)

// Filter is a Cloud Monitoring time-series filter over one metric type on one
// monitored resource type, narrowed by clauses joined with AND.
func Filter(metricType, resourceType string, clauses ...string) string {
	parts := append([]string{Eq("metric.type", metricType), Eq("resource.type", resourceType)}, clauses...)
	return strings.Join(parts, " AND ")
}

// Eq is the clause field="value".
func Eq(field, value string) string { return fmt.Sprintf("%s=%q", field, value) }

// Service narrows a Cloud Run metric to one service.
func Service(name string) string { return Eq("resource.label.service_name", name) }

// Instance narrows an Ops Agent metric to one VM, by its numeric id.
func Instance(id string) string { return Eq("resource.label.instance_id", id) }

// InstanceName narrows a Compute Engine metric to one VM, by name.
func InstanceName(name string) string { return Eq("metric.label.instance_name", name) }
