package generate

import (
	"bufio"
	"encoding/json"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology/topologytest"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// fastTopologies is every provider × method with the fast path on.
func fastTopologies(t *testing.T) []*topology.Resolved {
	var out []*topology.Resolved
	for _, pn := range topology.ProviderNames() {
		p, _ := topology.LookupProvider(pn)
		for _, m := range topology.Methods {
			if _, ok := p.Methods[m]; !ok {
				continue
			}
			out = append(out, resolve(t, topologytest.Complete(topology.Topology{Provider: pn, Method: m,
				TrustedCIDRs: []string{"10.0.0.0/16"}, FastPath: true})))
		}
	}
	return out
}

func envOf(t *testing.T, env string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(env))
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestFastPathOutputsAgree: for every provider × method, the include is
// fastpath.Include for Kong's real_ip_header, byte for byte; kong.conf and
// the env load it from the same path (read back with nodeconf, the model
// of Kong's loader) with underscores off in the proxy server; the Helm
// values create the ConfigMap holding that text and mount it where
// nginx_http_include points; every plugin config has fast_path: true.
func TestFastPathOutputsAgree(t *testing.T) {
	for _, r := range fastTopologies(t) {
		name := r.Provider.Name + "/" + r.Method
		want, err := fastpath.Include(r.RealIPHeader)
		require.NoError(t, err, name)
		b, err := Bundle(r)
		require.NoError(t, err, name)
		assert.Equal(t, want, b[IncludeFile], name)

		c, err := nodeconf.Parse(strings.NewReader(b["kong.conf"]), "kong.conf")
		require.NoError(t, err, name)
		ce, err := nodeconf.Load("", envOf(t, b["kong.env"]))
		require.NoError(t, err, name)
		for _, node := range []*nodeconf.Conf{c, ce} {
			assert.Equal(t, IncludePath, node.Raw["nginx_http_include"], name)
			assert.Equal(t, "off", node.Raw["nginx_proxy_underscores_in_headers"], name)
			assert.NotContains(t, node.Raw, "nginx_http_underscores_in_headers", "a second http-level underscores_in_headers stops nginx (is duplicate)")
		}
		assert.Contains(t, b["kong.conf"], "# nginx_proxy_underscores_in_headers = off: a trade-off", name)

		v := HelmValues(r)
		env := v["env"].(map[string]any)
		assert.Equal(t, IncludePath, env["nginx_http_include"], name)
		assert.Equal(t, "off", env["nginx_proxy_underscores_in_headers"], name)
		mounts := v["extraConfigMaps"].([]any)
		require.Len(t, mounts, 1, name)
		mount := mounts[0].(map[string]any)
		assert.Equal(t, path.Dir(IncludePath), mount["mountPath"], name)
		assert.NotContains(t, mount, "subPath", "a whole-ConfigMap mount puts the key's file in the directory")
		objs := v["extraObjects"].([]any)
		require.Len(t, objs, 1, name)
		cm := objs[0].(map[string]any)
		assert.Equal(t, "ConfigMap", cm["kind"], name)
		assert.Equal(t, mount["name"], cm["metadata"].(map[string]any)["name"], name)
		assert.Equal(t, want, cm["data"].(map[string]any)[path.Base(IncludePath)], name)
		assert.NotContains(t, want, "{{", "extraObjects go through Helm's tpl")
		y, err := HelmYAML(r)
		require.NoError(t, err, name)
		assert.Contains(t, y, `nginx_proxy_underscores_in_headers: "off"`, "quoted for Helm")

		var cfg map[string]any
		kp, err := KongPlugin(r)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(kp.Config.Raw, &cfg))
		assert.Equal(t, true, cfg["fast_path"], name)
		deck := DeckConfig(r)["plugins"].([]any)[0].(map[string]any)["config"].(map[string]any)
		assert.Equal(t, true, deck["fast_path"], name)
	}
}

func TestFastPathOffWritesNothing(t *testing.T) {
	r := resolve(t, topologytest.Complete(topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/16"}}))
	b, err := Bundle(r)
	require.NoError(t, err)
	assert.NotContains(t, b, IncludeFile)
	for _, f := range []string{"kong.conf", "kong.env", "values.yaml", "kong.yml", "kongplugin.yaml"} {
		assert.NotContains(t, b[f], "nginx_http_include", f)
		assert.NotContains(t, b[f], "underscores", f)
		assert.NotContains(t, b[f], "fast_path", f)
	}
	_, err = Bundle(r, "fastpath-include")
	assert.ErrorContains(t, err, "output fastpath-include needs --fast-path")
}

// TestFastPathRefusals: an instance the fast path cannot serve is refused
// before anything is written; a source only newer nginx serves is a
// warning; outputs that cannot mount the include refuse it.
func TestFastPathRefusals(t *testing.T) {
	drift := topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/16"}, FastPath: true,
		Services: []topology.Service{{Name: "s", URL: "http://s", Routes: []topology.Route{
			{Name: "r", Paths: []string{"/"}, Plugin: &topology.RoutePlugin{RealIPHeader: "Forwarded"}}}}}}
	_, err := topology.Resolve(drift)
	assert.ErrorContains(t, err, "services[0].routes[0].plugin: fastPath: the fast path cannot serve this instance (real_ip_header forwarded) with the include written for Kong's real_ip_header X-Forwarded-For")
	drift.Services[0].Routes[0].Plugin.RealIPHeader = "CF-Connecting-IP"
	_, err = topology.Resolve(drift)
	assert.ErrorContains(t, err, "carries no cf-connecting-ip header", "the node's include has no field for another custom header")
	drift.FastPath = false
	_, err = topology.Resolve(drift)
	assert.NoError(t, err)

	_, err = topology.Resolve(topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/16"},
		RealIPHeader: "X.Client", FastPath: true})
	assert.ErrorContains(t, err, "nginx can name only letters")

	for _, tc := range []struct {
		header string
		warn   bool
	}{{"X-Real-IP", true}, {"CF-Connecting-IP", true}, {"X-Forwarded-For", true}} { // every source needs nginx 1.23 (fastpath.Fill)
		r := resolve(t, topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/16"}, RealIPHeader: tc.header, FastPath: true})
		found := false
		for _, w := range r.Warnings {
			found = found || strings.Contains(w, "needs Kong 3.6 or later")
		}
		assert.Equal(t, tc.warn, found, tc.header)
	}
	pp := resolve(t, topologytest.Complete(topology.Topology{Provider: "eks-nlb", Method: "proxy-protocol", TrustedCIDRs: []string{"10.0.0.0/16"}, FastPath: true}))
	require.Len(t, pp.Warnings, 1)
	assert.Contains(t, pp.Warnings[0], "needs Kong 3.6 or later")

	_, err = Bundle(pp, "gatewayconfiguration")
	assert.ErrorContains(t, err, "does not mount the fast path's nginx include")
}

// TestFastPathHelmYAMLReadsBack: the rendered values, read as YAML, hold
// the include text unchanged (a block scalar keeps it byte for byte).
func TestFastPathHelmYAMLReadsBack(t *testing.T) {
	r := resolve(t, topologytest.Complete(topology.Topology{Provider: "aks", Chart: "ingress", FastPath: true, RealIPHeader: "", Method: "local"}))
	y, err := HelmYAML(r)
	require.NoError(t, err)
	j, err := yamljson.ToJSON([]byte(y))
	require.NoError(t, err)
	var v struct {
		Gateway struct {
			ExtraObjects []struct {
				Data map[string]string `json:"data"`
			} `json:"extraObjects"`
			ExtraConfigMaps []map[string]string `json:"extraConfigMaps"`
		} `json:"gateway"`
	}
	require.NoError(t, json.Unmarshal(j, &v))
	want, _ := fastpath.Include(r.RealIPHeader)
	require.Len(t, v.Gateway.ExtraObjects, 1)
	assert.Equal(t, want, v.Gateway.ExtraObjects[0].Data[IncludeFile])
	assert.Equal(t, IncludeDir, v.Gateway.ExtraConfigMaps[0]["mountPath"])
	assert.Contains(t, y, "# gateway.extraObjects creates ConfigMap kong-client-ip-guard-fastpath")
}
