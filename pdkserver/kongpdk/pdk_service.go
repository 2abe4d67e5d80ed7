package kongpdk

import (
	"sort"
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

// accessAndRewrite is service/request.lua's phase set.
const accessAndRewrite = phRewrite | phAccess

// serviceHandlers: kong.service.request.* header edits
// (kong/pdk/service/request.lua). They rewrite the incoming request
// (ngx.req.set_header), so later kong.request.get_header calls see them.
func serviceHandlers() map[string]handler {
	return map[string]handler{
		"kong.service.request.set_header": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			k, v, err := headerKV(args)
			if err != nil {
				return nil, err
			}
			ev.req.setRequestHeader(k, []string{v})
			return nil, nil
		}},
		"kong.service.request.add_header": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			k, v, err := headerKV(args)
			if err != nil {
				return nil, err
			}
			// kong/pdk/service/request.lua:351-368 (3.9.3): the values
			// ngx.req.get_headers()[header] finds, plus v, set under the
			// name given with ngx.req.set_header.
			if sameName(k, "host") {
				ev.req.UpstreamHost = v
			}
			vals := append(lookupHeadersAll(ev.req.Headers, DefaultMaxReqHeaders, k), v)
			ev.req.Headers = setHeader(ev.req.Headers, k, vals)
			return nil, nil
		}},
		"kong.service.request.clear_header": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			k, err := argString(args)
			if err != nil {
				return nil, err
			}
			// kong/pdk/service/request.lua:383-391 (3.9.3): ngx.req.clear_header,
			// case-insensitive only ("X_Foo" does not clear "X-Foo").
			ev.req.Headers = clearHeader(ev.req.Headers, k)
			return nil, nil
		}},
		"kong.service.request.set_headers": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			hs, err := headerStructArg(args)
			if err != nil {
				return nil, err
			}
			keys := make([]string, 0, len(hs))
			for k := range hs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				ev.req.setRequestHeader(k, hs[k])
			}
			return nil, nil
		}},
	}
}

// serviceTargetHandlers: kong.service.request.* edits of the request line
// and body, and kong.service.set_upstream/set_target
// (kong/pdk/service/request.lua, kong/pdk/service.lua).
func serviceTargetHandlers() map[string]handler {
	return map[string]handler{
		"kong.service.request.set_scheme": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			v, err := argString(args)
			if err != nil {
				return nil, err
			}
			if v != "http" && v != "https" {
				return nil, luaErrorf("invalid scheme: %s", v)
			}
			ev.req.UpstreamScheme = v
			return nil, nil
		}},
		"kong.service.request.set_path": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			v, err := argString(args)
			if err != nil {
				return nil, err
			}
			if !strings.HasPrefix(v, "/") {
				return nil, luaErrorf("path must start with /")
			}
			ev.req.UpstreamPath = escapePath(v)
			return nil, nil
		}},
		// ngx.req.set_uri_args: later kong.request.get_raw_query sees it.
		"kong.service.request.set_raw_query": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			v, err := argString(args)
			if err != nil {
				return nil, err
			}
			ev.req.RawQuery = v
			return nil, nil
		}},
		"kong.service.request.set_query": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			var st structpb.Struct
			if err := decode(args, &st); err != nil {
				return nil, err
			}
			q, err := encodeArgs(unwrapStruct(&st))
			if err != nil {
				return nil, err
			}
			ev.req.RawQuery = q
			return nil, nil
		}},
		"kong.service.request.set_method": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			v, err := argString(args)
			if err != nil {
				return nil, err
			}
			if !acceptedMethods[v] {
				return nil, luaErrorf("invalid method: %s", v)
			}
			ev.req.Method = v
			return nil, nil
		}},
		"kong.service.request.set_raw_body": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			var b kpp.ByteString
			if err := decode(args, &b); err != nil {
				return nil, err
			}
			ev.req.Body = b.V
			return nil, nil
		}},
		"kong.service.set_upstream": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			if _, err := argString(args); err != nil {
				return nil, err
			}
			// pdkserver has no upstream entities: Kong returns nil, err.
			return nil, nil
		}},
		"kong.service.set_target": {phases: accessAndRewrite, fn: func(ev *Event, args []byte) (any, error) {
			// Accepted and ignored: pdkserver's front door has no
			// balancer to retarget.
			var t kpp.Target
			if err := decode(args, &t); err != nil {
				return nil, err
			}
			return nil, nil
		}},
	}
}

// acceptedMethods are the methods kong.service.request.set_method takes.
var acceptedMethods = map[string]bool{
	"GET": true, "HEAD": true, "PUT": true, "POST": true, "DELETE": true, "OPTIONS": true,
	"MKCOL": true, "COPY": true, "MOVE": true, "PROPFIND": true, "PROPPATCH": true,
	"LOCK": true, "UNLOCK": true, "PATCH": true, "TRACE": true,
}

// encodeArgs is Kong's make_ordered_args: keys sorted, a list repeats its
// key, true is a bare key; other values are a Lua error.
func encodeArgs(args map[string]any) (string, error) {
	var b strings.Builder
	add := func(k string, v any) error {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escapeArg(k))
		switch x := v.(type) {
		case bool:
			return nil
		case string:
			b.WriteByte('=')
			b.WriteString(escapeArg(x))
		case float64:
			b.WriteByte('=')
			b.WriteString(luaNumber(x))
		default:
			return luaErrorf("attempt to use %T as query arg value", v)
		}
		return nil
	}
	for _, k := range sortedKeys(args) {
		vs, ok := args[k].([]any)
		if !ok {
			vs = []any{args[k]}
		}
		for _, v := range vs {
			if err := add(k, v); err != nil {
				return "", err
			}
		}
	}
	return b.String(), nil
}

// escapeArg is ngx.escape_uri for an argument: everything but
// unreserved characters percent-encoded.
func escapeArg(s string) string {
	return escapeExcept(s, "-._~")
}

// escapePath is kong/tools/uri.lua's escape: reserved characters,
// unreserved ones and '%' stay, the rest is percent-encoded.
func escapePath(s string) string {
	return escapeExcept(s, "!#$&'()*+,/:;=?@[]-_.~%")
}

func escapeExcept(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// setRequestHeader is kong.service.request.set_header: the "host" header
// also sets $upstream_host.
// ngx.req.set_header (kong/pdk/service/request.lua:314-335 at 3.9.3)
// replaces lines whose name equals name ignoring case only: "X_Foo" and
// "X-Foo" are different headers to it.
func (r *Request) setRequestHeader(name string, values []string) {
	if sameName(name, "host") && len(values) > 0 {
		r.UpstreamHost = values[0]
	}
	r.Headers = setHeader(r.Headers, name, values)
}
