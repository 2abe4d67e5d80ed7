package lint

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// privateRanges are where cluster nodes and pods get their addresses
// (RFC 1918, RFC 6598 shared space, IPv6 ULA). lint does not know a
// cluster's node CIDR, so a trusted network inside these counts as one
// that may hold the nodes.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

func parseEntry(e string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(e); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(e); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// trustedNodeNetwork returns the first trusted_ips entry that is a private
// network (not a single host) and so may cover the node or pod network.
func trustedNodeNetwork(trusted []string) string {
	for _, e := range trusted {
		p, ok := parseEntry(e)
		if !ok || p.Bits() == 0 {
			continue
		}
		host := 32
		if p.Addr().Is6() {
			host = 128
		}
		for _, r := range privateRanges {
			if p.Overlaps(r) && host-p.Bits() >= 8 {
				return e
			}
		}
	}
	return ""
}

// trustsPrivate reports whether any trusted entry overlaps a private range.
func trustsPrivate(trusted []string) bool {
	for _, e := range trusted {
		if p, ok := parseEntry(e); ok {
			for _, r := range privateRanges {
				if p.Overlaps(r) {
					return true
				}
			}
		}
	}
	return false
}

// snatService reports whether connections through sv reach Kong from a
// node address: a LoadBalancer or NodePort Service with Cluster policy and
// no PROXY protocol, not sent straight to pod IPs.
func snatService(sv *Service) bool {
	if !topology.SNATs(sv.Type, sv.ExternalTrafficPolicy) || ppAnnotation(sv) != "" {
		return false
	}
	if v, _ := sv.ann(annTKEDirect); strings.EqualFold(v, "true") {
		return false
	}
	if v, _ := sv.ann(annGKENEG); strings.Contains(strings.ReplaceAll(v, " ", ""), `"ingress":true`) {
		return false // container-native load balancing: the front end dials pod IPs
	}
	return true
}

// headerBased reports whether the node takes the client address from a
// header of trusted peers (X-Real-IP by default).
func headerBased(n *Node) (string, bool) {
	h, _ := n.RealIPHeader()
	t, _ := n.TrustedIPs()
	return h, len(t) > 0 && !strings.EqualFold(h, "proxy_protocol")
}

// checkTopology runs the rules that need a node and the Service exposing
// it together. hasIngress tells whether an Ingress (an L7 proxy that sets
// X-Forwarded-For) is among the same files. A header method behind SNAT
// either trusts the node network (KC127: anyone can forge the header) or
// not (KC108: every request resolves to a node). GKE L7's front-end-only
// trust is KC114 (checkNodeService).
func checkTopology(s *sink, n *Node, sv *Service, hasIngress bool) {
	trusted, tv := n.TrustedIPs()
	header, isHeader := headerBased(n)
	if !isHeader || isTrustAll(trusted) || !snatService(sv) {
		return
	}
	policy := orDefault(sv.ExternalTrafficPolicy, "Cluster")
	switch net := trustedNodeNetwork(trusted); {
	case net != "" && l7Annotation(sv) == "" && !hasIngress:
		s.add(ruleTrustedNodes, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"),
			fmt.Sprintf("Service %s (%s, externalTrafficPolicy %s) SNATs every client to a node address, and trusted_ips entry %s covers the node/pod network, so Kong takes %s from anyone",
				sv.Name, sv.Type, policy, net, header))
	case !trustsPrivate(trusted) && !strings.EqualFold(header, nodeconf.DefaultRealIPHeader):
		// checkService reports the same mistake for nodes without a header
		// method (snatPossible); this is its header-method form.
		s.addFix(ruleSNAT, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"),
			fmt.Sprintf("Service %s (%s, externalTrafficPolicy %s) makes a node the peer of every request, and trusted_ips %q has no private (node) range, so Kong ignores %s",
				sv.Name, sv.Type, policy, strings.Join(trusted, ","), header),
			"set externalTrafficPolicy: Local, or add the node network to trusted_ips if only the L7 proxy can reach the nodes")
	}
}

// classicELB reports a Classic ELB (in-tree controller, no
// aws-load-balancer-type) in TCP or SSL mode: it opens a new connection to
// the node, so externalTrafficPolicy: Local keeps the ELB's address, not the
// client's.
func classicELB(sv *Service) bool {
	if sv.Type != "LoadBalancer" || sv.ExternalTrafficPolicy != "Local" || ppAnnotation(sv) != "" {
		return false
	}
	if _, ok := sv.ann(annAWSType); ok {
		return false
	}
	aws := false
	for k := range sv.Annotations {
		if strings.HasPrefix(k, "service.beta.kubernetes.io/aws-load-balancer-") {
			aws = true
		}
	}
	bp, _ := sv.ann(annAWSBackend)
	bp = strings.ToLower(bp)
	return aws && (bp == "" || bp == "tcp" || bp == "ssl")
}
