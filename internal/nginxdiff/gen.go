package nginxdiff

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// Gen produces random cases from a seed; the same seed and variants give
// the same cases.
type Gen struct {
	r        *rand.Rand
	variants []*Variant
}

// NewGen returns a generator over variants.
func NewGen(seed uint64, variants []*Variant) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), variants: variants}
}

func (g *Gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *Gen) chance(p float64) bool   { return g.r.Float64() < p }

// knownAddrs are addresses that some trusted set contains, so walks go
// past them (or stop at them) often.
var knownAddrs = []string{
	"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.5", "127.0.0.9", "127.200.1.1",
	"10.1.2.3", "192.168.1.1", "203.0.113.7", "172.20.0.1", "100.64.1.1",
	"::1", "2001:db8::5", "2001:db8::1", "fe80::1", "2001:db8:1::9",
	"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:127.0.0.9",
}

// oddTokens are tokens at the edges of nginx's address grammar.
var oddTokens = []string{
	"1..2.3", "010.1.1.1", "255.255.255.255", "0.0.0.0", "1.2.3", "1.2.3.4.5", "1.2.3.256",
	"[::1]:80", "[1.2.3.4]:80", "[::1]", "[2001:db8::1]:443", "[::1]:0", "[::1]:",
	"1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:080", "1.2.3.4:65535", "1.2.3.4:1", "1.2.3.4:", "1.2.3.4:+80", "1.2.3.4:99999999999999999999",
	"fe80::1%eth0", "fe80::1%25eth0", "::ffff:1.2.3.4", "::203", "::1.2.3.4", "::ffff:0:1.2.3.4", "::", ":::", "::1::",
	"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::2::3", "12345::1", "::FFFF:10.0.0.1",
	"0:0:0:0:0:0:0:1", "0000:0000:0000:0000:0000:0000:0000:0001", "::0.0.0.1", "::0.0.1.2", "::ffff:1.2.3", "1:2:3:4:5:6:1.2.3.4",
	"1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4.5", "a.b.c.d", "unknown", "_hidden", "for=1.2.3.4", "\"1.2.3.4\"",
	"1.2.3.4/24", "1.2.3.4;x", "-", "*", "é", "1.2.3.4\t", "\t1.2.3.4", "localhost", "0x7f.0.0.1", "2130706433",
	"1.2.3.04", "01.02.03.04", "1.2.3.0004", "00000000001.2.3.4", "1.2.3.-4",
}

func (g *Gen) randV4() netip.Addr {
	var b [4]byte
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return netip.AddrFrom4(b)
}

func (g *Gen) randV6() netip.Addr {
	var b [16]byte
	for i := range b {
		if g.chance(0.4) {
			b[i] = byte(g.r.IntN(256))
		}
	}
	if g.chance(0.3) {
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	}
	return netip.AddrFrom16(b)
}

// addrText renders an address in one of the spellings nginx accepts.
func (g *Gen) addrText(a netip.Addr) string {
	s := a.String()
	if a.Is6() && !a.Is4In6() {
		switch g.r.IntN(4) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = a.StringExpanded()
		}
	}
	return s
}

// token returns one forwarding-header entry.
func (g *Gen) token() string {
	var a netip.Addr
	switch n := g.r.IntN(100); {
	case n < 35:
		return g.pick(knownAddrs)
	case n < 55:
		a = g.randV4()
	case n < 70:
		a = g.randV6()
	case n < 90:
		return g.pick(oddTokens)
	default:
		// Address with a port, sometimes out of range.
		a = g.randV4()
		if g.chance(0.4) {
			a = g.randV6()
		}
		port := strconv.Itoa(g.r.IntN(70000))
		if a.Is6() {
			return "[" + g.addrText(a) + "]:" + port
		}
		return a.String() + ":" + port
	}
	return g.addrText(a)
}

var separators = []string{", ", ",", " ", " , ", ",,", "  ", ", ,", ",  "}

// value returns a header value: a chain of tokens joined by separators.
func (g *Gen) value() string {
	var n int
	switch x := g.r.IntN(100); {
	case x < 5:
		n = 0
	case x < 70:
		n = 1 + g.r.IntN(3)
	case x < 94:
		n = 4 + g.r.IntN(8)
	default:
		n = 50 + g.r.IntN(451)
	}
	// Some chains are mostly addresses that trusted sets contain, so
	// recursive walks go deep before stopping.
	trustedChain := g.chance(0.3)
	var b strings.Builder
	if g.chance(0.1) {
		b.WriteString(g.pick(separators))
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(g.pick(separators))
		}
		if trustedChain && i > 0 && !g.chance(0.02) {
			b.WriteString(g.pick(knownAddrs[:12]))
		} else {
			b.WriteString(g.token())
		}
	}
	if g.chance(0.1) {
		b.WriteString(g.pick(separators))
	}
	return b.String()
}

// headerNames are sent in many spellings; only some match a variant.
var headerNames = []string{
	"X-Real-IP", "x-real-ip", "X-REAL-IP", "X-Real-Ip",
	"X-Forwarded-For", "x-forwarded-for", "X-FORWARDED-FOR", "X-Forwarded-for",
	"CF-Connecting-IP", "cf-connecting-ip",
	"X_Forwarded_For", "X_Real_IP", "Forwarded", "X-Other",
}

// headers returns the request's forwarding header lines; about half use
// the name the variant reads (in some spelling).
func (g *Gen) headers(v *Variant) []realip.Header {
	n := g.r.IntN(5)
	if g.chance(0.2) {
		n += 3
	}
	own := v.Resolver.HeaderName()
	hs := make([]realip.Header, 0, n)
	for i := 0; i < n; i++ {
		name := g.pick(headerNames)
		if own != "" && g.chance(0.5) {
			name = g.respell(own)
		}
		hs = append(hs, realip.Header{Name: name, Value: g.value()})
	}
	return hs
}

// respell changes the letter case of a header name at random.
func (g *Gen) respell(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && g.chance(0.5) {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// source picks the client's bind address for a listener slot.
func (g *Gen) source(listener int) netip.Addr {
	if IsV6(listener) {
		return netip.IPv6Loopback()
	}
	if g.chance(0.6) {
		return netip.MustParseAddr(g.pick([]string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.5", "127.0.0.9", "127.0.0.8", "127.1.2.3"}))
	}
	return netip.AddrFrom4([4]byte{127, byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(1 + g.r.IntN(254))})
}

// proxyAddrText is a v1 source address: mostly valid, sometimes text that
// passes nginx's PROXY character check but not its address parser.
func (g *Gen) proxyAddrText(v6 bool) string {
	switch n := g.r.IntN(100); {
	case n < 30:
		return g.pick(knownAddrs)
	case n < 80:
		if v6 {
			return g.addrText(g.randV6())
		}
		return g.randV4().String()
	default:
		return g.pick([]string{"", "1.2.3", "010.1.1.1", "255.255.255.255", "0.0.0.0", "::", "::ffff:1.2.3.4",
			"1:2:3:4:5:6:7:8:9", "ABCD::EF", "1.2.3.4.5", ":", ".", "::1.2.3.4", "1..2.3"})
	}
}

// proxyHeader returns a PROXY header for a proxy_protocol listener.
func (g *Gen) proxyHeader() []byte {
	port := func() string {
		switch g.r.IntN(20) {
		case 0:
			return "0"
		case 1:
			return "065535"
		case 2:
			return "65536"
		case 3:
			return ""
		}
		return strconv.Itoa(1 + g.r.IntN(65535))
	}
	switch n := g.r.IntN(100); {
	case n < 45:
		v6 := g.chance(0.4)
		proto := "TCP4"
		if v6 != g.chance(0.1) { // sometimes the family disagrees with the address
			proto = "TCP6"
		}
		return fmt.Appendf(nil, "PROXY %s %s %s %s %s\r\n", proto, g.proxyAddrText(v6), g.proxyAddrText(v6), port(), port())
	case n < 80:
		var src, dst netip.Addr
		fam := byte(0x11)
		if g.chance(0.4) {
			fam = 0x21
			src, dst = g.randV6(), g.randV6()
			if g.chance(0.3) {
				src = netip.MustParseAddr(g.pick([]string{"::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::1.2.3.4", "::0.0.1.2", "fe80::1"}))
			}
		} else {
			src, dst = g.randV4(), g.randV4()
			if g.chance(0.3) {
				src = netip.MustParseAddr(g.pick([]string{"127.0.0.1", "10.1.2.3", "192.168.1.1", "203.0.113.7", "255.255.255.255", "0.0.0.0"}))
			}
		}
		var tlv []byte
		if g.chance(0.3) {
			tlv = []byte{0x04, 0x00, 0x03, 'a', 'b', 'c'}
		}
		return ProxyV2(0x21, fam, netip.AddrPortFrom(src, uint16(g.r.IntN(65536))), netip.AddrPortFrom(dst, uint16(g.r.IntN(65536))), tlv)
	case n < 85:
		return []byte("PROXY UNKNOWN\r\n")
	case n < 90:
		return ProxyV2(0x20, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil)
	default:
		return []byte(g.pick([]string{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
			"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "PROXY TCP4 1.2.3.4:1 5.6.7.8 1 2\r\n",
			"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"}))
	}
}

// Next returns the next random case.
func (g *Gen) Next() *Case {
	c := &Case{Variant: g.variants[g.r.IntN(len(g.variants))]}
	// IPv4 listeners get most cases: only they vary the peer address.
	switch x := g.r.IntN(100); {
	case x < 30:
		c.Listener = ListenV4
	case x < 60:
		c.Listener = ListenV4Proxy
	case x < 70:
		c.Listener = ListenV6
	case x < 80:
		c.Listener = ListenV6Proxy
	case x < 90:
		c.Listener = ListenMapped
	default:
		c.Listener = ListenMappedProxy
	}
	c.Source = g.source(c.Listener)
	if IsProxy(c.Listener) {
		c.Proxy = g.proxyHeader()
	}
	c.Headers = g.headers(c.Variant)
	return c
}
