package components

import (
	"github.com/dify-gcp/dify-gcp/datatier"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// customRole defines a project role holding exactly perms, for the VM of the
// stack name: its id is the name with underscores and suffix
// (dify_prod_db_client), its resource name name-SUFFIX with hyphens.
func customRole(ctx *pulumi.Context, project, name, suffix, title, description string, perms []string, opts []pulumi.ResourceOption) (*projects.IAMCustomRole, error) {
	return projects.NewIAMCustomRole(ctx, name+"-"+suffix, &projects.IAMCustomRoleArgs{
		Project:     pulumi.String(project),
		RoleId:      pulumi.String(datatier.RoleIDSegment(name + "_" + suffix)),
		Title:       pulumi.String(title + " (" + name + ")"),
		Description: pulumi.String(description),
		Permissions: pulumi.ToStringArray(perms),
		Stage:       pulumi.String("GA"),
	}, opts...)
}
