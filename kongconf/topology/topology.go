// Package topology models where Kong sits (cloud provider, how the client
// address reaches it, which ranges to trust, plugin options) and resolves that
// into the concrete node and plugin settings every emitter shares.
package topology

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
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
	DefaultPrefix = nodeconf.DefaultPrefix
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
	// ProxyHeaderTimeout bounds how long Kong waits for a PROXY header (and
	// the request head after it): nginx's client_header_timeout, 60s unless
	// set. Method proxy-protocol only.
	ProxyHeaderTimeout string `json:"proxyHeaderTimeout,omitempty"`
	// Metrics is HOST:PORT where the plugin server serves Prometheus
	// metrics (client-ip-guard -metrics-listen); empty: off.
	Metrics string `json:"metrics,omitempty"`
	// ServiceName is the proxy Service's name (default: the chart's,
	// <release>-kong-proxy or <release>-gateway-proxy; another name is set
	// through proxy.nameOverride).
	ServiceName string `json:"serviceName,omitempty"`
	// IngressClass for KongClusterPlugin (default kong).
	IngressClass string `json:"ingressClass,omitempty"`
	// Prefix is Kong's prefix where the plugin socket lives (default
	// /usr/local/kong; Helm outputs always use /kong_prefix).
	Prefix string `json:"prefix,omitempty"`
	// FastPath turns on the plugin's one-call fast path: the nginx include
	// defining $client_ip_guard_facts, the node lines that load it, and
	// fast_path: true in every plugin config.
	FastPath bool `json:"fastPath,omitempty"`
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
	// FastPath is the topology's fastPath, checked against what the fast
	// path can serve.
	FastPath bool
	// Warnings are non-fatal concerns to show the user.
	Warnings []string
	// Sources explains where trusted ranges came from (for comments).
	Sources []string
	// HeaderTimeout is nginx_http_client_header_timeout ("" leaves nginx's 60s).
	HeaderTimeout string
	// Metrics is the plugin server's -metrics-listen address and
	// MetricsPort its port ("" and 0: metrics off).
	Metrics     string
	MetricsPort int
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
