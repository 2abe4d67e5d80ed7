package pluginsrv

import "strings"

// sameHeader reports whether two header names are the same to nginx,
// without allocating.
func sameHeader(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if x != y {
			return false
		}
	}
	return true
}

// firstHeader returns the first value of a header, as
// kong.request.get_header does (kong/tools/http.lua: a value that nginx
// joined from repeated lines is looked up again in get_headers(), whose
// first element wins).
func firstHeader(lines []Header, name string) (string, bool) {
	for _, h := range lines {
		if sameHeader(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// headerValues returns every value of a header, in order.
func headerValues(lines []Header, name string) []string {
	var out []string
	for _, h := range lines {
		if sameHeader(h.Name, name) {
			out = append(out, h.Value)
		}
	}
	return out
}

// joinedHeader is nginx's $http_<name>: repeated lines joined with ", "
// (with "; " for Cookie), as nginx ≥ 1.23 does.
func joinedHeader(lines []Header, name string) (string, bool) {
	vals := headerValues(lines, name)
	if len(vals) == 0 {
		return "", false
	}
	sep := ", "
	if sameHeader(name, "cookie") {
		sep = "; "
	}
	return strings.Join(vals, sep), true
}

// headerTable is ngx.req.get_headers(max): at most max lines, keys
// lower-cased, a repeated header as a list in arrival order.
func headerTable(lines []Header, max int) map[string]any {
	out := make(map[string]any, len(lines))
	for i, h := range lines {
		if i >= max {
			break // nginx stops and reports "truncated"; Kong drops that
		}
		k := strings.ToLower(h.Name)
		switch cur := out[k].(type) {
		case nil:
			out[k] = h.Value
		case string:
			out[k] = []any{cur, h.Value}
		case []any:
			out[k] = append(cur, h.Value)
		}
	}
	return out
}

// setHeader is ngx.req.set_header(name, values): every line of that name
// goes, the new ones take the place of the first.
func setHeader(lines []Header, name string, values []string) []Header {
	at := -1
	out := lines[:0]
	for _, h := range lines {
		if sameHeader(h.Name, name) {
			if at < 0 {
				at = len(out)
			}
			continue
		}
		out = append(out, h)
	}
	if at < 0 {
		at = len(out)
	}
	ins := make([]Header, len(values))
	for i, v := range values {
		ins[i] = Header{Name: name, Value: v}
	}
	return append(out[:at], append(ins, out[at:]...)...)
}

// clearHeader is ngx.req.clear_header.
func clearHeader(lines []Header, name string) []Header {
	out := lines[:0]
	for _, h := range lines {
		if !sameHeader(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}
