package realip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expectations follow ngx_http_get_forwarded_addr(_internal) and
// ngx_http_realip_handler in nginx 1.22.1; the multi-line and separator
// cases were also checked by hand against nginx with curl.

// hdrs builds header lines from name, value pairs.
func hdrs(nv ...string) []Header {
	out := make([]Header, 0, len(nv)/2)
	for i := 0; i+1 < len(nv); i += 2 {
		out = append(out, Header{Name: nv[i], Value: nv[i+1]})
	}
	return out
}

// peer parses "addr:port", or "unix" for a Unix-socket peer.
func peer(s string) netip.AddrPort {
	if s == "unix" {
		return netip.AddrPort{}
	}
	return netip.MustParseAddrPort(s)
}

const (
	trustedPeer   = "10.0.0.1:5000"
	untrustedPeer = "192.0.2.1:6000"
)

var defaultTrusted = []string{"10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"}

type resolveCase struct {
	name      string
	trusted   []string // defaultTrusted when nil
	header    string   // real_ip_header
	recursive bool
	peer      string
	headers   []Header
	proxy     *Proxy

	want      string // $remote_addr; "unix" for a Unix peer left alone
	port      uint16
	status    Status
	found     bool
	line      int
	taken     int
	malformed string
}

func (tc resolveCase) run(t *testing.T) {
	t.Helper()
	entries := tc.trusted
	if entries == nil {
		entries = defaultTrusted
	}
	tr := MustTrusted(entries...)
	r := NewResolver(tr, tc.header, tc.recursive)
	req := &Request{Peer: peer(tc.peer), Headers: tc.headers, Proxy: tc.proxy}
	res := r.Resolve(req, nil)

	if tc.want == "unix" {
		assert.True(t, res.Unix, "Unix")
		assert.False(t, res.Addr.IsValid(), "Addr %s", res.Addr)
	} else {
		assert.False(t, res.Unix, "Unix")
		assert.Equal(t, tc.want, FormatAddr(res.Addr), "$remote_addr")
	}
	assert.Equal(t, tc.port, res.Port, "$remote_port")
	assert.Equal(t, tc.status, res.Status, "status")
	assert.Equal(t, tc.status != Declined, res.Replaced(), "Replaced()")
	assert.Equal(t, tc.found, res.Found, "Found")
	assert.Equal(t, tc.line, res.Line, "Line")
	assert.Equal(t, tc.taken, res.Taken, "Taken")
	assert.Equal(t, tc.malformed, res.Malformed, "Malformed")

	// $realip_remote_addr/_port are always the connection's.
	p := req.Peer
	assert.Equal(t, p.Addr(), res.PeerAddr, "PeerAddr")
	assert.Equal(t, p.Port(), res.PeerPort, "PeerPort")
	if p.IsValid() {
		assert.Equal(t, tr.Contains(p.Addr()), res.PeerTrusted, "PeerTrusted")
	} else {
		assert.Equal(t, tr.ContainsUnix(), res.PeerTrusted, "PeerTrusted")
	}
	if res.Status == Declined {
		assert.Equal(t, res.PeerAddr, res.Addr, "declined keeps the peer")
		assert.Equal(t, res.PeerPort, res.Port, "declined keeps the peer port")
		assert.Equal(t, -1, res.Line)
		assert.False(t, res.AddrTrusted)
	} else {
		assert.Equal(t, tr.Contains(res.Addr), res.AddrTrusted, "AddrTrusted")
	}

	// Explaining must not change the answer.
	var trace Trace
	again := r.Resolve(req, &trace)
	assert.Equal(t, res, again, "Resolve with a trace")
	require.NotEmpty(t, trace.Steps)
	assert.Equal(t, -1, trace.Steps[0].Line, "first step is the peer")
	assert.Equal(t, res.PeerTrusted, trace.Steps[0].Trusted)
}

func runResolveCases(t *testing.T, cases []resolveCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
}

func TestResolveXRealIP(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "untrusted peer ignores the header", peer: untrustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1"),
			want:    "192.0.2.1", port: 6000, status: Declined, found: true, line: -1},
		{name: "trusted peer", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "default header is X-Real-IP", header: "", peer: trustedPeer,
			headers: hdrs("X-Forwarded-For", "2.2.2.2", "X-Real-IP", "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 1, taken: 1},
		{name: "port goes to $remote_port", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1:81"),
			want:    "1.1.1.1", port: 81, status: Replaced, found: true, line: 0, taken: 1},
		{name: "bracketed v6 with port", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "[2001:db8::1]:443"),
			want:    "2001:db8::1", port: 443, status: Replaced, found: true, line: 0, taken: 1},
		{name: "rightmost token of a list", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1, 2.2.2.2"),
			want:    "2.2.2.2", status: Replaced, found: true, line: 0, taken: 1},
		{name: "recursive applies to X-Real-IP too", peer: trustedPeer, recursive: true,
			headers: hdrs("X-Real-IP", "1.1.1.1, 10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "first line only", peer: trustedPeer, recursive: true,
			headers: hdrs("X-Real-IP", "1.1.1.1", "X-Real-IP", "2.2.2.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "first line only even if malformed", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "junk", "X-Real-IP", "2.2.2.2"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "junk"},
		{name: "name is case-insensitive", peer: trustedPeer,
			headers: hdrs("x-REAL-ip", "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "absent", peer: trustedPeer,
			headers: hdrs("X-Forwarded-For", "1.1.1.1", "X-Real-IPs", "2.2.2.2"),
			want:    "10.0.0.1", port: 5000, status: Declined, line: -1},
		{name: "no headers at all", peer: trustedPeer,
			want: "10.0.0.1", port: 5000, status: Declined, line: -1},
		{name: "empty value", peer: trustedPeer,
			headers: hdrs("X-Real-IP", ""),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1},
		{name: "malformed", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1, 2.2.2.2:0"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "2.2.2.2:0"},
		{name: "bare bracketed v6 is malformed before 1.27.3", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "[2001:db8::1]"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "[2001:db8::1]"},
		{name: "zone is malformed", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "fe80::1%eth0"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "fe80::1%eth0"},
		{name: "nothing trusted", trusted: []string{}, peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1},
		{name: "nginx grammar, not Go's", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "010.1..1"),
			want:    "10.1.0.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "255.255.255.255 is malformed", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "255.255.255.255"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "255.255.255.255"},
	})
}

func TestResolveXForwardedFor(t *testing.T) {
	const xff = "X-Forwarded-For"
	runResolveCases(t, []resolveCase{
		{name: "untrusted peer", header: xff, peer: untrustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, 10.0.0.2"),
			want:    "192.0.2.1", port: 6000, status: Declined, found: true, line: -1},
		{name: "non-recursive takes the rightmost, unchecked", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "10.0.0.5, 3.3.3.3"),
			want:    "3.3.3.3", status: Replaced, found: true, line: 0, taken: 1},
		{name: "non-recursive stops at a trusted rightmost", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "3.3.3.3, 10.0.0.5"),
			want:    "10.0.0.5", status: Replaced, found: true, line: 0, taken: 1},
		{name: "non-recursive last line only", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "1.1.1.1", "X-Other", "x", xff, "2.2.2.2, 3.3.3.3"),
			want:    "3.3.3.3", status: Replaced, found: true, line: 2, taken: 1},
		{name: "non-recursive malformed last line", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "1.1.1.1", xff, "junk"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "junk"},
		{name: "recursive first untrusted from the right", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, 2.2.2.2, 10.0.0.3"),
			want:    "2.2.2.2", status: Stopped, found: true, line: 0, taken: 2},
		{name: "recursive all trusted gives the leftmost", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "10.0.0.9, 10.0.0.3"),
			want:    "10.0.0.9", status: Replaced, found: true, line: 0, taken: 2},
		{name: "recursive client then proxies", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, 10.0.0.2, 10.0.0.3"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 3},
		{name: "recursive malformed after a hop keeps the last taken", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, junk, 10.0.0.3:8080"),
			want:    "10.0.0.3", port: 8080, status: Stopped, found: true, line: 0, taken: 1, malformed: "junk"},
		{name: "recursive malformed rightmost", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, junk"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "junk"},
		{name: "recursive ports follow the address", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1:1111, 10.0.0.2:2222"),
			want:    "1.1.1.1", port: 1111, status: Replaced, found: true, line: 0, taken: 2},
		{name: "recursive through a v6 proxy", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "[2001:db8::7]:4711, [2001:db8:ffff::1]:443"),
			want:    "2001:db8::7", port: 4711, status: Replaced, found: true, line: 0, taken: 2},
		// The leftmost token ends the walk before its own trust check.
		{name: "commas, spaces and empty entries", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1,,10.0.0.2 ,, "),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "space alone separates", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1 10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "trailing separators non-recursive", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "1.1.1.1, 2.2.2.2,, ,"),
			want:    "2.2.2.2", status: Replaced, found: true, line: 0, taken: 1},
		{name: "leading comma is not a separator", header: xff, peer: trustedPeer,
			headers: hdrs(xff, ",1.2.3.4"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: ",1.2.3.4"},
		{name: "leading comma stops a recursive walk", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, ", 10.0.0.2"),
			want:    "10.0.0.2", status: Stopped, found: true, line: 0, taken: 1, malformed: ","},
		{name: "leading space is not a separator", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, " 10.0.0.2"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: " 10.0.0.2"},
		{name: "only separators", header: xff, peer: trustedPeer,
			headers: hdrs(xff, ", ,"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: ","},
		{name: "tab is not a separator", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "1.1.1.1,\t2.2.2.2"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "\t2.2.2.2"},
		// Multiple lines, recursive (each checked with nginx by hand).
		{name: "lines: whole last line trusted, continue", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, 10.0.0.1", xff, "10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 3},
		{name: "lines: stop inside the last line", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1", xff, "2.2.2.2, 10.0.0.2"),
			want:    "2.2.2.2", status: Stopped, found: true, line: 1, taken: 2},
		{name: "lines: last line all trusted, previous one client", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1", xff, "10.0.0.3, 10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 3},
		{name: "lines: malformed inside the last line", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1", xff, "junk, 10.0.0.2"),
			want:    "10.0.0.2", status: Stopped, found: true, line: 1, taken: 1, malformed: "junk"},
		{name: "lines: malformed previous line", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "junk", xff, "10.0.0.3, 10.0.0.2"),
			want:    "10.0.0.3", status: Stopped, found: true, line: 1, taken: 2, malformed: "junk"},
		{name: "lines: every line trusted", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "10.0.0.9", xff, "10.0.0.3, 10.0.0.2"),
			want:    "10.0.0.9", status: Replaced, found: true, line: 0, taken: 3},
		{name: "lines: empty last line", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "10.0.0.5", xff, ""),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1},
		{name: "lines: empty previous line", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "", xff, "10.0.0.5:81"),
			want:    "10.0.0.5", port: 81, status: Stopped, found: true, line: 1, taken: 1},
		{name: "lines: mapped proxy continues to v4 client", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1:81", xff, "::ffff:10.0.0.3"),
			want:    "1.1.1.1", port: 81, status: Replaced, found: true, line: 0, taken: 2},
		{name: "lines: other headers between", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1", "X-Real-IP", "9.9.9.9", "x-forwarded-for", "10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "lines: non-recursive ignores earlier lines", header: xff, peer: trustedPeer,
			headers: hdrs(xff, "1.1.1.1", xff, "10.0.0.2"),
			want:    "10.0.0.2", status: Replaced, found: true, line: 1, taken: 1},
		{name: "absent", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs("X-Real-IP", "1.1.1.1", "Forwarded", "for=1.1.1.1"),
			want:    "10.0.0.1", port: 5000, status: Declined, line: -1},
		{name: "name is case-insensitive", header: xff, peer: trustedPeer,
			headers: hdrs("X-FORWARDED-for", "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
	})
}

func TestResolveCustomHeader(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "first line only", header: "CF-Connecting-IP", peer: trustedPeer,
			headers: hdrs("cf-connecting-ip", "1.1.1.1", "CF-Connecting-IP", "2.2.2.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "configured name is case-insensitive too", header: "cf-CONNECTING-ip", peer: trustedPeer,
			headers: hdrs("CF-Connecting-IP", "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "lower-case x-forwarded-for is a custom header: first line", header: "x-forwarded-for",
			peer: trustedPeer, recursive: true,
			headers: hdrs("X-Forwarded-For", "1.1.1.1, 10.0.0.2", "X-Forwarded-For", "10.0.0.3"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "lower-case x-forwarded-for non-recursive", header: "x-forwarded-for", peer: trustedPeer,
			headers: hdrs("X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "2.2.2.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "PROXY_PROTOCOL is a header name", header: "PROXY_PROTOCOL", peer: trustedPeer,
			proxy: &Proxy{SrcAddr: "1.1.1.1", SrcPort: 1},
			want:  "10.0.0.1", port: 5000, status: Declined, line: -1},
		{name: "PROXY_PROTOCOL header read", header: "PROXY_PROTOCOL", peer: trustedPeer,
			proxy:   &Proxy{SrcAddr: "1.1.1.1", SrcPort: 1},
			headers: hdrs("Proxy_Protocol", "2.2.2.2"),
			want:    "2.2.2.2", status: Replaced, found: true, line: 0, taken: 1},
		{name: "Forwarded as a custom header is malformed", header: "Forwarded", peer: trustedPeer,
			headers: hdrs("Forwarded", "for=1.1.1.1"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "for=1.1.1.1"},
		{name: "untrusted peer", header: "True-Client-IP", peer: untrustedPeer,
			headers: hdrs("True-Client-IP", "1.1.1.1"),
			want:    "192.0.2.1", port: 6000, status: Declined, found: true, line: -1},
		{name: "absent", header: "True-Client-IP", peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1"),
			want:    "10.0.0.1", port: 5000, status: Declined, line: -1},
	})
}

func TestResolveProxyProtocol(t *testing.T) {
	const pp = "proxy_protocol"
	runResolveCases(t, []resolveCase{
		{name: "no PROXY data", header: pp, peer: trustedPeer,
			headers: hdrs("X-Real-IP", "1.1.1.1", "X-Forwarded-For", "2.2.2.2"),
			want:    "10.0.0.1", port: 5000, status: Declined, line: -1},
		{name: "untrusted peer", header: pp, peer: untrustedPeer,
			proxy: &Proxy{SrcAddr: "1.1.1.1", SrcPort: 4444},
			want:  "192.0.2.1", port: 6000, status: Declined, found: true, line: -1},
		{name: "trusted peer", header: pp, peer: trustedPeer,
			proxy: &Proxy{SrcAddr: "1.1.1.1", SrcPort: 4444},
			want:  "1.1.1.1", port: 4444, status: Replaced, found: true, line: -1, taken: 1},
		{name: "recursive changes nothing", header: pp, peer: trustedPeer, recursive: true,
			proxy:   &Proxy{SrcAddr: "1.1.1.1", SrcPort: 4444},
			headers: hdrs("X-Forwarded-For", "2.2.2.2"),
			want:    "1.1.1.1", port: 4444, status: Replaced, found: true, line: -1, taken: 1},
		{name: "trusted source is still taken", header: pp, peer: trustedPeer, recursive: true,
			proxy: &Proxy{SrcAddr: "10.9.9.9", SrcPort: 1},
			want:  "10.9.9.9", port: 1, status: Replaced, found: true, line: -1, taken: 1},
		{name: "v6 source", header: pp, peer: trustedPeer,
			proxy: &Proxy{SrcAddr: "2001:DB8::1", SrcPort: 65535},
			want:  "2001:db8::1", port: 65535, status: Replaced, found: true, line: -1, taken: 1},
		{name: "source port 0", header: pp, peer: trustedPeer,
			proxy: &Proxy{SrcAddr: "1.1.1.1"},
			want:  "1.1.1.1", status: Replaced, found: true, line: -1, taken: 1},
		{name: "PROXY port wins over a port in the text", header: pp, peer: trustedPeer,
			proxy: &Proxy{SrcAddr: "1.1.1.1:80", SrcPort: 5},
			want:  "1.1.1.1", port: 5, status: Replaced, found: true, line: -1, taken: 1},
		{name: "unparsable source", header: pp, peer: trustedPeer,
			proxy: &Proxy{SrcAddr: "1.2.3", SrcPort: 5},
			want:  "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "1.2.3"},
		{name: "unix peer trusted", header: pp, peer: "unix", trusted: []string{"unix:"},
			proxy: &Proxy{SrcAddr: "1.1.1.1", SrcPort: 7},
			want:  "1.1.1.1", port: 7, status: Replaced, found: true, line: -1, taken: 1},
	})
}

func TestResolvePeers(t *testing.T) {
	const xff = "X-Forwarded-For"
	runResolveCases(t, []resolveCase{
		{name: "mapped peer matches v4 entry", header: xff, peer: "[::ffff:10.0.0.1]:5000",
			headers: hdrs(xff, "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "mapped peer misses ::/0", header: xff, peer: "[::ffff:10.0.0.1]:5000", trusted: []string{"::/0"},
			headers: hdrs(xff, "1.1.1.1"),
			want:    "::ffff:10.0.0.1", port: 5000, status: Declined, found: true, line: -1},
		{name: "mapped peer misses ::ffff:0:0/96", header: xff, peer: "[::ffff:10.0.0.1]:5000",
			trusted: []string{"::ffff:0:0/96"},
			headers: hdrs(xff, "1.1.1.1"),
			want:    "::ffff:10.0.0.1", port: 5000, status: Declined, found: true, line: -1},
		{name: "v6 peer", header: xff, peer: "[2001:db8:ffff::9]:443",
			headers: hdrs(xff, "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "mapped token walks v4 entries", header: xff, peer: trustedPeer, recursive: true,
			headers: hdrs(xff, "1.1.1.1, ::ffff:10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "mapped token not trusted by ::/0", header: xff, peer: trustedPeer, recursive: true,
			trusted: []string{"10.0.0.1", "::/0"},
			headers: hdrs(xff, "1.1.1.1, ::ffff:10.0.0.2"),
			want:    "::ffff:10.0.0.2", status: Stopped, found: true, line: 0, taken: 1},
		{name: "unix peer, unix: trusted", header: xff, peer: "unix", trusted: []string{"unix:"},
			headers: hdrs(xff, "1.1.1.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 1},
		{name: "unix peer, unix: not trusted", header: xff, peer: "unix", trusted: []string{"0.0.0.0/0", "::/0"},
			headers: hdrs(xff, "1.1.1.1"),
			want:    "unix", status: Declined, found: true, line: -1},
		{name: "unix peer, malformed", header: xff, peer: "unix", trusted: []string{"unix:"},
			headers: hdrs(xff, "nope"),
			want:    "unix", status: Declined, found: true, line: -1, malformed: "nope"},
		{name: "unix peer, recursive", header: xff, peer: "unix", recursive: true,
			trusted: []string{"unix:", "10.0.0.0/8"},
			headers: hdrs(xff, "1.1.1.1, 10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "unix: does not trust tokens", header: xff, peer: "unix", recursive: true,
			trusted: []string{"unix:"},
			headers: hdrs(xff, "1.1.1.1, 10.0.0.2"),
			want:    "10.0.0.2", status: Stopped, found: true, line: 0, taken: 1},
	})
}

func TestResolveForwarded(t *testing.T) {
	const fwd = "Forwarded"
	cases := []resolveCase{
		{name: "rightmost node, non-recursive", peer: trustedPeer,
			headers: hdrs(fwd, "for=1.1.1.1;proto=https, for=10.0.0.2"),
			want:    "10.0.0.2", status: Replaced, found: true, line: 0, taken: 1},
		{name: "recursive", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, "for=1.1.1.1;proto=https, for=10.0.0.2;by=10.0.0.1"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "untrusted peer", peer: untrustedPeer, recursive: true,
			headers: hdrs(fwd, "for=1.1.1.1"),
			want:    "192.0.2.1", port: 6000, status: Declined, found: true, line: -1},
		{name: "quoted bracketed v6 with port", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, `for="[2001:db8:cafe::17]:4711", for="10.0.0.2:80"`),
			want:    "2001:db8:cafe::17", port: 4711, status: Replaced, found: true, line: 0, taken: 2},
		{name: "unquoted v6 stops", peer: trustedPeer,
			headers: hdrs(fwd, "for=2001:db8::1"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "for=2001:db8::1"},
		{name: "unknown stops after a hop", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, "for=unknown, for=10.0.0.2"),
			want:    "10.0.0.2", status: Stopped, found: true, line: 0, taken: 1, malformed: "for=unknown"},
		{name: "obfuscated rightmost", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, `for=1.1.1.1, for="_hidden:_port"`),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: ` for="_hidden:_port"`},
		{name: "element without for=", peer: trustedPeer,
			headers: hdrs(fwd, "for=1.1.1.1, proto=https"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: " proto=https"},
		{name: "comma inside quotes", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, `for=1.1.1.1;ext="a, b, 9.9.9.9", for=10.0.0.2;ext=", for=10.0.0.3"`),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "empty elements skipped", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, "for=1.1.1.1,, ,for=10.0.0.2, "),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "multiple lines", peer: trustedPeer, recursive: true,
			headers: hdrs(fwd, "for=1.1.1.1", "X-Forwarded-For", "9.9.9.9", "FORWARDED", "for=10.0.0.2"),
			want:    "1.1.1.1", status: Replaced, found: true, line: 0, taken: 2},
		{name: "multiple lines non-recursive", peer: trustedPeer,
			headers: hdrs(fwd, "for=1.1.1.1", fwd, "for=10.0.0.2"),
			want:    "10.0.0.2", status: Replaced, found: true, line: 1, taken: 1},
		{name: "X-Forwarded-For is not read", peer: trustedPeer,
			headers: hdrs("X-Forwarded-For", "1.1.1.1"),
			want:    "10.0.0.1", port: 5000, status: Declined, line: -1},
		{name: "case-insensitive parameter name", peer: trustedPeer,
			headers: hdrs(fwd, `FOR="1.1.1.1:8443"`),
			want:    "1.1.1.1", port: 8443, status: Replaced, found: true, line: 0, taken: 1},
		{name: "nginx grammar does not apply", peer: trustedPeer,
			headers: hdrs(fwd, "for=010.1.1.1"),
			want:    "10.0.0.1", port: 5000, status: Declined, found: true, line: -1, malformed: "for=010.1.1.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := MustTrusted(defaultTrusted...)
			r := NewForwardedResolver(tr, tc.recursive)
			assert.Equal(t, KindForwarded, r.Kind())
			assert.Equal(t, "forwarded", r.HeaderName())
			req := &Request{Peer: peer(tc.peer), Headers: tc.headers}
			res := r.Resolve(req, nil)
			assert.Equal(t, tc.want, FormatAddr(res.Addr), "$remote_addr")
			assert.Equal(t, tc.port, res.Port, "port")
			assert.Equal(t, tc.status, res.Status, "status")
			assert.Equal(t, tc.found, res.Found, "Found")
			assert.Equal(t, tc.line, res.Line, "Line")
			assert.Equal(t, tc.taken, res.Taken, "Taken")
			assert.Equal(t, tc.malformed, res.Malformed, "Malformed")
			var trace Trace
			assert.Equal(t, res, r.Resolve(req, &trace))
		})
	}
}

func TestResolveNilTrusted(t *testing.T) {
	for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "proxy_protocol", "X-Custom"} {
		r := NewResolver(nil, h, true)
		for _, p := range []string{trustedPeer, "unix"} {
			req := &Request{Peer: peer(p), Headers: hdrs(h, "1.1.1.1"), Proxy: &Proxy{SrcAddr: "1.1.1.1", SrcPort: 1}}
			res := r.Resolve(req, nil)
			assert.Equal(t, Declined, res.Status, "%s %s", h, p)
			assert.Equal(t, req.Peer.Addr(), res.Addr)
			assert.False(t, res.PeerTrusted)
		}
	}
}

func TestHeaderKind(t *testing.T) {
	cases := []struct {
		in     string
		kind   Kind
		header string
	}{
		{"", KindXRealIP, "x-real-ip"},
		{"X-Real-IP", KindXRealIP, "x-real-ip"},
		{"X-Forwarded-For", KindXForwardedFor, "x-forwarded-for"},
		{"proxy_protocol", KindProxyProtocol, ""},
		{"x-real-ip", KindCustom, "x-real-ip"},
		{"X-Real-Ip", KindCustom, "x-real-ip"},
		{"x-forwarded-for", KindCustom, "x-forwarded-for"},
		{"X-FORWARDED-FOR", KindCustom, "x-forwarded-for"},
		{"PROXY_PROTOCOL", KindCustom, "proxy_protocol"},
		{"Proxy_Protocol", KindCustom, "proxy_protocol"},
		{"CF-Connecting-IP", KindCustom, "cf-connecting-ip"},
		{"Forwarded", KindCustom, "forwarded"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if tc.in != "" {
				assert.Equal(t, tc.kind, HeaderKind(tc.in))
			}
			r := NewResolver(MustTrusted("10.0.0.0/8"), tc.in, true)
			assert.Equal(t, tc.kind, r.Kind())
			assert.Equal(t, tc.header, r.HeaderName())
			assert.True(t, r.Recursive())
			assert.True(t, r.Trusted().Contains(netip.MustParseAddr("10.1.1.1")))
		})
	}
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "x-real-ip", KindXRealIP.String())
	assert.Equal(t, "x-forwarded-for", KindXForwardedFor.String())
	assert.Equal(t, "proxy_protocol", KindProxyProtocol.String())
	assert.Equal(t, "custom", KindCustom.String())
	assert.Equal(t, "forwarded", KindForwarded.String())
	assert.Equal(t, "unknown", Kind(200).String())
}

func TestResolveTrace(t *testing.T) {
	const xff = "X-Forwarded-For"
	r := NewResolver(MustTrusted(defaultTrusted...), xff, true)

	t.Run("recursive walk to an untrusted client", func(t *testing.T) {
		req := &Request{Peer: peer(trustedPeer), Headers: hdrs(xff, "1.1.1.1", xff, "2.2.2.2:22, 10.0.0.2")}
		var tr Trace
		res := r.Resolve(req, &tr)
		require.Equal(t, "2.2.2.2", FormatAddr(res.Addr))
		require.Len(t, tr.Steps, 4)

		s := tr.Steps
		assert.Equal(t, Step{Line: -1, Addr: netip.MustParseAddr("10.0.0.1"), Port: 5000, Parsed: true, Trusted: true, Note: s[0].Note}, s[0])
		assert.Equal(t, 1, s[1].Line)
		assert.Equal(t, "10.0.0.2", s[1].Token)
		assert.Equal(t, netip.MustParseAddr("10.0.0.2"), s[1].Addr)
		assert.True(t, s[1].Parsed)
		assert.True(t, s[1].Trusted)
		assert.Equal(t, "2.2.2.2:22", s[2].Token)
		assert.Equal(t, uint16(22), s[2].Port)
		assert.True(t, s[2].Parsed)
		assert.False(t, s[2].Trusted)
		// The last step records why the walk stopped: the address taken
		// from line 1 is not trusted, checked before reading line 0.
		assert.Equal(t, 1, s[3].Line)
		assert.Equal(t, uint16(22), s[3].Port)
		assert.Equal(t, netip.MustParseAddr("2.2.2.2"), s[3].Addr)
		assert.False(t, s[3].Trusted)
		for i, st := range s {
			assert.NotEmpty(t, st.Note, "step %d", i)
		}
	})

	t.Run("malformed token", func(t *testing.T) {
		req := &Request{Peer: peer(trustedPeer), Headers: hdrs(xff, "1.1.1.1, bad, 10.0.0.2")}
		var tr Trace
		res := r.Resolve(req, &tr)
		require.Equal(t, Stopped, res.Status)
		require.Len(t, tr.Steps, 3)
		last := tr.Steps[2]
		assert.Equal(t, "bad", last.Token)
		assert.False(t, last.Parsed)
		assert.False(t, last.Addr.IsValid())
		assert.Equal(t, 0, last.Line)
	})

	t.Run("untrusted peer", func(t *testing.T) {
		req := &Request{Peer: peer(untrustedPeer), Headers: hdrs(xff, "1.1.1.1")}
		var tr Trace
		r.Resolve(req, &tr)
		require.Len(t, tr.Steps, 1)
		assert.False(t, tr.Steps[0].Trusted)
		assert.Contains(t, tr.Steps[0].Note, "not trusted")
	})

	t.Run("missing header", func(t *testing.T) {
		var tr Trace
		r.Resolve(&Request{Peer: peer(trustedPeer)}, &tr)
		require.Len(t, tr.Steps, 2)
		assert.Contains(t, tr.Steps[1].Note, "x-forwarded-for")
	})

	t.Run("no PROXY data", func(t *testing.T) {
		var tr Trace
		NewResolver(MustTrusted("10.0.0.0/8"), "proxy_protocol", false).Resolve(&Request{Peer: peer(trustedPeer)}, &tr)
		require.Len(t, tr.Steps, 2)
		assert.True(t, strings.Contains(tr.Steps[1].Note, "PROXY"))
	})
}

// TestResolveNoAllocs: the hot path (trace == nil) must not allocate.
func TestResolveNoAllocs(t *testing.T) {
	tr := MustTrusted("10.0.0.0/8", "2001:db8::/32", "unix:")
	reqs := []struct {
		r   *Resolver
		req *Request
	}{
		{NewResolver(tr, "X-Forwarded-For", true), &Request{Peer: peer(trustedPeer),
			Headers: hdrs("Host", "x", "X-Forwarded-For", "1.1.1.1, 10.0.0.3", "X-Forwarded-For", "[2001:db8::1]:80, 10.0.0.2")}},
		{NewResolver(tr, "X-Forwarded-For", false), &Request{Peer: peer(trustedPeer),
			Headers: hdrs("X-Forwarded-For", "junk")}},
		{NewResolver(tr, "X-Real-IP", false), &Request{Peer: peer(untrustedPeer),
			Headers: hdrs("X-Real-IP", "1.1.1.1")}},
		{NewResolver(tr, "X-Real-IP", false), &Request{Peer: peer(trustedPeer),
			Headers: hdrs("Host", "example")}},
		{NewResolver(tr, "X-Forwarded-For", true), &Request{Peer: peer(trustedPeer)}},
		{NewResolver(tr, "proxy_protocol", true), &Request{Peer: peer(trustedPeer)}},
		{NewResolver(tr, "CF-Connecting-IP", true), &Request{Peer: netip.AddrPort{},
			Headers: hdrs("cf-connecting-ip", "1.1.1.1:5")}},
		{NewResolver(tr, "proxy_protocol", true), &Request{Peer: peer(trustedPeer),
			Proxy: &Proxy{SrcAddr: "2001:db8::5", SrcPort: 9}}},
		{NewForwardedResolver(tr, true), &Request{Peer: peer(trustedPeer),
			Headers: hdrs("Forwarded", `for=1.1.1.1;proto=https, for="[2001:db8::1]:80"`)}},
	}
	for _, c := range reqs {
		res := c.r.Resolve(c.req, nil)
		allocs := testing.AllocsPerRun(200, func() {
			res = c.r.Resolve(c.req, nil)
		})
		assert.Zero(t, allocs, "%s: %+v", c.r.Kind(), res)
	}
}

// TestResolveConcurrent: a Resolver is shared by every request; run with
// -race.
func TestResolveConcurrent(t *testing.T) {
	r := NewResolver(MustTrusted(defaultTrusted...), "X-Forwarded-For", true)
	req := &Request{Peer: peer(trustedPeer), Headers: hdrs("X-Forwarded-For", "1.1.1.1:7, 10.0.0.2", "X-Forwarded-For", "10.0.0.3")}
	want := r.Resolve(req, nil)
	require.Equal(t, "1.1.1.1", FormatAddr(want.Addr))
	done := make(chan Result, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var last Result
			for i := 0; i < 200; i++ {
				last = r.Resolve(req, nil)
				if last != want {
					break
				}
			}
			done <- last
		}()
	}
	for g := 0; g < 8; g++ {
		assert.Equal(t, want, <-done)
	}
}
