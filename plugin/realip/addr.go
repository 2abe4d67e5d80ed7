package realip

import (
	"net/netip"
	"strconv"
)

// This file holds nginx's address grammar, which is looser than Go's
// netip in some places and stricter in others. The differences are the
// point: nginx decides what Kong's client IP is, so a token is an address
// exactly when nginx says so.
//
//   - IPv4 octets are decimal with any number of leading zeros
//     ("010.1.1.1" is 10.1.1.1, never octal) and empty octets count as 0
//     ("1..2.3" is 1.0.2.3); exactly four octets are required.
//   - "255.255.255.255" is rejected: nginx's parser returns INADDR_NONE for
//     it, which is also its error value.
//   - IPv6 zones ("fe80::1%eth0") are rejected.
//   - "addr:port" and "[v6]:port" carry a port 1..65535 (leading zeros
//     allowed); a bare "[v6]" is rejected (nginx < 1.27.3, i.e. every Kong
//     release to date).

// parseIPv4 parses text the way nginx's ngx_inet_addr does.
func parseIPv4(s string) (netip.Addr, bool) {
	var (
		addr  uint32
		octet uint32
		dots  int
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			octet = octet*10 + uint32(c-'0')
			if octet > 255 {
				return netip.Addr{}, false
			}
		case c == '.':
			addr = addr<<8 + octet
			octet = 0
			dots++
			if dots > 3 {
				return netip.Addr{}, false
			}
		default:
			return netip.Addr{}, false
		}
	}
	if dots != 3 {
		return netip.Addr{}, false
	}
	addr = addr<<8 + octet
	if addr == 0xffffffff { // INADDR_NONE doubles as nginx's error value
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)}), true
}

// parseIPv6 parses text the way nginx's ngx_inet6_addr does: hex groups of
// at most four digits, one "::", an optional trailing dotted IPv4 part.
func parseIPv6(s string) (netip.Addr, bool) {
	if len(s) == 0 {
		return netip.Addr{}, false
	}
	var (
		out     [16]byte
		pos     int  // next byte of out to write
		zeroAt  = -1 // index in out where "::" was seen
		digitAt = -1 // index in s where the current group starts
		nibbles int
		word    uint32
		groups  = 8 // groups still to write
	)
	i := 0
	if s[0] == ':' {
		i = 1
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == ':' {
			if nibbles > 0 {
				digitAt = i + 1
				out[pos], out[pos+1] = byte(word>>8), byte(word)
				pos += 2
				groups--
				if groups > 0 {
					nibbles, word = 0, 0
					continue
				}
			} else if zeroAt < 0 {
				digitAt = i + 1
				zeroAt = pos
				continue
			}
			return netip.Addr{}, false
		}
		if c == '.' && nibbles > 0 {
			if groups < 2 || digitAt < 0 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(s[digitAt:])
			if !ok {
				return netip.Addr{}, false
			}
			b := v4.As4()
			out[pos], out[pos+1], out[pos+2], out[pos+3] = b[0], b[1], b[2], b[3]
			pos += 4
			groups -= 2
			goto done
		}
		nibbles++
		if nibbles > 4 {
			return netip.Addr{}, false
		}
		switch {
		case c >= '0' && c <= '9':
			word = word*16 + uint32(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			word = word*16 + uint32(c|0x20-'a') + 10
		default:
			return netip.Addr{}, false
		}
	}
	if nibbles == 0 && zeroAt < 0 {
		return netip.Addr{}, false
	}
	out[pos], out[pos+1] = byte(word>>8), byte(word)
	pos += 2
	groups--
done:
	if groups > 0 {
		if zeroAt < 0 {
			return netip.Addr{}, false
		}
		// Move what follows "::" to the end and zero the gap.
		shift := groups * 2
		copy(out[zeroAt+shift:pos+shift], out[zeroAt:pos])
		for k := zeroAt; k < zeroAt+shift; k++ {
			out[k] = 0
		}
		return netip.AddrFrom16(out), true
	}
	if zeroAt >= 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(out), true
}

// ParseAddr parses a bare address as nginx's ngx_parse_addr does: IPv4
// first, then IPv6.
func ParseAddr(s string) (netip.Addr, bool) {
	if a, ok := parseIPv4(s); ok {
		return a, true
	}
	return parseIPv6(s)
}

// ParseAddrPort parses one forwarding-header token as nginx's
// ngx_parse_addr_port does. A token without a port yields port 0, which is
// what nginx stores and why $remote_port is then empty.
func ParseAddrPort(s string) (addr netip.Addr, port uint16, ok bool) {
	if a, ok := ParseAddr(s); ok {
		return a, 0, true
	}
	host := s
	var portText string
	if len(s) > 0 && s[0] == '[' {
		end := indexByte(s, ']')
		if end < 0 || end == len(s)-1 || s[end+1] != ':' {
			return netip.Addr{}, 0, false
		}
		host, portText = s[1:end], s[end+2:]
	} else {
		colon := indexByte(s, ':')
		if colon < 0 {
			return netip.Addr{}, 0, false
		}
		host, portText = s[:colon], s[colon+1:]
	}
	p, ok := parsePort(portText)
	if !ok {
		return netip.Addr{}, 0, false
	}
	a, ok := ParseAddr(host)
	if !ok {
		return netip.Addr{}, 0, false
	}
	return a, p, true
}

// parsePort accepts decimal digits only (leading zeros allowed) in 1..65535,
// as nginx's ngx_atoi plus its range check.
func parsePort(s string) (uint16, bool) {
	if len(s) == 0 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
		if v > 65535 {
			// Every further digit only grows it; nginx rejects the same
			// values (it fails on overflow or on > 65535).
			for j := i + 1; j < len(s); j++ {
				if s[j] < '0' || s[j] > '9' {
					return 0, false
				}
			}
			return 0, false
		}
	}
	if v < 1 {
		return 0, false
	}
	return uint16(v), true
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// FormatAddr renders an address as nginx renders $remote_addr. It differs
// from netip.Addr.String for some IPv6 addresses: nginx prints the
// IPv4-compatible forms "::a.b.c.d" (six leading zero groups) and
// "::0.0.c.d" (seven, unless the address is ::1 or ends in .1).
func FormatAddr(a netip.Addr) string {
	var buf [46]byte
	return string(AppendAddr(buf[:0], a))
}

// AppendAddr appends FormatAddr(a) to b.
func AppendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return b
	}
	if a.Is4() {
		return a.AppendTo(b)
	}
	p := a.As16()
	// Longest run of zero groups, first one on ties, at least two long.
	zero, best, run, start := -1, 1, 0, 0
	for i := 0; i < 16; i += 2 {
		if p[i] != 0 || p[i+1] != 0 {
			if run > best {
				zero, best = start, run
			}
			run = 0
			continue
		}
		if run == 0 {
			start = i
		}
		run++
	}
	if run > best {
		zero, best = start, run
	}
	n := 16
	if zero == 0 {
		if (best == 5 && p[10] == 0xff && p[11] == 0xff) || best == 6 ||
			(best == 7 && p[14] != 0 && p[15] != 1) {
			n = 12
		}
		b = append(b, ':')
	}
	for i := 0; i < n; i += 2 {
		if i == zero {
			b = append(b, ':')
			i += (best - 1) * 2
			continue
		}
		b = strconv.AppendUint(b, uint64(p[i])<<8|uint64(p[i+1]), 16)
		if i < 14 {
			b = append(b, ':')
		}
	}
	if n == 12 {
		for i := 12; i < 16; i++ {
			b = strconv.AppendUint(b, uint64(p[i]), 10)
			if i < 15 {
				b = append(b, '.')
			}
		}
	}
	return b
}
