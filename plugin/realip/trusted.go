package realip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

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
	var b TrustedBuilder
	b.Grow(len(entries))
	for _, raw := range entries {
		if err := b.Add(raw); err != nil {
			return nil, nil, err
		}
	}
	t, warn := b.Trusted()
	return t, warn, nil
}

// TrustedBuilder builds a Trusted set entry by entry, from strings or
// straight from the bytes of a config, with ParseTrusted's rules and
// errors. The zero value is ready to use.
type TrustedBuilder struct {
	b       iprange.Builder
	unix    bool
	entries int
	warn    []TrustedWarning
}

// Grow makes room for n more entries.
func (tb *TrustedBuilder) Grow(n int) { tb.b.Grow(n) }

// Add adds one trusted_ips entry (see ParseTrusted).
func (tb *TrustedBuilder) Add(raw string) error { return addTrusted(tb, raw) }

// AddBytes is Add for an entry in bytes; it does not keep raw.
func (tb *TrustedBuilder) AddBytes(raw []byte) error { return addTrusted(tb, raw) }

// Trusted returns the set of everything added, and the warnings, and
// empties the builder.
func (tb *TrustedBuilder) Trusted() (*Trusted, []TrustedWarning) {
	t := &Trusted{set: *tb.b.Set(), unix: tb.unix, entries: tb.entries}
	t.all4, t.all6 = t.set.All4(), t.set.All6()
	warn := tb.warn
	*tb = TrustedBuilder{}
	return t, warn
}

// addTrusted adds an entry read from a string or from bytes: the common
// forms of addresses and CIDRs without a netip value in between
// (iprange.Parse), anything else through net/netip.
func addTrusted[T iprange.Text](tb *TrustedBuilder, raw T) error {
	e := trimSpace(raw)
	if len(e) == 0 {
		return nil
	}
	tb.entries++
	if string(e) == "unix:" {
		tb.unix = true
		return nil
	}
	if x, ok := iprange.Parse(e); ok {
		if x.HostBits() {
			tb.masked(string(e), x.Prefix())
		}
		tb.b.Add(x)
		return nil
	}
	p, slash, err := parseEntry(string(e))
	if err != nil {
		return fmt.Errorf("trusted entry %q %s", string(raw), err)
	}
	if !slash {
		tb.b.AddAddr(p.Addr())
		return nil
	}
	if p.Masked() != p {
		tb.masked(string(e), p)
	}
	tb.b.AddPrefix(p)
	return nil
}

// masked records the warning for a CIDR with host bits set. entry is a
// copy: it must not share memory with a large config.
func (tb *TrustedBuilder) masked(entry string, p netip.Prefix) {
	tb.warn = append(tb.warn, TrustedWarning{Entry: entry, Message: fmt.Sprintf("low address bits are meaningless; matches %s", p.Masked())})
}

// trimSpace is strings.TrimSpace for strings and bytes.TrimSpace for
// bytes (they trim the same characters), without a copy.
func trimSpace[T iprange.Text](s T) T {
	i, j := 0, len(s)
	for i < j && asciiSpace(s[i]) {
		i++
	}
	for j > i && asciiSpace(s[j-1]) {
		j--
	}
	if i < j && (s[i] >= utf8.RuneSelf || s[j-1] >= utf8.RuneSelf) {
		// Perhaps Unicode spaces (U+0085, U+00A0, ...): the standard
		// library's rule, on a copy (entries are ASCII but for mistakes).
		return T(strings.TrimSpace(string(s[i:j])))
	}
	return s[i:j]
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
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
