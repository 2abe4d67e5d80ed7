package gateway

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLevelFilter(t *testing.T) {
	stdoutLine := "[info] [client-ip-guard:42] {\"verdict\":\"ok\"}" // process.lua:126, INFO
	tests := []struct {
		level string
		line  string
		shown bool
	}{
		{"", stdoutLine, false}, // Kong's default, notice
		{"notice", stdoutLine, false},
		{"info", stdoutLine, true},
		{"debug", stdoutLine, true},
		{"", "[notice] [kong] pb_rpc.lua:233 hello", true},
		{"", "[error] [kong] pb_rpc.lua:233 boom", true},
		{"error", "[warn] x", false},
		{"error", "[crit] x", true},
		{"", "no level", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.level, tc.line), func(t *testing.T) {
			var got []string
			f, err := LevelFilter(tc.level, func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) })
			require.NoError(t, err)
			f("%s", tc.line)
			if tc.shown {
				assert.Equal(t, []string{tc.line}, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
	_, err := LevelFilter("verbose", func(string, ...any) {})
	assert.ErrorContains(t, err, `log_level has an invalid value: "verbose"`)
}
