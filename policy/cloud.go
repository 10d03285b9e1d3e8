package policy

// CloudRules returns what Google Cloud's APIs would refuse, or do differently,
// and Pulumi's mocks accept without a word: the APIs a resource needs, name and
// format rules, alert conditions the Monitoring API rejects or that never fire,
// service agents granted before they exist. Each rule cites where the rule is
// written down (an API reference, the pinned SDK, a provider issue) and runs
// over the neutral model like the security policies, in the tests and in the
// policy pack. docs/policies.md lists them with the defect each would have
// caught.
func CloudRules() []Policy {
	return append([]Policy{
		{
			ID: "api-enabled", Title: "Every resource's API is enabled by the stack or by the documented bootstrap, before the resource",
			Severity: High, Reference: "https://cloud.google.com/service-usage/docs/enable-disable; terraform-provider-google v5.42.0 google/services/resourcemanager/resource_google_project_service.go (reads through Cloud Resource Manager); policy.ServiceAPIs",
			Fix:   "add the API to components.RequiredAPIs() (the stack enables it and every resource waits for it), or, for an API the program cannot enable itself, to topology.BootstrapAPIs() and the first command of docs/deploy.md; a new resource type needs its entry in policy.ServiceAPIs",
			check: checkAPIEnabled,
		},
		{
			ID: "name-service-account", Title: "Service account ids are 6-30 lowercase letters, digits and hyphens",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create (accountId: 6-30 characters, [a-z]([-a-z0-9]*[a-z0-9]))",
			Fix:       "shorten the stack name (config.MaxStackNameLength) or the suffix the component appends (components/host.go, service.go)",
			check:     checkNames(typeAccount, "accountId", serviceAccountIDProblem),
		},
		{
			ID: "name-bucket", Title: "Bucket names follow Cloud Storage's naming rules",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/storage/docs/buckets#naming (3-63 characters; lowercase letters, digits, '-', '_', '.'; start and end with a letter or digit; not starting with goog, not containing google)",
			Fix:       "change config.BackupBucketName or the project id it is built from",
			check:     checkNames(typeBucket, "name", bucketNameProblem),
		},
		{
			ID: "name-cloud-run-service", Title: "Cloud Run service names are lowercase, start with a letter and have fewer than 50 characters",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create (serviceId: must begin with a letter, cannot end with a hyphen, fewer than 50 characters)",
			Fix:       "shorten the stack name; the service is named dify-STACK (components/service.go)",
			check:     checkNames(typeRunService, "name", runServiceNameProblem),
		},
		{
			ID: "name-secret", Title: "Secret ids are 1-255 letters, digits, '_' and '-'",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create (secretId: at most 255 characters of [a-zA-Z0-9_-])",
			Fix:       "change the secret's suffix in components/host.go",
			check:     checkNames(typeSecret, "secretId", secretIDProblem),
		},
		{
			ID: "name-compute", Title: "Compute Engine and Artifact Registry names are RFC 1035 labels of at most 63 characters",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/compute/docs/naming-resources ([a-z]([-a-z0-9]{0,61}[a-z0-9])?); https://cloud.google.com/artifact-registry/docs/repositories/create-repos (repository names)",
			Fix:       "shorten the stack name or the suffix the component appends (components/network.go, host.go, image.go)",
			check:     checkComputeNames,
		},
		{
			ID: "labels", Title: "Labels have valid keys and values and are at most 64",
			Severity: Medium, Local: true,
			Reference: "https://cloud.google.com/resource-manager/docs/labels-overview#requirements (keys 1-63 characters starting with a lowercase letter, values up to 63, lowercase letters, digits, '_' and '-')",
			Fix:       "change the label in components.Labels (or the component that adds it); values derived from config (the stack name) must already be lowercase",
			check:     checkLabels,
		},
		{
			ID: "durations", Title: "Durations are what the APIs parse and accept (\"900s\"), within each field's range",
			Severity: High, Local: true,
			Reference: "https://protobuf.dev/reference/protobuf/google.protobuf/#duration; https://cloud.google.com/run/docs/configuring/request-timeout (at most 3600s); https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.uptimeCheckConfigs (period 60s, 300s, 600s or 900s; timeout 1-60s); https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies (durations in whole minutes; alignmentPeriod at least 60s); https://cloud.google.com/monitoring/alerts/metric-absence (absence at most 23.5 hours)",
			Fix:       `write durations as whole seconds with an "s" suffix from a time.Duration (components.seconds), within the field's range`,
			check:     checkDurations,
		},
		{
			ID: "vm-schedule-format", Title: "VM schedules use five-field cron expressions and an IANA time zone",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/compute/docs/instances/schedule-instance-start-stop (cron format, IANA time zone); pulumi-gcp v7.38.0 compute.ResourcePolicyInstanceSchedulePolicy",
			Fix:       "set dify-gcp:vmStartCron and dify-gcp:vmStopCron to cron expressions such as '0 8 * * 1-5', and dify-gcp:vmScheduleTimeZone to a zone such as Asia/Tokyo",
			check:     checkSchedules,
		},
		{
			ID: "cidr-ranges", Title: "Subnet ranges and firewall sources are valid IPv4 ranges",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/vpc/docs/subnets#valid-ranges (a subnet's primary range is a /8 to /29 with no host bits); https://cloud.google.com/firewall/docs/firewalls#rule_assignment (sourceRanges are CIDR ranges)",
			Fix:       "set dify-gcp:vmSubnetCidr and dify-gcp:runSubnetCidr to ranges such as 10.10.0.0/24 without host bits",
			check:     checkCIDRs,
		},
		{
			ID: "snapshot-start-time", Title: "A daily snapshot schedule starts on a 4-hour UTC boundary",
			Severity: High, Local: true,
			Reference: "pulumi-gcp v7.38.0 compute.ResourcePolicySnapshotSchedulePolicyScheduleDailyScheduleArgs.StartTime (\"must be in UTC format that resolves to one of 00:00, 04:00, 08:00, 12:00, 16:00, or 20:00\"); https://cloud.google.com/compute/docs/reference/rest/v1/resourcePolicies",
			Fix:       "set the daily schedule's startTime to one of 00:00, 04:00, 08:00, 12:00, 16:00 or 20:00 (components.SnapshotStartTime)",
			check:     checkSnapshotStart,
		},
		{
			ID: "alert-log-metric-resource-type", Title: "An alert filter on a log-based metric restricts resource.type",
			Severity: High, Local: true,
			Reference: "hashicorp/terraform-provider-google#7179, #4165 (400 must specify a restriction on \"resource.type\" in the filter); https://cloud.google.com/monitoring/promql/promql-mapping (log-based metrics map to several resource types)",
			Fix:       `add resource.type="..." with the type the entries are written with (hostscript.BackupLogResourceType) to the condition's filter`,
			check:     checkLogMetricResourceType,
		},
		{
			ID: "alert-metric-created-first", Title: "No alert condition needs a log-based metric created in the same deployment",
			Severity:  High,
			Reference: "hashicorp/terraform-provider-google#11102 (404 Cannot find metric(s) for up to 10 minutes after the log-based metric is created; the provider does not retry)",
			Fix:       "alert on a metric that exists before the deployment (such as logging.googleapis.com/log_entry_count, restricted by log name and severity) or on the log entries themselves (conditionMatchedLog), not on a logging.Metric of this stack",
			check:     checkAlertMetricRace,
		},
		{
			ID: "alert-absence-on-log-metric", Title: "Nothing that must page when it never happens is an absence condition on a log-derived metric",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/monitoring/alerts/metric-absence (the condition is met only after the subsystem writes at least one data point after the policy is created or modified)",
			Fix:       "use a conditionThreshold with evaluationMissingData EVALUATION_MISSING_DATA_ACTIVE over the metric, so no data at all is a violation (components/monitoring.go)",
			check:     checkAbsenceOnLogMetric,
		},
		{
			ID: "metric-filters", Title: "Every time-series filter names a known metric on its own monitored resource type, with labels and aligners that metric has",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/monitoring/api/metrics_gcp and https://cloud.google.com/monitoring/api/metrics_opsagent (each metric's resource types, kind, value type and labels; GoogleCloudPlatform/ops-agent integration_test/ops_agent_test/agent_metrics/metadata.yaml for the agent's); https://cloud.google.com/monitoring/api/resources (resource labels); https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#Aligner (which aligner suits which kind); policy.Metrics",
			Fix:       "name the metric's monitored resource type in the filter and only labels it has (package signals builds the filters); a metric new to the stack needs its entry in policy.Metrics, from Google's metrics list",
			check:     checkMetricFilters,
		},
		{
			ID: "alert-slo-selector", Title: "A burn-rate condition names an SLO of the stack, takes only its filter, and waits for the SLO",
			Severity:  High,
			Reference: "https://cloud.google.com/stackdriver/docs/solutions/slo-monitoring/api/create-policy-api (the only field used in a condition for an SLO is the filter); https://cloud.google.com/stackdriver/docs/solutions/slo-monitoring/api/timeseries-selectors (select_slo_burn_rate(SLO_NAME, LOOKBACK), units ns, us, ms, s, m, h)",
			Fix:       "filter by signals.BurnRateFilter of the monitoring.Slo's name output (so the policy waits for the SLO), with no aggregations or denominator (components/slo.go)",
			check:     checkSLOSelectors,
		},
		{
			ID: "slo-objective", Title: "An SLO's goal, window and request-based SLI are what the API takes",
			Severity: High, Local: true,
			Reference: "pulumi-gcp v7.38.0 monitoring.SloArgs (goal: 0 < goal <= 0.999; rollingPeriodDays: 1 to 30 days) and SloRequestBasedSliGoodTotalRatioArgs (exactly two of good, bad and total; DELTA or CUMULATIVE metrics)",
			Fix:       "set dify-gcp:sloTargetPercent (95-99.9) and dify-gcp:sloWindowDays (7-30); give the SLI two of the good, bad and total filters (signals.BadFilter, signals.TotalFilter)",
			check:     checkSLOObjectives,
		},
		{
			ID: "dashboard-json", Title: "A dashboard's JSON parses, fits its mosaic grid, and sends no value the API leaves out",
			Severity: Medium, Local: true,
			Reference: "https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards#MosaicLayout (columns; tiles inside the grid); google/monitoring/dashboard/v1/layouts.proto (1-12 columns); hashicorp/terraform-provider-google google/services/monitoring/resource_monitoring_dashboard.go (monitoringDashboardDiffSuppress drops only keys the configuration lacks, so a zero value the API omits is a change on every preview)",
			Fix:       "build the dashboard with signals.BuildDashboard, whose JSON leaves zero values out and keeps tiles on the 12-column grid",
			check:     checkDashboards,
		},
		{
			ID: "log-bucket-retention", Title: "The log bucket config adopts the _Default bucket in location global with a retention of 1-3650 days",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/logging/docs/buckets (_Default and _Required are created by Logging; _Required keeps 400 days and cannot be changed; custom retention 1 to 3650 days; _Default is in global); pulumi-gcp v7.38.0 logging.ProjectBucketConfig",
			Fix:       "configure bucketId _Default in location global, with dify-gcp:logRetentionDays between 1 and 3650 (components/logging.go)",
			check:     checkLogBuckets,
		},
		{
			ID: "name-log-exclusion", Title: "Log exclusion names are 1-100 letters, digits, '_', '-' and '.'",
			Severity: High, Local: true,
			Reference: "https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions (name: up to 100 characters, letters, digits, underscores, hyphens and periods; first character alphanumeric)",
			Fix:       "shorten the stack name; the exclusion is named dify-STACK-logging-health-checks (components/logging.go)",
			check:     checkNames(typeLogExclusion, "name", logExclusionNameProblem),
		},
		{
			ID: "service-agent-exists", Title: "A Google service agent exists before a role is granted to it",
			Severity:  High,
			Reference: "https://cloud.google.com/iam/docs/create-service-agents (if a service agent has not been created yet, you cannot grant roles to it); GoogleCloudPlatform/cloud-foundation-fabric modules/project/service-agents.yaml (which agents are primary, i.e. created by generateServiceIdentity)",
			Fix:       "take the member from a projects.ServiceIdentity of the agent's API (for primary agents such as the Monitoring notification agent), or make the grant wait for the projects.Service whose enablement creates the agent (the Compute Engine service agent)",
			check:     checkServiceAgents,
		},
		{
			ID: "scheduled-vm-waits-for-agent", Title: "A VM with a start/stop schedule is created after the Compute Engine service agent may start and stop it",
			Severity:  High,
			Reference: "https://cloud.google.com/compute/docs/instances/schedule-instance-start-stop (the Compute Engine Service Agent needs compute.instances.start and stop); GoogleCloudPlatform/cloud-foundation-fabric#2870 (Error 412 when the instance is created before the grant)",
			Fix:       "grant roles/compute.instanceAdmin.v1 to service-NUMBER@compute-system.iam.gserviceaccount.com and add the grant to the instance's dependsOn (components/host.go)",
			check:     checkScheduledVMWaits,
		},
		{
			ID: "direct-vpc-egress-ids", Title: "Cloud Run Direct VPC egress names its network and subnetwork by name or id, not by self link",
			Severity: Medium, Local: true,
			Reference: "pulumi-gcp v7.38.0 cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs and the provider's cloudrunv2 Direct VPC examples and tests (names or projects/P/global/networks/N ids); https://cloud.google.com/run/docs/configuring/vpc-direct-vpc",
			Fix:       "pass network.ID() and subnetwork.ID() (projects/P/global/networks/N, projects/P/regions/R/subnetworks/N) instead of their selfLink (components/network.go)",
			check:     checkDirectVPCIDs,
		},
	}, dataTierCloudRules()...)
}

// All returns the security policies and then the cloud rules: what the policy
// pack serves.
func All() []Policy { return append(Policies(), CloudRules()...) }
