package gateway

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

func TestLoadHTTPInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	gen, err := fastpath.Include("X-Forwarded-For")
	require.NoError(t, err)
	good := write("fast.conf", gen)
	maps, err := LoadHTTPInclude(good)
	require.NoError(t, err)
	require.Len(t, maps, 1)
	assert.Equal(t, fastpath.Variable, maps[0].Name)

	for _, tc := range []struct{ name, path, err string }{
		{"missing file", filepath.Join(dir, "none.conf"), `open() "` + filepath.Join(dir, "none.conf") + `" failed: open ` + filepath.Join(dir, "none.conf") + `: no such file or directory`},
		{"wildcard", filepath.Join(dir, "*.conf"), filepath.Join(dir, "*.conf") + `: a wildcard include is not modelled`},
		{"not volatile", write("cached.conf", "\nmap $nginx_version $v {\n    default \"$remote_addr\";\n}\n"),
			`map $v is not volatile: only volatile maps are modelled (the form kongconf generate --fast-path writes) in ` + filepath.Join(dir, "cached.conf") + `:2`},
		{"a variable pdkserver does not serve", write("var.conf", "map $nginx_version $v {\n    volatile;\n    default \"$remote_port\";\n}\n"),
			`unknown "remote_port" variable in ` + filepath.Join(dir, "var.conf") + `:3`},
		{"another directive", write("dir.conf", "# fast path\nunderscores_in_headers off;\n"),
			`"underscores_in_headers": only map blocks are modelled in this include (the form kongconf generate --fast-path writes) in ` + filepath.Join(dir, "dir.conf") + `:2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadHTTPInclude(tc.path)
			require.Error(t, err)
			assert.Equal(t, tc.err, err.Error())
		})
	}

	t.Run("the gateway refuses to start", func(t *testing.T) {
		_, err := New(Options{Node: Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, HTTPInclude: filepath.Join(dir, "none.conf")}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nginx_http_include: open()")
	})
}
