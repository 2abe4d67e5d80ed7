package generate

import (
	"fmt"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// HelmValues returns values for the Kong/charts "kong" chart, or, when the
// topology's chart is "ingress", the same keys nested under "gateway".
// The chart's prefix is /kong_prefix, so the pluginserver uses it regardless
// of the topology's prefix.
func HelmValues(r *topology.Resolved) map[string]any {
	env := map[string]any{
		"real_ip_header":    r.RealIPHeader,
		"real_ip_recursive": onOff(r.Recursive),
	}
	if len(r.TrustedIPs) > 0 {
		env["trusted_ips"] = joinComma(r.TrustedIPs)
	}
	for _, s := range PluginServerSettings(topology.HelmPrefix) {
		if s.Key == "plugins" {
			continue // plugins.preInstalled appends to the chart's KONG_PLUGINS
		}
		env[s.Key] = s.Value
	}
	proxy := map[string]any{}
	svcType := "LoadBalancer"
	if r.Profile.ServiceType != "" {
		svcType = r.Profile.ServiceType
	}
	proxy["type"] = svcType
	if svcType != "ClusterIP" && r.Profile.ExternalTrafficPolicy != "" {
		proxy["externalTrafficPolicy"] = r.Profile.ExternalTrafficPolicy
	}
	if len(r.Profile.Annotations) > 0 {
		proxy["annotations"] = r.Profile.Annotations
	}
	if r.ProxyProtocol {
		proxy["http"] = map[string]any{"parameters": []string{"proxy_protocol"}}
		proxy["tls"] = map[string]any{"parameters": []string{"http2", "proxy_protocol"}}
	}
	if r.TLS == topology.TLSLB {
		proxy["tls"] = map[string]any{"enabled": false}
	}
	gw := map[string]any{
		"env":     env,
		"plugins": map[string]any{"preInstalled": topology.PluginName},
		"proxy":   proxy,
	}
	if r.Topology.Chart == topology.ChartIngress {
		return map[string]any{"gateway": gw}
	}
	return gw
}

// HelmYAML renders HelmValues with a comment header.
func HelmYAML(r *topology.Resolved) (string, error) {
	y, err := yamljson.Marshal(HelmValues(r))
	if err != nil {
		return "", err
	}
	chart := "kong"
	if r.Topology.Chart == topology.ChartIngress {
		chart = "ingress (gateway keys under gateway:)"
	}
	return header(r, fmt.Sprintf("Helm values for the Kong/charts %s chart", chart), "#") +
		"# The image must contain " + topology.PluginBinary + " (world-executable); set image.repository/tag to it.\n" +
		notes(r) + string(y), nil
}

// PluginServerHelmYAML renders only the Helm keys that load the plugin.
func PluginServerHelmYAML(chart string) (string, error) {
	env := map[string]any{}
	for _, s := range PluginServerSettings(topology.HelmPrefix) {
		if s.Key != "plugins" {
			env[s.Key] = s.Value
		}
	}
	v := map[string]any{"env": env, "plugins": map[string]any{"preInstalled": topology.PluginName}}
	if chart == topology.ChartIngress {
		v = map[string]any{"gateway": v}
	}
	y, err := yamljson.Marshal(v)
	if err != nil {
		return "", err
	}
	return "# Helm values that load client-ip-guard through Kong's pluginserver (chart prefix " + topology.HelmPrefix + ").\n" + string(y), nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
