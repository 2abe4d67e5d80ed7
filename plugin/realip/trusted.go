package realip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/internal/iprange"
)

// Trusted is the set of addresses whose forwarding information is believed:
// Kong's trusted_ips, rendered by Kong as nginx set_real_ip_from lines.
// Only the merged ranges the lookup needs are kept (8 bytes an IPv4 range,
// 32 an IPv6 one), plus what was computed from them at build time.
// Lookups are O(log n) in the number of ranges and do not allocate.
type Trusted struct {
	set     iprange.Set
	unix    bool
	entries int
	// Computed at build time: every IPv4 / every IPv6 address is trusted.
	all4, all6 bool
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
		b    iprange.Builder
		t    = &Trusted{}
		warn []TrustedWarning
	)
	b.Grow(len(entries))
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
			// Cloned: e may share memory with a large config.
			warn = append(warn, TrustedWarning{Entry: strings.Clone(e), Message: fmt.Sprintf("low address bits are meaningless; matches %s", m)})
			p = m
		}
		b.AddPrefix(p)
	}
	t.set = *b.Set()
	t.all4, t.all6 = t.set.All4(), t.set.All6()
	return t, warn, nil
}

// parseEntry parses an address (as a single-address prefix; slash false)
// or a CIDR, refusing zones. The error completes "trusted entry %q".
func parseEntry(e string) (p netip.Prefix, slash bool, err error) {
	if strings.Contains(e, "/") {
		p, err = netip.ParsePrefix(e)
		if err != nil {
			return p, true, errors.New("is not an IP address or CIDR")
		}
		if p.Addr().Zone() != "" {
			return p, true, errors.New("has an IPv6 zone, which nginx cannot match")
		}
		return p, true, nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return p, false, errors.New("is not an IP address or CIDR")
	}
	if a.Zone() != "" {
		return p, false, errors.New("has an IPv6 zone, which nginx cannot match")
	}
	return netip.PrefixFrom(a, a.BitLen()), false, nil
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
	return t.ranges().Contains(a) // unmaps IPv4-mapped addresses
}

// ranges returns the set's ranges, nil for a nil set; Resolver keeps it to
// look addresses up with one call (iprange.Set.Contains).
func (t *Trusted) ranges() *iprange.Set {
	if t == nil {
		return nil
	}
	return &t.set
}

// ContainsUnix reports whether Unix-socket peers are trusted ("unix:").
func (t *Trusted) ContainsUnix() bool { return t != nil && t.unix }

// Empty reports whether nothing at all is trusted, in which case nginx's
// realip module does nothing.
func (t *Trusted) Empty() bool { return t == nil || t.entries == 0 }

// Len returns the number of entries (blanks dropped), "unix:" included.
func (t *Trusted) Len() int {
	if t == nil {
		return 0
	}
	return t.entries
}

// TrustsEverything reports whether every IPv4 or every IPv6 address is
// trusted, the setup that lets any client forge its address through a
// header. Both are computed when the set is built.
func (t *Trusted) TrustsEverything() (v4, v6 bool) {
	if t == nil {
		return false, false
	}
	return t.all4, t.all6
}

// Ranges returns the number of disjoint ranges in the set, a measure of
// lookup depth.
func (t *Trusted) Ranges() int {
	if t == nil {
		return 0
	}
	return t.set.Ranges()
}
