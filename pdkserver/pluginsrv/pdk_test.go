package pluginsrv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// runProbe runs pdkprobe's access phase with the given script on a fresh
// entity and returns the per-op results.
func runProbe(t *testing.T, s *Server, phase, ops string, req *kongpdk.Request) ([]string, error) {
	t.Helper()
	key := phase + "_ops"
	e := &Entity{ID: fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()), RouteID: "r1", Config: map[string]any{key: ops}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.HandleEvent(ctx, e, phase, req)
	return probeResults(t, req), err
}

func probeResults(t *testing.T, req *kongpdk.Request) []string {
	raw, ok := req.Shared["results"].(string)
	if !ok {
		return nil
	}
	var out []string
	require.NoError(t, json.Unmarshal([]byte(raw), &out))
	return out
}

func trustAll(netip.Addr) bool { return true }

func TestPDKAnswers(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	cases := []struct {
		name string
		ops  string
		mod  func(*kongpdk.Request)
		want []string
	}{
		{"client address", "ip;fip;port;fport", nil, []string{"10.0.0.7", "10.0.0.7", "5555", "5555"}},
		{"realip rewrote the address without a port", "ip;fip;port;fport", func(r *kongpdk.Request) {
			r.Vars.RemoteAddr, r.Vars.RemotePort = "1.2.3.4", ""
		}, []string{"10.0.0.7", "1.2.3.4", "5555", "0"}},
		{"header: first value, case and _ insensitive, absent is empty",
			"header:x-test;header:X_TEST;header:missing", nil, []string{"one", "one", ""}},
		{"headers: lower-case keys, repeated as list, max", "headers:-1;headers:2", nil, []string{
			`{"host":["example.com"],"user-agent":["t"],"x-test":["one","two"]}`,
			`{"host":["example.com"],"x-test":["one"]}`,
		}},
		{"request line", "scheme;host;rport;method;path;pwq;rawq;httpv", nil, []string{
			"http", "example.com", "8000", "GET", "/p", "/p?a=1&a=2&flag&e=", "a=1&a=2&flag&e=", "1.1",
		}},
		{"query", "qarg:a;qarg:e;qarg:none;query:-1", nil, []string{"1", "", "", `{"a":["1","2"],"e":[""]}`}},
		{"forwarded_* ignore X-Forwarded-* from an untrusted peer", "fscheme;fhost;rfport", func(r *kongpdk.Request) {
			r.Headers = append(r.Headers, kongpdk.Header{Name: "X-Forwarded-Proto", Value: "HTTPS"}, kongpdk.Header{Name: "X-Forwarded-Host", Value: "u@Other.example:9443"})
		}, []string{"http", "example.com", "8000"}},
		{"forwarded_* honour X-Forwarded-* from a trusted peer", "fscheme;fhost;rfport", func(r *kongpdk.Request) {
			r.Trusted = trustAll
			r.Headers = append(r.Headers, kongpdk.Header{Name: "X-Forwarded-Proto", Value: "HTTPS"}, kongpdk.Header{Name: "X-Forwarded-Host", Value: "u@Other.example:9443"})
		}, []string{"https", "other.example", "9443"}},
		{"ip.is_trusted", "trusted:10.0.0.7;trusted:not-an-ip", func(r *kongpdk.Request) {
			r.Trusted = func(a netip.Addr) bool { return a == netip.MustParseAddr("10.0.0.7") }
		}, []string{"true", "false"}},
		{"nginx vars", "var:remote_addr;var:realip_remote_port;var:http_x_test;var:proxy_protocol_addr;var:proxy_protocol_tlv_alpn;var:nope;var:request_id", func(r *kongpdk.Request) {
			r.Vars.ProxyProtocolAddr, r.Vars.ProxyProtocolPort = "192.0.2.1", "4000"
			r.Vars.ProxyProtocolTLVs = map[string]string{"alpn": "h2"}
			r.NginxVars = map[string]string{"request_id": "abc"}
		}, []string{"10.0.0.7", "5555", "one, two", "192.0.2.1", "h2", "", "abc"}},
		{"ngx.ctx round trip", "setctx:k=v;getctx:k;getctx:none;starttime;subsystem", nil, []string{"ok", "v", "<nil>", "1.7000000005e+09", "http"}},
		{"ctx.shared round trip", "sset:k=v;sget:k;sget:none", nil, []string{"ok", "v", "<nil>"}},
		{"router", "route;service", func(r *kongpdk.Request) {
			r.RouteID, r.RouteName, r.ServiceID, r.ServiceName = "r1", "rn", "s1", "sn"
		}, []string{"r1/rn", "s1/sn"}},
		{"no route", "route", nil, []string{"/"}},
		{"body, captures, consumer, protocol", "body;captures;consumer;protocol;memstats", func(r *kongpdk.Request) { r.Body = []byte("payload") },
			[]string{"payload", "0 0", "", "http", "ok"}},
		{"tls version only over TLS", "tls", func(r *kongpdk.Request) {
			r.Scheme = "https"
			r.NginxVars = map[string]string{"ssl_protocol": "TLSv1.3"}
		}, []string{"TLSv1.3"}},
		{"set_upstream, set_target", "upstream:u1;target:10.1.1.1=8080", nil, []string{"ok", "ok"}},
		{"path normalised, request_uri raw", "path;pwq;var:uri", func(r *kongpdk.Request) { r.Path, r.RawQuery = "/a/./b/%7e%2F//c", "" },
			[]string{"/a/b/~%2F/c", "/a/./b/%7e%2F//c", "/a/b/~/c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := newReq()
			if tc.mod != nil {
				tc.mod(req)
			}
			got, err := runProbe(t, s, "access", tc.ops, req)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestPDKOutputs checks what calls leave on the Request for the front
// door: response headers, logs, serialize values, calls in order.
func TestPDKOutputs(t *testing.T) {
	s, logs := startPlugin(t, "pdkprobe")
	req := newReq()
	_, err := runProbe(t, s, "access", "rset:X-A=1;radd:x-a=2;rset:X-B=3;rclear:x-b;log:notice=hello;log:alert=a;ssv:guard.v=c;sreqset:host=up.example;rsetheaders:x-c=a,b", req)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"X-A": {"1", "2"}, "X-C": {"a", "b"}}, req.ResponseHeaders)
	assert.Equal(t, []kongpdk.LogLine{{Level: "notice", Message: "hello"}, {Level: "alert", Message: "a1true"}}, req.Logs)
	assert.Equal(t, map[string]any{"guard.v": "c"}, req.SerializeValue)
	assert.Equal(t, "up.example", req.UpstreamHost)
	assert.True(t, logs.has(`[notice] [kong] pb_rpc.lua:233 hello, client: 10.0.0.7, server: kong, request: "GET /p?a=1&a=2&flag&e= HTTP/1.1", host: "example.com"`), logs.all())
	assert.Equal(t, []string{
		"kong.request.get_header", // X-Ops
		"kong.response.set_header", "kong.response.add_header", "kong.response.set_header", "kong.response.clear_header",
		"kong.log.notice", "kong.log.alert", "kong.log.set_serialize_value", "kong.service.request.set_header",
		"kong.response.set_headers",
		"kong.ctx.shared.set", // results
	}, req.Calls["access"])
	st := s.Stats()
	assert.EqualValues(t, 1, st.Events)
	assert.EqualValues(t, 11, st.Calls)
	assert.EqualValues(t, 1, st.InstanceStarts)
}

// TestHeaderMutationVisible: kong.service.request.* rewrites the incoming
// request, so later reads in the same and later events see it.
func TestHeaderMutationVisible(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	req := newReq()
	got, err := runProbe(t, s, "access",
		"sreqset:X-Test=new;header:x-test;sreqadd:X-Test=more;headers:-1;sreqclear:X-TEST;header:x-test;var:http_x_test;sreqsetheaders:X-M=a,b;headers:-1", req)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"ok", "new", "ok",
		`{"host":["example.com"],"user-agent":["t"],"x-test":["new","more"]}`,
		"ok", "", "", "ok",
		`{"host":["example.com"],"user-agent":["t"],"x-m":["a","b"]}`,
	}, got)
	assert.Equal(t, []kongpdk.Header{{Name: "Host", Value: "example.com"}, {Name: "User-Agent", Value: "t"}, {Name: "X-M", Value: "a"}, {Name: "X-M", Value: "b"}}, req.Headers)
}

// TestPhaseChecks: calls Kong's phase checker refuses fail the event
// (a Lua error: Kong answers 500 and the plugin sees its socket close).
func TestPhaseChecks(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	cases := []struct{ phase, op, want string }{
		{"access", "serialize", "kong.log.serialize: function cannot be called in access phase"},
		{"access", "rstatus", "function cannot be called in access phase"},
		{"access", "rsource", "function cannot be called in access phase"},
		{"rewrite", "route", "kong.router.get_route: function cannot be called in rewrite phase"},
		{"access", "raw:kong.service.response.get_status", "not emulated"},
		{"access", "sreqpath:relative", "path must start with /"},
		{"access", "sreqscheme:ftp", "invalid scheme: ftp"},
		{"access", "sreqmethod:BREW", "invalid method: BREW"},
	}
	for _, tc := range cases {
		t.Run(tc.phase+" "+tc.op, func(t *testing.T) {
			req := newReq()
			_, err := runProbe(t, s, tc.phase, tc.op, req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Nil(t, req.Shared["results"], "the plugin must not get further")
		})
	}
}

// TestServiceRequestEdits: set_raw_query/set_query/set_method/set_raw_body
// rewrite the request (later reads see them); set_scheme/set_path only
// the upstream variables.
func TestServiceRequestEdits(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	req := newReq()
	got, err := runProbe(t, s, "access", "sreqrawq:z=1;rawq;sreqquery:a=1,2;rawq;sreqmethod:PATCH;method;sreqbody:new body;body;sreqscheme:https;sreqpath:/new path/x;path", req)
	require.NoError(t, err)
	assert.Equal(t, []string{"ok", "z=1", "ok", "a=1&a=2&b=x%20y", "ok", "PATCH", "ok", "new body", "ok", "ok", "/p"}, got)
	assert.Equal(t, "https", req.UpstreamScheme)
	assert.Equal(t, "/new%20path/x", req.UpstreamPath)
	assert.Equal(t, "PATCH", req.Method)
	assert.Equal(t, "new body", string(req.Body))
}

// TestPDKLogLines: a Go plugin's kong.log.* lines come from the root logger
// pb_rpc.lua bound at load (no [plugin] tag; pb_rpc.lua:178-206, 388-391,
// kong/pdk/log.lua:54-55 at 3.9.3), with nginx's level names.
func TestPDKLogLines(t *testing.T) {
	s, logs := startPlugin(t, "pdkprobe")
	req := newReq()
	_, err := runProbe(t, s, "access", "log:err=boom;log:warn=careful", req)
	require.NoError(t, err)
	assert.True(t, logs.has(`[error] [kong] pb_rpc.lua:233 boom, client: 10.0.0.7`), logs.all())
	assert.True(t, logs.has(`[warn] [kong] pb_rpc.lua:233 careful, client: 10.0.0.7`), logs.all())
	assert.False(t, logs.has(`[err]`), logs.all())
	assert.False(t, logs.has(`[pdkprobe]`), logs.all())
}

// TestSerializeValueLists: set_serialize_value values reach Kong's log
// plugins as plain Lua tables (pb_rpc.lua:24-60 at 3.9.3) that cjson
// encodes, so an empty list is {} and a non-empty one stays a list.
func TestSerializeValueLists(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	req := newReq()
	_, err := runProbe(t, s, "access", "ssvlist:guard.reasons=;ssvlist:guard.chain=a,b", req)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"guard.reasons": []any{}, "guard.chain": []any{"a", "b"}}, req.SerializeValue)
	out := kongpdk.SerializeJSON(req, kongpdk.DefaultWorkspaceID)
	assert.Contains(t, out, `"guard":{"chain":["a","b"],"reasons":{}}`)
	assert.NotContains(t, out, `[]`)
}
