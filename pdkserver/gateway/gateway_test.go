package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
)

// fakePlugin stands in for a plugin server: it reads what a plugin would
// read and acts on its config.
type fakePlugin struct {
	name     string
	priority int
	mu       sync.Mutex
	seen     []string // entity names per access event, in order
}

func (f *fakePlugin) Name() string            { return f.name }
func (f *fakePlugin) Priority() int           { return f.priority }
func (f *fakePlugin) Phases() []string        { return []string{"access", "log"} }
func (f *fakePlugin) Schema() json.RawMessage { return nil }

func (f *fakePlugin) HandleEvent(ctx context.Context, e *Entity, phase string, req *kongpdk.Request) error {
	req.Calls[phase] = append(req.Calls[phase], f.name+":"+e.ID)
	if phase != "access" {
		return nil
	}
	f.mu.Lock()
	f.seen = append(f.seen, fmt.Sprint(e.Config["tag"]))
	f.mu.Unlock()
	if e.Config["fail"] == true {
		return errors.New("plugin server connection closed")
	}
	if s, ok := e.Config["exit"].(float64); ok {
		req.Exit = &kongpdk.Exit{Status: int(s), Body: []byte("no"), Headers: map[string][]string{"x-why": {"test"}}}
	}
	if h, ok := e.Config["set_header"].(string); ok {
		req.Headers = append(req.Headers, kongpdk.Header{Name: h, Value: req.Vars.RemoteAddr})
	}
	if e.Config["rewrite"] == true { // kong.service.request.set_method/set_path/set_raw_query/set_raw_body
		req.Method, req.UpstreamPath, req.RawQuery, req.Body = "PUT", "/other", "a=1", []byte("new body")
	}
	if e.Config["clear_xff"] == true {
		var kept []kongpdk.Header
		for _, h := range req.Headers {
			if !strings.EqualFold(h.Name, "X-Forwarded-For") {
				kept = append(kept, h)
			}
		}
		req.Headers = kept
	}
	return nil
}

type seenUpstream struct {
	Method  string
	Host    string
	Path    string
	Body    string
	Headers http.Header
}

func echo(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(seenUpstream{Method: r.Method, Host: r.Host, Path: r.URL.RequestURI(), Body: string(b), Headers: r.Header})
	}))
	t.Cleanup(s.Close)
	return s
}

type harness struct {
	gw    *Gateway
	fake  *fakePlugin
	mu    sync.Mutex
	byID  map[string]*Exchange
	ready chan string
}

func start(t *testing.T, node Node, yml string) *harness {
	t.Helper()
	up := echo(t)
	f, err := kongyml.Parse([]byte(strings.ReplaceAll(yml, "UPSTREAM", up.URL)))
	require.NoError(t, err)
	h := &harness{fake: &fakePlugin{name: "fake", priority: 1000}, byID: map[string]*Exchange{}, ready: make(chan string, 100)}
	if node.Plugins == nil {
		node.Plugins = []string{"bundled", "fake"}
	}
	gw, err := New(Options{
		Node: node, Config: f, Plugins: []Plugin{h.fake},
		Logf:         t.Logf,
		EventTimeout: 5 * time.Second, ProxyHeaderTimeout: time.Second,
		Observe: func(x *Exchange) {
			h.mu.Lock()
			h.byID[x.ID] = x
			h.mu.Unlock()
			h.ready <- x.ID
		},
	})
	require.NoError(t, err)
	require.NoError(t, gw.Start())
	t.Cleanup(func() { gw.Close() })
	h.gw = gw
	return h
}

func (h *harness) addr(t *testing.T, pred func(Listener) bool) string {
	for _, b := range h.gw.Listeners() {
		if pred(b.Listener) {
			return b.Addr.String()
		}
	}
	t.Fatal("no such listener")
	return ""
}

func (h *harness) exchange(t *testing.T, id string) *Exchange {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		h.mu.Lock()
		x := h.byID[id]
		h.mu.Unlock()
		if x != nil {
			return x
		}
		select {
		case <-h.ready:
		case <-deadline:
			t.Fatalf("no exchange %q", id)
		}
	}
}

// send writes one request from src over a fresh connection, after an
// optional PROXY header, and reads the response.
func send(t *testing.T, src, addr string, pp *proxyproto.Header, tlsConf *tls.Config, path string, hdr map[string]string) (*http.Response, []byte, error) {
	t.Helper()
	d := loopback.Dialer(net.ParseIP(src), 2*time.Second)
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if pp != nil {
		_, err := pp.WriteTo(c)
		require.NoError(t, err)
	}
	conn := c
	if tlsConf != nil {
		tc := tls.Client(c, tlsConf)
		if err := tc.Handshake(); err != nil {
			return nil, nil, err
		}
		conn = tc
	}
	req, _ := http.NewRequest("GET", "http://gw"+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := req.Write(conn); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

const baseYML = `
_format_version: "3.0"
plugins:
- name: fake
  config: {tag: global}
services:
- name: echo
  url: UPSTREAM/base
  routes:
  - name: echo
    paths: [/echo]
  - name: strict
    paths: [/echo/strict]
    plugins:
    - name: fake
      config: {tag: route, exit: 403}
  - name: rewritten
    paths: [/rewritten]
    plugins:
    - name: fake
      config: {tag: route, rewrite: true}
  - name: broken
    paths: [/broken]
    plugins:
    - name: fake
      config: {tag: route, fail: true}
  - name: rewrite
    paths: [/hdr]
    plugins:
    - name: fake
      config: {tag: route, set_header: X-Client-IP, clear_xff: true}
  plugins:
  - name: fake
    config: {tag: service}
`

func TestGatewayAddressesAndUpstreamHeaders(t *testing.T) {
	h := start(t, Node{
		Listeners: []Listener{
			{Addr: "127.0.0.1:0"},
			{Addr: "127.0.0.1:0", ProxyProtocol: true},
		},
		TrustedIPs: []string{"127.0.0.2"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true,
	}, baseYML)
	plain := h.addr(t, func(l Listener) bool { return !l.ProxyProtocol })
	pp := h.addr(t, func(l Listener) bool { return l.ProxyProtocol })
	v1 := &proxyproto.Header{Version: 1, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
		SourceAddr: &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 41000}, DestinationAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 443}}

	tests := []struct {
		name, src, addr string
		pp              *proxyproto.Header
		hdr             map[string]string
		remote, port    string
		ppAddr          string
		upXFF, upProto  string
		upRealIP        string
	}{
		{name: "direct", src: "127.0.0.1", addr: plain, remote: "127.0.0.1", upXFF: "127.0.0.1", upProto: "http", upRealIP: "127.0.0.1"},
		{name: "trusted LB with XFF", src: "127.0.0.2", addr: plain, hdr: map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7:5555", "X-Forwarded-Proto": "https"},
			remote: "203.0.113.7", port: "5555", upXFF: "198.51.100.1, 203.0.113.7:5555, 127.0.0.2", upProto: "https", upRealIP: "203.0.113.7"},
		{name: "untrusted spoof", src: "127.0.0.1", addr: plain, hdr: map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"},
			remote: "127.0.0.1", upXFF: "1.2.3.4, 127.0.0.1", upProto: "http", upRealIP: "127.0.0.1"},
		{name: "PROXY v1 with XFF header kind", src: "127.0.0.2", addr: pp, pp: v1,
			remote: "127.0.0.2", ppAddr: "198.51.100.9", upXFF: "127.0.0.2", upProto: "http", upRealIP: "127.0.0.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := send(t, tc.src, tc.addr, tc.pp, nil, "/echo/x?q=1", tc.hdr)
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode, string(body))
			x := h.exchange(t, resp.Header.Get("X-Kong-Request-Id"))
			assert.Equal(t, tc.remote, x.Request.Vars.RemoteAddr)
			if tc.remote != tc.src {
				assert.Equal(t, tc.port, x.Request.Vars.RemotePort)
			} else {
				assert.Equal(t, x.Request.Vars.RealIPRemotePort, x.Request.Vars.RemotePort)
			}
			assert.Equal(t, tc.src, x.Request.Vars.RealIPRemoteAddr)
			assert.Equal(t, tc.ppAddr, x.Request.Vars.ProxyProtocolAddr)
			var seen seenUpstream
			require.NoError(t, json.Unmarshal(body, &seen))
			assert.Equal(t, "/base/x?q=1", seen.Path)
			assert.Equal(t, tc.upXFF, seen.Headers.Get("X-Forwarded-For"))
			assert.Equal(t, tc.upRealIP, seen.Headers.Get("X-Real-Ip"))
			assert.Equal(t, tc.upProto, seen.Headers.Get("X-Forwarded-Proto"))
			assert.Equal(t, "/echo", seen.Headers.Get("X-Forwarded-Prefix"))
			assert.Equal(t, x.ID, seen.Headers.Get("X-Kong-Request-Id"))
			// route > service > global: only the service-level entity ran.
			assert.Equal(t, []string{"fake:" + pluginID(t, h, "service echo")}, x.Request.Calls["access"])
			assert.Len(t, x.Request.Calls["log"], 1)
		})
	}
}

// pluginID finds the id of the fake plugin entity at a scope.
func pluginID(t *testing.T, h *harness, scope string) string {
	t.Helper()
	for _, p := range h.gw.conf.Load().file.Plugins {
		if p.Scope() == scope {
			return p.ID
		}
	}
	t.Fatalf("no plugin at %s", scope)
	return ""
}

func TestGatewayPhasesAndErrors(t *testing.T) {
	h := start(t, Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, TrustedIPs: []string{"127.0.0.2"}}, baseYML)
	addr := h.addr(t, func(Listener) bool { return true })

	resp, body, err := send(t, "127.0.0.1", addr, nil, nil, "/echo/strict", nil)
	require.NoError(t, err)
	assert.Equal(t, 403, resp.StatusCode)
	assert.Equal(t, "no", string(body))
	assert.Equal(t, "2", resp.Header.Get("Content-Length"))
	assert.Equal(t, "test", resp.Header.Get("X-Why"))
	assert.Empty(t, resp.Header.Get("Content-Type"), "no sniffed content type on a raw exit body")
	x := h.exchange(t, resp.Header.Get("X-Kong-Request-Id"))
	assert.Equal(t, "exit", x.Source)
	assert.Nil(t, x.Upstream)
	assert.Equal(t, []string{"fake:" + pluginID(t, h, "route strict")}, x.Request.Calls["access"], "the route-level entity wins")

	resp, body, err = send(t, "127.0.0.1", addr, nil, nil, "/broken", nil)
	require.NoError(t, err)
	assert.Equal(t, 500, resp.StatusCode)
	assert.JSONEq(t, `{"message":"An unexpected error occurred"}`, string(body))

	resp, body, err = send(t, "127.0.0.1", addr, nil, nil, "/nowhere", nil)
	require.NoError(t, err)
	assert.Equal(t, 404, resp.StatusCode)
	assert.Contains(t, string(body), "no Route matched")

	// A plugin's header changes reach the upstream, but X-Forwarded-For was
	// computed in access.before, before the plugin cleared the line
	// (kong/init.lua:1199-1203, kong/runloop/handler.lua:1340-1347).
	resp, body, err = send(t, "127.0.0.1", addr, nil, nil, "/hdr", map[string]string{"X-Forwarded-For": "9.9.9.9"})
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	var seen seenUpstream
	require.NoError(t, json.Unmarshal(body, &seen))
	assert.Equal(t, "127.0.0.1", seen.Headers.Get("X-Client-Ip"))
	assert.Equal(t, "9.9.9.9, 127.0.0.1", seen.Headers.Get("X-Forwarded-For"), "access-phase clear: Kong still sends the client's value")
	assert.Equal(t, "/base", seen.Path)

	// kong.service.request.* rewrites reach the upstream.
	resp, body, err = send(t, "127.0.0.1", addr, nil, nil, "/rewritten?q=0", nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	seen = seenUpstream{}
	require.NoError(t, json.Unmarshal(body, &seen))
	assert.Equal(t, "PUT", seen.Method)
	assert.Equal(t, "/other?a=1", seen.Path)
	assert.Equal(t, "new body", seen.Body)
}

func TestGatewayProxyProtocolAndTLS(t *testing.T) {
	listeners := []Listener{
		{Addr: "127.0.0.1:0", ProxyProtocol: true},
		{Addr: "127.0.0.1:0", ProxyProtocol: true, SSL: true, HTTP2: true},
	}
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		listeners = append(listeners, Listener{Addr: "[::1]:0"})
	}
	h := start(t, Node{
		Listeners:  listeners,
		TrustedIPs: []string{"127.0.0.2"}, RealIPHeader: "proxy_protocol",
	}, baseYML)
	pp := h.addr(t, func(l Listener) bool { return l.ProxyProtocol && !l.SSL })
	ppTLS := h.addr(t, func(l Listener) bool { return l.SSL })
	v6 := ""
	for _, b := range h.gw.Listeners() {
		if strings.HasPrefix(b.Listener.Addr, "[") {
			v6 = b.Addr.String()
		}
	}
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(h.gw.CertificatePEM()))
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost"}

	v2 := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv6,
		SourceAddr: &net.TCPAddr{IP: net.ParseIP("2001:db8::9"), Port: 5555}, DestinationAddr: &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443}}
	require.NoError(t, v2.SetTLVs([]proxyproto.TLV{{Type: 0xEA, Value: []byte("\x01vpce-1")}, {Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("example.test")}}))
	v1 := &proxyproto.Header{Version: 1, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
		SourceAddr: &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 41000}, DestinationAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 80}}
	local := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}

	tests := []struct {
		name, src, addr string
		pp              *proxyproto.Header
		tls             bool
		remote, port    string
		scheme          string
	}{
		{name: "v1 from LB", src: "127.0.0.2", addr: pp, pp: v1, remote: "198.51.100.9", port: "41000", scheme: "http"},
		{name: "v2 TCP6 from LB", src: "127.0.0.2", addr: pp, pp: v2, remote: "2001:db8::9", port: "5555", scheme: "http"},
		{name: "v1 from untrusted peer", src: "127.0.0.1", addr: pp, pp: v1, remote: "127.0.0.1", scheme: "http"},
		{name: "v2 LOCAL (health check)", src: "127.0.0.2", addr: pp, pp: local, remote: "127.0.0.2", scheme: "http"},
		{name: "v1 then TLS", src: "127.0.0.2", addr: ppTLS, pp: v1, tls: true, remote: "198.51.100.9", port: "41000", scheme: "https"},
		{name: "IPv6 listener, no PROXY flag", src: "::1", addr: v6, remote: "::1", scheme: "http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.addr == "" {
				t.Skip("no IPv6 loopback on this machine")
			}
			var tc2 *tls.Config
			if tc.tls {
				tc2 = tlsConf
			}
			resp, body, err := send(t, tc.src, tc.addr, tc.pp, tc2, "/echo", nil)
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode, string(body))
			x := h.exchange(t, resp.Header.Get("X-Kong-Request-Id"))
			v := x.Request.Vars
			assert.Equal(t, tc.remote, v.RemoteAddr)
			if tc.port != "" {
				assert.Equal(t, tc.port, v.RemotePort)
			}
			assert.Equal(t, tc.src, v.RealIPRemoteAddr)
			assert.Equal(t, tc.scheme, x.Request.Scheme)
			if tc.pp == v2 {
				assert.Equal(t, "\x01vpce-1", v.ProxyProtocolTLVs["0xea"])
				assert.Equal(t, "example.test", v.ProxyProtocolTLVs["authority"])
				assert.Equal(t, "2001:db8::1", v.ProxyProtocolServerAddr)
			}
		})
	}

	t.Run("no PROXY header is a broken header", func(t *testing.T) {
		_, _, err := send(t, "127.0.0.1", pp, nil, nil, "/echo", nil)
		require.Error(t, err, "nginx closes the connection without a response")
	})
	t.Run("silent peer is dropped after the header timeout", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", pp, time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		begin := time.Now()
		_, err = c.Read(make([]byte, 1))
		require.Error(t, err)
		assert.Less(t, time.Since(begin), 4*time.Second)
	})
}

func TestGatewayConfigChecks(t *testing.T) {
	node := Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, Plugins: []string{"fake"}}
	tests := []struct{ name, yml, want string }{
		{"not enabled", `{_format_version: "3.0", plugins: [{name: file-log, config: {path: /tmp/x}}]}`, "not enabled"},
		{"unknown plugin", `{_format_version: "3.0", plugins: [{name: rate-limiting}]}`, "not enabled"},
		{"trusted_ips", "", "trusted_ips"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := node
			f := &kongyml.File{}
			if tc.yml != "" {
				var err error
				f, err = kongyml.Parse([]byte(tc.yml))
				require.NoError(t, err)
			} else {
				n.TrustedIPs = []string{"not-an-ip"}
			}
			_, err := New(Options{Node: n, Config: f, Plugins: []Plugin{&fakePlugin{name: "fake"}}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestGatewayFileLogCarriesSerializeValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file.log")
	yml := `
_format_version: "3.0"
plugins:
- name: file-log
  config: {path: ` + path + `}
services:
- name: echo
  url: UPSTREAM
  routes: [{name: echo, paths: [/echo]}]
`
	h := start(t, Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}}, yml)
	h.gw.opts.Plugins = nil
	addr := h.addr(t, func(Listener) bool { return true })
	resp, _, err := send(t, "127.0.0.1", addr, nil, nil, "/echo", nil)
	require.NoError(t, err)
	x := h.exchange(t, resp.Header.Get("X-Kong-Request-Id"))
	require.Len(t, x.FileLog, 1)
	assert.Equal(t, "127.0.0.1", x.FileLog[0]["client_ip"])
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"client_ip":"127.0.0.1"`)
	assert.Contains(t, string(b), `"paths":["\/echo"]`, "cjson escapes '/'")
}

func TestUpstreamPath(t *testing.T) {
	tests := []struct {
		path, svcPath string
		paths         []string
		strip         bool
		want          string
	}{
		{"/echo", "", []string{"/echo"}, true, "/"},
		{"/echo/x", "", []string{"/echo"}, true, "/x"},
		{"/echoes", "", []string{"/echo"}, true, "/es"},
		{"/echo/x", "/base", []string{"/echo"}, true, "/base/x"},
		{"/echo", "/base", []string{"/echo"}, true, "/base"},
		{"/echo/x", "/base/", []string{"/echo/"}, true, "/base/x"},
		{"/echo/x", "/base", []string{"/echo"}, false, "/base/echo/x"},
		{"/a/b", "", []string{"/a", "/a/b"}, true, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.svcPath, func(t *testing.T) {
			r := &kongyml.Route{Paths: tc.paths, StripPath: tc.strip}
			assert.Equal(t, tc.want, upstreamPath(tc.path, r, &kongyml.Service{Path: tc.svcPath}))
		})
	}
}

func TestHeaderHelpers(t *testing.T) {
	assert.Equal(t, "example.test", hostOnly("Example.Test:8000"))
	assert.Equal(t, "::1", hostOnly("[::1]:8000"))
	assert.Equal(t, "", portText(0))
	assert.Equal(t, "80", portText(80))
}

func TestAdminConfig(t *testing.T) {
	h := start(t, Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}}, baseYML)
	admin := httptest.NewServer(h.gw.AdminHandler())
	defer admin.Close()
	addr := h.addr(t, func(Listener) bool { return true })

	post := func(ct, body string) (int, string) {
		resp, err := http.Post(admin.URL+"/config", ct, strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("application/x-yaml", "_format_version: '1.1'")
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "declarative config is invalid")
	code, _ = post("text/plain", "  ")
	assert.Equal(t, 400, code)

	// A form with a config field, as `curl -F config=@kong.yml` sends it.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("config", "kong.yml")
	require.NoError(t, err)
	_, _ = fw.Write([]byte(`{_format_version: "3.0", services: [{name: s, url: "http://127.0.0.1:1", routes: [{name: r, paths: [/only]}]}]}`))
	require.NoError(t, mw.Close())
	code, body = post(mw.FormDataContentType(), form.String())
	require.Equal(t, 201, code, body)

	resp, _, err := send(t, "127.0.0.1", addr, nil, nil, "/echo", nil)
	require.NoError(t, err)
	assert.Equal(t, 404, resp.StatusCode, "the old routes are gone")

	r, err := http.Get(admin.URL + "/status")
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, 200, r.StatusCode)
}

func TestGatewayPluginOrder(t *testing.T) {
	up := echo(t)
	f, err := kongyml.Parse([]byte(`
_format_version: "3.0"
plugins:
- {name: low}
- {name: high}
- {name: mid, enabled: false}
services:
- name: echo
  url: ` + up.URL + `
  routes: [{name: echo, paths: [/]}]
`))
	require.NoError(t, err)
	plugins := []Plugin{&fakePlugin{name: "low", priority: 10}, &fakePlugin{name: "high", priority: 2000}, &fakePlugin{name: "mid", priority: 500}}
	g, err := New(Options{Node: Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, Plugins: []string{"low", "high", "mid"}}, Config: f, Plugins: plugins})
	require.NoError(t, err)
	defer g.Close()
	done := make(chan *Exchange, 1)
	g.opts.Observe = func(x *Exchange) { done <- x }
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	require.Equal(t, 200, w.Code)
	x := <-done
	require.Len(t, x.Request.Calls["access"], 2, "the disabled plugin does not run")
	assert.True(t, strings.HasPrefix(x.Request.Calls["access"][0], "high:"), "higher priority first: %v", x.Request.Calls["access"])
	assert.True(t, strings.HasPrefix(x.Request.Calls["access"][1], "low:"))
}
