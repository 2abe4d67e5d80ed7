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
	"strip_untrusted_forwarding", "log_when", "log_sink", "log_path", "log_ports", "fast_path",
}

// PluginConfig returns the client-ip-guard config object for r.
// trusted_ips, real_ip_header and real_ip_recursive always mirror the node
// settings emitted by KongConf, so the plugin never reports config_drift.
func PluginConfig(r *topology.Resolved) map[string]any {
	return configMap(r.PluginConfig())
}

// RoutePluginConfig returns the config of a route-scoped instance: the
// global options with rp's fields overriding.
func RoutePluginConfig(r *topology.Resolved, rp *topology.RoutePlugin) map[string]any {
	return configMap(r.RoutePluginConfig(rp))
}

// configMap writes c as the config object of a plugin entity: the realip
// settings, mode and require_trusted_peer always, other fields only when
// set (so the plugin's defaults apply).
func configMap(c *guardconf.Config) map[string]any {
	m := map[string]any{
		"trusted_ips":          c.TrustedIPs,
		"real_ip_header":       c.RealIPHeader,
		"real_ip_recursive":    c.RealIPRecursive,
		"mode":                 c.Mode,
		"require_trusted_peer": c.RequireTrustedPeer,
	}
	set := func(key string, v any, ok bool) {
		if ok {
			m[key] = v
		}
	}
	set("allow", c.Allow, len(c.Allow) > 0)
	set("deny", c.Deny, len(c.Deny) > 0)
	set("status", c.Status, c.Status != 0)
	set("message", c.Message, c.Message != "")
	set("reject", c.Reject, len(c.Reject) > 0)
	set("upstream_header", c.UpstreamHeader, c.UpstreamHeader != "")
	set("strip_untrusted_forwarding", true, c.StripUntrustedForwarding)
	set("log_when", c.LogWhen, c.LogWhen != "")
	set("log_sink", c.LogSink, c.LogSink != "")
	set("log_path", c.LogPath, c.LogPath != "")
	set("log_ports", true, c.LogPorts)
	set("fast_path", true, c.FastPath)
	return m
}
