package kongpdk

import (
	"strings"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

// logLevels are the kong.log.<level> methods, with nginx's level names.
var logLevels = []string{"alert", "crit", "err", "warn", "notice", "info", "debug"}

// logHandlers: kong.log.* (kong/pdk/log.lua, plugin.lua's serialize
// override).
func logHandlers() map[string]handler {
	h := map[string]handler{}
	for _, lvl := range logLevels {
		h["kong.log."+lvl] = handler{fn: func(ev *Event, args []byte) (any, error) {
			var l structpb.ListValue
			if err := decode(args, &l); err != nil {
				return nil, err
			}
			var b strings.Builder
			for _, v := range l.Values {
				b.WriteString(luaToString(unwrapValue(v)))
			}
			ev.log(lvl, b.String())
			return nil, nil
		}}
	}
	// Allowed where ngx.ctx is (phases_with_ctx), log timer included: it
	// edits the restored ctx, after the serializer snapshot was taken.
	h["kong.log.set_serialize_value"] = handler{fn: func(ev *Event, args []byte) (any, error) {
		var kv kpp.KV
		if err := decode(args, &kv); err != nil {
			return nil, err
		}
		if ev.snap != nil {
			return nil, nil
		}
		if ev.req.SerializeValue == nil {
			ev.req.SerializeValue = map[string]any{}
		}
		// A nil value unsets the key (mode "set" with nil).
		setOrDelete(ev.req.SerializeValue, kv.K, unwrapValue(kv.V))
		return nil, nil
	}}
	// kong.log.serialize runs only in the log phase (check_phase
	// PHASES_LOG); there plugin.lua returns the snapshot taken when the
	// log timer was scheduled.
	h["kong.log.serialize"] = handler{phases: phLog, fn: func(ev *Event, _ []byte) (any, error) {
		if ev.snap != nil {
			return replyString(ev.snap.serialized), nil
		}
		return replyString(SerializeJSON(ev.req, ev.workspaceID)), nil
	}}
	return h
}

// log records a kong.log.* line on the request and in Kong's error log.
// pb_rpc.lua resolves every PDK method once, when the first plugin is
// loaded (load_service, kong/runloop/plugin_servers/rpc/pb_rpc.lua:178-206
// and 388-391 at 3.9.3, through rpc/util.lua:1-15's index_table on
// plugin.lua:42-43's exposed_api.kong): kong.log.* is then the root
// logger, whose format has no namespace (kong/pdk/log.lua:54-55). The
// set_namespaced_log at pb_rpc.lua:226 comes too late to matter, so a Go
// plugin's lines carry no [plugin-name] tag. nginx names the level
// (kong.log.err is "[error]").
func (ev *Event) log(level, msg string) {
	ev.req.Logs = append(ev.req.Logs, LogLine{Level: level, Message: msg})
	if ev.logf != nil {
		lvl := nginxLevel(level)
		if ev.snap != nil {
			// The log timer has no request: nginx names the context instead.
			ev.logf("[%s] [kong] pb_rpc.lua:%d %s, context: ngx.timer", lvl, callPDKLine, msg)
			return
		}
		ev.logf("[%s] [kong] pb_rpc.lua:%d %s, client: %s, server: kong, request: \"%s %s %s\", host: \"%s\"",
			lvl, callPDKLine, msg, ev.req.Vars.RemoteAddr, ev.req.Method,
			ev.req.pathWithQuery(), httpProtocol(ev.req.HTTPVersion), ev.req.Host)
	}
}

// nginxLevel is nginx's name for a kong.log level (err_levels in
// src/core/ngx_log.c): only "err" differs.
func nginxLevel(method string) string {
	if method == "err" {
		return "error"
	}
	return method
}

// callPDKLine is the line of pb_rpc.lua (3.9.3) whose call into the PDK
// Kong's logger reports as the caller of kong.log.*: call_pdk's
// method.method(...) (pb_rpc.lua:233).
const callPDKLine = 233
