package kongpdk

import (
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
)

// DefaultMaxReqHeaders is Kong's lua_max_req_headers default
// (kong/templates/kong_defaults.lua:198 at 3.9.3): Kong patches
// ngx.req.get_headers() so that, without an argument, it reads at most this
// many lines (kong/globalpatches.lua:144-159).
const DefaultMaxReqHeaders = 100

// lowerByte lower-cases an ASCII letter.
func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// sameHeader reports whether two header names are the same to nginx's
// $http_<name> lookup of an unknown header (ngx_http_variable_unknown_header:
// case-insensitive, a '-' in the line's name matches '_'), without
// allocating. Only lookups use it; ngx.req.set_header and clear_header
// compare names with sameName.
func sameHeader(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := lowerByte(a[i]), lowerByte(b[i])
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

// sameName reports whether two header names are equal ignoring ASCII case
// only, as ngx.req.set_header and ngx.req.clear_header compare them
// (lua-nginx-module's ngx_http_lua_set_input_header: ngx_strncasecmp, no
// '_'/'-' equivalence), as nginx's proxy module matches proxy_set_header
// names, and as a Lua table key lower-cased by ngx.req.get_headers matches.
func sameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// SameName is sameName for the gateway's proxy model.
func SameName(a, b string) bool { return sameName(a, b) }

// LookupHeaders is headers[key] on the table ngx.req.get_headers(max)
// returns, taking the first line of a repeated header as Kong's get_header
// does (kong/tools/http.lua:563-564 at 3.9.3). The table holds the first max
// lines under their lower-cased names; the key is looked up as given, and on
// a miss the table's __index looks it up lower-cased with '_' turned into
// '-' (lua-nginx-module's get_headers metatable). So "x_forwarded_for"
// finds a line sent as X_Forwarded_For before one sent as X-Forwarded-For,
// and "x-forwarded-for" never finds X_Forwarded_For.
func LookupHeaders(lines []Header, max int, key string) (string, bool) {
	vals := lookupHeadersAll(lines, max, key)
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// lookupHeadersAll is headers[key] as LookupHeaders finds it, every line.
func lookupHeadersAll(lines []Header, max int, key string) []string {
	if len(lines) > max {
		lines = lines[:max]
	}
	collect := func(k string) []string {
		var out []string
		for _, h := range lines {
			if lowerEquals(h.Name, k) {
				out = append(out, h.Value)
			}
		}
		return out
	}
	if vals := collect(key); len(vals) > 0 {
		return vals
	}
	if norm := strings.ReplaceAll(strings.ToLower(key), "_", "-"); norm != key {
		return collect(norm)
	}
	return nil
}

// lowerEquals reports whether name, lower-cased, is exactly key.
func lowerEquals(name, key string) bool {
	if len(name) != len(key) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if lowerByte(name[i]) != key[i] {
			return false
		}
	}
	return true
}

// httpVar is nginx's $http_<name> (name as in the variable, '_' for '-')
// under Kong 3.9.3's nginx 1.25.3: nginxvar.HTTP, which the fast path's
// tests check against a real nginx.
func httpVar(lines []Header, name string) (string, bool) {
	return nginxvar.HTTP(NginxHeaders(lines), strings.ToLower(name), nginxvar.V1_25)
}

// NginxHeaders converts header lines for nginxvar.
func NginxHeaders(lines []Header) []nginxvar.Header {
	out := make([]nginxvar.Header, len(lines))
	for i, h := range lines {
		out[i] = nginxvar.Header{Name: h.Name, Value: h.Value}
	}
	return out
}

// kongGetHeader is kong.request.get_header(name): Kong's get_header without
// a ctx (kong/tools/http.lua:555-564 at 3.9.3, called from
// kong/pdk/request.lua:629). It reads $http_<name with '-' as '_'>; a value
// without ", " is the answer, otherwise the first line found by
// ngx.req.get_headers()[name].
func kongGetHeader(lines []Header, name string) (string, bool) {
	v, ok := httpVar(lines, strings.ReplaceAll(name, "-", "_"))
	if !ok || !strings.Contains(v, ", ") {
		return v, ok
	}
	return LookupHeaders(lines, DefaultMaxReqHeaders, name)
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
// (sameName) goes, the new ones take the place of the first.
func setHeader(lines []Header, name string, values []string) []Header {
	at := -1
	out := lines[:0]
	for _, h := range lines {
		if sameName(h.Name, name) {
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

// clearHeader is ngx.req.clear_header: every line of that name (sameName).
func clearHeader(lines []Header, name string) []Header {
	out := lines[:0]
	for _, h := range lines {
		if !sameName(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}
