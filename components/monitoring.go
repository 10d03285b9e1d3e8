package components

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"strings"
	"time"

	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/monitoring"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MonitoringArgs describes what to watch and whom to tell.
type MonitoringArgs struct {
	Stack   string // backup log entries carry it in jsonPayload.stack
	Project string
	Emails  []string

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

	InstanceName      string
	BackupAlertAfter  time.Duration // no successful backup for this long alerts
	UptimeCheckPeriod time.Duration
}

// Monitoring declares the alerts operators need before users notice: Dify not
// answering, a backup failing or missing, the VM not running.
type Monitoring struct {
	pulumi.ResourceState
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
			DisplayName: pulumi.String("Dify " + name + ": " + email),
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
		DisplayName:     pulumi.String("Dify " + name + " " + topology.DifyHealthPath),
		Timeout:         pulumi.String("10s"),
		Period:          pulumi.String(seconds(args.UptimeCheckPeriod)),
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

	policies := []struct {
		suffix, title, doc string
		condition          *monitoring.AlertPolicyConditionArgs
		rateLimited        bool
	}{
		{"uptime", "Dify " + name + " is not answering",
			"The uptime check of " + topology.DifyHealthPath + " through the proxy failed from several regions. See docs/operations.md, \"Dify is not answering\".",
			&monitoring.AlertPolicyConditionArgs{
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
			}, false},
		{"backup-missing", "Dify " + name + ": no successful backup for " + args.BackupAlertAfter.String(),
			"No complete backup was logged for longer than the backup interval plus a margin, or none ever was. See docs/operations.md, \"Backups are missing\".",
			backupMissing(args.BackupAlertAfter), false},
		{"backup-failed", "Dify " + name + ": a backup failed",
			"A backup run logged an error and wrote no manifest. See docs/operations.md, \"A backup failed\".",
			&monitoring.AlertPolicyConditionArgs{
				DisplayName: pulumi.String("backup run failed"),
				ConditionMatchedLog: &monitoring.AlertPolicyConditionConditionMatchedLogArgs{
					Filter: pulumi.String(fmt.Sprintf(`logName="projects/%s/logs/%s" AND jsonPayload.event="%s" AND jsonPayload.stack="%s" AND severity>=ERROR`,
						args.Project, hostscript.BackupLogName, hostscript.BackupFailureEvent, args.Stack)),
				},
			}, true},
		{"vm-down", "Dify " + name + ": the VM is not running",
			"The VM reported no uptime for 10 minutes: stopped, deleted or crashed. See docs/operations.md, \"The VM is not running\".",
			&monitoring.AlertPolicyConditionArgs{
				DisplayName: pulumi.String("VM uptime absent"),
				ConditionAbsent: &monitoring.AlertPolicyConditionConditionAbsentArgs{
					Filter:   pulumi.String(fmt.Sprintf(`metric.type="compute.googleapis.com/instance/uptime" AND resource.type="gce_instance" AND metric.label.instance_name="%s"`, args.InstanceName)),
					Duration: pulumi.String("600s"),
					Aggregations: monitoring.AlertPolicyConditionConditionAbsentAggregationArray{&monitoring.AlertPolicyConditionConditionAbsentAggregationArgs{
						AlignmentPeriod: pulumi.String("300s"), PerSeriesAligner: pulumi.String("ALIGN_MEAN"),
					}},
				},
			}, false},
	}
	for _, p := range policies {
		pa := &monitoring.AlertPolicyArgs{
			DisplayName:          pulumi.String(p.title),
			Combiner:             pulumi.String("OR"),
			Conditions:           monitoring.AlertPolicyConditionArray{p.condition},
			NotificationChannels: channels,
			Severity:             pulumi.String("CRITICAL"),
			Documentation:        &monitoring.AlertPolicyDocumentationArgs{Content: pulumi.String(p.doc), MimeType: pulumi.String("text/markdown")},
		}
		if p.rateLimited {
			// Log-match conditions require a notification rate limit.
			pa.AlertStrategy = &monitoring.AlertPolicyAlertStrategyArgs{
				NotificationRateLimit: &monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs{Period: pulumi.String("3600s")},
			}
		}
		if _, err := monitoring.NewAlertPolicy(ctx, name+"-"+p.suffix, pa, child...); err != nil {
			return nil, fmt.Errorf("monitoring: alert %s: %w", p.suffix, err)
		}
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{}); err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	return c, nil
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
