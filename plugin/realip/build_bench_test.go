package realip

import (
	"fmt"
	"runtime"
	"testing"
)

// The build benchmarks measure what a plugin instance pays for its trusted
// set at start-up: the time ParseTrusted takes on n entries (the mix of
// benchPrefixes: three in four IPv4, random lengths, some overlapping), and
// the heap the built set keeps, per entry, measured after GC with the set
// still alive ("B-kept/CIDR"). The entries themselves exist before the
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
			for b.Loop() {
				t, _, err := ParseTrusted(entries)
				if err != nil {
					b.Fatal(err)
				}
				sinkTrusted = t
			}
			sinkTrusted = nil
			b.ReportMetric(float64(kept)/float64(n), "B-kept/CIDR")
		})
	}
}
