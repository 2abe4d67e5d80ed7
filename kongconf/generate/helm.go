package generate

import (
	"fmt"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
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
	if r.HeaderTimeout != "" {
		env[topology.HeaderTimeoutKey] = r.HeaderTimeout
	}
	gw := pluginServerValues(r)
	for k, v := range gw["env"].(map[string]any) {
		env[k] = v
	}
	gw["env"] = env
	gw["proxy"] = helmProxy(r)
	// topology.Resolve refuses a fast path whose include cannot be written.
	_ = helmFastPath(r, gw)
	v := underRoot(r.Platform.Chart, gw)
	if r.Platform.NameOverride && r.Platform.Chart.Name == chart.Ingress {
		// The ingress chart's controller finds the proxy Service by
		// controller.proxy.nameOverride, "{{ .Release.Name }}-gateway-proxy"
		// by default (Kong/charts charts/ingress/values.yaml:5-7); a
		// renamed Service must be renamed there too.
		v["controller"] = map[string]any{"proxy": map[string]any{"nameOverride": r.Topology.ServiceName}}
	}
	return v
}

// helmProxy is the chart's proxy block: type, policy, annotations, name and
// the ports of r.Platform (Kong/charts charts/kong/templates/_helpers.tpl:176,
// 224, 238-240: nameOverride, servicePort 0 hides a port, the TLS port
// targets tls.overrideServiceTargetPort).
func helmProxy(r *topology.Resolved) map[string]any {
	pl := r.Platform
	proxy := map[string]any{}
	svcType := "LoadBalancer"
	if r.Profile.ServiceType != "" {
		svcType = r.Profile.ServiceType
	}
	proxy["type"] = svcType
	if svcType != "ClusterIP" && r.Profile.ExternalTrafficPolicy != "" {
		proxy["externalTrafficPolicy"] = r.Profile.ExternalTrafficPolicy
	}
	if len(pl.Annotations) > 0 {
		proxy["annotations"] = pl.Annotations
	}
	if pl.NameOverride {
		proxy["nameOverride"] = r.Topology.ServiceName
	}
	httpBlock, tlsBlock := map[string]any{}, map[string]any{}
	if r.ProxyProtocol {
		httpBlock["parameters"] = []string{"proxy_protocol"}
		tlsBlock["parameters"] = []string{"http2", "proxy_protocol"}
	}
	var hasHTTP, hasTLS bool
	var tlsTarget int32
	for _, p := range pl.Ports {
		switch p.Name {
		case chart.PortHTTP:
			hasHTTP = true
		case chart.PortTLS:
			hasTLS, tlsTarget = true, p.Target
		}
	}
	if !hasHTTP {
		httpBlock["servicePort"] = 0 // keep Kong's listener, expose no port 80
	}
	switch {
	case !hasTLS:
		tlsBlock = map[string]any{"enabled": false}
	case tlsTarget == chart.ProxyPort:
		tlsBlock["overrideServiceTargetPort"] = chart.ProxyPort
	}
	if len(httpBlock) > 0 {
		proxy["http"] = httpBlock
	}
	if len(tlsBlock) > 0 {
		proxy["tls"] = tlsBlock
	}
	return proxy
}

// pluginServerValues are the keys that load the plugin: the image that has
// it, the pluginserver env and plugins.preInstalled (kong chart >= 2.47.0);
// with metrics, the pod annotations Prometheus' kubernetes_sd discovery
// reads to scrape the plugin server's port (podAnnotations, a map the
// chart merges with its own defaults).
func pluginServerValues(r *topology.Resolved) map[string]any {
	pl := r.Platform
	env := map[string]any{}
	for _, s := range PluginServerSettings(topology.HelmPrefix, r.Metrics) {
		if s.Key == "plugins" {
			continue // plugins.preInstalled appends to the chart's KONG_PLUGINS
		}
		env[s.Key] = s.Value
	}
	v := map[string]any{
		"image":   map[string]any{"repository": pl.ImageRepo, "tag": pl.ImageTag},
		"env":     env,
		"plugins": map[string]any{"preInstalled": topology.PluginName},
	}
	if r.Metrics != "" {
		v["podAnnotations"] = map[string]any{
			"prometheus.io/scrape": "true",
			"prometheus.io/port":   fmt.Sprint(r.MetricsPort),
			"prometheus.io/path":   "/metrics",
		}
	}
	return v
}

func underRoot(c chart.Spec, v map[string]any) map[string]any {
	if c.Root == "" {
		return v
	}
	return map[string]any{c.Root: v}
}

// helmNeedsImage refuses Helm values without an image: the chart's kong:3.9
// has no plugin binary, so Kong would fail to start with it in KONG_PLUGINS.
func helmNeedsImage(r *topology.Resolved) error {
	if r.Platform.ImageRepo == "" {
		return fmt.Errorf("the Helm values load %s, but the chart's image (%s:%s) has no %s: add --image REPO:TAG naming an image that contains it",
			topology.PluginName, chart.DefaultRepo, chart.DefaultTag, topology.PluginBinary)
	}
	return nil
}

func helmIntro(r *topology.Resolved) string {
	c := r.Platform.Chart
	min := "plugins.preInstalled needs kong chart >= " + chart.MinPreInstalled
	if r.Platform.NameOverride {
		min += ", proxy.nameOverride >= " + chart.MinNameOverride
	}
	return fmt.Sprintf("# Chart %s, release %s: the proxy Service is %s. %s.\n# %s is an image with %s (world-executable).\n",
		c.Name, r.Platform.Release, r.Topology.ServiceName, min, c.ValuesPath("image"), topology.PluginBinary)
}

// HelmYAML renders HelmValues with a comment header.
func HelmYAML(r *topology.Resolved) (string, error) {
	if err := helmNeedsImage(r); err != nil {
		return "", err
	}
	if _, err := FastPathInclude(r); err != nil {
		return "", err
	}
	y, err := yamljson.Marshal(HelmValues(r))
	if err != nil {
		return "", err
	}
	name := "kong"
	if r.Platform.Chart.Root != "" {
		name = r.Platform.Chart.Name + " (gateway keys under " + r.Platform.Chart.Root + ":)"
	}
	return header(r, fmt.Sprintf("Helm values for the Kong/charts %s chart", name), "#") +
		helmIntro(r) + notes(r) + helmFastPathIntro(r) + string(y), nil
}

// helmFastPathIntro says where the values put the fast path's include.
func helmFastPathIntro(r *topology.Resolved) string {
	if !r.FastPath {
		return ""
	}
	c := r.Platform.Chart
	return fastPathComment(r, "#") + fmt.Sprintf("# %s creates ConfigMap %s with the include; %s mounts it at %s in the proxy container\n# (roll the pods after changing it: nginx reads the include when Kong starts).\n",
		c.ValuesPath(chart.KeyExtraObjects), FastPathConfigMap(r), c.ValuesPath(chart.KeyExtraConfigMaps), IncludeDir)
}

// PluginServerHelmYAML renders only the Helm keys that load the plugin.
func PluginServerHelmYAML(r *topology.Resolved) (string, error) {
	if err := helmNeedsImage(r); err != nil {
		return "", err
	}
	y, err := yamljson.Marshal(underRoot(r.Platform.Chart, pluginServerValues(r)))
	if err != nil {
		return "", err
	}
	return "# Helm values that load client-ip-guard through Kong's pluginserver (chart " + r.Platform.Chart.Name +
		", prefix " + topology.HelmPrefix + "; plugins.preInstalled needs kong chart >= " + chart.MinPreInstalled + ").\n" + string(y), nil
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
