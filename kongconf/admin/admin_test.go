package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/kongconf/lint"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// fakeKong answers like a Kong 3.x Admin API for the endpoints doctor and
// apply use.
type fakeKong struct {
	mu        sync.Mutex
	root      string
	plugins   []map[string]any
	rejectMsg string // non-empty: /schemas/plugins/validate answers 400
	calls     []string
	posted    []byte
}

func rootJSON(trusted, header, recursive, database string, pp bool, loaded bool) string {
	avail := `{"ip-restriction":{"version":"3.9.1","priority":990}}`
	if loaded {
		avail = `{"ip-restriction":{"version":"3.9.1","priority":990},"client-ip-guard":{"version":"0.1.0","priority":1000000}}`
	}
	return `{"version":"3.9.1","edition":"community","hostname":"kong-0","node_id":"2f0d6f0e-1111-4a3b-9c1d-0a1b2c3d4e5f",
"tagline":"Welcome to kong","lua_version":"LuaJIT 2.1.0",
"plugins":{"available_on_server":` + avail + `,"enabled_in_cluster":[]},
"configuration":{"database":"` + database + `","trusted_ips":` + trusted + `,"real_ip_header":"` + header + `",
"real_ip_recursive":"` + recursive + `","nginx_proxy_real_ip_header":"` + header + `","plugins":["bundled","client-ip-guard"],
"proxy_listeners":[{"listener":"0.0.0.0:8000` + ppFlag(pp) + ` reuseport backlog=16384","ip":"0.0.0.0","port":8000,"ssl":false,"http2":false,
"proxy_protocol":` + boolStr(pp) + `,"deferred":false,"bind":false,"reuseport":true,"backlog=16384":true}]}}`
}

// withConfig adds configuration keys (JSON members ending in a comma) to a
// rootJSON document.
func withConfig(root, members string) string {
	return strings.Replace(root, `"configuration":{`, `"configuration":{`+members, 1)
}

func ppFlag(pp bool) string {
	if pp {
		return " proxy_protocol"
	}
	return ""
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (f *fakeKong) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		io.WriteString(w, f.root)
	case r.Method == "GET" && r.URL.Path == "/plugins":
		json.NewEncoder(w).Encode(map[string]any{"data": f.plugins, "next": nil})
	case r.Method == "POST" && r.URL.Path == "/schemas/plugins/validate":
		if f.rejectMsg != "" {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]any{"code": 2, "name": "schema violation", "message": f.rejectMsg})
			return
		}
		io.WriteString(w, `{"message":"schema validation successful"}`)
	case r.Method == "POST" && r.URL.Path == "/config":
		f.posted = body
		w.WriteHeader(201)
		io.WriteString(w, `{}`)
	case r.Method == "POST" && r.URL.Path == "/plugins":
		var p map[string]any
		json.Unmarshal(body, &p)
		p["id"] = "11111111-2222-3333-4444-555555555555"
		f.posted = body
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(p)
	case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, "/plugins/"):
		var p map[string]any
		json.Unmarshal(body, &p)
		p["id"] = strings.TrimPrefix(r.URL.Path, "/plugins/")
		f.posted = body
		json.NewEncoder(w).Encode(p)
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"message":"Not found"}`)
	}
}

func start(t *testing.T, f *fakeKong) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func rules(rep *lint.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Rule)
	}
	return out
}

func TestReadNodeShapes(t *testing.T) {
	for _, tc := range []struct {
		trusted string
		want    []string
	}{
		{`{}`, nil},
		{`[]`, nil},
		{`["10.0.0.0/16","::1"]`, []string{"10.0.0.0/16", "::1"}},
	} {
		f := &fakeKong{root: rootJSON(tc.trusted, "X-Real-IP", "off", "off", false, true)}
		c, err := NewClient(start(t, f), nil)
		require.NoError(t, err)
		n, err := ReadNode(context.Background(), c)
		require.NoError(t, err, tc.trusted)
		assert.Equal(t, tc.want, n.TrustedIPs)
		assert.Equal(t, "X-Real-IP", n.RealIPHeader)
		assert.Equal(t, "off", n.RealIPRecursive)
		assert.True(t, n.Available)
		assert.Equal(t, "off", n.Database)
		require.Len(t, n.Listeners, 1)
		assert.False(t, n.Listeners[0].ProxyProtocol)
	}
	f := &fakeKong{root: `{"configuration":{"trusted_ips":42}}`}
	c, _ := NewClient(start(t, f), nil)
	_, err := ReadNode(context.Background(), c)
	assert.ErrorContains(t, err, "trusted_ips")
}

func TestDoctorFindings(t *testing.T) {
	guard := func(cfg map[string]any) map[string]any {
		return map[string]any{"id": "p1", "name": "client-ip-guard", "config": cfg, "enabled": true, "protocols": []string{"http", "https"}}
	}
	for _, tc := range []struct {
		name   string
		f      *fakeKong
		want   []string
		noWant []string
		errors bool
	}{
		{"pp header without listener, plugin missing", &fakeKong{root: rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", false, false)},
			[]string{"KC001", "KC306"}, nil, true},
		{"trust all with XFF", &fakeKong{root: rootJSON(`["0.0.0.0/0","::/0"]`, "X-Forwarded-For", "on", "postgres", false, true)},
			[]string{"KC003"}, []string{"KC306"}, true},
		{"drift between node and plugin", &fakeKong{root: rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true),
			plugins: []map[string]any{guard(map[string]any{"trusted_ips": []string{}, "real_ip_header": "proxy_protocol", "real_ip_recursive": false})}},
			[]string{"KC201"}, []string{"KC001"}, true},
		{"kong rejects config", &fakeKong{root: rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true), rejectMsg: "schema violation (config.mode: expected one of: monitor, enforce)",
			plugins: []map[string]any{guard(map[string]any{"trusted_ips": []string{"10.0.0.0/16"}, "real_ip_header": "proxy_protocol", "mode": "block"})}},
			[]string{"KC305", "KC203"}, nil, true},
		{"fast_path without an include", &fakeKong{root: rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true),
			plugins: []map[string]any{guard(map[string]any{"trusted_ips": []string{"10.0.0.0/16"}, "real_ip_header": "proxy_protocol", "fast_path": true})}},
			[]string{"KC211", "KC213"}, nil, false},
		{"fast_path with the include, underscores off", &fakeKong{root: withConfig(rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true),
			`"nginx_http_include":"/etc/kong/client-ip-guard/client-ip-guard-fastpath.conf","nginx_proxy_underscores_in_headers":"off",`),
			plugins: []map[string]any{guard(map[string]any{"trusted_ips": []string{"10.0.0.0/16"}, "real_ip_header": "proxy_protocol", "fast_path": true})}},
			nil, nil, false},
		{"nginx_http_underscores_in_headers stops nginx", &fakeKong{root: withConfig(rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true),
			`"nginx_http_underscores_in_headers":"off",`),
			plugins: []map[string]any{guard(map[string]any{"trusted_ips": []string{"10.0.0.0/16"}, "real_ip_header": "proxy_protocol"})}},
			[]string{"KC021"}, nil, true},
		{"healthy", &fakeKong{root: rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true),
			plugins: []map[string]any{guard(map[string]any{"trusted_ips": []string{"10.0.0.0/16"}, "real_ip_header": "proxy_protocol", "real_ip_recursive": false})}},
			nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := start(t, tc.f)
			c, err := NewClient(url, nil)
			require.NoError(t, err)
			rep, _, err := Doctor(context.Background(), c, url, nil)
			require.NoError(t, err)
			got := rules(rep)
			for _, w := range tc.want {
				assert.Contains(t, got, w)
			}
			for _, w := range tc.noWant {
				assert.NotContains(t, got, w)
			}
			if tc.want == nil {
				assert.Empty(t, rep.Findings)
			}
			assert.Equal(t, tc.errors, rep.HasErrors())
		})
	}
}

func TestDoctorValidatesProposedConfig(t *testing.T) {
	f := &fakeKong{root: rootJSON(`["10.0.0.0/16"]`, "proxy_protocol", "off", "off", true, true)}
	url := start(t, f)
	c, _ := NewClient(url, nil)
	rep, _, err := Doctor(context.Background(), c, url, map[string]any{"trusted_ips": []string{"10.0.0.0/16"}, "real_ip_header": "proxy_protocol", "real_ip_recursive": false})
	require.NoError(t, err)
	assert.Empty(t, rep.Findings)
	assert.Contains(t, f.calls, "POST /schemas/plugins/validate")
}

func TestDoctorUnreachable(t *testing.T) {
	c, _ := NewClient("http://127.0.0.1:1", nil)
	_, _, err := Doctor(context.Background(), c, "x", nil)
	assert.ErrorContains(t, err, "GET /")
}

func TestApply(t *testing.T) {
	r, err := topology.Resolve(topology.Topology{Provider: "eks-nlb", TrustedCIDRs: []string{"10.0.0.0/16"},
		Services: []topology.Service{{Name: "echo", URL: "http://echo:80", Routes: []topology.Route{{Name: "echo", Paths: []string{"/echo"}}}}}})
	require.NoError(t, err)

	t.Run("db-less needs --replace", func(t *testing.T) {
		f := &fakeKong{root: rootJSON(`{}`, "X-Real-IP", "off", "off", false, true)}
		c, _ := NewClient(start(t, f), nil)
		_, err := Apply(context.Background(), c, r, false)
		assert.ErrorContains(t, err, "--replace")
		res, err := Apply(context.Background(), c, r, true)
		require.NoError(t, err)
		assert.Equal(t, "config", res.Action)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(f.posted, &doc))
		assert.Equal(t, "3.0", doc["_format_version"])
		assert.Len(t, doc["services"], 1)
	})
	t.Run("db creates", func(t *testing.T) {
		f := &fakeKong{root: rootJSON(`{}`, "X-Real-IP", "off", "postgres", false, true)}
		c, _ := NewClient(start(t, f), nil)
		res, err := Apply(context.Background(), c, r, false)
		require.NoError(t, err)
		assert.Equal(t, "created", res.Action)
		assert.NotEmpty(t, res.ID)
		var p map[string]any
		require.NoError(t, json.Unmarshal(f.posted, &p))
		assert.Equal(t, "client-ip-guard", p["name"])
		assert.Equal(t, "proxy_protocol", p["config"].(map[string]any)["real_ip_header"])
	})
	t.Run("db updates the global instance", func(t *testing.T) {
		f := &fakeKong{root: rootJSON(`{}`, "X-Real-IP", "off", "postgres", false, true),
			plugins: []map[string]any{
				{"id": "route-scoped", "name": "client-ip-guard", "route": map[string]any{"id": "r1"}, "config": map[string]any{}},
				{"id": "global-one", "name": "client-ip-guard", "config": map[string]any{"mode": "enforce"}},
			}}
		c, _ := NewClient(start(t, f), nil)
		res, err := Apply(context.Background(), c, r, false)
		require.NoError(t, err)
		assert.Equal(t, "updated", res.Action)
		assert.Equal(t, "global-one", res.ID)
		assert.Contains(t, f.calls, "PATCH /plugins/global-one")
	})
	t.Run("plugin not loaded", func(t *testing.T) {
		f := &fakeKong{root: rootJSON(`{}`, "X-Real-IP", "off", "postgres", false, false)}
		c, _ := NewClient(start(t, f), nil)
		_, err := Apply(context.Background(), c, r, false)
		assert.ErrorContains(t, err, "not loaded")
	})
}
