package components

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"regexp"
	"sort"

	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// InvokerRole lets a principal call the service.
const InvokerRole = "roles/run.invoker"

// AllUsers is the IAM member for "anyone on the internet".
const AllUsers = "allUsers"

// ServiceArgs describes the Cloud Run proxy service.
type ServiceArgs struct {
	Region string
	Labels pulumi.StringMap

	Image   pulumi.StringInput // proxy image by digest
	Backend pulumi.StringInput // the VM's reserved internal address

	TimeoutSeconds int // Cloud Run's request timeout and the proxy's, one value
	BodyLimitMiB   int
	MinInstances   int
	MaxInstances   int

	Network pulumi.StringInput // VPC id (projects/P/global/networks/N)
	Subnet  pulumi.StringInput // Direct VPC egress subnet id (projects/P/regions/R/subnetworks/N)

	// Access is "public", "private" or "iap"; it is recorded as the service's
	// topology.AccessLabel so reviews and policies can check the invokers against it.
	Access string
	// Production is recorded as topology.ProductionLabel, for the policies.
	Production bool
	// Invokers are the IAM members given roles/run.invoker: exactly
	// ["allUsers"] for a public service, the configured principals for a
	// private one, none with IAP (AgentInvoker is the one).
	Invokers []string
	// AgentInvoker, when set, is a Google service agent's member (IAP's) that
	// is the service's invoker; an output, so the grant waits for the agent.
	AgentInvoker pulumi.StringInput

	// Edge, when set, is the load balancer in front: the service then takes
	// requests from it alone and its run.app URL is off.
	Edge *ServiceEdge
}

// ServiceEdge is what the service must know of the edge in front of it.
type ServiceEdge struct {
	// Address is the balancer's global address, which the proxy needs to find
	// the client in X-Forwarded-For.
	Address pulumi.StringInput
	// URL is https://DOMAIN: the audience of ID tokens sent through the edge
	// to a private service.
	URL string
}

// Service is the Cloud Run front door: the nginx proxy, reaching the VM over
// Direct VPC egress. It depends on the VM's address, not the VM, so both are
// created in parallel.
type Service struct {
	pulumi.ResourceState

	Name                pulumi.StringOutput
	URL                 pulumi.StringOutput
	ServiceAccountEmail pulumi.StringOutput
}

// NewService creates the service, its identity and its invoker bindings.
func NewService(ctx *pulumi.Context, name string, args *ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	c := &Service{}
	if err := ctx.RegisterComponentResource(pkg+"Service", name, c, opts...); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	// Its own identity with no roles: the proxy calls nothing in Google Cloud.
	sa, err := serviceaccount.NewAccount(ctx, name+"-proxy", &serviceaccount.AccountArgs{
		AccountId:   pulumi.String(name + "-proxy"),
		DisplayName: pulumi.String("Dify proxy (" + name + ")"),
		Description: pulumi.String("Runs the Cloud Run proxy in front of Dify; holds no roles"),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("service: service account: %w", err)
	}

	var envs cloudrunv2.ServiceTemplateContainerEnvArray
	env := proxy.Settings{TimeoutSeconds: args.TimeoutSeconds, BodyLimitMiB: args.BodyLimitMiB}.Env()
	// Straight to Cloud Run, anyone may reach run.app; IAM decides who gets
	// in. Behind the edge, only the load balancer may, so nothing bypasses
	// Cloud Armor or IAP, and the run.app URL answers nothing.
	ingress, uriDisabled := "INGRESS_TRAFFIC_ALL", false
	var audiences pulumi.StringArray
	if args.Edge != nil {
		ingress, uriDisabled = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", true
		if args.Access == "private" {
			audiences = pulumi.StringArray{pulumi.String(args.Edge.URL)}
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		value := pulumi.String(env[k]).ToStringOutput()
		switch {
		case k == proxy.EnvBackend:
			value = pulumi.Sprintf("%s:%d", args.Backend, topology.DifyPort)
		case k == proxy.EnvLoadBalancerAddress && args.Edge != nil:
			value = args.Edge.Address.ToStringOutput()
		}
		envs = append(envs, &cloudrunv2.ServiceTemplateContainerEnvArgs{Name: pulumi.String(k), Value: value})
	}

	labels := pulumi.StringMap{
		topology.AccessLabel:     pulumi.String(args.Access),
		topology.ProductionLabel: pulumi.String(fmt.Sprint(args.Production)),
	}
	for k, v := range args.Labels {
		labels[k] = v
	}
	svc, err := cloudrunv2.NewService(ctx, name, &cloudrunv2.ServiceArgs{
		Name:               pulumi.String(name),
		Location:           pulumi.String(args.Region),
		Labels:             labels,
		Ingress:            pulumi.String(ingress),
		DefaultUriDisabled: pulumi.Bool(uriDisabled),
		CustomAudiences:    audiences,
		Template: &cloudrunv2.ServiceTemplateArgs{
			ServiceAccount: sa.Email,
			Timeout:        pulumi.Sprintf("%ds", args.TimeoutSeconds),
			Scaling: &cloudrunv2.ServiceTemplateScalingArgs{
				MinInstanceCount: pulumi.Int(args.MinInstances),
				MaxInstanceCount: pulumi.Int(args.MaxInstances),
			},
			MaxInstanceRequestConcurrency: pulumi.Int(80),
			VpcAccess: &cloudrunv2.ServiceTemplateVpcAccessArgs{
				NetworkInterfaces: cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArray{
					&cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs{Network: args.Network, Subnetwork: args.Subnet},
				},
				Egress: pulumi.String("PRIVATE_RANGES_ONLY"),
			},
			Containers: cloudrunv2.ServiceTemplateContainerArray{&cloudrunv2.ServiceTemplateContainerArgs{
				Name:  pulumi.String("proxy"),
				Image: args.Image,
				Ports: cloudrunv2.ServiceTemplateContainerPortArray{
					&cloudrunv2.ServiceTemplateContainerPortArgs{Name: pulumi.String(proxy.ContainerPortName), ContainerPort: pulumi.Int(proxy.ContainerPort)},
				},
				Envs: envs,
				Resources: &cloudrunv2.ServiceTemplateContainerResourcesArgs{
					Limits: pulumi.StringMap{"cpu": pulumi.String("1"), "memory": pulumi.String("512Mi")},
					// Request-based billing: without cpuIdle, limits switch the
					// service to paying for idle instances.
					CpuIdle:         pulumi.Bool(true),
					StartupCpuBoost: pulumi.Bool(true),
				},
				// nginx answers this itself, so a deploy never waits for the VM.
				StartupProbe: &cloudrunv2.ServiceTemplateContainerStartupProbeArgs{
					HttpGet:          &cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs{Path: pulumi.String(proxy.HealthPath), Port: pulumi.Int(proxy.ContainerPort)},
					PeriodSeconds:    pulumi.Int(2),
					TimeoutSeconds:   pulumi.Int(1),
					FailureThreshold: pulumi.Int(30),
				},
			}},
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}

	// Non-authoritative members, one per invoker: exactly what access says.
	for _, m := range args.Invokers {
		if _, err := cloudrunv2.NewServiceIamMember(ctx, name+"-invoker-"+memberSlug(m), &cloudrunv2.ServiceIamMemberArgs{
			Name: svc.Name, Location: svc.Location, Role: pulumi.String(InvokerRole), Member: pulumi.String(m),
		}, child...); err != nil {
			return nil, fmt.Errorf("service: invoker %s: %w", m, err)
		}
	}
	if args.AgentInvoker != nil {
		if _, err := cloudrunv2.NewServiceIamMember(ctx, name+"-invoker-agent", &cloudrunv2.ServiceIamMemberArgs{
			Name: svc.Name, Location: svc.Location, Role: pulumi.String(InvokerRole), Member: args.AgentInvoker,
		}, child...); err != nil {
			return nil, fmt.Errorf("service: agent invoker: %w", err)
		}
	}

	c.Name = svc.Name
	c.URL = svc.Uri
	c.ServiceAccountEmail = sa.Email
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"name": c.Name, "url": c.URL, "serviceAccountEmail": c.ServiceAccountEmail}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return c, nil
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9@._-]+`)

// memberSlug makes an IAM member readable and safe as a resource name, so each
// invoker keeps its own resource when others are added or removed.
func memberSlug(m string) string { return slugRE.ReplaceAllString(m, "-") }
