package realip

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected values below are nginx 1.22.1's: each token was sent as an
// X-Real-IP value to a server trusting everything, and the "want" column
// is the $remote_addr|$remote_port it printed. A rejected token leaves
// $remote_addr as the peer, which is what ok=false stands for.

type addrCase struct {
	in   string
	want string // nginx's $remote_addr text when ok
	port uint16
	ok   bool
}

var ipv4Cases = []addrCase{
	{"1.2.3.4", "1.2.3.4", 0, true},
	{"0.0.0.0", "0.0.0.0", 0, true},
	{"255.255.255.254", "255.255.255.254", 0, true},
	// Leading zeros are decimal, never octal.
	{"010.001.1.1", "10.1.1.1", 0, true},
	{"0000000001.2.3.4", "1.2.3.4", 0, true},
	{"1.2.3.0008", "1.2.3.8", 0, true},
	// Empty octets are zero.
	{"1..2.3", "1.0.2.3", 0, true},
	{"...", "0.0.0.0", 0, true},
	{".1.2.3", "0.1.2.3", 0, true},
	{"1.2.3.", "1.2.3.0", 0, true},
	// INADDR_NONE doubles as the error value.
	{"255.255.255.255", "", 0, false},
	{"255.255.255.0255", "", 0, false},
	// Octet count.
	{"1.2.3", "", 0, false},
	{"1.2.3.4.5", "", 0, false},
	{"1.2.3.4.", "", 0, false},
	{"1", "", 0, false},
	// Octet range.
	{"1.2.3.256", "", 0, false},
	{"256.1.1.1", "", 0, false},
	{"1.2.3.1000", "", 0, false},
	// Anything but digits and dots.
	{"1.2.3.4 ", "", 0, false},
	{" 1.2.3.4", "", 0, false},
	{"1.2.3.a", "", 0, false},
	{"1.2.3.-4", "", 0, false},
	{"0x1.2.3.4", "", 0, false},
	{"", "", 0, false},
}

var ipv6Cases = []addrCase{
	{"::", "::", 0, true},
	{"0::0:0", "::", 0, true},
	{"::1", "::1", 0, true},
	{"1::", "1::", 0, true},
	{"ffff::", "ffff::", 0, true},
	{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", 0, true},
	{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 0, true},
	{"2001:DB8::ABCD", "2001:db8::abcd", 0, true},
	// A single leading ':' is skipped.
	{":1::", "1::", 0, true},
	{":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", 0, true},
	{":::", "", 0, false},
	{":1:2", "", 0, false},
	// A trailing ':' after "::" adds a zero group.
	{"1::2:", "1::2:0", 0, true},
	{"::1:", "::0.1.0.0", 0, true},
	{"1:2:3:4:5:6:7:", "", 0, false},
	{"1:2:3:4:5:6:7:8:", "", 0, false},
	// Embedded IPv4 tail.
	{"::1.2.3.4", "::1.2.3.4", 0, true},
	{"::ffff:1.2.3.4", "::ffff:1.2.3.4", 0, true},
	{"::FFFF:010.0.0.1", "::ffff:10.0.0.1", 0, true},
	{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", 0, true},
	{"1:2:3:4:5:6:7:1.2.3.4", "", 0, false},
	{"::ffff:1..2.3", "::ffff:1.0.2.3", 0, true},
	{"::ffff:255.255.255.255", "", 0, false},
	{"::255.255.255.255", "", 0, false},
	{"::1.2.3", "", 0, false},
	{"::1.2.3.4:5", "", 0, false},
	{"::ab.1.2.3", "", 0, false},
	{"::.1", "", 0, false},
	// Group size and count.
	{"12345::", "", 0, false},
	{"::00001", "", 0, false},
	{"1:2:3:4:5:6:7:8:9", "", 0, false},
	{"1:2:3:4:5:6:7", "", 0, false},
	{"1::2::3", "", 0, false},
	// "::" may stand for one group, except after seven groups.
	{"1::2:3:4:5:6:7", "1:0:2:3:4:5:6:7", 0, true},
	{"::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7", 0, true},
	{"1:2:3:4:5:6:7::", "", 0, false},
	{"0:0:0:0:0:0:0::", "", 0, false},
	{"1:::2", "", 0, false},
	{"g::", "", 0, false},
	// Zones are not part of nginx's grammar.
	{"fe80::1%eth0", "", 0, false},
	{"fe80::1%1", "", 0, false},
	{":", "", 0, false},
}

var addrPortCases = []addrCase{
	// Ports, first ':' splits for anything that is not an address.
	{"1.2.3.4:1", "1.2.3.4", 1, true},
	{"1.2.3.4:80", "1.2.3.4", 80, true},
	{"1.2.3.4:65535", "1.2.3.4", 65535, true},
	{"1.2.3.4:080", "1.2.3.4", 80, true},
	{"1.2.3.4:0000000000000000000443", "1.2.3.4", 443, true},
	{"1..2.3:8", "1.0.2.3", 8, true},
	{"1.2.3.4:0", "", 0, false},
	{"1.2.3.4:00", "", 0, false},
	{"1.2.3.4:65536", "", 0, false},
	{"1.2.3.4:99999999999999999999999", "", 0, false},
	{"1.2.3.4:+80", "", 0, false},
	{"1.2.3.4:-80", "", 0, false},
	{"1.2.3.4:8a", "", 0, false},
	{"1.2.3.4: 80", "", 0, false},
	{"1.2.3.4:", "", 0, false},
	{"1.2.3.4:80:90", "", 0, false},
	{"255.255.255.255:80", "", 0, false},
	{"host:80", "", 0, false},
	{":80", "", 0, false},
	// A valid IPv6 address wins over a port split.
	{"::1:80", "::0.1.0.128", 0, true},
	{"::ffff:1.2.3.4:80", "", 0, false},
	// Brackets.
	{"[::1]:80", "::1", 80, true},
	{"[2001:DB8::1]:0443", "2001:db8::1", 443, true},
	{"[1.2.3.4]:80", "1.2.3.4", 80, true},
	{"[1.2.3.4]:00080", "1.2.3.4", 80, true},
	{"[::ffff:1.2.3.4]:1", "::ffff:1.2.3.4", 1, true},
	{"[::1]", "", 0, false}, // accepted only from nginx 1.27.3
	{"[1.2.3.4]", "", 0, false},
	{"[::1]x80", "", 0, false},
	{"[::1]:", "", 0, false},
	{"[::1]:0", "", 0, false},
	{"[::1]:65536", "", 0, false},
	{"[::1", "", 0, false},
	{"[::1:80", "", 0, false},
	{"[::1]]:80", "", 0, false},
	{"[[::1]]:80", "", 0, false},
	{"[]:80", "", 0, false},
	{"[", "", 0, false},
	{"[fe80::1%eth0]:80", "", 0, false},
	{"[::1]:80:90", "", 0, false},
	{"::1]:80", "", 0, false},
	{"1.2.3.4]:80", "", 0, false},
}

func TestParseAddr(t *testing.T) {
	for _, group := range [][]addrCase{ipv4Cases, ipv6Cases} {
		for _, tc := range group {
			t.Run(tc.in, func(t *testing.T) {
				a, ok := ParseAddr(tc.in)
				require.Equal(t, tc.ok, ok, "accepted")
				if !ok {
					assert.False(t, a.IsValid())
					return
				}
				assert.Equal(t, tc.want, FormatAddr(a))
				assert.Empty(t, a.Zone())
			})
		}
	}
}

func TestParseAddrFamilies(t *testing.T) {
	a, ok := ParseAddr("1.2.3.4")
	require.True(t, ok)
	assert.True(t, a.Is4(), "dotted quad is AF_INET")

	a, ok = ParseAddr("::ffff:1.2.3.4")
	require.True(t, ok)
	assert.True(t, a.Is4In6(), "mapped form stays AF_INET6")
	assert.Equal(t, netip.MustParseAddr("::ffff:1.2.3.4"), a)

	a, ok = ParseAddr("::1.2.3.4")
	require.True(t, ok)
	assert.Equal(t, netip.MustParseAddr("::102:304"), a)
}

func TestParseAddrPort(t *testing.T) {
	all := append(append(append([]addrCase(nil), ipv4Cases...), ipv6Cases...), addrPortCases...)
	for _, tc := range all {
		t.Run(tc.in, func(t *testing.T) {
			a, port, ok := ParseAddrPort(tc.in)
			require.Equal(t, tc.ok, ok, "accepted")
			if !ok {
				assert.False(t, a.IsValid())
				assert.Zero(t, port)
				return
			}
			assert.Equal(t, tc.want, FormatAddr(a))
			assert.Equal(t, tc.port, port)
		})
	}
}

func TestParsePort(t *testing.T) {
	cases := []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"1", 1, true},
		{"65535", 65535, true},
		{"00001", 1, true},
		{"000000000000000000000000065535", 65535, true},
		{"", 0, false},
		{"0", 0, false},
		{"65536", 0, false},
		{"655350", 0, false},
		{"18446744073709551617", 0, false},
		{"+1", 0, false},
		{"1 ", 0, false},
		{"1x", 0, false},
		{"99999x", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parsePort(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestFormatAddr checks the ngx_inet6_ntop special cases. Each wanted
// string is what nginx printed for the address.
func TestFormatAddr(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1.2.3.4", "1.2.3.4"},
		{"0.0.0.0", "0.0.0.0"},
		{"::", "::"},
		{"::1", "::1"},
		{"1::", "1::"},
		// Five leading zero groups then ffff: the mapped form.
		{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
		{"::ffff:0:0", "::ffff:0.0.0.0"},
		{"::fffe:1.2.3.4", "::fffe:102:304"},
		// Six leading zero groups: the IPv4-compatible form.
		{"::1.2.3.4", "::1.2.3.4"},
		{"::1:0", "::0.1.0.0"},
		{"::1:50", "::0.1.0.80"},
		// Seven: dotted unless the high byte is 0 or the low byte is 1.
		{"::102", "::0.0.1.2"},
		{"::1234", "::0.0.18.52"},
		{"::abcd", "::0.0.171.205"},
		{"::ff", "::ff"},
		{"::101", "::101"},
		{"::201", "::201"},
		{"::ff01", "::ff01"},
		{"::ff02", "::0.0.255.2"},
		// Printed as nginx prints it, though nginx cannot parse it back.
		{"::ffff:ffff", "::255.255.255.255"},
		// Runs: the longest wins, the first on ties, a single zero group
		// is printed.
		{"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
		{"1:0:0:2:0:0:3:4", "1::2:0:0:3:4"},
		{"1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"},
		{"0:1:0:0:0:0:0:0", "0:1::"},
		{"0:0:1:0:0:0:0:0", "0:0:1::"},
		{"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},
		{"0:0:0:0:0:1:0:0", "::1:0:0"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
		{"fe80::1:2:3:4", "fe80::1:2:3:4"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			a := netip.MustParseAddr(tc.in)
			assert.Equal(t, tc.want, FormatAddr(a))
			assert.Equal(t, "x"+tc.want, string(AppendAddr([]byte("x"), a)))
		})
	}
	assert.Empty(t, FormatAddr(netip.Addr{}))
}

// TestFormatRoundTrip: whatever nginx prints, nginx parses back to the
// same address.
func TestFormatRoundTrip(t *testing.T) {
	var addrs []netip.Addr
	for _, s := range []string{
		"1.2.3.4", "0.0.0.0", "::", "::1", "::ffff:1.2.3.4", "::1.2.3.4",
		"::102", "::101", "::1:0", "1::", "0:1::", "2001:db8::1",
		"1:0:0:2:0:0:0:3", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	// Every pattern of zero and non-zero groups.
	for mask := 0; mask < 256; mask++ {
		var b [16]byte
		for g := 0; g < 8; g++ {
			if mask&(1<<g) != 0 {
				b[2*g], b[2*g+1] = byte(g+1), byte(0x10*g+1)
			}
		}
		addrs = append(addrs, netip.AddrFrom16(b))
	}
	_, ok := ParseAddr(FormatAddr(netip.MustParseAddr("::ffff:ffff")))
	assert.False(t, ok, "::255.255.255.255 does not parse")
	for _, a := range addrs {
		text := FormatAddr(a)
		back, ok := ParseAddr(text)
		if assert.True(t, ok, "%s printed as %q does not parse", a, text) {
			assert.Equal(t, a, back, "%q", text)
		}
	}
}

func TestParseAddrPortNoAllocs(t *testing.T) {
	tokens := []string{"1.2.3.4", "[2001:db8::1]:443", "1.2.3.4:80", "::ffff:1.2.3.4", "garbage"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, s := range tokens {
			ParseAddrPort(s)
		}
	})
	assert.Zero(t, allocs)
}
