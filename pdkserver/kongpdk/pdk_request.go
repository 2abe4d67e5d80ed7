package kongpdk

import (
	"net/url"
	"strconv"
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// Kong's PHASES.request: every request phase (the log timer is excluded
// separately through handler.live).
const phRequest = phRewrite | phAccess | phResponse | phLog

// beforeContent is request.lua's before_content (get_raw_body).
const beforeContent = phRewrite | phAccess | phResponse

// requestHandlers: kong.request.* (kong/pdk/request.lua). Header reads are
// not live: in the log timer plugin.lua answers them from the snapshot.
func requestHandlers() map[string]handler {
	str := func(f func(r *Request) string) handler {
		return handler{live: true, phases: phRequest, fn: func(ev *Event, _ []byte) (any, error) {
			return replyString(f(ev.req)), nil
		}}
	}
	return map[string]handler{
		"kong.request.get_scheme":          str(func(r *Request) string { return r.Scheme }),
		"kong.request.get_host":            str(func(r *Request) string { return r.Host }),
		"kong.request.get_method":          str(func(r *Request) string { return r.Method }),
		"kong.request.get_path":            str(func(r *Request) string { return normalizePath(r.Path) }),
		"kong.request.get_raw_query":       str(func(r *Request) string { return r.RawQuery }),
		"kong.request.get_path_with_query": str((*Request).pathWithQuery),
		"kong.request.get_forwarded_scheme": str(func(r *Request) string {
			if v, ok := r.trustedForwarded("x-forwarded-proto"); ok {
				return strings.ToLower(v)
			}
			return r.Scheme
		}),
		"kong.request.get_forwarded_host": str(func(r *Request) string {
			if v, ok := r.trustedForwarded("x-forwarded-host"); ok {
				if i := strings.IndexByte(v, '@'); i >= 0 {
					v = v[i+1:]
				}
				if i := strings.IndexByte(v, ':'); i >= 0 {
					v = v[:i]
				}
				return strings.ToLower(v)
			}
			return r.Host
		}),
		"kong.request.get_port": {live: true, fn: func(ev *Event, _ []byte) (any, error) {
			return replyInt(ev.req.Port), nil
		}},
		"kong.request.get_forwarded_port": {live: true, phases: phRequest, fn: func(ev *Event, _ []byte) (any, error) {
			return replyInt(ev.req.forwardedPort()), nil
		}},
		"kong.request.get_http_version": {live: true, phases: phRequest, fn: func(ev *Event, _ []byte) (any, error) {
			return replyNumber(ev.req.HTTPVersion), nil
		}},
		"kong.request.get_query_arg": {live: true, phases: phRequest, fn: func(ev *Event, args []byte) (any, error) {
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			switch v := queryTable(ev.req.RawQuery, 100)[name].(type) {
			case string:
				return replyString(v), nil
			case []any:
				if s, ok := v[0].(string); ok {
					return replyString(s), nil
				}
				return nil, luaErrorf("kong.request.get_query_arg: cannot encode boolean %q as String", name)
			case bool:
				// "?flag" is true in Lua; pb.encode of a boolean into a
				// String fails inside Kong.
				return nil, luaErrorf("kong.request.get_query_arg: cannot encode boolean %q as String", name)
			}
			return nil, nil
		}},
		"kong.request.get_query": {live: true, phases: phRequest, fn: func(ev *Event, args []byte) (any, error) {
			max, err := maxArg(args, "max_args")
			if err != nil {
				return nil, err
			}
			return wrapStruct(queryTable(ev.req.RawQuery, max)), nil
		}},
		"kong.request.get_header": {phases: phRequest, fn: func(ev *Event, args []byte) (any, error) {
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			var v string
			var ok bool
			if ev.snap != nil {
				// plugin.lua:87-99 (3.9.3): saved.request_headers[name], first line.
				v, ok = LookupHeaders(ev.snap.reqHeaders, DefaultMaxReqHeaders, name)
			} else {
				v, ok = kongGetHeader(ev.req.Headers, name)
			}
			if ok {
				return replyString(v), nil
			}
			return nil, nil
		}},
		"kong.request.get_headers": {phases: phRequest, fn: func(ev *Event, args []byte) (any, error) {
			if ev.snap != nil {
				// plugin.lua returns the saved table; max is ignored.
				return headerReply(ev.snap.reqHeaders, 100), nil
			}
			max, err := maxArg(args, "max_headers")
			if err != nil {
				return nil, err
			}
			return headerReply(ev.req.Headers, max), nil
		}},
		"kong.request.get_raw_body": {live: true, phases: beforeContent, fn: func(ev *Event, _ []byte) (any, error) {
			return &kpp.RawBodyResult{Kind: &kpp.RawBodyResult_Content{Content: ev.req.Body}}, nil
		}},
		"kong.request.get_uri_captures": {phases: phRequest, fn: func(ev *Event, _ []byte) (any, error) {
			return &kpp.UriCapturesResult{}, nil
		}},
	}
}

// maxArg decodes an Int max argument as kong.request.get_headers and
// get_query check it: absent (proto3 0, which lua-protobuf leaves nil)
// means 100; otherwise it must be within 1..1000.
func maxArg(args []byte, what string) (int, error) {
	var in kpp.Int
	if err := decode(args, &in); err != nil {
		return 0, err
	}
	switch {
	case in.V == 0:
		return 100, nil
	case in.V < 1:
		return 0, luaErrorf("%s must be >= 1", what)
	case in.V > 1000:
		return 0, luaErrorf("%s must be <= 1000", what)
	}
	return int(in.V), nil
}

// pathWithQuery is $request_uri: the front door's NginxVars entry when
// given, else the raw path and query.
func (r *Request) pathWithQuery() string {
	if u, ok := r.NginxVars["request_uri"]; ok {
		return u
	}
	if r.RawQuery == "" {
		return r.Path
	}
	return r.Path + "?" + r.RawQuery
}

// trustedForwarded returns an X-Forwarded-* header only when the TCP peer
// is in trusted_ips (request.lua's is_trusted_ip()).
func (r *Request) trustedForwarded(name string) (string, bool) {
	if !r.isTrusted(r.clientIP()) {
		return "", false
	}
	return kongGetHeader(r.Headers, name)
}

// forwardedPort is kong.request.get_forwarded_port without port_maps.
func (r *Request) forwardedPort() int {
	if r.isTrusted(r.clientIP()) {
		if v, ok := kongGetHeader(r.Headers, "x-forwarded-port"); ok {
			if p, err := strconv.Atoi(v); err == nil && p >= 1 && p <= 65535 {
				return p
			}
		}
		if v, ok := kongGetHeader(r.Headers, "x-forwarded-host"); ok {
			if i := strings.IndexByte(v, '@'); i >= 0 {
				v = v[i+1:]
			}
			if i := strings.IndexByte(v, ':'); i >= 0 {
				if p, err := strconv.Atoi(v[i+1:]); err == nil && p >= 1 && p <= 65535 {
					return p
				}
			}
		}
	}
	return r.Port
}

// queryTable is ngx.req.get_uri_args(max): "a=1&a=2&flag&e=" gives
// {a={"1","2"}, flag=true, e=""}; keys and values are unescaped, '+' is
// a space.
func queryTable(raw string, max int) map[string]any {
	out := map[string]any{}
	n := 0
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if n >= max {
			break
		}
		n++
		k, v, hasEq := strings.Cut(part, "=")
		key := unescapeArg(k)
		if key == "" {
			continue
		}
		var val any = true
		if hasEq {
			val = unescapeArg(v)
		}
		switch cur := out[key].(type) {
		case nil:
			out[key] = val
		case []any:
			out[key] = append(cur, val)
		default:
			out[key] = []any{cur, val}
		}
	}
	return out
}

func unescapeArg(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
