package signals

import (
	"fmt"
	"strings"
	"time"
)

// Thresholds of the alerts, named so the components, the docs and the tests
// quote the same numbers.
const (
	// DiskFor is how long a disk must stay over its threshold: long enough to
	// ignore a burst of temporary files, short enough to act before it fills.
	DiskFor = 5 * time.Minute
	// MemoryPercent and MemoryFor: memory in use by processes (Linux's
	// "used", which leaves out the page cache and buffers the kernel gives
	// back) above 90% for 10 minutes. Dify's api, worker and plugin daemon
	// then swap (there is no swap on Compute Engine's images) or get killed
	// by the kernel's OOM killer.
	MemoryPercent = 90
	MemoryFor     = 10 * time.Minute
	// AgentSilentFor: no uptime from the Ops Agent for this long means the
	// disk and memory alerts are blind. Long enough for a first boot to
	// install the agent.
	AgentSilentFor = 20 * time.Minute
	// ServerErrorRatio and ServerErrorFor: more than 5% of the requests
	// Cloud Run answered were 5xx, over 5-minute windows, for 10 minutes.
	ServerErrorRatio = 0.05
	ServerErrorFor   = 10 * time.Minute
	// UnreachableCount and UnreachableWindow: at least this many answers the
	// proxy made up because the VM did not answer (its own 502 and 504),
	// within the window. The uptime check alone sends six probes in five
	// minutes, so a VM that is down trips it even without users (unless IAP
	// stops the probes at its sign-in).
	UnreachableCount  = 5
	UnreachableWindow = 5 * time.Minute
	// UptimeCheckPeriod is how often each checker probes the front door.
	UptimeCheckPeriod = 5 * time.Minute
)

// Settings are what the configuration says about the signals.
type Settings struct {
	BackupAlertAfter time.Duration // no successful backup for this long alerts
	DiskPercent      int
	SLO              SLO
}

// Alert is one alert policy: what it is called, when it fires and why there,
// what to do (its section of docs/operations.md) and how many conditions it
// holds, which is what Cloud Monitoring bills.
type Alert struct {
	ID         string // the policy is <component name>-<ID>
	Title      string // after "Dify <name>"
	Section    string // the heading of docs/operations.md that says what to do
	Fires      string
	Why        string
	Conditions int
	Severity   string // CRITICAL, ERROR or WARNING
	SLO        bool   // declared by the SLO component, not Monitoring
}

// Alerts returns every alert a monitored stack declares, in the order
// docs/operations.md lists them.
func Alerts(s Settings) []Alert {
	out := []Alert{
		{ID: "uptime", Title: " is not answering", Section: "Dify is not answering", Severity: "CRITICAL", Conditions: 1,
			Fires: fmt.Sprintf("the uptime check of the front door fails from more than one region (every %s)", shortDuration(UptimeCheckPeriod)),
			Why:   "one region failing is the network between; several are Dify"},
		{ID: "backup-missing", Title: ": no successful backup for " + shortDuration(s.BackupAlertAfter), Section: "Backups are missing", Severity: "CRITICAL", Conditions: 1,
			Fires: fmt.Sprintf("no backup succeeded for %s (one interval and a margin), or none ever did", shortDuration(s.BackupAlertAfter)),
			Why:   "a timer that never ran, a stopped VM, a hung run and a VM that cannot log all look the same: no success"},
		{ID: "backup-failed", Title: ": a backup failed", Section: "A backup failed", Severity: "CRITICAL", Conditions: 1,
			Fires: "a backup run logs that it failed",
			Why:   "every failure is worth a look: the next one may be the one you need"},
		{ID: "vm-down", Title: ": the VM is not running", Section: "The VM is not running", Severity: "CRITICAL", Conditions: 1,
			Fires: "Compute Engine reports no uptime for the VM for 10 minutes",
			Why:   "a stopped, deleted or crashed VM; ten minutes rides out a reboot"},
		{ID: "disk", Title: fmt.Sprintf(": a disk of the VM is over %d%% full", s.DiskPercent), Section: "A disk is filling up", Severity: "ERROR", Conditions: 1,
			Fires: fmt.Sprintf("the data disk or the boot disk is more than %d%% used for %s (dify-gcp:diskAlertPercent)", s.DiskPercent, shortDuration(DiskFor)),
			Why:   "PostgreSQL, Redis and the upload folder stop writing when the data disk is full, Docker when the boot disk is; the rest is the time to grow it"},
		{ID: "memory", Title: fmt.Sprintf(": the VM has been short of memory for %s", shortDuration(MemoryFor)), Section: "The VM is short of memory", Severity: "ERROR", Conditions: 1,
			Fires: fmt.Sprintf("memory in use by processes stays above %d%% for %s", MemoryPercent, shortDuration(MemoryFor)),
			Why:   "the page cache is not counted; with no swap, the kernel kills a container next"},
		{ID: "agent-silent", Title: ": the VM's Ops Agent is not reporting", Section: "The Ops Agent is not reporting", Severity: "ERROR", Conditions: 1,
			Fires: fmt.Sprintf("the Ops Agent reported no uptime for %s, or never did", shortDuration(AgentSilentFor)),
			Why:   "without the agent the disk and memory alerts cannot fire; it fires with vm-down when the VM is stopped"},
		{ID: "server-errors", Title: fmt.Sprintf(": over %.0f%% of requests answered 5xx", ServerErrorRatio*100), Section: "Requests fail with 5xx", Severity: "WARNING", Conditions: 1,
			Fires: fmt.Sprintf("more than %.0f%% of the requests Cloud Run answered were 5xx, in 5-minute windows, for %s", ServerErrorRatio*100, shortDuration(ServerErrorFor)),
			Why:   "users see errors; the burn-rate alerts decide whether it threatens the SLO, this one says what happens now"},
		{ID: "unreachable", Title: ": the proxy cannot reach the VM", Section: "The proxy cannot reach the VM", Severity: "CRITICAL", Conditions: 1,
			Fires: fmt.Sprintf("the proxy answered %d or more requests within %s with its own 502 or 504, because the VM refused or did not answer", UnreachableCount, shortDuration(UnreachableWindow)),
			Why:   "the proxy marks its own errors, so Dify's 502s (its api down behind its nginx) do not count here"},
	}
	for _, w := range s.SLO.BurnWindows() {
		out = append(out, Alert{ID: "burn-" + w.ID, SLO: true, Severity: w.Severity, Conditions: 2,
			Title:   fmt.Sprintf(": the error budget burns %gx too fast (%s)", w.Threshold, shortDuration(w.Long)),
			Section: "The error budget is burning",
			Fires: fmt.Sprintf("5xx answers burn the error budget more than %g times faster than the SLO allows over %s and over %s (%.0f%% of the %d-day budget in %s; all of it in %s)",
				w.Threshold, shortDuration(w.Long), shortDuration(w.Short), w.BudgetSpent*100, s.SLO.WindowDays, shortDuration(w.Long), shortDuration(w.ExhaustsIn)),
			Why: "the SRE workbook's " + w.ID + " burn: " + w.Catches + "; the short window ends the alert soon after the burning stops"})
	}
	return out
}

// Conditions counts the conditions of alerts, which Cloud Monitoring bills
// one by one.
func Conditions(alerts []Alert) int {
	n := 0
	for _, a := range alerts {
		n += a.Conditions
	}
	return n
}

// shortDuration writes 1h, 6h, 5m, 2d6h rather than Go's 1h0m0s.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%s", d/(24*time.Hour), shortDuration(d%(24*time.Hour)))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}

// AlertTable renders alerts as the table of docs/operations.md: each alert's
// name, when it fires, why there, and where to read what to do.
func AlertTable(s Settings) string {
	var b strings.Builder
	b.WriteString("| alert | fires when | why there | severity | conditions |\n| --- | --- | --- | --- | --- |\n")
	for _, a := range Alerts(s) {
		anchor := strings.ToLower(strings.ReplaceAll(a.Section, " ", "-"))
		fmt.Fprintf(&b, "| `%s`: [Dify *name*%s](#%s) | %s | %s | %s | %d |\n", a.ID, a.Title, anchor, a.Fires, a.Why, strings.ToLower(a.Severity), a.Conditions)
	}
	return b.String()
}
