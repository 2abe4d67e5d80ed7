package e2e

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
)

// metricsYML rejects spoof_attempt explicitly, whatever the default
// reject list is: a monitor route (would_reject), an enforce route
// (rejected), and two invalid configs: a misspelt mode (500) and a bad
// CIDR in monitor mode (the request passes unjudged).
const metricsYML = `
_format_version: "3.0"
plugins:
- name: client-ip-guard
  config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, reject: [spoof_attempt]}
services:
- name: echo
  url: ECHO
  routes:
  - name: echo
    paths: [/echo]
  - name: strict
    paths: [/strict]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, mode: enforce, reject: [spoof_attempt]}
  - name: broken
    paths: [/broken]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, mode: enforced}
  - name: broken-monitor
    paths: [/broken-monitor]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [not-a-cidr], real_ip_header: X-Forwarded-For, mode: monitor}
`

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrapeClient keeps no idle connection, so scraping leaves no goroutine
// or fd behind (the soak counts them).
var scrapeClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func scrape(t *testing.T, addr string) []sample {
	t.Helper()
	resp, err := scrapeClient.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var out []sample
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		m := sampleRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, sc.Text())
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// sumSamples adds the samples named name whose labels include want.
func sumSamples(samples []sample, name string, want map[string]string) float64 {
	total := 0.0
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// TestMetricsFromThePluginBinary starts the real plugin server with
// -metrics-listen, sends requests through the emulated Kong (access events
// over the plugin socket) and reads the counters back from /metrics.
func TestMetricsFromThePluginBinary(t *testing.T) {
	addr := freeAddr(t)
	s := startStack(t, stackOpts{yml: metricsYML, servers: []string{"client-ip-guard"}, guardArgs: "-metrics-listen " + addr})
	xff := func(v string) [][2]string { return [][2]string{{"X-Forwarded-For", v}} }
	sends := []struct {
		sc     demo.Scenario
		n      int
		status int
	}{
		{demo.Scenario{From: demo.LoadBalancer, Path: "/echo", Headers: xff("203.0.113.7")}, 4, 200},
		{demo.Scenario{From: demo.DirectClient, Path: "/echo", Headers: xff("1.2.3.4")}, 2, 200},
		{demo.Scenario{From: demo.DirectClient, Path: "/echo"}, 1, 200},
		{demo.Scenario{From: demo.DirectClient, Path: "/strict", Headers: xff("1.2.3.4")}, 3, 403},
		{demo.Scenario{From: demo.LoadBalancer, Path: "/broken", Headers: xff("203.0.113.7")}, 2, 500},
		{demo.Scenario{From: demo.LoadBalancer, Path: "/broken-monitor", Headers: xff("203.0.113.7")}, 3, 200},
	}
	for _, x := range sends {
		for i := 0; i < x.n; i++ {
			r := s.do(x.sc)
			require.NoError(t, r.Err)
			require.Equal(t, x.status, r.Response.Status, x.sc.Path)
		}
	}

	var got []sample
	const v = "client_ip_guard_verdicts_total"
	// Counting happens before the response; allow for nothing but a scrape.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = scrape(t, addr)
		if sumSamples(got, v, nil) >= 18 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Kong runs the global instance in the rewrite phase for all 15
	// requests (kong/init.lua:1169 at 3.9.3), and /strict's own instance in
	// access for its 3: every judgement is counted once.
	assert.Equal(t, 18.0, sumSamples(got, v, nil), "every judgement is counted once")
	assert.Equal(t, 9.0, sumSamples(got, v, map[string]string{"verdict": "ok", "action": "allowed", "route_id": ""}), "/echo, /broken, /broken-monitor by the global instance")
	assert.Equal(t, 5.0, sumSamples(got, v, map[string]string{"verdict": "spoof_attempt", "action": "would_reject", "route_id": ""}), "/echo and /strict by the global instance")
	assert.Equal(t, 1.0, sumSamples(got, v, map[string]string{"verdict": "direct", "action": "allowed"}))
	assert.Equal(t, 3.0, sumSamples(got, v, map[string]string{"verdict": "spoof_attempt", "action": "rejected"}))
	assert.Equal(t, 2.0, sumSamples(got, "client_ip_guard_config_errors_total", map[string]string{"field": "mode"}))
	assert.Equal(t, 3.0, sumSamples(got, "client_ip_guard_config_errors_total", map[string]string{"field": "trusted_ips"}))

	// The enforce route's counts carry its route id, from Kong's config.
	var strictRoute string
	for _, x := range got {
		if x.name == v && x.labels["action"] == "rejected" && x.value > 0 {
			strictRoute = x.labels["route_id"]
		}
	}
	assert.NotEmpty(t, strictRoute)
	// Labels come from entities and enums: no client address anywhere.
	for _, x := range got {
		for _, lv := range x.labels {
			assert.False(t, strings.Contains(lv, "1.2.3.4") || strings.Contains(lv, "203.0.113.7"), "%+v", x)
		}
	}
	assert.Greater(t, sumSamples(got, "go_goroutines", nil), 0.0)
	assert.Greater(t, sumSamples(got, "process_resident_memory_bytes", nil), 0.0)
}
