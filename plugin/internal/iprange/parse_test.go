package iprange

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// netipEntry is what net/netip makes of s, the reference Parse must agree
// with whenever it answers: a CIDR through ParsePrefix, an address through
// ParseAddr, zones refused.
func netipEntry(s string) (p netip.Prefix, slash, ok bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p, true, err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false, false
	}
	return netip.PrefixFrom(a, a.BitLen()), false, true
}

// checkParse fails when Parse answers for s and net/netip disagrees.
func checkParse(t *testing.T, s string) (answered bool) {
	t.Helper()
	e, ok := Parse(s)
	eb, okb := Parse([]byte(s))
	require.Equal(t, ok, okb, "%q: string and bytes", s)
	require.Equal(t, e, eb, "%q: string and bytes", s)
	if !ok {
		return false
	}
	want, slash, valid := netipEntry(s)
	require.True(t, valid, "Parse accepts %q, netip refuses it", s)
	require.Equal(t, want, e.Prefix(), "%q", s)
	require.Equal(t, slash, e.CIDR(), "%q", s)
	require.Equal(t, want.Masked() != want, e.HostBits(), "%q host bits", s)
	return true
}

func TestParse(t *testing.T) {
	// Forms lists are written in: Parse reads them itself.
	for _, s := range []string{
		"0.0.0.0", "10.0.0.0/8", "192.168.1.255/32", "255.255.255.255/0", "1.2.3.4/24", "0.0.0.0/0",
		"::", "::/0", "::1", "1::", "1::/16", "2001:db8::/32", "2001:DB8:0:0:0:0:0:1/128", "fe80::1:2",
		"1:2:3:4:5:6:7:8", "1:2:3:4:5:6::8/127", "::ffff:a0b:c0d/104", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"2001:db8::8:800:200c:417a/64", "0:0:0:0:0:0:0:0/1",
	} {
		assert.True(t, checkParse(t, s), "%q should be read without netip", s)
	}
	// Everything else is left to netip, which accepts some of these
	// (embedded IPv4, "::" at the end of eight groups is not one) and
	// refuses the rest; Parse must never answer for them.
	for _, s := range []string{
		"", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/+8", "10.0.0.0/-1", "10.0.0.0/8/8",
		"10.0.0", "10.0.0.0.0", "010.0.0.0", "256.0.0.0", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4",
		"::ffff:1.2.3.4", "::ffff:1.2.3.4/120", "fe80::1%eth0", "fe80::1%eth0/64", "1:2:3:4:5:6:7:8::",
		"1:2:3:4:5:6:7::8", "1:2:3:4:5:6:7", ":1::", "1:::2", "1::2::3", "12345::", "::1/129", "::1/0128",
		"g::", "1:2:3:4:5:6:7:8:9", "1.2.3.4/32\x00", "::1:", "lb.example.com", "unix:", "1:2:3:4:5:6:7:8/",
	} {
		assert.False(t, checkParse(t, s), "%q should be left to netip", s)
	}
}

func TestBuilderAddMatchesAddPrefix(t *testing.T) {
	for _, s := range []string{"10.1.2.3/8", "1.2.3.4", "0.0.0.0/0", "2001:db8::1/32", "::/0", "::1", "::ffff:a0b:c0d/104", "ff00::/8"} {
		e, ok := Parse(s)
		require.True(t, ok, s)
		var viaAdd, viaPrefix Builder
		viaAdd.Add(e)
		p, _, _ := netipEntry(s)
		viaPrefix.AddPrefix(p)
		assert.Equal(t, viaPrefix.Set(), viaAdd.Set(), s)
	}
}

// FuzzParse: whenever Parse answers, net/netip parses the same text to
// the same prefix, from a string and from bytes alike.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "1.2.3.4", "2001:db8::/32", "::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8/128", "fe80::1%eth0", "010.1.1.1", "1::2::3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParse(t, s) })
}
