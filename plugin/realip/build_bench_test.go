package realip

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
)

// The build benchmarks measure what a plugin instance pays for its trusted
// set at start-up: the time ParseTrusted takes on n entries (the mix of
// benchPrefixes: three in four IPv4, random lengths, some overlapping), and
// the heap the built set keeps, per entry, measured after GC with the set
// still alive ("B-kept/CIDR"), and the process CPU time per build
// ("cpu-ns/op", garbage collection included). The entries themselves exist before the
// first reading and are not counted.

var buildCIDRs = []int{10_000, 100_000, 1_000_000}

var sinkTrusted *Trusted

func benchEntries(tb testing.TB, n int) []string {
	tb.Helper()
	list := benchPrefixes(n)
	entries := make([]string, len(list))
	for i, p := range list {
		entries[i] = p.String()
	}
	return entries
}

// processCPU is the CPU time the test process has used (user and system,
// every thread: the garbage collector's share is part of the cost), in
// nanoseconds. On a shared machine it moves less than the wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// KeptBytes returns the heap build's result keeps alive: HeapAlloc after
// GC with the result held, minus HeapAlloc after GC before the call.
func keptBytes(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}

func BenchmarkTrustedBuild(b *testing.B) {
	for _, n := range buildCIDRs {
		entries := benchEntries(b, n)
		b.Run(fmt.Sprintf("cidrs=%d", n), func(b *testing.B) {
			kept := keptBytes(func() any {
				t, _, err := ParseTrusted(entries)
				if err != nil {
					b.Fatal(err)
				}
				return t
			})
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				t, _, err := ParseTrusted(entries)
				if err != nil {
					b.Fatal(err)
				}
				sinkTrusted = t
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			sinkTrusted = nil
			b.ReportMetric(float64(kept)/float64(n), "B-kept/CIDR")
		})
	}
}

var sinkBool bool

// BenchmarkTrustedContains measures the lookup alone: 1024 addresses per
// op (IPv4, IPv6 and IPv4-mapped, inside and outside the set) against
// sets of n entries.
func BenchmarkTrustedContains(b *testing.B) {
	for _, n := range []int{100, 10_000, 1_000_000} {
		tr := MustTrusted(benchEntries(b, n)...)
		rng := rand.New(rand.NewPCG(5, uint64(n)))
		probes := make([]netip.Addr, 1024)
		for i := range probes {
			v := rng.Uint32()
			a4 := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			switch i % 4 {
			case 0, 1:
				probes[i] = a4
			case 2:
				probes[i] = netip.AddrFrom16(a4.As16())
			default:
				var a [16]byte
				a[0], a[1], a[2], a[3] = 0x20|byte(v>>24)&0x1f, byte(v>>16), byte(v>>8), byte(v)
				probes[i] = netip.AddrFrom16(a)
			}
		}
		b.Run(fmt.Sprintf("cidrs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				for _, a := range probes {
					sinkBool = tr.Contains(a)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
