// Package forwarded parses the RFC 7239 Forwarded header:
//
//	Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"
//
// Elements are separated by commas, parameters by semicolons; parameter
// names are case-insensitive; values are tokens or quoted strings. A node
// (the value of for= or by=) is an IPv4 address, a bracketed IPv6 address
// (which must be quoted), "unknown", or an obfuscated identifier starting
// with '_', each optionally followed by ":port" (quoted) where the port is
// a number or an obfuscated "_name".
//
// The parser is strict where the RFC is: an unquoted IPv6 address, an IPv6
// zone, a bad port or an unterminated quote is an error, because every byte
// of a forwarding header may come from an attacker. It does not allocate
// except to unescape quoted-pairs.
package forwarded

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Errors returned by the parser. They are values so that the hot path does
// not allocate.
var (
	ErrEmpty        = errors.New("forwarded: empty element")
	ErrNoFor        = errors.New("forwarded: element has no for= parameter")
	ErrSyntax       = errors.New("forwarded: malformed parameter")
	ErrQuote        = errors.New("forwarded: unterminated or misplaced quote")
	ErrDuplicate    = errors.New("forwarded: parameter repeated in one element")
	ErrNode         = errors.New("forwarded: node is not an address, unknown or _obfuscated")
	ErrPort         = errors.New("forwarded: bad node port")
	ErrUnquotedIPv6 = errors.New("forwarded: IPv6 node must be quoted and bracketed")
)

// Node is the value of a for= or by= parameter.
type Node struct {
	// Addr is the node's address; invalid for unknown or obfuscated nodes.
	Addr netip.Addr
	// Port is the numeric port, 0 when absent or obfuscated.
	Port uint16
	// Unknown is set for the literal "unknown".
	Unknown bool
	// Obfuscated holds an obfuscated identifier ("_hidden"), if any.
	Obfuscated string
	// ObfuscatedPort holds an obfuscated port ("_p1"), if any.
	ObfuscatedPort string
}

// IsIP reports whether the node carries an address.
func (n Node) IsIP() bool { return n.Addr.IsValid() }

// String renders the node back in the RFC's form, quoting when needed.
func (n Node) String() string {
	var host string
	switch {
	case n.Addr.Is6():
		host = "[" + n.Addr.String() + "]"
	case n.Addr.IsValid():
		host = n.Addr.String()
	case n.Unknown:
		host = "unknown"
	default:
		host = n.Obfuscated
	}
	switch {
	case n.Port != 0:
		return strconv.Quote(host + ":" + strconv.Itoa(int(n.Port)))
	case n.ObfuscatedPort != "":
		return strconv.Quote(host + ":" + n.ObfuscatedPort)
	case n.Addr.Is6():
		return strconv.Quote(host)
	}
	return host
}

// Element is one comma-separated element of a Forwarded header.
type Element struct {
	For, By       Node
	HasFor, HasBy bool
	Host, Proto   string
}

// ParseNode parses a node value (already unquoted).
func ParseNode(s string) (Node, error) {
	var n Node
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Node{}, ErrNode
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return Node{}, ErrNode
			}
			port = port[1:]
			if port == "" {
				return Node{}, ErrPort
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return Node{}, ErrNode
		}
		n.Addr = a
	} else {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i+1:]
			if port == "" {
				return Node{}, ErrPort
			}
			if strings.IndexByte(port, ':') >= 0 {
				return Node{}, ErrUnquotedIPv6
			}
		}
		switch {
		case host == "":
			return Node{}, ErrNode
		case strings.EqualFold(host, "unknown"):
			n.Unknown = true
		case host[0] == '_':
			if !obfuscated(host) {
				return Node{}, ErrNode
			}
			n.Obfuscated = host
		default:
			a, err := netip.ParseAddr(host)
			if err != nil || !a.Is4() {
				return Node{}, ErrNode
			}
			n.Addr = a
		}
	}
	if port != "" {
		if port[0] == '_' {
			if !obfuscated(port) {
				return Node{}, ErrPort
			}
			n.ObfuscatedPort = port
		} else {
			if len(port) > 5 {
				return Node{}, ErrPort
			}
			v := 0
			for i := 0; i < len(port); i++ {
				if port[i] < '0' || port[i] > '9' {
					return Node{}, ErrPort
				}
				v = v*10 + int(port[i]-'0')
			}
			if v < 1 || v > 65535 {
				return Node{}, ErrPort
			}
			n.Port = uint16(v)
		}
	}
	return n, nil
}

// obfuscated checks the RFC's obfnode/obfport grammar: "_" then
// ALPHA / DIGIT / "." / "_" / "-".
func obfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ParseElement parses one element ("for=...;proto=...").
func ParseElement(s string) (Element, error) {
	var e Element
	s = trimOWS(s)
	if s == "" {
		return e, ErrEmpty
	}
	var seen uint8
	for s != "" {
		var pair string
		pair, s = cutParam(s)
		if trimOWS(pair) == "" {
			continue // the grammar allows empty pairs: "for=x;;proto=y"
		}
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 {
			return e, ErrSyntax
		}
		name := trimOWS(pair[:eq])
		val, err := value(trimOWS(pair[eq+1:]))
		if err != nil {
			return e, err
		}
		if !isToken(name) {
			return e, ErrSyntax
		}
		var bit uint8
		switch strings.ToLower(name) {
		case "for":
			bit = 1
			if e.For, err = ParseNode(val); err != nil {
				return e, err
			}
			e.HasFor = true
		case "by":
			bit = 2
			if e.By, err = ParseNode(val); err != nil {
				return e, err
			}
			e.HasBy = true
		case "host":
			bit = 4
			e.Host = val
		case "proto":
			bit = 8
			e.Proto = val
		default:
			continue // extensions are allowed and ignored
		}
		if seen&bit != 0 {
			return e, ErrDuplicate
		}
		seen |= bit
	}
	return e, nil
}

// ElementFor parses one element and returns its for= node.
func ElementFor(s string) (Node, error) {
	e, err := ParseElement(s)
	if err != nil {
		return Node{}, err
	}
	if !e.HasFor {
		return Node{}, ErrNoFor
	}
	return e.For, nil
}

// Parse parses a whole header value into its elements, left to right.
// Empty list elements ("a, , b") are skipped, as HTTP list syntax
// requires of recipients.
func Parse(v string) ([]Element, error) {
	var out []Element
	for v = trimOWS(v); v != ""; {
		end := elementEnd(v)
		if end < 0 {
			return out, ErrQuote
		}
		if trimOWS(v[:end]) != "" {
			e, err := ParseElement(v[:end])
			if err != nil {
				return out, err
			}
			out = append(out, e)
		}
		if end == len(v) {
			break
		}
		v = trimOWS(v[end+1:])
	}
	return out, nil
}

// TrimRight returns the length of v without trailing whitespace and
// commas, so that "a, b, " ends at b.
func TrimRight(v string) int {
	n := len(v)
	for n > 0 && (v[n-1] == ' ' || v[n-1] == '\t' || v[n-1] == ',') {
		n--
	}
	return n
}

// LastElementStart returns where the rightmost element of v begins: just
// after the last comma that is not inside a quoted string, or 0. Quotes are
// tracked from the right; a quote preceded by an odd number of backslashes
// is escaped.
func LastElementStart(v string) int {
	in := false
	for i := len(v) - 1; i >= 0; i-- {
		switch v[i] {
		case '"':
			bs := 0
			for j := i - 1; j >= 0 && v[j] == '\\'; j-- {
				bs++
			}
			if bs%2 == 0 {
				in = !in
			}
		case ',':
			if !in {
				return i + 1
			}
		}
	}
	return 0
}

// elementEnd returns the index of the comma ending the first element, or
// len(v), or -1 for an unterminated quote.
func elementEnd(v string) int {
	in := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if in {
				i++
			}
		case '"':
			in = !in
		case ',':
			if !in {
				return i
			}
		}
	}
	if in {
		return -1
	}
	return len(v)
}

// cutParam splits off the first ';'-separated pair, honouring quotes.
func cutParam(s string) (pair, rest string) {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if in {
				i++
			}
		case '"':
			in = !in
		case ';':
			if !in {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// value unquotes a parameter value. Tokens are returned as they are.
func value(v string) (string, error) {
	if v == "" {
		return "", ErrSyntax
	}
	if v[0] != '"' {
		if !isToken(v) {
			return "", ErrSyntax
		}
		return v, nil
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", ErrQuote
	}
	inner := v[1 : len(v)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		if strings.IndexByte(inner, '"') >= 0 {
			return "", ErrQuote
		}
		return inner, nil
	}
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c == '"' {
			return "", ErrQuote
		}
		if c == '\\' {
			i++
			if i == len(inner) {
				return "", ErrQuote
			}
			c = inner[i]
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// isToken checks RFC 7230 tchar.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
