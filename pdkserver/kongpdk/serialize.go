package kongpdk

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// DefaultWorkspaceID stands in for the id of Kong's default workspace.
const DefaultWorkspaceID = "0dc6f45b-8f8d-40d2-a504-473544ee190b"

// Serialize returns the table kong.log.serialize() would build for the
// request (kong/pdk/log.lua, http subsystem), with the
// set_serialize_value edits applied. It is the one serializer: what a Go
// plugin's kong.log.serialize() returns and what the gateway's log plugins
// (file-log) write. Fields pdkserver cannot know are left out or zero. The
// caller must not run it concurrently with an event on req.
func Serialize(req *Request, workspaceID string) map[string]any {
	reqHeaders := headerTable(req.Headers, DefaultMaxReqHeaders)
	for _, k := range []string{"authorization", "proxy-authorization"} {
		if _, ok := reqHeaders[k]; ok {
			reqHeaders[k] = "REDACTED"
		}
	}
	respHeaders := map[string]any{}
	for k, v := range responseHeaderStruct(req.sentHeaders(), 100).AsMap() {
		respHeaders[k] = v
	}
	uri := req.pathWithQuery()
	url := req.Scheme + "://" + req.Host + ":" + strconv.Itoa(req.Port) + uri
	source := "upstream"
	if src := req.responseSource(); src == "exit" || src == "error" {
		source = "kong"
	}
	root := map[string]any{
		"request": map[string]any{
			"id":          req.NginxVars["kong_request_id"],
			"uri":         uri,
			"url":         url,
			"querystring": queryTable(req.RawQuery, 100),
			"method":      req.Method,
			"headers":     reqHeaders,
			"size":        atoiOr0(req.NginxVars["request_length"]),
		},
		"upstream_uri":    req.Response.UpstreamURI,
		"upstream_status": req.NginxVars["upstream_status"],
		"response": map[string]any{
			"status":  req.responseStatus(),
			"headers": respHeaders,
			"size":    req.Response.Size,
		},
		"latencies": map[string]any{
			"kong":    0,
			"proxy":   -1,
			"request": requestMillis(req.StartTime),
			"receive": 0,
		},
		"client_ip":      req.Vars.RemoteAddr,
		"started_at":     int64(req.StartTime * 1000),
		"source":         source,
		"workspace":      workspaceID,
		"workspace_name": "default",
	}
	switch {
	case req.RouteEntity != nil:
		root["route"] = req.RouteEntity
	case req.RouteID != "":
		root["route"] = map[string]any{"id": req.RouteID, "name": req.RouteName}
	}
	switch {
	case req.ServiceEntity != nil:
		root["service"] = req.ServiceEntity
	case req.ServiceID != "":
		root["service"] = map[string]any{"id": req.ServiceID, "name": req.ServiceName}
	}
	for _, k := range sortedKeys(req.SerializeValue) {
		setPath(root, splitSerializeKey(k), req.SerializeValue[k])
	}
	return root
}

// SerializeJSON is cjson.encode(Serialize(req, workspaceID)), the text a log
// plugin such as file-log writes.
func SerializeJSON(req *Request, workspaceID string) string {
	return EncodeCJSON(Serialize(req, workspaceID))
}

// EncodeCJSON encodes v as lua-cjson encodes the Lua table it stands for.
// set_serialize_value values reach Lua through pb_rpc.lua's structpb
// conversion (kong/runloop/plugin_servers/rpc/pb_rpc.lua:24-60 at 3.9.3),
// which copies every list into a new plain Lua table (pb_rpc.lua:40-48), so
// the cjson.empty_array_mt lua-protobuf gives decoded arrays
// (kong/globalpatches.lua:25-28) is lost: cjson cannot tell an empty list
// from an empty object and writes {} (encode_empty_table_as_object, on by
// default). lua-cjson also escapes '/' as "\/".
func EncodeCJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(luaTables(v)); err != nil {
		return "{}"
	}
	// '/' only occurs inside strings.
	return strings.ReplaceAll(strings.TrimRight(buf.String(), "\n"), "/", `\/`)
}

// luaTables copies v with every empty list turned into an empty object.
func luaTables(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = luaTables(x)
		}
		return out
	case []any:
		if len(t) == 0 {
			return map[string]any{}
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = luaTables(x)
		}
		return out
	case []string:
		if len(t) == 0 {
			return map[string]any{}
		}
		return t
	}
	return v
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// requestMillis is $request_time in ms, measured to now.
func requestMillis(start float64) int64 {
	if start == 0 {
		return 0
	}
	d := float64(time.Now().UnixNano())/1e9 - start
	if d < 0 {
		return 0
	}
	return int64(d * 1000)
}

// splitSerializeKey splits set_serialize_value's key on dots; "\." is a
// literal dot.
func splitSerializeKey(k string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(k); i++ {
		switch {
		case k[i] == '\\' && i+1 < len(k) && k[i+1] == '.':
			cur.WriteByte('.')
			i++
		case k[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(k[i])
		}
	}
	return append(parts, cur.String())
}

// setPath sets root[p0][p1]...=v, creating (or replacing non-table)
// intermediate tables.
func setPath(root map[string]any, path []string, v any) {
	m := root
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
