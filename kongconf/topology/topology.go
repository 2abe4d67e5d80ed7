// Package topology models where Kong sits (cloud provider, how the client
// address reaches it, which ranges to trust, plugin options) and resolves that
// into the concrete node and plugin settings every emitter shares.
package topology

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/presets"
)

// TLS termination points.
const (
	// TLSKong terminates TLS on Kong (its 8443 listener).
	TLSKong = "kong"
	// TLSLB terminates TLS on the load balancer; Kong serves plain HTTP.
	TLSLB = "lb"
)

// Chart names for Helm values output.
const (
	// ChartKong is the Kong/charts "kong" chart (keys at the top level).
	ChartKong = chart.Kong
	// ChartIngress is the Kong/charts "ingress" chart (gateway keys under "gateway.").
	ChartIngress = chart.Ingress
)

// Plugin identity shared by every emitter.
const (
	// PluginName is the plugin's name in Kong (and the binary's basename).
	PluginName = "client-ip-guard"
	// PluginBinary is where the image installs the plugin binary.
	PluginBinary = "/usr/local/bin/client-ip-guard"
	// DefaultPrefix is Kong's default prefix outside the Helm chart.
	DefaultPrefix = "/usr/local/kong"
	// HelmPrefix is the prefix the Kong Helm chart configures.
	HelmPrefix = "/kong_prefix"
)

// Topology is the user's description of the deployment (flags or YAML file).
// Field names are the YAML keys.
type Topology struct {
	// Name labels the topology (used in comments and object names).
	Name string `json:"name,omitempty"`
	// Provider is one of ProviderNames().
	Provider string `json:"provider"`
	// Method is local, proxy-protocol or headers; empty picks the provider default.
	Method string `json:"method,omitempty"`
	// TrustedCIDRs are the load balancer / VPC ranges the peer comes from.
	TrustedCIDRs []string `json:"trustedCIDRs,omitempty"`
	// Presets name embedded range lists to trust (see kongconf presets).
	Presets []string `json:"presets,omitempty"`
	// TrustAll trusts 0.0.0.0/0 and ::/0; only sensible with PROXY protocol when
	// the load balancer is the only way in.
	TrustAll bool `json:"trustAll,omitempty"`
	// RealIPHeader overrides the header for the headers method.
	RealIPHeader string `json:"realIPHeader,omitempty"`
	// Recursive overrides real_ip_recursive for the headers method.
	Recursive *bool `json:"recursive,omitempty"`
	// TLS is where TLS terminates: kong or lb; empty picks the provider default.
	TLS string `json:"tls,omitempty"`
	// Chart selects the Helm chart layout: kong (default) or ingress.
	Chart string `json:"chart,omitempty"`
	// Namespace for Kubernetes objects (default kong).
	Namespace string `json:"namespace,omitempty"`
	// Release is the Helm release name; every generated Kubernetes name
	// follows the chart's naming for it (default kong).
	Release string `json:"release,omitempty"`
	// Image is REPO:TAG of a Kong image that contains the plugin binary;
	// required by the Helm outputs (the chart's kong:3.9 has no plugin).
	Image string `json:"image,omitempty"`
	// LBCertificate is the certificate the load balancer terminates TLS with
	// (tls: lb): an ACM ARN, a DigitalOcean certificate ID, Hetzner
	// certificate names, a Linode TLS Secret or a GCP pre-shared certificate.
	LBCertificate string `json:"lbCertificate,omitempty"`
	// LBLocation places the load balancer (Hetzner: a location such as fsn1
	// or a network zone such as eu-central).
	LBLocation string `json:"lbLocation,omitempty"`
	// ServiceName is the proxy Service's name (default: the chart's,
	// <release>-kong-proxy or <release>-gateway-proxy; another name is set
	// through proxy.nameOverride).
	ServiceName string `json:"serviceName,omitempty"`
	// IngressClass for KongClusterPlugin (default kong).
	IngressClass string `json:"ingressClass,omitempty"`
	// Prefix is Kong's prefix where the plugin socket lives (default
	// /usr/local/kong; Helm outputs always use /kong_prefix).
	Prefix string `json:"prefix,omitempty"`
	// Plugin holds the client-ip-guard options that do not follow from the topology.
	Plugin PluginOptions `json:"plugin,omitempty"`
	// Services are optional gateway services/routes for kong.yml.
	Services []Service `json:"services,omitempty"`
}

// PluginOptions are client-ip-guard settings chosen by the user. Empty values
// take the plugin's defaults.
type PluginOptions struct {
	// Mode is monitor or enforce.
	Mode string `json:"mode,omitempty"`
	// RequireTrustedPeer overrides the method's default.
	RequireTrustedPeer *bool `json:"requireTrustedPeer,omitempty"`
	// Allow lists client ranges allowed in enforce mode.
	Allow []string `json:"allow,omitempty"`
	// Deny lists client ranges denied in enforce mode.
	Deny []string `json:"deny,omitempty"`
	// Status is the rejection status code.
	Status int `json:"status,omitempty"`
	// Message is the rejection body.
	Message string `json:"message,omitempty"`
	// Reject lists verdicts that are rejected in enforce mode.
	Reject []string `json:"reject,omitempty"`
	// UpstreamHeader names a header carrying the verified client IP upstream.
	UpstreamHeader string `json:"upstreamHeader,omitempty"`
	// StripUntrustedForwarding removes forwarding headers sent by untrusted peers.
	StripUntrustedForwarding bool `json:"stripUntrustedForwarding,omitempty"`
	// LogWhen is all, anomalies or off.
	LogWhen string `json:"logWhen,omitempty"`
	// LogSink is kong, serializer, file or stdout.
	LogSink string `json:"logSink,omitempty"`
	// LogPath is the file for the file sink.
	LogPath string `json:"logPath,omitempty"`
	// LogPorts adds ports to log records.
	LogPorts bool `json:"logPorts,omitempty"`
}

// Service is a gateway service with routes for kong.yml.
type Service struct {
	// Name of the Kong service.
	Name string `json:"name"`
	// URL of the upstream.
	URL string `json:"url"`
	// Routes of the service.
	Routes []Route `json:"routes,omitempty"`
}

// Route is a Kong route.
type Route struct {
	// Name of the route.
	Name string `json:"name"`
	// Paths the route matches.
	Paths []string `json:"paths"`
	// StripPath mirrors Kong's strip_path (default true in Kong; nil leaves it out).
	StripPath *bool `json:"stripPath,omitempty"`
	// Plugin, when set, adds a route-scoped client-ip-guard instance whose
	// options override the global ones.
	Plugin *RoutePlugin `json:"plugin,omitempty"`
}

// RoutePlugin is a route-scoped client-ip-guard instance: the global
// PluginOptions with these fields overriding. TrustedIPs, RealIPHeader and
// RealIPRecursive exist to demonstrate drift on purpose (kong.yml for the
// demo); leave them unset to mirror the node.
type RoutePlugin struct {
	PluginOptions
	// TrustedIPs overrides the plugin's trusted_ips.
	TrustedIPs *[]string `json:"trustedIPs,omitempty"`
	// RealIPHeader overrides the plugin's real_ip_header.
	RealIPHeader string `json:"realIPHeader,omitempty"`
	// RealIPRecursive overrides the plugin's real_ip_recursive.
	RealIPRecursive *bool `json:"realIPRecursive,omitempty"`
}

// Resolved is a validated topology with every default applied.
type Resolved struct {
	// Topology is the input with defaults filled in.
	Topology Topology
	// Provider is the provider description.
	Provider Provider
	// Method is the chosen method.
	Method string
	// Profile is the provider's profile for Method.
	Profile MethodProfile
	// TrustedIPs is the final trusted_ips list (deduplicated, in input order).
	TrustedIPs []string
	// RealIPHeader is the final real_ip_header.
	RealIPHeader string
	// Recursive is the final real_ip_recursive.
	Recursive bool
	// TLS is where TLS terminates.
	TLS string
	// ProxyProtocol reports whether Kong's proxy listeners need the proxy_protocol flag.
	ProxyProtocol bool
	// RequireTrustedPeer is the plugin's require_trusted_peer.
	RequireTrustedPeer bool
	// Warnings are non-fatal concerns to show the user.
	Warnings []string
	// Sources explains where trusted ranges came from (for comments).
	Sources []string
	// Platform holds the chart's names, the image and the load balancer's
	// Service and Ingress settings.
	Platform Platform
}

// LoadFile reads a topology YAML file strictly (unknown keys are errors).
func LoadFile(path string) (Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Topology{}, err
	}
	return Parse(b, path)
}

// Parse decodes a topology document strictly.
func Parse(b []byte, name string) (Topology, error) {
	var t Topology
	if len(bytes.TrimSpace(b)) == 0 {
		return t, fmt.Errorf("%s: empty topology", name)
	}
	if err := yamljson.UnmarshalStrict(b, &t); err != nil {
		return t, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// Resolve validates t and applies the provider's defaults. extraTrusted are
// ranges read with --trusted-from (already normalized).
func Resolve(t Topology, extraTrusted ...string) (*Resolved, error) {
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }

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
	r := &Resolved{Provider: p, Method: t.Method, Profile: prof}

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
		fail("prefix %q must be an absolute path", t.Prefix)
	}
	t.Prefix = strings.TrimRight(t.Prefix, "/")
	if t.Prefix == "" {
		t.Prefix = "/"
	}
	switch t.TLS {
	case "":
		t.TLS = TLSKong
		if prof.TLSAtLB {
			t.TLS = TLSLB
		}
	case TLSKong, TLSLB:
	default:
		fail("tls %q must be kong or lb", t.TLS)
	}
	r.TLS = t.TLS

	// Trusted ranges.
	seen := map[string]bool{}
	add := func(c, src string) {
		n, err := presets.NormalizeCIDR(c)
		if err != nil {
			fail("trusted range from %s: %v", src, err)
			return
		}
		if presets.IsTrustAll(n) && !t.TrustAll {
			fail("trusted range %s from %s trusts every address; set trustAll (--trust-all) if that is really intended", n, src)
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
	names := append([]string{}, prof.Presets...)
	for _, n := range t.Presets {
		if !contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		ps, err := presets.Get(n)
		if err != nil {
			fail("%v", err)
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
		fail("trustAll with method headers lets every client choose its own address; name the proxy's ranges instead")
	}
	if t.Method != MethodLocal && len(r.TrustedIPs) == 0 {
		fail("method %s needs the load balancer's addresses: give trustedCIDRs (--trusted-cidr), presets (--preset) or --trusted-from", t.Method)
	} else if prof.NeedsCIDRs && len(t.TrustedCIDRs) == 0 && len(extraTrusted) == 0 && !t.TrustAll && t.Method != MethodLocal {
		r.Warnings = append(r.Warnings, fmt.Sprintf("provider %s: only presets are trusted; add the load balancer / VPC CIDR with --trusted-cidr", p.Name))
	}

	// Header and recursion.
	switch t.Method {
	case MethodProxyProtocol:
		r.RealIPHeader = "proxy_protocol"
		r.ProxyProtocol = true
		if t.RealIPHeader != "" && !strings.EqualFold(t.RealIPHeader, "proxy_protocol") {
			fail("realIPHeader %q conflicts with method proxy-protocol", t.RealIPHeader)
		}
		if t.Recursive != nil && *t.Recursive {
			fail("recursive has no effect with proxy-protocol; drop it")
		}
	case MethodHeaders:
		r.RealIPHeader = prof.Header
		if r.RealIPHeader == "" {
			r.RealIPHeader = "X-Forwarded-For"
		}
		r.Recursive = prof.Recursive
		if t.RealIPHeader != "" {
			r.RealIPHeader = http.CanonicalHeaderKey(t.RealIPHeader)
			if strings.EqualFold(t.RealIPHeader, "proxy_protocol") {
				fail("realIPHeader proxy_protocol needs method proxy-protocol")
			}
			if strings.EqualFold(t.RealIPHeader, "Forwarded") {
				fail("realIPHeader Forwarded (RFC 7239) is understood by the plugin only; nginx realip cannot parse it, so Kong's own address would differ")
			}
			if strings.EqualFold(r.RealIPHeader, "Cf-Connecting-Ip") {
				r.RealIPHeader = "CF-Connecting-IP"
			}
			if strings.EqualFold(r.RealIPHeader, "X-Real-Ip") {
				r.RealIPHeader = "X-Real-IP"
			}
		}
		if t.Recursive != nil {
			r.Recursive = *t.Recursive
		}
	case MethodLocal:
		r.RealIPHeader = "X-Real-IP"
		if t.RealIPHeader != "" || t.Recursive != nil {
			fail("realIPHeader/recursive apply to method headers only")
		}
	}

	// Plugin options.
	po := &t.Plugin
	r.RequireTrustedPeer = t.Method != MethodLocal
	if po.RequireTrustedPeer != nil {
		r.RequireTrustedPeer = *po.RequireTrustedPeer
	}
	switch po.Mode {
	case "":
		po.Mode = "monitor"
	case "monitor", "enforce":
	default:
		fail("plugin.mode %q must be monitor or enforce", po.Mode)
	}
	switch po.LogWhen {
	case "", "all", "anomalies", "off":
	default:
		fail("plugin.logWhen %q must be all, anomalies or off", po.LogWhen)
	}
	switch po.LogSink {
	case "", "kong", "serializer", "stdout":
	case "file":
		if po.LogPath == "" {
			fail("plugin.logSink file needs plugin.logPath")
		}
	default:
		fail("plugin.logSink %q must be kong, serializer, file or stdout", po.LogSink)
	}
	if po.Status != 0 && (po.Status < 100 || po.Status > 599) {
		fail("plugin.status %d is not an HTTP status", po.Status)
	}
	for _, v := range po.Reject {
		if !verdictRE.MatchString(v) {
			fail("plugin.reject: %q is not a verdict name (e.g. %s)", v, strings.Join(DefaultReject, ", "))
		}
	}
	for i, c := range po.Allow {
		n, err := presets.NormalizeCIDR(c)
		if err != nil {
			fail("plugin.allow: %v", err)
		}
		po.Allow[i] = n
	}
	for i, c := range po.Deny {
		n, err := presets.NormalizeCIDR(c)
		if err != nil {
			fail("plugin.deny: %v", err)
		}
		po.Deny[i] = n
	}
	if po.UpstreamHeader != "" && strings.ContainsAny(po.UpstreamHeader, " :\t") {
		fail("plugin.upstreamHeader %q is not a header name", po.UpstreamHeader)
	}
	for i, s := range t.Services {
		if s.Name == "" || s.URL == "" {
			fail("services[%d] needs name and url", i)
		}
		for j, rt := range s.Routes {
			if rt.Name == "" || len(rt.Paths) == 0 {
				fail("services[%d].routes[%d] needs name and paths", i, j)
			}
		}
	}
	if t.Name == "" {
		t.Name = p.Name + "-" + t.Method
	}
	r.Topology = t
	resolvePlatform(r, fail)
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("invalid topology:\n  %s", strings.Join(errs, "\n  "))
	}
	return r, nil
}

// DefaultReject is the plugin's default list of verdicts rejected in enforce mode.
var DefaultReject = []string{"spoof_attempt", "malformed", "config_drift", "denied"}

var verdictRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// EnvSuffix is the plugin name as used inside KONG_PLUGINSERVER_<NAME>_* keys.
func EnvSuffix(name string) string { return strings.ReplaceAll(name, "-", "_") }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
