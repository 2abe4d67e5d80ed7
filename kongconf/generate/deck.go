package generate

import (
	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// AllowDriftTag on a plugin entity tells kongconf lint that its realip
// settings differ from the node's on purpose (KC201 is not reported).
const AllowDriftTag = "kongconf-allow-drift"

// DeckConfig returns the decK / DB-less declarative document: a global
// client-ip-guard plugin plus any services and routes of the topology.
// It targets Kong OSS 3.x, so it never emits ordering or consumer_group.
func DeckConfig(r *topology.Resolved) map[string]any {
	doc := map[string]any{
		"_format_version": "3.0",
		"_transform":      true,
		"plugins": []any{map[string]any{
			"name":      topology.PluginName,
			"enabled":   true,
			"protocols": []string{"http", "https"},
			"config":    PluginConfig(r),
		}},
	}
	if len(r.Topology.Services) > 0 {
		var svcs []any
		for _, s := range r.Topology.Services {
			var routes []any
			for _, rt := range s.Routes {
				m := map[string]any{"name": rt.Name, "paths": rt.Paths}
				if rt.StripPath != nil {
					m["strip_path"] = *rt.StripPath
				}
				if rt.Plugin != nil {
					pl := map[string]any{
						"name":   topology.PluginName,
						"config": RoutePluginConfig(r, rt.Plugin),
					}
					if rt.Plugin.TrustedIPs != nil || rt.Plugin.RealIPHeader != "" || rt.Plugin.RealIPRecursive != nil {
						// Deliberate drift: tell kongconf lint not to flag it.
						pl["tags"] = []string{AllowDriftTag}
					}
					m["plugins"] = []any{pl}
				}
				routes = append(routes, m)
			}
			svc := map[string]any{"name": s.Name, "url": s.URL}
			if len(routes) > 0 {
				svc["routes"] = routes
			}
			svcs = append(svcs, svc)
		}
		doc["services"] = svcs
	}
	return doc
}

// DeckYAML renders DeckConfig with a comment header.
func DeckYAML(r *topology.Resolved) (string, error) {
	y, err := yamljson.Marshal(DeckConfig(r))
	if err != nil {
		return "", err
	}
	return header(r, "decK / DB-less kong.yml", "#") + string(y), nil
}
