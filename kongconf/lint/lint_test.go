package lint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadCorpus lints every testdata/bad/<case>/ directory and requires the
// rule IDs listed in its want file; every rule (except the live-only ones)
// must be demonstrated by at least one case.
func TestBadCorpus(t *testing.T) {
	dirs, err := filepath.Glob("testdata/bad/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	covered := map[string]bool{}
	for _, d := range dirs {
		d := d
		t.Run(filepath.Base(d), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(d, "want"))
			require.NoError(t, err)
			want := strings.Fields(string(b))
			require.NotEmpty(t, want)
			rep := Files([]string{d})
			got := map[string]Finding{}
			for _, f := range rep.Findings {
				got[f.Rule] = f
				assert.NotEmpty(t, f.Message)
				assert.NotEmpty(t, f.Fix)
				assert.Contains(t, []Severity{Error, Warning, Info}, f.Severity)
			}
			for _, w := range want {
				f, ok := got[w]
				if assert.True(t, ok, "want %s, got %v", w, rep.Findings) {
					covered[w] = true
					r, _ := lookupRule(w)
					if r.Severity == Error {
						assert.True(t, rep.HasErrors())
					}
					assert.NotEmpty(t, f.File)
				}
			}
		})
	}
	// testdata/cases (TestCorpus) demonstrates the rules of the input kinds
	// and topology rules with exact findings.
	cases, err := filepath.Glob("testdata/cases/*")
	require.NoError(t, err)
	for _, d := range cases {
		b, err := os.ReadFile(filepath.Join(d, "expect"))
		require.NoError(t, err)
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
				covered[f[0]] = true
			}
		}
	}
	for _, r := range Rules() {
		if r.ID == RuleLiveRejected || r.ID == RuleNotAvailable {
			continue // exercised by kongconf/admin's doctor tests
		}
		assert.True(t, covered[r.ID], "rule %s (%s) has no case in testdata/bad or testdata/cases", r.ID, r.Title)
	}
}

func TestRulesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		assert.Regexp(t, `^KC\d{3}$`, r.ID)
		assert.False(t, seen[r.ID])
		seen[r.ID] = true
		assert.NotEmpty(t, r.Title, r.ID)
		assert.NotEmpty(t, r.Why, r.ID)
		assert.NotEmpty(t, r.Fix, r.ID)
	}
	_, ok := lookupRule("kc001")
	assert.True(t, ok)
}

func TestParseKongConfSyntax(t *testing.T) {
	in := "# comment\n; also a comment\ntrusted_ips = 10.0.0.0/8 # trailing\nreal-ip-header = X-Forwarded-For\nproxy_listen = 0.0.0.0:8000 \\\n  proxy_protocol\nmessage = a \\# b\n"
	n, f := ParseKongConf(strings.NewReader(in), "k.conf")
	assert.Empty(t, f)
	v, tv, ok := n.Get("trusted_ips")
	require.True(t, ok)
	assert.Equal(t, "10.0.0.0/8", v)
	assert.Equal(t, 3, tv.Line)
	h, hv := n.RealIPHeader()
	assert.Equal(t, "X-Forwarded-For", h)
	assert.Equal(t, "real-ip-header", hv.Orig)
	assert.True(t, n.UsesPP())
	assert.Equal(t, 5, n.ListenLine)
	m, _, _ := n.Get("message")
	assert.Equal(t, "a # b", m)
}

func TestParseEnv(t *testing.T) {
	n, f := ParseEnv(strings.NewReader("export KONG_TRUSTED_IPS='10.0.0.0/8'\nPATH=/bin\nKONG_REAL_IP_HEADER=\"proxy_protocol\"\nbroken line\n"), "x.env")
	require.Len(t, f, 1)
	assert.Equal(t, "KC901", f[0].Rule)
	assert.Equal(t, 4, f[0].Line)
	tr, _ := n.TrustedIPs()
	assert.Equal(t, []string{"10.0.0.0/8"}, tr)
	h, _ := n.RealIPHeader()
	assert.Equal(t, "proxy_protocol", h)
	assert.Len(t, n.Order, 2)
}

func TestAliasAndDefaults(t *testing.T) {
	n, _ := ParseKongConf(strings.NewReader("nginx_proxy_real_ip_header = X-Forwarded-For\nnginx_proxy_real_ip_recursive = on\n"), "k.conf")
	h, _ := n.RealIPHeader()
	r, _ := n.RealIPRecursive()
	assert.Equal(t, "X-Forwarded-For", h)
	assert.Equal(t, "on", r)
	n2, _ := ParseKongConf(strings.NewReader(""), "e.conf")
	h, _ = n2.RealIPHeader()
	r, _ = n2.RealIPRecursive()
	assert.Equal(t, "X-Real-IP", h)
	assert.Equal(t, "off", r)
	assert.False(t, n2.UsesPP())
	assert.Equal(t, "/usr/local/kong", n2.Prefix())
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{
		"read_ip_recursive": "real_ip_recursive",
		"trusted_ip":        "trusted_ips",
		"realipheader":      "real_ip_header",
		"pluginserver_client_ip_guard_start_cmnd": "pluginserver_client_ip_guard_start_cmd",
		"pluginserver_name":                       "pluginserver_names",
		"completely_unrelated_setting_name":       "",
		"portal_gui_url":                          "", // another word of Kong's keys, not a typo of portal_api_url
		"admin_gui_protocl":                       "",
	} {
		assert.Equal(t, want, Suggest(in), in)
	}
	assert.True(t, KnownKey("nginx_http_client_max_body_size"))
	assert.True(t, KnownKey("pluginserver_foo_socket"))
	assert.False(t, KnownKey("pluginserver_foo_sockets"))
}

func TestCleanConfigHasNoFindings(t *testing.T) {
	dir := t.TempDir()
	write := func(n, c string) { require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644)) }
	write("kong.conf", "trusted_ips = 10.0.0.0/16\nreal_ip_header = proxy_protocol\nproxy_listen = 0.0.0.0:8000 proxy_protocol, 0.0.0.0:8443 ssl http2 proxy_protocol\nplugins = bundled,client-ip-guard\npluginserver_names = client-ip-guard\npluginserver_client_ip_guard_start_cmd = /usr/local/bin/client-ip-guard -kong-prefix /usr/local/kong\npluginserver_client_ip_guard_query_cmd = /usr/local/bin/client-ip-guard -dump\nnginx_http_client_header_timeout = 5s\n")
	write("kong.yml", "_format_version: \"3.0\"\nplugins:\n- name: client-ip-guard\n  config:\n    trusted_ips: [10.0.0.0/16]\n    real_ip_header: proxy_protocol\n    real_ip_recursive: false\n")
	rep := Files([]string{dir})
	assert.Empty(t, rep.Findings)
	assert.Len(t, rep.Files, 2)
}

func TestReportFormats(t *testing.T) {
	rep := Files([]string{"testdata/bad/pp-listen-missing"})
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), "pp-listen-missing/kong.conf:3: error KC001")
	assert.Contains(t, buf.String(), "fix: add proxy_protocol")
	buf.Reset()
	require.NoError(t, rep.WriteJSON(&buf))
	var out struct {
		Errors   int       `json:"errors"`
		Findings []Finding `json:"findings"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	assert.Equal(t, 1, out.Errors)
	assert.Equal(t, "KC001", out.Findings[0].Rule)
	assert.Equal(t, 3, out.Findings[0].Line)
}

func TestMissingFileIsAFinding(t *testing.T) {
	rep := Files([]string{"testdata/does-not-exist.conf"})
	require.Len(t, rep.Findings, 1)
	assert.Equal(t, "KC901", rep.Findings[0].Rule)
	assert.Contains(t, rep.Findings[0].Message, "no such file")
	assert.Contains(t, rep.Findings[0].Fix, "check the path")
}

func TestNeverPanicsOnOddInput(t *testing.T) {
	for _, in := range []string{"", "---\n", "- a\n- b\n", "kind: Service\nspec: 3\n", "_format_version: \"3.0\"\nservices: 5\nplugins: [1, 2]\n",
		"env: [1]\nproxy: x\n", "gateway:\n  env:\n    trusted_ips: {a: 1}\n", "apiVersion: configuration.konghq.com/v1\nkind: KongClusterPlugin\nplugin: client-ip-guard\nconfig: 7\n",
		"\x00\xff", "=\n=x\n",
		"services:\n  kong: 5\n  x:\n    environment: 7\n    env_file: {path: 3}\n", "services:\n  k:\n    environment: [1, {a: b}, \"=\"]\n",
		"x: &a\n  <<: *a\nservices:\n  k:\n    environment:\n      <<: [*a, 3]\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: \"a: [\"\n      parameters: [1, {name: env.x}]\n",
		"apiVersion: helm.cattle.io/v1\nkind: HelmChart\nspec:\n  valuesContent: 5\n  set: [1]\n",
		"apiVersion: v1\nkind: List\nitems: [1, {kind: List, apiVersion: v1, items: 3}]\n",
		"apiVersion: v1\nkind: Secret\ndata:\n  KONG_X: '%%%'\n  KONG_Y: [1]\n",
		"kind: Deployment\nspec:\n  template:\n    spec:\n      containers: [1, {env: [{name: KONG_A, valueFrom: {configMapKeyRef: 3}}], envFrom: [{configMapRef: {name: {}}}]}]\n",
		"kong:\n  extraEnvVars: [1, {name: KONG_A}]\nservice: 3\n",
		"FROM\nENV\nENV \\\nENV a=\"\nENV =\n"} {
		for _, name := range []string{"a.yaml", "a.conf", "a.env", "Dockerfile"} {
			set := &Set{}
			assert.NotPanics(t, func() {
				Load(set, name, []byte(in))
				Check(set)
			}, "%s: %q", name, in)
		}
	}
}

func TestAllowDriftTag(t *testing.T) {
	dir := t.TempDir()
	write := func(n, c string) { require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644)) }
	write("kong.conf", "trusted_ips = 10.0.0.0/16\nreal_ip_header = X-Forwarded-For\nreal_ip_recursive = on\n"+
		"plugins = bundled,client-ip-guard\npluginserver_names = client-ip-guard\n"+
		"pluginserver_client_ip_guard_start_cmd = /usr/local/bin/client-ip-guard -kong-prefix /usr/local/kong\n"+
		"pluginserver_client_ip_guard_query_cmd = /usr/local/bin/client-ip-guard -dump\nnginx_http_client_header_timeout = 5s\n")
	write("kong.yml", "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://s\n  routes:\n  - name: r\n    paths: [/r]\n    plugins:\n    - name: client-ip-guard\n      tags: [kongconf-allow-drift]\n      config:\n        trusted_ips: []\n        real_ip_header: X-Forwarded-For\n        real_ip_recursive: true\n")
	assert.Empty(t, Files([]string{dir}).Findings)
	write("kong.yml", "_format_version: \"3.0\"\nplugins:\n- name: client-ip-guard\n  config:\n    trusted_ips: []\n    real_ip_header: X-Forwarded-For\n    real_ip_recursive: true\n")
	rep := Files([]string{dir})
	require.Len(t, rep.Findings, 1)
	assert.Equal(t, "KC201", rep.Findings[0].Rule)
}

func TestHelmCustomEnvAndIngressChart(t *testing.T) {
	set := &Set{}
	f := Load(set, "values.yaml", []byte("gateway:\n  customEnv:\n    KONG_TRUSTED_IPS: 0.0.0.0/0,::/0\n    KONG_REAL_IP_HEADER: X-Forwarded-For\n    OTHER: x\n  proxy:\n    type: ClusterIP\n"))
	require.Empty(t, f)
	require.Len(t, set.Nodes, 1)
	tr, tv := set.Nodes[0].TrustedIPs()
	assert.Equal(t, []string{"0.0.0.0/0", "::/0"}, tr)
	assert.Equal(t, "gateway.customEnv.KONG_TRUSTED_IPS", tv.Orig)
	assert.Equal(t, 3, tv.Line)
	assert.Equal(t, "/kong_prefix", set.Nodes[0].Prefix())
	require.Len(t, set.Services, 1)
	assert.Equal(t, "ClusterIP", set.Services[0].Type)
	got := map[string]bool{}
	for _, x := range Check(set) {
		got[x.Rule] = true
	}
	assert.True(t, got["KC003"])
}

// TestParseListenersOff: Kong reads "off" only as the exact first entry and
// then ignores the rest (nodeconf.ListenEntries); "OFF" is an address.
func TestParseListenersOff(t *testing.T) {
	assert.Empty(t, ParseListeners("off, 0.0.0.0:8000 proxy_protocol"))
	assert.Empty(t, ParseListeners(" off "))
	ls := ParseListeners("OFF, 0.0.0.0:8000 proxy_protocol ssl bogus")
	require.Len(t, ls, 2)
	assert.Equal(t, Listener{Raw: "OFF"}, ls[0])
	assert.Equal(t, Listener{Raw: "0.0.0.0:8000 proxy_protocol ssl bogus", SSL: true, ProxyProtocol: true}, ls[1], "flags kept from an entry Kong refuses")
}

// TestRealIPAlias: an explicit nginx_proxy_real_ip_* wins over the alias,
// as in Kong's loader (nodeconf.AliasKey); NONE leaves the alias in charge.
func TestRealIPAlias(t *testing.T) {
	n, f := ParseKongConf(strings.NewReader("real_ip_header = X-Real-IP\nnginx_proxy_real_ip_header = X-Forwarded-For\nreal_ip_recursive = off\nnginx_proxy_real_ip_recursive = NONE\n"), "kong.conf")
	require.Empty(t, f)
	h, hv := n.RealIPHeader()
	assert.Equal(t, "X-Forwarded-For", h)
	assert.Equal(t, 2, hv.Line)
	r, rv := n.RealIPRecursive()
	assert.Equal(t, "off", r)
	assert.Equal(t, 3, rv.Line)
}
