package components

import (
	"fmt"
	"strings"

	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/dify-gcp/dify-gcp/signals"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/monitoring"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DashboardArgs name what the dashboard shows. The uptime check and the SLO
// exist only with monitoring: nil, their tiles say so.
type DashboardArgs struct {
	Project      string
	Deployment   string // dify-<stack>
	Service      string
	InstanceName string
	InstanceID   pulumi.StringInput
	DiskPercent  int

	UptimeCheckID pulumi.StringInput // nil without monitoring
	SLOName       pulumi.StringInput // nil without monitoring
}

// Dashboard is the stack's Cloud Monitoring dashboard (signals.BuildDashboard
// lays it out; docs/operations.md shows the picture): the front door, its
// errors, the VM and the data, on one page.
type Dashboard struct {
	pulumi.ResourceState

	// URL opens the dashboard in the console.
	URL pulumi.StringOutput
}

// NewDashboard declares the dashboard.
func NewDashboard(ctx *pulumi.Context, name string, args *DashboardArgs, opts ...pulumi.ResourceOption) (*Dashboard, error) {
	c := &Dashboard{}
	if err := ctx.RegisterComponentResource(pkg+"Dashboard", name, c, opts...); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	orEmpty := func(in pulumi.StringInput) pulumi.StringOutput {
		if in == nil {
			return pulumi.String("").ToStringOutput()
		}
		return in.ToStringOutput()
	}
	spec := pulumi.All(args.InstanceID, orEmpty(args.UptimeCheckID), orEmpty(args.SLOName)).ApplyT(func(v []any) (string, error) {
		return signals.BuildDashboard(signals.DashboardInputs{
			Name: args.Deployment, Service: args.Service, InstanceName: args.InstanceName, InstanceID: v[0].(string),
			UptimeCheckID: v[1].(string), SLOName: v[2].(string), DiskPercent: args.DiskPercent,
			BackupLog: hostscript.BackupLogName, BackupLogResourceType: hostscript.BackupLogResourceType,
			BackupSuccessSeverity: hostscript.BackupSuccessSeverity,
		}).JSON()
	}).(pulumi.StringOutput)
	d, err := monitoring.NewDashboard(ctx, name, &monitoring.DashboardArgs{
		Project:       pulumi.String(args.Project),
		DashboardJson: spec,
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	c.URL = d.ID().ToStringOutput().ApplyT(func(id string) string { return DashboardURL(args.Project, id) }).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"url": c.URL}); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return c, nil
}

// DashboardURL is the console's address of a dashboard, from the resource id
// the provider gives it (projects/NUMBER/dashboards/ID, the API's name).
func DashboardURL(project, id string) string {
	return "https://console.cloud.google.com/monitoring/dashboards/builder/" + id[strings.LastIndex(id, "/")+1:] + "?project=" + project
}
