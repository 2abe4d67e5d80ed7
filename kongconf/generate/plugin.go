// Package generate turns a resolved topology into Kong configuration: kong.conf
// lines, KONG_* environment, Helm values, the proxy Service, decK kong.yml and
// KIC KongPlugin/KongClusterPlugin objects, all agreeing with each other.
package generate

import (
	"reflect"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

// PluginSchemaKeys returns the config field names of the plugin's
// guardconf.Config, read from its json tags the way go-pdk builds the
// schema it reports to Kong (the whole tag is the name; untagged exported
// fields are lower-cased; unexported fields are skipped).
func PluginSchemaKeys() []string {
	t := reflect.TypeOf(guardconf.Config{})
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("json")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == "-" {
			continue
		}
		out = append(out, name)
	}
	return out
}

// PluginConfigKeys lists every key of the client-ip-guard plugin config, in the
// order of the plugin's Config struct. Tests compare it with the plugin's
// json tags so the generator cannot drift from the schema.
var PluginConfigKeys = []string{
	"trusted_ips", "real_ip_header", "real_ip_recursive", "mode", "require_trusted_peer",
	"allow", "deny", "status", "message", "reject", "upstream_header",
	"strip_untrusted_forwarding", "log_when", "log_sink", "log_path", "log_ports",
}

// PluginConfig returns the client-ip-guard config object for r. trusted_ips,
// real_ip_header and real_ip_recursive always mirror the node settings
// emitted by KongConf, so the plugin never reports config_drift.
func PluginConfig(r *topology.Resolved) map[string]any {
	return pluginConfig(r, r.Topology.Plugin, r.RequireTrustedPeer)
}

// RoutePluginConfig returns the config of a route-scoped instance: the
// global options with rp's fields overriding.
func RoutePluginConfig(r *topology.Resolved, rp *topology.RoutePlugin) map[string]any {
	o := r.Topology.Plugin
	p := rp.PluginOptions
	if p.Mode != "" {
		o.Mode = p.Mode
	}
	if p.Allow != nil {
		o.Allow = p.Allow
	}
	if p.Deny != nil {
		o.Deny = p.Deny
	}
	if p.Status != 0 {
		o.Status = p.Status
	}
	if p.Message != "" {
		o.Message = p.Message
	}
	if p.Reject != nil {
		o.Reject = p.Reject
	}
	if p.UpstreamHeader != "" {
		o.UpstreamHeader = p.UpstreamHeader
	}
	if p.StripUntrustedForwarding {
		o.StripUntrustedForwarding = true
	}
	if p.LogWhen != "" {
		o.LogWhen = p.LogWhen
	}
	if p.LogSink != "" {
		o.LogSink = p.LogSink
	}
	if p.LogPath != "" {
		o.LogPath = p.LogPath
	}
	if p.LogPorts {
		o.LogPorts = true
	}
	peer := r.RequireTrustedPeer
	if p.RequireTrustedPeer != nil {
		peer = *p.RequireTrustedPeer
	}
	c := pluginConfig(r, o, peer)
	if rp.TrustedIPs != nil {
		c["trusted_ips"] = append([]string{}, (*rp.TrustedIPs)...)
	}
	if rp.RealIPHeader != "" {
		c["real_ip_header"] = rp.RealIPHeader
	}
	if rp.RealIPRecursive != nil {
		c["real_ip_recursive"] = *rp.RealIPRecursive
	}
	return c
}

func pluginConfig(r *topology.Resolved, o topology.PluginOptions, requirePeer bool) map[string]any {
	trusted := r.TrustedIPs
	if trusted == nil {
		trusted = []string{}
	}
	mode := o.Mode
	if mode == "" {
		mode = "monitor"
	}
	c := map[string]any{
		"trusted_ips":          trusted,
		"real_ip_header":       r.RealIPHeader,
		"real_ip_recursive":    r.Recursive,
		"mode":                 mode,
		"require_trusted_peer": requirePeer,
	}
	if len(o.Allow) > 0 {
		c["allow"] = o.Allow
	}
	if len(o.Deny) > 0 {
		c["deny"] = o.Deny
	}
	if o.Status != 0 {
		c["status"] = o.Status
	}
	if o.Message != "" {
		c["message"] = o.Message
	}
	if len(o.Reject) > 0 {
		c["reject"] = o.Reject
	}
	if o.UpstreamHeader != "" {
		c["upstream_header"] = o.UpstreamHeader
	}
	if o.StripUntrustedForwarding {
		c["strip_untrusted_forwarding"] = true
	}
	if o.LogWhen != "" {
		c["log_when"] = o.LogWhen
	}
	if o.LogSink != "" {
		c["log_sink"] = o.LogSink
	}
	if o.LogPath != "" {
		c["log_path"] = o.LogPath
	}
	if o.LogPorts {
		c["log_ports"] = true
	}
	return c
}
