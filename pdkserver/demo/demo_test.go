package demo

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/gateway"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

func TestRecordFromEachSink(t *testing.T) {
	tests := []struct {
		name string
		x    *gateway.Exchange
		want string
	}{
		{"serializer map", &gateway.Exchange{Request: &kongpdk.Request{SerializeValue: map[string]any{"client_ip_guard": map[string]any{"verdict": "ok"}}}}, "ok"},
		{"serializer JSON text", &gateway.Exchange{Request: &kongpdk.Request{SerializeValue: map[string]any{"client_ip_guard": `{"verdict":"direct"}`}}}, "direct"},
		{"kong.log line", &gateway.Exchange{Request: &kongpdk.Request{Logs: []kongpdk.LogLine{{Level: "notice", Message: "other"}, {Level: "notice", Message: `[client-ip-guard] {"verdict":"malformed"}`}}}}, "malformed"},
		{"file-log", &gateway.Exchange{Request: &kongpdk.Request{}, FileLog: []map[string]any{{"client_ip_guard": map[string]any{"verdict": "denied"}}}}, "denied"},
		{"none", &gateway.Exchange{Request: &kongpdk.Request{Logs: []kongpdk.LogLine{{Message: "{not json"}}}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Result{Exchange: tc.x, Record: Record(tc.x)}
			assert.Equal(t, tc.want, r.Verdict())
		})
	}
}

func TestProblemsAndTable(t *testing.T) {
	x := &gateway.Exchange{Request: &kongpdk.Request{Vars: kongpdk.Vars{RemoteAddr: "203.0.113.7"}, Calls: map[string][]string{"access": {"a", "b", "c"}}}}
	good := Result{
		Scenario: Scenario{Name: "good", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/echo", Expect: Expect{Status: 200, Verdict: "ok", ClientIP: "203.0.113.7"}},
		Response: &Response{Status: 200}, Exchange: x, Record: map[string]any{"verdict": "ok"},
	}
	bad := good
	bad.Scenario.Name = "bad"
	bad.Scenario.Expect = Expect{Status: 403, Verdict: "spoof_attempt", ClientIP: "1.2.3.4"}
	closed := Result{Scenario: Scenario{Name: "closed", Expect: Expect{Closed: true}}, Response: &Response{Closed: true}}

	assert.Empty(t, good.Problems())
	assert.Len(t, bad.Problems(), 3)
	assert.Empty(t, closed.Problems())

	var buf bytes.Buffer
	n := PrintTable(&buf, []Result{good, bad, closed})
	assert.Equal(t, 1, n)
	out := buf.String()
	assert.Contains(t, out, "ok 200")
	assert.Contains(t, out, "PDK calls per judgement (rewrite for the global instance, access for a route's): ok 3")
	assert.Contains(t, out, "#2 bad: status 200, want 403")
	assert.Contains(t, out, "connection dropped")
}

func TestCollectorWait(t *testing.T) {
	c := NewCollector()
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Observe(&gateway.Exchange{ID: "a"})
	}()
	require.NotNil(t, c.Wait("a", time.Second))
	assert.Nil(t, c.Wait("missing", 50*time.Millisecond))
	for i := 0; i < maxKept+10; i++ {
		c.Observe(&gateway.Exchange{ID: strings.Repeat("x", 1) + string(rune('a'+i%26)) + time.Now().String()})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.LessOrEqual(t, len(c.byID), maxKept)
}

func TestSendReportsDroppedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	resp, err := Send("127.0.0.1", l.Addr().String(), nil, nil, "GET", "/", nil, 2*time.Second)
	require.NoError(t, err)
	assert.True(t, resp.Closed)

	_, err = Send("not-an-ip", l.Addr().String(), nil, nil, "GET", "/", nil, time.Second)
	assert.ErrorContains(t, err, "not an IP")
	_, err = Send("", l.Addr().String(), &Proxy{Version: 1, Src: "bad", Dst: "1.2.3.4:1"}, nil, "GET", "/", nil, time.Second)
	assert.ErrorContains(t, err, "PROXY source")
}
