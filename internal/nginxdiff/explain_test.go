package nginxdiff

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/client-ip-guard/client-ip-guard/kongconf/explain"
)

// explainInput renders what nginx received in a case, and the peer and
// PROXY source nginx reported, as `kongconf explain` takes them.
func explainInput(c *Case, ans Answer) explain.Input {
	peer := ans.Local
	if IsMapped(c.Listener) {
		peer = netip.AddrPortFrom(netip.AddrFrom16(peer.Addr().As16()), peer.Port())
	}
	in := explain.Input{
		TrustedIPs:      c.Variant.Conf.TrustedIPs,
		RealIPHeader:    c.Variant.Conf.RealIPHeader,
		RealIPRecursive: c.Variant.Conf.RealIPRecursive,
		Peer:            peer.String(),
	}
	if ans.Vars[4] != "" {
		host := ans.Vars[4]
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		in.ProxyProtocol = host + ":" + ans.Vars[5]
	}
	for _, h := range c.Headers {
		in.Headers = append(in.Headers, h.Name+": "+h.Value)
	}
	return in
}

// TestExplainAgreesWithNginx runs the fixed corpus through nginx and
// through kongconf explain, fed the header lines as sent: explain's nginx
// variables must be nginx's own, its header reading included.
func TestExplainAgreesWithNginx(t *testing.T) {
	vs, _ := setup(t)
	compared := 0
	for _, c := range Corpus(vs) {
		if strings.ContainsAny(string(c.Bytes()[len(c.Proxy):]), "\x00") {
			continue // explain refuses a NUL, as nginx does with a 400
		}
		ans, err := c.Run(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if ans.Closed || ans.Status != 200 {
			continue
		}
		rep, err := explain.Run(explainInput(c, ans))
		if err != nil {
			t.Errorf("%s: explain refuses what nginx accepted: %v", c.Name, err)
			continue
		}
		got := [4]string{rep.RemoteAddr, portText(uint16(rep.RemotePort)), rep.RealIPRemoteAddr, portText(uint16(rep.RealIPRemotePort))}
		if [4]string(ans.Vars[:4]) != got {
			t.Errorf("%s %q: nginx %q, explain %q", c.Name, c.Bytes(), ans.Vars[:4], got)
		}
		compared++
	}
	if compared < 50 {
		t.Fatalf("only %d corpus cases compared", compared)
	}
	t.Logf("%d corpus cases: explain agrees with nginx", compared)
}

// TestExplainHeaderBytes: header bytes that nginx reads in its own way.
// Each line goes to nginx and to explain; a 400 from nginx must be an
// error from explain, and otherwise the variables must match.
func TestExplainHeaderBytes(t *testing.T) {
	vs, _ := setup(t)
	lo := netip.MustParseAddr("127.0.0.1")
	v := FindVariant(vs, "all/X-Forwarded-For/recursive-off")
	if v == nil {
		t.Fatal("variant all/X-Forwarded-For/recursive-off missing")
	}
	lines := []string{
		"X-Forwarded-For: 203.0.113.9\t",   // the tab stays: the token is unparsable
		"X-Forwarded-For:\t203.0.113.9",    // a leading tab stays too
		"X-Forwarded-For:   203.0.113.9  ", // spaces go
		"X-Forwarded-For : 203.0.113.9",    // a space before the colon: 400
		"X-Forwarded\tFor: 203.0.113.9",    // a tab in the name: 400
		"X-Forwarded.For: 203.0.113.9",     // an invalid name byte: ignored
		"X_Forwarded_For: 203.0.113.9",     // underscores: kept, but not X-Forwarded-For
		"X-Forwarded-For:203.0.113.9",      // no space at all
		"X-Forwarded-For",                  // no colon: an empty value
	}
	for _, line := range lines {
		raw := []byte("GET / HTTP/1.1\r\nHost: kong\r\n" + line + "\r\nConnection: close\r\n\r\n")
		ans, err := Send(lo, v.Listeners[ListenV4], []Chunk{{Data: raw}}, 10*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		in := explain.Input{TrustedIPs: v.Conf.TrustedIPs, RealIPHeader: v.Conf.RealIPHeader, RealIPRecursive: v.Conf.RealIPRecursive,
			Peer: ans.Local.String(), Headers: []string{line}}
		rep, eerr := explain.Run(in)
		switch {
		case ans.Status == 400:
			if eerr == nil {
				t.Errorf("%q: nginx answers 400, explain accepts it", line)
			}
		case ans.Status != 200:
			t.Errorf("%q: nginx answered %d", line, ans.Status)
		case eerr != nil:
			t.Errorf("%q: nginx accepts it, explain: %v", line, eerr)
		default:
			got := [4]string{rep.RemoteAddr, portText(uint16(rep.RemotePort)), rep.RealIPRemoteAddr, portText(uint16(rep.RealIPRemotePort))}
			if [4]string(ans.Vars[:4]) != got {
				t.Errorf("%q: nginx %q, explain %q", line, ans.Vars[:4], got)
			}
		}
		t.Logf("%q: nginx %d %s", line, ans.Status, strconv.Quote(strings.Join(ans.Vars[:2], " ")))
	}
}
