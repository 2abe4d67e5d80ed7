// Package verdict judges how a request's client address was derived: one
// primary Verdict per request plus the set of Reasons behind it. It is pure
// and allocation free.
package verdict

import (
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// Verdict is the primary judgement of one request.
type Verdict uint8

// The verdicts, in increasing order of precedence: when several apply, the
// highest one is primary and the others remain visible as reasons.
const (
	// OK: a trusted peer forwarded a usable, untrusted client address.
	OK Verdict = iota
	// Direct: an untrusted peer sent no forwarding header; the peer is the client.
	Direct
	// LBIPLeak: the peer is trusted but nothing replaced it, or what
	// replaced it is itself a trusted address, so the "client" is a proxy.
	LBIPLeak
	// Malformed: a forwarding entry could not be parsed and stopped the walk.
	Malformed
	// SpoofAttempt: the client itself sent forwarding data, which nginx
	// ignores: an untrusted peer's headers or PROXY data, or headers beside
	// PROXY protocol (an L4 load balancer adds none). Clients behind
	// forward proxies do this legitimately.
	SpoofAttempt
	// Smuggled: a trusted peer passed on forwarding data the client planted
	// where nginx or Kong reads it: an underscore spelling of a forwarding
	// header (Kong 3.6+ sends it upstream as X-Forwarded-For), or a second
	// line of a single-address header (nginx reads the first, so a client
	// line ahead of the proxy's wins).
	Smuggled
	// ConfigDrift: Kong resolved a different client address than the
	// plugin does from the same inputs: Kong's trusted_ips/real_ip_* differ
	// from the plugin's.
	ConfigDrift
	// Denied: the allow/deny lists refuse the verified client address.
	Denied
	count
)

var names = [count]string{"ok", "direct", "lb_ip_leak", "malformed", "spoof_attempt", "smuggled", "config_drift", "denied"}

// String returns the verdict's wire name.
func (v Verdict) String() string {
	if v < count {
		return names[v]
	}
	return "unknown"
}

// Parse maps a wire name to a Verdict.
func Parse(s string) (Verdict, bool) {
	for i, n := range names {
		if n == s {
			return Verdict(i), true
		}
	}
	return 0, false
}

// All returns every verdict, in precedence order from lowest.
func All() []Verdict {
	out := make([]Verdict, count)
	for i := range out {
		out[i] = Verdict(i)
	}
	return out
}

// Set is a set of verdicts.
type Set uint16

// NewSet returns a set holding vs.
func NewSet(vs ...Verdict) Set {
	var s Set
	for _, v := range vs {
		s = s.With(v)
	}
	return s
}

// With returns s plus v.
func (s Set) With(v Verdict) Set { return s | 1<<v }

// Has reports whether v is in s.
func (s Set) Has(v Verdict) bool { return s&(1<<v) != 0 }

// Reason codes. Each names one observation; a request carries several.
const (
	ReasonPeerUntrusted         = "peer_untrusted"
	ReasonForwardingFromUntrust = "forwarding_header_from_untrusted_peer"
	ReasonProxyFromUntrusted    = "proxy_protocol_from_untrusted_peer"
	ReasonSourceMissing         = "source_missing"
	ReasonSourceMalformed       = "source_malformed"
	ReasonResolvedTrusted       = "resolved_address_is_trusted"
	ReasonKongDiffers           = "kong_resolved_differently"
	ReasonDenyListed            = "deny_listed"
	ReasonNotAllowListed        = "not_allow_listed"
	ReasonMultipleLines         = "multiple_source_lines"
	ReasonWalkStopped           = "walk_stopped_at_untrusted"
	ReasonHeadersTruncated      = "headers_truncated"
	ReasonOtherForwarding       = "other_forwarding_header_present"
	ReasonTrustAll              = "trusted_ips_trusts_everything"
	ReasonUnderscoreName        = "underscore_forwarding_header"
	ReasonBesideProxyProtocol   = "forwarding_header_beside_proxy_protocol"
	ReasonClientUnverified      = "client_address_unverified"
)

// Reasons is a set of reason codes, kept as bits so judging allocates nothing.
type Reasons uint32

var reasonNames = []string{
	ReasonPeerUntrusted, ReasonForwardingFromUntrust, ReasonProxyFromUntrusted,
	ReasonSourceMissing, ReasonSourceMalformed, ReasonResolvedTrusted,
	ReasonKongDiffers, ReasonDenyListed, ReasonNotAllowListed,
	ReasonMultipleLines, ReasonWalkStopped, ReasonHeadersTruncated,
	ReasonOtherForwarding, ReasonTrustAll, ReasonUnderscoreName,
	ReasonBesideProxyProtocol, ReasonClientUnverified,
}

func reasonBit(name string) Reasons {
	for i, n := range reasonNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// Add returns r plus the named reason (unknown names are ignored).
func (r Reasons) Add(name string) Reasons { return r | reasonBit(name) }

// Has reports whether the named reason is present.
func (r Reasons) Has(name string) bool {
	b := reasonBit(name)
	return b != 0 && r&b != 0
}

// Names lists the reasons in a fixed order.
func (r Reasons) Names() []string {
	out := []string{}
	for i, n := range reasonNames {
		if r&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Forwarding is the set of forwarding headers present on a request.
type Forwarding uint8

// Forwarding header bits.
const (
	HasXForwardedFor Forwarding = 1 << iota
	HasXRealIP
	HasForwarded
	HasConfigured // the configured real_ip_header (when it is none of the above)
)

// Input is everything judged about one request.
type Input struct {
	// Result is the plugin's own resolution and Kind its source.
	Result *realip.Result
	Kind   realip.Kind
	// Forwarding says which forwarding headers the request carried, under
	// their standard names.
	Forwarding Forwarding
	// Underscored says which of them also came spelled with '_' for '-'
	// (X_Forwarded_For): nginx's realip ignores those lines, but Kong's
	// underscores_in_headers lets them through and Kong 3.6+ builds the
	// upstream X-Forwarded-For from x_forwarded_for first.
	Underscored Forwarding
	// SourceLines counts the lines of the configured source header.
	SourceLines int
	// KongAddr is Kong's own $remote_addr (kong.client.get_forwarded_ip);
	// KongKnown reports whether it was read. The drift check is skipped for
	// the Forwarded source, which Kong cannot express.
	KongAddr  string
	KongKnown bool
	// Denied and DenyReason come from the allow/deny lists.
	Denied     bool
	DenyReason string
	// Truncated reports that Kong returned fewer header lines than sent:
	// the source may hide beyond them, so the request cannot be judged.
	Truncated bool
	// TrustAll reports that the trusted set covers every address.
	TrustAll bool
}

// Outcome is the judgement.
type Outcome struct {
	Verdict Verdict
	Reasons Reasons
}

// Anomaly reports whether o is worth a record under log_when=anomalies:
// anything but ok and direct, or direct when direct is rejected.
func (o Outcome) Anomaly(rejected Set) bool {
	switch o.Verdict {
	case OK:
		return false
	case Direct:
		return rejected.Has(Direct)
	}
	return true
}

// singleAddress reports whether nginx reads only the first line of k's
// header: every source but X-Forwarded-For (and Forwarded, which the
// plugin reads as one list, as RFC 7239 says).
func singleAddress(k realip.Kind) bool {
	return k != realip.KindXForwardedFor && k != realip.KindForwarded && k != realip.KindProxyProtocol
}

// Judge computes the outcome for in.
func Judge(in *Input) Outcome {
	var (
		r   Reasons
		has [count]bool
	)
	if in.Truncated {
		r = r.Add(ReasonHeadersTruncated)
		has[Malformed] = true
	}
	if in.TrustAll {
		r = r.Add(ReasonTrustAll)
	}
	if in.Underscored != 0 {
		r = r.Add(ReasonUnderscoreName)
	}
	if in.SourceLines > 1 && singleAddress(in.Kind) {
		// Only the first line counts in nginx; a second one is an address
		// smuggled past a proxy that adds its own line.
		r = r.Add(ReasonMultipleLines)
	}
	if !in.Result.PeerTrusted {
		r = judgeUntrusted(in, r, &has)
	} else {
		r = judgeTrusted(in, r, &has)
	}
	if in.KongKnown && in.Kind != realip.KindForwarded && !sameAddr(in.KongAddr, in.Result) {
		r = r.Add(ReasonKongDiffers)
		has[ConfigDrift] = true
	}
	if in.Denied {
		r = r.Add(in.DenyReason)
		has[Denied] = true
	}
	v := OK
	for i := count - 1; i > 0; i-- {
		if has[i] {
			v = i
			break
		}
	}
	return Outcome{Verdict: v, Reasons: r}
}

// judgeUntrusted: nginx ignored whatever the peer sent; anything it sent
// is the client's own.
func judgeUntrusted(in *Input, r Reasons, has *[count]bool) Reasons {
	r = r.Add(ReasonPeerUntrusted)
	switch {
	case in.Kind == realip.KindProxyProtocol && in.Result.Found:
		r = r.Add(ReasonProxyFromUntrusted)
		has[SpoofAttempt] = true
	case in.Forwarding|in.Underscored != 0:
		r = r.Add(ReasonForwardingFromUntrust)
		has[SpoofAttempt] = true
	default:
		has[Direct] = true
	}
	return r
}

// judgeTrusted: a trusted peer forwarded; check what replaced it and what
// the client may have planted beside it.
func judgeTrusted(in *Input, r Reasons, has *[count]bool) Reasons {
	res := in.Result
	if in.Underscored != 0 || (in.SourceLines > 1 && singleAddress(in.Kind)) {
		has[Smuggled] = true
	}
	if in.Kind == realip.KindProxyProtocol {
		if res.Found && in.Forwarding != 0 {
			// An L4 load balancer adds no header: the client sent it.
			r = r.Add(ReasonBesideProxyProtocol)
			has[SpoofAttempt] = true
		}
	} else if in.Forwarding != 0 && !res.Found {
		r = r.Add(ReasonOtherForwarding)
	}
	switch {
	case malformed(res):
		r = r.Add(ReasonSourceMalformed)
		if res.Status == realip.Stopped {
			r = r.Add(ReasonWalkStopped)
		}
		has[Malformed] = true
	case !res.Found:
		r = r.Add(ReasonSourceMissing)
		has[LBIPLeak] = true
	}
	if res.Status != realip.Declined && res.AddrTrusted && !has[Malformed] && !(in.TrustAll && in.Kind == realip.KindProxyProtocol) {
		// The walk ended on a trusted hop: real_ip_recursive is off with
		// several proxies, or every entry was a proxy.
		r = r.Add(ReasonResolvedTrusted)
		has[LBIPLeak] = true
	}
	return r
}

// Verified reports whether res's address is a client's rather than a
// proxy's: what allow/deny may be applied to. PROXY data is the address the
// load balancer saw, so it is a client's even when it lies in a trusted
// range; a header walk that ended on a trusted address, stopped on garbage
// or found nothing has no client address.
func Verified(res *realip.Result, kind realip.Kind) bool {
	if !res.PeerTrusted {
		return true
	}
	if kind == realip.KindProxyProtocol {
		return res.Found && res.Status != realip.Declined
	}
	return res.Found && res.Status != realip.Declined && !res.AddrTrusted && !malformed(res)
}

// malformed reports whether, with the peer trusted, a token nginx could
// not parse ended the walk. Result.Malformed holds that token, but an
// empty one (an empty header value) leaves it "", so the walk's shape is
// read too: a present source that was declined, or a walk stopped on a
// trusted address, can only have been stopped by an unparsable token.
func malformed(res *realip.Result) bool {
	return res.Malformed != "" ||
		(res.Found && res.Status == realip.Declined) ||
		(res.Status == realip.Stopped && res.AddrTrusted)
}

// sameAddr compares Kong's $remote_addr text with the plugin's result
// without allocating.
func sameAddr(kong string, res *realip.Result) bool {
	if res.Unix {
		return kong == "unix:"
	}
	var buf [48]byte
	return string(realip.AppendAddr(buf[:0], res.Addr)) == kong
}
