package kongpdk

import (
	"net/netip"
	"strconv"
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// authAndLater is kong/pdk/client.lua's AUTH_AND_LATER.
const authAndLater = phAccess | phResponse | phLog

// clientHandlers: kong.client.* and kong.ip.* (kong/pdk/client.lua, ip.lua).
func clientHandlers() map[string]handler {
	return map[string]handler{
		// $realip_remote_addr or $remote_addr: the TCP peer.
		"kong.client.get_ip": {live: true, fn: func(ev *Event, _ []byte) (any, error) {
			return replyString(ev.req.clientIP()), nil
		}},
		// $remote_addr, as rewritten by nginx's realip module.
		"kong.client.get_forwarded_ip": {live: true, fn: func(ev *Event, _ []byte) (any, error) {
			return replyString(ev.req.Vars.RemoteAddr), nil
		}},
		// tonumber($realip_remote_port or $remote_port).
		"kong.client.get_port": {live: true, fn: func(ev *Event, _ []byte) (any, error) {
			p := ev.req.Vars.RealIPRemotePort
			if ev.req.Vars.RealIPRemoteAddr == "" && p == "" {
				p = ev.req.Vars.RemotePort
			}
			return luaToNumberInt(p), nil
		}},
		// tonumber($remote_port): nil (an empty frame, 0 in Go) when
		// realip took an address without a port.
		"kong.client.get_forwarded_port": {live: true, fn: func(ev *Event, _ []byte) (any, error) {
			return luaToNumberInt(ev.req.Vars.RemotePort), nil
		}},
		// ngx.ctx values pdkserver never sets: nil.
		"kong.client.get_consumer":   {phases: authAndLater, fn: nilReply},
		"kong.client.get_credential": {phases: authAndLater, fn: nilReply},
		"kong.client.load_consumer":  {phases: authAndLater, fn: nilReply},
		"kong.client.get_protocol": {phases: authAndLater, live: true, fn: func(ev *Event, _ []byte) (any, error) {
			return replyString(ev.req.Scheme), nil
		}},
		"kong.ip.is_trusted": {fn: func(ev *Event, args []byte) (any, error) {
			s, err := argString(args)
			if err != nil {
				return nil, err
			}
			return replyBool(ev.req.isTrusted(s)), nil
		}},
	}
}

func nilReply(*Event, []byte) (any, error) { return nil, nil }

// clientIP is kong.client.get_ip's value.
func (r *Request) clientIP() string {
	if r.Vars.RealIPRemoteAddr != "" {
		return r.Vars.RealIPRemoteAddr
	}
	return r.Vars.RemoteAddr
}

// isTrusted is kong.ip.is_trusted for a textual address; an address that
// does not parse is not trusted.
func (r *Request) isTrusted(s string) bool {
	if r.Trusted == nil {
		return false
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return false
	}
	return r.Trusted(a)
}

// luaToNumberInt is tonumber(s) wrapped as an Int reply, nil when s is not
// a number.
func luaToNumberInt(s string) any {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return &kpp.Int{V: int32(n)}
}
