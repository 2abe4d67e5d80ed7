package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
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

// writeFileLog appends one line, cjson.encode(kong.log.serialize()), to
// config.path, as file-log does, and returns the record as written.
func writeFileLog(cfg map[string]any, line string) (map[string]any, error) {
	path, _ := cfg["path"].(string)
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return nil, fmt.Errorf("encoding the record: %w", err)
	}
	b := []byte(line)
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
