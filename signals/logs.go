package signals

import (
	"fmt"
	"strings"
)

// What the logs of a deployment look like, where several parts must agree:
// the proxy writes its access log, the Ops Agent ships the containers' logs,
// and the alerts, the exclusion and the runbook query both.
const (
	// UptimeCheckUserAgent starts the User-Agent of every request Cloud
	// Monitoring's uptime checkers send: "GoogleStackdriverMonitoring-
	// UptimeChecks(https://cloud.google.com/monitoring)"
	// (cloud.google.com/monitoring/uptime-checks/using-uptime-checks: the
	// header identifies uptime-check traffic in a service's logs).
	UptimeCheckUserAgent = "GoogleStackdriverMonitoring-UptimeChecks"

	// RunRequestsLog is the log of Cloud Run's own request entries,
	// RunStdoutLog the log of what the container writes to stdout: the
	// proxy's JSON access log. Cloud Logging takes a stdout line that is a
	// JSON object as the entry's jsonPayload, and its "severity" field as the
	// entry's severity (cloud.google.com/run/docs/logging, "special JSON
	// fields").
	RunRequestsLog = "run.googleapis.com/requests"
	RunStdoutLog   = "run.googleapis.com/stdout"

	// ProxyOwnErrorSeverity is the severity of exactly those access-log
	// entries that record an answer the proxy made up because it could not
	// get one from the VM (its own 502 and 504): proxy/templates'
	// $dify_proxy_severity. Dify's own 502s, which the proxy passes through,
	// are WARNING. The unreachable alert counts the ERROR entries in
	// log_entry_count, which knows a log's severities and nothing else.
	ProxyOwnErrorSeverity = "ERROR"

	// ContainerLog is the log the Ops Agent writes Dify's container logs
	// to (its receiver id in /etc/google-cloud-ops-agent/config.yaml,
	// hostscript/startup/opsagent.sh), and ServiceLabel the entry label that
	// carries the container's compose service (api, worker, nginx, ...).
	ContainerLog = "dify_containers"
	ServiceLabel = "compose_service"
)

// HealthCheckExclusion is the Cloud Logging filter of the request logs that
// successful uptime probes leave on their way to Dify: the load balancer's
// (with the edge), Cloud Run's, the proxy's access log and Dify's nginx.
// Probes that failed (status 400 or more) stay, for the runbook. Each branch
// names its resource, so nothing of another workload in the project is
// dropped. In Cloud Logging's query language OR binds tighter than AND
// (cloud.google.com/logging/docs/view/logging-query-language, "Boolean
// operators"), so every branch is parenthesised.
func HealthCheckExclusion(service, backendService string) string {
	ua := fmt.Sprintf("%q", UptimeCheckUserAgent)
	run := fmt.Sprintf(`resource.type="cloud_run_revision" AND resource.labels.service_name=%q`, service)
	branches := []string{
		fmt.Sprintf(`%s AND log_id(%q) AND httpRequest.userAgent:%s AND httpRequest.status<400`, run, RunRequestsLog, ua),
		fmt.Sprintf(`%s AND log_id(%q) AND jsonPayload.user_agent:%s AND jsonPayload.status<400`, run, RunStdoutLog, ua),
		// Dify's nginx logs the request as text in combined format:
		// '... "GET /console/api/ping HTTP/1.1" 200 17 "-" "<user agent>" ...'.
		fmt.Sprintf(`resource.type="gce_instance" AND log_id(%q) AND labels.%s="nginx" AND jsonPayload.message:%s AND jsonPayload.message=~"\" [23][0-9][0-9] "`,
			ContainerLog, ServiceLabel, ua),
	}
	if backendService != "" {
		branches = append(branches, fmt.Sprintf(`resource.type="http_load_balancer" AND resource.labels.backend_service_name=%q AND httpRequest.userAgent:%s AND httpRequest.status<400`, backendService, ua))
	}
	for i, b := range branches {
		branches[i] = "(" + b + ")"
	}
	return strings.Join(branches, " OR ")
}
