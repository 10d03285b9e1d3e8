package components

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NetworkArgs describes the VPC.
type NetworkArgs struct {
	Region        string
	VMSubnetCIDR  string // the VM's subnet
	RunSubnetCIDR string // Cloud Run Direct VPC egress; /26 or larger
	VMTag         string // network tag the firewall rules target
}

// Network is a dedicated VPC (never the default network) with one subnet for the
// VM and one for Cloud Run's Direct VPC egress. Its firewall lets in only Dify's
// port from the Cloud Run subnet and SSH from IAP; everything else stays out.
type Network struct {
	pulumi.ResourceState

	// NetworkID and RunSubnetID are the VPC's and the Cloud Run subnet's ids
	// (projects/P/global/networks/N, projects/P/regions/R/subnetworks/N): the
	// form Cloud Run's Direct VPC egress takes, where a self link risks a
	// refusal or a diff on every update (cloud rule direct-vpc-egress-ids).
	NetworkID   pulumi.StringOutput
	RunSubnetID pulumi.StringOutput
	// VMSubnetSelfLink is the VM subnet's self link, which the VM and its
	// reserved address have named since the first release: the address's
	// subnetwork forces replacement, so it is left as it was.
	VMSubnetSelfLink pulumi.StringOutput
}

// NewNetwork creates the VPC, its subnets and firewall rules.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	c := &Network{}
	if err := ctx.RegisterComponentResource(pkg+"Network", name, c, opts...); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	vpc, err := compute.NewNetwork(ctx, name+"-vpc", &compute.NetworkArgs{
		Name:                  pulumi.String(name + "-vpc"),
		AutoCreateSubnetworks: pulumi.Bool(false),
		RoutingMode:           pulumi.String("REGIONAL"),
		Description:           pulumi.String("Dify: the VM and the Cloud Run egress subnet, nothing else"),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("network: vpc: %w", err)
	}
	// Flow logs on both subnets (CIS 3.8): the record of who talked to the VM.
	flowLogs := &compute.SubnetworkLogConfigArgs{
		AggregationInterval: pulumi.String("INTERVAL_5_SEC"),
		FlowSampling:        pulumi.Float64(0.5),
		Metadata:            pulumi.String("INCLUDE_ALL_METADATA"),
	}
	subnets := map[string]*compute.Subnetwork{}
	for _, sn := range []struct{ role, cidr, description string }{
		{"vm", args.VMSubnetCIDR, "The Dify VM"},
		{"run", args.RunSubnetCIDR, "Cloud Run Direct VPC egress for the Dify proxy"},
	} {
		subnet, err := compute.NewSubnetwork(ctx, name+"-"+sn.role+"-subnet", &compute.SubnetworkArgs{
			Name:                  pulumi.String(name + "-" + sn.role + "-subnet"),
			Network:               vpc.ID(),
			Region:                pulumi.String(args.Region),
			IpCidrRange:           pulumi.String(sn.cidr),
			PrivateIpGoogleAccess: pulumi.Bool(true),
			LogConfig:             flowLogs,
			Description:           pulumi.String(sn.description),
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("network: %s subnet: %w", sn.role, err)
		}
		subnets[sn.role] = subnet
	}

	rules := []struct {
		suffix, description string
		priority            int
		sources             []string
		deny                bool
		port                int
	}{
		{"allow-proxy", "Dify's nginx, only from the Cloud Run egress subnet (its addresses are ephemeral, so the whole range)", 1000, []string{args.RunSubnetCIDR}, false, topology.DifyPort},
		{"allow-iap-ssh", "SSH only through Identity-Aware Proxy", 1000, []string{topology.IAPRange}, false, topology.SSHPort},
		{"deny-plugin-debug", "The plugin daemon's debugging port is never reachable, even if a broader rule is added later", 100, []string{"0.0.0.0/0"}, true, topology.PluginDebugPort},
	}
	for _, r := range rules {
		fw := &compute.FirewallArgs{
			Name:         pulumi.String(name + "-" + r.suffix),
			Network:      vpc.ID(),
			Description:  pulumi.String(r.description),
			Direction:    pulumi.String("INGRESS"),
			Priority:     pulumi.Int(r.priority),
			SourceRanges: pulumi.ToStringArray(r.sources),
			TargetTags:   pulumi.StringArray{pulumi.String(args.VMTag)},
			LogConfig:    &compute.FirewallLogConfigArgs{Metadata: pulumi.String("INCLUDE_ALL_METADATA")},
		}
		ports := compute.FirewallAllowArray{&compute.FirewallAllowArgs{Protocol: pulumi.String("tcp"), Ports: pulumi.StringArray{pulumi.Sprintf("%d", r.port)}}}
		if r.deny {
			fw.Denies = compute.FirewallDenyArray{&compute.FirewallDenyArgs{Protocol: pulumi.String("tcp"), Ports: pulumi.StringArray{pulumi.Sprintf("%d", r.port)}}}
		} else {
			fw.Allows = ports
		}
		if _, err := compute.NewFirewall(ctx, name+"-"+r.suffix, fw, child...); err != nil {
			return nil, fmt.Errorf("network: firewall %s: %w", r.suffix, err)
		}
	}

	c.NetworkID = vpc.ID().ToStringOutput()
	c.RunSubnetID = subnets["run"].ID().ToStringOutput()
	c.VMSubnetSelfLink = subnets["vm"].SelfLink
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"networkId": c.NetworkID, "vmSubnetSelfLink": c.VMSubnetSelfLink, "runSubnetId": c.RunSubnetID,
	}); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return c, nil
}
