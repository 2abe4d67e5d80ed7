package lint

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// lintBundle lints files (name → content) as one deployment.
func lintBundle(files map[string]string) []Finding {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	set := &Set{}
	var out []Finding
	for _, n := range names {
		out = append(out, Load(set, n, []byte(files[n]))...)
	}
	return append(out, Check(set)...)
}

// fastBundle is what kongconf generate --fast-path writes for header.
func fastBundle(t *testing.T, header string) map[string]string {
	t.Helper()
	r, err := topology.Resolve(topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/16"},
		RealIPHeader: header, Image: "registry.example.com/kong-cig:3.9", FastPath: true})
	require.NoError(t, err)
	b, err := generate.Bundle(r, "kong.conf", "fastpath-include", "kong.yml")
	require.NoError(t, err)
	return b
}

func helmBundle(t *testing.T) map[string]string {
	t.Helper()
	r, err := topology.Resolve(topology.Topology{Provider: "generic", Method: "headers", TrustedCIDRs: []string{"10.0.0.0/16"},
		Image: "registry.example.com/kong-cig:3.9", FastPath: true})
	require.NoError(t, err)
	b, err := generate.Bundle(r, "helm", "kongclusterplugin")
	require.NoError(t, err)
	return b
}

func edit(files map[string]string, name, old, new string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	out[name] = strings.Replace(out[name], old, new, 1)
	return out
}

// TestFastPathRules: each fast path rule, on generated files (negative)
// and on the same files with one thing changed (positive). The includes
// are fastpath.Include's own text, never a copy.
func TestFastPathRules(t *testing.T) {
	xff := fastBundle(t, "X-Forwarded-For")
	cf := fastBundle(t, "CF-Connecting-IP")
	cfInclude, err := fastpath.Include("CF-Connecting-IP")
	require.NoError(t, err)
	helm := helmBundle(t)
	inc := generate.IncludeFile
	for _, tc := range []struct {
		name  string
		files map[string]string
		rule  string // "" for none of the fast path's rules
		sev   Severity
		msg   string
	}{
		{"generated", xff, "", "", ""},
		{"generated, custom header", cf, "", "", ""},
		{"generated Helm values", helm, "", "", ""},
		{"fast_path off needs nothing", edit(edit(xff, "kong.yml", "fast_path: true", "fast_path: false"), "kong.conf", "\nnginx_http_include =", "\n# nginx_http_include ="), "", "", ""},

		{"no include", edit(xff, "kong.conf", "\nnginx_http_include =", "\n# nginx_http_include ="), ruleFastPathNoInclude, Warning, "sets no nginx_http_include"},
		{"include defines nothing", edit(xff, inc, "$client_ip_guard_facts {", "$other {"), ruleFastPathNoInclude, Warning, "defines no $client_ip_guard_facts"},
		{"Helm: not mounted", edit(helm, "values.yaml", "mountPath: /etc/kong/client-ip-guard", "mountPath: /etc/kong"), ruleFastPathNoInclude, Warning, "no extraConfigMaps entry mounts ConfigMap kong-client-ip-guard-fastpath at /etc/kong/client-ip-guard"},

		{"include for another header", edit(xff, inc, xff[inc], cfInclude), ruleFastPathStale, Warning, "generated for real_ip_header cf-connecting-ip, but this instance reads X-Real-IP, X-Forwarded-For or proxy_protocol"},
		{"include without the custom field", edit(cf, inc, cf[inc], xff[inc]), ruleFastPathStale, Warning, "but this instance reads CF-Connecting-IP"},
		{"edited include", edit(xff, inc, "$http_x_forwarded_for", "$http_x_real_ip"), ruleFastPathStale, Error, "edited by hand"},
		{"Helm: edited include", edit(helm, "values.yaml", "$http_x_forwarded_for", "$http_x_client"), ruleFastPathStale, Error, "ConfigMap kong-client-ip-guard-fastpath key client-ip-guard-fastpath.conf"},

		{"underscores left on", edit(xff, "kong.conf", "\nnginx_proxy_underscores_in_headers = off", "\n# nginx_proxy_underscores_in_headers = off"), ruleFastPathUnderscores, Warning, "keeps Kong's underscores_in_headers on"},
		{"underscores set on", edit(xff, "kong.conf", "\nnginx_proxy_underscores_in_headers = off", "\nnginx_proxy_underscores_in_headers = on"), ruleFastPathUnderscores, Warning, "blind to header names spelled with '_'"},
		{"Helm: underscores left on", edit(helm, "values.yaml", `nginx_proxy_underscores_in_headers: "off"`, ""), ruleFastPathUnderscores, Warning, "blind to header names"},

		{"http-level underscores stop nginx", edit(xff, "kong.conf", "\nnginx_proxy_underscores_in_headers = off", "\nnginx_proxy_underscores_in_headers = off\nnginx_http_underscores_in_headers = off"), ruleHTTPUnderscores, Error, "duplicates the underscores_in_headers"},
	} {
		var got []Finding
		for _, f := range lintBundle(tc.files) {
			switch f.Rule {
			case ruleFastPathNoInclude, ruleFastPathStale, ruleFastPathUnderscores, ruleHTTPUnderscores:
				got = append(got, f)
			}
			if f.Severity == Error && f.Rule != tc.rule {
				t.Errorf("%s: unexpected error %s: %s", tc.name, f.Rule, f.Message)
			}
		}
		if tc.rule == "" {
			assert.Empty(t, got, tc.name)
			continue
		}
		if assert.Len(t, got, 1, "%s: %v", tc.name, got) {
			assert.Equal(t, tc.rule, got[0].Rule, tc.name)
			assert.Equal(t, tc.sev, got[0].Severity, tc.name)
			assert.Contains(t, got[0].Message, tc.msg, tc.name)
		}
	}
}
