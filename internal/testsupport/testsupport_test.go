package testsupport

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNginxVersionAtLeast(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"nginx version: nginx/1.22.1", false},
		{"nginx version: nginx/1.25.1", true},
		{"nginx version: openresty/1.25.3.1", false},
		{"nginx version: nginx/1.27.3 (Ubuntu)", true},
		{"nginx version: nginx/2.0.0", true},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := NginxVersionAtLeast(tt.line, 1, 25, 1); got != tt.want {
			t.Errorf("NginxVersionAtLeast(%q, 1.25.1) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestBuild(t *testing.T) {
	SkipShort(t, "go build")
	dir := t.TempDir()
	require.NoError(t, Build(dir, "./plugin/cmd/client-ip-guard"))
	st, err := os.Stat(filepath.Join(dir, "client-ip-guard"))
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&0o111, "executable")
	assert.ErrorContains(t, Build(dir, "./no/such/package"), "go build ./no/such/package")
}

func TestStartNginx(t *testing.T) {
	bin := NginxBin(t)
	dir := t.TempDir()
	addr := "127.0.0.1:" + freePort(t)
	conf := "daemon off;\nmaster_process off;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log notice;\n" +
		"events { worker_connections 16; }\nhttp { access_log off; client_body_temp_path " + dir + "/client_body;\n" +
		"server { listen " + addr + "; location / { return 200; } } }\n"
	require.NoError(t, CheckNginxConf(bin, dir, conf))
	n, err := StartNginx(bin, dir, conf, []string{addr})
	require.NoError(t, err)
	n.Stop()
	_, err = StartNginx(bin, t.TempDir(), "no such directive;\n", []string{addr})
	assert.ErrorContains(t, err, "nginx exited")
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}
