package kongpdk

import (
	"net/url"
	"strconv"
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// nginxHandlers: kong.nginx.* as plugin.lua's exposed_api overrides them.
func nginxHandlers() map[string]handler {
	return map[string]handler{
		"kong.nginx.get_var": {live: true, fn: func(ev *Event, args []byte) (any, error) {
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			if v, ok := ev.req.nginxVar(name); ok {
				return replyString(v), nil
			}
			return nil, nil
		}},
		"kong.nginx.get_ctx": {fn: func(ev *Event, args []byte) (any, error) {
			k, err := argString(args)
			if err != nil {
				return nil, err
			}
			v := ev.ngxCtx(false)[k]
			if v == nil {
				return luaNull, nil
			}
			return wrapValue(v), nil
		}},
		"kong.nginx.set_ctx": {fn: func(ev *Event, args []byte) (any, error) {
			var kv kpp.KV
			if err := decode(args, &kv); err != nil {
				return nil, err
			}
			setOrDelete(ev.ngxCtx(true), kv.K, unwrapValue(kv.V))
			return nil, nil
		}},
		"kong.nginx.req_start_time": {fn: func(ev *Event, _ []byte) (any, error) {
			if ev.snap != nil {
				return replyNumber(ev.snap.startTime), nil
			}
			return replyNumber(ev.req.StartTime), nil
		}},
		"kong.nginx.get_subsystem": {fn: func(*Event, []byte) (any, error) {
			return replyString("http"), nil
		}},
		"kong.nginx.get_tls1_version_str": {live: true, fn: func(ev *Event, _ []byte) (any, error) {
			if v, ok := ev.req.NginxVars["ssl_protocol"]; ok && ev.req.Scheme == "https" {
				return replyString(v), nil
			}
			return nil, nil
		}},
	}
}

// ngxCtx is the ngx.ctx the call sees: the live one, or the log timer's
// shallow copy.
func (ev *Event) ngxCtx(create bool) map[string]any {
	if ev.snap != nil {
		return ev.snap.ngxCtx
	}
	if ev.req.NgxCtx == nil && create {
		ev.req.NgxCtx = map[string]any{}
	}
	return ev.req.NgxCtx
}

func setOrDelete(m map[string]any, k string, v any) {
	if v == nil {
		delete(m, k)
		return
	}
	m[k] = v
}

// nginxVar is ngx.var[name] for the variables pdkserver knows. ok=false is
// Lua nil (an undefined or unset variable): Kong's get_var returns
// ngx.var[name] (kong/runloop/plugin_servers/plugin.lua:51-53 at 3.9.3),
// which is nil for a variable nginx does not define, such as
// $client_ip_guard_facts without its include: ngx_http_get_variable marks
// an unknown name not_found without logging (nginx 1.25.3
// src/http/ngx_http_variables.c:722-744) and ngx.var returns nil for it
// (lua-nginx-module v0.10.26 src/ngx_http_lua_variable.c:85-95). Checked
// with Debian's nginx 1.22.1 and lua-nginx-module 0.10.23: nil, and no
// error-log line about it even at level debug.
func (r *Request) nginxVar(name string) (string, bool) {
	v := &r.Vars
	switch name {
	case "remote_addr":
		return v.RemoteAddr, v.RemoteAddr != ""
	case "remote_port":
		return v.RemotePort, true
	case "realip_remote_addr":
		return v.RealIPRemoteAddr, v.RealIPRemoteAddr != ""
	case "realip_remote_port":
		return v.RealIPRemotePort, v.RealIPRemoteAddr != ""
	case "proxy_protocol_addr":
		return v.ProxyProtocolAddr, v.ProxyProtocolAddr != ""
	case "proxy_protocol_port":
		return v.ProxyProtocolPort, v.ProxyProtocolAddr != ""
	case "proxy_protocol_server_addr":
		return v.ProxyProtocolServerAddr, v.ProxyProtocolServerAddr != ""
	case "proxy_protocol_server_port":
		return v.ProxyProtocolServerPort, v.ProxyProtocolServerAddr != ""
	case "scheme":
		return r.Scheme, true
	case "host":
		return r.Host, true
	case "server_port":
		return strconv.Itoa(r.Port), true
	case "request_method":
		return r.Method, true
	case "uri":
		// nginx decodes the whole path, then resolves dot segments and
		// merges slashes.
		p, err := url.PathUnescape(r.Path)
		if err != nil {
			p = r.Path
		}
		return normalizePath(p), true
	case "args", "query_string":
		return r.RawQuery, r.RawQuery != ""
	case "is_args":
		if r.RawQuery != "" {
			return "?", true
		}
		return "", true
	case "request_uri":
		return r.pathWithQuery(), true
	case "server_protocol":
		return httpProtocol(r.HTTPVersion), true
	case "https":
		if r.Scheme == "https" {
			return "on", true
		}
		return "", true
	}
	if x, ok := r.mapValue(name); ok {
		return x, true
	}
	if x, ok := r.NginxVars[name]; ok {
		return x, true
	}
	if t, ok := strings.CutPrefix(name, "proxy_protocol_tlv_"); ok {
		x, ok := v.ProxyProtocolTLVs[t]
		return x, ok
	}
	if h, ok := strings.CutPrefix(name, "http_"); ok {
		return httpVar(r.Headers, h)
	}
	return "", false
}

func httpProtocol(v float64) string {
	switch v {
	case 1.0:
		return "HTTP/1.0"
	case 2:
		return "HTTP/2.0"
	case 3:
		return "HTTP/3.0"
	}
	return "HTTP/1.1"
}
