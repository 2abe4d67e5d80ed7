// Package e2e runs pdkserver with the real bin/client-ip-guard over real
// sockets: the plugin server is spawned from its start_cmd, Kong's side of
// the protocol talks to it over its Unix socket, and scripted clients
// reach the front door over TCP from 127.0.0.1 (direct) or 127.0.0.2 (the
// trusted load balancer).
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/gateway"
)

var (
	repoRoot string // the module root
	binDir   string // freshly built binaries
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		root, err := filepath.Abs("../..")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		repoRoot = root
		if err := demo.CheckLoopback(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		dir, err := os.MkdirTemp("", "pdke2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		// The binaries are built from the working tree once per run, so the
		// tests never run a stale bin/.
		if err := testsupport.Build(dir,
			"./plugin/cmd/client-ip-guard",
			"./pdkserver/testdata/panicker",
			"./pdkserver/internal/testplugins/noop",
			"./pdkserver/internal/testplugins/onecall",
			"./pdkserver/internal/testplugins/trivial",
			"./pdkserver/cmd/pdkserver",
		); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// stack is one emulated Kong: the "alb" front door from the repository's
// kong.conf (listeners moved to free ports), the "nlb" front door sharing
// its plugin servers, the echo upstream, and what they logged.
type stack struct {
	t        testing.TB
	dir      string
	ymlPath  string
	echo     *demo.Echo
	alb, nlb *demo.Node
	wide     *demo.Node // with stackOpts.wide: alb's settings, header buffers raised
	col      *demo.Collector

	mu  sync.Mutex
	log []string
}

// stackOpts tune a stack.
type stackOpts struct {
	yml          string // kong.yml text; ECHO stands for the echo's URL ("" = the repository's kong.yml)
	eventTimeout time.Duration
	// servers are the plugin servers started, in pluginserver_names order
	// (default client-ip-guard and panicker).
	servers []string
	// wide adds a third front door sharing the plugin servers: alb's
	// settings with large_client_header_buffers raised to 4 512k, so that
	// heads Kong's defaults refuse reach the plugin.
	wide bool
	// logLevel is kong.conf's log_level. "" means info: the tests read the
	// plugin server's stdout and stderr (panics, the SIGUSR1 procstats
	// line, log_sink stdout), which Kong logs at INFO
	// (kong/runloop/plugin_servers/process.lua:126 at 3.9.3) and so hides
	// at its default, notice, as an operator would see them only after
	// raising it. "default" leaves kong.conf's setting.
	logLevel string
	// guardArgs are appended to client-ip-guard's start command.
	guardArgs string
	// env adds KONG_* settings over the repository's kong.conf.
	env []string
	// include, if set, is written to the prefix as
	// client-ip-guard-fastpath.conf and loaded with nginx_http_include,
	// given relative to the prefix as Kong resolves it.
	include string
}

func startStack(t testing.TB, o stackOpts) *stack {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: keep the prefix short.
	dir, err := os.MkdirTemp("", "pdke2e")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &stack{t: t, dir: dir, col: demo.NewCollector()}
	t.Cleanup(func() {
		if t.Failed() {
			s.mu.Lock()
			lines := s.log
			if len(lines) > 60 {
				lines = append([]string{fmt.Sprintf("... %d earlier lines", len(lines)-60)}, lines[len(lines)-60:]...)
			}
			t.Logf("error log (last lines):\n%s", strings.Join(lines, "\n"))
			s.mu.Unlock()
		}
	})

	s.echo, err = demo.StartEcho("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { s.echo.Close() })

	yml := o.yml
	if yml == "" {
		b, err := os.ReadFile(filepath.Join(repoRoot, "kong.yml"))
		require.NoError(t, err)
		yml = strings.ReplaceAll(string(b), "http://127.0.0.1:18080", "ECHO")
	}
	s.ymlPath = filepath.Join(dir, "kong.yml")
	s.writeYML(yml)

	servers := o.servers
	if len(servers) == 0 {
		servers = []string{"client-ip-guard", "panicker"}
	}
	env := append(s.env(servers, o.guardArgs), o.env...)
	if o.include != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "client-ip-guard-fastpath.conf"), []byte(o.include), 0o644))
		env = append(env, "KONG_NGINX_HTTP_INCLUDE=client-ip-guard-fastpath.conf")
	}
	switch o.logLevel {
	case "":
		env = append(env, "KONG_LOG_LEVEL=info")
	case "default":
	default:
		env = append(env, "KONG_LOG_LEVEL="+o.logLevel)
	}
	logf := func(format string, args ...any) {
		s.mu.Lock()
		s.log = append(s.log, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
		s.mu.Unlock()
	}
	ctx := context.Background()
	s.alb, err = demo.StartNode(ctx, demo.NodeSpec{
		Name: "alb", ConfPath: filepath.Join(repoRoot, "kong.conf"), YMLPath: s.ymlPath,
		Environ: env, Logf: logf, EventTimeout: o.eventTimeout, Observe: s.col.Observe,
	})
	require.NoError(t, err)
	t.Cleanup(s.alb.Close)
	s.nlb, err = demo.StartNode(ctx, demo.NodeSpec{
		Name: "nlb", ConfPath: filepath.Join(repoRoot, "kong.conf"), YMLPath: s.ymlPath,
		Environ: append(env, "KONG_REAL_IP_HEADER=proxy_protocol", "KONG_REAL_IP_RECURSIVE=off",
			"KONG_PROXY_LISTEN=127.0.0.1:0 proxy_protocol", "KONG_ADMIN_LISTEN=off"),
		Logf: logf, EventTimeout: o.eventTimeout, Observe: s.col.Observe, Share: s.alb,
	})
	require.NoError(t, err)
	t.Cleanup(s.nlb.Close)
	if o.wide {
		s.wide, err = demo.StartNode(ctx, demo.NodeSpec{
			Name: "wide", ConfPath: filepath.Join(repoRoot, "kong.conf"), YMLPath: s.ymlPath,
			Environ: append(env, "KONG_NGINX_PROXY_LARGE_CLIENT_HEADER_BUFFERS=4 512k",
				"KONG_PROXY_LISTEN=127.0.0.1:0", "KONG_ADMIN_LISTEN=off"),
			Logf: logf, EventTimeout: o.eventTimeout, Observe: s.col.Observe, Share: s.alb,
		})
		require.NoError(t, err)
		t.Cleanup(s.wide.Close)
	}
	return s
}

// env is the environment Kong would get: the repository's kong.conf is
// used as is, with KONG_* overrides for the temporary prefix, free ports
// and the freshly built binaries.
func (s *stack) env(servers []string, guardArgs string) []string {
	var env []string
	add := func(name, bin string) {
		key := "KONG_PLUGINSERVER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		extra := ""
		if name == "client-ip-guard" && guardArgs != "" {
			extra = " " + guardArgs
		}
		env = append(env,
			key+"_SOCKET="+filepath.Join(s.dir, name+".socket"),
			key+"_START_CMD="+filepath.Join(binDir, bin)+" -kong-prefix "+s.dir+extra,
			key+"_QUERY_CMD="+filepath.Join(binDir, bin)+" -dump")
	}
	env = append(env,
		"KONG_PREFIX="+s.dir,
		"KONG_PROXY_LISTEN=127.0.0.1:0, 127.0.0.1:0 ssl http2",
		"KONG_ADMIN_LISTEN=127.0.0.1:0",
		"KONG_PLUGINS=bundled,"+strings.Join(servers, ","),
		"KONG_PLUGINSERVER_NAMES="+strings.Join(servers, ","),
	)
	for _, name := range servers {
		add(name, name)
	}
	return env
}

func (s *stack) writeYML(yml string) {
	s.t.Helper()
	yml = strings.ReplaceAll(yml, "ECHO", "http://"+s.echo.Addr())
	require.NoError(s.t, os.WriteFile(s.ymlPath, []byte(yml), 0o644))
}

// do runs a scenario against the stack.
func (s *stack) do(sc demo.Scenario) demo.Result {
	n := s.alb
	switch sc.Node {
	case "nlb":
		n = s.nlb
	case "wide":
		n = s.wide
	}
	if sc.Listener == "" {
		sc.Listener = "plain"
	}
	return demo.RunScenario(n, s.col, sc, 10*time.Second)
}

// logged returns the error-log lines so far that contain substr.
func (s *stack) logged(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.log {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// exchangeOf is a shortcut for a result's exchange, failing when missing.
func exchangeOf(t *testing.T, r demo.Result) *gateway.Exchange {
	t.Helper()
	require.NoError(t, r.Err)
	require.NotNil(t, r.Exchange, "no exchange observed")
	return r.Exchange
}
