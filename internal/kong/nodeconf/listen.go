package nodeconf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Listener is one proxy_listen entry as Kong's listener parser understands it.
type Listener struct {
	// Raw is the entry as written, trimmed.
	Raw string
	// Host is the address part as Kong normalises it: dotted IPv4 without
	// leading zeros, IPv6 fully expanded and bracketed, or a hostname.
	Host string
	// Port is the port number.
	Port int
	// SSL, HTTP2, ProxyProtocol, Deferred, ReusePort and Bind report the
	// boolean flags.
	SSL, HTTP2, ProxyProtocol, Deferred, ReusePort, Bind bool
	// Backlog is the backlog=N value, 0 when absent.
	Backlog int
	// Flags lists every flag present, in Kong's canonical order (not the
	// order written), http2 included.
	Flags []string
}

// httpFlags is Kong's accepted flag set for HTTP listeners, in the order Kong
// checks them and renders them. Each pattern must match a whole
// whitespace-separated word.
var httpFlags = []struct {
	name string
	re   *regexp.Regexp
}{
	{"ssl", regexp.MustCompile(`^ssl$`)},
	{"http2", regexp.MustCompile(`^http2$`)},
	{"proxy_protocol", regexp.MustCompile(`^proxy_protocol$`)},
	{"deferred", regexp.MustCompile(`^deferred$`)},
	{"bind", regexp.MustCompile(`^bind$`)},
	{"reuseport", regexp.MustCompile(`^reuseport$`)},
	{"backlog", regexp.MustCompile(`^backlog=[0-9]+$`)},
	{"ipv6only", regexp.MustCompile(`^ipv6only=(on|off)$`)},
	{"so_keepalive", regexp.MustCompile(`^so_keepalive=(on|off|[A-Za-z0-9]*:[A-Za-z0-9]*:[0-9]*)$`)},
}

// listenUsage mirrors the shape of Kong's own usage text for *_listen keys.
const listenUsage = "must be of form: [off] | <ip>:<port> [ssl] [http2] [proxy_protocol] [deferred] [bind] [reuseport] [backlog=%d+] [ipv6only=on] [ipv6only=off] [so_keepalive=on] [so_keepalive=off] [so_keepalive=%w*:%w*:%d*], [... next entry ...]"

// ParseListen parses a proxy_listen value: comma-separated entries of
// "<ip>:<port>" followed by flags, or "off" as the first entry (no
// listeners). Errors name the entry and the flag or address that Kong would
// refuse.
//
// Kong matches each flag once: a repeated boolean flag is left over and
// makes the entry invalid, as it does in Kong; so does an unknown word.
func ParseListen(value string) ([]Listener, error) {
	entries, off := ListenEntries(value)
	if off {
		return []Listener{}, nil
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("proxy_listen %q %s", value, listenUsage)
	}
	out := make([]Listener, 0, len(entries))
	for _, e := range entries {
		l, err := ParseListenEntry(e)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ListenEntries splits a *_listen value into its comma-separated entries,
// trimmed (kong/conf_loader/parse.lua:91-99 at 3.9.3 splits an array value
// on ',' and strips each element; empty entries are dropped here). off
// reports Kong's "off": a first entry that is exactly "off" once stripped,
// lower case, means no listener and the other entries are not read
// (kong/conf_loader/listeners.lua:101-103).
func ListenEntries(value string) (entries []string, off bool) {
	for _, e := range strings.Split(value, ",") {
		if e = strings.TrimSpace(e); e != "" {
			entries = append(entries, e)
		}
	}
	if len(entries) > 0 && entries[0] == "off" {
		return nil, true
	}
	return entries, false
}

// ParseListenEntry parses one proxy_listen entry. On error the Listener
// still carries the flags Kong's matcher found, for callers that report
// the error and go on (lint).
func ParseListenEntry(entry string) (Listener, error) {
	l := Listener{Raw: entry}
	words := strings.Fields(entry)
	used := make([]bool, len(words))
	for _, f := range httpFlags {
		// Kong takes the first word matching the flag and removes it (and
		// only it, for boolean flags written twice).
		for i, w := range words {
			if used[i] || !f.re.MatchString(w) {
				continue
			}
			used[i] = true
			switch f.name {
			case "ssl":
				l.SSL = true
			case "http2":
				l.HTTP2 = true
			case "proxy_protocol":
				l.ProxyProtocol = true
			case "deferred":
				l.Deferred = true
			case "bind":
				l.Bind = true
			case "reuseport":
				l.ReusePort = true
			case "backlog":
				n, err := strconv.Atoi(strings.TrimPrefix(w, "backlog="))
				if err != nil {
					return l, fmt.Errorf("proxy_listen entry %q: flag %q: backlog out of range", entry, w)
				}
				l.Backlog = n
			}
			l.Flags = append(l.Flags, w)
			break
		}
	}
	var rest []string
	for i, w := range words {
		if !used[i] {
			rest = append(rest, w)
		}
	}
	if len(rest) == 0 {
		return l, fmt.Errorf("proxy_listen entry %q: no <ip>:<port>; %s", entry, listenUsage)
	}
	if len(rest) > 1 {
		// The address is the first word; anything else left over is a
		// flag Kong does not know (or one written twice).
		return l, fmt.Errorf("proxy_listen entry %q: unknown or repeated flag %q; %s", entry, rest[1], listenUsage)
	}
	host, port, err := normalizeHostPort(rest[0])
	if err != nil {
		return l, fmt.Errorf("proxy_listen entry %q: address %q: %v", entry, rest[0], err)
	}
	l.Host, l.Port = host, port
	return l, nil
}

// Listen returns the text Kong puts after "listen" in nginx.conf for this
// entry: host:port followed by the flags in Kong's canonical order. http2 is
// left out: Kong 3.6+ (nginx 1.25.1+ deprecated "listen ... http2") renders
// a separate "http2 on;" directive instead.
func (l Listener) Listen() string {
	var b strings.Builder
	b.WriteString(l.Host)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(l.Port))
	for _, f := range l.Flags {
		if f == "http2" {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(f)
	}
	return b.String()
}

// normalizeHostPort mirrors Kong's address handling for listeners: a value
// with two or more colons is IPv6 ("[addr]:port", expanded to eight
// four-digit groups), digits and dots are IPv4, anything else is a hostname
// followed by ":port".
func normalizeHostPort(s string) (string, int, error) {
	switch {
	case strings.Count(s, ":") > 1:
		return normalizeIPv6(s)
	case isDigitsDots(strings.Replace(s, ":", "", 1)):
		return normalizeIPv4(s)
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || !isDigits(s[i+1:]) {
		return "", 0, fmt.Errorf("want <host>:<port>")
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", s[i+1:])
	}
	return s[:i], p, nil
}

func normalizeIPv4(s string) (string, int, error) {
	host, portText, ok := strings.Cut(s, ":")
	if !ok || portText == "" {
		return "", 0, fmt.Errorf("want <ipv4>:<port>")
	}
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return "", 0, fmt.Errorf("invalid ipv4 address")
	}
	var oct [4]int
	for i, p := range parts {
		if len(p) < 1 || len(p) > 3 || !isDigits(p) {
			return "", 0, fmt.Errorf("invalid ipv4 address")
		}
		oct[i], _ = strconv.Atoi(p)
		if oct[i] > 255 {
			return "", 0, fmt.Errorf("invalid ipv4 address")
		}
	}
	port, err := parseListenPort(portText)
	if err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("%d.%d.%d.%d", oct[0], oct[1], oct[2], oct[3]), port, nil
}

func normalizeIPv6(s string) (string, int, error) {
	if !strings.HasPrefix(s, "[") {
		return "", 0, fmt.Errorf("want [<ipv6>]:<port>")
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return "", 0, fmt.Errorf("invalid ipv6 address")
	}
	addr, tail := s[1:end], s[end+1:]
	if !strings.HasPrefix(tail, ":") || !isDigits(tail[1:]) || len(tail) == 1 {
		return "", 0, fmt.Errorf("want [<ipv6>]:<port>")
	}
	port, err := parseListenPort(tail[1:])
	if err != nil {
		return "", 0, err
	}
	if strings.HasPrefix(addr, ":") {
		addr = "0" + addr
	}
	if strings.HasSuffix(addr, ":") {
		addr += "0"
	}
	if strings.Contains(addr, "::") {
		n := strings.Count(addr, ":")
		if n > 8 {
			return "", 0, fmt.Errorf("invalid ipv6 address")
		}
		addr = strings.Replace(addr, "::", ":"+strings.Repeat("0:", 8-n), 1)
	}
	groups := strings.Split(addr, ":")
	if len(groups) != 8 {
		return "", 0, fmt.Errorf("invalid ipv6 address")
	}
	for i, g := range groups {
		if len(g) < 1 || len(g) > 4 || !isHex(g) {
			return "", 0, fmt.Errorf("invalid ipv6 address")
		}
		groups[i] = strings.ToLower(strings.Repeat("0", 4-len(g)) + g)
	}
	return "[" + strings.Join(groups, ":") + "]", port, nil
}

func parseListenPort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p > 65535 {
		return 0, fmt.Errorf("invalid port number %q", s)
	}
	return p, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isDigitsDots(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if (s[i] < '0' || s[i] > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
