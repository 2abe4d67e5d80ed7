package pluginsrv

import (
	"sort"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// accessAndRewrite is service/request.lua's phase set.
const accessAndRewrite = phRewrite | phAccess

// serviceHandlers: kong.service.request.* header and target edits
// (kong/pdk/service/request.lua). They rewrite the incoming request
// (ngx.req.set_header), so later kong.request.get_header calls see them.
func serviceHandlers() map[string]handler {
	return map[string]handler{
		"kong.service.request.set_header": {phases: accessAndRewrite, fn: func(ev *event, args []byte) (any, error) {
			k, v, err := headerKV(args)
			if err != nil {
				return nil, err
			}
			ev.req.setRequestHeader(k, []string{v})
			return nil, nil
		}},
		"kong.service.request.add_header": {phases: accessAndRewrite, fn: func(ev *event, args []byte) (any, error) {
			k, v, err := headerKV(args)
			if err != nil {
				return nil, err
			}
			if sameHeader(k, "host") {
				ev.req.UpstreamHost = v
			}
			ev.req.Headers = append(ev.req.Headers, Header{Name: k, Value: v})
			return nil, nil
		}},
		"kong.service.request.clear_header": {phases: accessAndRewrite, fn: func(ev *event, args []byte) (any, error) {
			k, err := argString(args)
			if err != nil {
				return nil, err
			}
			ev.req.Headers = clearHeader(ev.req.Headers, k)
			return nil, nil
		}},
		"kong.service.request.set_headers": {phases: accessAndRewrite, fn: func(ev *event, args []byte) (any, error) {
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
		"kong.service.set_upstream": {phases: accessAndRewrite, fn: func(ev *event, args []byte) (any, error) {
			if _, err := argString(args); err != nil {
				return nil, err
			}
			// pdkserver has no upstream entities: Kong returns nil, err.
			return nil, nil
		}},
		"kong.service.set_target": {phases: accessAndRewrite, fn: func(ev *event, args []byte) (any, error) {
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

// setRequestHeader is kong.service.request.set_header: the "host" header
// also sets $upstream_host.
func (r *Request) setRequestHeader(name string, values []string) {
	if sameHeader(name, "host") && len(values) > 0 {
		r.UpstreamHost = values[0]
	}
	r.Headers = setHeader(r.Headers, name, values)
}
