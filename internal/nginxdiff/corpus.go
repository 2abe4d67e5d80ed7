package nginxdiff

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// CorpusTokens are the single header values the fixed corpus sends under
// every header kind, recursive on and off, from a trusted peer; each sits
// on one edge of nginx's address grammar or walk.
var CorpusTokens = []string{
	"1.2.3.4", ",1.2.3.4", "1.2.3.4,", " ,1.2.3.4", "1..2.3", "010.1.1.1", "255.255.255.255", "0.0.0.0",
	"[::1]:80", "[1.2.3.4]:80", "[::1]", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:080", "1.2.3.4:65535",
	"fe80::1%eth0", "::ffff:1.2.3.4", "::203", "::1.2.3.4", "::0.0.1.2", "::ffff:0.0.0.1", "", ",", " , ",
	"9.9.9.9, 1.2.3.4", "9.9.9.9,127.0.0.1", "9.9.9.9 127.0.0.1 ::1", "garbage, 127.0.0.1", "127.0.0.1, garbage",
	"9.9.9.9, 1.2.3.4:99999", "1.1.1.1,,2.2.2.2", "2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001",
}

// FindVariant returns the variant of vs named name; it panics on a name
// BuildVariants never makes (a test's typo).
func FindVariant(vs []*Variant, name string) *Variant {
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	panic("nginxdiff: no variant " + name)
}

// Headers makes header lines from name, value pairs, in order.
func Headers(kv ...string) []realip.Header {
	var hs []realip.Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, realip.Header{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

func chain(n int, left, fill string) string {
	parts := make([]string, 0, n)
	if left != "" {
		parts = append(parts, left)
	}
	for len(parts) < n {
		parts = append(parts, fill)
	}
	return strings.Join(parts, ", ")
}

// Corpus returns the fixed cases. vs must come from BuildVariants.
func Corpus(vs []*Variant) []*Case {
	var out []*Case
	lo := netip.MustParseAddr("127.0.0.1")
	add := func(name, variant string, listener int, src netip.Addr, proxy []byte, hs []realip.Header) {
		out = append(out, &Case{Name: name, Variant: FindVariant(vs, variant), Listener: listener, Source: src, Proxy: proxy, Headers: hs})
	}
	// Every edge token under every header kind, from a trusted peer, plus
	// the trust-everything set.
	for _, ts := range []string{"mixed", "all"} {
		for _, h := range []string{"X-Real-IP", "X-Forwarded-For", "CF-Connecting-IP"} {
			for _, rec := range []string{"off", "on"} {
				for _, tok := range CorpusTokens {
					v := fmt.Sprintf("%s/%s/recursive-%s", ts, h, rec)
					add(fmt.Sprintf("token %q", tok), v, ListenV4, lo, nil, Headers(h, tok))
				}
			}
		}
	}
	for _, rec := range []string{"off", "on"} {
		m := "mixed/X-Forwarded-For/recursive-" + rec
		add("two XFF lines, last trusted", m, ListenV4, lo, nil, Headers("X-Forwarded-For", "9.9.9.9", "X-Forwarded-For", "127.0.0.1"))
		add("three XFF lines, middle garbage", m, ListenV4, lo, nil, Headers("X-Forwarded-For", "8.8.8.8", "X-Forwarded-For", "junk, 10.0.0.1", "X-Forwarded-For", "10.0.0.2"))
		add("XFF lines in other cases", m, ListenV4, lo, nil, Headers("x-forwarded-for", "9.9.9.9", "X-FORWARDED-FOR", "127.0.0.1, 10.1.1.1"))
		add("XFF empty last line", m, ListenV4, lo, nil, Headers("X-Forwarded-For", "9.9.9.9", "X-Forwarded-For", ""))
		add("XFF underscore name", m, ListenV4, lo, nil, Headers("X_Forwarded_For", "9.9.9.9"))
		add("two X-Real-IP lines", "mixed/X-Real-IP/recursive-"+rec, ListenV4, lo, nil, Headers("X-Real-IP", "1.1.1.1", "x-real-ip", "2.2.2.2"))
		add("custom header two lines", "mixed/CF-Connecting-IP/recursive-"+rec, ListenV4, lo, nil, Headers("cf-connecting-ip", "1.1.1.1", "CF-Connecting-IP", "2.2.2.2"))
		add("lower-case x-forwarded-for is custom: first line", "mixed/x-forwarded-for/recursive-"+rec, ListenV4, lo, nil,
			Headers("X-Forwarded-For", "9.9.9.9, 127.0.0.1", "X-Forwarded-For", "8.8.8.8"))
		add("500-entry chain, leftmost untrusted", m, ListenV4, lo, nil, Headers("X-Forwarded-For", chain(500, "1.1.1.1", "127.0.0.1")))
		add("500-entry chain, all trusted", m, ListenV4, lo, nil, Headers("X-Forwarded-For", chain(500, "", "10.9.8.7")))
		add("500-entry chain of mixed spellings", "all/X-Forwarded-For/recursive-"+rec, ListenV4, lo, nil,
			Headers("X-Forwarded-For", chain(500, "garbage", "[2001:db8::1]:8080")))
		add("IPv6 peer trusted", m, ListenV6, netip.IPv6Loopback(), nil, Headers("X-Forwarded-For", "1.1.1.1, 2001:db8::7"))
		add("IPv6 peer not trusted", "narrow/X-Forwarded-For/recursive-"+rec, ListenV6, netip.IPv6Loopback(), nil, Headers("X-Forwarded-For", "1.1.1.1"))
		add("mapped entry does not match IPv4 peer", "narrow/X-Real-IP/recursive-"+rec, ListenV4, netip.MustParseAddr("127.0.0.9"), nil, Headers("X-Real-IP", "1.1.1.1"))
		add("IPv4-mapped peer matches IPv4 entry", "mixed/X-Real-IP/recursive-"+rec, ListenMapped, lo, nil, Headers("X-Real-IP", "1.1.1.1"))
		add("IPv4-mapped peer vs mapped IPv6 entry", "narrow/X-Real-IP/recursive-"+rec, ListenMapped, netip.MustParseAddr("127.0.0.9"), nil, Headers("X-Real-IP", "1.1.1.1"))
		add("IPv4-mapped peer, trust all", "all/X-Forwarded-For/recursive-"+rec, ListenMapped, netip.MustParseAddr("127.3.3.3"), nil, Headers("X-Forwarded-For", "::ffff:1.2.3.4, 127.0.0.1"))
		add("IPv4-mapped peer, PROXY v1", "wide/proxy_protocol/recursive-"+rec, ListenMappedProxy, netip.MustParseAddr("127.3.3.3"), []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), nil)
		add("CIDR with host bits", "wide/X-Real-IP/recursive-"+rec, ListenV4, netip.MustParseAddr("127.45.6.7"), nil, Headers("X-Real-IP", "1.1.1.1:4321"))
		add("untrusted 127 peer", "mixed/X-Real-IP/recursive-"+rec, ListenV4, netip.MustParseAddr("127.0.0.8"), nil, Headers("X-Real-IP", "1.1.1.1"))
		add("no trusted_ips: module off", "none/X-Forwarded-For/recursive-"+rec, ListenV4, lo, nil, Headers("X-Forwarded-For", "1.1.1.1"))

		p := "mixed/proxy_protocol/recursive-" + rec
		src := netip.MustParseAddrPort("203.0.113.9:5555")
		dst := netip.MustParseAddrPort("10.0.0.1:443")
		add("PROXY v1 TCP4", p, ListenV4Proxy, lo, []byte("PROXY TCP4 203.0.113.9 10.0.0.1 5555 443\r\n"), Headers("X-Real-IP", "1.1.1.1"))
		add("PROXY v1 TCP6", p, ListenV6Proxy, netip.IPv6Loopback(), []byte("PROXY TCP6 2001:DB8::9 ::1 5555 443\r\n"), nil)
		add("PROXY v1 leading zeros", p, ListenV4Proxy, lo, []byte("PROXY TCP4 010.1.1.1 10.0.0.1 05555 443\r\n"), nil)
		add("PROXY v1 broadcast", p, ListenV4Proxy, lo, []byte("PROXY TCP4 255.255.255.255 10.0.0.1 5555 443\r\n"), nil)
		add("PROXY v1 port 0", p, ListenV4Proxy, lo, []byte("PROXY TCP4 1.2.3.4 10.0.0.1 0 443\r\n"), nil)
		add("PROXY v1 empty source", p, ListenV4Proxy, lo, []byte("PROXY TCP4  10.0.0.1 1 443\r\n"), nil)
		add("PROXY v1 trusted source, recursive", p, ListenV4Proxy, lo, []byte("PROXY TCP4 10.1.1.1 10.0.0.1 1 443\r\n"), nil)
		add("PROXY v1 UNKNOWN", p, ListenV4Proxy, lo, []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), nil)
		add("PROXY v2 TCP4", p, ListenV4Proxy, lo, ProxyV2(0x21, 0x11, src, dst, nil), nil)
		add("PROXY v2 TCP6", p, ListenV6Proxy, netip.IPv6Loopback(), ProxyV2(0x21, 0x21, netip.MustParseAddrPort("[2001:db8::9]:7"), netip.MustParseAddrPort("[::1]:443"), nil), nil)
		add("PROXY v2 mapped", p, ListenV4Proxy, lo, ProxyV2(0x21, 0x21, netip.MustParseAddrPort("[::ffff:1.2.3.4]:7"), netip.MustParseAddrPort("[::1]:443"), nil), nil)
		add("PROXY v2 compat ::0.0.1.2", p, ListenV4Proxy, lo, ProxyV2(0x21, 0x21, netip.MustParseAddrPort("[::0.0.1.2]:7"), netip.MustParseAddrPort("[::1]:443"), nil), nil)
		add("PROXY v2 LOCAL", p, ListenV4Proxy, lo, ProxyV2(0x20, 0x11, src, dst, nil), nil)
		add("PROXY v2 UDP", p, ListenV4Proxy, lo, ProxyV2(0x21, 0x12, src, dst, nil), nil)
		add("PROXY v2 from untrusted peer", p, ListenV4Proxy, netip.MustParseAddr("127.0.0.8"), ProxyV2(0x21, 0x11, src, dst, nil), nil)
		add("PROXY listener, X-Real-IP config", "mixed/X-Real-IP/recursive-"+rec, ListenV4Proxy, lo, []byte("PROXY TCP4 203.0.113.9 10.0.0.1 5555 443\r\n"), Headers("X-Real-IP", "1.1.1.1"))
		add("proxy_protocol config, plain listener", p, ListenV4, lo, nil, Headers("X-Real-IP", "1.1.1.1"))
	}
	return out
}
