// Package nginxvar models the nginx variables client-ip-guard's fast path
// reads, as nginx computes them from a request's header lines: the $http_
// variables and a complex value such as a map's ("text$var${var}").
// pdkserver serves $client_ip_guard_facts with it, and the tests render the
// variable for a request with it; internal/nginxflow's test checks it
// against Debian's nginx.
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

// HTTP returns $http_<name> (name as in the variable: lowercase, '_' for
// '-') for the request's header lines under nginx v, and whether it is
// found.
//
//   - http_x_forwarded_for is the known header X-Forwarded-For, matched by
//     its exact lowercase name (the headers_in hash): every line, joined
//     with ", " (ngx_http_variable_headers_internal; 1.22.1
//     src/http/ngx_http_variables.c:181/838, 1.25.3 :181/827).
//   - any other name is looked up by ngx_http_variable_unknown_header, which
//     lowercases each header name and reads '-' as '_', so X-Real-IP and
//     X_Real_IP both match http_x_real_ip. Before 1.23.0 it returns the
//     first matching line (1.22.1 :949); since, all of them joined with
//     ", " (1.25.3 :925-1010).
func HTTP(headers []Header, name string, v Version) (string, bool) {
	var vals []string
	for _, h := range headers {
		if name == "x_forwarded_for" {
			if !strings.EqualFold(h.Name, "x-forwarded-for") {
				continue
			}
		} else if !unknownMatch(h.Name, name) {
			continue
		}
		if name != "x_forwarded_for" && !v.atLeast(1, 23) {
			return h.Value, true
		}
		vals = append(vals, h.Value)
	}
	if len(vals) == 0 {
		return "", false
	}
	return strings.Join(vals, ", "), true
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
