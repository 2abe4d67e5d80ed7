package generate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology/topologytest"
)

// The PROXY header timeout reaches every node surface under the one key
// Kong injects into nginx's http block.
func TestProxyHeaderTimeout(t *testing.T) {
	r := resolve(t, topologytest.Complete(topology.Topology{Provider: "ibm-vpc", TrustedCIDRs: []string{"10.240.0.0/18"}, ProxyHeaderTimeout: "5s"}))
	assert.Contains(t, KongConf(r), "\nnginx_http_client_header_timeout = 5s\n")
	assert.Contains(t, Env(r), "\nKONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT=5s\n")
	env := HelmValues(r)["env"].(map[string]any)
	assert.Equal(t, "5s", env["nginx_http_client_header_timeout"])
	gc, err := GatewayConfiguration(r)
	require.NoError(t, err)
	assert.Contains(t, gc.Spec.DataPlaneOptions.Deployment.PodTemplateSpec.Spec.Containers[0].Env,
		corev1.EnvVar{Name: "KONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT", Value: "5s"})

	without := resolve(t, topologytest.Complete(topology.Topology{Provider: "ibm-vpc", TrustedCIDRs: []string{"10.240.0.0/18"}}))
	assert.NotContains(t, KongConf(without), "client_header_timeout")
	assert.Contains(t, notes(without), "client_header_timeout (60s by default)")

	for _, tc := range []struct {
		in   topology.Topology
		want string
	}{
		{topology.Topology{Provider: "gke", ProxyHeaderTimeout: "5s"}, "needs method proxy-protocol"},
		{topology.Topology{Provider: "ibm-vpc", TrustedCIDRs: []string{"10.0.0.0/8"}, ProxyHeaderTimeout: "5 seconds"}, "is not an nginx time"},
	} {
		_, err := topology.Resolve(tc.in)
		assert.ErrorContains(t, err, tc.want)
	}
}

// A Service name of one's own reaches the chart through proxy.nameOverride,
// and for the ingress chart also the controller's copy of it.
func TestServiceNameOverride(t *testing.T) {
	r := resolve(t, topology.Topology{Provider: "aks", Chart: "ingress", Release: "edge", ServiceName: "public-gw", Image: topologytest.Image})
	v := HelmValues(r)
	assert.Equal(t, "public-gw", v["gateway"].(map[string]any)["proxy"].(map[string]any)["nameOverride"])
	assert.Equal(t, map[string]any{"proxy": map[string]any{"nameOverride": "public-gw"}}, v["controller"])
	assert.Equal(t, "public-gw", ProxyService(r).Name)
	y, err := HelmYAML(r)
	require.NoError(t, err)
	assert.Contains(t, y, "proxy.nameOverride >= 2.48.0")

	own := HelmValues(resolve(t, topology.Topology{Provider: "aks", Chart: "ingress", Release: "edge", Image: topologytest.Image}))
	assert.NotContains(t, own, "controller", "the chart's own name needs no override")
}
