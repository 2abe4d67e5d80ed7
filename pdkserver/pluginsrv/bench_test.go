package pluginsrv

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/procstats"
)

// accessRounds interleaves the plugins of BenchmarkAccessEvent: each
// runs its events in this many slices, in turn with the others, so that
// drift on a shared machine falls on all of them alike.
const accessRounds = 10

// BenchmarkAccessEvent measures one access event over the real plugin
// socket: noop (no PDK call) against trivial (three PDK calls, as many
// round trips as client-ip-guard's fast path) against client-ip-guard
// itself in its default configuration, one caller at a time and from
// GOMAXPROCS callers, interleaved in one run. Run it with a fixed count
// (-benchtime=5000x: events per plugin and mode); the "interleaved" line
// is the whole measurement, the per-plugin lines report its results and
// "ratios" the ratios of this run. allocs are Kong's side only. The
// instances are route-scoped, as Kong runs them in access; "global" is
// client-ip-guard as a global instance, which Kong runs in rewrite and then
// in access (kong/init.lua:1169 and 1203 at 3.9.3): it judges in the first
// event and returns at once from the second, so its cost over the scoped
// instance is one event round trip with no PDK call. With
// PDK_ALT_MODFILE set (see altModfile), trivial and client-ip-guard built
// against another go-pdk run in the same interleaving, and "ratios" adds
// their times over the released builds'.
func BenchmarkAccessEvent(b *testing.B) {
	names := []string{"noop", "trivial", "client-ip-guard", "global", "fast"}
	if altModfile != "" {
		names = append(names, "trivial"+altSuffix, "client-ip-guard"+altSuffix)
	}
	servers := map[string]*Server{}
	e := ent("bench", nil)
	global := &Entity{ID: "bench-global"}
	ctx := context.Background()
	// fast is client-ip-guard with fast_path on a node that loads the
	// include: one get_var instead of three calls.
	fast := ent("bench-fast", map[string]any{"fast_path": true})
	inc, err := fastpath.Include("")
	if err != nil {
		b.Fatal(err)
	}
	maps, err := nginxvar.ParseMaps("client-ip-guard-fastpath.conf", []byte(inc), kongpdk.MapVariable)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range names {
		if name == "global" || name == "fast" {
			servers[name] = servers["client-ip-guard"]
			continue
		}
		s, _ := startPlugin(b, name)
		if err := s.HandleEvent(ctx, e, "access", newReq()); err != nil {
			b.Fatal(err)
		}
		servers[name] = s
	}
	// event is one request's events for a plugin: access, or rewrite then
	// access for the global instance.
	event := func(name string, s *Server, req *kongpdk.Request) error {
		switch name {
		case "fast":
			return s.HandleEvent(ctx, fast, "access", req)
		case "global":
		default:
			return s.HandleEvent(ctx, e, "access", req)
		}
		if err := s.HandleEvent(ctx, global, "rewrite", req); err != nil {
			return err
		}
		return s.HandleEvent(ctx, global, "access", req)
	}
	type result struct {
		events  int
		elapsed time.Duration
		allocs  uint64
	}
	results := map[string]*result{}
	run := func(name string, parallel bool, n int) {
		key := name
		if parallel {
			key += "/parallel"
		}
		if results[key] == nil {
			results[key] = &result{}
		}
		s := servers[name]
		callers := 1
		if parallel {
			callers = runtime.GOMAXPROCS(0)
		}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := newReq()
				req.Maps = maps
				for next.Add(1) <= int64(n) {
					req.Calls = nil
					if err := event(name, s, req); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		r := results[key]
		r.elapsed += time.Since(start)
		runtime.ReadMemStats(&ms1)
		r.events += n
		r.allocs += ms1.Mallocs - ms0.Mallocs
	}
	b.Run("interleaved", func(b *testing.B) {
		results = map[string]*result{}
		for round := 0; round < accessRounds; round++ {
			share := b.N / accessRounds
			if round < b.N%accessRounds {
				share++
			}
			if share == 0 {
				continue
			}
			for _, parallel := range []bool{false, true} {
				for _, name := range names {
					run(name, parallel, share)
				}
			}
		}
	})
	perEvent := func(key string) float64 {
		r := results[key]
		if r == nil || r.events == 0 {
			return 0
		}
		return float64(r.elapsed.Nanoseconds()) / float64(r.events)
	}
	for _, name := range names {
		for _, key := range []string{name, name + "/parallel"} {
			b.Run(key, func(b *testing.B) {
				r := results[key]
				if r == nil || r.events == 0 {
					b.Skip("not measured")
				}
				b.ReportMetric(perEvent(key), "ns/op")
				b.ReportMetric(float64(r.allocs)/float64(r.events), "kong-allocs/op")
			})
		}
	}
	b.Run("ratios", func(b *testing.B) {
		if perEvent("noop") == 0 || perEvent("trivial") == 0 || perEvent("trivial/parallel") == 0 {
			b.Skip("a plugin did not run")
		}
		b.ReportMetric(perEvent("client-ip-guard")/perEvent("trivial"), "guard/trivial")
		b.ReportMetric(perEvent("client-ip-guard/parallel")/perEvent("trivial/parallel"), "guard/trivial-parallel")
		b.ReportMetric(perEvent("trivial")/perEvent("noop"), "trivial/noop")
		b.ReportMetric(perEvent("global")/perEvent("client-ip-guard"), "global/scoped")
		b.ReportMetric(perEvent("fast")/perEvent("client-ip-guard"), "fast/guard")
		b.ReportMetric(perEvent("fast")/perEvent("noop"), "fast/noop")
		if altModfile != "" {
			for _, name := range []string{"trivial", "client-ip-guard"} {
				for _, mode := range []string{"", "/parallel"} {
					b.ReportMetric(perEvent(name+altSuffix+mode)/perEvent(name+mode), name+"-alt/released"+strings.ReplaceAll(mode, "/", "-"))
				}
			}
		}
	})
}

// memoryReq is the i-th request of the memory benchmark: every verdict the
// default configuration gives behind a trusted load balancer, with the
// client address varying, so that per-address state (there should be
// none) would show.
func memoryReq(i int) *kongpdk.Request {
	lb, client := "10.0.0.2", fmt.Sprintf("198.51.%d.%d", (i>>8)&0xff, i&0xff)
	r := newReq()
	r.Vars = kongpdk.Vars{RemoteAddr: lb, RemotePort: "5555", RealIPRemoteAddr: lb, RealIPRemotePort: "5555"}
	switch i % 5 {
	case 0, 1: // ok
		r.Headers = append(r.Headers, kongpdk.Header{Name: "X-Forwarded-For", Value: "203.0.113.1, " + client})
		r.Vars.RemoteAddr = client
	case 2: // spoof: an untrusted peer with a chain
		r.Vars = kongpdk.Vars{RemoteAddr: client, RemotePort: "4000", RealIPRemoteAddr: client, RealIPRemotePort: "4000"}
		r.Headers = append(r.Headers, kongpdk.Header{Name: "X-Forwarded-For", Value: "1.2.3.4"})
	case 3: // LB-IP leak: the LB sent nothing
	case 4: // malformed
		r.Headers = append(r.Headers, kongpdk.Header{Name: "X-Forwarded-For", Value: client + ", 999.1.2.3"})
	}
	return r
}

// readStats asks the plugin server for a procstats line (SIGUSR1) and
// waits for it in the captured output.
func readStats(b *testing.B, s *Server, logs *logSink) procstats.Stats {
	b.Helper()
	pid := s.Pid()
	logs.mu.Lock()
	from := len(logs.lines)
	logs.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		logs.mu.Lock()
		for _, l := range logs.lines[from:] {
			if st, ok := procstats.ParseLine(l); ok && st.Pid == pid {
				logs.mu.Unlock()
				return st
			}
		}
		logs.mu.Unlock()
	}
	b.Fatalf("no procstats line from pid %d", pid)
	return procstats.Stats{}
}

// BenchmarkPluginServerMemory sends b.N access events (a mix of every
// verdict, records to kong.log.notice for the anomalies) to the real
// client-ip-guard from 8 concurrent callers, and reports the plugin
// server's RSS and goroutines after b.N/10 events and after all of them.
// Run it with -benchtime=1000000x for the 100k and 1M figures.
func BenchmarkPluginServerMemory(b *testing.B) {
	s, logs := startPlugin(b, "client-ip-guard")
	cfg := map[string]any{"trusted_ips": []any{"10.0.0.0/8"}, "real_ip_header": "X-Forwarded-For", "real_ip_recursive": true}
	e := ent("memory", cfg)
	ctx := context.Background()
	if err := s.HandleEvent(ctx, e, "access", memoryReq(0)); err != nil {
		b.Fatal(err)
	}
	const callers = 8
	checkpoint := int64(b.N / 10)
	var next, done atomic.Int64
	var first procstats.Stats
	var firstOnce sync.Once
	var kongG int
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < callers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := s.HandleEvent(ctx, e, "access", memoryReq(int(i))); err != nil {
					b.Error(err)
					return
				}
				if done.Add(1) == checkpoint {
					firstOnce.Do(func() { first = readStats(b, s, logs); kongG = runtime.NumGoroutine() })
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	last := readStats(b, s, logs)
	if first.Pid == 0 {
		first = last
	}
	if st := s.Stats(); st.Restarts != 0 || st.EventErrors != 0 {
		b.Fatalf("plugin server restarted %d times, %d event errors", st.Restarts, st.EventErrors)
	}
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	b.ReportMetric(mib(first.RSSBytes), "rss-MiB@N/10")
	b.ReportMetric(mib(last.RSSBytes), "rss-MiB@N")
	b.ReportMetric(100*(float64(last.RSSBytes)/float64(first.RSSBytes)-1), "rss-growth-%")
	b.ReportMetric(float64(last.Goroutines), "goroutines@N")
	b.Logf("after %d events: %+v", checkpoint, first)
	b.Logf("after %d events: %+v", b.N, last)
	b.Logf("Kong side: %d goroutines at N/10, %d at N; %d idle pooled connections", kongG, runtime.NumGoroutine(), s.Stats().Idle)
}

// BenchmarkFirstRequest measures what an instance's first request waits
// when its trusted_ips holds 100k CIDRs: Kong starts the instance on that
// request (plugin.lua's get_instance_id), so the request carries the
// StartInstance round trip (the config JSON over the socket, go-pdk's
// decoding, the plugin's compilation) before its access event. Each
// iteration is a new plugin entity with the same config. "kong-encode-ns"
// is the part of ns/op spent on Kong's side encoding the config
// (cjson.encode in Kong; encoding/json here), timed apart (the median of
// five), and "after-encode-ns" the rest: the socket, go-pdk and the
// plugin. "plugin-cpu-ns/op" is the plugin-server process's CPU time per
// first request (/proc, 10 ms ticks summed over the run).
func BenchmarkFirstRequest(b *testing.B) {
	const n = 100_000
	s, _ := startPlugin(b, "client-ip-guard")
	ips := make([]any, n)
	rng := rand.New(rand.NewPCG(11, n))
	for i := range ips {
		if rng.IntN(4) != 0 {
			v := rng.Uint32()
			ips[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 18+rng.IntN(15)).Masked().String()
		} else {
			var a [16]byte
			a[0], a[1] = 0x20, byte(rng.UintN(256))
			for k := 2; k < 16; k++ {
				a[k] = byte(rng.UintN(256))
			}
			ips[i] = netip.PrefixFrom(netip.AddrFrom16(a), 32+rng.IntN(97)).Masked().String()
		}
	}
	cfg := map[string]any{"trusted_ips": ips, "real_ip_header": "X-Forwarded-For", "real_ip_recursive": true}
	ctx := context.Background()
	req := newReq()
	// The median of five timed encodes: one slow encode on a busy machine
	// would otherwise be subtracted from every request.
	encodes := make([]time.Duration, 5)
	for k := range encodes {
		t0 := time.Now()
		if _, _, err := s.configJSON(ent("encode", cfg)); err != nil {
			b.Fatal(err)
		}
		encodes[k] = time.Since(t0)
	}
	slices.Sort(encodes)
	encode := encodes[len(encodes)/2]
	i := 0
	cpu0 := processTicks(b, s.Pid())
	for b.Loop() {
		i++
		e := ent(fmt.Sprintf("first-%d", i), cfg)
		req.Calls = nil
		if err := s.HandleEvent(ctx, e, "access", req); err != nil {
			b.Fatal(err)
		}
	}
	if st := s.Stats(); st.InstanceStarts < int64(i) {
		b.Fatalf("%d instance starts for %d entities", st.InstanceStarts, i)
	}
	cpu := processTicks(b, s.Pid()) - cpu0
	b.ReportMetric(float64(encode.Nanoseconds()), "kong-encode-ns")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)-float64(encode.Nanoseconds()), "after-encode-ns")
	b.ReportMetric(float64(cpu)*1e7/float64(b.N), "plugin-cpu-ns/op")
}

// processTicks is the CPU time (user and system) process pid has used,
// in clock ticks of 10 ms (USER_HZ on Linux), from /proc/pid/stat.
func processTicks(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: state is
	// the first, utime and stime the 12th and 13th.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		b.Fatalf("short /proc/%d/stat: %q", pid, raw)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	return u + st
}
