package generate

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology/topologytest"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

func resolve(t *testing.T, tp topology.Topology) *topology.Resolved {
	t.Helper()
	r, err := topology.Resolve(tp)
	require.NoError(t, err)
	return r
}

func TestPluginKeysMatchGuardconf(t *testing.T) {
	assert.Equal(t, PluginConfigKeys, PluginSchemaKeys(), "generate.PluginConfigKeys drifted from plugin/guardconf.Config json tags")
	for _, k := range PluginSchemaKeys() {
		assert.NotContains(t, k, ",", "json tag %q would become a schema field with a comma", k)
	}
}

// TestPluginKeysMatchDump compares with the built plugin's -dump schema when
// bin/client-ip-guard exists (make build).
func TestPluginKeysMatchDump(t *testing.T) {
	bin := "../../bin/client-ip-guard"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("bin/client-ip-guard not built")
	}
	out, err := exec.Command(bin, "-dump").Output()
	require.NoError(t, err)
	var dump struct {
		Plugins []struct {
			Name   string
			Schema struct {
				Fields []map[string]struct {
					Fields []map[string]json.RawMessage `json:"fields"`
				} `json:"fields"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(out, &dump))
	require.NotEmpty(t, dump.Plugins)
	assert.Equal(t, topology.PluginName, dump.Plugins[0].Name)
	var keys []string
	for _, f := range dump.Plugins[0].Schema.Fields {
		if cfg, ok := f["config"]; ok {
			for _, cf := range cfg.Fields {
				for k := range cf {
					keys = append(keys, k)
				}
			}
		}
	}
	want := append([]string{}, PluginConfigKeys...)
	sort.Strings(want)
	sort.Strings(keys)
	assert.Equal(t, want, keys)
}

func allTopologies(t *testing.T) []*topology.Resolved {
	var out []*topology.Resolved
	for _, pn := range topology.ProviderNames() {
		p, _ := topology.LookupProvider(pn)
		for _, m := range topology.Methods {
			if _, ok := p.Methods[m]; !ok {
				continue
			}
			out = append(out, resolve(t, topologytest.Complete(topology.Topology{Provider: pn, Method: m, TrustedCIDRs: []string{"10.0.0.0/16", "2001:db8::/32"}})))
		}
	}
	return out
}

// TestNoDrift: for every provider × method, Kong's view of the generated
// kong.conf and env (parsed by nodeconf, the model of Kong's loader) equals
// the plugin config's trusted_ips/real_ip_header/real_ip_recursive, and the
// plugin compiles the config without error.
func TestNoDrift(t *testing.T) {
	for _, r := range allTopologies(t) {
		name := r.Provider.Name + "/" + r.Method
		c, err := nodeconf.Parse(strings.NewReader(KongConf(r)), "kong.conf")
		require.NoError(t, err, name)
		var environ []string
		sc := bufio.NewScanner(strings.NewReader(Env(r)))
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
				environ = append(environ, l)
			}
		}
		ce, err := nodeconf.Load("", environ)
		require.NoError(t, err, name)

		pc := PluginConfig(r)
		raw, err := json.Marshal(pc)
		require.NoError(t, err)
		var gc guardconf.Config
		require.NoError(t, json.Unmarshal(raw, &gc), name)
		_, err = gc.Policy()
		require.NoError(t, err, name)
		// A decoded config keeps its lists only in the compiled policy.
		var lists struct {
			TrustedIPs []string `json:"trusted_ips"`
		}
		require.NoError(t, json.Unmarshal(raw, &lists), name)

		for _, node := range []*nodeconf.Conf{c, ce} {
			assert.Equal(t, lists.TrustedIPs, orEmpty(node.TrustedIPs), name)
			assert.Equal(t, gc.RealIPHeader, node.RealIPHeader, name)
			assert.Equal(t, gc.RealIPRecursive, node.RealIPRecursive, name)
			pp := false
			for _, l := range node.ProxyListen {
				pp = pp || l.ProxyProtocol
			}
			assert.Equal(t, r.ProxyProtocol, pp, name)
			require.Len(t, node.PluginServers, 1, name)
			ps := node.PluginServers[0]
			assert.Equal(t, "/usr/local/kong/client-ip-guard.socket", ps.Socket, name)
			assert.Equal(t, "/usr/local/bin/client-ip-guard -kong-prefix /usr/local/kong", ps.StartCmd, name)
			assert.Contains(t, node.Plugins, topology.PluginName)
		}
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestHelmValues(t *testing.T) {
	r := resolve(t, topology.Topology{Provider: "aks-pls", TrustedCIDRs: []string{"10.224.0.0/16"}, Chart: "ingress", Image: "example.com/kong-cig:1.2"})
	v := HelmValues(r)
	gw, ok := v["gateway"].(map[string]any)
	require.True(t, ok, "ingress chart nests under gateway")
	env := gw["env"].(map[string]any)
	assert.Equal(t, "10.224.0.0/16", env["trusted_ips"])
	assert.Equal(t, "proxy_protocol", env["real_ip_header"])
	assert.Equal(t, "off", env["real_ip_recursive"])
	assert.Equal(t, "/usr/local/bin/client-ip-guard -kong-prefix /kong_prefix", env["pluginserver_client_ip_guard_start_cmd"])
	assert.Equal(t, "/kong_prefix/client-ip-guard.socket", env["pluginserver_client_ip_guard_socket"])
	for k := range env {
		assert.False(t, strings.HasPrefix(strings.ToLower(k), "kong_"), "double prefix %s", k)
	}
	proxy := gw["proxy"].(map[string]any)
	assert.Equal(t, "Cluster", proxy["externalTrafficPolicy"])
	assert.Equal(t, map[string]any{"parameters": []string{"http2", "proxy_protocol"}}, proxy["tls"])
	assert.Equal(t, "true", proxy["annotations"].(map[string]string)["service.beta.kubernetes.io/azure-pls-proxy-protocol"])
	assert.Equal(t, map[string]any{"preInstalled": "client-ip-guard"}, gw["plugins"])
	assert.Equal(t, map[string]any{"repository": "example.com/kong-cig", "tag": "1.2"}, gw["image"], "the ingress chart's image is gateway.image")
	assert.NotContains(t, v, "image")

	y, err := HelmYAML(r)
	require.NoError(t, err)
	assert.Contains(t, y, `real_ip_recursive: "off"`, "on/off must be quoted for Helm")
	assert.NotContains(t, y, "-kong-prefix\n", "long strings must not be folded")

	_, err = HelmYAML(resolve(t, topology.Topology{Provider: "gke", Method: "local"}))
	assert.ErrorContains(t, err, "add --image REPO:TAG")
	_, err = PluginServerHelmYAML(resolve(t, topology.Topology{Provider: "gke", Method: "local"}))
	assert.ErrorContains(t, err, "add --image REPO:TAG")

	l7 := HelmValues(resolve(t, topologytest.Complete(topology.Topology{Provider: "gke-l7", TrustedCIDRs: []string{"203.0.113.10"}})))
	assert.Equal(t, map[string]any{"enabled": false}, l7["proxy"].(map[string]any)["tls"])
	assert.Equal(t, "ClusterIP", l7["proxy"].(map[string]any)["type"])
	assert.NotContains(t, l7["proxy"].(map[string]any), "externalTrafficPolicy")
}

func TestServiceAndKIC(t *testing.T) {
	r := resolve(t, topology.Topology{Provider: "gke", Namespace: "edge"})
	svc := ProxyService(r)
	assert.Equal(t, "edge", svc.Namespace)
	assert.Equal(t, "Local", string(svc.Spec.ExternalTrafficPolicy))
	assert.Equal(t, "enabled", svc.Annotations["cloud.google.com/l4-rbs"])
	assert.Len(t, svc.Spec.Ports, 2)

	y, err := ServiceYAML(r)
	require.NoError(t, err)
	assert.NotContains(t, y, "status:")
	assert.NotContains(t, y, "creationTimestamp")

	kcp, err := KongClusterPlugin(r)
	require.NoError(t, err)
	assert.Equal(t, "true", kcp.Labels["global"])
	assert.Equal(t, "kong", kcp.Annotations["kubernetes.io/ingress.class"])
	assert.Equal(t, topology.PluginName, kcp.PluginName)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(kcp.Config.Raw, &cfg))
	assert.Equal(t, "X-Real-IP", cfg["real_ip_header"])

	kp, err := KongPluginYAML(r)
	require.NoError(t, err)
	var m map[string]any
	j, err := yamljson.ToJSON([]byte(kp))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(j, &m))
	assert.Equal(t, "KongPlugin", m["kind"])
	assert.Equal(t, "configuration.konghq.com/v1", m["apiVersion"])
}

func TestDeckConfig(t *testing.T) {
	tr := true
	r := resolve(t, topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"127.0.0.2/32"},
		Plugin: topology.PluginOptions{Mode: "enforce", Deny: []string{"192.0.2.0/24"}},
		Services: []topology.Service{{Name: "echo", URL: "http://127.0.0.1:18080", Routes: []topology.Route{
			{Name: "echo", Paths: []string{"/echo"}, StripPath: &tr},
			{Name: "mon", Paths: []string{"/mon"}, Plugin: &topology.RoutePlugin{PluginOptions: topology.PluginOptions{Mode: "monitor"}, TrustedIPs: &[]string{}}},
		}}}})
	d := DeckConfig(r)
	assert.Equal(t, "3.0", d["_format_version"])
	p := d["plugins"].([]any)[0].(map[string]any)
	assert.Equal(t, topology.PluginName, p["name"])
	assert.NotContains(t, p, "ordering")
	cfg := p["config"].(map[string]any)
	assert.Equal(t, "enforce", cfg["mode"])
	assert.Equal(t, []string{"192.0.2.0/24"}, cfg["deny"])
	routes := d["services"].([]any)[0].(map[string]any)["routes"].([]any)
	assert.Equal(t, true, routes[0].(map[string]any)["strip_path"])
	rp := routes[1].(map[string]any)["plugins"].([]any)[0].(map[string]any)["config"].(map[string]any)
	assert.Equal(t, "monitor", rp["mode"])
	assert.Equal(t, []string{}, rp["trusted_ips"])
	assert.Equal(t, []string{"192.0.2.0/24"}, rp["deny"], "route instances inherit global options")
}

func TestBundleKinds(t *testing.T) {
	r := resolve(t, topology.Topology{Provider: "generic", Image: topologytest.Image})
	all, err := Bundle(r)
	require.NoError(t, err)
	assert.Len(t, all, len(Kinds)-4, "no Ingress or BackendConfig without an L7 load balancer, no GatewayConfiguration unless asked for, no fast path include without --fast-path")
	_, err = Bundle(r, "ingress")
	assert.ErrorContains(t, err, "does not apply to provider generic")
	alb, err := Bundle(resolve(t, topologytest.Complete(topology.Topology{Provider: "eks-alb", TrustedCIDRs: []string{"10.0.0.0/16"}})), "ingress")
	require.NoError(t, err)
	assert.Contains(t, alb["ingress.yaml"], "alb.ingress.kubernetes.io/target-type: ip")
	assert.Contains(t, alb["ingress.yaml"], "name: kong-kong-proxy\n")
	gce := FrontIngress(resolve(t, topologytest.Complete(topology.Topology{Provider: "gke-l7", TrustedCIDRs: []string{"203.0.113.10"}})))
	require.NotNil(t, gce)
	assert.Equal(t, "gce", gce.Annotations["kubernetes.io/ingress.class"])
	one, err := Bundle(r, "kong.conf")
	require.NoError(t, err)
	assert.Len(t, one, 1)
	assert.Contains(t, one["kong.conf"], "real_ip_header = X-Real-IP")
	assert.Contains(t, one["kong.conf"], "# trusted_ips is left unset")
	_, err = Bundle(r, "nginx.conf")
	assert.ErrorContains(t, err, `unknown output "nginx.conf"`)
	assert.Contains(t, PluginServerEnv("/kong_prefix", ""), "KONG_PLUGINSERVER_CLIENT_IP_GUARD_START_CMD=/usr/local/bin/client-ip-guard -kong-prefix /kong_prefix")
}

// TestMetrics: --metrics adds -metrics-listen to the plugin server's start
// command everywhere it is written, and scrape annotations to the Helm
// values; a bad address is refused before anything is written.
func TestMetrics(t *testing.T) {
	tp := topologytest.Complete(topology.Topology{Provider: "eks-nlb", TrustedCIDRs: []string{"10.0.0.0/16"}, Metrics: "0.0.0.0:9542"})
	r := resolve(t, tp)
	b, err := Bundle(r, "kong.conf", "env", "helm")
	require.NoError(t, err)
	const flag = "-metrics-listen 0.0.0.0:9542"
	assert.Contains(t, b["kong.conf"], "pluginserver_client_ip_guard_start_cmd = /usr/local/bin/client-ip-guard -kong-prefix /usr/local/kong "+flag)
	assert.Contains(t, b["kong.env"], flag)
	v := HelmValues(r)
	assert.Contains(t, v["env"].(map[string]any)["pluginserver_client_ip_guard_start_cmd"], flag)
	assert.Equal(t, map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "9542", "prometheus.io/path": "/metrics"}, v["podAnnotations"])

	off := resolve(t, topologytest.Complete(topology.Topology{Provider: "eks-nlb", TrustedCIDRs: []string{"10.0.0.0/16"}}))
	assert.NotContains(t, HelmValues(off), "podAnnotations")
	assert.NotContains(t, KongConf(off), "-metrics-listen")

	for _, bad := range []string{"9542", "0.0.0.0:0", "0.0.0.0:99999", "localhost:9542"} {
		tp.Metrics = bad
		_, err := topology.Resolve(tp)
		assert.ErrorContains(t, err, "metrics", bad)
	}
}
