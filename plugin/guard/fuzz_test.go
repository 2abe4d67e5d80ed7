package guard_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

var fuzzHeaderNames = []string{"X-Forwarded-For", "X-Real-IP", "Forwarded", "CF-Connecting-IP"}

// FuzzJudge drives the handler's judging path (resolve, allow/deny, judge,
// chain) with arbitrary header values, peer and Kong address, under each
// of the spoofing table's configurations, and checks what must hold
// whatever the input.
func FuzzJudge(f *testing.F) {
	f.Add(uint8(0), "203.0.113.9", uint8(0), "1.2.3.4", "", "", "203.0.113.9")
	f.Add(uint8(1), "10.0.0.1", uint8(0), "198.51.100.7, 10.0.0.2", "6.6.6.6", "", "198.51.100.7")
	f.Add(uint8(2), "::ffff:10.0.0.1", uint8(0x15), "[2001:db8::7]:443", "010.0.0.9", "for=\"[::1]:80\"", "10.0.0.1")
	f.Add(uint8(5), "10.0.0.1", uint8(0x2a), "for=_x, for=unknown", ",1.1.1.1", "fe80::1%eth0", "")
	f.Add(uint8(9), "unix:", uint8(0x3f), "", " , ", "1.2.3.4:0", "unix:")

	names := make([]string, 0, len(spoofConfigs))
	for n := range spoofConfigs {
		names = append(names, n)
	}
	sort.Strings(names)
	policies := make([]*guardconf.Policy, len(names))
	for i, n := range names {
		p, err := guardconf.Compile(spoofConfigs[n])
		if err != nil {
			f.Fatal(err)
		}
		policies[i] = p
	}

	f.Fuzz(func(t *testing.T, conf uint8, peer string, sel uint8, v1, v2, v3, kong string) {
		pol := policies[int(conf)%len(policies)]
		var req realip.Request
		if peer != "unix:" {
			a, err := netip.ParseAddr(peer)
			if err != nil || a.Zone() != "" {
				return // Kong's get_ip is always an address or "unix:"
			}
			req.Peer = netip.AddrPortFrom(a, 1234)
		}
		for i, v := range []string{v1, v2, v3} {
			name := fuzzHeaderNames[int(sel>>(2*i))&3]
			req.Headers = append(req.Headers, realip.Header{Name: name, Value: v})
		}
		if sel&0x40 != 0 {
			req.Proxy = &realip.Proxy{SrcAddr: v1, SrcPort: uint16(len(v2))}
		}

		res := pol.Resolver.Resolve(&req, nil)
		var trace realip.Trace
		if traced := pol.Resolver.Resolve(&req, &trace); !reflect.DeepEqual(res, traced) {
			t.Fatalf("tracing changed the result: %+v vs %+v", res, traced)
		}
		fw, n := forwarding(req.Headers, pol.Resolver.HeaderName())
		in := verdict.Input{
			Result: &res, Kind: pol.Resolver.Kind(), Forwarding: fw, SourceLines: n,
			KongAddr: kong, KongKnown: true, TrustAll: pol.TrustAllWarns,
		}
		if pol.HasAllowDeny() && !res.Unix {
			in.Denied, in.DenyReason = pol.AllowDeny(res.Addr)
		}
		out := verdict.Judge(&in)

		if out.Verdict.String() == "unknown" {
			t.Fatalf("verdict out of range: %d", out.Verdict)
		}
		if out.Reasons.Names() == nil {
			t.Fatal("nil reasons")
		}
		if res.Status == realip.Declined {
			if res.Addr != res.PeerAddr || res.Port != res.PeerPort {
				t.Fatalf("declined but $remote_addr moved: %+v", res)
			}
		} else if !res.Addr.IsValid() || res.Unix {
			t.Fatalf("replaced with no address: %+v", res)
		}
		if !res.PeerTrusted {
			if res.Status != realip.Declined {
				t.Fatalf("untrusted peer's data was used: %+v", res)
			}
			switch out.Verdict {
			case verdict.Direct, verdict.SpoofAttempt, verdict.ConfigDrift, verdict.Denied:
			default:
				t.Fatalf("untrusted peer judged %s", out.Verdict)
			}
			if !out.Reasons.Has(verdict.ReasonPeerUntrusted) {
				t.Fatal("untrusted peer without its reason")
			}
		}
		if out.Verdict == verdict.OK {
			if !res.PeerTrusted || res.Status == realip.Declined || res.AddrTrusted || in.Denied {
				t.Fatalf("ok for %+v denied=%v", res, in.Denied)
			}
			if pol.Resolver.Kind() != realip.KindForwarded && realip.FormatAddr(res.Addr) != kong {
				t.Fatalf("ok although Kong says %q and the plugin %s", kong, realip.FormatAddr(res.Addr))
			}
		}
		if in.Denied && out.Verdict != verdict.Denied {
			t.Fatalf("denied address judged %s", out.Verdict)
		}
		if res.Malformed != "" {
			found := req.Proxy != nil && strings.Contains(req.Proxy.SrcAddr, res.Malformed)
			for _, h := range req.Headers {
				found = found || strings.Contains(h.Value, res.Malformed)
			}
			if !found {
				t.Fatalf("malformed token %q is not from the input", res.Malformed)
			}
		}

		chain, _ := record.Chain(req.Headers, pol.Resolver.Kind(), pol.Resolver.HeaderName())
		if len(chain) > record.MaxChainEntries {
			t.Fatalf("chain of %d entries", len(chain))
		}
		for _, e := range chain {
			if len(e) > record.MaxEntryBytes || !utf8.ValidString(e) {
				t.Fatalf("chain entry %q", e)
			}
		}
		r := record.Record{ClientIP: realip.FormatAddr(res.Addr), Chain: chain, KongIP: kong, Verdict: out.Verdict.String(), Reasons: out.Reasons.Names()}
		b := r.JSON()
		if !json.Valid(b) || strings.ContainsAny(string(b), "\r\n") {
			t.Fatalf("record is not one line of JSON: %q", b)
		}
	})
}
