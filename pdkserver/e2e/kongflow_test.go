package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
)

// kongFlowYML: a global instance that strips (it judges in the rewrite
// phase, before Kong copies X-Forwarded-For upstream) and route instances
// for the other defects of the request flow.
const kongFlowYML = `
_format_version: "3.0"
plugins:
- name: client-ip-guard
  config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, strip_untrusted_forwarding: true}
services:
- name: echo
  url: ECHO
  routes:
  - name: echo
    paths: [/echo]
  - name: xrip
    paths: [/xrip]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], log_when: all, mode: enforce}
  - name: deny-mapped
    paths: [/deny-mapped]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, mode: enforce, deny: ["::ffff:192.0.2.0/120"]}
  - name: fwd-deny
    paths: [/fwd-deny]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: Forwarded, log_when: all, mode: enforce, deny: [192.0.2.0/24]}
  - name: kong-sets-it
    paths: [/kong-sets-it]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, mode: enforce, upstream_header: X-Real-IP}
  - name: kong-sets-it-monitor
    paths: [/kong-sets-it-monitor]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, upstream_header: X-Real-IP}
`

// TestKongFlowDefects runs, through the real plugin binary over its socket
// and pdkserver's model of Kong 3.9.3's request flow, the requests that an
// adversarial pass found the plugin judged ok or let past allow/deny.
func TestKongFlowDefects(t *testing.T) {
	s := startStack(t, stackOpts{yml: kongFlowYML})
	junk := make([][2]string, 0, 1001)
	for i := range 1000 {
		junk = append(junk, [2]string{fmt.Sprintf("X-Junk-%d", i), "x"})
	}
	runOutcomes(t, s, []flowCase{
		// a: a global instance strips in rewrite, so Kong's access.before
		// finds no X-Forwarded-For and sends $remote_addr alone.
		{name: "global strip removes a forged X-Forwarded-For before Kong copies it",
			sc:     demo.Scenario{From: demo.DirectClient, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}},
			status: 200, verdict: "spoof_attempt", upstream: map[string]string{"X-Forwarded-For": "127.0.0.1"}},
		// b: behind the LB, an underscore spelling is smuggled; stripped in
		// rewrite it cannot replace the LB's chain upstream (Kong 3.6+).
		{name: "X_Forwarded_For behind the LB: smuggled, stripped under its own name",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/echo", Headers: [][2]string{{"X_Forwarded_For", "6.6.6.6"}, {"X-Forwarded-For", "203.0.113.7"}}},
			status: 200, verdict: "smuggled", upstream: map[string]string{"X-Forwarded-For": "203.0.113.7, 127.0.0.2", "X_forwarded_for": ""}},
		// c: 1000 lines and more: the source may hide beyond what Kong
		// returns; allow/deny must not pass the request.
		{name: "over 1000 header lines: a deny list cannot be passed",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/fwd-deny", Headers: append(junk, [2]string{"Forwarded", "for=192.0.2.5"})},
			status: 403, verdict: "denied"},
		// g: a v4-mapped CIDR means its IPv4 range.
		{name: "a v4-mapped deny CIDR matches the IPv4 client",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/deny-mapped", Headers: [][2]string{{"X-Forwarded-For", "192.0.2.5"}}},
			status: 403, verdict: "denied"},
		// j, k: upstream_header X-Real-IP cannot work (Kong's
		// proxy_set_header wins): refused; enforce fails closed, monitor
		// lets the request through.
		{name: "upstream_header X-Real-IP in enforce: refused, 500",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/kong-sets-it", Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}},
			status: 500},
		{name: "upstream_header X-Real-IP in monitor: refused, traffic passes",
			sc:     demo.Scenario{From: demo.LoadBalancer, Path: "/kong-sets-it-monitor", Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}},
			status: 200, upstream: map[string]string{"X-Real-Ip": "203.0.113.7"}},
	})

	// d: nginx reads the first X-Real-IP line; a node and a route instance
	// that both read X-Real-IP.
	t.Run("two X-Real-IP lines from the LB: smuggled, rejected", func(t *testing.T) {
		xs := startStack(t, stackOpts{yml: kongFlowYML, env: []string{"KONG_REAL_IP_HEADER=X-Real-IP"}})
		r := xs.do(demo.Scenario{From: demo.LoadBalancer, Path: "/xrip", Headers: [][2]string{{"X-Real-IP", "203.0.113.7"}, {"X-Real-IP", "198.51.100.1"}}})
		exchangeOf(t, r)
		assert.Equal(t, 403, r.Response.Status)
		assert.Equal(t, "smuggled", r.Verdict(), "record %v", r.Record)
	})

	// f: a long chain through the kong sink stays within nginx's error
	// line, verdict first, and says how much it left out.
	t.Run("a long chain fits nginx's error line", func(t *testing.T) {
		entries := make([]string, 64)
		for i := range entries {
			entries[i] = strings.Repeat("z", 100) + fmt.Sprint(i)
		}
		r := s.do(demo.Scenario{From: demo.LoadBalancer, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", strings.Join(entries, ", ") + ", 203.0.113.7"}}})
		x := exchangeOf(t, r)
		var line string
		for _, l := range x.Request.Logs {
			if strings.Contains(l.Message, `"verdict"`) {
				line = l.Message
			}
		}
		require.NotEmpty(t, line)
		assert.LessOrEqual(t, len(line), record.MaxKongLogBytes)
		assert.True(t, strings.HasPrefix(line, `{"verdict":"ok","action":"allowed"`), "%.80s", line)
		var rec record.Record
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		assert.Positive(t, rec.Omitted)
		assert.Equal(t, "203.0.113.7", rec.Chain[len(rec.Chain)-1])
	})
}
