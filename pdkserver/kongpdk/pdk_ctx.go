package kongpdk

import kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"

// ctxHandlers: kong.ctx.shared.get/set. In the log timer the saved table
// is the request's own kong.ctx.shared (plugin.lua does not copy it).
func ctxHandlers() map[string]handler {
	return map[string]handler{
		"kong.ctx.shared.get": {fn: func(ev *Event, args []byte) (any, error) {
			k, err := argString(args)
			if err != nil {
				return nil, err
			}
			v := ev.req.Shared[k]
			if v == nil {
				return luaNull, nil
			}
			return wrapValue(v), nil
		}},
		"kong.ctx.shared.set": {fn: func(ev *Event, args []byte) (any, error) {
			var kv kpp.KV
			if err := decode(args, &kv); err != nil {
				return nil, err
			}
			if ev.req.Shared == nil {
				ev.req.Shared = map[string]any{}
			}
			setOrDelete(ev.req.Shared, kv.K, unwrapValue(kv.V))
			return nil, nil
		}},
	}
}
