package nginxdiff

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// Case is one connection: which variant and listener it reaches, the
// source address it binds, the PROXY header and the request header lines.
type Case struct {
	// Name labels corpus cases ("" for random ones).
	Name string
	// Variant is the configuration under test.
	Variant *Variant
	// Listener is the listener slot (ListenV4 ...).
	Listener int
	// Source is the address the client binds: 127.0.0.0/8 or ::1.
	Source netip.Addr
	// Proxy is sent first; required (valid or not) on proxy_protocol
	// listeners, nil elsewhere.
	Proxy []byte
	// Headers are the header lines as sent, "Name: Value".
	Headers []realip.Header
}

// Bytes is everything the client sends.
func (c *Case) Bytes() []byte {
	var b bytes.Buffer
	b.Write(c.Proxy)
	b.WriteString("GET / HTTP/1.1\r\nHost: kong\r\n")
	for _, h := range c.Headers {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.Bytes()
}

// Run sends the case to nginx.
func (c *Case) Run(timeout time.Duration) (Answer, error) {
	return Send(c.Source, c.Variant.Listeners[c.Listener], []Chunk{{Data: c.Bytes()}}, timeout)
}

// nginxValue is a header value as nginx 1.22 stores it: leading and
// trailing spaces dropped (tabs are kept).
func nginxValue(v string) string { return strings.Trim(v, " ") }

// Expected is the resolver's side of a case.
type Expected struct {
	// Proxy is what nginx should make of the PROXY header.
	Proxy ProxyExpect
	// Vars are the six variables the resolver predicts. The last two
	// ($proxy_protocol_addr/_port) come from ExpectProxy.
	Vars [6]string
	// Result is the resolver's full result.
	Result realip.Result
}

func portText(p uint16) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(int(p))
}

// Expect computes the resolver's answer for the case, given the peer the
// kernel chose (ans.Local) and nginx's PROXY variables from ans (the
// resolver is fed the source text nginx reports, as the plugin would be).
func (c *Case) Expect(ans Answer) Expected {
	var e Expected
	if IsProxy(c.Listener) {
		e.Proxy = ExpectProxy(c.Bytes())
	} else {
		e.Proxy = ProxyExpect{Accept: true}
	}
	peer := ans.Local
	if IsMapped(c.Listener) {
		peer = netip.AddrPortFrom(netip.AddrFrom16(peer.Addr().As16()), peer.Port())
	}
	req := &realip.Request{Peer: peer}
	for _, h := range c.Headers {
		req.Headers = append(req.Headers, realip.Header{Name: h.Name, Value: nginxValue(h.Value)})
	}
	if e.Proxy.Proxy != nil {
		req.Proxy = &realip.Proxy{SrcAddr: ans.Vars[4]}
		if p, err := strconv.Atoi(ans.Vars[5]); err == nil {
			req.Proxy.SrcPort = uint16(p)
		}
		e.Vars[4], e.Vars[5] = e.Proxy.Proxy.SrcAddr, portText(e.Proxy.Proxy.SrcPort)
	}
	e.Result = c.Variant.Resolver.Resolve(req, nil)
	e.Vars[0] = realip.FormatAddr(e.Result.Addr)
	e.Vars[1] = portText(e.Result.Port)
	e.Vars[2] = realip.FormatAddr(e.Result.PeerAddr)
	e.Vars[3] = portText(e.Result.PeerPort)
	return e
}

// Compare returns "" when nginx's answer agrees with the resolver and the
// PROXY expectation, or a description of the difference.
func (c *Case) Compare(ans Answer) (Expected, string) {
	e := c.Expect(ans)
	switch {
	case !e.Proxy.Accept && ans.Closed:
		return e, ""
	case !e.Proxy.Accept:
		return e, "expected nginx to reject the PROXY header and close; it answered"
	case ans.Closed:
		return e, "nginx closed the connection without answering"
	case ans.Status != 200:
		return e, fmt.Sprintf("nginx answered HTTP %d", ans.Status)
	}
	var diffs []string
	names := [6]string{"$remote_addr", "$remote_port", "$realip_remote_addr", "$realip_remote_port", "$proxy_protocol_addr", "$proxy_protocol_port"}
	for i := range names {
		if ans.Vars[i] != e.Vars[i] {
			diffs = append(diffs, fmt.Sprintf("%s: nginx %q, expected %q", names[i], ans.Vars[i], e.Vars[i]))
		}
	}
	return e, strings.Join(diffs, "; ")
}

// Repro renders a self-contained reproducer for a mismatch.
func (c *Case) Repro(ans Answer, e Expected, diff string) string {
	var b strings.Builder
	name := c.Name
	if name == "" {
		name = "(random)"
	}
	fmt.Fprintf(&b, "MISMATCH %s: %s\n", name, diff)
	fmt.Fprintf(&b, "--- kong.conf (%s)\n%s", c.Variant.Name, c.Variant.KongConf)
	fmt.Fprintf(&b, "--- listener %s (proxy_protocol=%v, ipv4-mapped=%v), peer %s\n", c.Variant.Listeners[c.Listener], IsProxy(c.Listener), IsMapped(c.Listener), ans.Local)
	fmt.Fprintf(&b, "--- bytes sent (Go quoted)\n%q\n", c.Bytes())
	fmt.Fprintf(&b, "--- nginx:    %s\n", ans)
	fmt.Fprintf(&b, "--- resolver: %s (status %d, taken %d, malformed %q; PROXY accept=%v)\n",
		strings.Join(e.Vars[:], " "), e.Result.Status, e.Result.Taken, e.Result.Malformed, e.Proxy.Accept)
	return b.String()
}

// Shrink looks for a smaller case that still mismatches: it drops header
// lines, then separator-delimited pieces of each remaining value, keeping
// every removal after which nginx and the resolver still disagree. It
// returns the smallest case found, its answer and its difference.
func (c *Case) Shrink(timeout time.Duration) (*Case, Answer, Expected, string) {
	fails := func(k *Case) (Answer, Expected, string, bool) {
		ans, err := k.Run(timeout)
		if err != nil {
			return ans, Expected{}, "", false
		}
		e, diff := k.Compare(ans)
		return ans, e, diff, diff != ""
	}
	best := c
	ans, e, diff, ok := fails(c)
	if !ok {
		return c, ans, e, diff
	}
	try := func(k *Case) bool {
		if a, ex, d, bad := fails(k); bad {
			best, ans, e, diff = k, a, ex, d
			return true
		}
		return false
	}
	for i := 0; i < len(best.Headers); {
		k := *best
		k.Headers = append(append([]realip.Header{}, best.Headers[:i]...), best.Headers[i+1:]...)
		if !try(&k) {
			i++
		}
	}
	for i := range best.Headers {
		parts := strings.SplitAfter(best.Headers[i].Value, ",")
		for j := 0; j < len(parts) && len(parts) > 1; {
			rest := append(append([]string{}, parts[:j]...), parts[j+1:]...)
			k := *best
			k.Headers = append([]realip.Header{}, best.Headers...)
			k.Headers[i].Value = strings.Join(rest, "")
			if try(&k) {
				parts = rest
			} else {
				j++
			}
		}
	}
	return best, ans, e, diff
}
