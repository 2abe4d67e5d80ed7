// Package kongpdk answers the PDK calls a go-pdk plugin makes, as Kong
// 3.9.3 answers them through pb_rpc.lua (kong/runloop/plugin_servers) and
// kong/pdk, from a Request that stands for the nginx request: its header
// lines, variables, ngx.ctx, kong.ctx.shared and what the plugin set.
// It also holds the request-header lookups nginx and Kong make
// (ngx.req.get_headers, $http_*, ngx.req.set_header/clear_header) and the
// one kong.log.serialize() (Serialize).
//
// Package pluginsrv carries the calls over the plugin socket; Event.Call
// is the bridge. Methods with no Request counterpart
// (kong.service.response.*, kong.client.authenticate and others) raise a
// Lua error, so the event fails rather than answer wrongly.
//
// Every behaviour cites Kong's file and line at tag 3.9.3 where it is
// implemented; pdkserver/README.md lists them.
package kongpdk
