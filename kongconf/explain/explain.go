// Package explain walks one request through nginx's realip logic, as Kong
// runs it, and says step by step what happens: the resolved
// $remote_addr/$remote_port, the untouched $realip_remote_addr/_port, and
// client-ip-guard's verdict. It uses the plugin's own resolver, so the CLI
// and the plugin cannot disagree.
package explain

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// Input is one request and the node settings that decide its client address.
type Input struct {
	TrustedIPs      []string
	RealIPHeader    string
	RealIPRecursive bool
	// Peer is "ADDR", "ADDR:PORT", "[V6]:PORT" or "unix:".
	Peer string
	// ProxyProtocol is the PROXY header's source "ADDR[:PORT]", or "".
	ProxyProtocol string
	// Headers are "Name: value" lines, in order, repeats kept.
	Headers []string
}

// Step is one line of the explanation.
type Step struct {
	Line    int    `json:"line"`
	Token   string `json:"token,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Port    int    `json:"port,omitempty"`
	Parsed  bool   `json:"parsed"`
	Trusted bool   `json:"trusted"`
	Note    string `json:"note"`
}

// Report is the explanation; its JSON form is the CLI's interface.
type Report struct {
	RemoteAddr       string   `json:"remote_addr"`
	RemotePort       int      `json:"remote_port"`
	RealIPRemoteAddr string   `json:"realip_remote_addr"`
	RealIPRemotePort int      `json:"realip_remote_port"`
	Verdict          string   `json:"verdict"`
	Reasons          []string `json:"reasons"`
	Source           string   `json:"source"`
	Replaced         bool     `json:"replaced"`
	Steps            []Step   `json:"steps"`
	Warnings         []string `json:"warnings,omitempty"`
}

// Run explains in. Errors name the bad input.
func Run(in Input) (*Report, error) {
	trusted, warns, err := realip.ParseTrusted(in.TrustedIPs)
	if err != nil {
		return nil, fmt.Errorf("trusted_ips: %w", err)
	}
	header := in.RealIPHeader
	if header == "" {
		header = "X-Real-IP"
	}
	res := realip.NewResolver(trusted, header, in.RealIPRecursive)
	req := realip.Request{}
	if in.Peer != "unix:" {
		ap, err := parseAddrPort(in.Peer)
		if err != nil {
			return nil, fmt.Errorf("--peer %q: %w", in.Peer, err)
		}
		req.Peer = ap
	}
	if in.ProxyProtocol != "" {
		ap, err := parseAddrPort(in.ProxyProtocol)
		if err != nil {
			return nil, fmt.Errorf("--proxy-protocol %q: %w", in.ProxyProtocol, err)
		}
		req.Proxy = &realip.Proxy{SrcAddr: ap.Addr().String(), SrcPort: ap.Port()}
	}
	var fwd verdict.Forwarding
	lines := 0
	for _, h := range in.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
		value = strings.Trim(value, " \t")
		req.Headers = append(req.Headers, realip.Header{Name: name, Value: value})
		switch lower := strings.ToLower(name); lower {
		case "x-forwarded-for":
			fwd |= verdict.HasXForwardedFor
		case "x-real-ip":
			fwd |= verdict.HasXRealIP
		case "forwarded":
			fwd |= verdict.HasForwarded
		default:
			if lower == res.HeaderName() {
				fwd |= verdict.HasConfigured
			}
		}
		if strings.EqualFold(name, res.HeaderName()) {
			lines++
		}
	}
	var tr realip.Trace
	r := res.Resolve(&req, &tr)
	v4, v6 := trusted.TrustsEverything()
	out := verdict.Judge(&verdict.Input{Result: &r, Kind: res.Kind(), Forwarding: fwd, SourceLines: lines, TrustAll: v4 || v6})
	rep := &Report{
		RemoteAddr:       addrText(r.Addr, r.Unix),
		RemotePort:       int(r.Port),
		RealIPRemoteAddr: addrText(r.PeerAddr, !r.PeerAddr.IsValid()),
		RealIPRemotePort: int(r.PeerPort),
		Verdict:          out.Verdict.String(),
		Reasons:          out.Reasons.Names(),
		Replaced:         r.Replaced(),
		Steps:            []Step{},
	}
	switch {
	case !r.Replaced():
		rep.Source = "socket"
	case res.Kind() == realip.KindProxyProtocol:
		rep.Source = "proxy_protocol"
	default:
		rep.Source = header
	}
	for _, s := range tr.Steps {
		st := Step{Line: s.Line, Token: s.Token, Parsed: s.Parsed, Trusted: s.Trusted, Note: s.Note, Port: int(s.Port)}
		if s.Addr.IsValid() {
			st.Addr = realip.FormatAddr(s.Addr)
		}
		rep.Steps = append(rep.Steps, st)
	}
	for _, w := range warns {
		rep.Warnings = append(rep.Warnings, w.Entry+": "+w.Message)
	}
	if v4 || v6 {
		rep.Warnings = append(rep.Warnings, "trusted_ips trusts every address: with a header source any client can forge its address")
	}
	return rep, nil
}

func addrText(a netip.Addr, unix bool) string {
	if unix {
		return "unix:"
	}
	return realip.FormatAddr(a)
}

// parseAddrPort accepts "ADDR", "ADDR:PORT" and "[V6]:PORT".
func parseAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("not an address or address:port")
	}
	return netip.AddrPortFrom(a, 0), nil
}

// Text writes the report for people.
func (r *Report) Text(w io.Writer) {
	fmt.Fprintln(w, "nginx realip walk:")
	for i, s := range r.Steps {
		where := "peer"
		if s.Line >= 0 {
			where = "line " + strconv.Itoa(s.Line+1)
		}
		tok := ""
		if s.Token != "" {
			tok = fmt.Sprintf(" %q", s.Token)
		}
		fmt.Fprintf(w, "  %d. [%s]%s %s\n", i+1, where, tok, s.Note)
	}
	port := func(p int) string {
		if p == 0 {
			return `""`
		}
		return strconv.Itoa(p)
	}
	fmt.Fprintf(w, "$remote_addr        = %s\n", r.RemoteAddr)
	fmt.Fprintf(w, "$remote_port        = %s\n", port(r.RemotePort))
	fmt.Fprintf(w, "$realip_remote_addr = %s\n", r.RealIPRemoteAddr)
	fmt.Fprintf(w, "$realip_remote_port = %s\n", port(r.RealIPRemotePort))
	fmt.Fprintf(w, "source              = %s\n", r.Source)
	fmt.Fprintf(w, "verdict             = %s", r.Verdict)
	if len(r.Reasons) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(r.Reasons, ", "))
	}
	fmt.Fprintln(w)
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
}
