package kongpdk

import (
	"maps"
	"net/http"
	"slices"
)

// Snapshot is what plugin.lua saves for the log timer: the log phase of a
// plugin server answers from it (kong/runloop/plugin_servers/plugin.lua:
// 151-171 at 3.9.3 take serialize_data, ngx_ctx, ctx_shared, the request
// and response headers, the status and the start time; :38-140 answer from
// them).
type Snapshot struct {
	serialized  string
	ngxCtx      map[string]any // shallow copy
	reqHeaders  []Header
	respHeaders map[string][]string
	status      int
	source      string
	startTime   float64
}

// NewSnapshot takes the snapshot of req when its log phase is scheduled.
func NewSnapshot(req *Request, workspaceID string) *Snapshot {
	req.mu.Lock()
	defer req.mu.Unlock()
	if req.Shared == nil {
		req.Shared = map[string]any{} // the timer shares the table itself
	}
	ctx := maps.Clone(req.NgxCtx)
	if ctx == nil {
		ctx = map[string]any{}
	}
	resp := map[string][]string{}
	for k, vs := range req.sentHeaders() {
		resp[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
	}
	return &Snapshot{
		serialized:  SerializeJSON(req, workspaceID),
		ngxCtx:      ctx,
		reqHeaders:  slices.Clone(req.Headers),
		respHeaders: resp,
		status:      req.responseStatus(),
		source:      req.responseSource(),
		startTime:   req.StartTime,
	}
}
