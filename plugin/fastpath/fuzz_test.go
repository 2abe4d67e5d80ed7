package fastpath_test

import (
	"bytes"
	"testing"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// FuzzFill: $client_ip_guard_facts is built from header bytes a client
// chose. Whatever it holds, Fill answers without panicking, leaves raw
// unchanged, and what it accepts evaluates; and for X-Forwarded-For lines
// rendered as nginx 1.25 joins them, an accepted value judges as the lines
// do.
func FuzzFill(f *testing.F) {
	f.Add([]byte("cig1\n1.25.3\n10.0.0.1\n198.51.100.7\n\n\n198.51.100.7\n\n"), "1.1.1.1, 10.0.0.2", "2.2.2.2")
	f.Add([]byte("cig1\n1.22.1\nunix:\n\n1.2.3.4\n80\n\n\n\ncf-connecting-ip\n1.2.3.4"), ", ,", "")
	f.Add([]byte(""), "x\ty", "[::1]:80")
	pols := map[string]*guardconf.Policy{}
	for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "proxy_protocol", "CF-Connecting-IP", "Forwarded"} {
		p, err := guardconf.Compile(&guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: h, RealIPRecursive: true})
		if err != nil {
			f.Fatal(err)
		}
		pols[h] = p
	}
	xff := pols["X-Forwarded-For"]
	f.Fuzz(func(t *testing.T, raw []byte, line1, line2 string) {
		keep := bytes.Clone(raw)
		for _, pol := range pols {
			var fa evaluate.Facts
			st, _ := fastpath.Fill(&fa, raw, pol.Resolver.Kind(), pol.Resolver.HeaderName())
			if st == fastpath.OK {
				ev := evaluate.Evaluate(pol, &fa, nil)
				_ = ev.Record(pol, &fa, guardconf.Scope{}, "")
			}
		}
		if !bytes.Equal(raw, keep) {
			t.Fatal("Fill changed its input")
		}
		// Lines nginx could keep: no CR, LF or NUL, no leading or trailing
		// space, not empty (Blind).
		var hs []nginxvar.Header
		for _, l := range []string{line1, line2} {
			if l == "" || bytes.ContainsAny([]byte(l), "\r\n\x00") || l[0] == ' ' || l[len(l)-1] == ' ' {
				return
			}
			hs = append(hs, nginxvar.Header{Name: "X-Forwarded-For", Value: l})
		}
		joined, _ := nginxvar.HTTP(hs, "x_forwarded_for", nginxvar.V1_25)
		var fast, full evaluate.Facts
		if st, _ := fastpath.Fill(&fast, []byte("cig1\n1.25.3\n10.0.0.1\n10.0.0.1\n\n\n"+joined+"\n\n"), realip.KindXForwardedFor, "x-forwarded-for"); st != fastpath.OK {
			return
		}
		if err := full.SetPeer("10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		full.SetKong("10.0.0.1")
		for _, h := range hs {
			full.AddHeader("x-forwarded-for", []byte("x-forwarded-for"), []byte(h.Value))
		}
		a, b := evaluate.Evaluate(xff, &full, nil), evaluate.Evaluate(xff, &fast, nil)
		if a.Result.Addr != b.Result.Addr || a.Result.Port != b.Result.Port || a.Outcome != b.Outcome {
			t.Fatalf("lines %q: full %v %v, fast %v %v", hs, a.Result.Addr, a.Outcome, b.Result.Addr, b.Outcome)
		}
	})
}
