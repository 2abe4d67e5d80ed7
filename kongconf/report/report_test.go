package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/record"
)

// rec builds a record line as the plugin writes it.
func rec(t, verdict, action, peer, client, route string) string {
	r := record.Record{Time: t, ClientIP: client, PeerIP: peer, Source: "X-Forwarded-For", Chain: []string{client},
		Verdict: verdict, Reasons: []string{}, Action: action, Mode: "monitor", RouteID: route, ServiceID: "svc-1"}
	if action == ActionRejected {
		r.Mode = "enforce"
	}
	return string(r.JSON())
}

const t0 = "2026-12-01T10:00:00.000Z"

func run(t *testing.T, opt Options, input string) Summary {
	t.Helper()
	r := New(opt)
	require.NoError(t, r.Read(strings.NewReader(input)))
	return r.Summary()
}

func TestFileSinkWithJunk(t *testing.T) {
	long := `{"verdict":"ok","x":"` + strings.Repeat("a", MaxLineBytes) + `"}`
	lines := []string{
		rec(t0, "ok", "allowed", "10.0.0.1", "203.0.113.1", "r1"),
		"",
		"plain text",
		`{"foo":1}`,
		rec(t0, "spoof_attempt", "would_reject", "198.51.100.7", "1.2.3.4", "r1"),
		rec(t0, "spoof_attempt", "would_reject", "198.51.100.7", "1.2.3.4", "r1")[:60], // cut mid-record
		long,
		// Keys in another order than record.go writes them.
		`{"action":"allowed","verdict":"direct","peer_ip":"192.0.2.9","client_ip":"192.0.2.9","mode":"monitor","time":"` + t0 + `","reasons":["peer_untrusted"]}`,
		rec(t0, "ok", "allowed", "10.0.0.1", "203.0.113.2", "r2") + "\r", // CRLF file
	}
	s := run(t, Options{}, strings.Join(lines, "\n")) // no final newline
	assert.EqualValues(t, 4, s.Records)
	assert.Equal(t, map[string]int64{"ok": 2, "spoof_attempt": 1, "direct": 1}, s.Verdicts)
	assert.EqualValues(t, 1, s.WouldReject)
	assert.Equal(t, map[string]int64{"not_a_record": 3, "cut": 1, "too_long": 1}, s.SkippedBy)
	assert.EqualValues(t, len(lines), s.Lines)
	assert.EqualValues(t, 4, s.Shapes["file"])
	assert.EqualValues(t, 1, s.Reasons["peer_untrusted"])
}

func TestErrorLog(t *testing.T) {
	spoof := rec(t0, "spoof_attempt", "would_reject", "198.51.100.7", "1.2.3.4", "r1")
	tail := `, client: 198.51.100.7, server: kong, request: "GET /echo?a={\"b\" HTTP/1.1", host: "localhost"`
	lines := []string{
		// Kong 3.9 with a Go plugin: no namespace tag.
		`2026/12/01 10:00:00 [notice] 1234#0: *5 [kong] pb_rpc.lua:233 ` + spoof + tail,
		// With the plugin's namespace, as Lua plugins have it.
		`2026/12/01 10:00:01 [notice] 1234#0: *6 [kong] pb_rpc.lua:233 [client-ip-guard] ` + rec(t0, "ok", "allowed", "10.0.0.1", "203.0.113.1", "r1") + tail,
		// The log timer has no request.
		`2026/12/01 10:00:02 [error] 1234#0: *7 [kong] pb_rpc.lua:233 ` + rec(t0, "config_drift", "rejected", "10.0.0.1", "203.0.113.9", "r2") + `, context: ngx.timer`,
		// pdkserver's error log (Go log prefix, node name).
		`2026/12/01 10:00:03.123456 [alb] [notice] [kong] pb_rpc.lua:233 [client-ip-guard] ` + spoof + tail,
		// nginx cuts lines at NGX_MAX_ERROR_STR.
		(`2026/12/01 10:00:04 [notice] 1234#0: *8 [kong] pb_rpc.lua:233 ` + spoof + tail)[:120],
		`2026/12/01 10:00:05 [notice] 1234#0: signal process started`,
		`2026/12/01 10:00:06 [error] 1234#0: *9 [kong] pb_rpc.lua:233 client-ip-guard config: mode = "x": must be monitor or enforce, client: 1.2.3.4`,
		`2026/12/01 10:00:07 [info] 1234#0: *10 [kong] init.lua:1 {"message":"not ours"}`,
	}
	s := run(t, Options{}, strings.Join(lines, "\n")+"\n")
	assert.EqualValues(t, 4, s.Records)
	assert.EqualValues(t, 4, s.Shapes["error_log"])
	assert.Equal(t, map[string]int64{"spoof_attempt": 2, "ok": 1, "config_drift": 1}, s.Verdicts)
	assert.EqualValues(t, 3, s.WouldReject)
	assert.EqualValues(t, 1, s.Rejected)
	assert.EqualValues(t, 1, s.ConfigErrors)
	assert.Equal(t, map[string]int64{"cut": 1, "not_a_record": 3}, s.SkippedBy)
	assert.Equal(t, "not_yet", s.Assessment.Verdict)
}

func TestLogPlugin(t *testing.T) {
	entry := func(recJSON string) string {
		return `{"request":{"headers":{"x-forwarded-for":"1.2.3.4"},"method":"GET"},"client_ip":"10.0.0.1","started_at":1764583200000,` +
			`"client_ip_guard":` + recJSON + `,"latencies":{"kong":1}}`
	}
	ok := rec(t0, "ok", "allowed", "10.0.0.1", "203.0.113.1", "r1")
	leak := rec(t0, "lb_ip_leak", "allowed", "10.0.0.1", "10.0.0.1", "r1")
	lines := []string{
		entry(ok),
		`{"request":{"method":"GET"},"started_at":1764583200000}`, // not recorded
		entry(leak)[:90],
		"[" + entry(ok) + "," + entry(leak) + "]", // an http-log batch
		`{"request":{"method":"GET"},"started_at":1,"client_ip_guard":null}`,
		"---",
		// Kong hands the record to log plugins as a Lua table: [] becomes {}.
		`{"started_at":1,"client_ip_guard":{"verdict":"direct","action":"allowed","reasons":{},"peer_ip":"192.0.2.1","client_ip":"192.0.2.1","time":"` + t0 + `"}}`,
	}
	s := run(t, Options{}, strings.Join(lines, "\n")+"\n")
	assert.EqualValues(t, 4, s.Records)
	assert.EqualValues(t, 4, s.Shapes["log_plugin"])
	assert.Equal(t, map[string]int64{"ok": 2, "lb_ip_leak": 1, "direct": 1}, s.Verdicts)
	assert.Equal(t, map[string]int64{"log_entry_without_record": 2, "cut": 1, "not_a_record": 1}, s.SkippedBy)
	// The log plugin's own top-level client_ip (Kong's) is not the record's.
	require.Len(t, s.Anomalies, 2)
	for _, a := range s.Anomalies {
		if a.Verdict == "lb_ip_leak" {
			assert.Equal(t, "10.0.0.1", a.Clients[0].Key)
		}
	}
}

func TestMixedShapesJSONAndAnomalies(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintln(&b, rec(t0, "ok", "allowed", "10.0.0.1", fmt.Sprintf("203.0.113.%d", i), "r1"))
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "2026/12/01 10:00:00 [notice] 1#0: *1 [kong] pb_rpc.lua:233 %s, client: x\n", rec(t0, "spoof_attempt", "would_reject", "198.51.100.7", "1.2.3.4", "r2"))
	}
	fmt.Fprintf(&b, `{"started_at":1,"client_ip_guard":%s}`+"\n", rec(t0, "spoof_attempt", "rejected", "198.51.100.8", "5.6.7.8", "r2"))
	s := run(t, Options{}, b.String())

	out, err := json.Marshal(s)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	assert.EqualValues(t, 34, m["records"])
	assert.EqualValues(t, 4, m["would_reject"])
	assert.Equal(t, map[string]any{"ok": 30.0, "spoof_attempt": 4.0}, m["verdicts"])

	require.Len(t, s.Anomalies, 1)
	assert.Equal(t, []Count{{Key: "198.51.100.7", Count: 3}, {Key: "198.51.100.8", Count: 1}}, s.Anomalies[0].Peers)
	assert.Equal(t, "r2", s.Routes[1].RouteID)
	assert.EqualValues(t, 4, s.Routes[1].WouldReject)
	// 4 of 34 rejected, 3 from one peer: that peer is named.
	assert.Equal(t, "review", s.Assessment.Verdict)

	var text bytes.Buffer
	s.Text(&text)
	assert.Contains(t, text.String(), "Enforce would reject 4 of 34 records")
	assert.Contains(t, text.String(), "Safe to enforce: review first")
	assert.Contains(t, text.String(), "198.51.100.7 3")
}

func TestSinceUntil(t *testing.T) {
	in := strings.Join([]string{
		rec("2026-12-01T09:59:59.999Z", "ok", "allowed", "p", "c", ""),
		rec("2026-12-01T10:00:00.000Z", "ok", "allowed", "p", "c", ""),
		rec("2026-12-01T10:30:00.000Z", "ok", "allowed", "p", "c", ""),
		rec("2026-12-01T11:00:00.000Z", "ok", "allowed", "p", "c", ""),
		rec("yesterday", "ok", "allowed", "p", "c", ""),
	}, "\n")
	since, _ := time.Parse(time.RFC3339, "2026-12-01T10:00:00Z")
	until, _ := time.Parse(time.RFC3339, "2026-12-01T11:00:00Z")
	s := run(t, Options{Since: since, Until: until}, in)
	assert.EqualValues(t, 2, s.Records)
	assert.EqualValues(t, 2, s.Filtered)
	assert.EqualValues(t, 1, s.SkippedBy["bad_time"])
	assert.Equal(t, "2026-12-01T10:00:00Z", s.First)
	assert.Equal(t, "2026-12-01T10:30:00Z", s.Last)
	// Without bounds nothing is filtered and a bad time is no reason to skip.
	assert.EqualValues(t, 5, run(t, Options{}, in).Records)
}

func TestAssess(t *testing.T) {
	tests := []struct {
		name string
		s    Summary
		want string
	}{
		{"empty", Summary{}, "no_data"},
		{"config errors", Summary{Records: 5, ConfigErrors: 1}, "not_yet"},
		{"drift", Summary{Records: 5, Verdicts: map[string]int64{"config_drift": 1}}, "not_yet"},
		{"untrusted LB", Summary{Records: 100, Verdicts: map[string]int64{"spoof_attempt": 90, "ok": 10},
			Anomalies: []Behind{{Verdict: "spoof_attempt", Records: 90, Peers: []Count{{Key: "10.0.0.9", Count: 90}}}}}, "review"},
		{"spoofs spread", Summary{Records: 100, Verdicts: map[string]int64{"spoof_attempt": 90, "ok": 10},
			Anomalies: []Behind{{Verdict: "spoof_attempt", Records: 90, Peers: []Count{{Key: "10.0.0.9", Count: 9}}}}}, "safe"},
		{"leak rejected", Summary{Records: 5, ByVerdict: map[string]map[string]int64{"lb_ip_leak": {"would_reject": 2}}}, "review"},
		{"nothing rejected", Summary{Records: 5, Verdicts: map[string]int64{"ok": 5}}, "safe"},
		{"one peer", Summary{Records: 1000, WouldReject: 10, Verdicts: map[string]int64{"ok": 990},
			Enforce: Behind{Peers: []Count{{Key: "10.1.1.1", Count: 6}}}}, "review"},
		{"few records, one peer", Summary{Records: 1000, WouldReject: 9, Verdicts: map[string]int64{"ok": 991},
			Enforce: Behind{Peers: []Count{{Key: "10.1.1.1", Count: 9}}}}, "safe"},
		{"too many", Summary{Records: 100, WouldReject: 20, Verdicts: map[string]int64{"ok": 80},
			Enforce: Behind{Peers: []Count{{Key: "a", Count: 2}}}}, "review"},
		{"spread", Summary{Records: 10000, WouldReject: 20, Verdicts: map[string]int64{"ok": 9980},
			Enforce: Behind{Peers: []Count{{Key: "a", Count: 2}}}}, "safe"},
		{"anomalies only", Summary{Records: 20, WouldReject: 20, Verdicts: map[string]int64{"spoof_attempt": 20},
			Enforce: Behind{Peers: []Count{{Key: "a", Count: 2}}}}, "safe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := assess(&tt.s)
			assert.Equal(t, tt.want, a.Verdict, a.Why)
			assert.Equal(t, tt.want == "safe", a.Safe)
			assert.NotEmpty(t, a.Why)
		})
	}
}

func TestTopKKeepsHeavyHitters(t *testing.T) {
	k := NewTopK(8)
	for i := 0; i < 10000; i++ {
		k.Add(fmt.Sprint("noise", i))
		if i%4 == 0 {
			k.Add("heavy")
		}
	}
	assert.Equal(t, 8, k.Len())
	top := k.Top(1)[0]
	assert.Equal(t, "heavy", top.Key)
	assert.True(t, top.Count-top.Err <= 2500 && top.Count >= 2500, "%+v", top)
}

// gen produces n record lines lazily, each with new peer and client
// addresses and a new route every 10 lines, in rotating shapes: the worst
// case for the report's tables.
type gen struct {
	n, i int
	buf  bytes.Buffer
}

var genVerdicts = []string{"ok", "spoof_attempt", "direct", "malformed", "junk-verdict-%d"}

func (g *gen) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && g.i < g.n {
		v := genVerdicts[g.i%len(genVerdicts)]
		if strings.Contains(v, "%d") {
			v = fmt.Sprintf(v, g.i)
		}
		r := rec(t0, v, "would_reject", fmt.Sprintf("10.%d.%d.%d", g.i>>16&255, g.i>>8&255, g.i&255),
			fmt.Sprintf("2001:db8::%x", g.i), fmt.Sprint("route-", g.i/10))
		switch g.i % 3 {
		case 0:
			g.buf.WriteString(r)
		case 1:
			fmt.Fprintf(&g.buf, "2026/12/01 10:00:00 [notice] 1#0: *%d [kong] pb_rpc.lua:233 %s, client: x, server: kong", g.i, r)
		case 2:
			fmt.Fprintf(&g.buf, `{"started_at":1,"client_ip_guard":%s}`, r)
		}
		g.buf.WriteByte('\n')
		g.i++
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

func heapAfter(t *testing.T, lines int) (uint64, *Report, int64) {
	r := New(Options{})
	g := &gen{n: lines}
	require.NoError(t, r.Read(g))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(r)
	return ms.HeapAlloc, r, r.bytes
}

// TestMemoryBounded feeds many megabytes of distinct addresses, routes and
// verdicts: the tables stop at their caps, and the live heap after ten
// times the input stays within a few megabytes of the smaller run.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads about 70 MB")
	}
	small, rs, nsmall := heapAfter(t, 20_000)
	big, rb, nbig := heapAfter(t, 200_000)
	t.Logf("%d MB: heap %d KB, %d entries; %d MB: heap %d KB, %d entries (bound %d)",
		nsmall>>20, small>>10, rs.Size(), nbig>>20, big>>10, rb.Size(), MaxSize)
	assert.EqualValues(t, 200_000, rb.records)
	assert.LessOrEqual(t, rb.Size(), MaxSize)
	// The tables are full: the bound was tested, not just unreached.
	assert.Equal(t, MaxVerdicts, rb.verdicts.Len())
	assert.Equal(t, MaxRoutes, len(rb.routes))
	assert.Equal(t, TopKCapacity, rb.rejectBy.peers.Len())
	assert.Greater(t, rb.verdicts.Other, int64(0))
	assert.Greater(t, rb.routeOth.records, int64(0))
	assert.Less(t, int64(big)-int64(small), int64(8<<20), "heap grew with the input")
}

func BenchmarkRead(b *testing.B) {
	data, err := io.ReadAll(&gen{n: 30_000})
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := New(Options{})
		if err := r.Read(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
