package record_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
)

func lines(name string, values ...string) []realip.Header {
	out := make([]realip.Header, len(values))
	for i, v := range values {
		out[i] = realip.Header{Name: name, Value: v}
	}
	return out
}

func TestChain(t *testing.T) {
	cases := []struct {
		name      string
		headers   []realip.Header
		kind      realip.Kind
		header    string
		want      []string
		truncated bool
	}{
		{"none", nil, realip.KindXForwardedFor, "x-forwarded-for", []string{}, false},
		{"separators as nginx splits", lines("X-Forwarded-For", "1.1.1.1,, 2.2.2.2 ,3.3.3.3 4.4.4.4, "),
			realip.KindXForwardedFor, "x-forwarded-for", []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}, false},
		{"every X-Forwarded-For line in order", lines("x-forwarded-for", "1.1.1.1", "2.2.2.2, 3.3.3.3"),
			realip.KindXForwardedFor, "x-forwarded-for", []string{"1.1.1.1", "2.2.2.2", "3.3.3.3"}, false},
		{"first X-Real-IP line only", lines("X-Real-IP", "1.1.1.1, 5.5.5.5", "2.2.2.2"),
			realip.KindXRealIP, "x-real-ip", []string{"1.1.1.1", "5.5.5.5"}, false},
		{"first custom line only", lines("CF-Connecting-IP", "1.1.1.1", "2.2.2.2"),
			realip.KindCustom, "cf-connecting-ip", []string{"1.1.1.1"}, false},
		{"other headers ignored", append(lines("X-Real-IP", "9.9.9.9"), lines("X-Forwarded-For", "1.1.1.1")...),
			realip.KindXForwardedFor, "x-forwarded-for", []string{"1.1.1.1"}, false},
		{"Forwarded nodes", lines("Forwarded", `for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`, "for=unknown, by=1.2.3.4"),
			realip.KindForwarded, "forwarded", []string{"192.0.2.60", `"[2001:db8::17]:4711"`, "unknown", "for=?"}, false},
		{"Forwarded parse error is shown", lines("Forwarded", "for=1.2.3.4, for=[::1]"),
			realip.KindForwarded, "forwarded", []string{"1.2.3.4", "!forwarded: malformed parameter"}, false},
		{"invalid UTF-8 replaced", lines("X-Forwarded-For", "1.1.1.1\xff\xfe, \xc3"),
			realip.KindXForwardedFor, "x-forwarded-for", []string{"1.1.1.1\uFFFD", "\uFFFD"}, false},
		{"CR and LF kept as data", lines("X-Forwarded-For", "1.1.1.1\r\nX-Evil: 1"),
			realip.KindXForwardedFor, "x-forwarded-for", []string{"1.1.1.1\r\nX-Evil:", "1"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, truncated := record.Chain(tc.headers, tc.kind, tc.header)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.truncated, truncated)
		})
	}
}

func TestChainCaps(t *testing.T) {
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)
	}
	long := strings.Repeat("a", 1000)
	exact := make([]string, record.MaxChainEntries)
	for i := range exact {
		exact[i] = "1.1.1.1"
	}
	cases := []struct {
		name      string
		headers   []realip.Header
		count     int
		truncated bool
	}{
		{"thousands of entries", lines("X-Forwarded-For", strings.Join(many, ",")), record.MaxChainEntries, true},
		{"thousands of lines", lines("X-Forwarded-For", many...), record.MaxChainEntries, true},
		{"exactly the cap", lines("X-Forwarded-For", strings.Join(exact, ",")), record.MaxChainEntries, false},
		{"one long entry", lines("X-Forwarded-For", long), 1, true},
		{"entry of exactly the cap", lines("X-Forwarded-For", long[:record.MaxEntryBytes]), 1, false},
		{"long multibyte entry", lines("X-Forwarded-For", strings.Repeat("é", 100)), 1, true},
		{"invalid bytes cannot grow an entry past the cap", lines("X-Forwarded-For", strings.Repeat("a\xff", 100)), 1, true},
		{"cut inside a three-byte rune", lines("X-Forwarded-For", strings.Repeat("a", 127)+"€€"), 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, truncated := record.Chain(tc.headers, realip.KindXForwardedFor, "x-forwarded-for")
			assert.Len(t, got, tc.count)
			assert.Equal(t, tc.truncated, truncated)
			for _, e := range got {
				assert.LessOrEqual(t, len(e), record.MaxEntryBytes)
				assert.True(t, utf8.ValidString(e), "%q", e)
				assert.NotContains(t, e, ",")
				assert.NotContains(t, e, " ")
			}
		})
	}
	got, omitted, _ := record.Chain(lines("X-Forwarded-For", strings.Join(many, ",")), realip.KindXForwardedFor, "x-forwarded-for")
	assert.Equal(t, many[len(many)-record.MaxChainEntries:], got, "the last entries, which nginx walks first, are kept")
	assert.Equal(t, len(many)-record.MaxChainEntries, omitted)
	got, _, _ = record.Chain(lines("X-Forwarded-For", strings.Repeat("a", 127)+"€€"), realip.KindXForwardedFor, "x-forwarded-for")
	assert.Equal(t, []string{strings.Repeat("a", 127)}, got, "a rune is never split")
}

func TestSource(t *testing.T) {
	cases := []struct {
		name   string
		status realip.Status
		kind   realip.Kind
		want   string
	}{
		{"declined is the socket", realip.Declined, realip.KindXForwardedFor, "socket"},
		{"declined PROXY is the socket", realip.Declined, realip.KindProxyProtocol, "socket"},
		{"replaced from a header", realip.Replaced, realip.KindXForwardedFor, "X-Forwarded-For"},
		{"stopped from a header", realip.Stopped, realip.KindCustom, "X-Forwarded-For"},
		{"PROXY", realip.Replaced, realip.KindProxyProtocol, "proxy_protocol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := realip.Result{Status: tc.status}
			assert.Equal(t, tc.want, record.Source(&res, tc.kind, "X-Forwarded-For"))
		})
	}
}

func TestStamp(t *testing.T) {
	loc := time.FixedZone("x", 3600)
	ts := time.Date(2026, 1, 2, 4, 4, 5, 678_900_000, loc)
	assert.Equal(t, "2026-01-02T03:04:05.678Z", record.Stamp(ts))
	assert.Equal(t, "2026-01-02T03:04:05.000Z", record.Stamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
}

func TestJSON(t *testing.T) {
	r := &record.Record{
		Time: "2026-01-02T03:04:05.000Z", ClientIP: "198.51.100.7", ClientPort: 0, PeerIP: "10.0.0.1", PeerPort: 0,
		Source: "X-Forwarded-For", Chain: []string{"198.51.100.7"}, Verdict: "ok", Reasons: []string{},
		Action: record.ActionAllowed, Mode: "monitor",
	}
	b := r.JSON()
	assert.NotContains(t, string(b), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"time", "client_ip", "client_port", "peer_ip", "peer_port", "source", "chain", "verdict", "reasons", "action", "mode"} {
		assert.Contains(t, m, k)
	}
	for _, k := range []string{"chain_truncated", "kong_client_ip", "route_id", "service_id", "plugin_instance"} {
		assert.NotContains(t, m, k, "omitted when empty")
	}
	assert.Equal(t, []any{}, m["reasons"])
	assert.Equal(t, m, r.Map())

	r.Truncated, r.KongIP, r.RouteID, r.ServiceID, r.Instance = true, "10.0.0.1", "r", "s", "i"
	m = r.Map()
	assert.Equal(t, true, m["chain_truncated"])
	assert.Equal(t, "10.0.0.1", m["kong_client_ip"])
	assert.Equal(t, "r", m["route_id"])
	assert.Equal(t, "s", m["service_id"])
	assert.Equal(t, "i", m["plugin_instance"])

	// Hostile chain entries stay inside their JSON string.
	chain, _, _ := record.Chain(lines("X-Forwarded-For", "\"},{\"verdict\":\"ok\u2028\r\n"), realip.KindXForwardedFor, "x-forwarded-for")
	r.Chain = chain
	b = r.JSON()
	assert.NotContains(t, string(b), "\n")
	assert.NotContains(t, string(b), "\r")
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "ok", m["verdict"])
	require.Len(t, chain, 2)
	assert.Equal(t, []any{chain[0], chain[1]}, m["chain"])
}

func TestChainWithResolver(t *testing.T) {
	// The chain shows what the resolver walked, whatever it took.
	r := realip.NewResolver(realip.MustTrusted("10.0.0.0/8"), "X-Forwarded-For", true)
	hs := lines("X-Forwarded-For", "203.0.113.1, 198.51.100.7", "10.0.0.2")
	res := r.Resolve(&realip.Request{Peer: netip.MustParseAddrPort("10.0.0.1:1"), Headers: hs}, nil)
	assert.Equal(t, "198.51.100.7", realip.FormatAddr(res.Addr))
	got, _, _ := record.Chain(hs, r.Kind(), r.HeaderName())
	assert.Equal(t, []string{"203.0.113.1", "198.51.100.7", "10.0.0.2"}, got)
	assert.Equal(t, "X-Forwarded-For", record.Source(&res, r.Kind(), "X-Forwarded-For"))
}

// TestFit: through the kong sink a record stays within nginx's error-line
// budget, keeps the entries nearest Kong and says how many it dropped.
func TestFit(t *testing.T) {
	many := make([]string, record.MaxChainEntries)
	for i := range many {
		many[i] = strings.Repeat("x", record.MaxEntryBytes-4) + fmt.Sprintf("%04d", i)
	}
	r := &record.Record{Verdict: "malformed", Action: "rejected", Reasons: []string{}, Chain: many}
	b := r.Fit(record.MaxKongLogBytes)
	assert.LessOrEqual(t, len(b), record.MaxKongLogBytes)
	assert.True(t, json.Valid(b))
	var got record.Record
	require.NoError(t, json.Unmarshal(b, &got))
	require.NotEmpty(t, got.Chain)
	assert.Equal(t, many[len(many)-1], got.Chain[len(got.Chain)-1], "the entry nearest Kong is kept")
	assert.Equal(t, len(many)-len(got.Chain), got.Omitted)
	assert.True(t, got.Truncated)
	assert.True(t, strings.HasPrefix(string(b), `{"verdict":"malformed","action":"rejected"`), "verdict and action first: %.60s", b)

	small := &record.Record{Verdict: "ok", Chain: []string{"1.2.3.4"}}
	assert.Equal(t, small.JSON(), small.Fit(record.MaxKongLogBytes), "a record that fits is unchanged")
}
