package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReportFilesOfEachShape(t *testing.T) {
	dir := t.TempDir()
	r := func(tm, v, a string) string {
		return `{"time":"` + tm + `","client_ip":"1.2.3.4","peer_ip":"198.51.100.7","verdict":"` + v + `","reasons":[],"action":"` + a + `","mode":"monitor","route_id":"r1"}`
	}
	files := map[string]string{
		"sink.jsonl": r("2026-12-01T10:00:00.000Z", "ok", "allowed") + "\n" + "junk\n",
		"error.log": "2026/12/01 10:00:01 [notice] 1#0: *1 [kong] pb_rpc.lua:233 " + r("2026-12-01T10:00:01.000Z", "spoof_attempt", "would_reject") +
			`, client: 198.51.100.7, server: kong, request: "GET / HTTP/1.1", host: "x"` + "\n" +
			"2026/12/01 10:00:02 [notice] 1#0: *2 [kong] pb_rpc.lua:233 " + r("2026-12-01T10:00:02.000Z", "ok", "allowed")[:40] + "\n",
		"file-log.json": `{"started_at":1,"client_ip_guard":` + r("2026-12-02T00:00:00.000Z", "ok", "allowed") + "}\n",
	}
	var paths []string
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		paths = append(paths, p)
	}
	var out, errb bytes.Buffer
	code := Execute(append([]string{"report", "--format", "json"}, paths...), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Empty(t, errb.String(), "no progress line when stderr is not a terminal")
	var got struct {
		Records     int              `json:"records"`
		Verdicts    map[string]int   `json:"verdicts"`
		WouldReject int              `json:"would_reject"`
		Skipped     int              `json:"skipped"`
		Shapes      map[string]int64 `json:"shapes"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &got), out.String())
	assert.Equal(t, 3, got.Records)
	assert.Equal(t, map[string]int{"ok": 2, "spoof_attempt": 1}, got.Verdicts)
	assert.Equal(t, 1, got.WouldReject)
	assert.Equal(t, 2, got.Skipped)
	assert.Equal(t, map[string]int64{"file": 1, "error_log": 1, "log_plugin": 1}, got.Shapes)

	out.Reset()
	code = Execute(append([]string{"report", "--until", "2026-12-02"}, paths...), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "client-ip-guard records: 2 ")
	assert.Contains(t, out.String(), "outside --since/--until: 1")
	assert.Contains(t, out.String(), "Safe to enforce: ")
}

func TestReportErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"report", "/nonexistent/error.log"}, "/nonexistent/error.log"},
		{[]string{"report", "--since", "last tuesday", "-"}, "--since"},
		{[]string{"report", "--format", "yaml", "-"}, "--format"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Execute(tt.args, &out, &errb)
		assert.Equal(t, 2, code)
		assert.Contains(t, errb.String(), tt.want)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          {},
		"2026-11-30":                time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		"2026-11-30T08:00:00+01:00": time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC),
		"90m":                       now.Add(-90 * time.Minute),
	} {
		got, err := parseWhen("--since", in, now)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: %v", in, got)
	}
	_, err := parseWhen("--since", "-5h", now)
	assert.True(t, err != nil && strings.Contains(err.Error(), "duration"))
}
