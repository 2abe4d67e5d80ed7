package realip

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/client-ip-guard/client-ip-guard/plugin/forwarded"
)

// FuzzParseAddrPort: the parser never panics, what it accepts prints back
// (as nginx prints $remote_addr) to text that parses to the same address,
// and it agrees with Go's stricter parser wherever both are defined.
func FuzzParseAddrPort(f *testing.F) {
	for _, s := range []string{
		"1.2.3.4", "010.1..1", "...", "255.255.255.255", "1.2.3.4:80", "1.2.3.4:080",
		"::", "::1", ":1::", "1::2:", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
		"[::1]:80", "[1.2.3.4]:80", "[::1]", "[::1]:", "[::1]x80", "fe80::1%eth0",
		"1.2.3.4:80:90", "1.2.3.4:65536", "::1:80", "", "[", ":",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, port, ok := ParseAddrPort(s)
		bare, bareOK := ParseAddr(s)
		if !ok {
			if a.IsValid() || port != 0 {
				t.Fatalf("%q rejected but returned %v port %d", s, a, port)
			}
			if bareOK {
				t.Fatalf("%q: ParseAddr accepts what ParseAddrPort rejects", s)
			}
			return
		}
		if bareOK && (bare != a || port != 0) {
			t.Fatalf("%q: a bare address carries no port, got %v %d", s, a, port)
		}
		if !bareOK && (port == 0 || !strings.Contains(s, ":")) {
			t.Fatalf("%q: accepted only as addr:port yet port %d", s, port)
		}
		if a.Zone() != "" || !(a.Is4() || a.Is6()) {
			t.Fatalf("%q: odd address %#v", s, a)
		}
		text := FormatAddr(a)
		back, ok := ParseAddr(text)
		if strings.HasSuffix(text, "255.255.255.255") {
			// nginx prints ::ffff:ffff as ::255.255.255.255, which its
			// own parser rejects.
			if ok {
				t.Fatalf("%q printed %q parses", s, text)
			}
			return
		}
		if !ok || back != a {
			t.Fatalf("%q -> %v printed %q parses to %v, %v", s, a, text, back, ok)
		}
		if port != 0 {
			withPort := text + ":" + strconv.Itoa(int(port))
			if a.Is6() {
				withPort = "[" + text + "]:" + strconv.Itoa(int(port))
			}
			b2, p2, ok := ParseAddrPort(withPort)
			if !ok || b2 != a || p2 != port {
				t.Fatalf("%q -> %q does not round-trip: %v %d %v", s, withPort, b2, p2, ok)
			}
		}
	})
}

// FuzzParseAddrAgainstNetip: every address Go's netip accepts without a
// zone, nginx accepts with the same value, except the all-ones IPv4
// address nginx cannot tell from its error value.
func FuzzParseAddrAgainstNetip(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::", "::ffff:1.2.3.4", "2001:db8::1", "1:2:3:4:5:6:7:8", "::255.255.255.255", "255.255.255.255"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		if err != nil || want.Zone() != "" {
			return
		}
		got, ok := ParseAddr(s)
		if strings.HasSuffix(s, "255.255.255.255") {
			if ok {
				t.Fatalf("%q: nginx rejects an all-ones IPv4 part", s)
			}
			return
		}
		if strings.HasSuffix(s, "::") && strings.Count(s, ":") == 8 {
			// Seven groups then "::": nginx runs out of groups.
			if ok {
				t.Fatalf("%q: nginx rejects seven groups then ::", s)
			}
			return
		}
		if !ok || got != want {
			t.Fatalf("%q: netip %v, nginx grammar %v (%v)", s, want, got, ok)
		}
	})
}

// fuzzTrusted is the trusted set of FuzzResolve: a v4 range, a v6 range,
// a single address and unix:.
var fuzzTrusted = MustTrusted("10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "unix:")

var fuzzPeers = []netip.AddrPort{
	netip.MustParseAddrPort("10.0.0.1:1000"),
	netip.MustParseAddrPort("198.51.100.1:2000"),
	netip.MustParseAddrPort("[::ffff:10.1.1.1]:3000"),
	netip.MustParseAddrPort("[2001:db8::9]:4000"),
	netip.MustParseAddrPort("[2001:db9::9]:5000"),
	{}, // Unix socket
}

var fuzzHeaders = []string{"X-Forwarded-For", "X-Real-IP", "proxy_protocol", "CF-Connecting-IP", "x-forwarded-for"}

// FuzzResolve: Resolve never panics and its result obeys nginx's rules
// whatever the headers hold.
func FuzzResolve(f *testing.F) {
	f.Add("1.1.1.1, 10.0.0.2", "10.0.0.3", uint8(0), true, uint8(0))
	f.Add("junk, 10.0.0.2", "", uint8(0), true, uint8(0))
	f.Add(",1.2.3.4", "1.1.1.1 10.0.0.2:80", uint8(2), false, uint8(1))
	f.Add("[2001:db8::1]:443", "for=1.1.1.1, for=\"[2001:db8::2]:80\"", uint8(3), true, uint8(5))
	f.Add("1.1.1.1", "2.2.2.2", uint8(1), true, uint8(0))
	f.Add("10.0.0.5:81", "::ffff:10.0.0.3", uint8(5), true, uint8(2))
	f.Add(", ,", "192.0.2.1", uint8(0), false, uint8(3))
	f.Fuzz(func(t *testing.T, v1, v2 string, peerSel uint8, recursive bool, kindSel uint8) {
		var r *Resolver
		header := ""
		if int(kindSel)%(len(fuzzHeaders)+1) == len(fuzzHeaders) {
			r = NewForwardedResolver(fuzzTrusted, recursive)
			header = "Forwarded"
		} else {
			header = fuzzHeaders[int(kindSel)%(len(fuzzHeaders)+1)]
			r = NewResolver(fuzzTrusted, header, recursive)
		}
		name := header
		if r.Kind() == KindProxyProtocol || r.Kind() == KindCustom {
			name = strings.ToUpper(header)
		}
		req := &Request{
			Peer: fuzzPeers[int(peerSel)%len(fuzzPeers)],
			Headers: []Header{
				{Name: name, Value: v1},
				{Name: "X-Other", Value: v2},
				{Name: name, Value: v2},
			},
		}
		if r.Kind() == KindProxyProtocol {
			req.Proxy = &Proxy{SrcAddr: v1, SrcPort: uint16(len(v2))}
		}
		res := r.Resolve(req, nil)

		peerAddr := req.Peer.Addr()
		if res.PeerAddr != peerAddr || res.PeerPort != req.Peer.Port() {
			t.Fatalf("peer changed: %+v", res)
		}
		if !res.PeerTrusted && res.Status != Declined {
			t.Fatalf("untrusted peer yet %+v", res)
		}
		if res.Status == Declined {
			if res.Addr != peerAddr || res.Port != req.Peer.Port() || res.Line != -1 || res.Unix != !req.Peer.IsValid() {
				t.Fatalf("declined but changed: %+v", res)
			}
		} else {
			if !res.Addr.IsValid() || res.Unix || res.Taken < 1 {
				t.Fatalf("replaced with nothing: %+v", res)
			}
			if !resultFromInput(r.Kind(), req, res) {
				t.Fatalf("%v %d is not a token of the input %+v: %+v", res.Addr, res.Port, req, res)
			}
		}
		if res.Malformed != "" && !strings.Contains(v1, res.Malformed) && !strings.Contains(v2, res.Malformed) {
			t.Fatalf("malformed %q is not from the input", res.Malformed)
		}
		var tr Trace
		if again := r.Resolve(req, &tr); again != res {
			t.Fatalf("trace changed the result: %+v vs %+v", again, res)
		}
		if r.Kind() == KindXForwardedFor && recursive && req.Peer.IsValid() {
			a, p := linearResolve(fuzzList, req)
			if a != res.Addr || p != res.Port {
				t.Fatalf("linear walk %v %d, Resolve %+v", a, p, res)
			}
		}
	})
}

var fuzzList = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("192.0.2.1/32"),
}

// resultFromInput reports whether res.Addr and res.Port are what nginx
// would have read from some token of the configured source.
func resultFromInput(k Kind, req *Request, res Result) bool {
	var v string
	if k == KindProxyProtocol {
		if res.Port != req.Proxy.SrcPort || res.Line != -1 {
			return false
		}
		v = req.Proxy.SrcAddr
	} else {
		if res.Line < 0 || res.Line >= len(req.Headers) {
			return false
		}
		v = req.Headers[res.Line].Value
	}
	if k == KindForwarded {
		// Some run of comma-separated pieces (a quoted comma splits an
		// element) is an element whose for= node is the result.
		pieces := strings.Split(v, ",")
		if len(pieces) > 64 {
			pieces = pieces[:64]
		}
		for i := range pieces {
			for j := i + 1; j <= len(pieces); j++ {
				n, err := forwarded.ElementFor(strings.Join(pieces[i:j], ","))
				if err == nil && n.Addr == res.Addr && n.Port == res.Port {
					return true
				}
			}
		}
		return false
	}
	for _, tok := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }) {
		if a, p, ok := ParseAddrPort(tok); ok && a == res.Addr && (p == res.Port || k == KindProxyProtocol) {
			return true
		}
	}
	return false
}
