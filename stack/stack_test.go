package stack_test

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dify-gcp/dify-gcp/components"
	"github.com/dify-gcp/dify-gcp/config"
	"github.com/dify-gcp/dify-gcp/graph"
	"github.com/dify-gcp/dify-gcp/hostscript"
	"github.com/dify-gcp/dify-gcp/outputs"
	"github.com/dify-gcp/dify-gcp/proxy"
	"github.com/dify-gcp/dify-gcp/stack"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Type tokens the assertions refer to.
const (
	tAPIs       = "dify-gcp:components:APIs"
	tNetwork    = "dify-gcp:components:Network"
	tHost       = "dify-gcp:components:Host"
	tBackups    = "dify-gcp:components:Backups"
	tProxyImage = "dify-gcp:components:ProxyImage"
	tService    = "dify-gcp:components:Service"

	tProjectService = "gcp:projects/service:Service"
	tVPC            = "gcp:compute/network:Network"
	tSubnet         = "gcp:compute/subnetwork:Subnetwork"
	tFirewall       = "gcp:compute/firewall:Firewall"
	tAddress        = "gcp:compute/address:Address"
	tDisk           = "gcp:compute/disk:Disk"
	tPolicy         = "gcp:compute/resourcePolicy:ResourcePolicy"
	tAttachment     = "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment"
	tInstance       = "gcp:compute/instance:Instance"
	tAccount        = "gcp:serviceaccount/account:Account"
	tProjectIAM     = "gcp:projects/iAMMember:IAMMember"
	tSecret         = "gcp:secretmanager/secret:Secret"
	tSecretIAM      = "gcp:secretmanager/secretIamMember:SecretIamMember"
	tBucket         = "gcp:storage/bucket:Bucket"
	tBucketIAM      = "gcp:storage/bucketIAMMember:BucketIAMMember"
	tRepo           = "gcp:artifactregistry/repository:Repository"
	tImage          = "docker:index/image:Image"
	tRun            = "gcp:cloudrunv2/service:Service"
	tRunIAM         = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
)

// run runs the real program for a stack file of the repository. Overrides of
// keys declared Secret count as set with --secret.
func run(t *testing.T, stackName string, override map[string]string, opts graph.Options) (*graph.Graph, *config.Config, error) {
	t.Helper()
	project, cfg, secrets, err := graph.StackConfig("..", stackName)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range override {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	for _, k := range config.Keys() {
		if _, ok := override[k.Name]; ok && k.Secret {
			secrets = append(secrets, k.Name)
		}
	}
	opts.SecretKeys = append(opts.SecretKeys, secrets...)
	c, cerr := config.Load(stackName, func(k string) (string, bool) { v, ok := cfg[k]; return v, ok },
		config.SecretKeys(func(k string) bool { return slices.Contains(opts.SecretKeys, k) }))
	g, err := graph.Run(stack.Program, project, stackName, cfg, opts)
	if err == nil && cerr != nil {
		t.Fatalf("program accepted a config that config.Load refuses: %v", cerr)
	}
	return g, c, err
}

func must(t *testing.T, g *graph.Graph, typ, name string) *graph.Resource {
	t.Helper()
	r := g.Find(typ, name)
	if r == nil {
		var have []string
		for _, r := range g.ByType(typ) {
			have = append(have, r.Name)
		}
		t.Fatalf("no %s named %q; have %q", typ, name, have)
	}
	return r
}

func plain(v resource.PropertyValue) any {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v.Mappable()
}

func TestStacks(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		t.Run(name, func(t *testing.T) {
			g, cfg, err := run(t, name, nil, graph.Options{})
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
			checkGraph(t, g, cfg)
		})
	}
}

func checkGraph(t *testing.T, g *graph.Graph, cfg *config.Config) {
	n := cfg.Name()

	t.Run("components", func(t *testing.T) {
		for _, typ := range []string{tAPIs, tNetwork, tHost, tBackups, tProxyImage, tService} {
			if len(g.ByType(typ)) != 1 {
				t.Errorf("%s registered %d times, want once", typ, len(g.ByType(typ)))
			}
		}
		// Every cloud resource is a child of a component: nothing floats at the root.
		for _, r := range g.Resources {
			if !r.Custom {
				continue
			}
			p := g.ByURN(r.Parent)
			if p == nil || p.Custom || !strings.HasPrefix(p.Type, "dify-gcp:components:") {
				t.Errorf("%s %s is not parented to a component (parent %q)", r.Type, r.Name, r.Parent)
			}
		}
	})

	t.Run("apis", func(t *testing.T) {
		var enabled []string
		for _, r := range g.ByType(tProjectService) {
			enabled = append(enabled, r.String("service"))
			if v, _ := r.Get("disableOnDestroy"); !v.IsBool() || v.BoolValue() {
				t.Errorf("%s would be disabled on destroy", r.Name)
			}
		}
		slices.Sort(enabled)
		want := components.RequiredAPIs()
		if cfg.DNSZone != "" {
			want = append(want, "dns.googleapis.com")
		}
		if cfg.IsManaged() {
			want = append(want, components.ManagedTierAPIs()...)
		}
		slices.Sort(want)
		if !slices.Equal(enabled, want) {
			t.Errorf("enabled APIs %q, want %q", enabled, want)
		}
		apiURNs := map[string]bool{}
		for _, r := range g.ByType(tProjectService) {
			apiURNs[r.URN] = true
		}
		// Everything else waits for the APIs.
		for _, r := range g.Resources {
			if !r.Custom || r.Type == tProjectService {
				continue
			}
			waits := 0
			for _, d := range r.DependsOn {
				if apiURNs[d] {
					waits++
				}
			}
			if waits != len(apiURNs) {
				t.Errorf("%s %s waits for %d of %d APIs", r.Type, r.Name, waits, len(apiURNs))
			}
		}
	})

	t.Run("network", func(t *testing.T) {
		vpc := must(t, g, tVPC, n+"-vpc")
		if v, _ := vpc.Get("autoCreateSubnetworks"); v.BoolValue() {
			t.Error("VPC auto-creates subnets")
		}
		vmSubnet := must(t, g, tSubnet, n+"-vm-subnet")
		runSubnet := must(t, g, tSubnet, n+"-run-subnet")
		if got := vmSubnet.String("ipCidrRange"); got != cfg.VMSubnetCIDR {
			t.Errorf("VM subnet %s, want %s", got, cfg.VMSubnetCIDR)
		}
		if got := runSubnet.String("ipCidrRange"); got != cfg.RunSubnetCIDR {
			t.Errorf("run subnet %s, want %s", got, cfg.RunSubnetCIDR)
		}
		for _, s := range []*graph.Resource{vmSubnet, runSubnet} {
			if _, ok := s.Get("logConfig.aggregationInterval"); !ok {
				t.Errorf("subnet %s has no flow logs", s.Name)
			}
		}
		type rule struct {
			action, sources, ports string
		}
		got := map[string]rule{}
		for _, fw := range g.ByType(tFirewall) {
			r := rule{action: "allow"}
			list, _ := fw.Get("allows")
			if _, deny := fw.Get("denies"); deny {
				r.action = "deny"
				list, _ = fw.Get("denies")
			}
			r.sources = fmt.Sprint(plain(fw.Inputs["sourceRanges"]))
			r.ports = fmt.Sprint(plain(list))
			got[fw.Name] = r
			if fw.String("direction") != "INGRESS" || fmt.Sprint(plain(fw.Inputs["targetTags"])) != "["+n+"-vm]" {
				t.Errorf("firewall %s does not target the VM tag on ingress", fw.Name)
			}
		}
		want := map[string]rule{
			n + "-allow-proxy":       {"allow", "[" + cfg.RunSubnetCIDR + "]", "[map[ports:[80] protocol:tcp]]"},
			n + "-allow-iap-ssh":     {"allow", "[35.235.240.0/20]", "[map[ports:[22] protocol:tcp]]"},
			n + "-deny-plugin-debug": {"deny", "[0.0.0.0/0]", "[map[ports:[5003] protocol:tcp]]"},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("firewall rules\n got %v\nwant %v", got, want)
		}
	})

	t.Run("host", func(t *testing.T) {
		sa := must(t, g, tAccount, n+"-vm")
		if sa.String("accountId") != n+"-vm" {
			t.Errorf("VM service account id %q", sa.String("accountId"))
		}
		email := n + "-vm@" + cfg.Project + ".iam.gserviceaccount.com"
		vm := must(t, g, tInstance, n)
		internalIP, externalIP := g.Fake("<address of "+n+"-internal-ip>"), g.Fake("<address of "+n+"-external-ip>")
		if internalIP == "" || externalIP == "" {
			t.Fatalf("the fake cloud gave no addresses: %q %q", internalIP, externalIP)
		}
		checks := map[string]string{
			"machineType":                                 cfg.MachineType,
			"zone":                                        cfg.Zone,
			"serviceAccount.email":                        email,
			"bootDisk.initializeParams.image":             "debian-cloud/debian-12",
			"attachedDisks[0].deviceName":                 topology.DataDeviceName,
			"networkInterfaces[0].networkIp":              internalIP,
			"networkInterfaces[0].accessConfigs[0].natIp": externalIP,
			`metadata["enable-oslogin"]`:                  "TRUE",
			`metadata["block-project-ssh-keys"]`:          "TRUE",
			`metadata["serial-port-enable"]`:              "FALSE",
		}
		for path, want := range checks {
			if got := vm.String(path); got != want {
				t.Errorf("instance %s = %q, want %q", path, got, want)
			}
		}
		if _, ok := vm.Get("metadataStartupScript"); ok {
			t.Error("metadataStartupScript is set: every change to it would replace the VM")
		}
		script := vm.String(`metadata["startup-script"]`)
		if !strings.HasPrefix(script, "#!/bin/bash") || !strings.Contains(script, cfg.DifyVersion) {
			t.Errorf("startup script not rendered from the config:\n%.300s", script)
		}
		for _, flag := range []string{"shieldedInstanceConfig.enableSecureBoot", "shieldedInstanceConfig.enableVtpm", "shieldedInstanceConfig.enableIntegrityMonitoring", "allowStoppingForUpdate"} {
			if v, _ := vm.Get(flag); !v.IsBool() || !v.BoolValue() {
				t.Errorf("instance %s is not true", flag)
			}
		}
		if v, _ := vm.Get("canIpForward"); v.IsBool() && v.BoolValue() {
			t.Error("instance forwards IP")
		}
		if v, _ := vm.Get("deletionProtection"); v.BoolValue() != cfg.DeletionProtection {
			t.Errorf("deletionProtection %v, want %v", v.BoolValue(), cfg.DeletionProtection)
		}
		wantModel := map[config.Provisioning]string{config.Standard: "STANDARD", config.Spot: "SPOT"}[cfg.Provisioning]
		if got := vm.String("scheduling.provisioningModel"); got != wantModel {
			t.Errorf("provisioning %q, want %q", got, wantModel)
		}
		if v, _ := vm.Get("scheduling.preemptible"); v.BoolValue() != (cfg.Provisioning == config.Spot) {
			t.Errorf("preemptible flag %v for %s", v.BoolValue(), cfg.Provisioning)
		}

		disk := must(t, g, tDisk, n+"-data")
		if !disk.Protect {
			t.Error("data disk is not protected")
		}
		if v, _ := disk.Get("size"); int(v.NumberValue()) != cfg.DataDiskGiB {
			t.Errorf("data disk size %v, want %d", v.NumberValue(), cfg.DataDiskGiB)
		}
		if !slices.Contains(vm.PropertyDeps["attachedDisks"], disk.URN) {
			t.Error("the instance does not attach the data disk")
		}
		policy := must(t, g, tPolicy, n+"-snapshots")
		if v, _ := policy.Get("snapshotSchedulePolicy.retentionPolicy.maxRetentionDays"); int(v.NumberValue()) != cfg.SnapshotRetentionDays {
			t.Errorf("snapshot retention %v, want %d", v.NumberValue(), cfg.SnapshotRetentionDays)
		}
		att := must(t, g, tAttachment, n+"-data-snapshots")
		if !slices.Contains(att.PropertyDeps["disk"], disk.URN) || !slices.Contains(att.PropertyDeps["name"], policy.URN) {
			t.Error("snapshot schedule is not attached to the data disk")
		}

		internal := must(t, g, tAddress, n+"-internal-ip")
		external := must(t, g, tAddress, n+"-external-ip")
		if internal.String("addressType") != "INTERNAL" || external.String("addressType") != "EXTERNAL" {
			t.Error("address types are wrong")
		}

		// The VM reads its own two secrets and nothing else.
		secrets := g.ByType(tSecret)
		if len(secrets) != 2 {
			t.Fatalf("%d secrets, want 2", len(secrets))
		}
		for _, gr := range g.ByType(tSecretIAM) {
			if gr.String("member") != "serviceAccount:"+email {
				t.Errorf("secret grant %s to %q", gr.Name, gr.String("member"))
			}
		}
		if len(g.ByType(tSecretIAM)) != 4 {
			t.Errorf("%d secret grants, want accessor and version adder on each of 2", len(g.ByType(tSecretIAM)))
		}
		// The VM starts only once it may read its secrets.
		for _, gr := range g.ByType(tSecretIAM) {
			if !slices.Contains(vm.DependsOn, gr.URN) {
				t.Errorf("instance does not wait for %s", gr.Name)
			}
		}
		// No secret value in the metadata.
		for _, bad := range []string{"difyai123456", "sk-9f73s3ljTXVcMT3Blb3ljTqtsKiGHXVcMT3BlbkFJLK7U"} {
			if strings.Contains(script, bad) {
				t.Errorf("startup script holds Dify's published default %q", bad)
			}
		}
	})

	t.Run("backups", func(t *testing.T) {
		b := must(t, g, tBucket, n+"-backups-bucket")
		if b.String("name") != cfg.BackupBucketName() || b.String("location") != cfg.Region {
			t.Errorf("bucket %q in %q", b.String("name"), b.String("location"))
		}
		if v, _ := b.Get("uniformBucketLevelAccess"); !v.BoolValue() {
			t.Error("bucket without uniform access")
		}
		if b.String("publicAccessPrevention") != "enforced" {
			t.Error("bucket without public access prevention")
		}
		rules, _ := b.Get("lifecycleRules")
		want := fmt.Sprintf("[map[action:map[type:Delete] condition:map[age:%d]]]", cfg.BackupRetentionDays)
		if got := fmt.Sprint(plain(rules)); got != want {
			t.Errorf("lifecycle %s, want %s", got, want)
		}
		if v, _ := b.Get("forceDestroy"); v.BoolValue() == cfg.DeletionProtection {
			t.Errorf("forceDestroy %v with deletion protection %v", v.BoolValue(), cfg.DeletionProtection)
		}
		var iam []*graph.Resource
		for _, gr := range g.ByType(tBucketIAM) {
			if gr.Parent == g.Find(tBackups, n+"-backups").URN {
				iam = append(iam, gr)
			}
		}
		if len(iam) != 1 {
			t.Fatalf("%d backup bucket grants, want 1", len(iam))
		}
		sa := must(t, g, tAccount, n+"-vm")
		if iam[0].String("member") != "serviceAccount:"+n+"-vm@"+cfg.Project+".iam.gserviceaccount.com" ||
			!slices.Contains(iam[0].PropertyDeps["member"], sa.URN) || iam[0].String("role") != components.BackupWriterRole {
			t.Errorf("bucket grant %s %s is not the VM's service account", iam[0].String("role"), iam[0].String("member"))
		}
		if !slices.Contains(iam[0].PropertyDeps["bucket"], b.URN) {
			t.Error("bucket grant is not on the backup bucket")
		}
	})

	t.Run("proxy image and service", func(t *testing.T) {
		repo := must(t, g, tRepo, n+"-proxy-repo")
		if repo.String("format") != "DOCKER" {
			t.Error("repository is not a docker repository")
		}
		if v, _ := repo.Get("cleanupPolicies"); len(v.ArrayValue()) == 0 {
			t.Error("repository has no cleanup policy")
		}
		img := must(t, g, tImage, n+"-proxy")
		if img.String("build.platform") != "linux/amd64" || img.String("build.context") != stack.ProxyContext {
			t.Errorf("image build %q from %q", img.String("build.platform"), img.String("build.context"))
		}
		if img.String("registry.username") != "oauth2accesstoken" {
			t.Error("image not pushed with an access token")
		}
		svc := must(t, g, tRun, n)
		image := svc.String("template.containers[0].image")
		if !strings.Contains(image, "@sha256:") || !slices.Contains(svc.PropertyDeps["template"], img.URN) {
			t.Errorf("service image %q is not the built image by digest", image)
		}
		env := map[string]string{}
		envs, _ := svc.Get("template.containers[0].envs")
		for _, e := range envs.ArrayValue() {
			env[e.ObjectValue()["name"].StringValue()] = e.ObjectValue()["value"].StringValue()
		}
		wantEnv := map[string]string{
			proxy.EnvBackend:             g.Fake("<address of "+n+"-internal-ip>") + ":80",
			proxy.EnvTimeoutSeconds:      fmt.Sprint(cfg.RequestTimeoutSeconds),
			proxy.EnvBodyLimitMiB:        fmt.Sprint(cfg.BodyLimitMiB()),
			proxy.EnvLoadBalancerAddress: g.Fake("<address of " + n + "-edge-ip>"), // "" without the edge
		}
		if fmt.Sprint(env) != fmt.Sprint(wantEnv) {
			t.Errorf("proxy env %v, want %v", env, wantEnv)
		}
		if got := svc.String("template.timeout"); got != fmt.Sprintf("%ds", cfg.RequestTimeoutSeconds) {
			t.Errorf("Cloud Run timeout %q disagrees with the proxy's %d", got, cfg.RequestTimeoutSeconds)
		}
		if svc.String("template.vpcAccess.egress") != "PRIVATE_RANGES_ONLY" {
			t.Error("egress is not private ranges only")
		}
		runSubnet := must(t, g, tSubnet, n+"-run-subnet")
		// By id, the form Cloud Run takes (cloud rule direct-vpc-egress-ids).
		if svc.String("template.vpcAccess.networkInterfaces[0].subnetwork") != "projects/"+cfg.Project+"/regions/"+cfg.Region+"/subnetworks/"+n+"-run-subnet" ||
			svc.String("template.vpcAccess.networkInterfaces[0].network") != "projects/"+cfg.Project+"/global/networks/"+n+"-vpc" ||
			!slices.Contains(svc.PropertyDeps["template"], runSubnet.URN) {
			t.Errorf("service does not egress through the Cloud Run subnet by id: %q", svc.String("template.vpcAccess.networkInterfaces[0].subnetwork"))
		}
		if svc.String("template.containers[0].startupProbe.httpGet.path") != proxy.HealthPath {
			t.Error("startup probe does not use the proxy's own health endpoint")
		}
		// Parallel with the VM: the service needs the address, never the instance.
		vm := must(t, g, tInstance, n)
		internal := must(t, g, tAddress, n+"-internal-ip")
		deps := svc.Dependencies()
		if slices.Contains(deps, vm.URN) {
			t.Error("the service depends on the VM; it should need only its address")
		}
		if !slices.Contains(deps, internal.URN) {
			t.Error("the service does not depend on the VM's internal address")
		}
		// nginx in the image is sized for this many requests per instance.
		if v, _ := svc.Get("template.maxInstanceRequestConcurrency"); v.NumberValue() < 1 || int(v.NumberValue()) > proxy.MaxConcurrency {
			t.Errorf("request concurrency %v exceeds what the proxy image serves (%d)", v.NumberValue(), proxy.MaxConcurrency)
		}
		if v, _ := svc.Get("template.scaling.minInstanceCount"); int(v.NumberValue()) != cfg.ProxyMinInstances {
			t.Errorf("min instances %v", v.NumberValue())
		}
	})

	t.Run("invokers", func(t *testing.T) {
		var members []string
		service := g.Find(tService, n)
		for _, m := range g.ByType(tRunIAM) {
			if m.Parent != service.URN {
				continue // the uptime check's own grant, checked with monitoring
			}
			if m.String("role") != components.InvokerRole {
				t.Errorf("unexpected role %s", m.String("role"))
			}
			members = append(members, m.String("member"))
		}
		want := cfg.Invokers
		switch cfg.Access {
		case config.Public:
			want = []string{"allUsers"}
		case config.IAP: // IAP's service agent alone; people pass IAP
			want = []string{"serviceAccount:service-" + graph.FakeProjectNumber + "@gcp-sa-iap.iam.gserviceaccount.com"}
		}
		if got := must(t, g, tRun, n).String(`labels["` + topology.AccessLabel + `"]`); got != string(cfg.Access) {
			t.Errorf("access label %q, want %q", got, cfg.Access)
		}
		if !slices.Equal(members, want) {
			t.Errorf("invokers %q, want exactly %q (access %s)", members, want, cfg.Access)
		}
	})

	t.Run("monitoring", func(t *testing.T) {
		comps := g.ByType("dify-gcp:components:Monitoring")
		if !cfg.Monitoring {
			if len(comps) != 0 {
				t.Errorf("monitoring declared in a stack that turned it off")
			}
			return
		}
		if len(comps) != 1 {
			t.Fatalf("%d Monitoring components, want 1", len(comps))
		}
		var emails []string
		for _, ch := range g.ByType("gcp:monitoring/notificationChannel:NotificationChannel") {
			if ch.String("type") != "email" {
				t.Errorf("channel %s is %s", ch.Name, ch.String("type"))
			}
			emails = append(emails, ch.String("labels.email_address"))
		}
		if !slices.Equal(emails, cfg.AlertEmails) {
			t.Errorf("alert emails %q, want %q", emails, cfg.AlertEmails)
		}
		check := must(t, g, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig", n+"-monitoring-uptime")
		svc := must(t, g, tRun, n)
		if check.String("httpCheck.path") != "/console/api/ping" {
			t.Errorf("uptime check does not probe /console/api/ping")
		}
		// The front door: the edge's domain when there is one (run.app is off).
		if cfg.Edge() {
			if host := check.String("monitoredResource.labels.host"); host != cfg.Domain {
				t.Errorf("uptime check probes %q, want the edge's %s", host, cfg.Domain)
			}
		} else if !slices.Contains(check.PropertyDeps["monitoredResource"], svc.URN) {
			t.Errorf("uptime check does not probe the service")
		}
		// No log-based metric of its own: an alert on one created in the same
		// deployment gets 404 (cloud rule alert-metric-created-first).
		if ms := g.ByType("gcp:logging/metric:Metric"); len(ms) != 0 {
			t.Errorf("%d log-based metrics declared; the alerts use log_entry_count", len(ms))
		}
		policies := map[string]*graph.Resource{}
		for _, p := range g.ByType("gcp:monitoring/alertPolicy:AlertPolicy") {
			policies[strings.TrimPrefix(p.Name, n+"-monitoring-")] = p
			if v, _ := p.Get("notificationChannels"); len(v.ArrayValue()) != len(cfg.AlertEmails) {
				t.Errorf("alert %s notifies %d channels", p.Name, len(v.ArrayValue()))
			}
		}
		for _, want := range []string{"uptime", "backup-missing", "backup-failed", "vm-down"} {
			if policies[want] == nil {
				t.Errorf("no %s alert", want)
			}
		}
		if p := policies["backup-missing"]; p != nil {
			// The success entries of the backup log, as dify-backup writes them.
			filter := p.String("conditions[0].conditionThreshold.filter")
			for _, want := range []string{`metric.type="logging.googleapis.com/log_entry_count"`, `resource.type="` + hostscript.BackupLogResourceType + `"`,
				`metric.label.log="` + hostscript.BackupLogName + `"`, `metric.label.severity="` + hostscript.BackupSuccessSeverity + `"`} {
				if !strings.Contains(filter, want) {
					t.Errorf("missed-backup filter %q lacks %s", filter, want)
				}
			}
			// It fires one interval plus the margin after the last success:
			// the look-back window plus the time the condition must hold.
			window, _ := time.ParseDuration(p.String("conditions[0].conditionThreshold.aggregations[0].alignmentPeriod"))
			hold, _ := time.ParseDuration(p.String("conditions[0].conditionThreshold.duration"))
			if window+hold != cfg.BackupAlertAfter() || window <= 0 {
				t.Errorf("missed-backup alert fires %s after the last success (window %s + %s), want %s (interval %d h plus margin)",
					window+hold, window, hold, cfg.BackupAlertAfter(), cfg.BackupIntervalHours)
			}
			// A stack whose first backup never succeeds is alerted too: no
			// data at all is a violation, which an absence condition is not.
			if p.String("conditions[0].conditionThreshold.evaluationMissingData") != "EVALUATION_MISSING_DATA_ACTIVE" {
				t.Error("the missed-backup alert stays silent when no backup ever succeeded")
			}
		}
		if p := policies["vm-down"]; p != nil && !strings.Contains(p.String("conditions[0].conditionAbsent.filter"), `instance_name="`+n+`"`) {
			t.Error("VM alert does not watch the VM")
		}
	})

	if !cfg.IsManaged() {
		t.Run("vm tier", func(t *testing.T) { checkVMTier(t, g, cfg) })
	}

	t.Run("schedule", func(t *testing.T) {
		vm := must(t, g, tInstance, n)
		policy := g.Find(tPolicy, n+"-schedule")
		if cfg.VMStartCron == "" {
			if policy != nil || vm.String("resourcePolicies") != "" {
				t.Error("a VM schedule exists without config")
			}
			return
		}
		if policy == nil {
			t.Fatal("no VM schedule")
		}
		if policy.String("instanceSchedulePolicy.vmStartSchedule.schedule") != cfg.VMStartCron ||
			policy.String("instanceSchedulePolicy.vmStopSchedule.schedule") != cfg.VMStopCron ||
			policy.String("instanceSchedulePolicy.timeZone") != cfg.VMScheduleTimeZone {
			t.Errorf("schedule does not follow config")
		}
		if !slices.Contains(vm.PropertyDeps["resourcePolicies"], policy.URN) {
			t.Error("the VM does not carry its schedule")
		}
		agent := must(t, g, tProjectIAM, n+"-schedule-agent")
		if !strings.Contains(agent.String("member"), "@compute-system.iam.gserviceaccount.com") || !slices.Contains(vm.DependsOn, agent.URN) {
			t.Error("the Compute Engine service agent may not start and stop the VM before it exists")
		}
	})

	t.Run("outputs", func(t *testing.T) {
		want := map[string]string{
			outputs.ServiceName:         n,
			outputs.Region:              cfg.Region,
			outputs.Zone:                cfg.Zone,
			outputs.VMName:              n,
			outputs.InternalAddress:     g.Fake("<address of " + n + "-internal-ip>"),
			outputs.ExternalAddress:     g.Fake("<address of " + n + "-external-ip>"),
			outputs.BackupBucket:        cfg.BackupBucketName(),
			outputs.VMServiceAccount:    n + "-vm@" + cfg.Project + ".iam.gserviceaccount.com",
			outputs.ProxyServiceAccount: n + "-proxy@" + cfg.Project + ".iam.gserviceaccount.com",
			outputs.AdminPasswordSecret: n + "-admin-password",
			outputs.PublicURL:           "https://" + n + "-" + graph.FakeProjectNumber + "." + cfg.Region + ".run.app",
			outputs.EdgeAddress:         "",
		}
		if cfg.Edge() {
			want[outputs.PublicURL] = "https://" + cfg.Domain
			want[outputs.ServiceURL] = "https://" + cfg.Domain
			want[outputs.EdgeAddress] = g.Fake("<address of " + n + "-edge-ip>")
		}
		for _, spec := range outputs.All() {
			o, ok := g.Outputs[spec.Name]
			if !ok || !o.Known {
				t.Errorf("output %s missing or unknown", spec.Name)
				continue
			}
			if w, ok := want[spec.Name]; ok && o.Value != w {
				t.Errorf("output %s = %v, want %s", spec.Name, o.Value, w)
			}
		}
		if len(g.Outputs) != len(outputs.All()) {
			t.Errorf("%d outputs exported, contract lists %d", len(g.Outputs), len(outputs.All()))
		}
		if svc := must(t, g, tRun, n); !cfg.Edge() && !slices.Contains(g.Outputs[outputs.ServiceURL].From, svc.URN) {
			t.Error("serviceUrl does not come from the Cloud Run service")
		}
		if img := g.Outputs[outputs.ImageRef].Value.(string); !strings.Contains(img, "@sha256:") {
			t.Errorf("imageRef %q is not by digest", img)
		}
	})
}

func TestPrebuiltImageRegistersNoDockerResource(t *testing.T) {
	ref := "asia-northeast1-docker.pkg.dev/acme-dify-dev/dify-dev/proxy@sha256:" + strings.Repeat("ab", 32)
	g, _, err := run(t, "dev", map[string]string{"dify-gcp:proxyImage": ref}, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range g.Resources {
		if strings.HasPrefix(r.Type, "docker:") {
			t.Errorf("docker resource %s registered: preview would need a Docker daemon", r.Name)
		}
	}
	if got := must(t, g, tRun, "dify-dev").String("template.containers[0].image"); got != ref {
		t.Errorf("service image %q, want %q", got, ref)
	}
	if g.Outputs[outputs.ImageRef].Value != ref {
		t.Errorf("imageRef output %v", g.Outputs[outputs.ImageRef].Value)
	}
}

func TestPreviewLeavesCloudValuesUnknown(t *testing.T) {
	g, _, err := run(t, "prod", nil, graph.Options{Preview: true})
	if err != nil {
		t.Fatalf("preview failed: %v", err)
	}
	for _, name := range []string{outputs.InternalAddress, outputs.EdgeAddress, outputs.ImageRef} {
		if g.Outputs[name].Known {
			t.Errorf("output %s is known in a preview: %v", name, g.Outputs[name].Value)
		}
	}
	if g.Outputs[outputs.Region].Value != "asia-northeast1" {
		t.Errorf("region output %v", g.Outputs[outputs.Region].Value)
	}
	// Inputs computed from other resources are recorded as unknown, not dropped.
	vm := must(t, g, tInstance, "dify-prod")
	if v, ok := vm.Get("networkInterfaces[0].networkIp"); !ok || !v.IsComputed() {
		t.Errorf("the VM's internal address in a preview is %v (set %v), want unknown", v, ok)
	}
	if v, _ := vm.Get("machineType"); v.StringValue() != "e2-standard-2" {
		t.Errorf("a known input was lost in the preview: machineType %v", v)
	}
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	cases := map[string]map[string]string{
		"no access":              {"dify-gcp:access": ""},
		"preemptible":            {"dify-gcp:provisioningModel": "preemptible"},
		"spot in production":     {"dify-gcp:provisioningModel": "spot"},
		"timeout over an hour":   {"dify-gcp:requestTimeoutSeconds": "7200"},
		"upload over 32 MiB":     {"dify-gcp:uploadLimitMiB": "40"},
		"zone outside region":    {"dify-gcp:zone": "us-central1-a"},
		"public with invokers":   {"dify-gcp:invokers": `["user:ana@example.com"]`},
		"proxy image by tag":     {"dify-gcp:proxyImage": "nginx:latest"},
		"many problems together": {"dify-gcp:access": "everyone", "dify-gcp:backupRetentionDays": "0", "dify-gcp:machineType": "e2-micro"},
	}
	for name, override := range cases {
		t.Run(name, func(t *testing.T) {
			g, _, err := run(t, "prod", override, graph.Options{})
			wantRefused(t, g, err, slices.Collect(maps.Keys(override))...)
		})
	}
}

// A private stack is used through `gcloud run services proxy`: the page comes
// from http://localhost:8080, so the URLs the browser calls must be empty
// (Dify: "If empty, it is the same domain"). A public stack keeps its public
// URL. hostscript's browser test shows what each does in a real browser.
func TestBrowserURLFollowsAccess(t *testing.T) {
	for _, tc := range []struct {
		stack string
		want  func(publicURL string) string
	}{
		{"dev", func(string) string { return "''" }},
		{"prod", func(u string) string { return "'" + u + "'" }},
	} {
		g, cfg, err := run(t, tc.stack, nil, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		script := must(t, g, tInstance, cfg.Name()).String(`metadata["startup-script"]`)
		public := fmt.Sprint(g.Outputs[outputs.PublicURL].Value)
		if want := "readonly BROWSER_URL=" + tc.want(public) + "\n"; !strings.Contains(script, want) {
			t.Errorf("%s (access %s): the startup script lacks %q", tc.stack, cfg.Access, want)
		}
		if want := "readonly PUBLIC_URL='" + public + "'\n"; !strings.Contains(script, want) {
			t.Errorf("%s: the startup script lacks %q: API callers use it", tc.stack, want)
		}
	}
}

// Monitoring and a VM schedule cannot both be on: the alerts would page every
// night the schedule stops the VM. The refusal names both keys and the fix,
// and nothing is registered.
func TestMonitoringWithVMScheduleIsRefused(t *testing.T) {
	g, _, err := run(t, "dev", map[string]string{"dify-gcp:monitoring": "true", "dify-gcp:alertEmails": `["ops@example.com"]`, "dify-gcp:backupIntervalHours": "12"}, graph.Options{})
	wantRefused(t, g, err, "dify-gcp:vmStartCron", `"0 8 * * 1-5"`, "dify-gcp:monitoring", "every night")
}

// wantRefused checks a run the config refused: an error that names keys and
// says nothing was created, and not one resource registered.
func wantRefused(t *testing.T, g *graph.Graph, err error, keys ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	if !strings.Contains(err.Error(), "nothing was created") {
		t.Errorf("error does not say nothing was created: %v", err)
	}
	for _, k := range keys {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not name %s: %v", k, err)
		}
	}
	if len(g.Resources) != 0 {
		t.Errorf("%d resources registered despite invalid config", len(g.Resources))
	}
}
