package components

import (
	"fmt"

	"github.com/dify-gcp/dify-gcp/signals"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/monitoring"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SLOArgs describe the availability objective of the front door.
type SLOArgs struct {
	Project    string
	Region     string
	Deployment string // dify-<stack>
	Service    string // the Cloud Run service the SLI counts requests of
	Objective  signals.SLO
	Signals    signals.Settings // the catalog's settings, for the alerts' titles
	// Channels are Monitoring's notification channels: the burn-rate alerts
	// tell the same people.
	Channels pulumi.StringArrayInput
}

// SLO is the availability SLO of the front door, with the SRE workbook's
// multiwindow burn-rate alerts instead of a page on every blip: a custom
// service (the Cloud Run service as the telemetry), a request-based SLO over
// run.googleapis.com/request_count (bad: 5xx; good: the rest), and a fast and a slow
// burn-rate alert, each firing only while both its long and its short window
// burn too fast.
type SLO struct {
	pulumi.ResourceState

	// Name is the SLO's resource name, projects/P/services/S/serviceLevelObjectives/O,
	// which the burn-rate alerts and the dashboard select by.
	Name pulumi.StringOutput
}

// SLOID is the objective's id under its service.
const SLOID = "availability"

// NewSLO declares the service, the objective and its burn-rate alerts.
func NewSLO(ctx *pulumi.Context, name string, args *SLOArgs, opts ...pulumi.ResourceOption) (*SLO, error) {
	c := &SLO{}
	if err := ctx.RegisterComponentResource(pkg+"SLO", name, c, opts...); err != nil {
		return nil, fmt.Errorf("slo: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("slo: %w", err)
	}
	svc, err := monitoring.NewCustomService(ctx, name+"-service", &monitoring.CustomServiceArgs{
		Project:     pulumi.String(args.Project),
		ServiceId:   pulumi.String(args.Deployment),
		DisplayName: pulumi.String("Dify " + args.Deployment + " (Cloud Run " + args.Service + ")"),
		Telemetry: &monitoring.CustomServiceTelemetryArgs{
			ResourceName: pulumi.String(fmt.Sprintf("//run.googleapis.com/projects/%s/locations/%s/services/%s", args.Project, args.Region, args.Service)),
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("slo: service: %w", err)
	}
	slo, err := monitoring.NewSlo(ctx, name+"-"+SLOID, &monitoring.SloArgs{
		Project:           pulumi.String(args.Project),
		Service:           svc.ServiceId,
		SloId:             pulumi.String(SLOID),
		DisplayName:       pulumi.String(fmt.Sprintf("%g%% of requests without a 5xx over %d days", args.Objective.Percent, args.Objective.WindowDays)),
		Goal:              pulumi.Float64(args.Objective.Goal()),
		RollingPeriodDays: pulumi.Int(args.Objective.WindowDays),
		RequestBasedSli: &monitoring.SloRequestBasedSliArgs{
			GoodTotalRatio: &monitoring.SloRequestBasedSliGoodTotalRatioArgs{
				BadServiceFilter:   pulumi.String(signals.BadFilter(args.Service)),
				TotalServiceFilter: pulumi.String(signals.TotalFilter(args.Service)),
			},
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("slo: objective: %w", err)
	}

	windows := map[string]signals.BurnWindow{}
	for _, w := range args.Objective.BurnWindows() {
		windows["burn-"+w.ID] = w
	}
	for _, a := range signals.Alerts(args.Signals) {
		if !a.SLO {
			continue
		}
		w, ok := windows[a.ID]
		if !ok {
			return nil, fmt.Errorf("slo: alert %s of the catalog has no burn window", a.ID)
		}
		// The selector names the SLO by the name the API gave it, so the
		// alert waits for the SLO (an alert on an SLO that does not exist yet
		// is refused; cloud rule alert-slo-exists-first).
		burn := func(lookback string, d pulumi.StringOutput) *monitoring.AlertPolicyConditionArgs {
			return &monitoring.AlertPolicyConditionArgs{
				DisplayName: pulumi.Sprintf("burn rate over %s above %g", lookback, w.Threshold),
				ConditionThreshold: &monitoring.AlertPolicyConditionConditionThresholdArgs{
					Filter:         d,
					Comparison:     pulumi.String("COMPARISON_GT"),
					ThresholdValue: pulumi.Float64(w.Threshold),
					Duration:       pulumi.String("0s"),
					Trigger:        &monitoring.AlertPolicyConditionConditionThresholdTriggerArgs{Count: pulumi.Int(1)},
				},
			}
		}
		long := slo.Name.ApplyT(func(n string) string { return signals.BurnRateFilter(n, w.Long) }).(pulumi.StringOutput)
		short := slo.Name.ApplyT(func(n string) string { return signals.BurnRateFilter(n, w.Short) }).(pulumi.StringOutput)
		if _, err := monitoring.NewAlertPolicy(ctx, name+"-"+a.ID, &monitoring.AlertPolicyArgs{
			DisplayName: pulumi.String("Dify " + args.Deployment + a.Title),
			// Both windows at once: the long one says it matters, the short
			// one that it is still happening.
			Combiner:             pulumi.String("AND"),
			Conditions:           monitoring.AlertPolicyConditionArray{burn(seconds(w.Long), long), burn(seconds(w.Short), short)},
			NotificationChannels: args.Channels,
			Severity:             pulumi.String(a.Severity),
			Documentation:        alertDocumentation(a),
		}, child...); err != nil {
			return nil, fmt.Errorf("slo: alert %s: %w", a.ID, err)
		}
	}
	c.Name = slo.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"name": c.Name}); err != nil {
		return nil, fmt.Errorf("slo: %w", err)
	}
	return c, nil
}
