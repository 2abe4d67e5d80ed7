package gateway

import (
	"strconv"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// kongVars are the $upstream_* variables Kong's runloop sets in
// access.before (kong/runloop/handler.lua:1211-1360 at 3.9.3), which
// kong/init.lua:1199 runs before the plugins' access handlers
// (kong/init.lua:1203), after the global plugins' rewrite handlers
// (kong/init.lua:1155-1169). A plugin's access handler cannot change them;
// a rewrite handler can only change the request headers they are read from.
type kongVars struct {
	xff, proto, host, port, path, prefix, via string
}

// accessBefore computes kongVars from the request as the rewrite phase left
// it. Kong reads headers with get_header(name, ctx)
// (kong/tools/http.lua:545-565): one ngx.req.get_headers() table, capped at
// lua_max_req_headers lines (kong/globalpatches.lua:152-158), first line of
// a repeated header, a raw "x_forwarded_for" key (a line sent as
// X_Forwarded_For, which underscores_in_headers on lets in:
// kong/templates/nginx_kong.lua:30) before "x-forwarded-for".
func (g *Gateway) accessBefore(req *kongpdk.Request, route *kongyml.Route) kongVars {
	max := g.opts.Node.LuaMaxReqHeaders
	if max <= 0 {
		max = kongpdk.DefaultMaxReqHeaders
	}
	get := func(key string) (string, bool) { return kongpdk.LookupHeaders(req.Headers, max, key) }
	v := req.Vars
	var kv kongVars
	// handler.lua:1340-1347.
	if xff, ok := get("x_forwarded_for"); ok {
		kv.xff = xff + ", " + v.RealIPRemoteAddr
	} else {
		kv.xff = v.RemoteAddr
	}
	// handler.lua:1234-1258: X-Forwarded-* from a trusted peer
	// (kong.ip.is_trusted($realip_remote_addr)), else Kong's own.
	peer, _ := realip.ParseAddr(v.RealIPRemoteAddr)
	trusted := req.Trusted != nil && peer.IsValid() && req.Trusted(peer)
	or := func(key, own string) string {
		if trusted {
			if in, ok := get(key); ok {
				return in
			}
		}
		return own
	}
	kv.proto = or("x_forwarded_proto", req.Scheme)
	kv.host = or("x_forwarded_host", req.Host)
	kv.port = or("x_forwarded_port", strconv.Itoa(req.Port))
	kv.path = or("x_forwarded_path", req.Path)
	// match_t.prefix, unless "/"; pdkserver takes it as the matched
	// route path when strip_path is on (the router's prefix is not
	// modelled further).
	prefix := ""
	if route.StripPath {
		if prefix = matchedPrefix(req.Path, route); prefix == "/" {
			prefix = ""
		}
	}
	kv.prefix = or("x_forwarded_prefix", prefix)
	// handler.lua:1355-1360: Via, with ngx.req.http_version() as Lua prints
	// the number (1.1 -> "1.1", 1.0 -> "1", 2 -> "2").
	inbound := strconv.FormatFloat(req.HTTPVersion, 'f', -1, 64) + " kong/" + KongVersion
	if in, ok := get("via"); ok {
		kv.via = in + ", " + inbound
	} else {
		kv.via = inbound
	}
	return kv
}

// proxySetHeaders are the names Kong's proxy location sets with
// proxy_set_header (kong/templates/nginx_kong.lua:190-203 at 3.9.3) and
// those nginx's proxy module sets itself (ngx_http_proxy_headers,
// src/http/modules/ngx_http_proxy_module.c:822-830 in nginx 1.25.3:
// Content-Length, Transfer-Encoding, Keep-Alive, Expect). nginx forwards no
// client line whose lower-cased name is one of them (the hash lookup at
// ngx_http_proxy_module.c:1386); a line whose name differs only by '_'
// (X_Forwarded_For) is another header and is forwarded as sent.
var proxySetHeaders = []string{
	"TE", "Via", "Host", "Upgrade", "Connection",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port",
	"X-Forwarded-Path", "X-Forwarded-Prefix", "X-Real-IP", "X-Kong-Request-Id",
	"Content-Length", "Transfer-Encoding", "Keep-Alive", "Expect",
}

// proxySet reports whether nginx replaces a client line of this name.
func proxySet(name string) bool {
	for _, n := range proxySetHeaders {
		if kongpdk.SameName(n, name) {
			return true
		}
	}
	return false
}

// upstreamHeaderLines are the lines nginx sends to the service: the
// client's lines as the plugins left them (ngx.req.set_header/clear_header)
// minus the proxy_set_header names, then Kong's values. A proxy_set_header
// with an empty value sends nothing. X-Real-IP is $remote_addr
// (nginx_kong.lua:201), which no plugin can change.
func upstreamHeaderLines(req *kongpdk.Request, kv kongVars, requestID string) [][2]string {
	out := make([][2]string, 0, len(req.Headers)+8)
	for _, h := range req.Headers {
		if !proxySet(h.Name) {
			out = append(out, [2]string{h.Name, h.Value})
		}
	}
	for _, p := range [][2]string{
		{"Via", kv.via},
		{"X-Forwarded-For", kv.xff},
		{"X-Forwarded-Proto", kv.proto},
		{"X-Forwarded-Host", kv.host},
		{"X-Forwarded-Port", kv.port},
		{"X-Forwarded-Path", kv.path},
		{"X-Forwarded-Prefix", kv.prefix},
		{"X-Real-IP", req.Vars.RemoteAddr},
		{"X-Kong-Request-Id", requestID},
	} {
		if p[1] != "" {
			out = append(out, p)
		}
	}
	return out
}
