// Package evaluate is client-ip-guard's whole decision for one request,
// with no I/O: the facts Kong gives about the request (peer, header lines,
// PROXY data, Kong's own $remote_addr) and a compiled policy in; the
// resolution, the verdict, the action, what to clear or set upstream and
// the record out. The plugin's access handler, `kongconf explain` and the
// tests all call it, so they cannot disagree.
//
// A Facts value is filled line by line (AddHeader), evaluated once, and
// may be Reset and reused: on the plugin's ok path nothing allocates but
// the copy of the source header's value.
package evaluate

import (
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// MaxHeaders is the number of header lines Kong's kong.request.get_headers
// returns at most (its cap, which the guard asks for): a request with more
// lines cannot be judged, because the source may lie beyond them.
const MaxHeaders = 1000

// maxUnderscored bounds the distinct underscore spellings kept for
// stripping (x_forwarded_for, x-forwarded_for, ...): each costs a PDK call.
const maxUnderscored = 16

// Facts are what Kong tells the guard about one request.
type Facts struct {
	// Req is the resolver's input: the peer, the source header's lines
	// only, and the PROXY data.
	Req realip.Request
	// KongAddr is Kong's own $remote_addr; KongKnown reports whether it
	// was read (explain models a Kong configured as the plugin is).
	KongAddr  string
	KongKnown bool
	// Forwarding and Underscored are the forwarding headers present, under
	// their standard names and spelled with '_' for '-'.
	Forwarding  verdict.Forwarding
	Underscored verdict.Forwarding
	// SourceLines counts the lines of the configured source header.
	SourceLines int
	// Lines counts every header line; Truncated reports that Kong's cap
	// was reached.
	Lines     int
	Truncated bool
	// underscoredNames are the names, as sent (lowercased), of the
	// underscore spellings, for strip; nUnderscored of them are set.
	underscoredNames [maxUnderscored]string
	nUnderscored     int
	proxy            realip.Proxy
}

// Reset empties f for the next request, keeping its buffers.
func (f *Facts) Reset() {
	hs := f.Req.Headers[:0]
	*f = Facts{}
	f.Req.Headers = hs
}

// SetPeer records the connection's peer as Kong's kong.client.get_ip gives
// it: an address, or "unix:" for a Unix socket.
func (f *Facts) SetPeer(peer string) error {
	if peer == "unix:" {
		f.Req.Peer = netip.AddrPort{}
		return nil
	}
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return err
	}
	f.Req.Peer = netip.AddrPortFrom(a.WithZone(""), f.Req.Peer.Port())
	return nil
}

// SetPeerPort records the peer's port, when it is known.
func (f *Facts) SetPeerPort(port uint16) {
	f.Req.Peer = netip.AddrPortFrom(f.Req.Peer.Addr(), port)
}

// SetProxy records the PROXY protocol source nginx read for the
// connection ($proxy_protocol_addr and _port).
func (f *Facts) SetProxy(addr string, port uint16) {
	f.proxy = realip.Proxy{SrcAddr: addr, SrcPort: port}
	f.Req.Proxy = &f.proxy
}

// SetKong records Kong's own $remote_addr (kong.client.get_forwarded_ip).
func (f *Facts) SetKong(addr string) {
	f.KongAddr, f.KongKnown = addr, true
}

// AddHeader takes one request header line. name is matched without regard
// to ASCII case (Kong's get_headers lowercases it); source is the policy's
// lowercase source header name ("" for PROXY protocol). The source's
// values are kept without a copy: value must stay unchanged until f is
// Reset (the guard's get_headers reply lives as long as its Facts).
func (f *Facts) AddHeader(source string, name, value []byte) {
	f.Lines++
	if f.Lines >= MaxHeaders {
		f.Truncated = true
	}
	bit := forwardingBit(name, source)
	if bit != 0 {
		f.Forwarding |= bit
	} else if bit = underscoredBit(name, source); bit != 0 {
		f.Underscored |= bit
		f.keepUnderscored(name)
	}
	if source != "" && equalFold(name, source) {
		f.SourceLines++
		f.Req.Headers = append(f.Req.Headers, realip.Header{Name: source, Value: unsafe.String(unsafe.SliceData(value), len(value))})
	}
}

func (f *Facts) keepUnderscored(name []byte) {
	for _, n := range f.underscoredNames[:f.nUnderscored] {
		if equalFold(name, n) {
			return
		}
	}
	if f.nUnderscored < maxUnderscored {
		f.underscoredNames[f.nUnderscored] = strings.ToLower(string(name))
		f.nUnderscored++
	}
}

// forwardingBit names the forwarding header name is, exactly (any case).
func forwardingBit(name []byte, source string) verdict.Forwarding {
	switch {
	case equalFold(name, "x-forwarded-for"):
		return verdict.HasXForwardedFor
	case equalFold(name, "x-real-ip"):
		return verdict.HasXRealIP
	case equalFold(name, "forwarded"):
		return verdict.HasForwarded
	case source != "" && equalFold(name, source):
		return verdict.HasConfigured
	}
	return 0
}

// underscoredBit names the forwarding header name spells with at least one
// '_' where the standard name has '-'.
func underscoredBit(name []byte, source string) verdict.Forwarding {
	if indexByte(name, '_') < 0 {
		return 0
	}
	switch {
	case dashFold(name, "x-forwarded-for"):
		return verdict.HasXForwardedFor
	case dashFold(name, "x-real-ip"):
		return verdict.HasXRealIP
	case source != "" && dashFold(name, source) && indexByte([]byte(source), '_') < 0:
		return verdict.HasConfigured
	}
	return 0
}

// Evaluation is the decision for one request.
type Evaluation struct {
	// Result is nginx's resolution, as the plugin computes it.
	Result realip.Result
	// Outcome is the verdict and its reasons.
	Outcome verdict.Outcome
	// Reject reports whether the verdict is one the policy rejects;
	// Action is the record's action: allowed, would_reject or rejected.
	Reject bool
	Action string
}

// Evaluate resolves and judges f under pol. trace, if not nil, receives
// the resolver's steps.
func Evaluate(pol *guardconf.Policy, f *Facts, trace *realip.Trace) Evaluation {
	var ev Evaluation
	ev.Result = pol.Resolver.Resolve(&f.Req, trace)
	res := &ev.Result
	kind := pol.Resolver.Kind()
	in := verdict.Input{
		Result:      res,
		Kind:        kind,
		Forwarding:  f.Forwarding,
		Underscored: f.Underscored,
		SourceLines: f.SourceLines,
		KongAddr:    f.KongAddr,
		KongKnown:   f.KongKnown,
		Truncated:   f.Truncated,
		TrustAll:    pol.TrustAllWarns,
	}
	if pol.HasAllowDeny() {
		in.Denied, in.DenyReason = allowDeny(pol, res, kind, f.Truncated)
	}
	ev.Outcome = verdict.Judge(&in)
	// require_trusted_peer: Kong must be reached through a trusted proxy
	// only, so any untrusted peer is refused, whatever else it did.
	ev.Reject = pol.Reject.Has(ev.Outcome.Verdict) || (pol.RequirePeer && !res.PeerTrusted)
	ev.Action = record.ActionAllowed
	if ev.Reject {
		ev.Action = record.ActionWouldReject
		if pol.Enforce {
			ev.Action = record.ActionRejected
		}
	}
	return ev
}

// allowDeny applies the lists to the verified client address. A proxy's
// address is never matched: when no client address could be verified the
// request is denied, since the client may be a denied one.
func allowDeny(pol *guardconf.Policy, res *realip.Result, kind realip.Kind, truncated bool) (bool, string) {
	switch {
	case truncated || !verdict.Verified(res, kind):
		return true, verdict.ReasonClientUnverified
	case res.Unix:
		// A Unix-socket client is in no CIDR: not deny-listed, and not on
		// a non-empty allow list.
		return pol.AllowDeny(netip.Addr{})
	}
	return pol.AllowDeny(res.Addr)
}

// Anomaly reports whether ev is worth a record under log_when=anomalies.
func (ev *Evaluation) Anomaly(pol *guardconf.Policy) bool {
	return ev.Reject || ev.Outcome.Anomaly(pol.Reject)
}

// Logged reports whether ev gets a record under pol's log_when.
func (ev *Evaluation) Logged(pol *guardconf.Policy) bool {
	switch pol.LogWhen {
	case guardconf.LogAll:
		return true
	case guardconf.LogAnomalies:
		return ev.Anomaly(pol)
	}
	return false
}

// Passes reports whether the request goes on to the upstream.
func (ev *Evaluation) Passes(pol *guardconf.Policy) bool { return !ev.Reject || !pol.Enforce }

// Strip returns the header names to clear before Kong forwards the request,
// under strip_untrusted_forwarding, as Kong's get_headers spelled them
// (kong.service.request.clear_header is ngx.req.clear_header, which does
// not equate '_' and '-'): every forwarding header an untrusted peer sent,
// or that came beside PROXY data (an L4 load balancer adds none), and every
// underscore spelling whatever the peer.
func (ev *Evaluation) Strip(pol *guardconf.Policy, f *Facts) []string {
	if !pol.Strip {
		return nil
	}
	var out []string
	res := &ev.Result
	clientSent := !res.PeerTrusted || (pol.Resolver.Kind() == realip.KindProxyProtocol && res.Found)
	if clientSent {
		add := func(name string, bit verdict.Forwarding) {
			if f.Forwarding&bit != 0 {
				out = append(out, name)
			}
		}
		add("x-forwarded-for", verdict.HasXForwardedFor)
		add("x-real-ip", verdict.HasXRealIP)
		add("forwarded", verdict.HasForwarded)
		if h := pol.Resolver.HeaderName(); h != "" && forwardingBit([]byte(h), "") == 0 {
			add(h, verdict.HasConfigured)
		}
	}
	return append(out, f.underscoredNames[:f.nUnderscored]...)
}

// Upstream says what upstream_header gets: set to value, or cleared when
// the resolved address is not a verified client's (so that no value the
// client sent survives). ok is false when upstream_header is off.
func (ev *Evaluation) Upstream(pol *guardconf.Policy) (value string, clear, ok bool) {
	if pol.UpstreamHdr == "" {
		return "", false, false
	}
	res := &ev.Result
	if res.Unix || !verdict.Verified(res, pol.Resolver.Kind()) || (res.PeerTrusted && res.AddrTrusted) {
		return "", true, true
	}
	return realip.FormatAddr(res.Addr), false, true
}

// Record builds the request's record. now is the record's time stamp.
func (ev *Evaluation) Record(pol *guardconf.Policy, f *Facts, scope guardconf.Scope, now string) *record.Record {
	res := &ev.Result
	kind := pol.Resolver.Kind()
	r := &record.Record{
		Verdict:    ev.Outcome.Verdict.String(),
		Action:     ev.Action,
		Reasons:    ev.Outcome.Reasons.Names(),
		Time:       now,
		ClientIP:   addrText(res.Addr, res.Unix),
		ClientPort: int(res.Port),
		PeerIP:     addrText(res.PeerAddr, !res.PeerAddr.IsValid()),
		PeerPort:   int(res.PeerPort),
		Source:     record.Source(res, kind, SourceLabel(pol)),
		KongIP:     record.Entry(f.KongAddr), // an address from Kong, but capped as any entry
		Mode:       guardconf.ModeMonitor,
		RouteID:    scope.RouteID,
		ServiceID:  scope.ServiceID,
		Instance:   scope.InstanceName,
	}
	if pol.Enforce {
		r.Mode = guardconf.ModeEnforce
	}
	if kind == realip.KindProxyProtocol {
		r.Chain = []string{}
		if f.Req.Proxy != nil {
			host := f.proxy.SrcAddr
			if strings.IndexByte(host, ':') >= 0 {
				host = "[" + host + "]" // "2001:db8::1:5555" would be ambiguous
			}
			r.Chain = append(r.Chain, record.Entry(host+":"+strconv.Itoa(int(f.proxy.SrcPort))))
		}
	} else {
		r.Chain, r.Omitted, r.Truncated = record.Chain(f.Req.Headers, kind, pol.Resolver.HeaderName())
	}
	return r
}

// SourceLabel is the source header's name as records print it.
func SourceLabel(pol *guardconf.Policy) string {
	switch pol.Resolver.Kind() {
	case realip.KindXRealIP:
		return "X-Real-IP"
	case realip.KindXForwardedFor:
		return "X-Forwarded-For"
	case realip.KindForwarded:
		return "Forwarded"
	}
	return pol.Resolver.HeaderName()
}

func addrText(a netip.Addr, unix bool) string {
	if unix {
		return "unix:"
	}
	return realip.FormatAddr(a)
}

// equalFold compares b with lower, an ASCII-lowercase name, ignoring case.
func equalFold(b []byte, lower string) bool { return foldMatch(b, lower, false) }

// dashFold is equalFold with '_' in b standing for '-' in lower.
func dashFold(b []byte, lower string) bool { return foldMatch(b, lower, true) }

func foldMatch(b []byte, lower string, underscoreIsDash bool) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] && !(underscoreIsDash && c == '_' && lower[i] == '-') {
			return false
		}
	}
	return true
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}
