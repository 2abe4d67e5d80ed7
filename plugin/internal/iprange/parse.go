package iprange

import (
	"math"
	"net/netip"
)

// Entry is an address or a CIDR read by Parse, as integers: what a Builder
// stores, without a netip value in between.
type Entry struct {
	hi, lo uint64 // the address; an IPv4 address is lo's low 32 bits
	bits   uint8  // prefix length; the family's length for an address
	is6    bool
	slash  bool // written as a CIDR
}

// Text is what Parse reads: a string, or bytes straight from a config.
type Text interface{ ~string | ~[]byte }

// Parse reads s as an IPv4 or IPv6 address or CIDR in the forms lists of
// addresses are written in: dotted quads, and IPv6 hex groups with at most
// one "::". ok false means s is not in one of those forms, not that it is
// invalid: the caller asks net/netip, which decides (embedded IPv4 in
// IPv6, zones, every error). Whenever ok is true, netip.ParsePrefix (with
// a slash) or netip.ParseAddr (without) accepts s and returns the same
// address and length; FuzzParse checks it. It does not allocate.
func Parse[T Text](s T) (e Entry, ok bool) {
	// The family is told by the first separator, which comes within a
	// field's width: one pass over s from there.
	n := 0
	for i := 0; i < len(s) && i < 5; i++ {
		if s[i] == '.' {
			var x uint32
			x, n, ok = parse4(s)
			e.lo, e.bits = uint64(x), 32
			break
		}
		if s[i] == ':' {
			e.hi, e.lo, n, ok = parse6(s)
			e.bits, e.is6 = 128, true
			break
		}
	}
	switch {
	case !ok:
		return Entry{}, false
	case n == len(s):
		return e, true
	case s[n] != '/':
		return Entry{}, false
	}
	bits, ok := parseBits(s[n+1:])
	if !ok || bits > e.bits {
		return Entry{}, false
	}
	e.bits, e.slash = bits, true
	return e, true
}

// parseBits reads a prefix length as netip.ParsePrefix accepts it: decimal
// digits, no sign, no leading zero (the family's limit is checked by the
// caller).
func parseBits[T Text](s T) (uint8, bool) {
	if len(s) == 0 || len(s) > 3 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 128 {
		return 0, false
	}
	return uint8(v), true
}

// parse4 reads a dotted quad at the start of s, up to the first byte that
// is neither a digit nor a dot: four decimal fields of 0-255, no leading
// zeros, as netip's parseIPv4Fields requires. n is the bytes read.
func parse4[T Text](s T) (x uint32, n int, ok bool) {
	field, digits, dots := uint32(0), 0, 0
	for ; n < len(s); n++ {
		c := s[n]
		if c >= '0' && c <= '9' {
			if digits == 1 && field == 0 {
				return 0, 0, false // leading zero
			}
			field = field*10 + uint32(c-'0')
			digits++
			if field > 255 {
				return 0, 0, false
			}
			continue
		}
		if c != '.' {
			break
		}
		if digits == 0 || dots == 3 {
			return 0, 0, false
		}
		x = x<<8 | field
		field, digits = 0, 0
		dots++
	}
	if dots != 3 || digits == 0 {
		return 0, 0, false
	}
	return x<<8 | field, n, true
}

// parse6 reads IPv6 hex groups of one to four digits separated by colons,
// with at most one "::" standing for at least one zero group, at the start
// of s up to the first byte that is neither a hex digit nor a colon. An
// embedded IPv4 address (a dot) is left to netip. n is the bytes read.
func parse6[T Text](s T) (hi, lo uint64, n int, ok bool) {
	var groups [8]uint16
	g, ellipsis := 0, -1
	need := true // a group must come next: at the start, after one colon
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, n, need = 0, 2, false
	}
	for n < len(s) {
		v, start := uint16(0), n
		for n < len(s) && n-start < 5 {
			d := hexVal[s[n]]
			if d == 0xff {
				break
			}
			v = v<<4 | uint16(d)
			n++
		}
		if n == start {
			if need {
				return 0, 0, 0, false
			}
			break // "::" ends the address
		}
		if n-start > 4 || g == 8 {
			return 0, 0, 0, false
		}
		groups[g] = v
		g++
		need = false
		if n == len(s) || s[n] != ':' {
			break
		}
		// A colon, then a group or a second colon.
		n++
		need = true
		if n < len(s) && s[n] == ':' {
			if ellipsis >= 0 {
				return 0, 0, 0, false
			}
			ellipsis, need = g, false
			n++
		}
	}
	if need || n < len(s) && s[n] == '.' {
		return 0, 0, 0, false
	}
	switch {
	case ellipsis < 0 && g != 8:
		return 0, 0, 0, false
	case ellipsis >= 0 && g == 8:
		return 0, 0, 0, false // "::" must stand for at least one group
	case ellipsis >= 0:
		z := 8 - g
		copy(groups[ellipsis+z:], groups[ellipsis:g])
		clear(groups[ellipsis : ellipsis+z])
	}
	for k := 0; k < 4; k++ {
		hi = hi<<16 | uint64(groups[k])
		lo = lo<<16 | uint64(groups[4+k])
	}
	return hi, lo, n, true
}

// hexVal maps a byte to its hex digit value, 0xff for a non-digit: one
// load instead of three comparisons per character.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = byte(c-'a'+10), byte(c-'a'+10)
	}
	return t
}()

// CIDR reports whether e was written as a CIDR (with a slash).
func (e Entry) CIDR() bool { return e.slash }

// HostBits reports whether e has address bits set beyond its prefix
// length, which Builder.Add masks off.
func (e Entry) HostBits() bool {
	if !e.is6 {
		return uint32(e.lo)&(math.MaxUint32>>e.bits) != 0
	}
	h := hostMask6(int(e.bits))
	return e.hi&h.hi != 0 || e.lo&h.lo != 0
}

// Prefix returns e as a netip.Prefix (a bare address as a single-address
// prefix), for messages.
func (e Entry) Prefix() netip.Prefix {
	if !e.is6 {
		x := uint32(e.lo)
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}), int(e.bits))
	}
	var a [16]byte
	for k := 0; k < 8; k++ {
		a[k], a[8+k] = byte(e.hi>>(56-8*k)), byte(e.lo>>(56-8*k))
	}
	return netip.PrefixFrom(netip.AddrFrom16(a), int(e.bits))
}

// hostMask6 is the host part of an IPv6 prefix of the given length.
func hostMask6(bits int) u128 {
	if bits < 64 {
		return u128{math.MaxUint64 >> bits, math.MaxUint64}
	}
	return u128{0, math.MaxUint64 >> (bits - 64)} // bits == 128: 0
}

// Add adds every address of e; host bits are ignored (the prefix is
// masked), as AddPrefix does.
func (b *Builder) Add(e Entry) {
	if !e.is6 {
		host := uint32(math.MaxUint32) >> e.bits // bits == 32: 0
		first := uint32(e.lo) &^ host
		b.v4 = append(b.v4, uint64(first)<<32|uint64(first|host))
		return
	}
	host := hostMask6(int(e.bits))
	first := u128{e.hi &^ host.hi, e.lo &^ host.lo}
	b.v6 = append(b.v6, range6{first, u128{first.hi | host.hi, first.lo | host.lo}})
}
