package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
)

// dockerfileEnv reads the final stage's ENV settings, with ARG defaults
// substituted, as Docker would build them by default.
func dockerfileEnv(t *testing.T) map[string]string {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	args := map[string]string{}
	env := map[string]string{}
	stage := 0
	kv := regexp.MustCompile(`([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)`)
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			stage++
			env = map[string]string{}
		case "ARG":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				args[k] = v
			}
		case "ENV":
			for _, m := range kv.FindAllStringSubmatch(line, -1) {
				v := strings.Trim(m[2], `"`)
				for k, a := range args {
					v = strings.ReplaceAll(v, "${"+k+"}", a)
				}
				env[m[1]] = v
			}
		}
	}
	require.GreaterOrEqual(t, stage, 2, "multi-stage Dockerfile")
	return env
}

// TestDockerfileSettings checks that the image's plugin-server settings
// are consistent: Kong dials exactly the socket go-pdk opens for the
// start command, and the plugin is enabled. It runs the start command's
// flags against the freshly built binary in a temporary prefix.
func TestDockerfileSettings(t *testing.T) {
	env := dockerfileEnv(t)
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	conf, err := nodeconf.Load("", environ)
	require.NoError(t, err)
	assert.Contains(t, conf.Plugins, "client-ip-guard")
	assert.Contains(t, conf.Plugins, "bundled")
	require.Len(t, conf.PluginServers, 1)
	ps := conf.PluginServers[0]
	assert.Equal(t, "client-ip-guard", ps.Name)
	assert.Equal(t, "/usr/local/bin/client-ip-guard -dump", ps.QueryCmd)
	start := strings.Fields(ps.StartCmd)
	require.Len(t, start, 3, "start_cmd %q", ps.StartCmd)
	assert.Equal(t, "/usr/local/bin/client-ip-guard", start[0], "absolute path: Kong clears PATH")
	assert.Equal(t, "-kong-prefix", start[1])
	assert.Equal(t, filepath.Join(start[2], "client-ip-guard.socket"), ps.Socket, "Kong must dial the socket go-pdk opens")

	// The same flags against the real binary, with the prefix moved to a
	// temporary directory, open the socket Kong would dial.
	dir, err := os.MkdirTemp("", "pdke2e-docker")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	environ = append(environ,
		"KONG_PLUGINSERVER_CLIENT_IP_GUARD_START_CMD="+filepath.Join(binDir, "client-ip-guard")+" -kong-prefix "+dir,
		"KONG_PLUGINSERVER_CLIENT_IP_GUARD_QUERY_CMD="+filepath.Join(binDir, "client-ip-guard")+" -dump",
		"KONG_PLUGINSERVER_CLIENT_IP_GUARD_SOCKET="+strings.Replace(ps.Socket, start[2], dir, 1),
		"KONG_PROXY_LISTEN=127.0.0.1:0",
		"KONG_DECLARATIVE_CONFIG="+filepath.Join(repoRoot, "kong.yml"),
		"KONG_TRUSTED_IPS=127.0.0.2",
		"KONG_REAL_IP_HEADER=X-Forwarded-For",
		"KONG_REAL_IP_RECURSIVE=on",
	)
	col := demo.NewCollector()
	n, err := demo.StartNode(t.Context(), demo.NodeSpec{Name: "docker", Environ: environ, Observe: col.Observe})
	require.NoError(t, err)
	defer n.Close()
	r := demo.RunScenario(n, col, demo.Scenario{Listener: "plain", From: demo.LoadBalancer, Path: "/strict",
		Headers: [][2]string{{"X_Forwarded_For", "6.6.6.6"}, {"X-Forwarded-For", "203.0.113.7"}}}, 5*time.Second)
	require.NoError(t, r.Err)
	assert.Equal(t, 403, r.Response.Status, "the plugin rejected the smuggled header (enforce mode)")
	assert.Equal(t, "smuggled", r.Verdict())
}
