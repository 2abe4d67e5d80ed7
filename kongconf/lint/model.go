package lint

import (
	"net/netip"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
)

// Value is one Kong property as found in a file.
type Value struct {
	// Key is the kong.conf property name (lower case, no KONG_ prefix).
	Key string
	// Orig is the key as written (KONG_TRUSTED_IPS, env.trusted_ips, ...).
	Orig string
	// Value is the raw value.
	Value string
	// File and Line locate it.
	File string
	// Line is 1-based, 0 when unknown.
	Line int
	// YAMLBool is set when a Helm value was an unquoted YAML 1.1 boolean
	// (on/off/yes/no/true/false), which Helm renders as true/false.
	YAMLBool bool
	// Skip marks values lint cannot see (valueFrom references, template
	// placeholders such as {{ }}, <%= %>, ${VAR}).
	Skip bool
	// InlineComment is the " # ..." tail an env file kept in the value.
	InlineComment string
}

// Node is the node-level Kong configuration found in one file (kong.conf,
// env file, Helm values) or read from a live node.
type Node struct {
	// File is the source ("" for a live node).
	File string
	// Where names the object inside File (a container, a compose service).
	Where string
	// Format is kong.conf, env, helm or admin.
	Format string
	// Values maps property name to its last occurrence.
	Values map[string]*Value
	// Order lists every property occurrence in file order, including unknown keys.
	Order []*Value
	// Listeners are the effective proxy listeners.
	Listeners []Listener
	// ListenLine locates the listeners' definition.
	ListenLine int
	// PrefixDefault is Kong's prefix when the file does not set one.
	PrefixDefault string
	// TLSDisabled is true when Helm values switch off the TLS proxy port.
	TLSDisabled bool
	// Helm is set for Helm values: the chart layout and the image.
	Helm *HelmInfo

	// layers links a node to the settings Kong reads under it (see layers.go).
	layers
}

// HelmInfo is what Helm values say about the chart and the image.
type HelmInfo struct {
	// Chart is kong, or ingress when the keys are under gateway:.
	Chart string
	// ImageRepo is the image repository at the chart's key ("" when unset).
	ImageRepo string
	// ImageLine locates it, or the values' root.
	ImageLine int
	// StrayImage locates an image key the chart does not read (a top-level
	// image: in ingress-chart values), 0 when none.
	StrayImage int
	// RendersProxy is false when the values switch the chart's proxy
	// Service off (proxy.enabled: false).
	RendersProxy bool
	// NameOverride is proxy.nameOverride ("" when unset).
	NameOverride string
	// Keys locates the version-dependent keys the values use
	// (chart.KeyPreInstalled, chart.KeyNameOverride).
	Keys map[string]int
	// Mounts are the ConfigMaps extraConfigMaps mounts into the proxy
	// container; OtherMounts is set when deployment.userDefinedVolumeMounts
	// mounts more, which lint does not model.
	Mounts      []Mount
	OtherMounts bool
}

// ChartDep is a kong or ingress chart dependency of an umbrella Chart.yaml.
type ChartDep struct {
	// File and Line locate it.
	File string
	// Line of the dependency entry.
	Line int
	// Chart is kong or ingress; Version the constraint as written.
	Chart, Version string
}

// Listener is one proxy_listen entry.
type Listener struct {
	// Raw is the entry as written.
	Raw string
	// SSL and ProxyProtocol are the flags lint cares about.
	SSL, ProxyProtocol bool
}

// NewNode returns an empty node for file/format.
func NewNode(file, format string) *Node {
	return &Node{File: file, Format: format, Values: map[string]*Value{}, PrefixDefault: nodeconf.DefaultPrefix}
}

// Set records a property occurrence.
func (n *Node) Set(v *Value) {
	if v.File == "" {
		v.File = n.File
	}
	n.Order = append(n.Order, v)
	if v.Key != "" {
		n.Values[v.Key] = v
	}
}

// Get returns the value of key and whether it is set (and visible).
func (n *Node) Get(key string) (string, *Value, bool) {
	v, ok := n.Values[key]
	if !ok || v.Skip {
		return "", v, false
	}
	return v.Value, v, true
}

// RealIPHeader returns the effective real_ip_header, resolved with Kong's
// alias rule (nodeconf.AliasKey; default nodeconf.DefaultRealIPHeader).
func (n *Node) RealIPHeader() (string, *Value) {
	if s, v, ok := n.Get(nodeconf.AliasKey("real_ip_header", n.isSet)); ok {
		return strings.TrimSpace(s), v
	}
	return nodeconf.DefaultRealIPHeader, nil
}

// RealIPRecursive returns the effective real_ip_recursive (alias-aware,
// default off).
func (n *Node) RealIPRecursive() (string, *Value) {
	if s, v, ok := n.Get(nodeconf.AliasKey("real_ip_recursive", n.isSet)); ok {
		return strings.ToLower(strings.TrimSpace(s)), v
	}
	return "off", nil
}

// isSet reports whether key is set to a value Kong reads as set.
func (n *Node) isSet(key string) bool {
	s, _, ok := n.Get(key)
	return ok && !nodeconf.Unset(s)
}

// TrustedIPs returns the trusted_ips entries (nil when unset or NONE).
func (n *Node) TrustedIPs() ([]string, *Value) {
	s, v, ok := n.Get("trusted_ips")
	if !ok {
		return nil, v
	}
	return splitList(s), v
}

// HasRealIP reports whether the node sets any client-address property or
// proxy listener explicitly.
func (n *Node) HasRealIP() bool {
	for _, k := range []string{"trusted_ips", "real_ip_header", "real_ip_recursive", "proxy_listen",
		"nginx_proxy_real_ip_header", "nginx_proxy_real_ip_recursive"} {
		if _, ok := n.Values[k]; ok {
			return true
		}
	}
	return n.ListenLine > 0
}

// ListenFile is the file that defines the listeners (ListenLine's file):
// proxy_listen's own file in a node read over others (an env file over
// kong.conf), else the node's file.
func (n *Node) ListenFile() string {
	if v, ok := n.Values["proxy_listen"]; ok && v.Line == n.ListenLine {
		return v.file(n.File)
	}
	return n.File
}

// UsesPP reports whether any proxy listener has proxy_protocol.
func (n *Node) UsesPP() bool {
	for _, l := range n.Listeners {
		if l.ProxyProtocol {
			return true
		}
	}
	return false
}

// Prefix returns Kong's prefix for this node.
func (n *Node) Prefix() string {
	if s, _, ok := n.Get("prefix"); ok && strings.TrimSpace(s) != "" {
		return strings.TrimRight(strings.TrimSpace(s), "/")
	}
	return strings.TrimRight(n.PrefixDefault, "/")
}

// Line of a value or 0.
func (v *Value) line() int {
	if v == nil {
		return 0
	}
	return v.Line
}

func (v *Value) file(def string) string {
	if v == nil || v.File == "" {
		return def
	}
	return v.File
}

// splitList splits a Kong array property (comma separated; NONE/empty = nil).
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "NONE") {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseListeners reads a proxy_listen value with Kong's rules
// (nodeconf.ListenEntries, nodeconf.ParseListenEntry), keeping the flags of
// entries Kong would refuse (KC015 reports those).
func ParseListeners(s string) []Listener {
	entries, off := nodeconf.ListenEntries(s)
	if off {
		return nil
	}
	var out []Listener
	for _, e := range entries {
		l, _ := nodeconf.ParseListenEntry(e)
		out = append(out, Listener{Raw: e, SSL: l.SSL, ProxyProtocol: l.ProxyProtocol})
	}
	return out
}

// DefaultListeners are Kong's default proxy listeners.
func DefaultListeners() []Listener {
	return ParseListeners(nodeconf.DefaultProxyListen)
}

// isTrustAll reports whether the list trusts every IPv4 or IPv6 peer.
func isTrustAll(list []string) bool {
	for _, c := range list {
		if p, err := netip.ParsePrefix(c); err == nil && p.Bits() == 0 {
			return true
		}
	}
	return false
}

// validTrustedEntry mirrors Kong's check: IP, CIDR or "unix:".
func validTrustedEntry(s string) bool {
	if s == "unix:" {
		return true
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// Service is a Kubernetes proxy Service (from a manifest or Helm proxy.*).
type Service struct {
	// File and Line locate it.
	File string
	// Line of the object or of proxy: in Helm values.
	Line int
	// Name of the Service.
	Name string
	// Type is the Service type (LoadBalancer when unset in Helm).
	Type string
	// ExternalTrafficPolicy as written ("" = Cluster).
	ExternalTrafficPolicy string
	// ETPLine locates externalTrafficPolicy.
	ETPLine int
	// Annotations on the Service.
	Annotations map[string]string
	// AnnLines locates each annotation.
	AnnLines map[string]int
	// TargetsTLS reports whether a port targets Kong's TLS listener.
	TargetsTLS bool
	// TLSLine locates that port or the Helm tls block.
	TLSLine int
	// FromHelm marks a Service described by Helm values or a
	// GatewayConfiguration (no manifest; the chart or operator renders it).
	FromHelm bool
	// Selector is the Service's pod selector (nil for Helm values, where the
	// chart renders it).
	Selector map[string]string
	// SelectorLine locates spec.selector.
	SelectorLine int
	// Ports are the Service ports.
	Ports []int32
}

// Ingress is an Ingress object (the L7 load balancer in front of Kong).
type Ingress struct {
	// File and Line locate it.
	File string
	// Line of the object.
	Line int
	// Name of the Ingress.
	Name string
	// Class is spec.ingressClassName or the kubernetes.io/ingress.class annotation.
	Class string
	// Annotations on the Ingress.
	Annotations map[string]string
	// Backends are the Service names it routes to, with their lines.
	Backends []Backend
	// HasTLS is set when spec.tls names a certificate Secret.
	HasTLS bool
}

// Backend is one Service an Ingress routes to.
type Backend struct {
	// Service name and port.
	Service string
	// Line locates it.
	Line int
}

// BackendConfig is a GKE BackendConfig's health check.
type BackendConfig struct {
	// File and Line locate it.
	File string
	// Line of the object.
	Line int
	// Name of the BackendConfig.
	Name string
	// Path and Port of spec.healthCheck ("" and 0 when unset).
	Path string
	// Port of the health check.
	Port int
}

func (s *Service) ann(k string) (string, bool) {
	v, ok := s.Annotations[k]
	return v, ok
}

func (s *Service) annLine(k string) int {
	if l, ok := s.AnnLines[k]; ok {
		return l
	}
	return s.Line
}

// PluginUse is one client-ip-guard configuration (kong.yml entry, KongPlugin,
// KongClusterPlugin or a live plugin).
type PluginUse struct {
	// File and Line locate it.
	File string
	// Line of the plugin object.
	Line int
	// Where describes the object ("kong.yml plugins[0]", "KongClusterPlugin x").
	Where string
	// Config is the plugin's config object.
	Config map[string]any
	// KeyLines locates config keys.
	KeyLines map[string]int
	// AllowDrift is set by the kongconf-allow-drift tag: the instance
	// differs from the node's realip settings on purpose.
	AllowDrift bool
}

func (p *PluginUse) line(k string) int {
	if l, ok := p.KeyLines[k]; ok {
		return l
	}
	return p.Line
}

// Set is everything found in one lint invocation.
type Set struct {
	// Files are the inputs.
	Files []string
	// Nodes, Services and Plugins are the parsed pieces.
	Nodes []*Node
	// Services found.
	Services []*Service
	// Plugins found.
	Plugins []*PluginUse
	// Ingresses found.
	Ingresses []*Ingress
	// BackendConfigs found.
	BackendConfigs []*BackendConfig
	// ChartDeps are kong/ingress dependencies of Chart.yaml files.
	ChartDeps []*ChartDep
	// Includes are nginx files a node may load with nginx_http_include.
	Includes []*Include

	// containers and envSources wait for resolution (resolveWorkloads).
	containers []container
	envSources []*envSource
	// valuesFrom waits for resolution (resolveValuesFrom).
	valuesFrom []valuesRef
	// groupOf maps an input file to its deployment (see group).
	groupOf map[string]string
	// linked is set once linkLayers ran.
	linked bool
}
