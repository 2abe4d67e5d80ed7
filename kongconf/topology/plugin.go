package topology

import (
	"fmt"

	"github.com/client-ip-guard/client-ip-guard/kongconf/presets"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

// resolvePlugin sets the plugin defaults that follow from the topology,
// normalizes the allow and deny ranges, and compiles every client-ip-guard
// config the topology produces (the global one and each route's) with the
// plugin's own guardconf.Compile, so that kongconf accepts exactly what the
// plugin accepts.
func resolvePlugin(t *Topology, r *Resolved, errs *problems) {
	po := &t.Plugin
	r.FastPath = t.FastPath
	r.RequireTrustedPeer = t.Method != MethodLocal
	if po.RequireTrustedPeer != nil {
		r.RequireTrustedPeer = *po.RequireTrustedPeer
	}
	if po.Mode == "" {
		po.Mode = guardconf.ModeMonitor
	}
	normalizeRanges("plugin.allow", po.Allow, errs)
	normalizeRanges("plugin.deny", po.Deny, errs)
	fast := fastPathCheck{r: r, errs: errs}
	fast.check("plugin", compile("plugin", r.pluginConfig(*po, r.RequireTrustedPeer), errs))
	for i, s := range t.Services {
		for j, rt := range s.Routes {
			if rt.Plugin == nil {
				continue
			}
			where := fmt.Sprintf("services[%d].routes[%d].plugin", i, j)
			fast.check(where, compile(where, r.routePluginConfig(*po, rt.Plugin), errs))
		}
	}
}

// normalizeRanges rewrites the global allow or deny entries in canonical
// form, as trusted ranges are. An entry the plugin rejects is left for
// guardconf to report; one it takes but kongconf will not write (a prefix
// with host bits set, which the plugin masks) is reported here.
func normalizeRanges(field string, ranges []string, errs *problems) {
	for i, c := range ranges {
		n, err := presets.NormalizeCIDR(c)
		if err != nil {
			if _, perr := guardconf.Compile(&guardconf.Config{Allow: []string{c}}); perr == nil {
				errs.add("%s: %v", field, err)
			}
			continue
		}
		ranges[i] = n
	}
}

// compile compiles c as the plugin does, reporting an error as where's;
// nil when it fails.
func compile(where string, c *guardconf.Config, errs *problems) *guardconf.Policy {
	pol, err := guardconf.Compile(c)
	if err != nil {
		errs.add("%s: %v", where, err)
		return nil
	}
	return pol
}

// PluginConfig returns the global client-ip-guard config: trusted_ips,
// real_ip_header and real_ip_recursive mirror the node's settings, the rest
// comes from the topology's plugin options. Fields left unset keep the
// plugin's defaults.
func (r *Resolved) PluginConfig() *guardconf.Config {
	return r.pluginConfig(r.Topology.Plugin, r.RequireTrustedPeer)
}

// RoutePluginConfig returns the config of a route-scoped instance: the
// global options with rp's fields overriding.
func (r *Resolved) RoutePluginConfig(rp *RoutePlugin) *guardconf.Config {
	return r.routePluginConfig(r.Topology.Plugin, rp)
}

func (r *Resolved) routePluginConfig(o PluginOptions, rp *RoutePlugin) *guardconf.Config {
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
	o.StripUntrustedForwarding = o.StripUntrustedForwarding || p.StripUntrustedForwarding
	if p.LogWhen != "" {
		o.LogWhen = p.LogWhen
	}
	if p.LogSink != "" {
		o.LogSink = p.LogSink
	}
	if p.LogPath != "" {
		o.LogPath = p.LogPath
	}
	o.LogPorts = o.LogPorts || p.LogPorts
	peer := r.RequireTrustedPeer
	if p.RequireTrustedPeer != nil {
		peer = *p.RequireTrustedPeer
	}
	c := r.pluginConfig(o, peer)
	if rp.TrustedIPs != nil {
		c.TrustedIPs = append([]string{}, (*rp.TrustedIPs)...)
	}
	if rp.RealIPHeader != "" {
		c.RealIPHeader = rp.RealIPHeader
	}
	if rp.RealIPRecursive != nil {
		c.RealIPRecursive = *rp.RealIPRecursive
	}
	return c
}

func (r *Resolved) pluginConfig(o PluginOptions, requirePeer bool) *guardconf.Config {
	trusted := r.TrustedIPs
	if trusted == nil {
		trusted = []string{}
	}
	mode := o.Mode
	if mode == "" {
		mode = guardconf.ModeMonitor
	}
	c := &guardconf.Config{
		TrustedIPs:               trusted,
		RealIPHeader:             r.RealIPHeader,
		RealIPRecursive:          r.Recursive,
		Mode:                     mode,
		RequireTrustedPeer:       requirePeer,
		Allow:                    o.Allow,
		Deny:                     o.Deny,
		Status:                   o.Status,
		Message:                  o.Message,
		UpstreamHeader:           o.UpstreamHeader,
		StripUntrustedForwarding: o.StripUntrustedForwarding,
		LogWhen:                  o.LogWhen,
		LogSink:                  o.LogSink,
		LogPath:                  o.LogPath,
		LogPorts:                 o.LogPorts,
		FastPath:                 r.FastPath,
	}
	// An empty reject list is left out of the output, so the plugin's
	// default applies: compile it the same way.
	if len(o.Reject) > 0 {
		c.Reject = o.Reject
	}
	return c
}
