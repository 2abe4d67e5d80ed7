package topology

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResolveDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        Topology
		method    string
		header    string
		recursive bool
		pp        bool
		tls       string
		trusted   []string
		peer      bool
	}{
		{"eks-nlb default is PROXY", Topology{Provider: "eks-nlb", TrustedCIDRs: []string{"10.0.0.0/16"}}, MethodProxyProtocol, "proxy_protocol", false, true, TLSKong, []string{"10.0.0.0/16"}, true},
		{"gke default is local", Topology{Provider: "gke"}, MethodLocal, "X-Real-IP", false, false, TLSKong, nil, false},
		{"gke-l7 trusts GFE", Topology{Provider: "gke-l7", TrustedCIDRs: []string{"203.0.113.10"}, LBCertificate: "gfe-cert"}, MethodHeaders, "X-Forwarded-For", true, false, TLSLB,
			[]string{"203.0.113.10", "35.191.0.0/16", "130.211.0.0/22", "2600:2d00:1:b029::/64", "2600:2d00:1:1::/64"}, true},
		{"cloudflare header", Topology{Provider: "cloudflare"}, MethodHeaders, "CF-Connecting-IP", false, false, TLSKong, nil, true},
		{"generic headers override", Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"192.0.2.0/24", "192.0.2.0/24"}, RealIPHeader: "x-real-ip", Recursive: ptr(false)},
			MethodHeaders, "X-Real-IP", false, false, TLSKong, []string{"192.0.2.0/24"}, true},
		{"empty provider is generic", Topology{}, MethodLocal, "X-Real-IP", false, false, TLSKong, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Resolve(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.method, r.Method)
			assert.Equal(t, tc.header, r.RealIPHeader)
			assert.Equal(t, tc.recursive, r.Recursive)
			assert.Equal(t, tc.pp, r.ProxyProtocol)
			assert.Equal(t, tc.tls, r.TLS)
			assert.Equal(t, tc.peer, r.RequireTrustedPeer)
			if tc.trusted != nil {
				assert.Equal(t, tc.trusted, r.TrustedIPs)
			}
			assert.Equal(t, "kong", r.Topology.Namespace)
			assert.Equal(t, "/usr/local/kong", r.Topology.Prefix)
			assert.Equal(t, "monitor", r.Topology.Plugin.Mode)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		in   Topology
		want string
	}{
		{Topology{Provider: "azure"}, `unknown provider "azure"`},
		{Topology{Provider: "gke", Method: "proxy-protocol"}, "does not support method proxy-protocol"},
		{Topology{Provider: "generic", Method: "carrier-pigeon"}, `unknown method "carrier-pigeon"`},
		{Topology{Provider: "eks-nlb"}, "needs the load balancer's addresses"},
		{Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"0.0.0.0/0"}}, "trusts every address"},
		{Topology{Provider: "generic", Method: "headers", TrustAll: true}, "lets every client choose"},
		{Topology{Provider: "generic", Method: "proxy-protocol", TrustedCIDRs: []string{"10.0.0.1/8"}}, "host bits set"},
		{Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/8"}, RealIPHeader: "Forwarded"}, "RFC 7239"},
		{Topology{Provider: "generic", Method: "local", RealIPHeader: "X-Forwarded-For"}, "apply to method headers only"},
		{Topology{Provider: "generic", Plugin: PluginOptions{Mode: "block"}}, `plugin: client-ip-guard config: mode = "block"`},
		{Topology{Provider: "generic", Plugin: PluginOptions{LogSink: "file"}}, `log_path = "": required when log_sink is file`},
		{Topology{Provider: "generic", Plugin: PluginOptions{Status: 99}}, `status = "99": must be an HTTP status`},
		{Topology{Provider: "generic", Plugin: PluginOptions{Reject: []string{"Spoof Attempt"}}}, `reject = "Spoof Attempt"`},
		// guardconf's rules, not a look-alike: a well-formed name that is no verdict fails here, not later.
		{Topology{Provider: "generic", Plugin: PluginOptions{Reject: []string{"foo"}}}, `plugin: client-ip-guard config: reject = "foo": not a verdict that can be rejected`},
		{Topology{Provider: "generic", Plugin: PluginOptions{UpstreamHeader: "X(Client)"}}, `upstream_header = "X(Client)": not a header name`},
		{Topology{Provider: "generic", Plugin: PluginOptions{Allow: []string{"10.0.0.1/8"}}}, "plugin.allow: \"10.0.0.1/8\" has host bits set"},
		{Topology{Provider: "generic", Plugin: PluginOptions{Deny: []string{"example.com"}}}, `deny = "example.com": not an IP address or CIDR`},
		{Topology{Provider: "generic", Services: []Service{{Name: "s", URL: "http://u", Routes: []Route{{Name: "r", Paths: []string{"/"}, Plugin: &RoutePlugin{PluginOptions: PluginOptions{Reject: []string{"foo"}}}}}}}},
			`services[0].routes[0].plugin: client-ip-guard config: reject = "foo"`},
		{Topology{Provider: "generic", Presets: []string{"akamai"}}, `unknown preset "akamai"`},
		{Topology{Provider: "generic", Chart: "nginx"}, "chart"},
		{Topology{Provider: "generic", TLS: "both"}, "tls"},
		{Topology{Provider: "generic", Prefix: "kong"}, "absolute path"},
		{Topology{Provider: "generic", Services: []Service{{Name: "x"}}}, "services[0] needs name and url"},
		// What the platform cannot do, and the input it needs.
		{Topology{Provider: "gke-l7", LBCertificate: "c"}, "add the load balancer's IP with --trusted-cidr"},
		{Topology{Provider: "gke-l7", TrustedCIDRs: []string{"35.191.0.0/16"}, LBCertificate: "c"}, "add the load balancer's IP"},
		{Topology{Provider: "eks-alb", TrustedCIDRs: []string{"10.0.0.0/16"}}, "add --lb-certificate (an ACM certificate ARN)"},
		{Topology{Provider: "eks-alb", TrustedCIDRs: []string{"10.0.0.0/16"}, TLS: TLSKong}, "use --tls lb with --lb-certificate"},
		{Topology{Provider: "hetzner", TrustedCIDRs: []string{"10.0.0.0/16"}}, "add --lb-location"},
		{Topology{Provider: "aks-pls", TrustedCIDRs: []string{"10.0.0.0/16"}, TLS: TLSLB}, "layer 4 and cannot terminate TLS"},
		{Topology{Provider: "eks-nlb", Method: MethodLocal, TLS: TLSLB}, "tls lb with method local"},
		{Topology{Provider: "generic", LBCertificate: "x"}, "only used with --tls lb"},
		{Topology{Provider: "gke", LBLocation: "fsn1"}, "lbLocation is only used by hetzner"},
		{Topology{Provider: "generic", Release: "Kong_1"}, "is not a Helm release name"},
		{Topology{Provider: "generic", Image: "kong:3.9"}, "Kong's stock image"},
		{Topology{Provider: "generic", Image: "registry.example.com/kong"}, "must be REPO:TAG"},
	} {
		_, err := Resolve(tc.in)
		assert.ErrorContains(t, err, tc.want, "%+v", tc.in)
	}
}

func TestTrustAllWarnsWithPP(t *testing.T) {
	r, err := Resolve(Topology{Provider: "eks-nlb", TrustAll: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"0.0.0.0/0", "::/0"}, r.TrustedIPs)
	require.NotEmpty(t, r.Warnings)
	assert.Contains(t, r.Warnings[0], "trusts every peer")
}

func TestParseStrict(t *testing.T) {
	tp, err := Parse([]byte("provider: aks\nmethod: local\nplugin:\n  mode: enforce\n"), "t.yaml")
	require.NoError(t, err)
	assert.Equal(t, "aks", tp.Provider)
	assert.Equal(t, "enforce", tp.Plugin.Mode)
	_, err = Parse([]byte("provider: aks\ntrusted_cidrs: [10.0.0.0/8]\n"), "t.yaml")
	assert.ErrorContains(t, err, "t.yaml")
	_, err = Parse([]byte("  \n"), "e.yaml")
	assert.ErrorContains(t, err, "empty topology")
	_, err = LoadFile("testdata/missing.yaml")
	assert.Error(t, err)
}

func TestEveryProviderIsConsistent(t *testing.T) {
	require.Len(t, ProviderNames(), len(providers))
	for _, n := range ProviderNames() {
		p, ok := LookupProvider(n)
		require.True(t, ok, n)
		assert.Equal(t, n, p.Name)
		_, ok = p.Methods[p.DefaultMethod]
		assert.True(t, ok, "%s default method %s unsupported", n, p.DefaultMethod)
		for _, m := range Methods {
			_, sup := p.Methods[m]
			_, why := p.Unsupported[m]
			assert.False(t, sup && why, "%s/%s both supported and unsupported", n, m)
		}
		if prof, ok := p.Methods[MethodLocal]; ok && prof.ServiceType != "ClusterIP" && n != "tke-direct" {
			assert.Equal(t, "Local", prof.ExternalTrafficPolicy, "%s local needs Local", n)
		}
	}
	assert.Equal(t, "client_ip_guard", EnvSuffix(PluginName))
}
