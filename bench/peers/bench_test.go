package peers

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The inputs follow plugin/realip's own benchmark: the trusted list holds
// `cidrs` entries, one prefix covering the peer and the proxies in the
// middle of the list, the rest deterministic random prefixes (three in four
// IPv4) that never cover the client. The X-Forwarded-For chain is the
// client followed by hops-1 proxies, so the request crossed `hops` trusted
// proxies counting the peer, and every implementation should answer the
// client.

var (
	benchClient = netip.MustParseAddr("198.51.100.7")
	benchProxy  = netip.MustParsePrefix("172.16.0.0/16")
	benchPeer   = netip.AddrPortFrom(netip.MustParseAddr("172.16.255.254"), 40000)
	benchAvoid  = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), benchProxy}

	benchCIDRs = []int{1, 10, 100, 10_000, 100_000}
	benchHops  = []int{1, 2, 3}
)

// benchPrefixes returns n trusted entries: benchProxy in the middle, the
// rest random.
func benchPrefixes(n int) []string {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	out := make([]string, 0, n)
	for len(out) < n-1 {
		var p netip.Prefix
		if rng.IntN(4) != 0 {
			var b [4]byte
			v := rng.Uint32()
			b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
			p = netip.PrefixFrom(netip.AddrFrom4(b), 18+rng.IntN(15)).Masked()
		} else {
			var b [16]byte
			hi, lo := rng.Uint64(), rng.Uint64()
			for i := 0; i < 8; i++ {
				b[i], b[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
			}
			b[0] = 0x20 | b[0]&0x1f // 2000::/3
			p = netip.PrefixFrom(netip.AddrFrom16(b), 32+rng.IntN(97)).Masked()
		}
		if p.Overlaps(benchAvoid[0]) || p.Overlaps(benchAvoid[1]) {
			continue
		}
		out = append(out, p.String())
	}
	mid := len(out) / 2
	return append(out[:mid], append([]string{benchProxy.String()}, out[mid:]...)...)
}

// benchInput is "client, proxy1, ..., proxy(hops-1)" from the trusted peer.
func benchInput(hops int) Input {
	parts := []string{benchClient.String()}
	for i := 1; i < hops; i++ {
		parts = append(parts, fmt.Sprintf("172.16.0.%d", i))
	}
	return Input{Peer: benchPeer, XFF: []string{strings.Join(parts, ", ")}}
}

var (
	benchMu    sync.Mutex
	benchCache = map[int][]Impl{}
)

// setupBench builds every implementation for n trusted entries once.
func setupBench(tb testing.TB, n int) []Impl {
	benchMu.Lock()
	defer benchMu.Unlock()
	if impls, ok := benchCache[n]; ok {
		return impls
	}
	impls, err := New(benchPrefixes(n))
	require.NoError(tb, err)
	benchCache[n] = impls
	return impls
}

// benchRounds is how many times BenchmarkPeers measures each
// implementation on each input (PEERS_ROUNDS, default 3).
func benchRounds(tb testing.TB) int {
	v := os.Getenv("PEERS_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("PEERS_ROUNDS=%q: want a positive integer", v)
	}
	return n
}

// BenchmarkPeers measures, for each trusted-set size and chain, every
// implementation in turn on the same input, and repeats that sequence
// benchRounds times, so the implementations are interleaved round by round
// and share the machine's drift. (go test's -count would instead repeat
// each benchmark back to back.)
func BenchmarkPeers(b *testing.B) {
	rounds := benchRounds(b)
	for _, n := range benchCIDRs {
		impls := setupBench(b, n)
		for _, hops := range benchHops {
			in := benchInput(hops)
			prepared := make([]Prepared, len(impls))
			for i, im := range impls {
				prepared[i] = im.Prepare(in)
				if got := prepared[i].Answer(); got != benchClient.String() {
					b.Fatalf("%s with %d cidrs, %d hops answers %q, want the client", im.Name, n, hops, got)
				}
			}
			for r := 1; r <= rounds; r++ {
				for i, im := range impls {
					run := prepared[i].Run
					b.Run(fmt.Sprintf("cidrs=%d/hops=%d/round=%d/%s", n, hops, r, im.Name), func(b *testing.B) {
						b.ReportAllocs()
						for b.Loop() {
							run()
						}
					})
				}
			}
		}
	}
}

// TestBenchInputs keeps the benchmark honest: every implementation answers
// the client on every benchmarked input, and realip does not allocate.
func TestBenchInputs(t *testing.T) {
	sizes := benchCIDRs
	if testing.Short() {
		sizes = []int{1, 10, 100}
	}
	for _, n := range sizes {
		impls := setupBench(t, n)
		require.Len(t, benchPrefixes(n), n)
		require.Len(t, impls, len(Names))
		for _, hops := range benchHops {
			in := benchInput(hops)
			for i, im := range impls {
				require.Equal(t, Names[i], im.Name)
				p := im.Prepare(in)
				require.Equal(t, benchClient.String(), p.Answer(), "%s cidrs=%d hops=%d", im.Name, n, hops)
				if im.Name == "realip" {
					require.Zero(t, testing.AllocsPerRun(20, p.Run), "cidrs=%d hops=%d", n, hops)
				}
			}
		}
	}
}
