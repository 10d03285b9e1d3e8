package components

import (
	"fmt"
	"strings"
	"time"

	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/dify-gcp/dify-gcp/signals"
	"github.com/dify-gcp/dify-gcp/topology"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/monitoring"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MonitoringArgs describes what to watch and whom to tell.
type MonitoringArgs struct {
	Stack      string // backup log entries carry it in jsonPayload.stack
	Deployment string // dify-<stack>: every alert's title starts "Dify <Deployment>"
	Project    string
	Emails     []string

	// CheckURL is the https:// address the uptime check requests: the edge's
	// https://DOMAIN when there is one (run.app is then off), else the
	// service's URL.
	CheckURL        pulumi.StringInput
	ServiceName     pulumi.StringInput
	ServiceLocation string
	// Private services answer the uptime check only with an ID token; the
	// Monitoring service agent then gets roles/run.invoker on the service.
	Private bool
	// BehindIAP means people sign in through IAP, which Google's uptime
	// checkers cannot: the check then proves the edge answers (IAP's redirect
	// to sign-in), and the VM and proxy alerts watch Dify behind it.
	BehindIAP bool

	InstanceName string
	// InstanceID is the VM's numeric id: the Ops Agent's metrics carry it and
	// not the name.
	InstanceID pulumi.StringInput
	// Service is the Cloud Run service's name, for the metric filters (known
	// before the service exists: ServiceName waits for it).
	Service string
	// Signals holds the thresholds config sets: the backup alert's delay and
	// the disk's percentage.
	Signals signals.Settings
}

// Monitoring declares the alerts operators need before users notice: Dify not
// answering, a backup failing or missing, the VM not running, a disk filling
// up, memory running out, the VM's agent silent, 5xx answers, and the proxy
// unable to reach the VM (signals.Alerts lists them with their thresholds).
type Monitoring struct {
	pulumi.ResourceState

	// Channels are the notification channels, which the SLO's burn-rate
	// alerts notify too.
	Channels pulumi.StringArray
	// UptimeCheckID is the uptime check's id, which the dashboard charts.
	UptimeCheckID pulumi.StringOutput
}

// NewMonitoring creates the notification channels, the uptime check and the
// alert policies.
func NewMonitoring(ctx *pulumi.Context, name string, args *MonitoringArgs, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	c := &Monitoring{}
	if err := ctx.RegisterComponentResource(pkg+"Monitoring", name, c, opts...); err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	var channels pulumi.StringArray
	for _, email := range args.Emails {
		ch, err := monitoring.NewNotificationChannel(ctx, name+"-email-"+memberSlug(email), &monitoring.NotificationChannelArgs{
			DisplayName: pulumi.String("Dify " + args.Deployment + ": " + email),
			Type:        pulumi.String("email"),
			Labels:      pulumi.StringMap{"email_address": pulumi.String(email)},
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("monitoring: channel %s: %w", email, err)
		}
		channels = append(channels, ch.ID().ToStringOutput())
	}

	host := pulumi.ToOutput(args.CheckURL).ApplyT(func(u any) string {
		return strings.TrimSuffix(strings.TrimPrefix(u.(string), "https://"), "/")
	}).(pulumi.StringOutput)
	httpCheck := &monitoring.UptimeCheckConfigHttpCheckArgs{
		Path: pulumi.String(topology.DifyHealthPath), Port: pulumi.Int(443), UseSsl: pulumi.Bool(true), ValidateSsl: pulumi.Bool(true),
	}
	checkOpts := child
	if args.Private {
		httpCheck.ServiceAgentAuthentication = &monitoring.UptimeCheckConfigHttpCheckServiceAgentAuthenticationArgs{Type: pulumi.String("OIDC_TOKEN")}
		// The check calls as the Monitoring notification service agent, which
		// a fresh project may not have yet, and a role cannot be granted to an
		// agent that does not exist: ask for it first (generateServiceIdentity)
		// and grant to the member it answers with, so the grant waits for it.
		agent, err := projects.NewServiceIdentity(ctx, name+"-agent", &projects.ServiceIdentityArgs{
			Project: pulumi.String(args.Project), Service: pulumi.String("monitoring.googleapis.com"),
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("monitoring: service agent: %w", err)
		}
		grant, err := cloudrunv2.NewServiceIamMember(ctx, name+"-uptime-invoker", &cloudrunv2.ServiceIamMemberArgs{
			Name: args.ServiceName, Location: pulumi.String(args.ServiceLocation), Role: pulumi.String(InvokerRole),
			Member: agent.Member,
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("monitoring: uptime invoker: %w", err)
		}
		checkOpts = with(child, pulumi.DependsOn([]pulumi.Resource{grant}))
	}
	matchers := monitoring.UptimeCheckConfigContentMatcherArray{&monitoring.UptimeCheckConfigContentMatcherArgs{
		Content: pulumi.String("pong"), Matcher: pulumi.String("CONTAINS_STRING"),
	}}
	if args.BehindIAP {
		// IAP answers a request without a sign-in with a redirect to Google's
		// sign-in page (302), or 401 to one that looks like an API call.
		matchers = nil
		httpCheck.AcceptedResponseStatusCodes = monitoring.UptimeCheckConfigHttpCheckAcceptedResponseStatusCodeArray{
			&monitoring.UptimeCheckConfigHttpCheckAcceptedResponseStatusCodeArgs{StatusValue: pulumi.Int(302)},
			&monitoring.UptimeCheckConfigHttpCheckAcceptedResponseStatusCodeArgs{StatusValue: pulumi.Int(401)},
		}
	}
	check, err := monitoring.NewUptimeCheckConfig(ctx, name+"-uptime", &monitoring.UptimeCheckConfigArgs{
		DisplayName:     pulumi.String("Dify " + args.Deployment + " " + topology.DifyHealthPath),
		Timeout:         pulumi.String("10s"),
		Period:          pulumi.String(seconds(signals.UptimeCheckPeriod)),
		HttpCheck:       httpCheck,
		ContentMatchers: matchers,
		MonitoredResource: &monitoring.UptimeCheckConfigMonitoredResourceArgs{
			Type:   pulumi.String("uptime_url"),
			Labels: pulumi.StringMap{"host": host, "project_id": pulumi.String(args.Project)},
		},
	}, checkOpts...)
	if err != nil {
		return nil, fmt.Errorf("monitoring: uptime check: %w", err)
	}

	// Each alert of the catalog with the condition that detects it. The
	// catalog (signals.Alerts) gives the title, the severity and the runbook
	// section, which docs/operations.md explains; the stack tests hold the
	// policies declared here to it.
	onInstance := func(build func(id string) string) pulumi.StringOutput {
		return args.InstanceID.ToStringOutput().ApplyT(build).(pulumi.StringOutput)
	}
	conditions := map[string]*monitoring.AlertPolicyConditionArgs{
		"uptime": {
			DisplayName: pulumi.String("uptime check failing"),
			ConditionThreshold: &monitoring.AlertPolicyConditionConditionThresholdArgs{
				Filter:         pulumi.Sprintf(`metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND resource.type="uptime_url" AND metric.label.check_id="%s"`, check.UptimeCheckId),
				Comparison:     pulumi.String("COMPARISON_GT"),
				ThresholdValue: pulumi.Float64(1),
				Duration:       pulumi.String("60s"),
				Aggregations: monitoring.AlertPolicyConditionConditionThresholdAggregationArray{&monitoring.AlertPolicyConditionConditionThresholdAggregationArgs{
					AlignmentPeriod: pulumi.String("1200s"), PerSeriesAligner: pulumi.String("ALIGN_NEXT_OLDER"),
					CrossSeriesReducer: pulumi.String("REDUCE_COUNT_FALSE"), GroupByFields: pulumi.StringArray{pulumi.String("resource.label.*")},
				}},
				Trigger: &monitoring.AlertPolicyConditionConditionThresholdTriggerArgs{Count: pulumi.Int(1)},
			},
		},
		"backup-missing": backupMissing(args.Signals.BackupAlertAfter),
		"backup-failed": {
			DisplayName: pulumi.String("backup run failed"),
			ConditionMatchedLog: &monitoring.AlertPolicyConditionConditionMatchedLogArgs{
				Filter: pulumi.String(fmt.Sprintf(`logName="projects/%s/logs/%s" AND jsonPayload.event="%s" AND jsonPayload.stack="%s" AND severity>=ERROR`,
					args.Project, hostscript.BackupLogName, hostscript.BackupFailureEvent, args.Stack)),
			},
		},
		"vm-down": {
			DisplayName: pulumi.String("VM uptime absent"),
			ConditionAbsent: &monitoring.AlertPolicyConditionConditionAbsentArgs{
				Filter:   pulumi.String(signals.Filter(signals.ComputeUptime, signals.GCEInstance, signals.InstanceName(args.InstanceName))),
				Duration: pulumi.String("600s"),
				Aggregations: monitoring.AlertPolicyConditionConditionAbsentAggregationArray{&monitoring.AlertPolicyConditionConditionAbsentAggregationArgs{
					AlignmentPeriod: pulumi.String("300s"), PerSeriesAligner: pulumi.String("ALIGN_MEAN"),
				}},
			},
		},
		// Each disk is its own series (by device), so the incident names the
		// full one; state "used" leaves out the blocks ext4 reserves.
		"disk": threshold("disk used above the threshold",
			onInstance(func(id string) string {
				return signals.Filter(signals.AgentDiskPercent, signals.GCEInstance, signals.Instance(id), signals.Eq("metric.label.state", "used"))
			}),
			"COMPARISON_GT", float64(args.Signals.DiskPercent), signals.DiskFor, time.Minute, "ALIGN_MEAN", ""),
		"memory": threshold("memory in use by processes",
			onInstance(func(id string) string {
				return signals.Filter(signals.AgentMemoryPercent, signals.GCEInstance, signals.Instance(id), signals.Eq("metric.label.state", "used"))
			}),
			"COMPARISON_GT", signals.MemoryPercent, signals.MemoryFor, time.Minute, "ALIGN_MEAN", ""),
		"agent-silent": agentSilent(onInstance(func(id string) string {
			return signals.Filter(signals.AgentUptime, signals.GCEInstance, signals.Instance(id))
		})),
		"server-errors": serverErrors(args.Service),
		// The proxy's own 502 and 504 are its log entries of severity ERROR
		// (signals.ProxyOwnErrorSeverity), counted in log_entry_count, a
		// metric every project has.
		"unreachable": threshold("the proxy's own 502/504 answers",
			pulumi.String(signals.Filter(signals.LogEntryCount, signals.RunRevision, signals.Service(args.Service),
				signals.Eq("metric.label.log", signals.RunStdoutLog), signals.Eq("metric.label.severity", signals.ProxyOwnErrorSeverity))).ToStringOutput(),
			"COMPARISON_GT", signals.UnreachableCount-1, 0, signals.UnreachableWindow, "ALIGN_SUM", "REDUCE_SUM"),
	}
	for _, a := range signals.Alerts(args.Signals) {
		if a.SLO {
			continue // the SLO component declares the burn-rate alerts
		}
		cond, ok := conditions[a.ID]
		if !ok {
			return nil, fmt.Errorf("monitoring: alert %s of the catalog has no condition", a.ID)
		}
		delete(conditions, a.ID)
		pa := &monitoring.AlertPolicyArgs{
			DisplayName:          pulumi.String("Dify " + args.Deployment + a.Title),
			Combiner:             pulumi.String("OR"),
			Conditions:           monitoring.AlertPolicyConditionArray{cond},
			NotificationChannels: channels,
			Severity:             pulumi.String(a.Severity),
			Documentation:        alertDocumentation(a),
		}
		if cond.ConditionMatchedLog != nil {
			// Log-match conditions require a notification rate limit.
			pa.AlertStrategy = &monitoring.AlertPolicyAlertStrategyArgs{
				NotificationRateLimit: &monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs{Period: pulumi.String("3600s")},
			}
		}
		if _, err := monitoring.NewAlertPolicy(ctx, name+"-"+a.ID, pa, child...); err != nil {
			return nil, fmt.Errorf("monitoring: alert %s: %w", a.ID, err)
		}
	}
	if len(conditions) > 0 {
		return nil, fmt.Errorf("monitoring: %d conditions are not in the alert catalog (signals.Alerts)", len(conditions))
	}
	c.Channels = channels
	c.UptimeCheckID = check.UptimeCheckId
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"uptimeCheckId": c.UptimeCheckID}); err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	return c, nil
}

// alertDocumentation is what the notification says: when the alert fires,
// why there, and where the runbook is.
func alertDocumentation(a signals.Alert) *monitoring.AlertPolicyDocumentationArgs {
	return &monitoring.AlertPolicyDocumentationArgs{
		Content:  pulumi.String(fmt.Sprintf("Fires when %s (%s). See docs/operations.md, %q.", a.Fires, a.Why, a.Section)),
		MimeType: pulumi.String("text/markdown"),
	}
}

// threshold is a metric-threshold condition over one aggregation: each
// series aligned with aligner over alignment (and reduced with reducer, when
// set), compared with value for the duration.
func threshold(display string, filter pulumi.StringOutput, comparison string, value float64, duration, alignment time.Duration, aligner, reducer string) *monitoring.AlertPolicyConditionArgs {
	agg := &monitoring.AlertPolicyConditionConditionThresholdAggregationArgs{
		AlignmentPeriod: pulumi.String(seconds(alignment)), PerSeriesAligner: pulumi.String(aligner),
	}
	if reducer != "" {
		agg.CrossSeriesReducer = pulumi.String(reducer)
	}
	return &monitoring.AlertPolicyConditionArgs{
		DisplayName: pulumi.String(display),
		ConditionThreshold: &monitoring.AlertPolicyConditionConditionThresholdArgs{
			Filter:         filter,
			Comparison:     pulumi.String(comparison),
			ThresholdValue: pulumi.Float64(value),
			Duration:       pulumi.String(seconds(duration)),
			Aggregations:   monitoring.AlertPolicyConditionConditionThresholdAggregationArray{agg},
			Trigger:        &monitoring.AlertPolicyConditionConditionThresholdTriggerArgs{Count: pulumi.Int(1)},
		},
	}
}

// agentWindow is how far back the agent alert looks for uptime.
const agentWindow = 5 * time.Minute

// agentSilent fires when the Ops Agent's own uptime (a free metric,
// agent.googleapis.com/agent/*) stops growing, or never appears: missing
// data counts as a violation, so a VM whose agent was never installed is
// reported too, as the missed-backup alert does for backups.
func agentSilent(filter pulumi.StringOutput) *monitoring.AlertPolicyConditionArgs {
	c := threshold("Ops Agent uptime absent", filter, "COMPARISON_LT", 0.5, signals.AgentSilentFor-agentWindow, agentWindow, "ALIGN_RATE", "REDUCE_SUM")
	c.ConditionThreshold.(*monitoring.AlertPolicyConditionConditionThresholdArgs).EvaluationMissingData = pulumi.String("EVALUATION_MISSING_DATA_ACTIVE")
	return c
}

// serverErrors is the share of the service's requests answered 5xx: a ratio
// of two filters over the same metric, each aligned and summed alike.
func serverErrors(service string) *monitoring.AlertPolicyConditionArgs {
	agg := func() monitoring.AlertPolicyConditionConditionThresholdAggregationArray {
		return monitoring.AlertPolicyConditionConditionThresholdAggregationArray{&monitoring.AlertPolicyConditionConditionThresholdAggregationArgs{
			AlignmentPeriod: pulumi.String("300s"), PerSeriesAligner: pulumi.String("ALIGN_RATE"), CrossSeriesReducer: pulumi.String("REDUCE_SUM"),
		}}
	}
	return &monitoring.AlertPolicyConditionArgs{
		DisplayName: pulumi.String("share of 5xx answers"),
		ConditionThreshold: &monitoring.AlertPolicyConditionConditionThresholdArgs{
			Filter:            pulumi.String(signals.BadFilter(service)),
			DenominatorFilter: pulumi.String(signals.TotalFilter(service)),
			Comparison:        pulumi.String("COMPARISON_GT"),
			ThresholdValue:    pulumi.Float64(signals.ServerErrorRatio),
			Duration:          pulumi.String(seconds(signals.ServerErrorFor)),
			Aggregations:      agg(),
			DenominatorAggregations: monitoring.AlertPolicyConditionConditionThresholdDenominatorAggregationArray{&monitoring.AlertPolicyConditionConditionThresholdDenominatorAggregationArgs{
				AlignmentPeriod: pulumi.String("300s"), PerSeriesAligner: pulumi.String("ALIGN_RATE"), CrossSeriesReducer: pulumi.String("REDUCE_SUM"),
			}},
			Trigger: &monitoring.AlertPolicyConditionConditionThresholdTriggerArgs{Count: pulumi.Int(1)},
		},
	}
}

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }

// backupWindow is how far back the missed-backup alert looks for a success
// entry at each evaluation; the condition must then hold for the rest of the
// alert delay, so it fires exactly that long after the last success.
const backupWindow = 30 * time.Minute

// backupMissing is the missed-backup condition. It counts the backup log's
// success entries in Cloud Logging's own log_entry_count, a metric every
// project has: an alert on a log-based metric created in the same deployment
// is refused with 404 for up to 10 minutes (terraform-provider-google#11102,
// cloud rule alert-metric-created-first). It is a threshold, not an absence,
// condition, with missing data counted as a violation: an absence condition
// never fires for a series that never reported, so a stack whose first
// backup never succeeds would stay silent (cloud rule
// alert-absence-on-log-metric). A fresh stack therefore alerts if no backup
// succeeds within after, its first interval plus the margin.
func backupMissing(after time.Duration) *monitoring.AlertPolicyConditionArgs {
	return &monitoring.AlertPolicyConditionArgs{
		DisplayName: pulumi.String("no successful backup"),
		ConditionThreshold: &monitoring.AlertPolicyConditionConditionThresholdArgs{
			Filter: pulumi.String(fmt.Sprintf(`metric.type="logging.googleapis.com/log_entry_count" AND resource.type="%s" AND metric.label.log="%s" AND metric.label.severity="%s"`,
				hostscript.BackupLogResourceType, hostscript.BackupLogName, hostscript.BackupSuccessSeverity)),
			Comparison:            pulumi.String("COMPARISON_LT"),
			ThresholdValue:        pulumi.Float64(1),
			Duration:              pulumi.String(seconds(after - backupWindow)),
			EvaluationMissingData: pulumi.String("EVALUATION_MISSING_DATA_ACTIVE"),
			Aggregations: monitoring.AlertPolicyConditionConditionThresholdAggregationArray{&monitoring.AlertPolicyConditionConditionThresholdAggregationArgs{
				AlignmentPeriod: pulumi.String(seconds(backupWindow)), PerSeriesAligner: pulumi.String("ALIGN_SUM"), CrossSeriesReducer: pulumi.String("REDUCE_SUM"),
			}},
			Trigger: &monitoring.AlertPolicyConditionConditionThresholdTriggerArgs{Count: pulumi.Int(1)},
		},
	}
}
