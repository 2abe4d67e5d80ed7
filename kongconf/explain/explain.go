// Package explain walks one request through Kong as it runs it: nginx
// reads the header lines, realip computes $remote_addr (Kong's client
// address) from the node's trusted_ips and real_ip_* settings, and
// client-ip-guard judges the request. Each step is shown. The judgement is
// plugin/evaluate, the very function the plugin's handler calls, fed the
// facts Kong would give it, so the CLI and the plugin cannot disagree.
package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
)

// Input is one request, the node settings that decide Kong's client
// address and, optionally, the plugin's own config.
type Input struct {
	TrustedIPs      []string
	RealIPHeader    string
	RealIPRecursive bool
	// Plugin is the plugin instance's config as JSON (what decK or a
	// KongPlugin holds); empty mirrors the node settings above, as a
	// well-configured instance does.
	Plugin string
	// Peer is "ADDR", "ADDR:PORT", "[V6]:PORT" or "unix:".
	Peer string
	// ProxyProtocol is the PROXY header's source "ADDR[:PORT]", or "".
	ProxyProtocol string
	// Headers are request header lines as sent, "Name: value", in order,
	// repeats kept. They are read as nginx reads them.
	Headers []string
	// UnderscoresOff models nginx_proxy_underscores_in_headers = off: nginx
	// drops header lines whose name has a '_' (Kong's template turns it on,
	// kong/templates/nginx_kong.lua:30 at 3.9.3).
	UnderscoresOff bool
	// NginxVersion is the nginx the fast path's variable is rendered for,
	// "MAJOR.MINOR" (default DefaultNginx, Kong 3.6 to 3.9's).
	NginxVersion string
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

// Report is the explanation; its JSON form is the CLI's interface. The
// $-named fields are nginx's variables in Kong; the rest is the plugin's.
type Report struct {
	RemoteAddr       string   `json:"remote_addr"`
	RemotePort       int      `json:"remote_port"`
	RealIPRemoteAddr string   `json:"realip_remote_addr"`
	RealIPRemotePort int      `json:"realip_remote_port"`
	ClientIP         string   `json:"client_ip"`
	Verdict          string   `json:"verdict"`
	Reasons          []string `json:"reasons"`
	Action           string   `json:"action"`
	Source           string   `json:"source"`
	Replaced         bool     `json:"replaced"`
	Steps            []Step   `json:"steps"`
	// PluginSteps is the plugin's own walk, when it reads a source nginx
	// cannot (Forwarded).
	PluginSteps []Step `json:"plugin_steps,omitempty"`
	// Record is what the plugin would log for this request.
	Record *record.Record `json:"record"`
	// FastPath is what the plugin's fast path would make of the request.
	FastPath *FastPath `json:"fast_path"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Run explains in. Errors name the bad input.
func Run(in Input) (*Report, error) {
	node, err := nodeResolver(in)
	if err != nil {
		return nil, err
	}
	conf, err := pluginConfig(in)
	if err != nil {
		return nil, err
	}
	// Policy, not Compile: a config decoded from JSON compiles in
	// UnmarshalJSON and keeps only its policy, as the plugin's does.
	pol, err := conf.Policy()
	if err != nil {
		return nil, err
	}
	rep := &Report{Steps: []Step{}}
	lines, err := readHeaders(in.Headers, in.UnderscoresOff, rep)
	if err != nil {
		return nil, err
	}
	var f evaluate.Facts
	if err := setPeer(&f, in); err != nil {
		return nil, err
	}
	source := pol.Resolver.HeaderName()
	for i, h := range lines {
		if i == evaluate.MaxHeaders {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("Kong's get_headers returns the first %d lines: the plugin sees no more", evaluate.MaxHeaders))
			break
		}
		f.AddHeader(source, []byte(h.Name), []byte(h.Value))
	}

	// Kong's own $remote_addr: nginx's walk over every line.
	nodeReq := realip.Request{Peer: f.Req.Peer, Proxy: f.Req.Proxy, Headers: lines}
	var trace realip.Trace
	kong := node.Resolve(&nodeReq, &trace)
	f.SetKong(addrText(kong.Addr, kong.Unix))

	var ptrace realip.Trace
	ev := evaluate.Evaluate(pol, &f, &ptrace)
	res := &ev.Result
	rep.RemoteAddr = addrText(kong.Addr, kong.Unix)
	rep.RemotePort = int(kong.Port)
	rep.RealIPRemoteAddr = addrText(kong.PeerAddr, !kong.PeerAddr.IsValid())
	rep.RealIPRemotePort = int(kong.PeerPort)
	rep.ClientIP = addrText(res.Addr, res.Unix)
	rep.Verdict = ev.Outcome.Verdict.String()
	rep.Reasons = ev.Outcome.Reasons.Names()
	rep.Action = ev.Action
	rep.Replaced = res.Replaced()
	rep.Record = ev.Record(pol, &f, guardconf.Scope{}, "")
	rep.Source = rep.Record.Source
	rep.Steps = steps(trace.Steps)
	if pol.Resolver.Kind() == realip.KindForwarded {
		rep.PluginSteps = steps(ptrace.Steps)
	}
	rep.Warnings = append(rep.Warnings, pol.Warnings...)
	if rep.FastPath, err = fastPath(in, pol, rep, lines, &ev); err != nil {
		return nil, err
	}
	return rep, nil
}

// nodeResolver is nginx's realip as Kong's settings configure it. nginx
// has no RFC 7239 parser: real_ip_header Forwarded is a plain header to it.
func nodeResolver(in Input) (*realip.Resolver, error) {
	trusted, _, err := realip.ParseTrusted(in.TrustedIPs)
	if err != nil {
		return nil, fmt.Errorf("trusted_ips: %w", err)
	}
	header := strings.TrimSpace(in.RealIPHeader)
	if header == "" {
		header = "X-Real-IP"
	}
	return realip.NewResolver(trusted, header, in.RealIPRecursive), nil
}

// pluginConfig is the plugin config to judge with: in.Plugin, or the node
// settings mirrored.
func pluginConfig(in Input) (*guardconf.Config, error) {
	c := &guardconf.Config{}
	if strings.TrimSpace(in.Plugin) == "" {
		c.TrustedIPs, c.RealIPHeader, c.RealIPRecursive = in.TrustedIPs, in.RealIPHeader, in.RealIPRecursive
		return c, nil
	}
	if err := json.Unmarshal([]byte(in.Plugin), c); err != nil {
		return nil, fmt.Errorf("--plugin-config: %w", err)
	}
	return c, nil
}

// readHeaders parses the lines as nginx does; lines nginx ignores are
// reported and dropped. With underscores off, a '_' in a name is invalid
// to nginx too (ngx_http_parse_header_line, 1.25.3 src/http/ngx_http_parse.c),
// and ignore_invalid_headers drops the line.
func readHeaders(raw []string, underscoresOff bool, rep *Report) ([]realip.Header, error) {
	var out []realip.Header
	for _, l := range raw {
		h, err := parseHeaderLine(l)
		if err != nil {
			return nil, fmt.Errorf("-H %q: %w", l, err)
		}
		if h.Ignored {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("nginx ignores the header line %q: its name has a byte other than letters, digits, '-' and '_' (ignore_invalid_headers on)", l))
			continue
		}
		if underscoresOff && strings.Contains(h.Name, "_") {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("nginx ignores the header line %q: its name has a '_' and underscores_in_headers is off (nginx_proxy_underscores_in_headers)", l))
			continue
		}
		out = append(out, realip.Header{Name: h.Name, Value: h.Value})
	}
	return out, nil
}

func setPeer(f *evaluate.Facts, in Input) error {
	if in.Peer != "unix:" {
		ap, err := parseAddrPort(in.Peer)
		if err != nil {
			return fmt.Errorf("--peer %q: %w", in.Peer, err)
		}
		if err := f.SetPeer(ap.Addr().String()); err != nil {
			return fmt.Errorf("--peer %q: %w", in.Peer, err)
		}
		f.SetPeerPort(ap.Port())
	} else if err := f.SetPeer("unix:"); err != nil {
		return err
	}
	if in.ProxyProtocol != "" {
		host, port, err := splitProxy(in.ProxyProtocol)
		if err != nil {
			return fmt.Errorf("--proxy-protocol %q: %w", in.ProxyProtocol, err)
		}
		f.SetProxy(host, port)
	}
	return nil
}

// splitProxy splits "ADDR[:PORT]" or "[V6]:PORT" as $proxy_protocol_addr
// and _port. The address text is kept as nginx's PROXY reader stored it
// (010.1.1.1, 255.255.255.255); realip then reads it as nginx does.
func splitProxy(s string) (string, uint16, error) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, fmt.Errorf("missing ']'")
		}
		host, port = s[1:end], strings.TrimPrefix(s[end+1:], ":")
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	if host == "" || strings.ContainsAny(host, " \t,") {
		return "", 0, fmt.Errorf("not an address")
	}
	if port == "" {
		return host, 0, nil
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: not a number from 0 to 65535", port)
	}
	return host, uint16(p), nil
}

func steps(ss []realip.Step) []Step {
	out := []Step{}
	for _, s := range ss {
		st := Step{Line: s.Line, Token: s.Token, Parsed: s.Parsed, Trusted: s.Trusted, Note: s.Note, Port: int(s.Port)}
		if s.Addr.IsValid() {
			st.Addr = realip.FormatAddr(s.Addr)
		}
		out = append(out, st)
	}
	return out
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
	writeSteps(w, r.Steps)
	if len(r.PluginSteps) > 0 {
		fmt.Fprintln(w, "client-ip-guard walk (RFC 7239 Forwarded, which nginx cannot read):")
		writeSteps(w, r.PluginSteps)
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
	fmt.Fprintf(w, "client (plugin)     = %s\n", r.ClientIP)
	fmt.Fprintf(w, "source              = %s\n", r.Source)
	fmt.Fprintf(w, "verdict             = %s", r.Verdict)
	if len(r.Reasons) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(r.Reasons, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "action              = %s\n", r.Action)
	if r.FastPath != nil {
		fmt.Fprintf(w, "fast path           = %s\n", r.FastPath.fastText())
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
}

func writeSteps(w io.Writer, ss []Step) {
	for i, s := range ss {
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
}
