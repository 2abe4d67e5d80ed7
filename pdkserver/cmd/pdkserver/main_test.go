package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo's report covers only the records written after the run began.
func TestPrintReportReadsThisRunOnly(t *testing.T) {
	line := func(v, a string) string {
		return `2026/12/01 10:00:00.000001 [alb] [notice] [kong] pb_rpc.lua:233 [client-ip-guard] {"time":"2026-12-01T10:00:00.000Z","client_ip":"1.2.3.4","peer_ip":"127.0.0.1","verdict":"` +
			v + `","reasons":[],"action":"` + a + `","mode":"monitor"}, client: 127.0.0.1, server: kong, request: "GET /echo HTTP/1.1", host: "x"` + "\n"
	}
	old := line("ok", "allowed") + line("ok", "allowed")
	this := line("spoof_attempt", "would_reject") + "2026/12/01 10:00:00.000002 [alb] [info] something else\n"
	path := filepath.Join(t.TempDir(), "error.log")
	require.NoError(t, os.WriteFile(path, []byte(old+this), 0o644))

	var out bytes.Buffer
	printReport(&out, path, int64(len(old)))
	assert.Contains(t, out.String(), "client-ip-guard records: 1; lines without a record: 1")
	assert.Contains(t, out.String(), "Enforce would reject 1 of 1 records")
	assert.Contains(t, out.String(), "Safe to enforce: ")

	out.Reset()
	printReport(&out, "stderr", 0)
	assert.True(t, strings.Contains(out.String(), "stderr"))
}
