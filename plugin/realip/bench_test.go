package realip

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmarks resolve a recursive X-Forwarded-For chain of `hops`
// entries: a client on the left, then hops-1 proxies, all reached through
// a trusted peer. The trusted list holds `cidrs` entries: one prefix
// covering the peer and the proxies, the rest deterministic random IPv4 and
// IPv6 prefixes that never cover the client. The same walk over a
// []netip.Prefix scanned in order (nginx's set_real_ip_from list) is the
// baseline; the proxies' prefix sits in the middle of that list.

var (
	benchClient = netip.MustParseAddr("198.51.100.7")
	benchProxy  = netip.MustParsePrefix("172.16.0.0/16")
	benchPeer   = netip.AddrPortFrom(netip.MustParseAddr("172.16.255.254"), 40000)
	benchAvoid  = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), benchProxy}
)

// benchPrefixes returns n trusted entries: benchProxy in the middle, the
// rest random, three in four IPv4.
func benchPrefixes(n int) []netip.Prefix {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	out := make([]netip.Prefix, 0, n)
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
		out = append(out, p)
	}
	mid := len(out) / 2
	out = append(out[:mid], append([]netip.Prefix{benchProxy}, out[mid:]...)...)
	return out
}

// benchChain builds "client, proxy1, ..., proxyN-1".
func benchChain(hops int) string {
	parts := []string{benchClient.String()}
	for i := 1; i < hops; i++ {
		parts = append(parts, fmt.Sprintf("172.16.%d.%d", i/250, i%250+1))
	}
	return strings.Join(parts, ", ")
}

type benchSetup struct {
	list     []netip.Prefix
	resolver *Resolver
}

var (
	benchMu    sync.Mutex
	benchCache = map[int]*benchSetup{}
)

func setupBench(tb testing.TB, n int) *benchSetup {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s, ok := benchCache[n]; ok {
		return s
	}
	list := benchPrefixes(n)
	entries := make([]string, len(list))
	for i, p := range list {
		entries[i] = p.String()
	}
	tr, _, err := ParseTrusted(entries)
	require.NoError(tb, err)
	s := &benchSetup{list: list, resolver: NewResolver(tr, "X-Forwarded-For", true)}
	benchCache[n] = s
	return s
}

// linearContains is ngx_cidr_match: the list in order, IPv4-mapped
// addresses against IPv4 entries only.
func linearContains(list []netip.Prefix, a netip.Addr) bool {
	if a.Is4In6() {
		a = a.Unmap()
	}
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// linearResolve is the recursive X-Forwarded-For walk of
// ngx_http_get_forwarded_addr over every line, with linearContains.
func linearResolve(list []netip.Prefix, req *Request) (netip.Addr, uint16) {
	addr, port := req.Peer.Addr(), req.Peer.Port()
	found := false
	for i := len(req.Headers) - 1; i >= 0; i-- {
		if !isHeader(req.Headers[i].Name, "x-forwarded-for") {
			continue
		}
		v := req.Headers[i].Value
		n := len(v)
		lineFound := false
		for {
			if !linearContains(list, addr) {
				if lineFound || found {
					return addr, port
				}
				return req.Peer.Addr(), req.Peer.Port()
			}
			start := lastTokenStart(v, &n)
			a, p, ok := ParseAddrPort(v[start:n])
			if !ok {
				if lineFound || found {
					return addr, port
				}
				return req.Peer.Addr(), req.Peer.Port()
			}
			addr, port, lineFound = a, p, true
			if start == 0 {
				break
			}
			n = start - 1
		}
		found = true
	}
	return addr, port
}

var (
	benchCIDRs = []int{1, 100, 10_000, 100_000}
	benchHops  = []int{1, 5, 50}
	sinkAddr   netip.Addr
)

func benchRequest(hops int) *Request {
	return &Request{Peer: benchPeer, Headers: []Header{
		{Name: "Host", Value: "api.example"},
		{Name: "User-Agent", Value: "bench"},
		{Name: "X-Forwarded-For", Value: benchChain(hops)},
	}}
}

func BenchmarkResolve(b *testing.B) {
	for _, n := range benchCIDRs {
		s := setupBench(b, n)
		for _, hops := range benchHops {
			req := benchRequest(hops)
			b.Run(fmt.Sprintf("cidrs=%d/hops=%d", n, hops), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					res := s.resolver.Resolve(req, nil)
					sinkAddr = res.Addr
				}
			})
		}
	}
}

func BenchmarkResolveLinear(b *testing.B) {
	for _, n := range benchCIDRs {
		s := setupBench(b, n)
		for _, hops := range benchHops {
			req := benchRequest(hops)
			b.Run(fmt.Sprintf("cidrs=%d/hops=%d", n, hops), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					sinkAddr, _ = linearResolve(s.list, req)
				}
			})
		}
	}
}

// TestBenchSetup keeps the benchmarks honest: the set has the size asked
// for, the client is never trusted, every proxy is, both walks agree, and
// Resolve does not allocate.
func TestBenchSetup(t *testing.T) {
	for _, n := range []int{1, 100, 10_000} {
		s := setupBench(t, n)
		require.Len(t, s.list, n)
		tr := s.resolver.Trusted()
		assert.False(t, tr.Contains(benchClient), "client trusted with %d cidrs", n)
		assert.True(t, tr.Contains(benchPeer.Addr()))
		for _, hops := range benchHops {
			req := benchRequest(hops)
			res := s.resolver.Resolve(req, nil)
			assert.Equal(t, benchClient, res.Addr, "cidrs=%d hops=%d", n, hops)
			assert.Equal(t, hops, res.Taken)
			a, _ := linearResolve(s.list, req)
			assert.Equal(t, benchClient, a)
			allocs := testing.AllocsPerRun(50, func() { sinkAddr = s.resolver.Resolve(req, nil).Addr })
			assert.Zero(t, allocs, "cidrs=%d hops=%d", n, hops)
		}
	}
}

// TestLinearMatchesResolve checks the baseline against Resolve on mixed
// chains, so the benchmark ratio compares like with like.
func TestLinearMatchesResolve(t *testing.T) {
	s := setupBench(t, 100)
	chains := [][]string{
		{"1.1.1.1, 172.16.0.9"},
		{"1.1.1.1", "172.16.0.3, 172.16.0.2"},
		{"junk", "172.16.0.3"},
		{"172.16.0.3, junk, 172.16.0.2:80"},
		{"198.51.100.1, 172.16.0.2", ""},
		{"::ffff:172.16.0.1, 172.16.0.5"},
		{"[2001:db8::1]:443, 172.16.1.1"},
	}
	for _, c := range chains {
		req := &Request{Peer: benchPeer}
		for _, v := range c {
			req.Headers = append(req.Headers, Header{Name: "X-Forwarded-For", Value: v})
		}
		res := s.resolver.Resolve(req, nil)
		a, p := linearResolve(s.list, req)
		assert.Equal(t, res.Addr, a, "%q", c)
		assert.Equal(t, res.Port, p, "%q", c)
	}
}
