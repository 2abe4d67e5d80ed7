package forwarded

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseNode(t *testing.T) {
	cases := []struct {
		in      string
		addr    string
		port    uint16
		unknown bool
		obf     string
		obfPort string
		err     error
	}{
		{in: "192.0.2.60", addr: "192.0.2.60"},
		{in: "192.0.2.60:80", addr: "192.0.2.60", port: 80},
		{in: "192.0.2.60:65535", addr: "192.0.2.60", port: 65535},
		{in: "192.0.2.60:08080", addr: "192.0.2.60", port: 8080},
		{in: "[2001:db8:cafe::17]", addr: "2001:db8:cafe::17"},
		{in: "[2001:db8:cafe::17]:4711", addr: "2001:db8:cafe::17", port: 4711},
		{in: "[2001:DB8::1]:1", addr: "2001:db8::1", port: 1},
		{in: "[::ffff:192.0.2.1]", addr: "::ffff:192.0.2.1"},
		{in: "unknown", unknown: true},
		{in: "UNKNOWN", unknown: true},
		{in: "unknown:8080", unknown: true, port: 8080},
		{in: "unknown:_p", unknown: true, obfPort: "_p"},
		{in: "_hidden", obf: "_hidden"},
		{in: "_SEVKISEK", obf: "_SEVKISEK"},
		{in: "_a.b-c_d9", obf: "_a.b-c_d9"},
		{in: "_hidden:_port1", obf: "_hidden", obfPort: "_port1"},
		{in: "_hidden:443", obf: "_hidden", port: 443},
		{in: "192.0.2.60:_p", addr: "192.0.2.60", obfPort: "_p"},
		{in: "[2001:db8::1]:_p.x", addr: "2001:db8::1", obfPort: "_p.x"},

		// IPv6 must be bracketed.
		{in: "2001:db8::1", err: ErrUnquotedIPv6},
		{in: "::1", err: ErrUnquotedIPv6},
		{in: "[1.2.3.4]", err: ErrNode},
		{in: "[2001:db8::1", err: ErrNode},
		{in: "[2001:db8::1]80", err: ErrNode},
		{in: "[fe80::1%eth0]", err: ErrNode},
		{in: "[]", err: ErrNode},
		{in: "[2001:db8::1]:", err: ErrPort},
		// IPv4 is RFC 3986's: no leading zeros, four octets.
		{in: "010.1.1.1", err: ErrNode},
		{in: "1.2.3", err: ErrNode},
		{in: "1..2.3", err: ErrNode},
		{in: "256.1.1.1", err: ErrNode},
		{in: "example.com", err: ErrNode},
		{in: "", err: ErrNode},
		{in: ":80", err: ErrNode},
		// Ports.
		{in: "192.0.2.60:", err: ErrPort},
		{in: "192.0.2.60:0", err: ErrPort},
		{in: "192.0.2.60:65536", err: ErrPort},
		{in: "192.0.2.60:123456", err: ErrPort},
		{in: "192.0.2.60:+80", err: ErrPort},
		{in: "192.0.2.60:8a", err: ErrPort},
		{in: "192.0.2.60:_", err: ErrPort},
		{in: "192.0.2.60:_p!", err: ErrPort},
		// Obfuscated identifiers.
		{in: "_", err: ErrNode},
		{in: "_a b", err: ErrNode},
		{in: "_a/b", err: ErrNode},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			n, err := ParseNode(tc.in)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Equal(t, Node{}, n)
				return
			}
			require.NoError(t, err)
			if tc.addr != "" {
				assert.Equal(t, netip.MustParseAddr(tc.addr), n.Addr)
				assert.True(t, n.IsIP())
			} else {
				assert.False(t, n.IsIP())
			}
			assert.Equal(t, tc.port, n.Port)
			assert.Equal(t, tc.unknown, n.Unknown)
			assert.Equal(t, tc.obf, n.Obfuscated)
			assert.Equal(t, tc.obfPort, n.ObfuscatedPort)
		})
	}
}

func TestParseElement(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    Element
		err     error
		forAddr string
	}{
		{name: "all four", in: "for=192.0.2.60;proto=http;by=203.0.113.43;host=example.com",
			want: Element{HasFor: true, HasBy: true, Proto: "http", Host: "example.com",
				For: Node{Addr: netip.MustParseAddr("192.0.2.60")},
				By:  Node{Addr: netip.MustParseAddr("203.0.113.43")}}},
		{name: "quoted v6 with port", in: `for="[2001:db8:cafe::17]:4711"`,
			want: Element{HasFor: true, For: Node{Addr: netip.MustParseAddr("2001:db8:cafe::17"), Port: 4711}}},
		{name: "quoted v4", in: `for="192.0.2.60"`,
			want: Element{HasFor: true, For: Node{Addr: netip.MustParseAddr("192.0.2.60")}}},
		{name: "case-insensitive names", in: "For=192.0.2.60;PROTO=https;bY=unknown",
			want: Element{HasFor: true, HasBy: true, Proto: "https",
				For: Node{Addr: netip.MustParseAddr("192.0.2.60")}, By: Node{Unknown: true}}},
		{name: "extensions ignored", in: "ext=1;for=_x;x-y=\"a;b,c\"",
			want: Element{HasFor: true, For: Node{Obfuscated: "_x"}}},
		{name: "repeated extension", in: "ext=1;ext=2;for=unknown",
			want: Element{HasFor: true, For: Node{Unknown: true}}},
		{name: "quoted-pair", in: `for="\[2001:db8::1\]:\4\7";host="a\\b"`,
			want: Element{HasFor: true, Host: `a\b`, For: Node{Addr: netip.MustParseAddr("2001:db8::1"), Port: 47}}},
		{name: "escaped quote in a value", in: `host="a\"b";for=unknown`,
			want: Element{HasFor: true, Host: `a"b`, For: Node{Unknown: true}}},
		{name: "semicolon in quotes", in: `host="a;b";for=unknown`,
			want: Element{HasFor: true, Host: "a;b", For: Node{Unknown: true}}},
		{name: "surrounding whitespace", in: " \tfor=unknown ; proto=http\t",
			want: Element{HasFor: true, Proto: "http", For: Node{Unknown: true}}},
		{name: "empty pairs", in: ";for=unknown;;proto=http;",
			want: Element{HasFor: true, Proto: "http", For: Node{Unknown: true}}},
		{name: "by only", in: "by=_proxy",
			want: Element{HasBy: true, By: Node{Obfuscated: "_proxy"}}},

		{name: "unquoted v6", in: "for=[2001:db8::1]", err: ErrSyntax},
		{name: "unquoted bare v6", in: "for=2001:db8::1", err: ErrSyntax},
		{name: "quoted unbracketed v6", in: `for="2001:db8::1"`, err: ErrUnquotedIPv6},
		{name: "unquoted port", in: "for=192.0.2.60:80", err: ErrSyntax},
		{name: "duplicate for", in: "for=192.0.2.1;for=192.0.2.2", err: ErrDuplicate},
		{name: "duplicate for, other case", in: "for=192.0.2.1;FOR=unknown", err: ErrDuplicate},
		{name: "duplicate proto", in: "proto=http;for=unknown;proto=https", err: ErrDuplicate},
		{name: "duplicate host", in: "host=a;host=b", err: ErrDuplicate},
		{name: "duplicate by", in: "by=unknown;by=unknown", err: ErrDuplicate},
		{name: "empty", in: "  ", err: ErrEmpty},
		{name: "no value", in: "for=", err: ErrSyntax},
		{name: "no name", in: "=192.0.2.1", err: ErrSyntax},
		{name: "no equals", in: "for", err: ErrSyntax},
		{name: "bad name", in: "f r=1", err: ErrSyntax},
		{name: "unterminated quote", in: `for="192.0.2.1`, err: ErrQuote},
		{name: "lone quote", in: `for="`, err: ErrQuote},
		{name: "quote then text", in: `for="192.0.2.1"x`, err: ErrQuote},
		{name: "escaped closing quote", in: `for="192.0.2.1\"`, err: ErrQuote},
		{name: "quote in a token", in: `for=192"0.2.1`, err: ErrSyntax},
		{name: "bad node", in: "for=somehost", err: ErrNode},
		{name: "bad by node", in: "for=unknown;by=somehost", err: ErrNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseElement(tc.in)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, e)
		})
	}
}

func TestElementFor(t *testing.T) {
	n, err := ElementFor(`proto=https;for="[2001:db8::1]:443"`)
	require.NoError(t, err)
	assert.Equal(t, Node{Addr: netip.MustParseAddr("2001:db8::1"), Port: 443}, n)

	_, err = ElementFor("proto=https;by=192.0.2.1")
	assert.ErrorIs(t, err, ErrNoFor)

	_, err = ElementFor(";")
	assert.ErrorIs(t, err, ErrNoFor)

	_, err = ElementFor("")
	assert.ErrorIs(t, err, ErrEmpty)

	_, err = ElementFor("for=2001:db8::1")
	assert.Error(t, err)
}

func TestParse(t *testing.T) {
	v4 := func(s string) Node { return Node{Addr: netip.MustParseAddr(s)} }
	cases := []struct {
		name string
		in   string
		want []Element
		err  error
	}{
		{name: "RFC example", in: `for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`,
			want: []Element{
				{HasFor: true, HasBy: true, Proto: "http", For: v4("192.0.2.60"), By: v4("203.0.113.43")},
				{HasFor: true, For: Node{Addr: netip.MustParseAddr("2001:db8:cafe::17"), Port: 4711}},
			}},
		{name: "commas inside quotes", in: `for=192.0.2.1;host="a,b", for=unknown`,
			want: []Element{{HasFor: true, Host: "a,b", For: v4("192.0.2.1")}, {HasFor: true, For: Node{Unknown: true}}}},
		{name: "escaped quote keeps the comma quoted", in: `host="a\",b";for=unknown, for=_x`,
			want: []Element{{HasFor: true, Host: `a",b`, For: Node{Unknown: true}}, {HasFor: true, For: Node{Obfuscated: "_x"}}}},
		{name: "empty elements skipped", in: " , for=192.0.2.1,, ,for=192.0.2.2 ,",
			want: []Element{{HasFor: true, For: v4("192.0.2.1")}, {HasFor: true, For: v4("192.0.2.2")}}},
		{name: "empty", in: "  ", want: nil},
		{name: "element without for", in: "proto=https, for=192.0.2.1",
			want: []Element{{Proto: "https"}, {HasFor: true, For: v4("192.0.2.1")}}},
		{name: "error keeps earlier elements", in: "for=192.0.2.1, for=2001:db8::1, for=192.0.2.2",
			want: []Element{{HasFor: true, For: v4("192.0.2.1")}}, err: ErrSyntax},
		{name: "unterminated quote", in: `for=192.0.2.1, for="[2001:db8::1]`,
			want: []Element{{HasFor: true, For: v4("192.0.2.1")}}, err: ErrQuote},
		{name: "unterminated quote swallows commas", in: `for="192.0.2.1, for=192.0.2.2`,
			want: nil, err: ErrQuote},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestLastElementStart(t *testing.T) {
	cases := []struct {
		in   string
		want string // the rightmost element, v[start:]
	}{
		{"for=a", "for=a"},
		{"for=a, for=b", " for=b"},
		{"for=a,for=b", "for=b"},
		{`for=a, host="x,y"`, ` host="x,y"`},
		{`for=a, host="x,y";for=b`, ` host="x,y";for=b`},
		{`host="x,y", for=b`, " for=b"},
		{`for=a, host="x\",y"`, ` host="x\",y"`},
		{`for=a, host="x\\", for=b`, " for=b"},
		{`for=a, host="x\\";for=b`, ` host="x\\";for=b`},
		{`host="a,b,c"`, `host="a,b,c"`},
		{"", ""},
		{",", ""},
		{"for=a,", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			start := LastElementStart(tc.in)
			require.True(t, start >= 0 && start <= len(tc.in))
			assert.Equal(t, tc.want, tc.in[start:])
		})
	}
}

func TestTrimRight(t *testing.T) {
	cases := []struct{ in, want string }{
		{"for=a", "for=a"},
		{"for=a, ", "for=a"},
		{"for=a,\t, ,", "for=a"},
		{"for=a ;", "for=a ;"},
		{" , ", ""},
		{"", ""},
		{`host="x, "`, `host="x, "`},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.in[:TrimRight(tc.in)], "%q", tc.in)
	}
}

func TestNodeString(t *testing.T) {
	cases := []struct {
		node Node
		want string
	}{
		{Node{Addr: netip.MustParseAddr("192.0.2.60")}, "192.0.2.60"},
		{Node{Addr: netip.MustParseAddr("192.0.2.60"), Port: 80}, `"192.0.2.60:80"`},
		{Node{Addr: netip.MustParseAddr("2001:db8::17")}, `"[2001:db8::17]"`},
		{Node{Addr: netip.MustParseAddr("2001:db8::17"), Port: 4711}, `"[2001:db8::17]:4711"`},
		{Node{Addr: netip.MustParseAddr("::ffff:192.0.2.1")}, `"[::ffff:192.0.2.1]"`},
		{Node{Addr: netip.MustParseAddr("::ffff:192.0.2.1"), Port: 9}, `"[::ffff:192.0.2.1]:9"`},
		{Node{Unknown: true}, "unknown"},
		{Node{Unknown: true, Port: 8}, `"unknown:8"`},
		{Node{Obfuscated: "_x"}, "_x"},
		{Node{Obfuscated: "_x", ObfuscatedPort: "_p"}, `"_x:_p"`},
		{Node{Addr: netip.MustParseAddr("2001:db8::1"), ObfuscatedPort: "_p"}, `"[2001:db8::1]:_p"`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.node.String())
			// What String renders parses back to the same node.
			e, err := ParseElement("for=" + tc.node.String())
			require.NoError(t, err)
			assert.Equal(t, tc.node, e.For)
		})
	}
}

func TestParseElementNoAllocs(t *testing.T) {
	in := `for="[2001:db8::1]:443";proto=https;by=_edge;host=example.com`
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ElementFor(in); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	assert.True(t, strings.Contains(in, "443"))
}
