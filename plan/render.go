package plan

import (
	"encoding/json"
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"io"
	"sort"
	"strings"
)

// Formats the plan can be written in.
const (
	FormatTable   = "table"
	FormatJSON    = "json"
	FormatMermaid = "mermaid"
)

// Write renders p in format to w.
func Write(w io.Writer, p *Plan, format string) error {
	switch format {
	case FormatTable, "":
		return Table(w, p)
	case FormatJSON:
		return JSON(w, p)
	case FormatMermaid:
		return Mermaid(w, p)
	}
	return fmt.Errorf("plan: unknown format %q: use %s, %s or %s", format, FormatTable, FormatJSON, FormatMermaid)
}

// JSON writes the plan with a stable order, for machines and diffs.
func JSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("plan: json: %w", err)
	}
	return nil
}

// Table writes the plan for people: components, their resources with the
// settings a reviewer checks, outputs, warnings and the cost estimate.
func Table(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for stack %q (project %s): %d resources in %d components\n", p.Stack, p.Project, p.ResourceCount(), len(p.Components))
	if len(p.Overrides) > 0 {
		name := "the stack file"
		if p.Variant != "" {
			name = "variant " + p.Variant + ": the stack file"
		}
		fmt.Fprintf(&b, "(%s with %s)\n", name, overridesText(p.Overrides))
	}
	for _, c := range p.Components {
		fmt.Fprintf(&b, "\n%s %s", c.Type, c.Name)
		if len(c.DependsOn) > 0 {
			fmt.Fprintf(&b, "  (after %s)", strings.Join(c.DependsOn, ", "))
		}
		b.WriteString("\n")
		for _, r := range c.Resources {
			flag := ""
			if r.Protected {
				flag = "  [protected]"
			}
			fmt.Fprintf(&b, "  + %-28s %s%s\n", r.Type, r.Name, flag)
			for _, k := range reviewed(r) {
				fmt.Fprintf(&b, "      %s = %s\n", k, r.Settings[k])
			}
			if len(r.DependsOn) > 0 {
				fmt.Fprintf(&b, "      after: %s\n", strings.Join(r.DependsOn, ", "))
			}
		}
	}
	b.WriteString("\nOutputs\n")
	for _, o := range p.Outputs {
		fmt.Fprintf(&b, "  %-20s %s\n", o.Name, o.Value)
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\nWarnings\n")
		for _, m := range p.Warnings {
			fmt.Fprintf(&b, "  ! %s\n", m)
		}
	}
	fmt.Fprintf(&b, "\nEstimated monthly cost (USD, prices of %s)\n", p.Cost.PricesAsOf)
	for _, l := range p.Cost.Lines {
		note := ""
		if l.Note != "" {
			note = "  (" + l.Note + ")"
		}
		fmt.Fprintf(&b, "  %-36s %-28s %9.2f%s\n", l.Item, l.Quantity, l.USD, note)
	}
	fmt.Fprintf(&b, "  %-36s %-28s %9.2f\n", "total", "", p.Cost.TotalUSD)
	fmt.Fprintf(&b, "  assumes: %s\n", p.Cost.Assumes)
	_, err := io.WriteString(w, b.String())
	return err
}

// reviewed picks the settings shown in the table for a resource type (all of
// them are in the JSON); unknown types show everything.
func reviewed(r Resource) []string {
	prefixes, ok := tableSettings()[r.Type]
	var keys []string
	for k := range r.Settings {
		if !ok {
			keys = append(keys, k)
			continue
		}
		for _, p := range prefixes {
			if k == p || strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[") {
				keys = append(keys, k)
				break
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// tableSettings lists, per short type, the settings a reviewer checks.
func tableSettings() map[string][]string {
	iam := []string{"role", "member"}
	return map[string][]string{
		"projects/service":                     {"service"},
		"compute/network":                      {"autoCreateSubnetworks"},
		"compute/subnetwork":                   {"ipCidrRange", "logConfig.aggregationInterval"},
		"compute/firewall":                     {"allows", "denies", "sourceRanges", "targetTags", "priority"},
		"serviceaccount/account":               {"accountId"},
		"projects/iAMMember":                   iam,
		"secretmanager/secret":                 {"secretId"},
		"secretmanager/secretIamMember":        iam,
		"compute/address":                      {"addressType"},
		"compute/resourcePolicy":               {"snapshotSchedulePolicy.schedule", "snapshotSchedulePolicy.retentionPolicy.maxRetentionDays", "instanceSchedulePolicy"},
		"compute/disk":                         {"size", "type", "zone"},
		"compute/diskResourcePolicyAttachment": {"disk", "name"},
		"compute/instance":                     {"machineType", "zone", "scheduling.provisioningModel", "deletionProtection", "serviceAccount.email", "metadata", "networkInterfaces", "shieldedInstanceConfig", "bootDisk.initializeParams.image", "attachedDisks", "resourcePolicies"},
		"storage/bucket":                       {"name", "uniformBucketLevelAccess", "publicAccessPrevention", "lifecycleRules", "forceDestroy", "softDeletePolicy", "labels." + topology.BucketLabel},
		"storage/bucketIAMMember":              iam,
		"artifactregistry/repository":          {"repositoryId", "cleanupPolicies"},
		"docker/image":                         {"imageName", "build.platform"},
		"cloudrunv2/service":                   {"ingress", "labels." + topology.AccessLabel, "template.containers[0].image", "template.containers[0].envs", "template.timeout", "template.scaling", "template.vpcAccess.egress"},
		"cloudrunv2/serviceIamMember":          iam,
		"monitoring/uptimeCheckConfig":         {"httpCheck.path", "period"},
		"monitoring/alertPolicy": {"displayName", "notificationChannels", "severity", "combiner",
			"conditions[0].conditionThreshold.thresholdValue", "conditions[0].conditionThreshold.duration", "conditions[0].conditionAbsent.duration",
			"conditions[1].conditionThreshold.thresholdValue"},
		"logging/projectBucketConfig":    {"bucketId", "location", "retentionDays"},
		"logging/projectExclusion":       {"name", "filter"},
		"monitoring/customService":       {"serviceId"},
		"monitoring/slo":                 {"goal", "rollingPeriodDays", "requestBasedSli"},
		"monitoring/dashboard":           {"dashboardJson"},
		"monitoring/notificationChannel": {"type", "labels"},
		"logging/metric":                 {"filter"},
		"sql/databaseInstance": {"databaseVersion", "deletionProtection", "settings.tier", "settings.edition", "settings.availabilityType",
			"settings.ipConfiguration", "settings.backupConfiguration", "settings.deletionProtectionEnabled", "settings.diskSize", "settings.locationPreference"},
		"sql/database":           {"name"},
		"redis/instance":         {"tier", "memorySizeGb", "redisVersion", "authEnabled", "connectMode", "transitEncryptionMode", "authorizedNetwork"},
		"projects/iAMCustomRole": {"roleId", "permissions"},
	}
}

// Mermaid writes a flowchart of the components, their resources and the
// dependencies between components' resources. Edges point from what is needed
// to what needs it. The project APIs, which everything waits for, are one node.
// Users arrive at the front door: the edge's forwarding rules when there is an
// edge, else the Cloud Run service; a labelled edge shows where the edge's
// serverless NEG sends requests, which no dependency records.
func Mermaid(w io.Writer, p *Plan) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	b.WriteString("  users([\"users (HTTPS)\"])\n")
	ids := map[string]string{} // resource label -> node id
	compID := map[string]string{}
	n := 0
	for i, c := range p.Components {
		cid := fmt.Sprintf("c%d", i)
		compID[c.Type+" "+c.Name] = cid
		if c.Type == "APIs" {
			fmt.Fprintf(&b, "  %s[[\"APIs: %d services enabled\"]]\n", cid, len(c.Resources))
			continue
		}
		fmt.Fprintf(&b, "  subgraph %s[\"%s %s\"]\n", cid, c.Type, c.Name)
		for _, r := range c.Resources {
			n++
			id := fmt.Sprintf("r%d", n)
			ids[r.Label] = id
			fmt.Fprintf(&b, "    %s[\"%s<br/>%s\"]\n", id, r.Type, r.Name)
		}
		b.WriteString("  end\n")
	}
	edges := map[string]bool{}
	var order []string
	addEdge := func(e string) {
		if !edges[e] {
			edges[e] = true
			order = append(order, e)
		}
	}
	front := "cloudrunv2/service"
	for _, c := range p.Components {
		for _, r := range c.Resources {
			if r.Type == "compute/globalForwardingRule" {
				front = r.Type
			}
		}
	}
	var negs, services []string
	for _, c := range p.Components {
		if c.Type == "APIs" {
			continue
		}
		for _, d := range c.DependsOn {
			if strings.HasPrefix(d, "APIs ") {
				addEdge(fmt.Sprintf("  %s -.-> %s", compID[d], compID[c.Type+" "+c.Name]))
			}
		}
		own := map[string]bool{}
		for _, r := range c.Resources {
			own[r.Label] = true
		}
		for _, r := range c.Resources {
			switch r.Type {
			case "compute/regionNetworkEndpointGroup":
				negs = append(negs, ids[r.Label])
			case "cloudrunv2/service":
				services = append(services, ids[r.Label])
			}
			if r.Type == front {
				addEdge(fmt.Sprintf("  users --> %s", ids[r.Label]))
			}
			for _, d := range r.DependsOn {
				if from, ok := ids[d]; ok && !own[d] {
					addEdge(fmt.Sprintf("  %s --> %s", from, ids[r.Label]))
				}
			}
		}
	}
	for _, neg := range negs {
		for _, svc := range services {
			addEdge(fmt.Sprintf("  %s -. requests .-> %s", neg, svc))
		}
	}
	for _, e := range order {
		b.WriteString(e + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
