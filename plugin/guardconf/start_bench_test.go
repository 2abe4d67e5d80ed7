package guardconf_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

// BenchmarkStartInstance measures what the plugin does when Kong starts an
// instance whose trusted_ips holds n CIDRs: go-pdk v0.11.2's
// rpcHandler.StartInstance (server/instance.go, lines 89-96) decodes the
// config JSON twice, once into its metadata struct and once into a fresh
// config, whose UnmarshalJSON compiles the policy. Kong starts an instance
// on its first request, so ns/op is what that request waits in the plugin
// (the socket transfer of the config is measured end to end by
// pdkserver/pluginsrv's BenchmarkFirstRequest). "B-kept/CIDR" is the heap
// the started instance (config and policy) keeps, per CIDR, after GC, and
// "cpu-ns/op" the process CPU time per start.
func BenchmarkStartInstance(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		raw := startConfig(b, n)
		b.Run(fmt.Sprintf("cidrs=%d", n), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			kept := startInstance(b, raw)
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(kept)
			kept = nil
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				sinkConfig = startInstance(b, raw)
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			sinkConfig = nil
			if after.HeapAlloc > before.HeapAlloc {
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B-kept/CIDR")
			}
		})
	}
}

var sinkConfig *guardconf.Config

// processCPU is the CPU time the test process has used, garbage
// collection included, in nanoseconds: on a shared machine it moves less
// than the wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// startInstance does what go-pdk's StartInstance does with the config.
func startInstance(tb testing.TB, raw []byte) *guardconf.Config {
	var meta struct {
		Seq int `json:"__seq__"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		tb.Fatal(err)
	}
	c := &guardconf.Config{}
	if err := json.Unmarshal(raw, c); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Policy(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// startConfig is the config JSON Kong sends for an instance trusting n
// deterministic random CIDRs, three in four IPv4, with the scope keys Kong
// adds.
func startConfig(tb testing.TB, n int) []byte {
	rng := rand.New(rand.NewPCG(11, uint64(n)))
	ips := make([]string, n)
	for i := range ips {
		var p netip.Prefix
		if rng.IntN(4) != 0 {
			v := rng.Uint32()
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 18+rng.IntN(15))
		} else {
			var a [16]byte
			hi, lo := rng.Uint64(), rng.Uint64()
			for k := 0; k < 8; k++ {
				a[k], a[8+k] = byte(hi>>(56-8*k)), byte(lo>>(56-8*k))
			}
			a[0] = 0x20 | a[0]&0x1f
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+rng.IntN(97))
		}
		ips[i] = p.Masked().String()
	}
	raw, err := json.Marshal(map[string]any{
		"trusted_ips": ips, "real_ip_header": "X-Forwarded-For", "real_ip_recursive": true,
		"mode": "monitor", "route_id": "r-1", "service_id": nil, "consumer_id": nil,
		"__plugin_id": "p-1", "__seq__": 1, "__key__": "plugins:client-ip-guard:r-1",
	})
	require.NoError(tb, err)
	return raw
}

// BenchmarkStartInstanceFloor is BenchmarkStartInstance with a config
// type that ignores its JSON: what go-pdk's StartInstance costs on its own
// (two encoding/json passes over the config, plus the validation pass of
// each), the floor under any plugin's start-up at these sizes.
func BenchmarkStartInstanceFloor(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		raw := startConfig(b, n)
		b.Run(fmt.Sprintf("cidrs=%d", n), func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				var meta struct {
					Seq int `json:"__seq__"`
				}
				if err := json.Unmarshal(raw, &meta); err != nil {
					b.Fatal(err)
				}
				if err := json.Unmarshal(raw, &ignored{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// ignored is a plugin config that reads nothing.
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }
