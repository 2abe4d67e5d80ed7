package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExplainJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := Execute([]string{"explain", "--trusted-ips", "10.0.0.0/8", "--real-ip-header", "X-Forwarded-For",
		"--real-ip-recursive", "on", "--peer", "10.0.0.2:5555",
		"-H", "X-Forwarded-For: 198.51.100.1, 203.0.113.7", "-H", "X-Forwarded-For: 10.1.1.1", "--format", "json"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var m map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &m))
	assert.Equal(t, "203.0.113.7", m["remote_addr"])
	assert.Equal(t, float64(0), m["remote_port"])
	assert.Equal(t, "10.0.0.2", m["realip_remote_addr"])
	assert.Equal(t, float64(5555), m["realip_remote_port"])
	assert.Equal(t, "ok", m["verdict"])
	assert.NotEmpty(t, m["steps"])
}

func TestExplainFromKongConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kong.conf")
	require.NoError(t, os.WriteFile(conf, []byte("trusted_ips = 127.0.0.2\nreal_ip_header = X-Real-IP\n"), 0o644))
	var out, errb bytes.Buffer
	code := Execute([]string{"explain", "-c", conf, "--peer", "127.0.0.2:1", "-H", "X-Real-IP: 1.2.3.4:99"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "$remote_addr        = 1.2.3.4")
	assert.Contains(t, out.String(), "$remote_port        = 99")

	code = Execute([]string{"explain", "--peer", "nope"}, &out, &errb)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errb.String(), "--peer")
}

func TestExplainUnderscoresFromKongConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kong.conf")
	require.NoError(t, os.WriteFile(conf, []byte("trusted_ips = 10.0.0.0/8\nreal_ip_header = X-Forwarded-For\nnginx_proxy_underscores_in_headers = off\n"), 0o644))
	var out, errb bytes.Buffer
	code := Execute([]string{"explain", "-c", conf, "--peer", "10.0.0.2:1", "-H", "X-Forwarded-For: 1.2.3.4", "-H", "X_Forwarded_For: 6.6.6.6"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "underscores_in_headers is off")
	assert.Contains(t, out.String(), "fast path           = served (1 PDK call) on nginx 1.25.3 (if fast_path were on)\n")

	out.Reset()
	code = Execute([]string{"explain", "-c", conf, "--underscores-in-headers", "on", "--peer", "10.0.0.2:1", "-H", "X-Forwarded-For: 1.2.3.4", "-H", "X_Forwarded_For: 6.6.6.6"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "a blind spot of the fast path")
	errb.Reset()
	assert.NotEqual(t, 0, Execute([]string{"explain", "--underscores-in-headers", "maybe", "--peer", "10.0.0.2"}, &out, &errb))
	assert.Contains(t, errb.String(), `--underscores-in-headers "maybe"`)
}
