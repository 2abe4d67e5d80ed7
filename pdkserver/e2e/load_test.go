package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// loadYML routes the same ok-shaped request through each configuration
// the load benchmark compares: no plugin, the no-op plugin, a plugin
// making one trivial PDK call, the trivial plugin (three, as many as
// client-ip-guard) and client-ip-guard in
// monitor and in enforce mode (log_when anomalies, the default).
const loadYML = `
_format_version: "3.0"
services:
- name: echo
  url: ECHO
  routes:
  - {name: none, paths: [/none]}
  - {name: noop, paths: [/noop], plugins: [{name: noop}]}
  - {name: onecall, paths: [/onecall], plugins: [{name: onecall}]}
  - {name: trivial, paths: [/trivial], plugins: [{name: trivial}]}
  - name: monitor
    paths: [/monitor]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true}
  - name: enforce
    paths: [/enforce]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, mode: enforce}
  - name: monitor-fast
    paths: [/monitor-fast]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, fast_path: true}
  - name: enforce-fast
    paths: [/enforce-fast]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, mode: enforce, fast_path: true}
`

// loadConns is the benchmark's concurrency: keep-alive connections from
// the load balancer's address, each with one request in flight.
const loadConns = 8

// loadResult is one configuration's run.
type loadResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	// CPU time spent during the run, user and system: by this process
	// (gateway, Kong's side of the protocol, echo upstream, load
	// generator) and by the plugin-server processes.
	selfUser, selfSys, plugUser, plugSys time.Duration
	lat                                  []time.Duration // every request's latency
}

// add merges another run of the same configuration into r.
func (r *loadResult) add(o loadResult) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.selfUser += o.selfUser
	r.selfSys += o.selfSys
	r.plugUser += o.plugUser
	r.plugSys += o.plugSys
	r.lat = append(r.lat, o.lat...)
	slices.Sort(r.lat)
	if n := len(r.lat); n > 0 {
		r.p50, r.p99 = r.lat[n*50/100], r.lat[n*99/100]
	}
}

// cpuTimes is a snapshot of CPU time used.
type cpuTimes struct{ selfUser, selfSys, plugUser, plugSys time.Duration }

// readCPU reads this process's rusage and the plugin servers' utime and
// stime from /proc (clock ticks of 10 ms: the runs last seconds).
func readCPU(tb testing.TB, pids []int) cpuTimes {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	c := cpuTimes{
		selfUser: time.Duration(ru.Utime.Nano()),
		selfSys:  time.Duration(ru.Stime.Nano()),
	}
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			tb.Fatal(err)
		}
		// Fields after the parenthesised command: state is field 3,
		// utime 14 and stime 15 (proc(5)).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		c.plugUser += time.Duration(ut) * 10 * time.Millisecond
		c.plugSys += time.Duration(st) * 10 * time.Millisecond
	}
	return c
}

func (r loadResult) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// runLoad sends n requests for path over conns keep-alive connections
// from the load balancer (closed loop: each connection sends its next
// request when the previous answer is read) and measures each request.
func runLoad(tb testing.TB, addr, path string, conns, n int, pids []int) loadResult {
	tb.Helper()
	cpu0 := readCPU(tb, pids)
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: pdkserver-bench\r\n" +
		"X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n\r\n")
	lat := make([][]time.Duration, conns)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conns; w++ {
		share := n / conns
		if w < n%conns {
			share++
		}
		lat[w] = make([]time.Duration, 0, share)
		wg.Add(1)
		go func(w, share int) {
			defer wg.Done()
			d := loopback.Dialer(net.ParseIP(demo.LoadBalancer), 5*time.Second)
			c, err := d.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for i := 0; i < share; i++ {
				t0 := time.Now()
				_ = c.SetDeadline(t0.Add(10 * time.Second))
				if _, err := c.Write(req); err != nil {
					errs <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("request %d: status %d, %v", i, resp.StatusCode, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w, share)
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start)}
	cpu1 := readCPU(tb, pids)
	r.selfUser, r.selfSys = cpu1.selfUser-cpu0.selfUser, cpu1.selfSys-cpu0.selfSys
	r.plugUser, r.plugSys = cpu1.plugUser-cpu0.plugUser, cpu1.plugSys-cpu0.plugSys
	close(errs)
	for err := range errs {
		tb.Fatalf("%s: %v", path, err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r.requests, r.lat = len(all), all
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)*50/100], all[len(all)*99/100]
	}
	return r
}

// loadRounds interleaves the configurations: each runs its requests in
// this many slices, in turn with the others, so that drift on a shared
// machine (other work, GC, cache state) falls on all of them alike.
const loadRounds = 5

// BenchmarkGatewayLoad measures HTTP throughput and latency through the
// emulated Kong (front door, plugin server over its Unix socket, echo
// upstream) for each configuration of loadYML, interleaved in one run,
// with the CPU each request cost in this process and in the plugin
// server, and the throughput ratios. Run with a fixed count, e.g.
// -benchtime=20000x (requests per configuration): the "interleaved" line
// is the whole measurement, the per-configuration lines report its
// results, ns/op being wall time per request at loadConns concurrency.
func BenchmarkGatewayLoad(b *testing.B) {
	s := startStack(b, stackOpts{yml: loadYML, servers: []string{"client-ip-guard", "noop", "onecall", "trivial"},
		env: []string{"KONG_NGINX_HTTP_INCLUDE=" + fastPathInclude(b, "X-Forwarded-For")}})
	addr := s.alb.Addr("plain")
	var pids []int
	for _, srv := range s.alb.Servers {
		pids = append(pids, srv.Pid())
	}
	configs := []string{"none", "noop", "onecall", "trivial", "monitor", "enforce", "monitor-fast", "enforce-fast"}
	for _, name := range configs { // warm every route: instances started, pools filled
		runLoad(b, addr, "/"+name, loadConns, 200, pids)
	}
	var results map[string]*loadResult
	b.Run("interleaved", func(b *testing.B) {
		results = map[string]*loadResult{}
		for round := 0; round < loadRounds; round++ {
			share := b.N / loadRounds
			if round < b.N%loadRounds {
				share++
			}
			if share == 0 {
				continue
			}
			for _, name := range configs {
				if results[name] == nil {
					results[name] = &loadResult{}
				}
				results[name].add(runLoad(b, addr, "/"+name, loadConns, share, pids))
			}
		}
	})
	for _, name := range configs {
		b.Run(name, func(b *testing.B) {
			r := results[name]
			if r == nil || r.requests == 0 {
				b.Skip("not measured")
			}
			b.ReportMetric(float64(r.elapsed.Nanoseconds())/float64(r.requests), "ns/op")
			b.ReportMetric(r.rps(), "req/s")
			b.ReportMetric(float64(r.p50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(r.p99.Microseconds()), "p99-µs")
			perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.requests) }
			b.ReportMetric(perReq(r.selfUser), "kong-usr-µs/req")
			b.ReportMetric(perReq(r.selfSys), "kong-sys-µs/req")
			b.ReportMetric(perReq(r.plugUser), "plugin-usr-µs/req")
			b.ReportMetric(perReq(r.plugSys), "plugin-sys-µs/req")
		})
	}
	// The ratios of this run, as one more result line.
	b.Run("ratios", func(b *testing.B) {
		for _, name := range configs {
			if results[name] == nil || results[name].requests == 0 {
				b.Skip("a configuration did not run")
			}
		}
		noop, trivial := results["noop"].rps(), results["trivial"].rps()
		b.ReportMetric(results["monitor"].rps()/noop, "monitor/noop")
		b.ReportMetric(results["enforce"].rps()/noop, "enforce/noop")
		b.ReportMetric(results["monitor-fast"].rps()/noop, "monitor-fast/noop")
		b.ReportMetric(results["enforce-fast"].rps()/noop, "enforce-fast/noop")
		b.ReportMetric(results["monitor-fast"].rps()/results["monitor"].rps(), "monitor-fast/monitor")
		b.ReportMetric(results["monitor"].rps()/trivial, "monitor/trivial")
		b.ReportMetric(trivial/noop, "trivial/noop")
		b.ReportMetric(results["onecall"].rps()/noop, "onecall/noop")
		b.ReportMetric(noop/results["none"].rps(), "noop/none")
	})
}

// fastPathInclude writes the include kongconf generate --fast-path writes
// for source into a temporary directory and returns its path.
func fastPathInclude(tb testing.TB, source string) string {
	tb.Helper()
	inc, err := fastpath.Include(source)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "client-ip-guard-fastpath.conf")
	if err := os.WriteFile(p, []byte(inc), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
