package realip

import (
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
	if t == nil || t.set == nil {
		return false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	return t.set.Contains(a.WithZone(""))
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
