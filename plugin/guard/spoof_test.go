package guard_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/kongconf/explain"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// The spoofing table: adversarial requests and what nginx (and so Kong)
// makes of them. Each expected $remote_addr/$remote_port is read off
// nginx 1.22.1's realip walk (ngx_http_get_forwarded_addr_internal,
// ngx_parse_addr_port, ngx_inet_addr, ngx_cidr_match), not taken from the
// resolver's output:
//
//   - an untrusted peer's forwarding data is never read;
//   - a trusted peer's header yields its rightmost token, split on ' ' and
//     ','; with recursion the walk moves left while the address is trusted;
//   - a token ngx_parse_addr_port refuses stops the walk, and if nothing
//     was taken yet $remote_addr stays the peer;
//   - IPv4 octets are decimal whatever their leading zeros, ports are 1..65535,
//     zones and a bare "[v6]" are refused (before 1.27.3);
//   - a v4-mapped IPv6 address is matched against the IPv4 entries;
//   - X-Forwarded-For lines are walked from the last; X-Real-IP and custom
//     headers use their first line.

// spoofConfigs are the plugin configurations the rows run against.
var spoofConfigs = map[string]*guardconf.Config{
	"none":        {},
	"xff":         {TrustedIPs: []string{"10.0.0.0/8", "2001:db8:1::/48"}, RealIPHeader: "X-Forwarded-For"},
	"xff-rec":     {TrustedIPs: []string{"10.0.0.0/8", "2001:db8:1::/48"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true},
	"xrip":        {TrustedIPs: []string{"10.0.0.0/8"}},
	"xrip-rec":    {TrustedIPs: []string{"10.0.0.0/8"}, RealIPRecursive: true},
	"pp":          {TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "proxy_protocol"},
	"fwd":         {TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "Forwarded", RealIPRecursive: true},
	"custom":      {TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "CF-Connecting-IP"},
	"unix":        {TrustedIPs: []string{"unix:"}},
	"trustall":    {TrustedIPs: []string{"0.0.0.0/0"}, RealIPHeader: "X-Forwarded-For"},
	"deny":        {TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true, Deny: []string{"192.0.2.0/24"}},
	"deny-mapped": {TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Deny: []string{"::ffff:192.0.2.0/120"}},
	"fwd-deny":    {TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "Forwarded", Deny: []string{"192.0.2.0/24"}},
	"unix-allow":  {Allow: []string{"198.51.100.0/24"}},
}

type spoofRow struct {
	name    string
	conf    string
	peer    string // "unix:", or an address as Kong's get_ip returns it
	headers []realip.Header
	proxy   *realip.Proxy
	kong    string // Kong's $remote_addr when it differs from addr (config drift)
	addr    string // nginx's $remote_addr
	// port is nginx's $remote_port from the header (0: empty); when
	// $remote_addr stays the peer, $remote_port stays the peer's port.
	port uint16
	want verdict.Verdict
}

func xff(vs ...string) []realip.Header  { return lines("X-Forwarded-For", vs...) }
func xrip(vs ...string) []realip.Header { return lines("X-Real-IP", vs...) }
func fwdh(vs ...string) []realip.Header { return lines("Forwarded", vs...) }

func lines(name string, vs ...string) []realip.Header {
	out := make([]realip.Header, len(vs))
	for i, v := range vs {
		out[i] = realip.Header{Name: name, Value: v}
	}
	return out
}

func join(hs ...[]realip.Header) []realip.Header {
	var out []realip.Header
	for _, h := range hs {
		out = append(out, h...)
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func seq(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i/256%256, i%256)
	}
	return out
}

const (
	attacker = "203.0.113.9" // an untrusted peer
	proxy    = "10.0.0.1"    // the trusted load balancer
	victim   = "198.51.100.7"
	peerPort = 40000
)

var spoofRows = []spoofRow{
	// Forged headers from untrusted peers are never read.
	{name: "no trusted_ips: forged X-Forwarded-For", conf: "none", peer: attacker, headers: xff("1.2.3.4"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "no trusted_ips: forged X-Real-IP of localhost", conf: "none", peer: attacker, headers: xrip("127.0.0.1"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "no trusted_ips: forged Forwarded", conf: "none", peer: attacker, headers: fwdh("for=10.0.0.1"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer claims to be a trusted proxy", conf: "xff-rec", peer: attacker, headers: xff("10.0.0.5"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer forges a whole chain", conf: "xff-rec", peer: attacker, headers: xff(victim + ", 10.0.0.2"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer sends a hundred lines", conf: "xff", peer: attacker, headers: xff(repeat(victim, 100)...), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer forges a mapped proxy address", conf: "xff", peer: attacker, headers: xff("::ffff:10.0.0.1"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer smuggles CR/LF in X-Real-IP", conf: "xrip", peer: attacker, headers: xrip("1.2.3.4\r\nX-Real-IP: 5.6.7.8"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer sends X-Real-IP to an X-Forwarded-For setup", conf: "xff", peer: attacker, headers: xrip(victim), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted mapped peer", conf: "xff", peer: "::ffff:203.0.113.9", headers: xff(victim), addr: "::ffff:203.0.113.9", want: verdict.SpoofAttempt},
	{name: "untrusted IPv6 peer outside the trusted /48", conf: "xff", peer: "2001:db8:2::5", headers: xff(victim), addr: "2001:db8:2::5", want: verdict.SpoofAttempt},
	{name: "untrusted peer sends PROXY data", conf: "pp", peer: attacker, proxy: &realip.Proxy{SrcAddr: victim, SrcPort: 5555}, addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer sends Forwarded", conf: "fwd", peer: attacker, headers: fwdh("for=" + victim), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer sends the custom header", conf: "custom", peer: attacker, headers: lines("CF-Connecting-IP", victim), addr: attacker, want: verdict.SpoofAttempt},
	{name: "untrusted peer with no header", conf: "xff", peer: attacker, addr: attacker, want: verdict.Direct},

	// Trusted peers: what nginx takes.
	{name: "mapped trusted peer matches the IPv4 entry", conf: "xff", peer: "::ffff:10.0.0.1", headers: xff(victim), addr: victim, want: verdict.OK},
	{name: "IPv6 trusted peer", conf: "xff", peer: "2001:db8:1::5", headers: xff(victim), addr: victim, want: verdict.OK},
	{name: "recursive: forged entries left of the client are ignored", conf: "xff-rec", peer: proxy, headers: xff("1.2.3.4, " + victim + ", 10.0.0.2"), addr: victim, want: verdict.OK},
	{name: "non-recursive: a forged trailing proxy hop is taken", conf: "xff", peer: proxy, headers: xff(victim + ", 10.0.0.2"), addr: "10.0.0.2", want: verdict.LBIPLeak},
	{name: "recursive: every entry trusted, the leftmost wins", conf: "xff-rec", peer: proxy, headers: xff("10.0.0.3, 10.0.0.2"), addr: "10.0.0.3", want: verdict.LBIPLeak},
	{name: "leading zeros are decimal", conf: "xff", peer: proxy, headers: xff("198.051.100.007"), addr: victim, want: verdict.OK},
	{name: "leading zeros forge a trusted hop", conf: "xff-rec", peer: proxy, headers: xff("1.2.3.4, 010.0.0.9"), addr: "1.2.3.4", want: verdict.OK},
	{name: "empty octets are zero", conf: "xff", peer: proxy, headers: xff("198.51..7"), addr: "198.51.0.7", want: verdict.OK},
	{name: "port taken into $remote_port", conf: "xff", peer: proxy, headers: xff(victim + ":8080"), addr: victim, port: 8080, want: verdict.OK},
	{name: "port with leading zeros", conf: "xff", peer: proxy, headers: xff(victim + ":000443"), addr: victim, port: 443, want: verdict.OK},
	{name: "bracketed IPv6 with port", conf: "xff", peer: proxy, headers: xff("[2001:DB8::7]:443"), addr: "2001:db8::7", port: 443, want: verdict.OK},
	{name: "bare IPv6", conf: "xff", peer: proxy, headers: xff("2001:db8:0:0::7"), addr: "2001:db8::7", want: verdict.OK},
	{name: "mapped IPv6 keeps its text", conf: "xff", peer: proxy, headers: xff("::ffff:" + victim), addr: "::ffff:" + victim, want: verdict.OK},
	{name: "mapped proxy hop is trusted by the IPv4 entry", conf: "xff-rec", peer: proxy, headers: xff(victim + ", ::ffff:10.0.0.9"), addr: victim, want: verdict.OK},
	{name: "IPv4-compatible IPv6 is not the IPv4 proxy", conf: "xff-rec", peer: proxy, headers: xff(victim + ", ::10.0.0.9"), addr: "::10.0.0.9", want: verdict.OK},
	{name: "empty entries skipped", conf: "xff", peer: proxy, headers: xff("1.1.1.1,,, " + victim + " ,, "), addr: victim, want: verdict.OK},
	{name: "CR/LF splits into a later token", conf: "xff", peer: proxy, headers: xff("6.6.6.6\r\nX-Forwarded-For: " + victim), addr: victim, want: verdict.OK},
	{name: "thousands of entries, non-recursive", conf: "xff", peer: proxy, headers: xff(strings.Join(append(seq("1.1.%d.%d", 5000), victim), ", ")), addr: victim, want: verdict.OK},
	{name: "thousands of trusted hops, recursive", conf: "xff-rec", peer: proxy, headers: xff(victim + "," + strings.Join(seq("10.9.%d.%d", 5000), ",")), addr: victim, want: verdict.OK},
	{name: "many lines, non-recursive: the last line", conf: "xff", peer: proxy, headers: xff(append(repeat("6.6.6.6", 199), victim)...), addr: victim, want: verdict.OK},
	{name: "many lines, recursive: walked back over trusted lines", conf: "xff-rec", peer: proxy, headers: xff(append([]string{"1.1.1.1"}, seq("10.8.%d.%d", 199)...)...), addr: "1.1.1.1", want: verdict.OK},
	{name: "recursive stops at the first untrusted line", conf: "xff-rec", peer: proxy, headers: xff("6.6.6.6", victim, "10.0.0.2"), addr: victim, want: verdict.OK},
	// nginx reads the first X-Real-IP line: a client line ahead of the
	// one a proxy adds is the address nginx takes.
	{name: "second X-Real-IP line: an address smuggled past the proxy", conf: "xrip", peer: proxy, headers: xrip(victim, "6.6.6.6"), addr: victim, want: verdict.Smuggled},
	{name: "X-Real-IP is walked as a list", conf: "xrip", peer: proxy, headers: xrip("6.6.6.6, " + victim), addr: victim, want: verdict.OK},
	{name: "recursive X-Real-IP", conf: "xrip-rec", peer: proxy, headers: xrip(victim + " 10.0.0.2"), addr: victim, want: verdict.OK},
	{name: "X-Forwarded-For ignored when X-Real-IP is configured", conf: "xrip", peer: proxy, headers: xff(victim), addr: proxy, want: verdict.LBIPLeak},
	{name: "custom header, first line, any case", conf: "custom", peer: proxy, headers: lines("cf-connecting-ip", victim), addr: victim, want: verdict.OK},
	{name: "custom header, second line smuggled", conf: "custom", peer: proxy, headers: lines("cf-connecting-ip", victim, "6.6.6.6"), addr: victim, want: verdict.Smuggled},
	{name: "trusted unix socket", conf: "unix", peer: "unix:", headers: xrip(victim), addr: victim, want: verdict.OK},
	{name: "untrusted unix socket", conf: "xrip", peer: "unix:", headers: xrip(victim), addr: "unix:", want: verdict.SpoofAttempt},
	// nginx takes the forged address; every address is "trusted", so the
	// resolved one is too, and each such request is an lb_ip_leak anomaly.
	{name: "trust-all lets any client pick its address", conf: "trustall", peer: attacker, headers: xff("1.2.3.4"), addr: "1.2.3.4", want: verdict.LBIPLeak},

	// Garbage from a trusted peer: the walk stops, the peer stays.
	{name: "IPv6 zone", conf: "xff", peer: proxy, headers: xff("fe80::1%eth0"), addr: proxy, want: verdict.Malformed},
	{name: "bare bracketed IPv6 (nginx < 1.27.3)", conf: "xff", peer: proxy, headers: xff("[2001:db8::7]"), addr: proxy, want: verdict.Malformed},
	{name: "port 0", conf: "xff", peer: proxy, headers: xff(victim + ":0"), addr: proxy, want: verdict.Malformed},
	{name: "port 65536", conf: "xff", peer: proxy, headers: xff(victim + ":65536"), addr: proxy, want: verdict.Malformed},
	{name: "255.255.255.255 is nginx's error value", conf: "xff", peer: proxy, headers: xff("255.255.255.255"), addr: proxy, want: verdict.Malformed},
	{name: "three octets", conf: "xff", peer: proxy, headers: xff("198.51.100"), addr: proxy, want: verdict.Malformed},
	{name: "octet over 255", conf: "xff", peer: proxy, headers: xff("198.51.100.256"), addr: proxy, want: verdict.Malformed},
	{name: "hex octet", conf: "xff", peer: proxy, headers: xff("0xC6.51.100.7"), addr: proxy, want: verdict.Malformed},
	{name: "hostname", conf: "xff", peer: proxy, headers: xff("localhost"), addr: proxy, want: verdict.Malformed},
	{name: "fullwidth digits", conf: "xff", peer: proxy, headers: xff("１.２.３.４"), addr: proxy, want: verdict.Malformed},
	{name: "NUL byte", conf: "xff", peer: proxy, headers: xff(victim + "\x00"), addr: proxy, want: verdict.Malformed},
	{name: "trailing CR/LF", conf: "xff", peer: proxy, headers: xff(victim + "\r\n"), addr: proxy, want: verdict.Malformed},
	{name: "leading comma is part of the token", conf: "xff", peer: proxy, headers: xff("," + victim), addr: proxy, want: verdict.Malformed},
	{name: "separators only", conf: "xff", peer: proxy, headers: xff(" , ,"), addr: proxy, want: verdict.Malformed},
	{name: "empty value", conf: "xff", peer: proxy, headers: xff(""), addr: proxy, want: verdict.Malformed},
	{name: "garbage left of a proxy: the proxy is kept", conf: "xff-rec", peer: proxy, headers: xff("<script>, 10.0.0.2"), addr: "10.0.0.2", want: verdict.Malformed},
	{name: "garbage in an earlier line: the proxy is kept", conf: "xff-rec", peer: proxy, headers: xff("garbage", "10.0.0.2"), addr: "10.0.0.2", want: verdict.Malformed},
	{name: "garbage left of the client does not matter", conf: "xff-rec", peer: proxy, headers: xff("garbage, " + victim), addr: victim, want: verdict.OK},

	// PROXY protocol.
	{name: "PROXY source from the LB", conf: "pp", peer: proxy, proxy: &realip.Proxy{SrcAddr: victim, SrcPort: 5555}, addr: victim, port: 5555, want: verdict.OK},
	// An L4 load balancer adds no header: the client sent it, and Kong
	// passes it upstream in X-Forwarded-For.
	{name: "PROXY protocol with a client-sent X-Forwarded-For", conf: "pp", peer: proxy, headers: xff("6.6.6.6"), proxy: &realip.Proxy{SrcAddr: victim, SrcPort: 5555}, addr: victim, port: 5555, want: verdict.SpoofAttempt},
	{name: "PROXY source is itself a proxy", conf: "pp", peer: proxy, proxy: &realip.Proxy{SrcAddr: "10.0.0.9", SrcPort: 5555}, addr: "10.0.0.9", port: 5555, want: verdict.LBIPLeak},
	{name: "PROXY expected, none sent", conf: "pp", peer: proxy, headers: xff(victim), addr: proxy, want: verdict.LBIPLeak},

	// Forwarded (RFC 7239), which only the plugin reads: Kong keeps the peer.
	{name: "Forwarded for= from the LB", conf: "fwd", peer: proxy, headers: fwdh("for=" + victim + ";proto=https"), kong: proxy, addr: victim, want: verdict.OK},
	{name: "Forwarded quoted IPv6 with port", conf: "fwd", peer: proxy, headers: fwdh(`for="[2001:db8::7]:4711"`), kong: proxy, addr: "2001:db8::7", port: 4711, want: verdict.OK},
	{name: "Forwarded recursive over a proxy node", conf: "fwd", peer: proxy, headers: fwdh("for=1.2.3.4, for=" + victim + ", for=10.0.0.2"), kong: proxy, addr: victim, want: verdict.OK},
	{name: "Forwarded unknown node", conf: "fwd", peer: proxy, headers: fwdh("for=unknown"), addr: proxy, want: verdict.Malformed},
	{name: "Forwarded obfuscated node", conf: "fwd", peer: proxy, headers: fwdh("for=_hidden"), addr: proxy, want: verdict.Malformed},
	{name: "Forwarded unquoted IPv6", conf: "fwd", peer: proxy, headers: fwdh("for=2001:db8::7"), addr: proxy, want: verdict.Malformed},
	{name: "Forwarded comma inside quotes", conf: "fwd", peer: proxy, headers: fwdh(`for="1.2.3.4, 5.6.7.8"`), addr: proxy, want: verdict.Malformed},

	// Config drift: Kong's own $remote_addr differs from the plugin's.
	{name: "drift: Kong does not trust the LB", conf: "xff", peer: proxy, headers: xff(victim), kong: proxy, addr: victim, want: verdict.ConfigDrift},
	{name: "drift: Kong trusts a peer the plugin does not", conf: "none", peer: proxy, headers: xff(victim), kong: victim, addr: proxy, want: verdict.ConfigDrift},
	{name: "drift: Kong is recursive, the plugin is not", conf: "xff", peer: proxy, headers: xff(victim + ", 10.0.0.2"), kong: victim, addr: "10.0.0.2", want: verdict.ConfigDrift},
	{name: "drift: Kong reads X-Real-IP, the plugin X-Forwarded-For", conf: "xff", peer: proxy, headers: join(xrip("6.6.6.6"), xff(victim)), kong: "6.6.6.6", addr: victim, want: verdict.ConfigDrift},
	{name: "drift beats spoof: Kong believed the forged header", conf: "xrip", peer: attacker, headers: xrip("1.2.3.4"), kong: "1.2.3.4", addr: attacker, want: verdict.ConfigDrift},

	// Allow/deny on the verified address.
	{name: "deny list hit through the LB", conf: "deny", peer: proxy, headers: xff("192.0.2.5"), addr: "192.0.2.5", want: verdict.Denied},
	{name: "deny list hit by a mapped address", conf: "deny", peer: proxy, headers: xff("::ffff:192.0.2.5"), addr: "::ffff:192.0.2.5", want: verdict.Denied},
	{name: "denied client cannot forge its way out", conf: "deny", peer: "192.0.2.5", headers: xff(victim), addr: "192.0.2.5", want: verdict.Denied},
	{name: "forged denied address is not held against the peer", conf: "deny", peer: attacker, headers: xff("192.0.2.5"), addr: attacker, want: verdict.SpoofAttempt},
	{name: "a v4-mapped deny CIDR matches the IPv4 client", conf: "deny-mapped", peer: proxy, headers: xff("192.0.2.5"), addr: "192.0.2.5", want: verdict.Denied},
	{name: "a v4-mapped deny CIDR matches the mapped client", conf: "deny-mapped", peer: proxy, headers: xff("::ffff:192.0.2.5"), addr: "::ffff:192.0.2.5", want: verdict.Denied},
	{name: "allow/deny never judge a proxy's address", conf: "deny", peer: proxy, headers: xff("10.0.0.3, 10.0.0.2"), addr: "10.0.0.3", want: verdict.Denied},
	{name: "allow/deny never judge the peer a garbage chain left", conf: "deny", peer: proxy, headers: xff("garbage"), addr: proxy, want: verdict.Denied},
	{name: "a unix-socket client is on no allow list", conf: "unix-allow", peer: "unix:", addr: "unix:", want: verdict.Denied},

	// Underscore spellings: nginx's realip ignores them, but Kong's
	// underscores_in_headers passes them and Kong 3.6+ builds the upstream
	// X-Forwarded-For from x_forwarded_for first.
	{name: "untrusted peer sends X_Forwarded_For", conf: "xff", peer: attacker, headers: lines("X_Forwarded_For", victim), addr: attacker, want: verdict.SpoofAttempt},
	{name: "X_Forwarded_For beside the LB's X-Forwarded-For", conf: "xff", peer: proxy, headers: join(lines("X_Forwarded_For", "6.6.6.6"), xff(victim)), addr: victim, want: verdict.Smuggled},
	{name: "x-forwarded_for, mixed spelling", conf: "xff-rec", peer: proxy, headers: join(lines("x-forwarded_for", "6.6.6.6"), xff(victim)), addr: victim, want: verdict.Smuggled},
	{name: "X_Real_IP behind the LB", conf: "xrip", peer: proxy, headers: join(lines("X_Real_IP", "6.6.6.6"), xrip(victim)), addr: victim, want: verdict.Smuggled},
	{name: "the configured header with an underscore", conf: "custom", peer: proxy, headers: join(lines("CF_Connecting_IP", "6.6.6.6"), lines("CF-Connecting-IP", victim)), addr: victim, want: verdict.Smuggled},
	{name: "an unrelated underscore header is nothing", conf: "xff", peer: proxy, headers: join(lines("X_Request_Id", "abc"), xff(victim)), addr: victim, want: verdict.OK},

	// Kong's get_headers returns 1000 lines at most: the source may hide
	// beyond them, so the request cannot be judged, and allow/deny must
	// not pass it.
	{name: "over 1000 lines hide the Forwarded source", conf: "fwd", peer: proxy, headers: join(lines("X-Junk", repeat("x", 1000)...), fwdh("for="+victim)), kong: proxy, addr: proxy, want: verdict.Malformed},
	{name: "over 1000 lines: a denied client cannot pass", conf: "fwd-deny", peer: proxy, headers: join(lines("X-Junk", repeat("x", 1000)...), fwdh("for=192.0.2.5")), kong: proxy, addr: proxy, want: verdict.Denied},
	// Kong's nginx walked every line; the plugin saw the first 1000.
	{name: "over 1000 lines hide X-Forwarded-For lines", conf: "xff", peer: proxy, headers: join(xff("6.6.6.6"), lines("X-Junk", repeat("x", 1000)...), xff(victim)), kong: victim, addr: "6.6.6.6", want: verdict.ConfigDrift},
}

// judgeRow runs a row through the one evaluation the handler and explain
// use, with the facts Kong would give: at most MaxHeaders header lines.
func judgeRow(t *testing.T, pol *guardconf.Policy, row spoofRow) (realip.Result, verdict.Outcome) {
	var f evaluate.Facts
	require.NoError(t, f.SetPeer(row.peer))
	if row.peer != "unix:" {
		f.SetPeerPort(peerPort)
	}
	source := pol.Resolver.HeaderName()
	for i, h := range row.headers {
		if i == evaluate.MaxHeaders {
			break
		}
		f.AddHeader(source, []byte(h.Name), []byte(h.Value))
	}
	if row.proxy != nil {
		f.SetProxy(row.proxy.SrcAddr, row.proxy.SrcPort)
	}
	kong := row.kong
	if kong == "" {
		kong = row.addr
	}
	f.SetKong(kong)
	ev := evaluate.Evaluate(pol, &f, nil)
	return ev.Result, ev.Outcome
}

func TestSpoofTable(t *testing.T) {
	require.GreaterOrEqual(t, len(spoofRows), 40)
	policies := map[string]*guardconf.Policy{}
	for name, c := range spoofConfigs {
		p, err := guardconf.Compile(c)
		require.NoError(t, err, name)
		policies[name] = p
	}
	seen := map[string]bool{}
	for _, row := range spoofRows {
		require.False(t, seen[row.name], "duplicate row %q", row.name)
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			pol, ok := policies[row.conf]
			require.True(t, ok, "config %q", row.conf)
			res, out := judgeRow(t, pol, row)
			got := "unix:"
			if !res.Unix {
				got = realip.FormatAddr(res.Addr)
			}
			assert.Equal(t, row.addr, got, "$remote_addr")
			wantPort := row.port
			if row.addr == row.peer && row.peer != "unix:" {
				wantPort = peerPort
			}
			assert.Equal(t, wantPort, res.Port, "$remote_port")
			assert.Equal(t, row.want.String(), out.Verdict.String(), "verdict (reasons %v)", out.Reasons.Names())
			// Whatever the input, the peer slot is the connection's.
			if row.peer != "unix:" {
				assert.Equal(t, netip.MustParseAddr(row.peer), res.PeerAddr)
			}
			// An untrusted peer's data never moves $remote_addr.
			if !res.PeerTrusted {
				assert.Equal(t, realip.Declined, res.Status)
			}
		})
	}
}

// TestSpoofTableThroughHandler replays the rows that fit one Kong
// conversation (header sources, IP peers) through the handler itself, in
// monitor mode with log_when=all, and checks the record's client_ip and
// verdict.
func TestSpoofTableThroughHandler(t *testing.T) {
	for _, row := range spoofRows {
		if row.proxy != nil || row.conf == "pp" || len(row.headers) > evaluate.MaxHeaders {
			// The mock's get_headers reply is a map: it cannot cut the
			// lines where Kong does (TestAccessResolution covers the cap).
			continue
		}
		t.Run(row.name, func(t *testing.T) {
			cfg := config(t, withLogAll(t, spoofConfigs[row.conf]))
			h := map[string][]string{}
			for _, l := range row.headers {
				k := strings.ToLower(l.Name)
				h[k] = append(h[k], l.Value)
			}
			kong := row.kong
			if kong == "" {
				kong = row.addr
			}
			cv := script(getIP(row.peer), getHeaders(h), getForwardedIP(kong), step{method: "kong.log.notice", check: func(tt assert.TestingT, a []byte) {
				r, ok := decodeNotice(tt, a)
				if !ok {
					return
				}
				assert.Equal(tt, row.addr, r.ClientIP, "client_ip")
				assert.Equal(tt, int(row.port), r.ClientPort, "client_port")
				assert.Equal(tt, row.want.String(), r.Verdict, "verdict")
			}})
			cfg.Access(cv.pdk())
			cv.finish(t)
		})
	}
}

// TestSpoofTableThroughExplain: kongconf explain, given the row's request
// as raw header lines and the row's config as both the node's settings and
// the plugin's, gives nginx's address, the plugin's client address and the
// verdict of the row. Rows it cannot express are skipped: values holding
// CR, LF or NUL (not one header line), and config drift, which needs node
// settings that differ from the plugin's.
func TestSpoofTableThroughExplain(t *testing.T) {
	for _, row := range spoofRows {
		if strings.ContainsAny(joinValues(row.headers), "\r\n\x00") || strings.HasPrefix(row.name, "drift") {
			continue
		}
		t.Run(row.name, func(t *testing.T) {
			c := spoofConfigs[row.conf]
			plugin, err := json.Marshal(c)
			require.NoError(t, err)
			in := explain.Input{
				TrustedIPs: c.TrustedIPs, RealIPHeader: c.RealIPHeader, RealIPRecursive: c.RealIPRecursive,
				Plugin: string(plugin), Peer: row.peer,
			}
			if row.peer != "unix:" {
				in.Peer = netip.AddrPortFrom(netip.MustParseAddr(row.peer), peerPort).String()
			}
			if row.proxy != nil {
				in.ProxyProtocol = netip.AddrPortFrom(netip.MustParseAddr(row.proxy.SrcAddr), row.proxy.SrcPort).String()
			}
			for _, h := range row.headers {
				in.Headers = append(in.Headers, h.Name+": "+h.Value)
			}
			rep, err := explain.Run(in)
			require.NoError(t, err)
			kong := row.kong
			if kong == "" {
				kong = row.addr
			}
			assert.Equal(t, kong, rep.RemoteAddr, "nginx's $remote_addr")
			assert.Equal(t, row.addr, rep.ClientIP, "the plugin's client address")
			assert.Equal(t, row.want.String(), rep.Verdict, "verdict (reasons %v)", rep.Reasons)
		})
	}
}

func joinValues(hs []realip.Header) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.Value)
	}
	return b.String()
}

// withLogAll renders c as Kong would send it, with log_when=all.
func withLogAll(t *testing.T, c *guardconf.Config) string {
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["log_when"] = "all"
	b, err = json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}
