package evaluate_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

func compile(t testing.TB, c *guardconf.Config) *guardconf.Policy {
	t.Helper()
	p, err := guardconf.Compile(c)
	require.NoError(t, err)
	return p
}

// facts builds the facts of one request: peer, Kong's address, header
// lines as name/value pairs.
func facts(t testing.TB, pol *guardconf.Policy, peer, kong string, kv ...string) *evaluate.Facts {
	t.Helper()
	f := &evaluate.Facts{}
	require.NoError(t, f.SetPeer(peer))
	f.SetKong(kong)
	for i := 0; i+1 < len(kv); i += 2 {
		f.AddHeader(pol.Resolver.HeaderName(), []byte(kv[i]), []byte(kv[i+1]))
	}
	return f
}

// A load balancer forwards a client; the plugin agrees with Kong.
func Example() {
	pol, _ := guardconf.Compile(&guardconf.Config{
		TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true,
	})
	var f evaluate.Facts
	_ = f.SetPeer("10.0.0.2") // kong.client.get_ip
	f.SetKong("203.0.113.7")  // kong.client.get_forwarded_ip
	f.AddHeader(pol.Resolver.HeaderName(), []byte("x-forwarded-for"), []byte("203.0.113.7, 10.0.0.9"))
	ev := evaluate.Evaluate(pol, &f, nil)
	fmt.Println(ev.Outcome.Verdict, ev.Action)
	// Output: ok allowed
}

// A client behind the load balancer plants X_Forwarded_For: nginx's realip
// ignores it, but Kong 3.6+ would send it upstream as X-Forwarded-For.
func Example_underscoreSpelling() {
	pol, _ := guardconf.Compile(&guardconf.Config{
		TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Mode: "enforce",
		StripUntrustedForwarding: true,
	})
	var f evaluate.Facts
	_ = f.SetPeer("10.0.0.2")
	f.SetKong("203.0.113.7")
	f.AddHeader(pol.Resolver.HeaderName(), []byte("x_forwarded_for"), []byte("6.6.6.6"))
	f.AddHeader(pol.Resolver.HeaderName(), []byte("x-forwarded-for"), []byte("203.0.113.7"))
	ev := evaluate.Evaluate(pol, &f, nil)
	fmt.Println(ev.Outcome.Verdict, ev.Outcome.Reasons.Names(), ev.Action)
	// Output: smuggled [underscore_forwarding_header] rejected
}

func TestStrip(t *testing.T) {
	base := &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "CF-Connecting-IP", StripUntrustedForwarding: true}
	pp := &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "proxy_protocol", StripUntrustedForwarding: true}
	cases := []struct {
		name  string
		conf  *guardconf.Config
		peer  string
		proxy bool
		kv    []string
		want  []string
	}{
		{"untrusted peer: every forwarding header, fixed order", base, "203.0.113.9", false,
			[]string{"forwarded", "a", "x-real-ip", "b", "cf-connecting-ip", "c", "x-forwarded-for", "d", "accept", "*/*"},
			[]string{"x-forwarded-for", "x-real-ip", "forwarded", "cf-connecting-ip"}},
		{"trusted peer: kept", base, "10.0.0.1", false, []string{"x-forwarded-for", "d", "cf-connecting-ip", "c"}, nil},
		{"underscore spellings under the name sent, whatever the peer", base, "10.0.0.1", false,
			[]string{"X_Forwarded_For", "a", "x-forwarded_for", "b", "x_real_ip", "c", "cf_connecting_ip", "d", "X_FORWARDED_FOR", "e"},
			[]string{"x_forwarded_for", "x-forwarded_for", "x_real_ip", "cf_connecting_ip"}},
		{"beside PROXY data: the client's headers", pp, "10.0.0.1", true,
			[]string{"x-forwarded-for", "a", "forwarded", "b"}, []string{"x-forwarded-for", "forwarded"}},
		{"PROXY expected but absent: the trusted peer's headers are kept", pp, "10.0.0.1", false,
			[]string{"x-forwarded-for", "a"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pol := compile(t, tc.conf)
			f := facts(t, pol, tc.peer, tc.peer, tc.kv...)
			if tc.proxy {
				f.SetProxy("198.51.100.7", 5555)
			}
			ev := evaluate.Evaluate(pol, f, nil)
			assert.Equal(t, tc.want, ev.Strip(pol, f))
		})
	}
	off := compile(t, &guardconf.Config{})
	f := facts(t, off, "203.0.113.9", "203.0.113.9", "x-forwarded-for", "1.2.3.4")
	ev := evaluate.Evaluate(off, f, nil)
	assert.Nil(t, ev.Strip(off, f), "strip off")
}

// TestUnderscoreNamesBounded: every spelling is cleared once, and an
// attacker's variety costs a bounded number of PDK calls.
func TestUnderscoreNamesBounded(t *testing.T) {
	pol := compile(t, &guardconf.Config{StripUntrustedForwarding: true})
	f := &evaluate.Facts{}
	require.NoError(t, f.SetPeer("203.0.113.9"))
	spellings := map[string]bool{}
	for range 2 {
		for m := range 4 { // '-' at 1 and 11 in x-forwarded-for, each '-' or '_'
			name := []byte("x-forwarded-for")
			if m&1 != 0 {
				name[1] = '_'
			}
			if m&2 != 0 {
				name[11] = '_'
			}
			f.AddHeader("", name, []byte("1.2.3.4"))
			spellings[string(name)] = true
		}
	}
	for i := range 40 {
		f.AddHeader("", []byte(fmt.Sprintf("x_real_ip%c", 'a'+i%26)), []byte("x")) // not a forwarding header
	}
	ev := evaluate.Evaluate(pol, f, nil)
	got := ev.Strip(pol, f)
	want := []string{"x-forwarded-for", "x_forwarded-for", "x-forwarded_for", "x_forwarded_for"}
	assert.Equal(t, want, got)
	assert.Len(t, spellings, 4)
}

func TestUpstream(t *testing.T) {
	conf := &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", UpstreamHeader: "X-Client-IP"}
	pol := compile(t, conf)
	cases := []struct {
		name   string
		peer   string
		kv     []string
		value  string
		clears bool
	}{
		{"verified client", "10.0.0.1", []string{"x-forwarded-for", "203.0.113.7"}, "203.0.113.7", false},
		{"direct client", "203.0.113.9", nil, "203.0.113.9", false},
		{"nothing forwarded", "10.0.0.1", nil, "", true},
		{"a proxy's address", "10.0.0.1", []string{"x-forwarded-for", "203.0.113.7, 10.0.0.3"}, "", true},
		{"garbage", "10.0.0.1", []string{"x-forwarded-for", "nope"}, "", true},
		{"unix peer", "unix:", nil, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := facts(t, pol, tc.peer, tc.peer, tc.kv...)
			ev := evaluate.Evaluate(pol, f, nil)
			v, clear, ok := ev.Upstream(pol)
			assert.True(t, ok)
			assert.Equal(t, tc.value, v)
			assert.Equal(t, tc.clears, clear)
		})
	}
	off := compile(t, &guardconf.Config{})
	ev := evaluate.Evaluate(off, facts(t, off, "1.2.3.4", "1.2.3.4"), nil)
	_, _, ok := ev.Upstream(off)
	assert.False(t, ok, "upstream_header off")
}

func TestRejectAndAction(t *testing.T) {
	cases := []struct {
		name   string
		conf   *guardconf.Config
		peer   string
		kong   string // Kong's address: the peer when empty
		kv     []string
		v      verdict.Verdict
		action string
	}{
		{"spoof passes by default in enforce", &guardconf.Config{Mode: "enforce"}, "203.0.113.9", "", []string{"x-forwarded-for", "1.2.3.4"}, verdict.SpoofAttempt, record.ActionAllowed},
		{"require_trusted_peer rejects the spoof", &guardconf.Config{Mode: "enforce", RequireTrustedPeer: true}, "203.0.113.9", "", []string{"x-forwarded-for", "1.2.3.4"}, verdict.SpoofAttempt, record.ActionRejected},
		{"require_trusted_peer, even with a custom list", &guardconf.Config{Mode: "enforce", RequireTrustedPeer: true, Reject: []string{"malformed"}}, "203.0.113.9", "", nil, verdict.Direct, record.ActionRejected},
		{"monitor would reject", &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}}, "10.0.0.1", "1.2.3.4", []string{"x-real-ip", "1.2.3.4", "x-real-ip", "5.6.7.8"}, verdict.Smuggled, record.ActionWouldReject},
		{"spoof in the reject list", &guardconf.Config{Reject: []string{"spoof_attempt"}}, "203.0.113.9", "", []string{"forwarded", "for=1.2.3.4"}, verdict.SpoofAttempt, record.ActionWouldReject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pol := compile(t, tc.conf)
			kong := tc.kong
			if kong == "" {
				kong = tc.peer
			}
			f := facts(t, pol, tc.peer, kong, tc.kv...)
			ev := evaluate.Evaluate(pol, f, nil)
			assert.Equal(t, tc.v, ev.Outcome.Verdict, "reasons %v", ev.Outcome.Reasons.Names())
			assert.Equal(t, tc.action, ev.Action)
			assert.Equal(t, tc.action != record.ActionRejected, ev.Passes(pol))
		})
	}
}

// TestTruncated: Kong returns at most MaxHeaders lines; with that many the
// request cannot be judged.
func TestTruncated(t *testing.T) {
	pol := compile(t, &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, Deny: []string{"192.0.2.0/24"}})
	f := facts(t, pol, "10.0.0.1", "203.0.113.7", "x-real-ip", "203.0.113.7")
	for i := 1; i < evaluate.MaxHeaders; i++ {
		f.AddHeader("x-real-ip", []byte("x-junk"), []byte("x"))
	}
	assert.True(t, f.Truncated)
	ev := evaluate.Evaluate(pol, f, nil)
	assert.Equal(t, verdict.Denied, ev.Outcome.Verdict)
	assert.True(t, ev.Outcome.Reasons.Has(verdict.ReasonHeadersTruncated))
	assert.True(t, ev.Outcome.Reasons.Has(verdict.ReasonClientUnverified))
}

func TestResetReuses(t *testing.T) {
	pol := compile(t, &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For"})
	f := facts(t, pol, "10.0.0.1", "1.2.3.4", "x-forwarded-for", "1.2.3.4", "x_real_ip", "9.9.9.9")
	f.SetProxy("5.5.5.5", 1)
	f.Reset()
	assert.Equal(t, evaluate.Facts{Req: f.Req}, *f)
	assert.Empty(t, f.Req.Headers)
	assert.Nil(t, f.Req.Proxy)
	strip := compile(t, &guardconf.Config{StripUntrustedForwarding: true})
	ev := evaluate.Evaluate(strip, f, nil)
	assert.Nil(t, ev.Strip(strip, f), "no underscore name survives a Reset")
}

// TestOKPathAllocatesNothing: gathering and judging an ok request with
// reused Facts allocates nothing.
func TestOKPathAllocatesNothing(t *testing.T) {
	pol := compile(t, &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true, Deny: []string{"192.0.2.0/24"}})
	src := pol.Resolver.HeaderName()
	var f evaluate.Facts
	name, value := []byte("x-forwarded-for"), []byte("203.0.113.7, 10.0.0.9")
	ua, uav := []byte("user-agent"), []byte("curl/8")
	allocs := testing.AllocsPerRun(1000, func() {
		f.Reset()
		_ = f.SetPeer("10.0.0.2")
		f.SetKong("203.0.113.7")
		f.AddHeader(src, ua, uav)
		f.AddHeader(src, name, value)
		ev := evaluate.Evaluate(pol, &f, nil)
		if ev.Outcome.Verdict != verdict.OK || ev.Logged(pol) {
			t.Fatal(ev.Outcome.Verdict)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkEvaluate(b *testing.B) {
	pol := compile(b, &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true})
	src := pol.Resolver.HeaderName()
	var f evaluate.Facts
	name, value := []byte("x-forwarded-for"), []byte("198.51.100.1, 203.0.113.7, 10.0.0.9")
	b.ReportAllocs()
	for b.Loop() {
		f.Reset()
		_ = f.SetPeer("10.0.0.2")
		f.SetKong("203.0.113.7")
		f.AddHeader(src, name, value)
		_ = evaluate.Evaluate(pol, &f, nil)
	}
}
