package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
)

// TestScenarios runs the demo's scripted requests (every verdict, monitor
// and enforce, PROXY v1/v2, TLS, XFF) and checks each against what Kong
// would do.
func TestScenarios(t *testing.T) {
	s := startStack(t, stackOpts{})
	var results []demo.Result
	for _, sc := range demo.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			r := s.do(sc)
			results = append(results, r)
			assert.Empty(t, r.Problems())
			if r.Exchange != nil {
				t.Logf("%s: %d PDK calls in access: %v", sc.Name, len(r.Exchange.Request.Calls["access"]), r.Exchange.Request.Calls["access"])
			}
		})
	}
	var buf bytes.Buffer
	demo.PrintTable(&buf, results)
	t.Logf("\n%s", buf.String())
}

// defaultYML enables the plugin with only the mirror of Kong's settings:
// log_when anomalies, sink kong, monitor.
const defaultYML = `
_format_version: "3.0"
plugins:
- name: client-ip-guard
  config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true}
services:
- name: echo
  url: ECHO
  routes: [{name: echo, paths: [/echo]}]
`

// TestCallsPerAccessEvent pins the PDK round trips per request for the
// default configuration: 3 for an ok request, one more for the record of an
// anomaly. defaultYML's instance is global, so it judges in the rewrite
// phase and its access event makes no call; a route instance judges in
// access with the same calls.
func TestCallsPerAccessEvent(t *testing.T) {
	route := strings.Replace(defaultYML, "routes: [{name: echo, paths: [/echo]}]",
		"routes: [{name: echo, paths: [/echo]}, {name: scoped, paths: [/scoped], plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true}}]}]", 1)
	require.NotEqual(t, defaultYML, route)
	s := startStack(t, stackOpts{yml: route})
	tests := []struct {
		name    string
		sc      demo.Scenario
		verdict string
		calls   int
	}{
		{"ok", demo.Scenario{From: demo.LoadBalancer, Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}}, "", 3},
		{"direct", demo.Scenario{From: demo.DirectClient}, "", 3},
		{"spoof (anomaly, recorded)", demo.Scenario{From: demo.DirectClient, Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}}, "spoof_attempt", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 3; i++ { // the first event also starts the instance; count them all alike
				// The global instance alone: rewrite judges, access is empty.
				tc.sc.Path = "/echo"
				r := s.do(tc.sc)
				x := exchangeOf(t, r)
				require.Equal(t, 200, r.Response.Status)
				assert.Len(t, x.Request.Calls["rewrite"], tc.calls, "global instance, rewrite: %v", x.Request.Calls["rewrite"])
				assert.Empty(t, x.Request.Calls["access"], "global instance, access")
				assert.Equal(t, tc.verdict, r.Verdict())
				// A route instance: it judges in access (the global one
				// judged in rewrite, as Kong runs both).
				tc.sc.Path = "/scoped"
				r = s.do(tc.sc)
				x = exchangeOf(t, r)
				require.Equal(t, 200, r.Response.Status)
				assert.Len(t, x.Request.Calls["access"], tc.calls, "route instance, access: %v", x.Request.Calls["access"])
				assert.Equal(t, tc.verdict, r.Verdict())
			}
		})
	}
}

const featuresYML = `
_format_version: "3.0"
plugins:
- name: client-ip-guard
  config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all}
services:
- name: echo
  url: ECHO
  routes:
  - name: echo
    paths: [/echo]
  - name: allow-monitor
    paths: [/allow-monitor]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, allow: [203.0.113.0/24]}
  - name: allow-enforce
    paths: [/allow-enforce]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, mode: enforce, allow: [203.0.113.0/24], status: 451, message: go away}
  - name: hdr
    paths: [/hdr]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, upstream_header: X-Client-IP}
  - name: strip
    paths: [/strip]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, strip_untrusted_forwarding: true}
  - name: require
    paths: [/require]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, mode: enforce, require_trusted_peer: true}
`

// TestPolicyFeatures covers allow/deny in monitor and enforce mode,
// require_trusted_peer, upstream_header and strip_untrusted_forwarding, by
// what the client got and what the upstream saw.
func TestPolicyFeatures(t *testing.T) {
	s := startStack(t, stackOpts{yml: featuresYML})
	lb := func(xff string) [][2]string { return [][2]string{{"X-Forwarded-For", xff}} }
	runOutcomes(t, s, []flowCase{
		{name: "allow list, monitor: denied but passed",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/allow-monitor", Headers: lb("198.51.100.5")},
			status: 200, verdict: "denied"},
		{name: "allow list, enforce: refused with the configured status and message",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/allow-enforce", Headers: lb("198.51.100.5")},
			status: 451, verdict: "denied", body: "go away"},
		{name: "allow list, enforce: allowed client",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/allow-enforce", Headers: lb("203.0.113.9")},
			status: 200, verdict: "ok"},
		{name: "require_trusted_peer refuses a direct client",
			sc:     demo.Scenario{From: demo.DirectClient, Path: "/require"},
			status: 403, verdict: "direct"},
		{name: "require_trusted_peer passes the LB",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/require", Headers: lb("203.0.113.9")},
			status: 200, verdict: "ok"},
		{name: "upstream_header carries the verified client",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/hdr", Headers: lb("203.0.113.7")},
			status: 200, verdict: "ok", upstream: map[string]string{"X-Client-Ip": "203.0.113.7", "X-Real-Ip": "203.0.113.7"}},
		{name: "upstream_header: a client-sent value never survives an LB-IP leak",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/hdr", Headers: [][2]string{{"X-Client-IP", "6.6.6.6"}}},
			status: 200, verdict: "lb_ip_leak", upstream: map[string]string{"X-Client-Ip": ""}},
		{name: "without strip, Kong appends to a spoofed XFF",
			sc:     demo.Scenario{From: demo.DirectClient, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}, {"X-Real-IP", "5.6.7.8"}}},
			status: 200, verdict: "spoof_attempt", upstream: map[string]string{"X-Forwarded-For": "1.2.3.4, 127.0.0.1", "X-Real-Ip": "127.0.0.1"}},
		// A route-scoped instance runs only in the access phase, after Kong's
		// access.before computed X-Forwarded-For (kong/init.lua:1199-1203,
		// kong/runloop/handler.lua:1340-1347 at 3.9.3): clearing the line
		// cannot remove the forged value; X-Real-IP is $remote_addr anyway.
		{name: "strip_untrusted_forwarding on a route: Kong still forwards the forged XFF",
			sc:     demo.Scenario{From: demo.DirectClient, Path: "/strip", Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}, {"X-Real-IP", "5.6.7.8"}}},
			status: 200, verdict: "spoof_attempt", upstream: map[string]string{"X-Forwarded-For": "1.2.3.4, 127.0.0.1", "X-Real-Ip": "127.0.0.1"}},
		{name: "strip leaves a trusted LB's chain alone",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/strip", Headers: lb("203.0.113.7")},
			status: 200, verdict: "ok", upstream: map[string]string{"X-Forwarded-For": "203.0.113.7, 127.0.0.2"}},
	})
}

// flowCase is one request and what the client, the record and the
// upstream must show.
type flowCase struct {
	name     string
	sc       demo.Scenario
	status   int
	verdict  string            // the record's verdict ("" = not checked)
	body     string            // substring of the response body
	upstream map[string]string // header -> value the upstream saw ("" = absent)
}

// runOutcomes sends each case as a subtest and checks it.
func runOutcomes(t *testing.T, s *stack, cases []flowCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.sc)
			exchangeOf(t, r)
			assert.Equal(t, tc.status, r.Response.Status, "body %s", r.Response.Body)
			if tc.verdict != "" {
				assert.Equal(t, tc.verdict, r.Verdict(), "record %v", r.Record)
			}
			if tc.body != "" {
				assert.Contains(t, string(r.Response.Body), tc.body)
			}
			if tc.upstream != nil {
				require.NotNil(t, r.Seen, "the upstream was not reached")
				for k, v := range tc.upstream {
					assert.Equal(t, v, r.Seen.Headers.Get(k), "upstream %s", k)
				}
			}
		})
	}
}

// TestLogSinks sends one anomaly per sink and finds the record where each
// sink puts it; the serializer record is read back from what the bundled
// file-log plugin (a log plugin) received.
func TestLogSinks(t *testing.T) {
	dir, err := os.MkdirTemp("", "pdke2e-sinks")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	fileLog := filepath.Join(dir, "file-log.json")
	guardLog := filepath.Join(dir, "guard.log")
	yml := fmt.Sprintf(`
_format_version: "3.0"
plugins:
- name: file-log
  config: {path: %s}
services:
- name: echo
  url: ECHO
  routes:
  - {name: kong, paths: [/kong], plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], log_sink: kong}}]}
  - {name: ser, paths: [/ser], plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], log_sink: serializer}}]}
  - {name: file, paths: [/file], plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], log_sink: file, log_path: %s}}]}
  - {name: stdout, paths: [/stdout], plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], log_sink: stdout}}]}
`, fileLog, guardLog)
	s := startStack(t, stackOpts{yml: yml})
	spoof := func(path string) demo.Result {
		return s.do(demo.Scenario{From: demo.DirectClient, Path: path, Headers: [][2]string{{"X-Real-IP", "9.9.9.9"}}})
	}
	verdictIn := func(line string) string {
		i := strings.IndexByte(line, '{')
		if i < 0 {
			return ""
		}
		var m map[string]any
		if json.Unmarshal([]byte(line[i:]), &m) != nil {
			return ""
		}
		v, _ := m["verdict"].(string)
		return v
	}

	t.Run("kong: kong.log.notice", func(t *testing.T) {
		x := exchangeOf(t, spoof("/kong"))
		require.NotEmpty(t, x.Request.Logs)
		assert.Equal(t, "notice", x.Request.Logs[0].Level)
		assert.Equal(t, "spoof_attempt", verdictIn(x.Request.Logs[0].Message))
		assert.Empty(t, x.Request.SerializeValue)
	})
	t.Run("serializer: what a log plugin receives", func(t *testing.T) {
		x := exchangeOf(t, spoof("/ser"))
		require.Len(t, x.FileLog, 1)
		rec, ok := x.FileLog[0]["client_ip_guard"].(map[string]any)
		require.True(t, ok, "file-log record lacks client_ip_guard: %v", x.FileLog[0])
		assert.Equal(t, "spoof_attempt", rec["verdict"])
		b, err := os.ReadFile(fileLog)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var last map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
		assert.Equal(t, "spoof_attempt", last["client_ip_guard"].(map[string]any)["verdict"])
		assert.Equal(t, "127.0.0.1", last["client_ip"])
		assert.Empty(t, x.Request.Logs)
	})
	t.Run("file: written by the plugin process", func(t *testing.T) {
		x := exchangeOf(t, spoof("/file"))
		assert.Empty(t, x.Request.Logs)
		assert.Empty(t, x.Request.SerializeValue)
		require.Eventually(t, func() bool {
			b, _ := os.ReadFile(guardLog)
			return verdictIn(string(b)) == "spoof_attempt"
		}, 3*time.Second, 20*time.Millisecond)
	})
	t.Run("stdout: the plugin server's output in Kong's log", func(t *testing.T) {
		x := exchangeOf(t, spoof("/stdout"))
		assert.Empty(t, x.Request.Logs)
		require.Eventually(t, func() bool {
			for _, l := range s.logged(`"verdict"`) {
				if verdictIn(l) == "spoof_attempt" && strings.Contains(l, "client-ip-guard") {
					return true
				}
			}
			return false
		}, 3*time.Second, 20*time.Millisecond)
	})
}

// TestStdoutSinkHiddenAtDefaultLogLevel: Kong logs the plugin server's
// stdout at INFO (process.lua:126 at 3.9.3) and its log_level defaults to
// notice (kong_defaults.lua:3), so log_sink stdout writes nothing a default
// Kong keeps.
func TestStdoutSinkHiddenAtDefaultLogLevel(t *testing.T) {
	s := startStack(t, stackOpts{logLevel: "default", servers: []string{"client-ip-guard"}, yml: `
_format_version: "3.0"
services:
- name: echo
  url: ECHO
  routes:
  - {name: stdout, paths: [/stdout], plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], log_sink: stdout}}]}
`})
	r := s.do(demo.Scenario{From: demo.DirectClient, Path: "/stdout", Headers: [][2]string{{"X-Real-IP", "9.9.9.9"}}})
	x := exchangeOf(t, r)
	assert.Empty(t, x.Request.Logs)
	time.Sleep(300 * time.Millisecond) // the stdout reader is asynchronous
	assert.Empty(t, s.logged(`"verdict"`), "no record line at log_level notice")
	assert.NotEmpty(t, s.logged("[notice]"), "notice lines are kept")
}

// load sends requests from workers until stop is closed, counting
// outcomes; every request is bounded by timeout.
type load struct {
	mu       sync.Mutex
	statuses map[int]int
	errs     []string
	slowest  time.Duration
	lastOK   atomic.Int64 // unix nanos of the latest 200
	after    func(start time.Time, status int)
	wg       sync.WaitGroup
	stop     chan struct{}
	sent     atomic.Int64
	timeout  time.Duration
}

func startLoad(s *stack, workers int, sc demo.Scenario, timeout time.Duration, after func(start time.Time, status int)) *load {
	l := &load{statuses: map[int]int{}, stop: make(chan struct{}), timeout: timeout, after: after}
	addr := s.alb.Addr("plain")
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				resp, err := demo.Send(sc.From, addr, nil, nil, "GET", sc.Path, sc.Headers, timeout)
				d := time.Since(start)
				l.sent.Add(1)
				l.mu.Lock()
				if d > l.slowest {
					l.slowest = d
				}
				switch {
				case err != nil:
					l.errs = append(l.errs, err.Error())
				case resp.Closed:
					l.errs = append(l.errs, "connection closed")
				default:
					l.statuses[resp.Status]++
					if resp.Status == 200 {
						l.lastOK.Store(time.Now().UnixNano())
					}
				}
				l.mu.Unlock()
				if err == nil && !resp.Closed && l.after != nil {
					l.after(start, resp.Status)
				}
			}
		}()
	}
	return l
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// postConfig sends a kong.yml to the Admin API as Kong's POST /config.
func postConfig(t *testing.T, s *stack, yml string) (int, string) {
	t.Helper()
	require.NotEmpty(t, s.alb.AdminAddrs, "no admin_listen")
	yml = strings.ReplaceAll(yml, "ECHO", "http://"+s.echo.Addr())
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post("http://"+s.alb.AdminAddrs[0]+"/config", "application/x-yaml", strings.NewReader(yml))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConfigChangeUnderLoad switches a route from monitor to enforce
// through the Admin API (POST /config) while requests flow: no request
// fails, and every request started after the change is judged by the new
// configuration. A broken configuration is refused and changes nothing.
func TestConfigChangeUnderLoad(t *testing.T) {
	testsupport.SkipShort(t, "load")
	s := startStack(t, stackOpts{yml: strings.Replace(defaultYML, "real_ip_recursive: true}", "real_ip_recursive: true, mode: monitor}", 1)})
	var reloadedAt atomic.Int64
	var lateWrong atomic.Int64
	spoof := demo.Scenario{From: demo.DirectClient, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}}
	l := startLoad(s, 6, spoof, 5*time.Second, func(start time.Time, status int) {
		if r := reloadedAt.Load(); r != 0 && start.UnixNano() > r && status != 403 {
			lateWrong.Add(1)
		}
	})
	time.Sleep(300 * time.Millisecond)
	code, body := postConfig(t, s, strings.Replace(defaultYML, "real_ip_recursive: true}", "real_ip_recursive: true, mode: enforce, require_trusted_peer: true}", 1))
	require.Equal(t, 201, code, body)
	reloadedAt.Store(time.Now().UnixNano())
	time.Sleep(500 * time.Millisecond)
	l.finish()

	t.Logf("sent %d: %v, errors %d, slowest %v", l.sent.Load(), l.statuses, len(l.errs), l.slowest)
	assert.Empty(t, l.errs)
	assert.Positive(t, l.statuses[200], "monitor mode before the reload")
	assert.Positive(t, l.statuses[403], "enforce mode after the reload")
	assert.Equal(t, l.statuses[200]+l.statuses[403], int(l.sent.Load()), "only 200 and 403: %v", l.statuses)
	assert.Zero(t, lateWrong.Load(), "requests started after the reload must see the new config")

	code, body = postConfig(t, s, strings.Replace(defaultYML, "mode: enforce", "mode: sometimes", 1)+"\nbogus: 1\n")
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "bogus")
	code, body = postConfig(t, s, strings.Replace(defaultYML, "real_ip_recursive: true}", "real_ip_recursive: true, no_such_field: 1}", 1))
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "no_such_field: unknown field", "the plugin's schema is enforced as Kong does")
	r := s.do(spoof)
	require.NoError(t, r.Err)
	assert.Equal(t, 403, r.Response.Status, "a refused configuration leaves the running one in place")
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestPluginServerKilled kills the plugin server under concurrent load:
// requests fail as Kong's do (500) without hanging past their timeout,
// success returns within 2 s of the respawn, and no goroutines or file
// descriptors are left behind.
func TestPluginServerKilled(t *testing.T) {
	testsupport.SkipShort(t, "load")
	s := startStack(t, stackOpts{yml: defaultYML, eventTimeout: 3 * time.Second})
	ok := demo.Scenario{From: demo.LoadBalancer, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}}
	srv := s.alb.Servers[0]
	const clientTimeout = 5 * time.Second

	// Warm up with the same concurrency, then take the baseline.
	warm := startLoad(s, 8, ok, clientTimeout, nil)
	time.Sleep(300 * time.Millisecond)
	warm.finish()
	settle := func() {
		s.alb.Gateway.CloseIdleConnections()
		s.nlb.Gateway.CloseIdleConnections()
		time.Sleep(100 * time.Millisecond)
	}
	settle()
	baseG, baseFD := runtime.NumGoroutine(), countFDs(t)

	l := startLoad(s, 8, ok, clientTimeout, nil)
	time.Sleep(200 * time.Millisecond)
	oldPid := srv.Pid()
	require.Positive(t, oldPid)
	killedAt := time.Now()
	require.NoError(t, syscall.Kill(oldPid, syscall.SIGKILL))

	var respawnAt time.Time
	require.Eventually(t, func() bool {
		if p := srv.Pid(); p > 0 && p != oldPid {
			respawnAt = time.Now()
			return true
		}
		return false
	}, 5*time.Second, 5*time.Millisecond, "the plugin server was not respawned")
	// Success must come back within 2 s of the respawn.
	require.Eventually(t, func() bool {
		return l.lastOK.Load() > respawnAt.UnixNano()
	}, 2*time.Second, 5*time.Millisecond, "no successful request within 2 s of the respawn")
	firstOK := time.Unix(0, l.lastOK.Load())
	time.Sleep(300 * time.Millisecond)
	l.finish()

	t.Logf("killed pid %d; respawned as %d after %v; success %v after the respawn; outcomes %v; errors %d; slowest %v",
		oldPid, srv.Pid(), respawnAt.Sub(killedAt).Round(time.Millisecond), firstOK.Sub(respawnAt).Round(time.Millisecond), l.statuses, len(l.errs), l.slowest.Round(time.Millisecond))
	assert.Empty(t, l.errs, "every request gets an HTTP answer")
	assert.Less(t, l.slowest, clientTimeout, "no request hangs")
	for st := range l.statuses {
		assert.Contains(t, []int{200, 500}, st, "a failing plugin server gives Kong's 500, nothing else")
	}
	// No growth: goroutines and fds settle back to the warm baseline.
	if !assert.Eventually(t, func() bool {
		settle()
		return runtime.NumGoroutine() <= baseG+2 && countFDs(t) <= baseFD+2
	}, 5*time.Second, 50*time.Millisecond) {
		t.Logf("goroutines %d (baseline %d), fds %d (baseline %d)", runtime.NumGoroutine(), baseG, countFDs(t), baseFD)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			t.Logf("fd %s -> %s", e.Name(), l)
		}
	}
}

const panickerYML = `
_format_version: "3.0"
plugins:
- name: client-ip-guard
  config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true}
services:
- name: echo
  url: ECHO
  routes:
  - {name: echo, paths: [/echo]}
  - {name: panic, paths: [/panic], plugins: [{name: panicker}]}
`

// TestHandlerPanic makes a plugin handler panic. go-pdk does not recover,
// so that plugin server dies: the request gets Kong's 500, the gateway and
// the other plugin server keep serving, and the panicking plugin serves
// again after its respawn.
func TestHandlerPanic(t *testing.T) {
	s := startStack(t, stackOpts{yml: panickerYML, eventTimeout: 3 * time.Second})
	guardPid := s.alb.Servers[0].Pid()
	panicker := s.alb.Servers[1]
	oldPid := panicker.Pid()

	r := s.do(demo.Scenario{From: demo.DirectClient, Path: "/panic", Headers: [][2]string{{"X-Panic", "1"}}})
	require.NoError(t, r.Err)
	assert.Equal(t, 500, r.Response.Status)
	assert.JSONEq(t, `{"message":"An unexpected error occurred"}`, string(r.Response.Body))

	r = s.do(demo.Scenario{From: demo.DirectClient, Path: "/echo"})
	require.NoError(t, r.Err)
	assert.Equal(t, 200, r.Response.Status, "the gateway and the other plugin server survive")
	assert.Equal(t, guardPid, s.alb.Servers[0].Pid())

	assert.Eventually(t, func() bool {
		r := s.do(demo.Scenario{From: demo.DirectClient, Path: "/panic"})
		return r.Err == nil && r.Response.Status == 200
	}, 5*time.Second, 50*time.Millisecond, "the panicking plugin serves again after its respawn")
	assert.NotEqual(t, oldPid, panicker.Pid())
	assert.NotEmpty(t, s.logged("panic"), "the panic is in the error log")
}

// TestPdkserverDemo runs the built pdkserver binary the way `make run`
// does (with free ports) and checks its table.
func TestPdkserverDemo(t *testing.T) {
	dir, err := os.MkdirTemp("", "pdke2e-demo")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	echoAddr := freeAddr(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "kong.yml"))
	require.NoError(t, err)
	yml := filepath.Join(dir, "kong.yml")
	require.NoError(t, os.WriteFile(yml, bytes.ReplaceAll(b, []byte("127.0.0.1:18080"), []byte(echoAddr)), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pdkserver"),
		"-c", filepath.Join(repoRoot, "kong.conf"), "-d", yml, "-demo", "-echo", echoAddr, "-nlb-listen", "127.0.0.1:0 proxy_protocol")
	var env []string
	for _, kv := range os.Environ() { // a developer's own KONG_* settings must not leak in
		if !strings.HasPrefix(kv, "KONG_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"KONG_PREFIX="+dir,
		"KONG_PROXY_LISTEN=127.0.0.1:0, 127.0.0.1:0 ssl http2",
		"KONG_ADMIN_LISTEN=127.0.0.1:0",
		"KONG_PLUGINSERVER_CLIENT_IP_GUARD_SOCKET="+filepath.Join(dir, "client-ip-guard.socket"),
		"KONG_PLUGINSERVER_CLIENT_IP_GUARD_START_CMD="+filepath.Join(binDir, "client-ip-guard")+" -kong-prefix "+dir,
		"KONG_PLUGINSERVER_CLIENT_IP_GUARD_QUERY_CMD="+filepath.Join(binDir, "client-ip-guard")+" -dump",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("\n%s", out)
	require.NoError(t, err)
	n := len(demo.Scenarios)
	assert.Contains(t, string(out), fmt.Sprintf("%d/%d scenarios as expected", n, n))
	for _, v := range []string{"direct", "ok", "spoof_attempt", "lb_ip_leak", "malformed", "denied", "config_drift"} {
		assert.Contains(t, string(out), v+" ")
	}
	// The rollout report of the run's own records closes the demo: kong.yml
	// logs all, and every request that reached the plugin is judged by the
	// global instance (rewrite) and, on a route with its own instance,
	// again by that one (access).
	decl, err := kongyml.Load(filepath.Join(repoRoot, "kong.yml"))
	require.NoError(t, err)
	ownInstance := map[string]bool{}
	for _, p := range decl.Plugins {
		if p.Route != nil {
			for _, path := range p.Route.Paths {
				ownInstance[path] = true
			}
		}
	}
	require.NotEmpty(t, ownInstance)
	recorded := 0
	for _, sc := range demo.Scenarios {
		if !sc.Expect.Closed {
			recorded++
			if ownInstance[sc.Path] {
				recorded++
			}
		}
	}
	assert.Contains(t, string(out), "Rollout report of this run's records")
	assert.Contains(t, string(out), fmt.Sprintf("client-ip-guard records: %d;", recorded))
	assert.Contains(t, string(out), "Safe to enforce: ")
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// BenchmarkGatewayOK measures one ok request end to end: TCP from the LB
// address, realip, the plugin's access event over the Unix socket, the
// upstream round trip.
func BenchmarkGatewayOK(b *testing.B) {
	s := startStack(b, stackOpts{yml: defaultYML})
	addr := s.alb.Addr("plain")
	hdr := [][2]string{{"X-Forwarded-For", "203.0.113.7"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := demo.Send(demo.LoadBalancer, addr, nil, nil, "GET", "/echo", hdr, 5*time.Second)
		if err != nil || resp.Status != 200 {
			b.Fatalf("request %d: %v %+v", i, err, resp)
		}
	}
}
