package guard_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
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
		var facts evaluate.Facts
		if peer != "unix:" {
			a, err := netip.ParseAddr(peer)
			if err != nil || a.Zone() != "" {
				return // Kong's get_ip is always an address or "unix:"
			}
		}
		if err := facts.SetPeer(peer); err != nil {
			t.Fatal(err)
		}
		facts.SetPeerPort(1234)
		var headers []realip.Header
		for i, v := range []string{v1, v2, v3} {
			name := fuzzHeaderNames[int(sel>>(2*i))&3]
			if i == 0 && sel&0x80 != 0 {
				name = strings.ReplaceAll(name, "-", "_")
			}
			headers = append(headers, realip.Header{Name: name, Value: v})
			facts.AddHeader(pol.Resolver.HeaderName(), []byte(name), []byte(v))
		}
		if sel&0x40 != 0 {
			facts.SetProxy(v1, uint16(len(v2)))
		}
		facts.SetKong(kong)
		req := facts.Req

		ev := evaluate.Evaluate(pol, &facts, nil)
		res, out := ev.Result, ev.Outcome
		var trace realip.Trace
		if traced := evaluate.Evaluate(pol, &facts, &trace); !reflect.DeepEqual(ev, traced) {
			t.Fatalf("tracing changed the evaluation: %+v vs %+v", ev, traced)
		}
		denied := out.Reasons.Has(verdict.ReasonDenyListed) || out.Reasons.Has(verdict.ReasonNotAllowListed) || out.Reasons.Has(verdict.ReasonClientUnverified)

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
			if !res.PeerTrusted || res.Status == realip.Declined || res.AddrTrusted || denied || facts.Underscored != 0 {
				t.Fatalf("ok for %+v denied=%v", res, denied)
			}
			if pol.Resolver.Kind() != realip.KindForwarded && realip.FormatAddr(res.Addr) != kong {
				t.Fatalf("ok although Kong says %q and the plugin %s", kong, realip.FormatAddr(res.Addr))
			}
		}
		if denied && out.Verdict != verdict.Denied {
			t.Fatalf("denied address judged %s", out.Verdict)
		}
		// allow/deny never let pass a client they could not check.
		if pol.HasAllowDeny() && !verdict.Verified(&res, pol.Resolver.Kind()) && out.Verdict != verdict.Denied {
			t.Fatalf("unverified client %+v judged %s under allow/deny", res, out.Verdict)
		}
		if ev.Passes(pol) && pol.Enforce && pol.Reject.Has(out.Verdict) {
			t.Fatalf("enforce passes a rejected verdict %s", out.Verdict)
		}
		if res.Malformed != "" {
			found := req.Proxy != nil && strings.Contains(req.Proxy.SrcAddr, res.Malformed)
			for _, h := range headers {
				found = found || strings.Contains(h.Value, res.Malformed)
			}
			if !found {
				t.Fatalf("malformed token %q is not from the input", res.Malformed)
			}
		}

		r := ev.Record(pol, &facts, guardconf.Scope{}, "t")
		if len(r.Chain) > record.MaxChainEntries {
			t.Fatalf("chain of %d entries", len(r.Chain))
		}
		for _, e := range r.Chain {
			if len(e) > record.MaxEntryBytes || !utf8.ValidString(e) {
				t.Fatalf("chain entry %q", e)
			}
		}
		b := r.Fit(record.MaxKongLogBytes)
		if !json.Valid(b) || strings.ContainsAny(string(b), "\r\n") || len(b) > record.MaxKongLogBytes {
			t.Fatalf("record is not one line of JSON within the kong sink's limit: %q", b)
		}
	})
}
