package realip

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

// Trusted is the set of addresses whose forwarding information is believed:
// Kong's trusted_ips, rendered by Kong as nginx set_real_ip_from lines.
// Lookups are O(log n) in the number of ranges and do not allocate.
type Trusted struct {
	set     *netipx.IPSet
	unix    bool
	entries []string
	// The set's disjoint ranges as integers, sorted, for Contains: the
	// first and last address of each IPv4 range, and likewise for IPv6.
	v4from, v4to []uint32
	v6from, v6to []u128
	// For large sets, v4idx narrows the IPv4 search: v4idx[k] is the
	// number of ranges starting below k<<v4shift.
	v4idx   []uint32
	v4shift uint8
}

// indexMin is the number of IPv4 ranges from which the bucket index pays.
const indexMin = 256

// u128 is an IPv6 address as two big-endian halves.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func v6int(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func v4int(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// index flattens the set's ranges for Contains.
func (t *Trusted) index() {
	for _, r := range t.set.Ranges() {
		if r.From().Is4() {
			t.v4from = append(t.v4from, v4int(r.From()))
			t.v4to = append(t.v4to, v4int(r.To()))
		} else {
			t.v6from = append(t.v6from, v6int(r.From()))
			t.v6to = append(t.v6to, v6int(r.To()))
		}
	}
	n := len(t.v4from)
	if n < indexMin {
		return
	}
	bits := uint8(8)
	for bits < 16 && 1<<bits < n {
		bits++
	}
	t.v4shift = 32 - bits
	buckets := 1 << bits
	t.v4idx = make([]uint32, buckets+1)
	i := 0
	for k := 0; k <= buckets; k++ {
		low := uint64(k) << t.v4shift
		for i < n && uint64(t.v4from[i]) < low {
			i++
		}
		t.v4idx[k] = uint32(i)
	}
}

// TrustedWarning reports an entry that was accepted but probably not meant
// as written.
type TrustedWarning struct {
	Entry   string
	Message string
}

// ParseTrusted builds a Trusted set from trusted_ips entries: IPv4 or IPv6
// addresses, CIDRs, or "unix:" for Unix-socket peers, as Kong accepts them.
// Hostnames are refused (Kong refuses them too). A CIDR with host bits set
// is masked, as nginx does, and reported as a warning, as nginx does ("low
// address bits ... are meaningless"). Blank entries are skipped.
func ParseTrusted(entries []string) (*Trusted, []TrustedWarning, error) {
	var (
		b    netipx.IPSetBuilder
		t    = &Trusted{}
		warn []TrustedWarning
	)
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		t.entries = append(t.entries, e)
		if e == "unix:" {
			t.unix = true
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, nil, fmt.Errorf("trusted entry %q is not an IP address or CIDR", raw)
			}
			if p.Addr().Zone() != "" {
				return nil, nil, fmt.Errorf("trusted entry %q has an IPv6 zone, which nginx cannot match", raw)
			}
			if m := p.Masked(); m != p {
				warn = append(warn, TrustedWarning{Entry: e, Message: fmt.Sprintf("low address bits are meaningless; matches %s", m)})
				p = m
			}
			b.AddPrefix(p)
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, nil, fmt.Errorf("trusted entry %q is not an IP address or CIDR", raw)
		}
		if a.Zone() != "" {
			return nil, nil, fmt.Errorf("trusted entry %q has an IPv6 zone, which nginx cannot match", raw)
		}
		b.Add(a)
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, nil, fmt.Errorf("building trusted set: %w", err)
	}
	t.set = set
	t.index()
	return t, warn, nil
}

// MustTrusted is ParseTrusted for fixed, known-good entries (tests,
// examples); it panics on error.
func MustTrusted(entries ...string) *Trusted {
	t, _, err := ParseTrusted(entries)
	if err != nil {
		panic(err)
	}
	return t
}

// Contains reports whether nginx would treat a as coming from a trusted
// proxy. IPv4-mapped IPv6 addresses are matched against the IPv4 entries
// only, as nginx's ngx_cidr_match does; IPv6 entries never match them.
func (t *Trusted) Contains(a netip.Addr) bool {
	if t == nil {
		return false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		x := v4int(a)
		from := t.v4from
		// i = number of ranges starting at or before x.
		i, j := 0, len(from)
		if t.v4idx != nil {
			k := x >> t.v4shift
			i, j = int(t.v4idx[k]), int(t.v4idx[k+1])
		}
		for i < j {
			m := int(uint(i+j) >> 1)
			if from[m] <= x {
				i = m + 1
			} else {
				j = m
			}
		}
		return i > 0 && x <= t.v4to[i-1]
	}
	if !a.Is6() {
		return false
	}
	x := v6int(a)
	from := t.v6from
	i, j := 0, len(from)
	for i < j {
		m := int(uint(i+j) >> 1)
		if !x.less(from[m]) {
			i = m + 1
		} else {
			j = m
		}
	}
	return i > 0 && !t.v6to[i-1].less(x)
}

// ContainsUnix reports whether Unix-socket peers are trusted ("unix:").
func (t *Trusted) ContainsUnix() bool { return t != nil && t.unix }

// Empty reports whether nothing at all is trusted, in which case nginx's
// realip module does nothing.
func (t *Trusted) Empty() bool { return t == nil || len(t.entries) == 0 }

// Entries returns the entries as given (trimmed, blanks dropped).
func (t *Trusted) Entries() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.entries...)
}

// TrustsEverything reports whether every IPv4 or every IPv6 address is
// trusted, the setup that lets any client forge its address through a
// header.
func (t *Trusted) TrustsEverything() (v4, v6 bool) {
	if t == nil || t.set == nil {
		return false, false
	}
	return t.set.ContainsPrefix(netip.MustParsePrefix("0.0.0.0/0")),
		t.set.ContainsPrefix(netip.MustParsePrefix("::/0"))
}

// Ranges returns the number of disjoint ranges in the set, a measure of
// lookup depth.
func (t *Trusted) Ranges() int {
	if t == nil || t.set == nil {
		return 0
	}
	return len(t.set.Ranges())
}
