package realip

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go4.org/netipx"

	"github.com/client-ip-guard/client-ip-guard/plugin/internal/iprange"
)

func TestParseTrusted(t *testing.T) {
	cases := []struct {
		name    string
		entries []string
		in      []string // addresses that must be trusted
		out     []string // addresses that must not be
		unix    bool
		ranges  int
		kept    []string
		warn    []TrustedWarning
	}{
		{
			name:    "cidrs and bare addresses",
			entries: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"},
			in:      []string{"10.0.0.0", "10.255.255.255", "192.0.2.7", "2001:db8::", "2001:db8:ffff::1", "::1"},
			out:     []string{"11.0.0.0", "9.255.255.255", "192.0.2.6", "192.0.2.8", "2001:db9::", "::2", "::"},
			ranges:  4,
			kept:    []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"},
		},
		{
			name:    "blanks skipped and entries trimmed",
			entries: []string{"", "  ", " 10.1.2.3 ", "\t192.0.2.0/24\n"},
			in:      []string{"10.1.2.3", "192.0.2.200"},
			out:     []string{"10.1.2.4"},
			ranges:  2,
			kept:    []string{"10.1.2.3", "192.0.2.0/24"},
		},
		{
			name:    "host bits masked with a warning",
			entries: []string{"10.1.2.3/8", "2001:db8::1/32", "192.0.2.1/32"},
			in:      []string{"10.0.0.0", "10.200.0.1", "2001:db8::", "2001:db8:1::", "192.0.2.1"},
			out:     []string{"11.0.0.0", "2001:db9::", "192.0.2.2"},
			ranges:  3,
			kept:    []string{"10.1.2.3/8", "2001:db8::1/32", "192.0.2.1/32"},
			warn: []TrustedWarning{
				{Entry: "10.1.2.3/8", Message: "low address bits are meaningless; matches 10.0.0.0/8"},
				{Entry: "2001:db8::1/32", Message: "low address bits are meaningless; matches 2001:db8::/32"},
			},
		},
		{
			name:    "unix",
			entries: []string{"unix:", "127.0.0.1"},
			in:      []string{"127.0.0.1"},
			out:     []string{"127.0.0.2"},
			unix:    true,
			ranges:  1,
			kept:    []string{"unix:", "127.0.0.1"},
		},
		{
			name:    "overlapping entries merge",
			entries: []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "11.0.0.0/8"},
			in:      []string{"10.1.2.3", "11.255.255.255"},
			out:     []string{"12.0.0.0"},
			ranges:  1,
			kept:    []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "11.0.0.0/8"},
		},
		{
			name:    "nothing",
			entries: []string{"", " "},
			out:     []string{"1.2.3.4", "::1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, warn, err := ParseTrusted(tc.entries)
			require.NoError(t, err)
			assert.Equal(t, tc.warn, warn)
			for _, s := range tc.in {
				assert.True(t, tr.Contains(netip.MustParseAddr(s)), "%s should be trusted", s)
			}
			for _, s := range tc.out {
				assert.False(t, tr.Contains(netip.MustParseAddr(s)), "%s should not be trusted", s)
			}
			assert.Equal(t, tc.unix, tr.ContainsUnix())
			assert.Equal(t, tc.ranges, tr.Ranges())
			assert.Equal(t, len(tc.kept), tr.Len())
			assert.Equal(t, len(tc.kept) == 0, tr.Empty())
		})
	}
}

func TestParseTrustedErrors(t *testing.T) {
	cases := []struct {
		entry string
		msg   string
	}{
		{"example.com", `"example.com" is not an IP address or CIDR`},
		{"localhost", `"localhost" is not an IP address or CIDR`},
		{"10.0.0.0/33", `"10.0.0.0/33" is not an IP address or CIDR`},
		{"10.0.0.0/", `"10.0.0.0/" is not an IP address or CIDR`},
		{"::/129", `"::/129" is not an IP address or CIDR`},
		{"1.2.3", `"1.2.3" is not an IP address or CIDR`},
		{"1.2.3.4:80", `"1.2.3.4:80" is not an IP address or CIDR`},
		{"[::1]", `"[::1]" is not an IP address or CIDR`},
		{"unix:/tmp/sock", `"unix:/tmp/sock" is not an IP address or CIDR`},
		{"all", `"all" is not an IP address or CIDR`},
		{"fe80::1%eth0", `"fe80::1%eth0" has an IPv6 zone`},
		{"fe80::1%eth0/64", `"fe80::1%eth0/64"`},
	}
	for _, tc := range cases {
		t.Run(tc.entry, func(t *testing.T) {
			// The bad entry is named even among good ones.
			tr, warn, err := ParseTrusted([]string{"10.0.0.0/8", tc.entry, "::1"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Nil(t, tr)
			assert.Nil(t, warn)
		})
	}
}

// TestTrustedMapped: an IPv4-mapped IPv6 address is matched against the
// IPv4 entries only, as ngx_cidr_match does; IPv6 entries, even ::/0 or
// ::ffff:0:0/96, never match it.
func TestTrustedMapped(t *testing.T) {
	cases := []struct {
		name    string
		entries []string
		addr    string
		want    bool
	}{
		{"v4 entry matches mapped", []string{"10.0.0.0/8"}, "::ffff:10.1.2.3", true},
		{"v4 entry misses other mapped", []string{"10.0.0.0/8"}, "::ffff:11.1.2.3", false},
		{"all v6 misses mapped", []string{"::/0"}, "::ffff:10.1.2.3", false},
		{"mapped range entry misses mapped", []string{"::ffff:0:0/96"}, "::ffff:10.1.2.3", false},
		{"mapped range entry misses v4", []string{"::ffff:0:0/96"}, "10.1.2.3", false},
		{"mapped bare entry misses mapped", []string{"::ffff:10.1.2.3"}, "::ffff:10.1.2.3", false},
		{"all v4 matches mapped", []string{"0.0.0.0/0"}, "::ffff:1.2.3.4", true},
		{"all v4 misses v6", []string{"0.0.0.0/0"}, "2001:db8::1", false},
		{"compat form is plain v6", []string{"1.2.3.4"}, "::1.2.3.4", false},
		{"compat form by v6 entry", []string{"::/96"}, "::1.2.3.4", true},
		{"all v6 misses v4", []string{"::/0"}, "1.2.3.4", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := MustTrusted(tc.entries...)
			assert.Equal(t, tc.want, tr.Contains(netip.MustParseAddr(tc.addr)))
		})
	}
}

func TestTrustedNilAndEmpty(t *testing.T) {
	var tr *Trusted
	assert.False(t, tr.Contains(netip.MustParseAddr("1.2.3.4")))
	assert.False(t, tr.ContainsUnix())
	assert.True(t, tr.Empty())
	assert.Zero(t, tr.Len())
	assert.Zero(t, tr.Ranges())
	v4, v6 := tr.TrustsEverything()
	assert.False(t, v4)
	assert.False(t, v6)

	empty := MustTrusted()
	assert.True(t, empty.Empty())
	assert.False(t, empty.Contains(netip.MustParseAddr("1.2.3.4")))
	assert.False(t, empty.Contains(netip.Addr{}))

	onlyUnix := MustTrusted("unix:")
	assert.False(t, onlyUnix.Empty())
	assert.True(t, onlyUnix.ContainsUnix())
	assert.False(t, onlyUnix.Contains(netip.MustParseAddr("127.0.0.1")))
}

func TestTrustsEverything(t *testing.T) {
	cases := []struct {
		entries []string
		v4, v6  bool
	}{
		{[]string{"10.0.0.0/8"}, false, false},
		{[]string{"0.0.0.0/0"}, true, false},
		{[]string{"::/0"}, false, true},
		{[]string{"0.0.0.0/0", "::/0"}, true, true},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, true, false},
		{[]string{"0.0.0.0/1", "128.0.0.0/2"}, false, false},
		{[]string{"::/1", "8000::/1", "1.2.3.4"}, false, true},
		{[]string{"1.2.3.4/0"}, true, false},
		{[]string{"unix:"}, false, false},
	}
	for _, tc := range cases {
		tr := MustTrusted(tc.entries...)
		v4, v6 := tr.TrustsEverything()
		assert.Equal(t, tc.v4, v4, "%v v4", tc.entries)
		assert.Equal(t, tc.v6, v6, "%v v6", tc.entries)
	}
}

func TestMustTrustedPanics(t *testing.T) {
	assert.Panics(t, func() { MustTrusted("not-an-ip") })
}

// TestTrustedContainsMatchesSet checks Contains against a netipx.IPSet
// of the same entries, with nginx's rule for IPv4-mapped addresses applied
// to the reference, for sets below and above the size where the IPv4
// bucket index kicks in, at range edges and at random.
func TestTrustedContainsMatchesSet(t *testing.T) {
	for _, n := range []int{1, 10, 255, 256, 5000} {
		list := benchPrefixes(n)
		entries := make([]string, len(list))
		var rb netipx.IPSetBuilder
		for i, p := range list {
			entries[i] = p.String()
			rb.AddPrefix(p)
		}
		ref, err := rb.IPSet()
		require.NoError(t, err)
		tr := MustTrusted(entries...)
		require.Equal(t, len(ref.Ranges()), tr.Ranges(), "n=%d", n)
		var probes []netip.Addr
		for _, r := range ref.Ranges() {
			probes = append(probes, r.From(), r.To(), r.From().Prev(), r.To().Next())
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		for i := 0; i < 2000; i++ {
			var b4 [4]byte
			var b16 [16]byte
			v, hi, lo := rng.Uint32(), rng.Uint64(), rng.Uint64()
			b4[0], b4[1], b4[2], b4[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
			for k := 0; k < 8; k++ {
				b16[k], b16[8+k] = byte(hi>>(56-8*k)), byte(lo>>(56-8*k))
			}
			b16[0] = 0x20 | b16[0]&0x1f
			probes = append(probes, netip.AddrFrom4(b4), netip.AddrFrom16(b16), netip.AddrFrom16(netip.AddrFrom4(b4).As16()))
		}
		probes = append(probes, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"),
			netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
		for _, a := range probes {
			if !a.IsValid() {
				continue
			}
			want := ref.Contains(a.Unmap())
			require.Equal(t, want, tr.Contains(a), "n=%d addr=%s", n, a)
		}
	}
}

// referenceTrusted is ParseTrusted with net/netip alone (no fast reader):
// what the fast reader must reproduce, set, warnings and errors.
func referenceTrusted(entries []string) (*Trusted, []TrustedWarning, error) {
	var (
		b    iprange.Builder
		t    = &Trusted{}
		warn []TrustedWarning
	)
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		t.entries++
		if e == "unix:" {
			t.unix = true
			continue
		}
		p, slash, err := parseEntry(e)
		if err != nil {
			return nil, nil, fmt.Errorf("trusted entry %q %s", raw, err)
		}
		if !slash {
			b.AddAddr(p.Addr())
			continue
		}
		if m := p.Masked(); m != p {
			warn = append(warn, TrustedWarning{Entry: e, Message: fmt.Sprintf("low address bits are meaningless; matches %s", m)})
		}
		b.AddPrefix(p)
	}
	t.set = *b.Set()
	t.all4, t.all6 = t.set.All4(), t.set.All6()
	return t, warn, nil
}

// checkBuilder builds entries with ParseTrusted, with AddBytes and with
// the reference, and requires the same set, warnings and error.
func checkBuilder(t *testing.T, entries []string) {
	t.Helper()
	want, wantWarn, wantErr := referenceTrusted(entries)
	got, warn, err := ParseTrusted(entries)
	require.Equal(t, wantErr, err, "%q", entries)
	require.Equal(t, want, got, "%q", entries)
	require.Equal(t, wantWarn, warn, "%q", entries)

	var b TrustedBuilder
	for _, e := range entries {
		buf := []byte(e)
		if err = b.AddBytes(buf); err != nil {
			break
		}
		for i := range buf {
			buf[i] = 'x' // nothing may keep the bytes
		}
	}
	require.Equal(t, wantErr, err, "%q bytes", entries)
	if err == nil {
		got, warn = b.Trusted()
		require.Equal(t, want, got, "%q bytes", entries)
		require.Equal(t, wantWarn, warn, "%q bytes", entries)
	}
}

func TestTrustedBuilderMatchesNetip(t *testing.T) {
	for _, entries := range [][]string{
		{"10.0.0.0/8", "10.1.2.3/8", "192.0.2.7", " 2001:db8::1/32 ", "::1", "unix:", "", "\t"},
		{"::ffff:10.0.0.0/104", "::ffff:a00:0/104", "::ffff:1.2.3.4", "1.2.3.4/32"},
		{"\u00a010.0.0.0/8\u0085", "\u2003::/0", " \u00a0 ", "\u00a0unix:"},
		{"0.0.0.0/0", "1.2.3.4/0", "::/0"},
		{"10.0.0.0/8", "fe80::1%eth0"},
		{"10.0.0.0/08"}, {"010.0.0.0/8"}, {"1.2.3.4 /8"}, {"\u00a0bad"}, {"1:2:3:4:5:6:7::8"},
	} {
		checkBuilder(t, entries)
	}
}

// FuzzTrustedBuilder: the fast reader, from strings and from bytes,
// agrees with net/netip on comma-separated entries.
func FuzzTrustedBuilder(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8,::1", " 10.1.2.3/8 ,unix:", "\u00a0::ffff:1.2.3.4/120", "fe80::1%eth0", "1.2.3.4/024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkBuilder(t, strings.Split(s, ",")) })
}
