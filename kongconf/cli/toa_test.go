package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With TOA the client is the TCP peer, so the generated node settings make
// the plugin's verdict for a client "direct", as with method local.
func TestTOAVerdictIsDirect(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := run(t, "generate", "--provider", "tke-toa", "-o", "kong.conf", "--out-dir", dir)
	require.Equal(t, 0, code, errs)
	code, out, errs := run(t, "explain", "--peer", "198.51.100.7:40000", "-c", filepath.Join(dir, "kong.conf"), "--format", "json")
	require.Equal(t, 0, code, errs)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Equal(t, "direct", v["verdict"])
	assert.Equal(t, "198.51.100.7", v["remote_addr"])
	b, err := os.ReadFile(filepath.Join(dir, "kong.conf"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "trusted_ips =", "TOA needs no trusted ranges")
}
