package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenerateFlags(t *testing.T) {
	code, out, errs := run(t, "generate", "--provider", "eks-nlb", "--trusted-cidr", "10.0.0.0/16", "-o", "kong.conf")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "real_ip_header = proxy_protocol")
	assert.Contains(t, out, "proxy_listen = 0.0.0.0:8000 reuseport backlog=16384 proxy_protocol")
	assert.NotContains(t, out, "# ----", "a single output has no separators")

	code, out, _ = run(t, "generate", "--provider", "gke", "-o", "service", "-o", "helm", "--image", "example.com/kong-cig:1")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "# ---- service.yaml ----")
	assert.Contains(t, out, "externalTrafficPolicy: Local")
}

func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate"}, "give --provider"},
		{[]string{"generate", "--provider", "gke", "--method", "proxy-protocol"}, "does not support"},
		{[]string{"generate", "--provider", "generic", "--method", "headers", "--trusted-cidr", "0.0.0.0/0"}, "trust-all"},
		{[]string{"generate", "--provider", "eks-nlb"}, "needs the load balancer's addresses"},
		{[]string{"generate", "--provider", "generic", "--recursive", "maybe"}, "--recursive"},
		{[]string{"generate", "--provider", "generic", "--aws-service", "EC2"}, "--trusted-from"},
		{[]string{"generate", "--provider", "generic", "-o", "nginx"}, "unknown output"},
		{[]string{"generate", "--topology", "no/such/file.yaml"}, "no such file"},
		{[]string{"generate", "--provider", "gke-l7", "--lb-certificate", "c", "-o", "kong.conf"}, "add the load balancer's IP with --trusted-cidr"},
		{[]string{"generate", "--provider", "eks-alb", "--trusted-cidr", "10.0.0.0/16", "-o", "ingress"}, "add --lb-certificate"},
		{[]string{"generate", "--provider", "hetzner", "--trusted-cidr", "10.0.0.0/16", "-o", "service"}, "add --lb-location"},
		{[]string{"generate", "--provider", "aks-pls", "--trusted-cidr", "10.0.0.0/16", "--tls", "lb"}, "cannot terminate TLS"},
		{[]string{"generate", "--provider", "gke", "-o", "helm"}, "add --image REPO:TAG"},
		{[]string{"generate", "--provider", "gke"}, "add --image REPO:TAG"},
		{[]string{"generate", "--provider", "eks-clb", "--method", "headers", "--trusted-cidr", "10.0.0.0/16", "--lb-certificate", "arn:x",
			"--image", "example.com/k:1", "-o", "gatewayconfiguration"}, "the operator's proxy Service maps 80 to 8000 and 443 to 8443"},
		{[]string{"generate", "--provider", "gke", "--proxy-header-timeout", "5s", "-o", "kong.conf"}, "needs method proxy-protocol"},
	} {
		code, _, errs := run(t, tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}

func TestGenerateTopologyFileAndTrustedFrom(t *testing.T) {
	dir := t.TempDir()
	topo := filepath.Join(dir, "t.yaml")
	require.NoError(t, os.WriteFile(topo, []byte("provider: generic\nmethod: headers\nplugin:\n  mode: enforce\n"), 0o644))
	list := filepath.Join(dir, "cdn.txt")
	require.NoError(t, os.WriteFile(list, []byte("# cdn\n198.51.100.0/24\n"), 0o644))
	aws := filepath.Join(dir, "ip-ranges.json")
	require.NoError(t, os.WriteFile(aws, []byte(`{"createDate":"x","prefixes":[{"ip_prefix":"13.32.0.0/15","region":"GLOBAL","service":"CLOUDFRONT"},{"ip_prefix":"3.0.0.0/15","region":"us-east-1","service":"EC2"}],"ipv6_prefixes":[]}`), 0o644))
	out := filepath.Join(dir, "out")
	code, _, errs := run(t, "generate", "-t", topo, "--trusted-from", list, "--trusted-from", aws, "--aws-service", "CLOUDFRONT", "--out-dir", out)
	// the plain list cannot take AWS filters
	require.Equal(t, 2, code)
	assert.Contains(t, errs, "plain list")

	code, _, errs = run(t, "generate", "-t", topo, "--trusted-from", aws, "--aws-service", "CLOUDFRONT", "--out-dir", out)
	require.Equal(t, 2, code)
	assert.Contains(t, errs, "add --image REPO:TAG", "the Helm values need an image with the plugin")

	code, _, errs = run(t, "generate", "-t", topo, "--trusted-from", aws, "--aws-service", "CLOUDFRONT", "--out-dir", out, "--image", "example.com/kong-cig:1")
	require.Equal(t, 0, code, errs)
	b, err := os.ReadFile(filepath.Join(out, "kong.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "trusted_ips = 13.32.0.0/15\n")
	y, err := os.ReadFile(filepath.Join(out, "kong.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(y), "mode: enforce")
	entries, _ := os.ReadDir(out)
	assert.Len(t, entries, 9)

	// flags override the file
	code, o, _ := run(t, "generate", "-t", topo, "--trusted-from", list, "--mode", "monitor", "-o", "kong.yml")
	require.Equal(t, 0, code)
	assert.Contains(t, o, "mode: monitor")
	assert.Contains(t, o, "198.51.100.0/24")
}

func TestLintExitCodesAndJSON(t *testing.T) {
	code, out, _ := run(t, "lint", "../lint/testdata/bad/pp-listen-missing")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "KC001")

	code, out, _ = run(t, "lint", "--format", "json", "../lint/testdata/bad/snat-cluster-policy")
	assert.Equal(t, 0, code, "warnings only")
	var rep struct {
		Warnings int `json:"warnings"`
		Findings []struct {
			Rule string `json:"rule"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 1, rep.Warnings)
	assert.Equal(t, "KC108", rep.Findings[0].Rule)

	code, _, errs := run(t, "lint", "--format", "xml", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--format")
	code, _, _ = run(t, "lint")
	assert.Equal(t, 2, code)

	code, out, _ = run(t, "lint", "../../examples/eks-nlb-proxy-protocol", "../../examples/gke-l7-headers")
	assert.Equal(t, 0, code, out)
}

func TestListings(t *testing.T) {
	code, out, _ := run(t, "rules")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "KC001")
	assert.Contains(t, out, "KC303")
	code, out, _ = run(t, "presets")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "cloudflare")
	assert.Contains(t, out, "gcp-lb")
	code, out, _ = run(t, "presets", "gcp-lb")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "35.191.0.0/16")
	code, _, errs := run(t, "presets", "nope")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "unknown preset")
	code, out, _ = run(t, "providers")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "aks-pls")
	assert.Contains(t, out, "tke-direct")
}

func TestRenderNginx(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kong.conf")
	require.NoError(t, os.WriteFile(conf, []byte("trusted_ips = 10.0.0.0/16\nreal_ip_header = proxy_protocol\nproxy_listen = 0.0.0.0:8000 proxy_protocol\n"), 0o644))
	code, out, errs := run(t, "render-nginx", "-c", conf)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "set_real_ip_from 10.0.0.0/16;")
	assert.Contains(t, out, "real_ip_header proxy_protocol;")
	assert.Contains(t, out, "proxy_protocol")
	code, _, errs = run(t, "render-nginx")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "-c")
}

func TestDoctorAndApplyCommands(t *testing.T) {
	root := `{"version":"3.9.1","plugins":{"available_on_server":{"client-ip-guard":{"version":"0.1.0","priority":1000000}}},
"configuration":{"database":"off","trusted_ips":{},"real_ip_header":"proxy_protocol","real_ip_recursive":"off",
"proxy_listeners":[{"listener":"0.0.0.0:8000","proxy_protocol":false,"ssl":false}]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/":
			io.WriteString(w, root)
		case "/plugins":
			io.WriteString(w, `{"data":[],"next":null}`)
		case "/schemas/plugins/validate":
			io.WriteString(w, `{"message":"schema validation successful"}`)
		case "/config":
			w.WriteHeader(201)
			io.WriteString(w, `{}`)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	code, out, errs := run(t, "doctor", "--admin-url", srv.URL)
	assert.Equal(t, 1, code, errs)
	assert.Contains(t, out, "KC001")
	assert.Contains(t, out, "Kong 3.9.1 (database off)")

	code, out, _ = run(t, "doctor", "--admin-url", srv.URL, "--format", "json", "-t", "../../examples/eks-nlb-proxy-protocol/topology.yaml")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `"rule": "KC201"`, "the proposed config trusts 10.0.0.0/16, the node nothing")

	code, _, errs = run(t, "apply", "--admin-url", srv.URL, "-t", "../../examples/eks-nlb-proxy-protocol/topology.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--replace")
	code, out, errs = run(t, "apply", "--admin-url", srv.URL, "-t", "../../examples/eks-nlb-proxy-protocol/topology.yaml", "--replace")
	assert.Equal(t, 0, code, errs)
	assert.Contains(t, out, "POST /config")
}
