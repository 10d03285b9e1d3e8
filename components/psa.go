package components

import (
	"fmt"
	"net/netip"

	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/servicenetworking"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PrivateServiceAccessArgs describes the range Google's managed services take
// their private addresses from.
type PrivateServiceAccessArgs struct {
	Network pulumi.StringInput // the VPC's id
	CIDR    string             // the allocated range, such as 10.20.0.0/20
}

// PrivateServiceAccess is private services access in the stack's VPC: an
// allocated range (a global address of purpose VPC_PEERING) and the Service
// Networking connection that peers the VPC with Google's producer network.
// Cloud SQL's private IP and Memorystore (connect mode PRIVATE_SERVICE_ACCESS)
// take their addresses from the range, so neither has a public endpoint.
//
// Destroying it is the known hard part: Service Networking refuses to delete
// the connection while a producer still holds resources behind it, and Cloud
// SQL keeps them for a while after its instance is deleted
// (hashicorp/terraform-provider-google#16275, #19908: "Producer services (e.g.
// CloudSQL, Cloud Memstore, etc.) are still using this connection"). The
// connection keeps the default deletion policy, so `pulumi destroy` stops
// there with that error rather than abandoning a peering that would then block
// the VPC's deletion; docs/managed.md ("Destroying") has the steps.
type PrivateServiceAccess struct {
	pulumi.ResourceState

	// RangeName names the allocated range (Cloud SQL's allocatedIpRange).
	RangeName pulumi.StringOutput
	// Connection is what a managed service with a private address must wait
	// for: without the peering, Cloud SQL and Memorystore refuse a private
	// network (the pinned SDK's examples for both depend on it).
	Connection pulumi.Resource
}

// NewPrivateServiceAccess allocates the range and connects it.
func NewPrivateServiceAccess(ctx *pulumi.Context, name string, args *PrivateServiceAccessArgs, opts ...pulumi.ResourceOption) (*PrivateServiceAccess, error) {
	prefix, err := netip.ParsePrefix(args.CIDR)
	if err != nil { // config validated it: a programming error
		return nil, fmt.Errorf("private service access: range %q: %w", args.CIDR, err)
	}
	c := &PrivateServiceAccess{}
	if err := ctx.RegisterComponentResource(pkg+"PrivateServiceAccess", name, c, opts...); err != nil {
		return nil, fmt.Errorf("private service access: %w", err)
	}
	child, err := childOptions(c, opts)
	if err != nil {
		return nil, fmt.Errorf("private service access: %w", err)
	}
	rng, err := compute.NewGlobalAddress(ctx, name+"-psa", &compute.GlobalAddressArgs{
		Name:         pulumi.String(name + "-psa"),
		Description:  pulumi.String("Private services access: the private addresses of Dify's Cloud SQL and Memorystore"),
		Purpose:      pulumi.String("VPC_PEERING"),
		AddressType:  pulumi.String("INTERNAL"),
		Address:      pulumi.String(prefix.Addr().String()),
		PrefixLength: pulumi.Int(prefix.Bits()),
		Network:      args.Network,
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("private service access: range: %w", err)
	}
	conn, err := servicenetworking.NewConnection(ctx, name+"-psa", &servicenetworking.ConnectionArgs{
		Network:               args.Network,
		Service:               pulumi.String(datatier.PeeringService),
		ReservedPeeringRanges: pulumi.StringArray{rng.Name},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("private service access: connection: %w", err)
	}
	c.RangeName = rng.Name
	c.Connection = conn
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"rangeName": c.RangeName, "peering": conn.Peering}); err != nil {
		return nil, fmt.Errorf("private service access: %w", err)
	}
	return c, nil
}
