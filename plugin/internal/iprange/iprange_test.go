package iprange

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"
)

// entry is one Builder input: a prefix, or a bare address when bits < 0.
type entry struct {
	addr netip.Addr
	bits int
}

func (e entry) String() string {
	if e.bits < 0 {
		return e.addr.String()
	}
	return fmt.Sprintf("%s/%d", e.addr, e.bits)
}

// build returns the Set under test and the reference, a netipx.IPSet of
// the same entries.
func build(t testing.TB, entries []entry) (*Set, *netipx.IPSet) {
	var b Builder
	var ref netipx.IPSetBuilder
	for _, e := range entries {
		if e.bits < 0 {
			b.AddAddr(e.addr)
			ref.Add(e.addr)
			continue
		}
		p := netip.PrefixFrom(e.addr, e.bits)
		b.AddPrefix(p)
		ref.AddPrefix(p.Masked())
	}
	want, err := ref.IPSet()
	require.NoError(t, err)
	return b.Set(), want
}

// agree checks the Set against the reference: containment of every probe,
// of every reference range's edges and their neighbours, IPv4-mapped forms
// of the IPv4 probes (matched as IPv4: nginx's rule, applied to the
// reference by unmapping), the whole-family tests and the range count.
func agree(t testing.TB, entries []entry, probes []netip.Addr) {
	t.Helper()
	s, ref := build(t, entries)
	for _, r := range ref.Ranges() {
		probes = append(probes, r.From(), r.To(), r.From().Prev(), r.To().Next())
	}
	probes = append(probes, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"),
		netip.IPv6Unspecified(), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		netip.MustParseAddr("::ffff:0.0.0.0"), netip.MustParseAddr("::ffff:255.255.255.255"))
	for _, a := range probes {
		if !a.IsValid() {
			continue
		}
		// The reference with nginx's rule: a mapped address is its IPv4.
		require.Equal(t, ref.Contains(a.Unmap()), s.Contains(a), "%v contains %s", entries, a)
		if a.Is4() {
			m := netip.AddrFrom16(a.As16())
			require.Equal(t, ref.Contains(a), s.Contains(m), "%v contains %s", entries, m)
		}
	}
	require.Equal(t, ref.ContainsPrefix(netip.MustParsePrefix("0.0.0.0/0")), s.All4(), "%v all IPv4", entries)
	require.Equal(t, ref.ContainsPrefix(netip.MustParsePrefix("::/0")), s.All6(), "%v all IPv6", entries)
	require.Equal(t, len(ref.Ranges()), s.Ranges(), "%v ranges", entries)
	require.Equal(t, len(ref.Ranges()) == 0, s.Empty())
}

func parse(t testing.TB, ss ...string) []entry {
	var out []entry
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, entry{p.Addr(), p.Bits()})
			continue
		}
		out = append(out, entry{netip.MustParseAddr(s), -1})
	}
	return out
}

func TestSetMatchesReference(t *testing.T) {
	cases := [][]string{
		nil,
		{"10.0.0.0/8"},
		{"0.0.0.0/0"},
		{"::/0"},
		{"0.0.0.0/0", "::/0"},
		{"1.2.3.4/0"},                   // host bits, /0
		{"0.0.0.0/1", "128.0.0.0/1"},    // adjacent halves make everything
		{"0.0.0.0/1", "128.0.0.0/2"},    // not quite
		{"::/1", "8000::/1", "1.2.3.4"}, // all IPv6 from halves
		{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3"}, // nested
		{"10.0.0.0/8", "11.0.0.0/8"},              // adjacent
		{"10.0.0.0/8", "12.0.0.0/8"},              // gap
		{"10.0.0.0/9", "10.64.0.0/10", "10.128.0.0/9"},
		{"255.255.255.255", "0.0.0.0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"255.255.255.0/24", "::/8"}, // top of IPv4 next to bottom of IPv6
		{"::ffff:0:0/96"},            // every IPv4-mapped address, as IPv6
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.1.2.3", "10.1.2.3"},
		{"::/96"}, // IPv4-compatible addresses
		{"2001:db8::/32", "2001:db8::/48", "2001:db9::/32", "2001:dba::1"},
		{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::"}, // adjacent across the low half
		{"::/64", "0:0:0:1::/64"},
		{"8000::/1", "::/2", "4000::/2"},
		{"10.1.2.3/32", "2001:db8::1/128", "10.1.2.4/31"},
		{"10.1.2.3/8", "2001:db8::1/32"}, // host bits are masked
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			var probes []netip.Addr
			for _, e := range parse(t, c...) {
				probes = append(probes, e.addr, e.addr.Next(), e.addr.Prev())
			}
			probes = append(probes, netip.MustParseAddr("10.255.255.255"), netip.MustParseAddr("11.0.0.0"),
				netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::1.2.3.4"))
			agree(t, parse(t, c...), probes)
		})
	}
}

// TestSetRandom compares random sets, below and above the size where the
// IPv4 bucket index kicks in, with many overlapping and adjacent entries.
func TestSetRandom(t *testing.T) {
	for _, n := range []int{1, 10, indexMin - 1, indexMin, 3000} {
		rng := rand.New(rand.NewPCG(3, uint64(n)))
		entries := make([]entry, n)
		for i := range entries {
			entries[i] = randomEntry(rng)
		}
		probes := make([]netip.Addr, 0, 4000)
		for i := 0; i < 2000; i++ {
			probes = append(probes, randomEntry(rng).addr, randomEntry(rng).addr)
		}
		s, _ := build(t, entries)
		require.Equal(t, len(s.v4first) >= indexMin, s.v4idx != nil, "n=%d", n)
		require.Equal(t, len(s.v6first) >= indexMin, s.v6idx != nil, "n=%d", n)
		agree(t, entries, probes)
	}
}

// TestSetIndexes compares sets wide enough for both bucket indexes:
// random IPv4 /18-/32 and IPv6 /32-/128 prefixes across the space.
func TestSetIndexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var entries []entry
	var probes []netip.Addr
	for i := 0; i < 4000; i++ {
		v := rng.Uint32()
		a4 := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		var b [16]byte
		for k := range b {
			b[k] = byte(rng.UintN(256))
		}
		a6 := netip.AddrFrom16(b)
		entries = append(entries, entry{a4, 18 + rng.IntN(15)}, entry{a6, 32 + rng.IntN(97)})
		probes = append(probes, a4.Next(), a6.Next())
	}
	s, _ := build(t, entries)
	require.NotNil(t, s.v4idx, "the IPv4 bucket index is exercised")
	require.NotNil(t, s.v6idx, "the IPv6 bucket index is exercised")
	agree(t, entries, probes)
}

// randomEntry draws from a small space (10.0.0.0/16 and 2001:db8::/112
// mostly) so that entries overlap and touch.
func randomEntry(rng *rand.Rand) entry {
	switch rng.IntN(8) {
	case 0:
		v := rng.Uint32()
		return entry{netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), rng.IntN(33)}
	case 1:
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return entry{netip.AddrFrom16(b), rng.IntN(129)}
	case 2, 3, 4:
		v := rng.UintN(1 << 16)
		bits := 16 + rng.IntN(17)
		if rng.IntN(4) == 0 {
			bits = -1
		}
		return entry{netip.AddrFrom4([4]byte{10, 0, byte(v >> 8), byte(v)}), bits}
	default:
		v := rng.UintN(1 << 16)
		b := netip.MustParseAddr("2001:db8::").As16()
		b[14], b[15] = byte(v>>8), byte(v)
		if rng.IntN(3) == 0 {
			b = netip.AddrFrom4([4]byte{10, 0, byte(v >> 8), byte(v)}).As16() // IPv4-mapped
		}
		bits := 112 + rng.IntN(17)
		if rng.IntN(4) == 0 {
			bits = -1
		}
		return entry{netip.AddrFrom16(b), bits}
	}
}

// FuzzSet builds a Set from arbitrary entries (4 or 16 address bytes and a
// prefix length, bare addresses too) and compares it with netipx.IPSet on
// containment, whole-family coverage and range count.
func FuzzSet(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 0, 8, 0, 11, 0, 0, 0, 8}, []byte{10, 1, 2, 3})
	f.Add([]byte{0, 0, 0, 0, 0, 0}, []byte{255, 255, 255, 255})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 104}, []byte{10, 0, 0, 1})
	f.Add([]byte{1, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 1, 2, 3, 4, 200}, []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, in, probe []byte) {
		var entries []entry
		for len(in) > 0 && len(entries) < 64 {
			is6 := in[0]&1 == 1
			in = in[1:]
			size := 4
			if is6 {
				size = 16
			}
			if len(in) < size+1 {
				break
			}
			var a netip.Addr
			if is6 {
				a = netip.AddrFrom16([16]byte(in[:size]))
			} else {
				a = netip.AddrFrom4([4]byte(in[:size]))
			}
			bits := int(in[size]) % (a.BitLen() + 2)
			if bits > a.BitLen() {
				bits = -1
			}
			entries = append(entries, entry{a, bits})
			in = in[size+1:]
		}
		var probes []netip.Addr
		for len(probe) >= 4 {
			if len(probe) >= 16 && probe[0]&0x80 != 0 {
				probes = append(probes, netip.AddrFrom16([16]byte(probe[:16])))
				probe = probe[16:]
				continue
			}
			probes = append(probes, netip.AddrFrom4([4]byte(probe[:4])))
			probe = probe[4:]
		}
		agree(t, entries, probes)
	})
}

func TestSetNilAndZero(t *testing.T) {
	var s *Set
	assert.False(t, s.Contains(netip.MustParseAddr("1.2.3.4")))
	assert.False(t, s.All4())
	assert.False(t, s.All6())
	assert.Zero(t, s.Ranges())
	assert.True(t, s.Empty())
	var b Builder
	b.AddAddr(netip.Addr{})
	b.AddPrefix(netip.Prefix{})
	e := b.Set()
	assert.True(t, e.Empty())
	assert.False(t, e.Contains(netip.Addr{}))
	assert.False(t, e.Contains(netip.MustParseAddr("::")))
}

// TestSetExactSize: the kept slices hold no spare capacity from the
// builder's growth.
func TestSetExactSize(t *testing.T) {
	var b Builder
	b.Grow(1000)
	for i := 0; i < 1000; i++ {
		b.AddAddr(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}))
		b.AddAddr(netip.AddrFrom16([16]byte{0x20, 1, byte(i >> 8), byte(i)}))
	}
	s := b.Set()
	assert.Len(t, s.v4first, 1000)
	assert.Equal(t, len(s.v4first), cap(s.v4first))
	assert.Equal(t, len(s.v4last), cap(s.v4last))
	assert.Equal(t, len(s.v6first), cap(s.v6first))
	assert.Equal(t, len(s.v6last), cap(s.v6last))
}

func TestSetContainsDoesNotAllocate(t *testing.T) {
	var b Builder
	for i := 0; i < 1000; i++ {
		b.AddPrefix(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i), 0, 0, 0}), 16))
	}
	b.AddPrefix(netip.MustParsePrefix("2001:db8::/32"))
	s := b.Set()
	a4, a6 := netip.MustParseAddr("7.0.1.2"), netip.MustParseAddr("2001:db8::1")
	allocs := testing.AllocsPerRun(100, func() {
		if !s.Contains(a4) || !s.Contains(a6) {
			panic("lookup")
		}
	})
	assert.Zero(t, allocs)
}
