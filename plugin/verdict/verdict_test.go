package verdict_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

var (
	lbPeer     = netip.MustParseAddrPort("10.0.0.1:40000")
	clientPeer = netip.MustParseAddrPort("203.0.113.9:40000")
)

func hdr(name string, values ...string) []realip.Header {
	out := make([]realip.Header, len(values))
	for i, v := range values {
		out[i] = realip.Header{Name: name, Value: v}
	}
	return out
}

// judgeCase resolves a request with a real resolver, then judges it.
type judgeCase struct {
	name       string
	resolver   *realip.Resolver
	peer       netip.AddrPort
	headers    []realip.Header
	proxy      *realip.Proxy
	forwarding verdict.Forwarding
	lines      int
	kong       string // Kong's $remote_addr; "=" means "same as the plugin's"
	noKong     bool
	denied     string // deny reason, "" for none
	truncated  bool
	trustAll   bool

	want    verdict.Verdict
	reasons []string
}

func TestJudge(t *testing.T) {
	trusted := realip.MustTrusted("10.0.0.0/8", "unix:")
	xrip := realip.NewResolver(trusted, "X-Real-IP", false)
	xff := realip.NewResolver(trusted, "X-Forwarded-For", false)
	xffRec := realip.NewResolver(trusted, "X-Forwarded-For", true)
	pp := realip.NewResolver(trusted, "proxy_protocol", false)
	fwd := realip.NewForwardedResolver(trusted, true)
	custom := realip.NewResolver(trusted, "CF-Connecting-IP", false)

	cases := []judgeCase{
		{
			name: "trusted LB forwards a client", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Real-IP", "198.51.100.7"), forwarding: verdict.HasXRealIP, lines: 1, kong: "=",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "direct client, nothing forwarded", resolver: xrip, peer: clientPeer, kong: "=",
			want: verdict.Direct, reasons: []string{verdict.ReasonPeerUntrusted},
		},
		{
			name: "untrusted peer sends X-Forwarded-For", resolver: xrip, peer: clientPeer,
			headers: hdr("X-Forwarded-For", "1.1.1.1"), forwarding: verdict.HasXForwardedFor, kong: "=",
			want: verdict.SpoofAttempt, reasons: []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust},
		},
		{
			name: "untrusted peer sends PROXY data", resolver: pp, peer: clientPeer,
			proxy: &realip.Proxy{SrcAddr: "1.1.1.1", SrcPort: 5}, kong: "=",
			want: verdict.SpoofAttempt, reasons: []string{verdict.ReasonPeerUntrusted, verdict.ReasonProxyFromUntrusted},
		},
		{
			name: "trusted LB without header leaks its own address", resolver: xrip, peer: lbPeer, kong: "=",
			want: verdict.LBIPLeak, reasons: []string{verdict.ReasonSourceMissing},
		},
		{
			name: "trusted LB, other forwarding header only", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "1.1.1.1"), forwarding: verdict.HasXForwardedFor, kong: "=",
			want: verdict.LBIPLeak, reasons: []string{verdict.ReasonSourceMissing, verdict.ReasonOtherForwarding},
		},
		{
			name: "non-recursive chain ends on a trusted hop", resolver: xff, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "198.51.100.7, 10.0.0.2"), forwarding: verdict.HasXForwardedFor, lines: 1, kong: "=",
			want: verdict.LBIPLeak, reasons: []string{verdict.ReasonResolvedTrusted},
		},
		{
			name: "recursive chain walks past the trusted hop", resolver: xffRec, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "198.51.100.7, 10.0.0.2"), forwarding: verdict.HasXForwardedFor, lines: 1, kong: "=",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "recursive chain of proxies only", resolver: xffRec, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "10.1.1.1, 10.0.0.2"), forwarding: verdict.HasXForwardedFor, lines: 1, kong: "=",
			want: verdict.LBIPLeak, reasons: []string{verdict.ReasonResolvedTrusted},
		},
		{
			name: "rightmost token malformed", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Real-IP", "not-an-ip"), forwarding: verdict.HasXRealIP, lines: 1, kong: "=",
			want: verdict.Malformed, reasons: []string{verdict.ReasonSourceMalformed},
		},
		{
			name: "recursive walk stopped by garbage after a proxy", resolver: xffRec, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "garbage, 10.0.0.2"), forwarding: verdict.HasXForwardedFor, lines: 1, kong: "=",
			want: verdict.Malformed, reasons: []string{verdict.ReasonSourceMalformed, verdict.ReasonWalkStopped},
		},
		{
			// The empty token cannot be stored as Result.Malformed, yet nginx
			// rejected it all the same: the LB's address is what Kong uses.
			name: "empty header value from a trusted peer", resolver: xff, peer: lbPeer,
			headers: hdr("X-Forwarded-For", ""), forwarding: verdict.HasXForwardedFor, lines: 1, kong: "=",
			want: verdict.Malformed, reasons: []string{verdict.ReasonSourceMalformed},
		},
		{
			name: "recursive walk stopped by an empty earlier line", resolver: xffRec, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "", "10.0.0.2"), forwarding: verdict.HasXForwardedFor, lines: 2, kong: "=",
			want: verdict.Malformed, reasons: []string{verdict.ReasonSourceMalformed, verdict.ReasonWalkStopped},
		},
		{
			name: "Kong resolved differently", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Real-IP", "198.51.100.7"), forwarding: verdict.HasXRealIP, lines: 1, kong: "10.0.0.1",
			want: verdict.ConfigDrift, reasons: []string{verdict.ReasonKongDiffers},
		},
		{
			name: "Kong not read: no drift check", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Real-IP", "198.51.100.7"), forwarding: verdict.HasXRealIP, lines: 1, noKong: true, kong: "10.0.0.1",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "Forwarded source is never compared with Kong", resolver: fwd, peer: lbPeer,
			headers: hdr("Forwarded", "for=198.51.100.7"), forwarding: verdict.HasForwarded, lines: 1, kong: "10.0.0.1",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "spoof and drift: drift wins", resolver: xrip, peer: clientPeer,
			headers: hdr("X-Real-IP", "1.1.1.1"), forwarding: verdict.HasXRealIP, lines: 1, kong: "1.1.1.1",
			want: verdict.ConfigDrift, reasons: []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust, verdict.ReasonKongDiffers},
		},
		{
			name: "denied beats drift and spoof", resolver: xrip, peer: clientPeer,
			headers: hdr("X-Real-IP", "1.1.1.1"), forwarding: verdict.HasXRealIP, lines: 1, kong: "1.1.1.1", denied: verdict.ReasonDenyListed,
			want:    verdict.Denied,
			reasons: []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust, verdict.ReasonKongDiffers, verdict.ReasonDenyListed},
		},
		{
			name: "spoof beats malformed-looking input", resolver: xrip, peer: clientPeer,
			headers: hdr("X-Real-IP", "garbage"), forwarding: verdict.HasXRealIP, lines: 1, kong: "=",
			want: verdict.SpoofAttempt, reasons: []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust},
		},
		{
			name: "malformed beats lb_ip_leak", resolver: xffRec, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "1.2.3.4:0, 10.0.0.3"), forwarding: verdict.HasXForwardedFor, lines: 1, kong: "=",
			want: verdict.Malformed, reasons: []string{verdict.ReasonSourceMalformed, verdict.ReasonWalkStopped},
		},
		{
			name: "denied beats lb_ip_leak", resolver: xrip, peer: lbPeer, kong: "=", denied: verdict.ReasonNotAllowListed,
			want: verdict.Denied, reasons: []string{verdict.ReasonSourceMissing, verdict.ReasonNotAllowListed},
		},
		{
			name: "direct and denied", resolver: xrip, peer: clientPeer, kong: "=", denied: verdict.ReasonNotAllowListed,
			want: verdict.Denied, reasons: []string{verdict.ReasonPeerUntrusted, verdict.ReasonNotAllowListed},
		},
		{
			name: "second X-Real-IP line is smuggled", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Real-IP", "198.51.100.7", "1.1.1.1"), forwarding: verdict.HasXRealIP, lines: 2, kong: "=",
			want: verdict.Smuggled, reasons: []string{verdict.ReasonMultipleLines},
		},
		{
			name: "second custom header line is smuggled", resolver: custom, peer: lbPeer,
			headers: hdr("CF-Connecting-IP", "198.51.100.7", "1.1.1.1"), forwarding: verdict.HasConfigured, lines: 2, kong: "=",
			want: verdict.Smuggled, reasons: []string{verdict.ReasonMultipleLines},
		},
		{
			name: "several X-Forwarded-For lines are normal", resolver: xffRec, peer: lbPeer,
			headers: hdr("X-Forwarded-For", "198.51.100.7", "10.0.0.2"), forwarding: verdict.HasXForwardedFor, lines: 2, kong: "=",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "truncated headers cannot be judged; trust-all is a reason", resolver: xrip, peer: lbPeer,
			headers: hdr("X-Real-IP", "198.51.100.7"), forwarding: verdict.HasXRealIP, lines: 1, kong: "=", truncated: true, trustAll: true,
			want: verdict.Malformed, reasons: []string{verdict.ReasonHeadersTruncated, verdict.ReasonTrustAll},
		},
		{
			name: "trusted PROXY peer", resolver: pp, peer: lbPeer,
			proxy: &realip.Proxy{SrcAddr: "198.51.100.7", SrcPort: 5555}, kong: "=",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "trusted peer without PROXY data", resolver: pp, peer: lbPeer, kong: "=",
			want: verdict.LBIPLeak, reasons: []string{verdict.ReasonSourceMissing},
		},
		{
			name: "headers beside PROXY data came from the client", resolver: pp, peer: lbPeer,
			proxy: &realip.Proxy{SrcAddr: "198.51.100.7", SrcPort: 5555}, headers: hdr("X-Forwarded-For", "1.1.1.1"),
			forwarding: verdict.HasXForwardedFor, kong: "=",
			want: verdict.SpoofAttempt, reasons: []string{verdict.ReasonBesideProxyProtocol},
		},
		{
			name: "trusted unix peer forwards a client", resolver: xrip, peer: netip.AddrPort{},
			headers: hdr("X-Real-IP", "198.51.100.7"), forwarding: verdict.HasXRealIP, lines: 1, kong: "=",
			want: verdict.OK, reasons: []string{},
		},
		{
			name: "trusted unix peer without header", resolver: xrip, peer: netip.AddrPort{}, kong: "unix:",
			want: verdict.LBIPLeak, reasons: []string{verdict.ReasonSourceMissing},
		},
		{
			name: "unix peer, Kong saw an address", resolver: xrip, peer: netip.AddrPort{}, kong: "127.0.0.1",
			want: verdict.ConfigDrift, reasons: []string{verdict.ReasonSourceMissing, verdict.ReasonKongDiffers},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.resolver.Resolve(&realip.Request{Peer: tc.peer, Headers: tc.headers, Proxy: tc.proxy}, nil)
			in := verdict.Input{
				Result: &res, Kind: tc.resolver.Kind(), Forwarding: tc.forwarding, SourceLines: tc.lines,
				KongAddr: tc.kong, KongKnown: !tc.noKong, Truncated: tc.truncated, TrustAll: tc.trustAll,
			}
			if tc.kong == "=" {
				in.KongAddr = realip.FormatAddr(res.Addr)
				if res.Unix {
					in.KongAddr = "unix:"
				}
			}
			if tc.denied != "" {
				in.Denied, in.DenyReason = true, tc.denied
			}
			out := verdict.Judge(&in)
			assert.Equal(t, tc.want.String(), out.Verdict.String())
			assert.Equal(t, tc.reasons, out.Reasons.Names())
		})
	}
}

func TestJudgeDoesNotAllocate(t *testing.T) {
	trusted := realip.MustTrusted("10.0.0.0/8")
	r := realip.NewResolver(trusted, "X-Forwarded-For", true)
	req := &realip.Request{Peer: lbPeer, Headers: hdr("X-Forwarded-For", "198.51.100.7, 10.0.0.2")}
	res := r.Resolve(req, nil)
	in := &verdict.Input{Result: &res, Kind: r.Kind(), Forwarding: verdict.HasXForwardedFor, SourceLines: 1, KongAddr: "198.51.100.7", KongKnown: true}
	allocs := testing.AllocsPerRun(100, func() { _ = verdict.Judge(in) })
	assert.Zero(t, allocs)
}

func TestPrecedence(t *testing.T) {
	// All lists lowest first; String and Parse round-trip.
	want := []string{"ok", "direct", "lb_ip_leak", "malformed", "spoof_attempt", "smuggled", "config_drift", "denied"}
	all := verdict.All()
	require.Len(t, all, len(want))
	for i, v := range all {
		assert.Equal(t, want[i], v.String())
		p, ok := verdict.Parse(want[i])
		assert.True(t, ok)
		assert.Equal(t, v, p)
		if i > 0 {
			assert.Greater(t, v, all[i-1], "precedence increases")
		}
	}
	for _, bad := range []string{"", "OK", "Denied", "spoof", "unknown", " ok"} {
		_, ok := verdict.Parse(bad)
		assert.False(t, ok, bad)
	}
	assert.Equal(t, "unknown", verdict.Verdict(200).String())
}

func TestSet(t *testing.T) {
	var empty verdict.Set
	for _, v := range verdict.All() {
		assert.False(t, empty.Has(v))
	}
	s := verdict.NewSet(verdict.SpoofAttempt, verdict.Denied)
	assert.True(t, s.Has(verdict.SpoofAttempt))
	assert.True(t, s.Has(verdict.Denied))
	assert.False(t, s.Has(verdict.OK))
	assert.False(t, s.Has(verdict.Direct))
	s2 := s.With(verdict.Direct)
	assert.True(t, s2.Has(verdict.Direct))
	assert.False(t, s.Has(verdict.Direct), "With returns a new set")
	assert.Equal(t, s2, s2.With(verdict.Direct), "idempotent")
}

func TestAnomaly(t *testing.T) {
	none := verdict.NewSet()
	withDirect := verdict.NewSet(verdict.Direct)
	cases := []struct {
		v             verdict.Verdict
		plain, direct bool
	}{
		{verdict.OK, false, false},
		{verdict.Direct, false, true},
		{verdict.LBIPLeak, true, true},
		{verdict.Malformed, true, true},
		{verdict.SpoofAttempt, true, true},
		{verdict.Smuggled, true, true},
		{verdict.ConfigDrift, true, true},
		{verdict.Denied, true, true},
	}
	require.Len(t, cases, len(verdict.All()))
	for _, tc := range cases {
		o := verdict.Outcome{Verdict: tc.v}
		assert.Equal(t, tc.plain, o.Anomaly(none), "%s", tc.v)
		assert.Equal(t, tc.direct, o.Anomaly(withDirect), "%s with direct rejected", tc.v)
	}
}

func TestReasons(t *testing.T) {
	var r verdict.Reasons
	assert.Equal(t, []string{}, r.Names(), "empty set names to an empty, non-nil list")
	r = r.Add(verdict.ReasonTrustAll).Add(verdict.ReasonPeerUntrusted).Add(verdict.ReasonDenyListed).Add(verdict.ReasonPeerUntrusted)
	assert.Equal(t, []string{verdict.ReasonPeerUntrusted, verdict.ReasonDenyListed, verdict.ReasonTrustAll}, r.Names(), "fixed order, no repeats")
	assert.True(t, r.Has(verdict.ReasonDenyListed))
	assert.False(t, r.Has(verdict.ReasonNotAllowListed))
	assert.Equal(t, r, r.Add("no_such_reason"), "unknown names are ignored")
	assert.False(t, r.Has("no_such_reason"))
	assert.False(t, r.Has(""))

	all := []string{
		verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust, verdict.ReasonProxyFromUntrusted,
		verdict.ReasonSourceMissing, verdict.ReasonSourceMalformed, verdict.ReasonResolvedTrusted,
		verdict.ReasonKongDiffers, verdict.ReasonDenyListed, verdict.ReasonNotAllowListed,
		verdict.ReasonMultipleLines, verdict.ReasonWalkStopped, verdict.ReasonHeadersTruncated,
		verdict.ReasonOtherForwarding, verdict.ReasonTrustAll,
	}
	var full verdict.Reasons
	for _, n := range all {
		full = full.Add(n)
		assert.True(t, full.Has(n), n)
	}
	assert.Equal(t, all, full.Names())
}

// With PROXY protocol behind a trust-everything list (the setup Kong's
// Kubernetes guide shows), every PROXY source is "trusted": that alone must
// not turn each request into lb_ip_leak. A header source keeps the flag,
// since there any client can choose its address.
func TestTrustAllProxyProtocolIsNotALeak(t *testing.T) {
	all := realip.MustTrusted("0.0.0.0/0", "::/0")
	pp := realip.NewResolver(all, "proxy_protocol", false)
	res := pp.Resolve(&realip.Request{
		Peer:  netip.MustParseAddrPort("10.0.0.2:4000"),
		Proxy: &realip.Proxy{SrcAddr: "198.51.100.7", SrcPort: 5555},
	}, nil)
	out := verdict.Judge(&verdict.Input{Result: &res, Kind: realip.KindProxyProtocol, TrustAll: true, KongAddr: "198.51.100.7", KongKnown: true})
	assert.Equal(t, verdict.OK, out.Verdict)
	assert.True(t, out.Reasons.Has(verdict.ReasonTrustAll))

	xff := realip.NewResolver(all, "X-Forwarded-For", false)
	res = xff.Resolve(&realip.Request{
		Peer:    netip.MustParseAddrPort("10.0.0.2:4000"),
		Headers: []realip.Header{{Name: "X-Forwarded-For", Value: "198.51.100.7"}},
	}, nil)
	out = verdict.Judge(&verdict.Input{Result: &res, Kind: realip.KindXForwardedFor, Forwarding: verdict.HasXForwardedFor, TrustAll: true})
	assert.Equal(t, verdict.LBIPLeak, out.Verdict)
	assert.True(t, out.Reasons.Has(verdict.ReasonResolvedTrusted))
}
