package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// fastYML is defaultYML with fast_path on, plus a route instance.
const fastYML = `
_format_version: "3.0"
plugins:
- name: client-ip-guard
  config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, fast_path: true}
services:
- name: echo
  url: ECHO
  routes:
  - {name: echo, paths: [/echo]}
  - name: scoped
    paths: [/scoped]
    plugins: [{name: client-ip-guard, config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, fast_path: true}}]
`

// The PDK calls of a judgement, by path.
var (
	callsFast     = []string{"kong.nginx.get_var"}
	callsFull     = []string{"kong.client.get_ip", "kong.request.get_headers", "kong.client.get_forwarded_ip"}
	callsRecord   = []string{"kong.log.notice"}
	callsFastWarn = []string{"kong.nginx.get_var", "kong.log.warn"}
)

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// judgingCalls runs sc against the global instance (/echo: it judges in
// rewrite) and the route instance (/scoped: it judges in access) and
// returns each judging event's calls and the plugin's kong.log lines.
func judgingCalls(t *testing.T, s *stack, sc demo.Scenario, verdict string) (global, route []string, logs []kongpdk.LogLine) {
	t.Helper()
	sc.Path = "/echo"
	r := s.do(sc)
	x := exchangeOf(t, r)
	require.Equal(t, 200, r.Response.Status)
	assert.Equal(t, verdict, r.Verdict())
	assert.Empty(t, x.Request.Calls["access"], "global instance, access")
	global, logs = x.Request.Calls["rewrite"], x.Request.Logs
	sc.Path = "/scoped"
	r = s.do(sc)
	x = exchangeOf(t, r)
	require.Equal(t, 200, r.Response.Status)
	assert.Equal(t, verdict, r.Verdict())
	return global, x.Request.Calls["access"], append(logs, x.Request.Logs...)
}

// TestFastPathCalls: with fast_path on and the include loaded through
// nginx_http_include (a path relative to Kong's prefix), an ok request costs
// one PDK call, an anomaly one plus the three calls it is judged again
// with, plus its record.
func TestFastPathCalls(t *testing.T) {
	inc, err := fastpath.Include("X-Forwarded-For")
	require.NoError(t, err)
	s := startStack(t, stackOpts{yml: fastYML, include: inc})
	tests := []struct {
		name    string
		sc      demo.Scenario
		verdict string
		calls   []string
	}{
		{"ok", demo.Scenario{From: demo.LoadBalancer, Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}}, "", callsFast},
		{"ok, two hops", demo.Scenario{From: demo.LoadBalancer, Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7, 127.0.0.2"}}}, "", callsFast},
		{"direct", demo.Scenario{From: demo.DirectClient}, "", callsFast},
		{"spoof (anomaly, judged again, recorded)", demo.Scenario{From: demo.DirectClient, Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}}, "spoof_attempt", concat(callsFast, callsFull, callsRecord)},
		{"two XFF lines (ineligible: the three calls)", demo.Scenario{From: demo.LoadBalancer, Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-For", ""}}}, "malformed", concat(callsFast, callsFull, callsRecord)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 3; i++ {
				global, route, logs := judgingCalls(t, s, tc.sc, tc.verdict)
				assert.Equal(t, tc.calls, global, "global instance, rewrite")
				assert.Equal(t, tc.calls, route, "route instance, access")
				for _, l := range logs {
					assert.NotContains(t, l.Message, "fast_path", "no warning with the include loaded")
				}
			}
		})
	}
}

// TestFastPathWithoutInclude: fast_path on, no include. The variable is
// undefined (Kong's get_var returns nil), so each instance says so once in
// Kong's log (kong.log.warn, a PDK call of its own) and reads its requests
// with the three calls; within the minute the variable is not asked again.
func TestFastPathWithoutInclude(t *testing.T) {
	s := startStack(t, stackOpts{yml: fastYML})
	ok := demo.Scenario{From: demo.LoadBalancer, Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}}
	spoof := demo.Scenario{From: demo.DirectClient, Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}}

	global, route, logs := judgingCalls(t, s, ok, "")
	assert.Equal(t, concat(callsFastWarn, callsFull), global, "global instance, first request")
	assert.Equal(t, concat(callsFastWarn, callsFull), route, "route instance, first request")
	var warns []string
	for _, l := range logs {
		if strings.Contains(l.Message, "fast_path") {
			assert.Equal(t, "warn", l.Level)
			warns = append(warns, l.Message)
		}
	}
	require.Len(t, warns, 2, "one warning per instance")
	assert.Equal(t, warns[0], warns[1])
	assert.Equal(t, "client-ip-guard: fast_path: $client_ip_guard_facts is empty or undefined: is the include loaded (nginx_http_include) and Kong reloaded?; reading requests with three PDK calls", warns[0])

	for i := 0; i < 3; i++ {
		global, route, logs = judgingCalls(t, s, ok, "")
		assert.Equal(t, callsFull, global, "global instance, later request")
		assert.Equal(t, callsFull, route, "route instance, later request")
		global, route, _ = judgingCalls(t, s, spoof, "spoof_attempt")
		assert.Equal(t, concat(callsFull, callsRecord), global, "global instance, anomaly")
		assert.Equal(t, concat(callsFull, callsRecord), route, "route instance, anomaly")
		for _, l := range logs {
			assert.NotContains(t, l.Message, "fast_path", "warned once per instance")
		}
	}
}

// TestFastPathUnderscores: the fast path cannot see a header spelled with
// '_' for '-' (fastpath.Blind). With Kong's template (underscores_in_headers
// on) such a line reaches Kong: the full path calls it an anomaly, the fast
// path judges the request ok with its one call. With
// nginx_proxy_underscores_in_headers = off nginx drops the line before
// Kong: both paths see the same request, and the upstream does not get it.
func TestFastPathUnderscores(t *testing.T) {
	inc, err := fastpath.Include("X-Forwarded-For")
	require.NoError(t, err)
	sc := demo.Scenario{From: demo.LoadBalancer, Path: "/scoped", Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}, {"X_Forwarded_For", "6.6.6.6"}}}
	full := strings.ReplaceAll(fastYML, "fast_path: true", "fast_path: false")

	for _, tc := range []struct {
		name     string
		yml      string
		env      []string
		verdict  string
		calls    []string
		upstream bool // X_Forwarded_For reaches the upstream
	}{
		{"full path, Kong's template", full, nil, "smuggled", concat(callsFull, callsRecord), true},
		{"fast path, Kong's template: blind", fastYML, nil, "", callsFast, true},
		{"full path, underscores off", full, []string{"KONG_NGINX_PROXY_UNDERSCORES_IN_HEADERS=off"}, "", callsFull, false},
		{"fast path, underscores off", fastYML, []string{"KONG_NGINX_PROXY_UNDERSCORES_IN_HEADERS=off"}, "", callsFast, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, stackOpts{yml: tc.yml, include: inc, env: tc.env})
			r := s.do(sc)
			x := exchangeOf(t, r)
			require.Equal(t, 200, r.Response.Status)
			assert.Equal(t, tc.verdict, r.Verdict())
			assert.Equal(t, tc.calls, x.Request.Calls["access"], "route instance")
			require.NotNil(t, r.Seen)
			_, up := r.Seen.Headers["X_forwarded_for"]
			assert.Equal(t, tc.upstream, up, "X_Forwarded_For upstream: %v", r.Seen.Headers)
			if !tc.upstream {
				assert.NotEmpty(t, s.logged(`client sent invalid header line: "X_forwarded_for: 6.6.6.6"`))
			}
		})
	}
}
