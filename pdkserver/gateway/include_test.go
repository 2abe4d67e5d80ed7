package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestInvalidHeaderLines: nginx drops a header line whose name it reads as
// invalid (ignore_invalid_headers on): any byte but a letter, a digit, '-'
// or, with underscores_in_headers on (Kong's template), '_'. Neither realip,
// the plugin nor the upstream sees it.
func TestInvalidHeaderLines(t *testing.T) {
	hdr := map[string]string{"X_Forwarded_For": "6.6.6.6", "X-Forwarded-For": "203.0.113.7", "X.Dotted": "d", "X_Custom": "c"}
	for _, tc := range []struct {
		name string
		node Node
		kept []string // header names the plugin and the upstream see, of hdr
		addr string   // $remote_addr
	}{
		{"Kong's defaults", Node{}, []string{"X-Forwarded-For", "X_Forwarded_For", "X_Custom"}, "6.6.6.6"},
		{"underscores off", Node{UnderscoresOff: true}, []string{"X-Forwarded-For"}, "127.0.0.2"}, // realip matches X_Forwarded_For by name only
		{"invalid lines kept", Node{UnderscoresOff: true, KeepInvalidHeaders: true}, []string{"X-Forwarded-For", "X_Forwarded_For", "X.Dotted", "X_Custom"}, "6.6.6.6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := tc.node
			node.Listeners = []Listener{{Addr: "127.0.0.1:0"}}
			node.TrustedIPs, node.RealIPHeader = []string{"127.0.0.2"}, "X_Forwarded_For"
			h := start(t, node, baseYML)
			resp, body, err := send(t, "127.0.0.2", h.addr(t, func(Listener) bool { return true }), nil, nil, "/echo", hdr)
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode, string(body))
			x := h.exchange(t, resp.Header.Get("X-Kong-Request-Id"))
			var seen seenUpstream
			require.NoError(t, json.Unmarshal(body, &seen))
			for name := range hdr {
				inReq := false
				for _, l := range x.Request.Headers {
					inReq = inReq || strings.EqualFold(l.Name, name)
				}
				_, upstream := seen.Headers[http.CanonicalHeaderKey(name)]
				want := slices.Contains(tc.kept, name)
				assert.Equal(t, want, inReq, "%s reaches the plugin", name)
				if name != "X-Forwarded-For" { // Kong sets its own upstream
					assert.Equal(t, want, upstream, "%s reaches the upstream", name)
				}
			}
			assert.Equal(t, tc.addr, x.Request.Vars.RemoteAddr)
		})
	}
}
