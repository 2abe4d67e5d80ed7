package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/plugin/procstats"
)

// soakYML is the soak's kong.yml; STATUS is the enforce route's rejection
// status, which the configuration changes flip between 403 and 451.
const soakYML = `
_format_version: "3.0"
services:
- name: echo
  url: ECHO
  routes:
  - name: echo
    paths: [/echo]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all}
  - name: strict
    paths: [/strict]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: X-Forwarded-For, real_ip_recursive: true, log_when: all, mode: enforce, require_trusted_peer: true, status: STATUS}
  - name: nlb
    paths: [/nlb]
    plugins:
    - name: client-ip-guard
      config: {trusted_ips: [127.0.0.2/32], real_ip_header: proxy_protocol, real_ip_recursive: false, log_when: all}
`

// soakDuration is the soak's length: SOAK_DURATION (a Go duration), or
// 60 s, which keeps the whole test well under CI's 3-minute budget.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "SOAK_DURATION")
	require.GreaterOrEqual(t, d, 20*time.Second, "SOAK_DURATION: at least 20s, for two kills")
	return d
}

// outcome is what one hostile request got.
type outcome struct {
	Status   int  // 0 when the connection was dropped
	Closed   bool // dropped without an HTTP response
	Verdict  string
	ClientIP string // Kong's $remote_addr, when the request reached Kong's phases
	Err      error
	Start    time.Time
	End      time.Time
}

func (o outcome) String() string {
	if o.Err != nil {
		return "error: " + o.Err.Error()
	}
	if o.Closed {
		return "closed"
	}
	return fmt.Sprintf("%d verdict=%q client=%q", o.Status, o.Verdict, o.ClientIP)
}

// expect is a hostile request's acceptable outcome: the verdict Kong's
// plugin must give, or the clean rejection Kong itself answers with.
type expect struct {
	Statuses []int // any of these; empty with Closed
	Closed   bool
	Verdict  string // "" = no record: refused before the plugin ran
	ClientIP string // "" = not checked
}

func (e expect) String() string {
	if e.Closed {
		return "closed"
	}
	return fmt.Sprintf("%v verdict=%q client=%q", e.Statuses, e.Verdict, e.ClientIP)
}

func (e expect) match(o outcome) bool {
	if o.Err != nil {
		return false
	}
	if e.Closed || o.Closed {
		return e.Closed == o.Closed
	}
	if !slices.Contains(e.Statuses, o.Status) || o.Verdict != e.Verdict {
		return false
	}
	return e.ClientIP == "" || e.ClientIP == o.ClientIP
}

// hostileCase is one kind of hostile request, sent again and again.
type hostileCase struct {
	name string
	send func(s *stack) outcome
	want expect
}

// viaHTTP sends a request through the alb front door and reads back the
// verdict from the exchange.
func viaHTTP(sc demo.Scenario) func(s *stack) outcome {
	return func(s *stack) outcome {
		o := outcome{Start: time.Now()}
		r := s.do(sc)
		o.End = time.Now()
		o.Err = r.Err
		if r.Response != nil {
			o.Status, o.Closed = r.Response.Status, r.Response.Closed
		}
		o.Verdict = r.Verdict()
		o.ClientIP = r.ClientIP()
		return o
	}
}

// viaProxy opens a connection from the load balancer to the nlb node's
// PROXY listener, writes raw (a PROXY header, good or bad), then, unless
// halfClose, a request for /nlb; halfClose shuts the write side after raw
// instead (a truncated header that never completes).
func viaProxy(raw []byte, halfClose bool) func(s *stack) outcome {
	return func(s *stack) (o outcome) {
		o.Start = time.Now()
		defer func() { o.End = time.Now() }()
		d := loopback.Dialer(net.ParseIP(demo.LoadBalancer), 5*time.Second)
		c, err := d.Dial("tcp", s.nlb.Addr("proxy"))
		if err != nil {
			o.Err = err
			return o
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req := []byte("GET /nlb HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
		if halfClose {
			_, err = c.Write(raw)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
		} else {
			_, err = c.Write(append(slices.Clip(raw), req...))
		}
		resp, rerr := http.ReadResponse(bufio.NewReader(c), nil)
		if rerr != nil {
			if demo.Dropped(rerr) {
				o.Closed = true
				return o
			}
			o.Err = fmt.Errorf("write: %v, read: %w", err, rerr)
			return o
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		o.Status = resp.StatusCode
		if id := resp.Header.Get("X-Kong-Request-Id"); id != "" {
			if x := s.col.Wait(id, 10*time.Second); x != nil {
				if rec := demo.Record(x); rec != nil {
					o.Verdict, _ = rec["verdict"].(string)
				}
				o.ClientIP = x.Request.Vars.RemoteAddr
			}
		}
		return o
	}
}

// chain returns n X-Forwarded-For entries, ending with last, split into
// lines of at most lineMax bytes (one line when lineMax is 0).
func chain(n int, last string, lineMax int) []string {
	entries := make([]string, 0, n)
	for i := 0; i < n-1; i++ {
		entries = append(entries, fmt.Sprintf("198.51.%d.%d", (i/250)%256, i%250+1))
	}
	entries = append(entries, last)
	if lineMax == 0 {
		return []string{strings.Join(entries, ", ")}
	}
	var lines []string
	var b strings.Builder
	for _, e := range entries {
		if b.Len() > 0 && b.Len()+2+len(e) > lineMax {
			lines = append(lines, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e)
	}
	return append(lines, b.String())
}

func xffLines(lines []string) [][2]string {
	h := make([][2]string, len(lines))
	for i, l := range lines {
		h[i] = [2]string{"X-Forwarded-For", l}
	}
	return h
}

// hostileCases are the hostile requests mixed into the soak, each with
// what Kong would answer: Kong's nginx refuses headers beyond its buffers
// (client_header_buffer_size 1k, large_client_header_buffers 4 8k) with
// 400 before any plugin runs, and drops a connection whose PROXY header
// is broken; everything else must reach the plugin and get its verdict.
func hostileCases() []hostileCase {
	lb, direct := demo.LoadBalancer, demo.DirectClient
	refused := expect{Statuses: []int{400}}
	v1 := func(src string) []byte {
		return []byte("PROXY TCP4 " + src + " 127.0.0.1 40000 18100\r\n")
	}
	v2 := func() []byte {
		b := []byte("\r\n\r\n\x00\r\nQUIT\n")
		b = append(b, 0x21, 0x11, 0x00, 0x0c) // PROXY, TCP over IPv4, 12 address bytes
		b = append(b, 203, 0, 113, 9, 127, 0, 0, 1, 0x9c, 0x40, 0x46, 0xb4)
		return b
	}
	return []hostileCase{
		{"64 KiB header", viaHTTP(demo.Scenario{From: direct, Path: "/echo",
			Headers: [][2]string{{"X-Junk", strings.Repeat("a", 64<<10)}}}), refused},
		{"10k-entry XFF on one line", viaHTTP(demo.Scenario{From: lb, Path: "/echo",
			Headers: xffLines(chain(10000, "203.0.113.7", 0))}), refused},
		{"10k-entry XFF over many lines", viaHTTP(demo.Scenario{From: lb, Path: "/echo",
			Headers: xffLines(chain(10000, "203.0.113.7", 7000))}), refused},
		// The same heads where an operator raised large_client_header_buffers:
		// they reach the plugin, which must judge them.
		{"64 KiB header, raised buffers", viaHTTP(demo.Scenario{Node: "wide", From: direct, Path: "/echo",
			Headers: [][2]string{{"X-Junk", strings.Repeat("a", 64<<10)}}}),
			expect{Statuses: []int{200}, Verdict: "direct", ClientIP: direct}},
		{"10k-entry XFF on one line, raised buffers", viaHTTP(demo.Scenario{Node: "wide", From: lb, Path: "/echo",
			Headers: xffLines(chain(10000, "203.0.113.7", 0))}),
			expect{Statuses: []int{200}, Verdict: "ok", ClientIP: "203.0.113.7"}},
		{"10k-entry XFF over many lines, raised buffers", viaHTTP(demo.Scenario{Node: "wide", From: lb, Path: "/echo",
			Headers: xffLines(chain(10000, "203.0.113.7", 7000))}),
			expect{Statuses: []int{200}, Verdict: "ok", ClientIP: "203.0.113.7"}},
		{"10k-entry XFF spoof, raised buffers", viaHTTP(demo.Scenario{Node: "wide", From: direct, Path: "/strict",
			Headers: xffLines(chain(10000, "203.0.113.7", 7000))}),
			expect{Statuses: []int{403, 451}, Verdict: "spoof_attempt", ClientIP: direct}},
		{"1k-entry XFF from the LB", viaHTTP(demo.Scenario{From: lb, Path: "/echo",
			Headers: xffLines(chain(1000, "203.0.113.7", 6000))}),
			expect{Statuses: []int{200}, Verdict: "ok", ClientIP: "203.0.113.7"}},
		{"1k-entry XFF from an untrusted peer", viaHTTP(demo.Scenario{From: direct, Path: "/echo",
			Headers: xffLines(chain(1000, "203.0.113.7", 6000))}),
			expect{Statuses: []int{200}, Verdict: "spoof_attempt", ClientIP: direct}},
		{"1k-entry XFF spoof, enforce", viaHTTP(demo.Scenario{From: direct, Path: "/strict",
			Headers: xffLines(chain(1000, "203.0.113.7", 6000))}),
			expect{Statuses: []int{403, 451}, Verdict: "spoof_attempt", ClientIP: direct}},
		{"unparsable last XFF entry", viaHTTP(demo.Scenario{From: lb, Path: "/echo",
			Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7, 999.1.1.1"}}}),
			expect{Statuses: []int{200}, Verdict: "malformed", ClientIP: lb}},
		{"non-UTF-8 bytes before the client", viaHTTP(demo.Scenario{From: lb, Path: "/echo",
			Headers: [][2]string{{"X-Forwarded-For", "\xc3\x28\xff\xfe, 203.0.113.7"}}}),
			expect{Statuses: []int{200}, Verdict: "ok", ClientIP: "203.0.113.7"}},
		{"non-UTF-8 bytes as the client", viaHTTP(demo.Scenario{From: lb, Path: "/echo",
			Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7, \xff\xfe"}}}),
			expect{Statuses: []int{200}, Verdict: "malformed", ClientIP: lb}},
		{"forged X-Real-IP and Forwarded", viaHTTP(demo.Scenario{From: direct, Path: "/strict",
			Headers: [][2]string{{"X-Real-IP", "10.0.0.1"}, {"Forwarded", `for="[::1]:80";by=x, for=unknown`}}}),
			expect{Statuses: []int{403, 451}, Verdict: "spoof_attempt", ClientIP: direct}},
		{"PROXY v1", viaProxy(v1("203.0.113.8"), false),
			expect{Statuses: []int{200}, Verdict: "ok", ClientIP: "203.0.113.8"}},
		{"PROXY v2", viaProxy(v2(), false),
			expect{Statuses: []int{200}, Verdict: "ok", ClientIP: "203.0.113.9"}},
		{"PROXY v1 with a bad address", viaProxy(v1("999.0.0.1"), false), expect{Closed: true}},
		{"PROXY v1 over 107 bytes", viaProxy([]byte("PROXY TCP4 203.0.113.8 127.0.0.1 40000 18100"+strings.Repeat(" ", 80)+"\r\n"), false), expect{Closed: true}},
		{"HTTP without a PROXY header", viaProxy(nil, false), expect{Closed: true}},
		{"PROXY v2 truncated", viaProxy(v2()[:20], true), expect{Closed: true}},
		{"PROXY v1 truncated", viaProxy([]byte("PROXY TCP4 203.0.11"), true), expect{Closed: true}},
		{"PROXY v2 length beyond the data", viaProxy(append(v2()[:14], 0xff, 0xff, 1, 2, 3), true), expect{Closed: true}},
	}
}

// faultWindows records when the plugin server was down: from its kill
// until the first successful request after its respawn.
type faultWindows struct {
	mu   sync.Mutex
	wins [][2]time.Time
}

func (f *faultWindows) add(from, to time.Time) {
	f.mu.Lock()
	f.wins = append(f.wins, [2]time.Time{from, to})
	f.mu.Unlock()
}

// covers reports whether [start, end] overlaps a window, widened by 100 ms
// for requests already inside the dying process.
func (f *faultWindows) covers(start, end time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.wins {
		if start.Before(w[1].Add(100*time.Millisecond)) && end.After(w[0].Add(-100*time.Millisecond)) {
			return true
		}
	}
	return false
}

// postConfigErr is postConfig for goroutines other than the test's.
func postConfigErr(s *stack, yml string) error {
	yml = strings.ReplaceAll(yml, "ECHO", "http://"+s.echo.Addr())
	// No keep-alive: an idle admin connection would count as a leak.
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Post("http://"+s.alb.AdminAddrs[0]+"/config", "application/x-yaml", strings.NewReader(yml))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return fmt.Errorf("POST /config: %d %s", resp.StatusCode, b)
	}
	return nil
}

// pluginStats asks the plugin server for its figures (SIGUSR1) and reads
// them from the error log.
func pluginStats(t *testing.T, s *stack, pid int) procstats.Stats {
	t.Helper()
	s.mu.Lock()
	from := len(s.log)
	s.mu.Unlock()
	require.NoError(t, syscall.Kill(pid, syscall.SIGUSR1))
	var st procstats.Stats
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, l := range s.log[from:] {
			if r, ok := procstats.ParseLine(l); ok && r.Pid == pid {
				st = r
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "no procstats line from pid %d", pid)
	return st
}

// TestSoak runs concurrent load through the emulated Kong for
// SOAK_DURATION while the plugin server is killed and respawned, the
// plugin configuration changes through the Admin API, hostile requests
// (huge headers, huge X-Forwarded-For chains, broken and truncated PROXY
// headers) are mixed in and slow clients stall half-way through a PROXY
// header. It asserts that nothing crashes, every request ends (with the
// expected verdict or a clean rejection; Kong's 500 only while the plugin
// server is down), slow PROXY clients are cut off, and no goroutine or
// file descriptor is left behind, on Kong's side and in the plugin server.
func TestSoak(t *testing.T) {
	testsupport.SkipShort(t, "soak")
	dur := soakDuration(t)
	soakStart := time.Now()
	ymlA := strings.Replace(soakYML, "STATUS", "403", 1)
	ymlB := strings.Replace(soakYML, "STATUS", "451", 1)
	metricsAddr := freeAddr(t)
	s := startStack(t, stackOpts{yml: ymlA, eventTimeout: 3 * time.Second, wide: true, guardArgs: "-metrics-listen " + metricsAddr})
	srv := s.alb.Servers[0]
	okSc := demo.Scenario{From: demo.LoadBalancer, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}}}
	const clientTimeout = 10 * time.Second
	const proxyHeaderTimeout = 5 * time.Second // the gateway's default, the bound for a stalled PROXY header
	cases := hostileCases()

	// Every hostile case once, before any fault: a wrong expectation
	// fails here with a clear message, not in the middle of the soak.
	for _, hc := range cases {
		o := hc.send(s)
		require.True(t, hc.want.match(o), "%s: got %v, want %v", hc.name, o, hc.want)
	}

	var faults faultWindows
	var unexpected500 atomic.Int64
	var slowestCut atomic.Int64 // longest wait for a slow PROXY client's cut-off, ns
	workers := func(stop <-chan struct{}, wg *sync.WaitGroup, results chan<- string) (*load, func()) {
		l := startLoad(s, 4, okSc, clientTimeout, func(start time.Time, status int) {
			if status == 500 {
				// judged at the end, once every fault window is known
				end := time.Now()
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-stop
					if !faults.covers(start, end) {
						unexpected500.Add(1)
					}
				}()
			}
		})
		var hwg sync.WaitGroup
		hwg.Add(2)
		go func() { // hostile requests, round robin, two at a time
			defer hwg.Done()
			var inner sync.WaitGroup
			for w := 0; w < 2; w++ {
				inner.Add(1)
				go func(w int) {
					defer inner.Done()
					for i := w; ; i += 2 {
						select {
						case <-stop:
							return
						default:
						}
						hc := cases[i%len(cases)]
						o := hc.send(s)
						if hc.want.match(o) {
							results <- "ok " + hc.name
							continue
						}
						if o.Err == nil && o.Status == 500 && !o.Closed {
							// judged at the end against the fault windows
							wg.Add(1)
							go func() {
								defer wg.Done()
								<-stop
								if faults.covers(o.Start, o.End) {
									results <- "fault500 " + hc.name
								} else {
									results <- fmt.Sprintf("FAIL %s: 500 outside any plugin-server outage", hc.name)
								}
							}()
							continue
						}
						results <- fmt.Sprintf("FAIL %s: got %v, want %v", hc.name, o, hc.want)
					}
				}(w)
			}
			inner.Wait()
		}()
		go func() { // slow clients: half a PROXY header, then silence
			defer hwg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(700 * time.Millisecond):
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := loopback.Dialer(net.ParseIP(demo.LoadBalancer), 5*time.Second)
					c, err := d.Dial("tcp", s.nlb.Addr("proxy"))
					if err != nil {
						results <- "FAIL slow PROXY client: " + err.Error()
						return
					}
					defer c.Close()
					start := time.Now()
					_, _ = c.Write([]byte("PROXY TCP4 203.0.1"))
					_ = c.SetReadDeadline(start.Add(proxyHeaderTimeout + 5*time.Second))
					_, err = c.Read(make([]byte, 1))
					switch {
					case err != nil && demo.Dropped(err):
						d := time.Since(start)
						for old := slowestCut.Load(); int64(d) > old && !slowestCut.CompareAndSwap(old, int64(d)); old = slowestCut.Load() {
						}
						results <- fmt.Sprintf("ok slow PROXY client cut off after %v", d.Round(100*time.Millisecond))
					default:
						results <- fmt.Sprintf("FAIL slow PROXY client: not cut off after %v (%v)", time.Since(start).Round(time.Millisecond), err)
					}
				}()
			}
		}()
		return l, hwg.Wait
	}

	// Warm up with the full mix (no faults) and take the baseline.
	settle := func() {
		s.alb.Gateway.CloseIdleConnections()
		s.nlb.Gateway.CloseIdleConnections()
		s.wide.Gateway.CloseIdleConnections()
		time.Sleep(100 * time.Millisecond)
	}
	{
		stop := make(chan struct{})
		var wg sync.WaitGroup
		results := make(chan string, 1<<16)
		l, wait := workers(stop, &wg, results)
		time.Sleep(2 * time.Second)
		close(stop)
		l.finish()
		wait()
		wg.Wait()
		close(results)
		for r := range results {
			require.False(t, strings.HasPrefix(r, "FAIL"), r)
		}
		time.Sleep(proxyHeaderTimeout) // let the last slow clients be cut off
	}
	settle()
	baseG, baseFD := runtime.NumGoroutine(), countFDs(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan string, 1<<20)
	l, wait := workers(stop, &wg, results)
	end := time.Now().Add(dur)

	// Configuration changes: the enforce route flips between 403 and 451.
	var configChanges atomic.Int64
	var faultErrs []string
	var faultMu sync.Mutex
	bg := sync.WaitGroup{}
	bg.Add(3)
	// The metrics endpoint, scraped four times a second: down only while
	// the plugin server is (judged against the fault windows at the end).
	var metricsDown [][2]time.Time
	var metricsScrapes int
	go func() {
		defer bg.Done()
		c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for time.Now().Before(end) {
			start := time.Now()
			resp, err := c.Get("http://" + metricsAddr + "/metrics")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				metricsDown = append(metricsDown, [2]time.Time{start, time.Now()})
			}
			metricsScrapes++
			time.Sleep(250 * time.Millisecond)
		}
	}()
	go func() {
		defer bg.Done()
		for i := 0; time.Now().Before(end); i++ {
			time.Sleep(1500 * time.Millisecond)
			yml := ymlA
			if i%2 == 0 {
				yml = ymlB
			}
			if err := postConfigErr(s, yml); err != nil {
				faultMu.Lock()
				faultErrs = append(faultErrs, err.Error())
				faultMu.Unlock()
				continue
			}
			configChanges.Add(1)
		}
	}()
	// Kills: SIGKILL the plugin server every dur/4; the outage lasts until
	// a request succeeds again.
	var kills atomic.Int64
	go func() {
		defer bg.Done()
		for time.Until(end) > dur/4 {
			time.Sleep(dur / 4)
			pid := srv.Pid()
			if pid <= 0 {
				continue
			}
			killedAt := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				faultMu.Lock()
				faultErrs = append(faultErrs, "kill: "+err.Error())
				faultMu.Unlock()
				continue
			}
			kills.Add(1)
			var back time.Time
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if p := srv.Pid(); p > 0 && p != pid {
					if r := s.do(okSc); r.Err == nil && r.Response.Status == 200 {
						back = time.Now()
						break
					}
				}
			}
			if back.IsZero() {
				faultMu.Lock()
				faultErrs = append(faultErrs, fmt.Sprintf("the plugin server (pid %d) did not serve again within 10 s of its kill", pid))
				faultMu.Unlock()
				back = time.Now()
			}
			faults.add(killedAt, back)
			t.Logf("killed pid %d at %v; serving again after %v", pid, killedAt.Sub(soakStart).Round(time.Millisecond), back.Sub(killedAt).Round(time.Millisecond))
		}
	}()
	time.Sleep(time.Until(end))
	bg.Wait()
	close(stop)
	l.finish()
	wait()
	wg.Wait()
	close(results)

	// Outcomes.
	counts := map[string]int{}
	var fails []string
	for r := range results {
		if strings.HasPrefix(r, "FAIL") {
			fails = append(fails, r)
			continue
		}
		key := r
		if strings.HasPrefix(r, "ok slow PROXY client") {
			key = "ok slow PROXY client cut off"
		}
		counts[key]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sum bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&sum, "  %6d  %s\n", counts[k], k)
	}
	t.Logf("soak %v: %d ok-load requests %v, slowest %v; %d kills, %d restarts, %d config changes; slow PROXY clients cut off after at most %v; hostile and slow clients:\n%s",
		dur, l.sent.Load(), l.statuses, l.slowest.Round(time.Millisecond), kills.Load(), srv.Stats().Restarts, configChanges.Load(),
		time.Duration(slowestCut.Load()).Round(time.Millisecond), sum.String())

	if len(fails) > 0 || unexpected500.Load() > 0 {
		// the failure's context: error-log lines other than the expected
		// broken PROXY headers
		var lines []string
		for _, l := range s.logged("[error]") {
			if !strings.Contains(l, "broken header") && len(lines) < 40 {
				lines = append(lines, l)
			}
		}
		t.Logf("error log, first %d [error] lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	assert.Empty(t, faultErrs, "fault injection")
	assert.Empty(t, fails, "every hostile request gets its verdict or a clean rejection")
	assert.Empty(t, l.errs, "every load request gets an HTTP answer")
	assert.Less(t, l.slowest, clientTimeout, "no request hangs")
	for st := range l.statuses {
		assert.Contains(t, []int{200, 500}, st, "load: 200, or Kong's 500 while the plugin server is down")
	}
	assert.Zero(t, unexpected500.Load(), "load: 500 only while the plugin server is down")
	assert.GreaterOrEqual(t, kills.Load(), int64(2), "the soak killed the plugin server at least twice")
	assert.Equal(t, kills.Load(), srv.Stats().Restarts, "no restart other than the kills: hostile input crashed nothing")
	assert.Positive(t, configChanges.Load())
	for _, hc := range cases {
		assert.Positive(t, counts["ok "+hc.name], "hostile case %q never passed", hc.name)
	}
	assert.Positive(t, counts["ok slow PROXY client cut off"])
	assert.Empty(t, s.logged("panic:"), "no panic in the error log")
	assert.Greater(t, metricsScrapes, 10)
	for _, w := range metricsDown {
		assert.True(t, faults.covers(w[0], w[1]), "metrics endpoint down at %v outside a plugin-server outage", w[0].Sub(soakStart))
	}

	// After the soak: the plugin server still serves, and the monitor
	// route judges as before.
	r := s.do(okSc)
	require.NoError(t, r.Err)
	assert.Equal(t, 200, r.Response.Status)
	assert.Equal(t, "ok", r.Verdict())

	// The respawned plugin server counts every verdict it gives: a known
	// batch moves the counters by exactly its size.
	const verdicts = "client_ip_guard_verdicts_total"
	before := scrape(t, metricsAddr)
	batch := []struct {
		sc     demo.Scenario
		n      int
		labels map[string]string
	}{
		{okSc, 5, map[string]string{"verdict": "ok", "action": "allowed"}},
		{demo.Scenario{From: demo.DirectClient, Path: "/echo", Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}}, 3,
			map[string]string{"verdict": "spoof_attempt", "action": "allowed"}},
		{demo.Scenario{From: demo.DirectClient, Path: "/strict", Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}}}, 2,
			map[string]string{"verdict": "spoof_attempt", "action": "rejected"}},
	}
	for _, b := range batch {
		for range b.n {
			require.NoError(t, s.do(b.sc).Err)
		}
	}
	after := scrape(t, metricsAddr)
	assert.Equal(t, 10.0, sumSamples(after, verdicts, nil)-sumSamples(before, verdicts, nil), "every judgement of the batch is counted once")
	for _, b := range batch {
		assert.Equal(t, float64(b.n), sumSamples(after, verdicts, b.labels)-sumSamples(before, verdicts, b.labels), "%v", b.labels)
	}

	// No leaks on Kong's side: goroutines and fds settle to the baseline.
	time.Sleep(proxyHeaderTimeout) // slow clients still being cut off
	if !assert.Eventually(t, func() bool {
		settle()
		return runtime.NumGoroutine() <= baseG+2 && countFDs(t) <= baseFD+2
	}, 10*time.Second, 100*time.Millisecond, "Kong side leaks") {
		t.Logf("goroutines %d (baseline %d), fds %d (baseline %d)", runtime.NumGoroutine(), baseG, countFDs(t), baseFD)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	// In the plugin server: one goroutine per pooled connection plus a
	// few of its own; its fds likewise.
	st := pluginStats(t, s, srv.Pid())
	pooled := srv.Stats().Idle
	t.Logf("plugin server after the soak: %+v; Kong-side idle connections %d", st, pooled)
	assert.LessOrEqual(t, st.Goroutines, pooled+8, "plugin server goroutines")
	assert.LessOrEqual(t, st.FDs, pooled+16, "plugin server fds")
}
