// Package nginxvar models the nginx variables client-ip-guard's fast path
// reads, as nginx computes them from a request's header lines: the $http_
// variables and a complex value such as a map's ("text$var${var}").
// pdkserver serves $client_ip_guard_facts with it, and the tests render the
// variable for a request with it; pdkserver/nginxflow's test checks it
// against Debian's nginx, and ParseMaps reads the include that defines
// $client_ip_guard_facts.
package nginxvar

import (
	"fmt"
	"strings"
)

// Header is one request header line as nginx kept it.
type Header struct{ Name, Value string }

// Version is an nginx version, major and minor.
type Version struct{ Major, Minor int }

// Versions that matter here: Debian 12's nginx, and the OpenResty of Kong
// 3.6 to 3.9.
var (
	V1_22 = Version{1, 22}
	V1_25 = Version{1, 25}
)

func (v Version) atLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// String is the version as $nginx_version prints it (with patch 0 unless
// it is one of the modelled releases).
func (v Version) String() string {
	switch v {
	case V1_22:
		return "1.22.1"
	case V1_25:
		return "1.25.3"
	}
	return fmt.Sprintf("%d.%d.0", v.Major, v.Minor)
}

// knownHeader is one of the $http_ variables nginx defines itself
// (ngx_http_core_variables, src/http/ngx_http_variables.c:164-186 in
// 1.22.1 and 1.25.3): it reads the header nginx's headers_in hash stored
// under its dash spelling, matched ignoring case, so a line spelled with
// '_' (X_Forwarded_For) is not part of it.
type knownHeader struct {
	name string // the header name, lower case
	sep  string // what joins the lines
	// firstOnly122: before 1.23.0 the header is one pointer set by its
	// first line (ngx_http_process_header_line and _user_agent, 1.22.1
	// src/http/ngx_http_request.c:1738-1750, 1842-1850); X-Forwarded-For
	// and Cookie were already lists (ngx_http_process_multi_header_lines).
	firstOnly122 bool
}

var knownHeaders = map[string]knownHeader{
	"host":            {"host", ", ", true}, // a second Host line is refused with 400
	"user_agent":      {"user-agent", ", ", true},
	"referer":         {"referer", ", ", true},
	"via":             {"via", ", ", true},
	"x_forwarded_for": {"x-forwarded-for", ", ", false},
	"cookie":          {"cookie", "; ", false}, // ngx_http_variable_cookies
}

// HTTP returns $http_<name> (name as in the variable: lowercase, '_' for
// '-') for the request's header lines under nginx v, and whether it is
// found.
//
//   - the names nginx defines itself (host, user_agent, referer, via,
//     x_forwarded_for, cookie) read their header by its exact name,
//     ignoring case: every line joined with ", " ("; " for cookie) by
//     ngx_http_variable_headers_internal (1.25.3 :827-875); in 1.22.1
//     only x_forwarded_for and cookie are lists (:838-868), the others
//     are their first line.
//   - any other name is looked up by ngx_http_variable_unknown_header, which
//     lowercases each header name and reads '-' as '_', so X-Real-IP and
//     X_Real_IP both match http_x_real_ip. Before 1.23.0 it returns the
//     first matching line (1.22.1 :949); since, all of them joined with
//     ", " (1.25.3 :925-1010).
func HTTP(headers []Header, name string, v Version) (string, bool) {
	kh, known := knownHeaders[name]
	first := !v.atLeast(1, 23) && (!known || kh.firstOnly122)
	sep := ", "
	if known {
		sep = kh.sep
	}
	var b strings.Builder
	found := false
	for _, h := range headers {
		if known {
			if !strings.EqualFold(h.Name, kh.name) {
				continue
			}
		} else if !unknownMatch(h.Name, name) {
			continue
		}
		if first {
			return h.Value, true
		}
		if found {
			b.WriteString(sep)
		}
		b.WriteString(h.Value)
		found = true
	}
	return b.String(), found
}

// unknownMatch is ngx_http_variable_unknown_header's name comparison.
func unknownMatch(header, name string) bool {
	if len(header) != len(name) {
		return false
	}
	for i := 0; i < len(header); i++ {
		c := header[i]
		if c >= 'A' && c <= 'Z' {
			c |= 0x20
		} else if c == '-' {
			c = '_'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// Expand evaluates a complex value (the text of a map value after nginx's
// conf parser has read its escapes): "$name" and "${name}" are replaced by
// lookup's value, a variable nginx does not know being an error, as at
// nginx's start-up. A variable name is letters, digits and '_'
// (ngx_http_script_compile, 1.25.3 src/http/ngx_http_script.c).
func Expand(value string, lookup func(name string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(value); {
		c := value[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		brace := i < len(value) && value[i] == '{'
		if brace {
			i++
		}
		start := i
		for i < len(value) && isNameByte(value[i]) {
			i++
		}
		name := value[start:i]
		if brace {
			if i >= len(value) || value[i] != '}' {
				return "", fmt.Errorf("the closing bracket in %q variable is missing", name)
			}
			i++
		}
		if name == "" {
			return "", fmt.Errorf("invalid variable name in %q", value)
		}
		val, ok := lookup(strings.ToLower(name))
		if !ok {
			return "", fmt.Errorf("unknown %q variable", name)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// HeaderNameValid is ngx_http_parse_header_line's check of a header name
// (src/http/ngx_http_parse.c, nginx 1.22.1 and 1.25.3 alike): letters,
// digits, '-', and '_' when underscores_in_headers is on. Any other byte
// marks the line invalid, and with ignore_invalid_headers on (nginx's
// default) nginx drops it, logging "client sent invalid header line" at
// info (ngx_http_process_request_headers, src/http/ngx_http_request.c:
// 1447-1463 at release-1.25.3): no variable, no Lua API and no upstream
// sees it.
func HeaderNameValid(name string, underscores bool) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		case c == '_' && underscores:
		default:
			return false
		}
	}
	return true
}

// Vars are the variables of one request that client-ip-guard's fast-path
// include (plugin/fastpath.Include) reads, as nginx v would give them.
type Vars struct {
	Version Version
	// RealIPRemoteAddr is $realip_remote_addr (the connection's peer);
	// RemoteAddr is $remote_addr after realip.
	RealIPRemoteAddr, RemoteAddr string
	// ProxyProtocolAddr and ProxyProtocolPort are empty without a PROXY
	// header.
	ProxyProtocolAddr, ProxyProtocolPort string
	// Headers are the header lines nginx kept, in order.
	Headers []Header
}

// Lookup is Expand's lookup over v: a variable nginx has no value for (no
// PROXY header, no such header line) renders empty, as in a complex value;
// ok is false for a variable outside the fast path's include.
func (v *Vars) Lookup(name string) (string, bool) {
	switch name {
	case "nginx_version":
		return v.Version.String(), true
	case "realip_remote_addr":
		return v.RealIPRemoteAddr, true
	case "remote_addr":
		return v.RemoteAddr, true
	case "proxy_protocol_addr":
		return v.ProxyProtocolAddr, true
	case "proxy_protocol_port":
		return v.ProxyProtocolPort, true
	}
	if h, ok := strings.CutPrefix(name, "http_"); ok && h != "" {
		s, _ := HTTP(v.Headers, h, v.Version)
		return s, true
	}
	return "", false
}
