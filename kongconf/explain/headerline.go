package explain

import (
	"fmt"
)

// nginx reads request header lines with ngx_http_parse_header_line
// (src/http/ngx_http_parse.c, nginx 1.22.1 and 1.25.3 alike), under the
// settings Kong's template leaves or sets: underscores_in_headers on
// (kong/templates/nginx_kong.lua:30 at 3.9.3) and ignore_invalid_headers
// at its default, on.

// headerLine is one request header line as nginx keeps it.
type headerLine struct {
	Name, Value string
	// Ignored is set when nginx drops the line (a name byte that is not a
	// letter, digit, '-' or '_': ignore_invalid_headers).
	Ignored bool
}

// nameByte reports whether nginx's lowcase table maps c (letters, digits
// and '-'), or c is '_', allowed by underscores_in_headers.
func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// parseHeaderLine reads "Name: value" as nginx does:
//   - a name starting with a space, a control character, DEL or ':', or
//     holding a space or control character, is a 400 (nginx >= 1.21.1);
//   - any other byte outside [A-Za-z0-9_-] in the name makes nginx ignore
//     the line;
//   - a line without ':' is a header with an empty value;
//   - the value loses its leading and trailing spaces, not tabs; a NUL in
//     it is a 400.
func parseHeaderLine(line string) (headerLine, error) {
	if line == "" {
		return headerLine{}, fmt.Errorf("empty header line")
	}
	for i := 0; i < len(line); i++ {
		if line[i] == '\r' || line[i] == '\n' {
			return headerLine{}, fmt.Errorf("a CR or LF would end the line: give one header per -H")
		}
	}
	var h headerLine
	i := 0
	for ; i < len(line) && line[i] != ':'; i++ {
		c := line[i]
		switch {
		case nameByte(c):
		case c <= 0x20 || c == 0x7f:
			return headerLine{}, fmt.Errorf("nginx answers 400 Bad Request: byte %q in a header name", c)
		default:
			h.Ignored = true
		}
	}
	if i == 0 {
		return headerLine{}, fmt.Errorf("nginx answers 400 Bad Request: the line starts with ':'")
	}
	h.Name = line[:i]
	if i == len(line) {
		return h, nil
	}
	v := line[i+1:]
	for len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	for len(v) > 0 && v[len(v)-1] == ' ' {
		v = v[:len(v)-1]
	}
	for j := 0; j < len(v); j++ {
		if v[j] == 0 {
			return headerLine{}, fmt.Errorf("nginx answers 400 Bad Request: a NUL byte in the value")
		}
	}
	h.Value = v
	return h, nil
}
