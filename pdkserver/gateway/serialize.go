package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// The bundled file-log plugin, emulated so that what a log plugin receives
// from kong.log.serialize() (including kong.log.set_serialize_value keys)
// can be observed.
const (
	fileLogName     = "file-log"
	fileLogPriority = 9
)

func checkFileLog(cfg map[string]any) error {
	path, _ := cfg["path"].(string)
	if path == "" {
		return errors.New("config.path: required field missing")
	}
	for k := range cfg {
		switch k {
		case "path", "reopen", "custom_fields_by_lua":
		default:
			return fmt.Errorf("config.%s: unknown field", k)
		}
	}
	if _, ok := cfg["custom_fields_by_lua"]; ok {
		return errors.New("config.custom_fields_by_lua: Lua is not available in pdkserver")
	}
	return nil
}

var fileLogMu sync.Mutex

// writeFileLog appends one JSON line to config.path, as file-log does.
func writeFileLog(cfg map[string]any, rec map[string]any) (map[string]any, error) {
	path, _ := cfg["path"].(string)
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding the record: %w", err)
	}
	fileLogMu.Lock()
	defer fileLogMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return rec, nil
}

// serialize builds the subset of kong.log.serialize() pdkserver knows,
// then applies the kong.log.set_serialize_value keys (dotted paths) the
// plugins set, as Kong does.
func serialize(x *Exchange) map[string]any {
	req := x.Request
	now := time.Now()
	started := int64(req.StartTime * 1000)
	reqHeaders := map[string]any{}
	for _, h := range req.Headers {
		k := strings.ToLower(h.Name)
		switch cur := reqHeaders[k].(type) {
		case nil:
			reqHeaders[k] = h.Value
		case string:
			reqHeaders[k] = []any{cur, h.Value}
		case []any:
			reqHeaders[k] = append(cur, h.Value)
		}
	}
	respHeaders := map[string]any{}
	for k, vs := range x.ResponseHeader {
		if len(vs) == 1 {
			respHeaders[strings.ToLower(k)] = vs[0]
		} else if len(vs) > 1 {
			l := make([]any, len(vs))
			for i, v := range vs {
				l[i] = v
			}
			respHeaders[strings.ToLower(k)] = l
		}
	}
	query := map[string]any{}
	if q, err := url.ParseQuery(req.RawQuery); err == nil {
		for k, vs := range q {
			if len(vs) == 1 {
				query[k] = vs[0]
			} else {
				query[k] = vs
			}
		}
	}
	uri := req.Path
	if req.RawQuery != "" {
		uri += "?" + req.RawQuery
	}
	rec := map[string]any{
		"client_ip":  req.Vars.RemoteAddr,
		"started_at": started,
		"request": map[string]any{
			"method":      req.Method,
			"uri":         uri,
			"url":         fmt.Sprintf("%s://%s:%d%s", req.Scheme, req.Host, req.Port, uri),
			"headers":     reqHeaders,
			"querystring": query,
		},
		"response": map[string]any{
			"status":  x.Status,
			"headers": respHeaders,
		},
		"latencies": map[string]any{
			"request": now.Sub(time.UnixMilli(started)).Milliseconds(),
		},
		"source": map[string]string{"exit": "kong", "error": "kong", "service": "upstream"}[x.Source],
	}
	if x.Route != nil {
		rec["route"] = map[string]any{"id": x.Route.ID, "name": x.Route.Name, "paths": x.Route.Paths}
	}
	if x.Service != nil {
		rec["service"] = map[string]any{"id": x.Service.ID, "name": x.Service.Name, "host": x.Service.Host, "port": x.Service.Port, "protocol": x.Service.Protocol, "path": x.Service.Path}
	}
	if x.Upstream != nil {
		rec["upstream_uri"] = x.Upstream.URL.RequestURI()
	}
	for k, v := range req.SerializeValue {
		setDotted(rec, k, v)
	}
	return rec
}

// setDotted sets rec[a][b][c] for key "a.b.c", creating tables on the way
// and replacing non-tables, as kong.log.set_serialize_value does.
func setDotted(rec map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	cur := rec
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
		} else {
			next = maps.Clone(next) // do not write into shared maps
		}
		cur[p] = next
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}
