package guard_test

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/client-ip-guard/client-ip-guard/internal/fastinclude"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
)

// kongRequest is one request as Kong holds it: what its PDK calls and
// $client_ip_guard_facts are computed from.
type kongRequest struct {
	peer    string
	headers []realip.Header // in the order sent
	kong    string          // $remote_addr
	proxy   *realip.Proxy
	facts   string // $client_ip_guard_facts ("" when the include is not loaded)
}

// outcome is what one event did, as Kong saw it.
type outcome struct {
	calls   []string
	record  *record.Record
	cleared []string
	set     map[string]string
	exit    int32
	warned  string
}

// standIn plays Kong for one event by answering each call from req, in
// whatever order the plugin makes them.
func standIn(t *testing.T, cfg *guard.Config, req kongRequest) outcome {
	t.Helper()
	a, b := net.Pipe()
	plugin := &wire{Conn: a}
	var out outcome
	var failures errs
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer b.Close()
		for {
			m, err := readFrame(b)
			if err != nil {
				return
			}
			args, err := readFrame(b)
			if err != nil {
				return
			}
			reply, ok := answer(&failures, &out, req, string(m), args)
			if !ok {
				return
			}
			if writeFrame(b, reply) != nil {
				return
			}
		}
	}()
	cfg.Access(pdk.Init(plugin))
	_ = plugin.Close()
	wg.Wait()
	for _, m := range failures.msg {
		t.Error(m)
	}
	out.calls = plugin.Attempted()
	return out
}

// answer is Kong's reply to one call; ok false closes the connection (as
// kong.response.exit does).
func answer(t assert.TestingT, out *outcome, req kongRequest, method string, args []byte) (reply []byte, ok bool) {
	str := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
	}
	switch method {
	case "kong.client.get_ip":
		return str(req.peer), true
	case "kong.client.get_forwarded_ip":
		return str(req.kong), true
	case "kong.request.get_headers":
		// Kong's cap: the first MaxHeaders lines, grouped by name.
		var b []byte
		for i, h := range req.headers {
			if i == evaluate.MaxHeaders {
				break
			}
			b = append(b, rawHeader(strings.ToLower(h.Name), h.Value)...)
		}
		return b, true
	case "kong.nginx.get_var":
		var name kong_plugin_protocol.String
		assert.NoError(t, proto.Unmarshal(args, &name))
		switch name.V {
		case fastpath.Variable:
			return str(req.facts), true
		case "proxy_protocol_addr":
			if req.proxy != nil {
				return str(req.proxy.SrcAddr), true
			}
			return str(""), true
		case "proxy_protocol_port":
			if req.proxy != nil {
				return str(strconv.Itoa(int(req.proxy.SrcPort))), true
			}
			return str(""), true
		}
	case "kong.log.notice":
		if r, ok := decodeNotice(t, args); ok {
			r.Time = ""
			out.record = &r
		}
		return nil, true
	case "kong.log.warn":
		var l structpb.ListValue
		assert.NoError(t, proto.Unmarshal(args, &l))
		for _, v := range l.Values {
			out.warned += v.GetStringValue()
		}
		return nil, true
	case "kong.service.request.clear_header":
		var s kong_plugin_protocol.String
		assert.NoError(t, proto.Unmarshal(args, &s))
		out.cleared = append(out.cleared, s.V)
		return nil, true
	case "kong.service.request.set_header":
		var kv kong_plugin_protocol.KV
		assert.NoError(t, proto.Unmarshal(args, &kv))
		if out.set == nil {
			out.set = map[string]string{}
		}
		out.set[kv.K] = kv.V.GetStringValue()
		return nil, true
	case "kong.response.exit":
		var x kong_plugin_protocol.ExitArgs
		assert.NoError(t, proto.Unmarshal(args, &x))
		out.exit = x.Status
		return nil, false
	}
	t.Errorf("unexpected call %s", method)
	return nil, false
}

// renderFacts is $client_ip_guard_facts for req under nginx v, with the
// include fastpath.Include writes for source.
func renderFacts(t testing.TB, v nginxvar.Version, source string, req kongRequest) string {
	t.Helper()
	inc, err := fastpath.Include(source)
	require.NoError(t, err)
	value, err := fastinclude.Value(inc)
	require.NoError(t, err)
	r := fastinclude.Request{Peer: req.peer, RemoteAddr: req.kong}
	if req.proxy != nil {
		r.ProxyAddr, r.ProxyPort = req.proxy.SrcAddr, strconv.Itoa(int(req.proxy.SrcPort))
	}
	for _, h := range req.headers {
		r.Headers = append(r.Headers, nginxvar.Header{Name: h.Name, Value: h.Value})
	}
	s, err := fastinclude.Render(value, r, v)
	require.NoError(t, err)
	return s
}

// blindTo names the fastpath.Blind class a row belongs to, if any.
func blindTo(row spoofRow, source string) string {
	if len(row.headers) >= evaluate.MaxHeaders {
		return "1000 or more header lines"
	}
	for _, h := range row.headers {
		n := strings.ToLower(h.Name)
		dashed := strings.ReplaceAll(n, "_", "-")
		forwarding := dashed == "x-forwarded-for" || dashed == "x-real-ip" || dashed == "forwarded" || dashed == source
		if forwarding && n != dashed {
			return "an underscore spelling"
		}
		if forwarding && h.Value == "" {
			return "an empty forwarding header"
		}
	}
	return ""
}

// TestSpoofTableThroughFastPath runs every spoofing-table row a real nginx
// could carry through the real handler twice: with the three calls, and
// with fast_path and the variable as nginx 1.25.3 (Kong 3.6-3.9) and
// 1.22.1 (Debian 12) render the generated include. Both must do the same:
// the same record, the same headers cleared and set, the same rejection;
// the fast path may differ only on the rows fastpath.Blind describes, and
// there only by judging less (never a rejection or a record the full path
// would not make).
func TestSpoofTableThroughFastPath(t *testing.T) {
	for _, v := range []nginxvar.Version{nginxvar.V1_25, nginxvar.V1_22} {
		for _, row := range spoofRows {
			if strings.ContainsAny(joinValues(row.headers), "\r\n\x00") {
				continue // not one header line: nginx refuses or splits it
			}
			for _, enforce := range []bool{false, true} {
				name := v.String() + "/" + row.name
				if enforce {
					name += "/enforce"
				}
				t.Run(name, func(t *testing.T) { spoofFast(t, v, row, enforce) })
			}
		}
	}
}

// spoofFast checks one row through both paths.
func spoofFast(t *testing.T, v nginxvar.Version, row spoofRow, enforce bool) {
	c := spoofConfigs[row.conf]
	m := map[string]any{}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	m["log_when"] = "all"
	m["strip_untrusted_forwarding"] = true
	m["upstream_header"] = "X-Client-IP"
	if enforce {
		m["mode"] = "enforce"
	}
	fullCfg, _ := json.Marshal(m)
	m["fast_path"] = true
	fastCfg, _ := json.Marshal(m)

	req := kongRequest{peer: row.peer, headers: row.headers, kong: row.kong, proxy: row.proxy}
	if req.kong == "" {
		req.kong = row.addr
	}
	full := standIn(t, config(t, string(fullCfg)), req)
	req.facts = renderFacts(t, v, c.RealIPHeader, req)
	got := standIn(t, config(t, string(fastCfg)), req)

	served := len(got.calls) > 0 && got.calls[0] == "kong.nginx.get_var" &&
		!contains(got.calls, "kong.client.get_ip")
	blind := blindTo(row, strings.ToLower(c.RealIPHeader))
	if blind != "" && !equalOutcome(full, got) {
		// Judging less, never more: the full path's record is an anomaly
		// the fast path missed, and the fast path rejects nothing.
		require.NotNil(t, full.record)
		require.NotNil(t, got.record)
		assert.Contains(t, []string{"ok", "direct"}, got.record.Verdict, "fast path on a blind row (%s)", blind)
		assert.NotContains(t, []string{"ok", "direct"}, full.record.Verdict)
		assert.Zero(t, got.exit, "no rejection the full path would not make")
		t.Logf("blind (%s): full %s, fast %s", blind, full.record.Verdict, got.record.Verdict)
		return
	}
	assert.Equal(t, full.record, got.record, "record")
	assert.Equal(t, full.cleared, got.cleared, "headers cleared")
	assert.Equal(t, full.set, got.set, "headers set")
	assert.Equal(t, full.exit, got.exit, "rejection")
	if got.warned != "" {
		assert.Contains(t, got.warned, "fast_path", "the fallback says why")
	}
	if full.record != nil && (full.record.Verdict == "ok" || full.record.Verdict == "direct") {
		why, slow := notServed[row.name]
		if v == nginxvar.V1_22 && !slow {
			why, slow = "before nginx 1.23 an empty first X-Real-IP or Forwarded line hides the others", true
			assert.Contains(t, got.warned, "the fast path needs nginx 1.23 or later", "the fallback says why")
		}
		assert.Equal(t, !slow, served, "an ordinary request takes the one call unless %q", why)
	}
	if served {
		// One call for the facts, then only what the record and the
		// decision need.
		assert.Equal(t, 1, count(got.calls, "kong.nginx.get_var"))
		assert.Zero(t, count(got.calls, "kong.request.get_headers"))
	}
}

// notServed are the ordinary (ok, direct) rows the one call cannot judge,
// and why. On nginx 1.22 the one call judges none (fastpath.Fill).
var notServed = map[string]string{
	"Forwarded for= from the LB":            "RFC 7239 Forwarded is not read on the fast path",
	"Forwarded quoted IPv6 with port":       "RFC 7239 Forwarded is not read on the fast path",
	"Forwarded recursive over a proxy node": "RFC 7239 Forwarded is not read on the fast path",
	"X-Real-IP is walked as a list":         "a comma in a single-address header may join two lines",
	"empty entries skipped":                 "empty X-Forwarded-For entries may be empty lines",
}

func equalOutcome(a, b outcome) bool {
	ra, _ := json.Marshal(a.record)
	rb, _ := json.Marshal(b.record)
	return string(ra) == string(rb) && strings.Join(a.cleared, ",") == strings.Join(b.cleared, ",") && a.exit == b.exit
}

func contains(xs []string, s string) bool { return count(xs, s) > 0 }

func count(xs []string, s string) int {
	n := 0
	for _, x := range xs {
		if x == s {
			n++
		}
	}
	return n
}
