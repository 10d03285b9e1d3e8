package policy

import (
	"fmt"
	"github.com/dify-gcp/dify-gcp/topology"
	"net/netip"
	"strconv"
	"strings"
)

// sshPort is the port CIS 3.6 and 3.10 are about.
const sshPort = 22

// ingressAllow is an enabled ingress rule that allows traffic, as the checks
// need it: its effective sources and what it allows.
type ingressAllow struct {
	r Resource
	// sources are the rule's effective source ranges; a rule naming no source
	// at all applies to 0.0.0.0/0, as Compute Engine does.
	sources []string
	// others lists source tags and service accounts (sources that are VMs).
	others  []string
	allows  []any
	unknown bool // sources not known yet
}

// ingressAllows returns every enabled ingress rule that allows something.
func ingressAllows(s Stack) []ingressAllow {
	var out []ingressAllow
	for _, r := range s.ByType(typeFirewall) {
		dir, _ := r.Get("direction")
		if d, _ := asString(dir); isUnknown(dir) || (d != "" && d != "INGRESS") {
			continue
		}
		if v, _ := r.Get("disabled"); v == true {
			continue
		}
		allows, _ := r.Get("allows")
		if isUnknown(allows) || len(asList(allows)) == 0 {
			continue
		}
		a := ingressAllow{r: r, allows: asList(allows)}
		ranges, hasRanges := r.Get("sourceRanges")
		tags, hasTags := r.Get("sourceTags")
		sas, hasSAs := r.Get("sourceServiceAccounts")
		if isUnknown(ranges) || isUnknown(tags) || isUnknown(sas) {
			a.unknown = true
		}
		for _, v := range asList(ranges) {
			if isUnknown(v) {
				a.unknown = true
				continue
			}
			str, _ := asString(v)
			a.sources = append(a.sources, str)
		}
		for _, v := range append(asList(tags), asList(sas)...) {
			str, _ := asString(v)
			a.others = append(a.others, str)
		}
		empty := func(v any, has bool) bool { return !has || len(asList(v)) == 0 }
		if !a.unknown && empty(ranges, hasRanges) && empty(tags, hasTags) && empty(sas, hasSAs) {
			a.sources = []string{"0.0.0.0/0"}
		}
		out = append(out, a)
	}
	return out
}

// isAnywhere reports whether a source range is the whole address space.
func isAnywhere(cidr string) bool {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	return err == nil && p.Bits() == 0
}

func checkOpenIngress(s Stack) []finding {
	var out []finding
	for _, a := range ingressAllows(s) {
		for _, src := range a.sources {
			if isAnywhere(src) {
				out = append(out, finding{a.r.URN, fmt.Sprintf("firewall %s allows ingress (%s) from %s", a.r.Name, describeAllows(a.allows), src)})
			}
		}
	}
	return out
}

func checkSSHOnlyFromIAP(s Stack) []finding {
	iap := netip.MustParsePrefix(topology.IAPRange)
	var out []finding
	for _, a := range ingressAllows(s) {
		if a.unknown || !allowsTCPPort(a.allows, sshPort) {
			continue
		}
		var bad []string
		for _, src := range a.sources {
			p, err := netip.ParsePrefix(strings.TrimSpace(src))
			if err != nil {
				if addr, err2 := netip.ParseAddr(strings.TrimSpace(src)); err2 == nil {
					p = netip.PrefixFrom(addr, addr.BitLen())
				} else {
					bad = append(bad, src)
					continue
				}
			}
			if p.Bits() < iap.Bits() || !iap.Contains(p.Addr()) {
				bad = append(bad, src)
			}
		}
		bad = append(bad, a.others...)
		if len(bad) > 0 {
			out = append(out, finding{a.r.URN, fmt.Sprintf("firewall %s allows SSH (tcp %d) from %s, outside IAP's %s", a.r.Name, sshPort, strings.Join(bad, ", "), topology.IAPRange)})
		}
	}
	return out
}

// allowsTCPPort reports whether any allow entry admits tcp traffic to port.
// An entry whose protocol or ports are unknown is not counted.
func allowsTCPPort(allows []any, port int) bool {
	for _, e := range allows {
		proto, _ := lookup(e, "protocol")
		p, isStr := asString(proto)
		if !isStr || (p != "tcp" && p != "6" && p != "all") {
			continue
		}
		ports, ok := lookup(e, "ports")
		if isUnknown(ports) {
			continue
		}
		if !ok || len(asList(ports)) == 0 {
			return true // no ports: every port
		}
		for _, pv := range asList(ports) {
			spec, _ := asString(pv)
			if portInSpec(spec, port) {
				return true
			}
		}
	}
	return false
}

// portInSpec reports whether a firewall port spec ("22" or "20-30") covers port.
func portInSpec(spec string, port int) bool {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(spec), "-")
	from, err := strconv.Atoi(lo)
	if err != nil {
		return false
	}
	to := from
	if isRange {
		if to, err = strconv.Atoi(hi); err != nil {
			return false
		}
	}
	return from <= port && port <= to
}

// describeAllows renders allow entries as "tcp:80, udp" for messages.
func describeAllows(allows []any) string {
	var parts []string
	for _, e := range allows {
		proto, _ := lookup(e, "protocol")
		p := fmt.Sprint(proto)
		ports, _ := lookup(e, "ports")
		var ps []string
		for _, v := range asList(ports) {
			ps = append(ps, fmt.Sprint(v))
		}
		if len(ps) > 0 {
			p += ":" + strings.Join(ps, ",")
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// flowLogPurposes are the subnet purposes that carry VM traffic and so can
// (and must) log flows; proxy-only and service-connect subnets cannot.
func flowLogPurposes() []string { return []string{"", "PRIVATE", "PRIVATE_RFC_1918"} }

func checkFlowLogs(s Stack) []finding {
	var out []finding
	for _, r := range s.ByType(typeSubnetwork) {
		purpose, _ := r.Get("purpose")
		if isUnknown(purpose) {
			continue
		}
		p, _ := asString(purpose)
		applies := false
		for _, fp := range flowLogPurposes() {
			applies = applies || p == fp
		}
		if !applies {
			continue
		}
		lc, hasLog := r.Get("logConfig")
		legacy, _ := r.Get("enableFlowLogs")
		if isUnknown(lc) || hasLog || legacy == true || isUnknown(legacy) {
			continue
		}
		out = append(out, finding{r.URN, fmt.Sprintf("subnetwork %s has no flow logs (no logConfig)", r.Name)})
	}
	return out
}
