package kongpdk

import (
	"os"
	"runtime"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// routerPhases is kong/pdk/router.lua's ROUTER_PHASES.
const routerPhases = phAccess | phResponse | phLog

// miscHandlers: kong.router.*, kong.node.*.
func miscHandlers() map[string]handler {
	return map[string]handler{
		// ngx.ctx.route / ngx.ctx.service: restored in the log timer too.
		"kong.router.get_route": {phases: routerPhases, fn: func(ev *Event, _ []byte) (any, error) {
			if ev.req.RouteID == "" {
				return nil, nil
			}
			r := &kpp.Route{Id: ev.req.RouteID, Name: ev.req.RouteName}
			if ev.req.ServiceID != "" {
				r.Service = &kpp.ServiceKey{Id: ev.req.ServiceID}
			}
			return r, nil
		}},
		"kong.router.get_service": {phases: routerPhases, fn: func(ev *Event, _ []byte) (any, error) {
			if ev.req.ServiceID == "" {
				return nil, nil
			}
			return &kpp.Service{Id: ev.req.ServiceID, Name: ev.req.ServiceName}, nil
		}},
		"kong.node.get_id": {fn: func(ev *Event, _ []byte) (any, error) {
			return replyString(ev.nodeID), nil
		}},
		// Kong always fills both shared dicts (go-pdk dereferences them
		// unchecked); sizes are kong.conf's defaults, the worker is us.
		"kong.node.get_memory_stats": {fn: func(*Event, []byte) (any, error) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			type dict = kpp.MemoryStats_LuaSharedDicts_DictStats
			return &kpp.MemoryStats{
				LuaSharedDicts: &kpp.MemoryStats_LuaSharedDicts{
					Kong:        &dict{AllocatedSlabs: 40960, Capacity: 5 << 20},
					KongDbCache: &dict{AllocatedSlabs: 40960, Capacity: 128 << 20},
				},
				WorkersLuaVms: []*kpp.MemoryStats_WorkerLuaVm{{HttpAllocatedGc: int64(ms.HeapAlloc), Pid: int64(os.Getpid())}},
			}, nil
		}},
	}
}
