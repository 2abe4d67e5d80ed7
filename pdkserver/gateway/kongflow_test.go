package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
)

// editPlugin edits request headers as ngx.req.clear_header/set_header do
// (names equal ignoring case only), in the rewrite or access phase, from
// its config: rewrite_clear, access_clear, access_set ("Name=value").
type editPlugin struct{}

func (editPlugin) Name() string            { return "edit" }
func (editPlugin) Priority() int           { return 900 }
func (editPlugin) Phases() []string        { return []string{"rewrite", "access"} }
func (editPlugin) Schema() json.RawMessage { return nil }

func (editPlugin) HandleEvent(_ context.Context, e *Entity, phase string, req *kongpdk.Request) error {
	req.Calls[phase] = append(req.Calls[phase], "edit:"+e.ID)
	clear := func(name string) {
		kept := req.Headers[:0]
		for _, h := range req.Headers {
			if !kongpdk.SameName(h.Name, name) {
				kept = append(kept, h)
			}
		}
		req.Headers = kept
	}
	if n, ok := e.Config[phase+"_clear"].(string); ok {
		clear(n)
	}
	if kv, ok := e.Config[phase+"_set"].(string); ok {
		k, v, _ := strings.Cut(kv, "=")
		clear(k)
		req.Headers = append(req.Headers, kongpdk.Header{Name: k, Value: v})
	}
	return nil
}

const flowYML = `
_format_version: "3.0"
services:
- name: echo
  url: UPSTREAM/base
  routes:
  - {name: plain, paths: [/plain]}
  - name: aclear
    paths: [/aclear]
    plugins: [{name: edit, config: {access_clear: X-Forwarded-For}}]
  - name: aclear-under
    paths: [/aclear-under]
    plugins: [{name: edit, config: {access_clear: X_Forwarded_For}}]
  - name: aset
    paths: [/aset]
    plugins: [{name: edit, config: {access_set: X-Real-IP=9.9.9.9}}]
  - name: asetxff
    paths: [/asetxff]
    plugins: [{name: edit, config: {access_set: X-Forwarded-For=9.9.9.9}}]
`

// TestGatewayKongUpstreamFlow asserts what Kong 3.9.3 sends upstream: the
// X-Forwarded-* values computed in access.before, before the access
// handlers (kong/init.lua:1199-1203, kong/runloop/handler.lua:1340-1347),
// read from the first line of the get_headers() table where a raw
// x_forwarded_for key wins (kong/tools/http.lua:545-565), sent with
// proxy_set_header (kong/templates/nginx_kong.lua:195, 201), which replaces
// the client's lines of those names but not their '_' spellings.
func TestGatewayKongUpstreamFlow(t *testing.T) {
	rewriteClear := "plugins:\n- name: edit\n  config: {rewrite_clear: X-Forwarded-For}\n"
	tests := []struct {
		name, yml, path string
		lines           []string          // client header lines after Host
		want            map[string]string // upstream header (canonical key) -> joined values
		absent          []string
	}{
		{name: "first line only", path: "/plain", lines: []string{"X-Forwarded-For: 1.1.1.1", "X-Forwarded-For: 2.2.2.2"},
			want: map[string]string{"X-Forwarded-For": "1.1.1.1, 127.0.0.1", "X-Real-Ip": "127.0.0.1"}},
		{name: "raw underscore key wins and is forwarded as sent", path: "/plain", lines: []string{"X-Forwarded-For: 1.1.1.1", "X_Forwarded_For: 6.6.6.6"},
			want: map[string]string{"X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X_forwarded_for": "6.6.6.6"}},
		{name: "no header: remote_addr", path: "/plain",
			want: map[string]string{"X-Forwarded-For": "127.0.0.1"}},
		{name: "access clear_header cannot remove it", path: "/aclear", lines: []string{"X-Forwarded-For: 1.2.3.4"},
			want: map[string]string{"X-Forwarded-For": "1.2.3.4, 127.0.0.1"}},
		{name: "access clear of the underscore spelling: line gone, value kept", path: "/aclear-under", lines: []string{"X_Forwarded_For: 6.6.6.6"},
			want: map[string]string{"X-Forwarded-For": "6.6.6.6, 127.0.0.1"}, absent: []string{"X_forwarded_for"}},
		{name: "access set_header X-Real-IP is overridden", path: "/aset", lines: []string{"X-Real-IP: 5.5.5.5"},
			want: map[string]string{"X-Real-Ip": "127.0.0.1"}},
		{name: "access set_header X-Forwarded-For is overridden", path: "/asetxff",
			want: map[string]string{"X-Forwarded-For": "127.0.0.1"}},
		{name: "client X_Real_IP passes through", path: "/plain", lines: []string{"X_Real_IP: 5.5.5.5"},
			want: map[string]string{"X-Real-Ip": "127.0.0.1", "X_real_ip": "5.5.5.5"}},
		{name: "untrusted X-Forwarded-Prefix is Kong's own", path: "/plain", lines: []string{"X-Forwarded-Prefix: /evil"},
			want: map[string]string{"X-Forwarded-Prefix": "/plain"}},
		{name: "Via appends Kong's", path: "/plain", lines: []string{"Via: 1.0 lb"},
			want: map[string]string{"Via": "1.0 lb, 1.1 kong/" + KongVersion}},
		{name: "global rewrite clear_header runs before access.before", yml: rewriteClear, path: "/plain", lines: []string{"X-Forwarded-For: 1.2.3.4"},
			want: map[string]string{"X-Forwarded-For": "127.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := echo(t)
			f, err := kongyml.Parse([]byte(strings.ReplaceAll(flowYML+tc.yml, "UPSTREAM", up.URL)))
			require.NoError(t, err)
			gw, err := New(Options{
				Node:   Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, TrustedIPs: []string{"127.0.0.2"}, Plugins: []string{"edit"}},
				Config: f, Plugins: []Plugin{editPlugin{}}, Logf: t.Logf, EventTimeout: 5 * time.Second,
			})
			require.NoError(t, err)
			require.NoError(t, gw.Start())
			t.Cleanup(func() { gw.Close() })
			status, body := rawGet(t, gw.Listeners()[0].Addr.String(), tc.path, tc.lines)
			require.Equal(t, 200, status, body)
			var seen seenUpstream
			require.NoError(t, json.Unmarshal([]byte(body), &seen))
			for k, v := range tc.want {
				assert.Equal(t, v, strings.Join(seen.Headers[k], ", "), k)
			}
			for _, k := range tc.absent {
				assert.NotContains(t, seen.Headers, k)
			}
		})
	}
}

// rawGet sends a GET with exactly these header lines and returns the status
// and body.
func rawGet(t *testing.T, addr, path string, lines []string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	head := "GET " + path + " HTTP/1.1\r\nHost: gw\r\n"
	for _, l := range lines {
		head += l + "\r\n"
	}
	_, err = io.WriteString(c, head+"Connection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestGatewayRewriteRunsEveryGlobalEntity: the rewrite phase runs the
// global entity of a plugin even where a route entity of the same plugin
// wins the access phase, and runs before routing, so a request no route
// matches still sees it (kong/init.lua:1155-1169,
// kong/runloop/plugins_iterator.lua:569-573, 604-614 at 3.9.3).
func TestGatewayRewriteRunsEveryGlobalEntity(t *testing.T) {
	up := echo(t)
	yml := `
_format_version: "3.0"
plugins:
- {name: edit, config: {rewrite_clear: X-Forwarded-For}}
services:
- name: echo
  url: ` + up.URL + `
  routes:
  - name: own
    paths: [/own]
    plugins: [{name: edit, config: {access_set: X-Seen=route}}]
`
	f, err := kongyml.Parse([]byte(yml))
	require.NoError(t, err)
	var mu sync.Mutex
	calls := map[string][]string{}
	gw, err := New(Options{
		Node:   Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, Plugins: []string{"edit"}},
		Config: f, Plugins: []Plugin{editPlugin{}}, Logf: t.Logf, EventTimeout: 5 * time.Second,
		Observe: func(x *Exchange) {
			mu.Lock()
			defer mu.Unlock()
			calls[x.Request.Path] = append(x.Request.Calls["rewrite"], x.Request.Calls["access"]...)
		},
	})
	require.NoError(t, err)
	require.NoError(t, gw.Start())
	t.Cleanup(func() { gw.Close() })
	addr := gw.Listeners()[0].Addr.String()

	status, body := rawGet(t, addr, "/own", []string{"X-Forwarded-For: 1.2.3.4"})
	require.Equal(t, 200, status, body)
	var seen seenUpstream
	require.NoError(t, json.Unmarshal([]byte(body), &seen))
	assert.Equal(t, "127.0.0.1", seen.Headers.Get("X-Forwarded-For"), "the global entity's rewrite cleared it before access.before")
	assert.Equal(t, "route", seen.Headers.Get("X-Seen"), "the route entity ran in access")

	status, _ = rawGet(t, addr, "/nowhere", nil)
	assert.Equal(t, 404, status)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(calls["/own"]) == 2 && len(calls["/nowhere"]) == 1
	}, 3*time.Second, 10*time.Millisecond)
}
