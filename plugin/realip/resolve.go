// Package realip reproduces nginx's ngx_http_realip_module, which computes
// the client address Kong sees: $remote_addr and $remote_port after
// set_real_ip_from (Kong's trusted_ips), real_ip_header and
// real_ip_recursive have been applied, and $realip_remote_addr/_port, the
// connection peer.
//
// The package is pure: no I/O, no PDK. The same Resolver serves the Kong
// plugin, the emulated gateway and the CLI, so all three agree with each
// other and, by the differential tests, with nginx.
//
// The traps it reproduces on purpose (see the tests for each):
//   - Only a trusted peer's header is read. The header's rightmost token
//     wins, and it is not itself checked against the trusted set unless
//     real_ip_recursive is on.
//   - Recursive: move left while the current address is trusted; if every
//     entry is trusted the leftmost wins.
//   - A token nginx cannot parse stops the walk. If nothing was taken yet
//     the header is ignored; otherwise the last address taken (a trusted
//     proxy, usually) is the answer.
//   - X-Forwarded-For lines are walked from the last line backwards;
//     without recursion only the last line counts. X-Real-IP and custom
//     headers use their first line only.
//   - real_ip_header is matched case-sensitively against "X-Real-IP",
//     "X-Forwarded-For" and "proxy_protocol"; any other spelling is a
//     custom header, which changes which line counts.
package realip

import (
	"net/netip"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/plugin/forwarded"
	"github.com/client-ip-guard/client-ip-guard/plugin/internal/iprange"
)

// Kind is where a Resolver takes the client address from.
type Kind uint8

const (
	// KindXRealIP reads the first X-Real-IP line (nginx's default).
	KindXRealIP Kind = iota
	// KindXForwardedFor reads every X-Forwarded-For line.
	KindXForwardedFor
	// KindProxyProtocol reads the PROXY protocol source address.
	KindProxyProtocol
	// KindCustom reads the first line of any other header.
	KindCustom
	// KindForwarded reads RFC 7239 Forwarded "for=" nodes. nginx cannot do
	// this; it is offered by the plugin only and never chosen by NewResolver.
	KindForwarded
)

// String names the kind as it appears in records.
func (k Kind) String() string {
	switch k {
	case KindXRealIP:
		return "x-real-ip"
	case KindXForwardedFor:
		return "x-forwarded-for"
	case KindProxyProtocol:
		return "proxy_protocol"
	case KindCustom:
		return "custom"
	case KindForwarded:
		return "forwarded"
	}
	return "unknown"
}

// Header is one request header line as the client sent it.
type Header struct {
	Name  string
	Value string
}

// Proxy is the PROXY protocol source nginx stored for the connection: the
// address text as read from the header and the source port.
type Proxy struct {
	SrcAddr string
	SrcPort uint16
}

// Request is what nginx knows when realip runs.
type Request struct {
	// Peer is the connection's remote address. The zero value stands for a
	// Unix-socket peer.
	Peer netip.AddrPort
	// Headers holds every header line, in order, repeats kept.
	Headers []Header
	// Proxy is set when the listener read a PROXY header that carried
	// addresses (not LOCAL, not UNKNOWN).
	Proxy *Proxy
}

// Status is how the walk ended, mirroring nginx's return codes.
type Status uint8

const (
	// Declined: nothing was taken; $remote_addr stays the peer.
	Declined Status = iota
	// Replaced: the walk ran to its end; $remote_addr is the last address taken.
	Replaced
	// Stopped: the walk took at least one address, then found the last
	// one taken untrusted while entries remained (in its own line or an
	// earlier one), or met an unparsable token; $remote_addr is the last
	// address taken (nginx's NGX_DONE). The usual recursive answer, a
	// client left of trusted proxies, is Stopped; Replaced means the
	// walk ran out of entries.
	Stopped
)

// Result is what nginx would put in its variables, plus why.
type Result struct {
	// Addr and Port are $remote_addr and $remote_port. Port 0 means nginx
	// leaves $remote_port empty (a header token without a port).
	Addr netip.Addr
	Port uint16
	// Unix is set when the peer is a Unix socket and nothing replaced it.
	Unix bool
	// PeerAddr and PeerPort are $realip_remote_addr and $realip_remote_port.
	PeerAddr netip.Addr
	PeerPort uint16
	// PeerTrusted reports whether the peer is in the trusted set.
	PeerTrusted bool
	// Status is how the walk ended.
	Status Status
	// Found reports whether the configured source was present: a header
	// line with the configured name, or PROXY data on the connection.
	Found bool
	// Line is the index in Request.Headers of the header line the result
	// came from, or -1.
	Line int
	// Taken counts the addresses taken from the source.
	Taken int
	// AddrTrusted reports whether Addr (when replaced) is itself in the
	// trusted set: the walk ended on a proxy, not a client.
	AddrTrusted bool
	// Malformed holds the token that stopped the walk because nginx could
	// not parse it; "" when none did. It is a substring of the input.
	Malformed string
}

// Replaced reports whether $remote_addr differs from the peer's slot, i.e.
// nginx rewrote it.
func (r *Result) Replaced() bool { return r.Status != Declined }

// Step is one step of the walk, for explaining a result.
type Step struct {
	// Line is the header line index the token came from (-1 for the peer
	// or PROXY data).
	Line int
	// Token is the text examined ("" for the peer step).
	Token string
	// Addr and Port are the parsed token, when it parsed.
	Addr netip.Addr
	Port uint16
	// Parsed reports whether nginx accepted the token as an address.
	Parsed bool
	// Trusted reports whether the address being checked was trusted; the
	// walk continues only past trusted addresses.
	Trusted bool
	// Note says what nginx did, in words.
	Note string
}

// Trace collects the steps of a walk when explaining; pass nil on the hot
// path.
type Trace struct {
	Steps []Step
}

func (t *Trace) add(s Step) {
	if t != nil {
		t.Steps = append(t.Steps, s)
	}
}

// Resolver computes the client address for one configuration. It is
// immutable and safe for concurrent use.
type Resolver struct {
	trusted   *Trusted
	set       *iprange.Set // trusted's ranges, nil with no trusted: one call per lookup
	kind      Kind
	header    string // lower-cased header name for KindCustom/KindForwarded
	recursive bool
}

// HeaderKind maps a real_ip_header value to the Kind nginx would use. The
// comparison is case-sensitive, as in nginx.
func HeaderKind(realIPHeader string) Kind {
	switch realIPHeader {
	case "X-Real-IP":
		return KindXRealIP
	case "X-Forwarded-For":
		return KindXForwardedFor
	case "proxy_protocol":
		return KindProxyProtocol
	}
	return KindCustom
}

// NewResolver returns a Resolver for Kong's trusted_ips, real_ip_header and
// real_ip_recursive, behaving exactly as nginx does. An empty header means
// nginx's default, X-Real-IP.
func NewResolver(trusted *Trusted, realIPHeader string, recursive bool) *Resolver {
	if realIPHeader == "" {
		realIPHeader = "X-Real-IP"
	}
	r := &Resolver{trusted: trusted, set: trusted.ranges(), kind: HeaderKind(realIPHeader), recursive: recursive}
	if r.kind == KindCustom {
		r.header = strings.ToLower(realIPHeader)
	}
	return r
}

// NewForwardedResolver returns a Resolver that walks RFC 7239 Forwarded
// "for=" nodes with nginx's trust rules: a trusted peer's rightmost node
// wins, and with recursive on the walk moves left past trusted nodes. A
// node that is not an address ("unknown", an obfuscated "_name", a bad
// value) stops the walk as a malformed token does in nginx.
func NewForwardedResolver(trusted *Trusted, recursive bool) *Resolver {
	return &Resolver{trusted: trusted, set: trusted.ranges(), kind: KindForwarded, header: "forwarded", recursive: recursive}
}

// Kind returns where the resolver takes the client address from.
func (r *Resolver) Kind() Kind { return r.kind }

// HeaderName returns the lower-cased header the resolver reads, or "" for
// PROXY protocol.
func (r *Resolver) HeaderName() string {
	switch r.kind {
	case KindXRealIP:
		return "x-real-ip"
	case KindXForwardedFor:
		return "x-forwarded-for"
	case KindProxyProtocol:
		return ""
	}
	return r.header
}

// Recursive reports whether real_ip_recursive is on.
func (r *Resolver) Recursive() bool { return r.recursive }

// Trusted returns the trusted set.
func (r *Resolver) Trusted() *Trusted { return r.trusted }

// Resolve computes nginx's variables for req. It does not allocate unless
// trace is non-nil.
func (r *Resolver) Resolve(req *Request, trace *Trace) Result {
	// The result is built in place in the walker, which owns it by value
	// so that nothing escapes to the heap.
	w := walker{r: r, trace: trace, known: true}
	res := &w.res
	res.Line = -1
	peerUnix := !req.Peer.IsValid()
	if peerUnix {
		res.Unix = true
		res.PeerTrusted = r.trusted.ContainsUnix()
	} else {
		res.PeerAddr = req.Peer.Addr()
		res.PeerPort = req.Peer.Port()
		res.PeerTrusted = r.set.Contains(res.PeerAddr)
	}
	res.Addr, res.Port = res.PeerAddr, res.PeerPort
	w.cur, w.curUnix, w.isTrusted = res.PeerAddr, peerUnix, res.PeerTrusted
	if trace != nil {
		trace.add(Step{Line: -1, Addr: res.PeerAddr, Port: res.PeerPort, Parsed: true, Trusted: res.PeerTrusted, Note: peerNote(peerUnix, res.PeerTrusted)})
	}

	switch r.kind {
	case KindProxyProtocol:
		if req.Proxy == nil {
			trace.add(Step{Line: -1, Note: "no PROXY protocol data on this connection: $remote_addr stays the peer"})
			return w.res
		}
		w.res.Found = true
		st := w.walk(req.Proxy.SrcAddr, -1, false)
		if st != Declined {
			// nginx sets the PROXY source port whatever the text said.
			w.port = req.Proxy.SrcPort
		}
		w.finish(st)
	case KindXForwardedFor, KindForwarded:
		// Walk lines from the last one backwards; without recursion only
		// the last line counts. RFC 7239 makes repeated Forwarded lines one
		// list, so they are walked the same way.
		name := r.HeaderName()
		for i := len(req.Headers) - 1; i >= 0; i-- {
			if !isHeader(req.Headers[i].Name, name) {
				continue
			}
			w.res.Found = true
			st := w.walk(req.Headers[i].Value, i, r.kind == KindForwarded)
			if !r.recursive {
				w.finish(st)
				return w.res
			}
			if st == Declined && w.found {
				w.finish(Stopped)
				return w.res
			}
			if st != Replaced {
				w.finish(st)
				return w.res
			}
		}
		if !w.res.Found {
			if trace != nil {
				trace.add(Step{Line: -1, Note: "no " + name + " line: $remote_addr stays the peer"})
			}
			return w.res
		}
		w.finish(Replaced)
	default:
		name := r.HeaderName()
		for i := range req.Headers {
			if isHeader(req.Headers[i].Name, name) {
				w.res.Found = true
				w.finish(w.walk(req.Headers[i].Value, i, false))
				return w.res
			}
		}
		if trace != nil {
			trace.add(Step{Line: -1, Note: "no " + name + " line: $remote_addr stays the peer"})
		}
	}
	return w.res
}

func peerNote(unix, trusted bool) string {
	switch {
	case unix && trusted:
		return "peer is a Unix socket and unix: is trusted"
	case unix:
		return "peer is a Unix socket, not trusted"
	case trusted:
		return "peer is trusted: its forwarding information is read"
	}
	return "peer is not trusted: $remote_addr stays the peer"
}

// walker carries the state nginx keeps across the header lines of one
// request: the address being checked and whether one was taken.
type walker struct {
	r       *Resolver
	res     Result
	trace   *Trace
	cur     netip.Addr
	curUnix bool
	port    uint16
	found   bool
	line    int
	// known and isTrusted memoize whether cur is trusted, so that no
	// address is looked up twice.
	known     bool
	isTrusted bool
}

func (w *walker) trusted() bool {
	if !w.known {
		if w.curUnix {
			w.isTrusted = w.r.trusted.ContainsUnix()
		} else {
			w.isTrusted = w.r.set.Contains(w.cur)
		}
		w.known = true
	}
	return w.isTrusted
}

// walk is nginx's ngx_http_get_forwarded_addr_internal over one value:
// right to left, a token is the rightmost run without ' ' or ','.
func (w *walker) walk(v string, line int, rfc7239 bool) Status {
	found := false
	n := len(v) // length of the unexamined prefix
	for {
		if !w.trusted() {
			if w.trace != nil && (found || w.found) {
				w.trace.add(Step{Line: w.line, Addr: w.cur, Port: w.port, Parsed: true, Note: "not trusted: the walk stops here"})
			}
			if found {
				return Stopped
			}
			return Declined
		}
		var tok string
		var start int
		if rfc7239 {
			n = forwarded.TrimRight(v[:n])
			start = forwarded.LastElementStart(v[:n])
		} else {
			start = lastTokenStart(v, &n)
		}
		if n > start {
			tok = v[start:n]
		}
		a, port, ok := w.parse(tok, rfc7239)
		if !ok {
			if w.res.Malformed == "" {
				w.res.Malformed = tok
			}
			w.trace.add(Step{Line: line, Token: tok, Note: "not an address nginx accepts: the walk stops"})
			if found {
				return Stopped
			}
			return Declined
		}
		w.cur, w.curUnix, w.port = a, false, port
		w.known = false
		w.line = line
		found, w.found = true, true
		w.res.Taken++
		more := w.r.recursive && start > 0
		if w.trace != nil {
			note := "taken as the client address"
			if more {
				note = "taken; checking whether it is trusted"
			}
			w.trace.add(Step{Line: line, Token: tok, Addr: a, Port: port, Parsed: true, Trusted: w.trusted(), Note: note})
		}
		if !more {
			return Replaced
		}
		n = start - 1
	}
}

func (w *walker) parse(tok string, rfc7239 bool) (netip.Addr, uint16, bool) {
	if rfc7239 {
		node, err := forwarded.ElementFor(tok)
		if err != nil || !node.Addr.IsValid() {
			return netip.Addr{}, 0, false
		}
		return node.Addr, node.Port, true
	}
	return ParseAddrPort(tok)
}

// lastTokenStart finds the rightmost token of v[:*n] as nginx does: it
// skips trailing ' ' and ',' (shrinking *n), then moves left to the byte
// after the previous separator. Byte 0 is never examined as a separator,
// so a value starting with ',' yields a token starting with ','.
func lastTokenStart(v string, n *int) int {
	v = v[:*n]
	p := len(v) - 1
	for p > 0 && (v[p] == ' ' || v[p] == ',') {
		p--
	}
	if p < 0 {
		return 0
	}
	*n = p + 1
	for i := p; i > 0; i-- {
		if c := v[i]; c == ' ' || c == ',' {
			return i + 1
		}
	}
	return 0
}

func (w *walker) finish(st Status) {
	w.res.Status = st
	if st == Declined {
		return
	}
	w.res.Addr, w.res.Port, w.res.Unix = w.cur, w.port, false
	w.res.Line = w.line
	w.res.AddrTrusted = w.trusted()
}

// isHeader compares a header name with a lower-case name, ASCII
// case-insensitively, without allocating.
func isHeader(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
