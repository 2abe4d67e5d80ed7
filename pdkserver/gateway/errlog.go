package gateway

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultLogLevel is kong.conf's log_level default
// (kong/templates/kong_defaults.lua:3 at 3.9.3).
const DefaultLogLevel = "notice"

// logLevels are nginx's error log levels, most severe first (err_levels in
// src/core/ngx_log.c), the values Kong accepts for log_level.
var logLevels = []string{"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

// LevelFilter returns a Logf that passes on only the lines nginx writes at
// log_level level: those whose leading "[name]" is at least that severe.
// Kong writes its error log with `error_log ... ${{LOG_LEVEL}}`
// (kong/templates/nginx_kong.lua:4, 118 at 3.9.3), so with the
// default (notice) the plugin server's stdout and stderr, which Kong logs
// at INFO (kong/runloop/plugin_servers/process.lua:119-127 at 3.9.3), are
// not written. A line without a known level is passed on. An empty level
// is the default.
func LevelFilter(level string, logf func(string, ...any)) (func(string, ...any), error) {
	if level == "" {
		level = DefaultLogLevel
	}
	max := slices.Index(logLevels, strings.ToLower(strings.TrimSpace(level)))
	if max < 0 {
		return nil, fmt.Errorf("log_level has an invalid value: %q (one of %s)", level, strings.Join(logLevels, ", "))
	}
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "["), "]"); ok && strings.HasPrefix(line, "[") {
			if i := slices.Index(logLevels, name); i > max {
				return
			}
		}
		logf("%s", line)
	}, nil
}
