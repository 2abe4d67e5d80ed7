package topology

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/presets"
)

// problems collects every error Resolve finds, so the user sees them all.
type problems []string

func (p *problems) add(f string, a ...any) { *p = append(*p, fmt.Sprintf(f, a...)) }

// Resolve validates t and applies the provider's defaults, in four steps:
// provider (provider, method and deployment defaults), trust (trusted_ips),
// header (real_ip_header and real_ip_recursive) and plugin (the
// client-ip-guard configs, compiled by the plugin's own guardconf).
// extraTrusted are ranges read with --trusted-from (already normalized).
func Resolve(t Topology, extraTrusted ...string) (*Resolved, error) {
	r, err := resolveProvider(&t)
	if err != nil {
		return nil, err
	}
	var errs problems
	resolveDeployment(&t, r, &errs)
	resolveTrust(&t, r, extraTrusted, &errs)
	resolveHeader(&t, r, &errs)
	resolvePlugin(&t, r, &errs)
	resolveServices(&t, &errs)
	resolvePlatform(&t, r, errs.add)
	if t.Name == "" {
		t.Name = r.Provider.Name + "-" + t.Method
	}
	r.Topology = t
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("invalid topology:\n  %s", strings.Join(errs, "\n  "))
	}
	return r, nil
}

// resolveProvider looks up the provider and its profile for the method
// (the provider's default when unset).
func resolveProvider(t *Topology) (*Resolved, error) {
	if t.Provider == "" {
		t.Provider = "generic"
	}
	p, ok := LookupProvider(t.Provider)
	if !ok {
		return nil, fmt.Errorf("unknown provider %q (known: %s)", t.Provider, strings.Join(ProviderNames(), ", "))
	}
	if t.Method == "" {
		t.Method = p.DefaultMethod
	}
	prof, ok := p.Methods[t.Method]
	if !ok {
		if why, known := p.Unsupported[t.Method]; known {
			return nil, fmt.Errorf("provider %s does not support method %s: %s; use --method %s", p.Name, t.Method, why, strings.Join(p.MethodNames(), " or "))
		}
		return nil, fmt.Errorf("unknown method %q (known: %s)", t.Method, strings.Join(Methods, ", "))
	}
	return &Resolved{Provider: p, Method: t.Method, Profile: prof}, nil
}

// resolveDeployment fills the Kubernetes defaults and where TLS terminates;
// the chart's names and the load balancer's settings follow in
// resolvePlatform (platform.go).
func resolveDeployment(t *Topology, r *Resolved, errs *problems) {
	if t.Namespace == "" {
		t.Namespace = "kong"
	}
	if t.IngressClass == "" {
		t.IngressClass = "kong"
	}
	if t.Prefix == "" {
		t.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(t.Prefix, "/") {
		errs.add("prefix %q must be an absolute path", t.Prefix)
	}
	t.Prefix = strings.TrimRight(t.Prefix, "/")
	if t.Prefix == "" {
		t.Prefix = "/"
	}
	switch t.TLS {
	case "":
		t.TLS = TLSKong
		if r.Profile.TLSAtLB {
			t.TLS = TLSLB
		}
	case TLSKong, TLSLB:
	default:
		errs.add("tls %q must be kong or lb", t.TLS)
	}
	r.TLS = t.TLS
}

// resolveTrust builds trusted_ips from trustedCIDRs, --trusted-from, the
// presets (the profile's and the user's) and trustAll.
func resolveTrust(t *Topology, r *Resolved, extraTrusted []string, errs *problems) {
	seen := map[string]bool{}
	add := func(c, src string) {
		n, err := presets.NormalizeCIDR(c)
		if err != nil {
			errs.add("trusted range from %s: %v", src, err)
			return
		}
		if presets.IsTrustAll(n) && !t.TrustAll {
			errs.add("trusted range %s from %s trusts every address; set trustAll (--trust-all) if that is really intended", n, src)
			return
		}
		if !seen[n] {
			seen[n] = true
			r.TrustedIPs = append(r.TrustedIPs, n)
		}
	}
	for _, c := range t.TrustedCIDRs {
		add(c, "trustedCIDRs")
	}
	if len(t.TrustedCIDRs) > 0 {
		r.Sources = append(r.Sources, "trustedCIDRs: "+strings.Join(t.TrustedCIDRs, ", "))
	}
	for _, c := range extraTrusted {
		add(c, "--trusted-from")
	}
	if len(extraTrusted) > 0 {
		r.Sources = append(r.Sources, fmt.Sprintf("--trusted-from: %d ranges", len(extraTrusted)))
	}
	names := append([]string{}, r.Profile.Presets...)
	for _, n := range t.Presets {
		if !contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		ps, err := presets.Get(n)
		if err != nil {
			errs.add("%v", err)
			continue
		}
		for _, c := range ps.CIDRs {
			add(c, "preset "+n)
		}
		r.Sources = append(r.Sources, fmt.Sprintf("preset %s (as of %s, %s)", n, ps.AsOf, ps.Source))
	}
	t.Presets = names
	if t.TrustAll {
		add("0.0.0.0/0", "trustAll")
		add("::/0", "trustAll")
		r.Sources = append(r.Sources, "trustAll")
		w := "trustAll: trusted_ips = 0.0.0.0/0,::/0 trusts every peer"
		if t.Method == MethodHeaders {
			w += "; with header-based addresses ANY client can spoof its IP"
		} else {
			w += "; safe only if Kong is reachable through the load balancer alone, and Kong will also honour X-Forwarded-Proto/Host from every client"
		}
		r.Warnings = append(r.Warnings, w)
	}
	if t.TrustAll && t.Method == MethodHeaders {
		errs.add("trustAll with method headers lets every client choose its own address; name the proxy's ranges instead")
	}
	if t.Method != MethodLocal && len(r.TrustedIPs) == 0 {
		errs.add("method %s needs the load balancer's addresses: give trustedCIDRs (--trusted-cidr), presets (--preset) or --trusted-from", t.Method)
	} else if r.Profile.NeedsCIDRs && len(t.TrustedCIDRs) == 0 && len(extraTrusted) == 0 && !t.TrustAll && t.Method != MethodLocal {
		r.Warnings = append(r.Warnings, fmt.Sprintf("provider %s: only presets are trusted; add the load balancer / VPC CIDR with --trusted-cidr", r.Provider.Name))
	}
}

// resolveHeader sets real_ip_header and real_ip_recursive for the method.
func resolveHeader(t *Topology, r *Resolved, errs *problems) {
	switch t.Method {
	case MethodProxyProtocol:
		r.RealIPHeader = "proxy_protocol"
		r.ProxyProtocol = true
		if t.RealIPHeader != "" && !strings.EqualFold(t.RealIPHeader, "proxy_protocol") {
			errs.add("realIPHeader %q conflicts with method proxy-protocol", t.RealIPHeader)
		}
		if t.Recursive != nil && *t.Recursive {
			errs.add("recursive has no effect with proxy-protocol; drop it")
		}
	case MethodHeaders:
		r.RealIPHeader = r.Profile.Header
		if r.RealIPHeader == "" {
			r.RealIPHeader = "X-Forwarded-For"
		}
		r.Recursive = r.Profile.Recursive
		if t.RealIPHeader != "" {
			r.RealIPHeader = headerSpelling(t.RealIPHeader, errs)
		}
		if t.Recursive != nil {
			r.Recursive = *t.Recursive
		}
	case MethodLocal:
		r.RealIPHeader = nodeconf.DefaultRealIPHeader
		if t.RealIPHeader != "" || t.Recursive != nil {
			errs.add("realIPHeader/recursive apply to method headers only")
		}
	}
}

// headerSpelling returns the real_ip_header to emit for a user's header:
// canonical case, with nginx's exact spelling where case matters to it.
func headerSpelling(h string, errs *problems) string {
	out := http.CanonicalHeaderKey(h)
	if strings.EqualFold(h, "proxy_protocol") {
		errs.add("realIPHeader proxy_protocol needs method proxy-protocol")
	}
	if strings.EqualFold(h, "Forwarded") {
		errs.add("realIPHeader Forwarded (RFC 7239) is understood by the plugin only; nginx realip cannot parse it, so Kong's own address would differ")
	}
	switch {
	case strings.EqualFold(out, "Cf-Connecting-Ip"):
		out = "CF-Connecting-IP"
	case strings.EqualFold(out, "X-Real-Ip"):
		out = "X-Real-IP"
	}
	return out
}

// resolveServices checks the optional services and routes for kong.yml.
func resolveServices(t *Topology, errs *problems) {
	for i, s := range t.Services {
		if s.Name == "" || s.URL == "" {
			errs.add("services[%d] needs name and url", i)
		}
		for j, rt := range s.Routes {
			if rt.Name == "" || len(rt.Paths) == 0 {
				errs.add("services[%d].routes[%d] needs name and paths", i, j)
			}
		}
	}
}
