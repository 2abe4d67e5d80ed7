package metrics

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

func TestCountsByVerdictActionAndScope(t *testing.T) {
	s := NewSet()
	r1 := s.Instance("route-1", "svc-1")
	assert.Same(t, r1, s.Instance("route-1", "svc-1"), "a scope resolves to one Instance")
	global := s.Instance("", "")
	for i := 0; i < 3; i++ {
		r1.Count(verdict.OK, ActionOf(false, true))
	}
	r1.Count(verdict.SpoofAttempt, ActionOf(true, false))
	global.Count(verdict.SpoofAttempt, ActionOf(true, true))
	global.Count(verdict.Verdict(200), Allowed) // out of range: ignored
	var none *Instance
	none.Count(verdict.OK, Allowed) // metrics off

	get := func(v, a, r, svc string) float64 {
		return testutil.ToFloat64(s.verdicts.WithLabelValues(v, a, r, svc))
	}
	assert.Equal(t, 3.0, get("ok", "allowed", "route-1", "svc-1"))
	assert.Equal(t, 1.0, get("spoof_attempt", "would_reject", "route-1", "svc-1"))
	assert.Equal(t, 1.0, get("spoof_attempt", "rejected", "", ""))
	assert.Equal(t, 0.0, get("ok", "allowed", "", ""))
	// Every (verdict, action) series of a scope exists from the start.
	assert.Equal(t, 2*len(verdict.All())*int(numActions), testutil.CollectAndCount(s.verdicts))
}

func TestActionNamesMatchRecords(t *testing.T) {
	assert.Equal(t, "allowed", Allowed.String())
	assert.Equal(t, "would_reject", WouldReject.String())
	assert.Equal(t, "rejected", Rejected.String())
	assert.Equal(t, WouldReject, ActionOf(true, false))
}

// TestCountAllocatesNothing: the ok path (lookup of the scope's Instance,
// then Count) allocates nothing.
func TestCountAllocatesNothing(t *testing.T) {
	s := NewSet()
	s.Instance("8c4d0f6a-route", "2b1e-service")
	route, service := strings.Clone("8c4d0f6a-route"), strings.Clone("2b1e-service")
	allocs := testing.AllocsPerRun(1000, func() {
		s.Instance(route, service).Count(verdict.OK, Allowed)
	})
	assert.Equal(t, 0.0, allocs)

	Enable()
	For(route, service)
	allocs = testing.AllocsPerRun(1000, func() {
		For(route, service).Count(verdict.OK, ActionOf(false, false))
	})
	assert.Equal(t, 0.0, allocs)
}

func TestErrorLabelsAreBounded(t *testing.T) {
	s := NewSet()
	s.ConfigError("trusted_ips")
	s.ConfigError("trusted_ips")
	s.ConfigError("<script>") // not a config field
	assert.Equal(t, 2.0, testutil.ToFloat64(s.configErrors.WithLabelValues("trusted_ips")))
	assert.Equal(t, 1.0, testutil.ToFloat64(s.configErrors.WithLabelValues("other")))

	for i := 0; i < 2*MaxPDKMethods; i++ {
		s.PDKError(fmt.Sprintf("kong.m%d", i))
	}
	s.PDKError("not-a-method")
	assert.Equal(t, MaxPDKMethods+1, testutil.CollectAndCount(s.pdkErrors))
	assert.Equal(t, float64(MaxPDKMethods+1), testutil.ToFloat64(s.pdkErrors.WithLabelValues("other")))
}

func TestDefaultConfigErrorNamesTheField(t *testing.T) {
	Enable()
	_, err := guardconf.Compile(&guardconf.Config{Mode: "bogus"})
	require.Error(t, err)
	before := testutil.ToFloat64(Default.configErrors.WithLabelValues("mode"))
	ConfigError(err)
	assert.Equal(t, before+1, testutil.ToFloat64(Default.configErrors.WithLabelValues("mode")))
}

func TestServe(t *testing.T) {
	_, err := Listen("9542")
	assert.ErrorContains(t, err, "want host:port")
	_, err = Listen("256.0.0.1:1")
	assert.ErrorContains(t, err, "-metrics-listen")

	s := NewSet()
	s.Instance("r", "").Count(verdict.Denied, Rejected)
	l, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() { _ = s.Serve(l) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(body), `client_ip_guard_verdicts_total{action="rejected",route_id="r",service_id="",verdict="denied"} 1`)
	assert.Contains(t, string(body), "go_goroutines ")
	assert.Contains(t, string(body), "process_resident_memory_bytes ")

	resp, err = http.Get("http://" + l.Addr().String() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
}

func BenchmarkCount(b *testing.B) {
	s := NewSet()
	for i := 0; i < 50; i++ { // a Kong with 50 routes
		s.Instance(fmt.Sprintf("route-%02d-0000-0000-0000-000000000000", i), "service-0000-0000-0000-000000000000")
	}
	route, service := "route-07-0000-0000-0000-000000000000", "service-0000-0000-0000-000000000000"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Instance(route, service).Count(verdict.OK, Allowed)
		}
	})
}

func BenchmarkCountSerial(b *testing.B) {
	s := NewSet()
	route, service := "route-07-0000-0000-0000-000000000000", "service-0000-0000-0000-000000000000"
	s.Instance(route, service)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Instance(route, service).Count(verdict.OK, Allowed)
	}
}

func TestFastPathCountsByResult(t *testing.T) {
	s := NewSet()
	s.FastPath(FastServed)
	s.FastPath(FastServed)
	s.FastPath(FastUnavailable)
	s.FastPath(numFastResults) // out of range: ignored
	got := map[string]float64{}
	for i, n := range fastResultNames {
		got[n] = testutil.ToFloat64(s.fastPath[i])
	}
	assert.Equal(t, map[string]float64{"served": 2, "rejudged": 0, "ineligible": 0, "unavailable": 1}, got)
	assert.Equal(t, 4, testutil.CollectAndCount(s.reg, FastPathName), "every result exported from the start")
	assert.Zero(t, testing.AllocsPerRun(100, func() { s.FastPath(FastRejudged) }))
}
