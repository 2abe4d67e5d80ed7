package kongpdk

import (
	"net/http"
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

// Phase sets of kong/pdk/response.lua.
const (
	headerBodyLog       = phResponse | phLog
	rewriteAccessHeader = phRewrite | phAccess | phResponse
)

// responseHandlers: kong.response.* (kong/pdk/response.lua with
// plugin.lua's log-timer overrides).
func responseHandlers() map[string]handler {
	return map[string]handler{
		"kong.response.get_status": {phases: headerBodyLog, fn: func(ev *Event, _ []byte) (any, error) {
			if ev.snap != nil {
				return replyInt(ev.snap.status), nil
			}
			return replyInt(ev.req.responseStatus()), nil
		}},
		"kong.response.get_header": {phases: headerBodyLog, fn: func(ev *Event, args []byte) (any, error) {
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			h := ev.respHeaders()
			for k, vs := range h {
				if sameHeader(k, name) && len(vs) > 0 {
					return replyString(vs[0]), nil
				}
			}
			return nil, nil
		}},
		"kong.response.get_headers": {phases: headerBodyLog, fn: func(ev *Event, args []byte) (any, error) {
			max := 100
			if ev.snap == nil {
				var err error
				if max, err = maxArg(args, "max_headers"); err != nil {
					return nil, err
				}
			}
			return responseHeaderStruct(ev.respHeaders(), max), nil
		}},
		"kong.response.get_source": {phases: headerBodyLog, fn: func(ev *Event, _ []byte) (any, error) {
			if ev.snap != nil {
				return replyString(ev.snap.source), nil
			}
			return replyString(ev.req.responseSource()), nil
		}},
		"kong.response.set_status": {phases: rewriteAccessHeader, fn: func(ev *Event, args []byte) (any, error) {
			var in kpp.Int
			if err := decode(args, &in); err != nil {
				return nil, err
			}
			if in.V < 100 || in.V > 599 {
				return nil, luaErrorf("code must be a number between 100 and 599")
			}
			ev.req.Response.Status = int(in.V)
			return nil, nil
		}},
		"kong.response.set_header": {phases: rewriteAccessHeader, fn: func(ev *Event, args []byte) (any, error) {
			k, v, err := headerKV(args)
			if err != nil {
				return nil, err
			}
			ev.req.respHeaderMap()[http.CanonicalHeaderKey(k)] = []string{v}
			return nil, nil
		}},
		"kong.response.add_header": {phases: rewriteAccessHeader, fn: func(ev *Event, args []byte) (any, error) {
			k, v, err := headerKV(args)
			if err != nil {
				return nil, err
			}
			m := ev.req.respHeaderMap()
			ck := http.CanonicalHeaderKey(k)
			m[ck] = append(m[ck], v)
			return nil, nil
		}},
		"kong.response.clear_header": {phases: rewriteAccessHeader, fn: func(ev *Event, args []byte) (any, error) {
			k, err := argString(args)
			if err != nil {
				return nil, err
			}
			delete(ev.req.respHeaderMap(), http.CanonicalHeaderKey(k))
			return nil, nil
		}},
		"kong.response.set_headers": {phases: rewriteAccessHeader, fn: func(ev *Event, args []byte) (any, error) {
			hs, err := headerStructArg(args)
			if err != nil {
				return nil, err
			}
			m := ev.req.respHeaderMap()
			for k, vs := range hs {
				m[http.CanonicalHeaderKey(k)] = vs
			}
			return nil, nil
		}},
		// Never answered: in access Kong stores the delayed response and
		// yields the plugin coroutine for good; in rewrite/response it
		// calls ngx.exit. The plugin's socket is closed when the request
		// ends (kong/init.lua, execute_collecting_plugins_iterator).
		"kong.response.exit": {phases: rewriteAccessHeader, fn: func(ev *Event, args []byte) (any, error) {
			var in kpp.ExitArgs
			if err := decode(args, &in); err != nil {
				return nil, err
			}
			if in.Status < 100 || in.Status > 599 {
				return nil, luaErrorf("code must be a number between 100 and 599")
			}
			var hs map[string][]string
			if in.Headers != nil {
				var err error
				if hs, err = headerValuesOf(in.Headers); err != nil {
					return nil, err
				}
			}
			ev.req.Exit = &Exit{Status: int(in.Status), Body: in.Body, Headers: hs}
			return nil, ErrExit
		}},
	}
}

// respHeaders is what ngx.resp.get_headers() sees now.
func (ev *Event) respHeaders() map[string][]string {
	if ev.snap != nil {
		return ev.snap.respHeaders
	}
	return ev.req.sentHeaders()
}

func (r *Request) respHeaderMap() map[string][]string {
	if r.ResponseHeaders == nil {
		r.ResponseHeaders = map[string][]string{}
	}
	return r.ResponseHeaders
}

// sentHeaders are the response headers: those the front door recorded,
// else what plugins set (exit headers first).
func (r *Request) sentHeaders() map[string][]string {
	if r.Response.Headers != nil {
		return r.Response.Headers
	}
	out := map[string][]string{}
	if r.Exit != nil {
		for k, vs := range r.Exit.Headers {
			out[http.CanonicalHeaderKey(k)] = vs
		}
	}
	for k, vs := range r.ResponseHeaders {
		out[k] = vs
	}
	return out
}

func (r *Request) responseStatus() int {
	if r.Response.Status != 0 {
		return r.Response.Status
	}
	if r.Exit != nil {
		return r.Exit.Status
	}
	return 0
}

func (r *Request) responseSource() string {
	if r.Response.Source != "" {
		return r.Response.Source
	}
	if r.Exit != nil {
		return "exit"
	}
	return "service"
}

// responseHeaderStruct is ngx.resp.get_headers(max) as a Struct:
// lower-case names, lists for repeated headers.
func responseHeaderStruct(h map[string][]string, max int) *structpb.Struct {
	out := map[string]any{}
	n := 0
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			if n >= max {
				return wrapStruct(out)
			}
			n++
			lk := strings.ToLower(k)
			switch cur := out[lk].(type) {
			case nil:
				out[lk] = v
			case string:
				out[lk] = []any{cur, v}
			case []any:
				out[lk] = append(cur, v)
			}
		}
	}
	return wrapStruct(out)
}

// headerKV decodes a KV header argument; Kong accepts a string, number or
// boolean value (validate_value) and errors otherwise.
func headerKV(args []byte) (string, string, error) {
	var kv kpp.KV
	if err := decode(args, &kv); err != nil {
		return "", "", err
	}
	if kv.K == "" {
		return "", "", luaErrorf("invalid header name %q: got string, expected non-empty string", kv.K)
	}
	v, err := headerScalar(kv.K, unwrapValue(kv.V))
	return kv.K, v, err
}

func headerScalar(name string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return luaNumber(x), nil
	case bool:
		return "true", nil
	case nil:
		return "", luaErrorf("invalid header value for %q: got nil, expected array of string, string, number or boolean", name)
	}
	return "", luaErrorf("invalid header value for %q: got table, expected string, number or boolean", name)
}

// headerStructArg decodes a Struct of header values (a string or a list of
// strings each), as set_headers takes it.
func headerStructArg(args []byte) (map[string][]string, error) {
	var st structpb.Struct
	if err := decode(args, &st); err != nil {
		return nil, err
	}
	return headerValuesOf(&st)
}

func headerValuesOf(st *structpb.Struct) (map[string][]string, error) {
	out := make(map[string][]string, len(st.Fields))
	for k, v := range st.Fields {
		switch x := unwrapValue(v).(type) {
		case []any:
			vs := make([]string, 0, len(x))
			for _, e := range x {
				s, err := headerScalar(k, e)
				if err != nil {
					return nil, err
				}
				vs = append(vs, s)
			}
			out[k] = vs
		default:
			s, err := headerScalar(k, x)
			if err != nil {
				return nil, err
			}
			out[k] = []string{s}
		}
	}
	return out, nil
}
