package pluginsrv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// Test plugins are built once per test binary run, into binDir.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

var testPlugins = []string{"noop", "trivial", "pdkprobe", "panicky"}

func TestMain(m *testing.M) {
	if path := os.Getenv(echoEnv); path != "" {
		serveEcho(path) // BenchmarkSocketRoundTrip's other process
		return
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// pluginBin returns the path of a built test plugin.
func pluginBin(tb testing.TB, name string) string {
	tb.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "pluginsrv-bin")
		if buildErr != nil {
			return
		}
		var pkgs []string
		for _, p := range testPlugins {
			pkgs = append(pkgs, "github.com/client-ip-guard/client-ip-guard/pdkserver/internal/testplugins/"+p)
		}
		buildErr = testsupport.Build(binDir, pkgs...)
	})
	require.NoError(tb, buildErr)
	return filepath.Join(binDir, name)
}

// guardBin builds the real client-ip-guard plugin (for benchmarks only;
// plugin/ is not this package's, so a build failure skips instead of
// failing).
var (
	guardOnce sync.Once
	guardErr  error
)

func guardBin(tb testing.TB) string {
	tb.Helper()
	pluginBin(tb, "noop") // creates binDir
	guardOnce.Do(func() {
		guardErr = testsupport.Build(binDir, "github.com/client-ip-guard/client-ip-guard/plugin/cmd/client-ip-guard")
	})
	if guardErr != nil {
		tb.Skip(guardErr)
	}
	return filepath.Join(binDir, "client-ip-guard")
}

// altModfile, from PDK_ALT_MODFILE, is a go.mod (for go build -modfile)
// that builds the plugins against another go-pdk, a patch under review;
// BenchmarkAccessEvent then also runs trivial and client-ip-guard built
// with it, named with altSuffix, interleaved with the released builds.
var altModfile = os.Getenv("PDK_ALT_MODFILE")

const altSuffix = "-alt"

// altBin builds plugin name (a test plugin or client-ip-guard) with
// altModfile, as name+altSuffix: go-pdk names the plugin after its
// executable.
func altBin(tb testing.TB, name string) string {
	tb.Helper()
	pluginBin(tb, "noop") // creates binDir
	pkg := "github.com/client-ip-guard/client-ip-guard/pdkserver/internal/testplugins/" + name
	if name == "client-ip-guard" {
		pkg = "github.com/client-ip-guard/client-ip-guard/plugin/cmd/client-ip-guard"
	}
	bin := filepath.Join(binDir, name+altSuffix)
	if out, err := exec.Command("go", "build", "-modfile", altModfile, "-o", bin, pkg).CombinedOutput(); err != nil {
		tb.Fatalf("go build -modfile %s %s: %v\n%s", altModfile, pkg, err, out)
	}
	return bin
}

// logSink collects Logf lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logSink) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *logSink) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startPlugin starts a plugin server for a built test plugin in a fresh
// short-pathed prefix (Unix socket paths are limited to 108 bytes) and
// waits until its socket accepts connections.
func startPlugin(tb testing.TB, name string) (*Server, *logSink) {
	tb.Helper()
	var bin string
	switch {
	case strings.HasSuffix(name, altSuffix):
		bin = altBin(tb, strings.TrimSuffix(name, altSuffix))
	case name == "client-ip-guard":
		bin = guardBin(tb)
	default:
		bin = pluginBin(tb, name)
	}
	prefix, err := os.MkdirTemp("", "ps")
	require.NoError(tb, err)
	tb.Cleanup(func() { os.RemoveAll(prefix) })
	logs := &logSink{}
	s, err := Start(context.Background(), Options{
		Name:     name,
		StartCmd: bin + " -kong-prefix " + prefix,
		QueryCmd: bin + " -dump",
		Socket:   filepath.Join(prefix, name+".socket"),
		Logf:     logs.logf,
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	waitSocket(tb, s)
	return s, logs
}

// waitSocket waits until the plugin listens (Kong itself never waits).
func waitSocket(tb testing.TB, s *Server) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, _, err := s.acquire(context.Background())
		if err == nil {
			s.pool.put(c)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("plugin %s never listened on %s", s.opts.Name, s.opts.Socket)
}

// newReq is a typical request: peer 10.0.0.7:5555 behind nothing.
func newReq() *kongpdk.Request {
	return &kongpdk.Request{
		Vars: kongpdk.Vars{
			RemoteAddr: "10.0.0.7", RemotePort: "5555",
			RealIPRemoteAddr: "10.0.0.7", RealIPRemotePort: "5555",
		},
		Scheme: "http", Host: "example.com", Port: 8000, Method: "GET",
		Path: "/p", RawQuery: "a=1&a=2&flag&e=", HTTPVersion: 1.1,
		Headers: []kongpdk.Header{
			{Name: "Host", Value: "example.com"}, {Name: "X-Test", Value: "one"}, {Name: "X-Test", Value: "two"},
			{Name: "User-Agent", Value: "t"},
		},
		StartTime: 1700000000.5,
	}
}

func ent(id string, cfg map[string]any) *Entity {
	return &Entity{ID: id, Name: "x", RouteID: "r1", Config: cfg}
}
