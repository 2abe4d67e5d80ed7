// Package record builds the one structured record client-ip-guard writes
// per request: what the client sent, what nginx (and so Kong) resolved,
// and the verdict. It is pure: sinks live elsewhere.
package record

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/client-ip-guard/client-ip-guard/plugin/forwarded"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// Limits on what a record copies from hostile input.
const (
	MaxChainEntries = 64
	MaxEntryBytes   = 128
)

// Record is one request's resolution, as logged. The verdict and action
// come first, so that a line cut short by a log pipeline still says what
// happened.
type Record struct {
	Verdict    string   `json:"verdict"`
	Action     string   `json:"action"`
	Reasons    []string `json:"reasons"`
	Time       string   `json:"time"`
	ClientIP   string   `json:"client_ip"`
	ClientPort int      `json:"client_port"`
	PeerIP     string   `json:"peer_ip"`
	PeerPort   int      `json:"peer_port"`
	Source     string   `json:"source"`
	Chain      []string `json:"chain"`
	Truncated  bool     `json:"chain_truncated,omitempty"`
	// Omitted counts the chain entries left out, by the entry cap or by Fit.
	Omitted   int    `json:"chain_omitted,omitempty"`
	KongIP    string `json:"kong_client_ip,omitempty"`
	Mode      string `json:"mode"`
	RouteID   string `json:"route_id,omitempty"`
	ServiceID string `json:"service_id,omitempty"`
	Instance  string `json:"plugin_instance,omitempty"`
}

// MaxKongLogBytes bounds a record sent through kong.log: nginx's error log
// line is NGX_MAX_ERROR_STR (4096) bytes in Kong's OpenResty, and the time,
// level, pid, connection and ", client: ..., server: ..., request: ..."
// context nginx adds take the rest.
const MaxKongLogBytes = 3500

// Fit encodes r in at most max bytes, dropping chain entries from the
// left (the end nginx reads last) and counting them in Omitted; the
// entries nearest Kong are kept. Everything else in a record is bounded
// by the config or by address syntax.
func (r *Record) Fit(max int) []byte {
	b := r.JSON()
	for len(b) > max && len(r.Chain) > 0 {
		// Drop about as many entries as the excess needs, at least one.
		over := len(b) - max
		n := 1
		for i := 0; i < len(r.Chain)-1 && over > 0; i++ {
			over -= len(r.Chain[i]) + 3
			n = i + 1
		}
		r.Chain = r.Chain[n:]
		r.Omitted += n
		r.Truncated = true
		b = r.JSON()
	}
	return b
}

// Actions a record can report.
const (
	ActionAllowed     = "allowed"
	ActionRejected    = "rejected"
	ActionWouldReject = "would_reject"
)

// Source names where the client address came from, as the record says it:
// "proxy_protocol", the header name as configured, or "socket" when
// nothing replaced the peer.
func Source(res *realip.Result, kind realip.Kind, header string) string {
	if res.Status == realip.Declined {
		return "socket"
	}
	if kind == realip.KindProxyProtocol {
		return "proxy_protocol"
	}
	return header
}

// Chain lists the entries of the source header lines in order (all lines
// for X-Forwarded-For and Forwarded, the first otherwise), as nginx splits
// them. It keeps the last MaxChainEntries entries, the ones nginx walks
// first, and says how many it left out; an entry longer than MaxEntryBytes
// is cut, and truncated reports any cut or omission.
func Chain(headers []realip.Header, kind realip.Kind, name string) (chain []string, omitted int, truncated bool) {
	total := 0
	eachEntry(headers, kind, name, func(string) { total++ })
	omitted = max(total-MaxChainEntries, 0)
	chain = make([]string, 0, total-omitted)
	i := 0
	eachEntry(headers, kind, name, func(tok string) {
		if i++; i <= omitted {
			return
		}
		var cut bool
		tok, cut = capEntry(tok)
		truncated = truncated || cut
		chain = append(chain, tok)
	})
	return chain, omitted, truncated || omitted > 0
}

// eachEntry calls fn for every entry of the source lines, left to right.
func eachEntry(headers []realip.Header, kind realip.Kind, name string, fn func(string)) {
	for _, h := range headers {
		if !strings.EqualFold(h.Name, name) {
			continue
		}
		if kind == realip.KindForwarded {
			els, err := forwarded.Parse(h.Value)
			for _, e := range els {
				tok := "for=?"
				if e.HasFor {
					tok = e.For.String()
				}
				fn(tok)
			}
			if err != nil {
				fn("!" + err.Error())
			}
		} else {
			for _, tok := range strings.FieldsFunc(h.Value, func(r rune) bool { return r == ' ' || r == ',' }) {
				fn(tok)
			}
		}
		if kind != realip.KindXForwardedFor && kind != realip.KindForwarded {
			return
		}
	}
}

// Entry is tok as a chain entry: cut to MaxEntryBytes of valid UTF-8.
// Every entry of a record passes through it, whatever its source.
func Entry(tok string) string {
	tok, _ = capEntry(tok)
	return tok
}

// capEntry cuts an entry to MaxEntryBytes of valid UTF-8.
func capEntry(tok string) (string, bool) {
	cut := false
	if len(tok) > MaxEntryBytes {
		tok = tok[:runeCut(tok, MaxEntryBytes)]
		cut = true
	}
	// Replacing invalid bytes can make the entry longer (one byte becomes
	// three), so the cap is applied again afterwards.
	tok = strings.ToValidUTF8(tok, "\uFFFD")
	if len(tok) > MaxEntryBytes {
		tok = tok[:runeCut(tok, MaxEntryBytes)]
		cut = true
	}
	return tok, cut
}

// runeCut returns where to cut s to at most n bytes without splitting a
// UTF-8 sequence: n, or up to three bytes less.
func runeCut(s string, n int) int {
	for cut := n; cut > n-utf8.UTFMax && cut > 0; cut-- {
		if utf8.RuneStart(s[cut]) {
			return cut
		}
	}
	return n
}

// Stamp formats t as records do (RFC 3339, milliseconds, UTC).
func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// JSON encodes the record as one line of JSON.
func (r *Record) JSON() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only strings, ints and bools: cannot fail.
		return []byte(`{"error":"record encoding failed"}`)
	}
	return b
}

// Map returns the record as a generic map, for sinks that take structured
// values (Kong's log serializer).
func (r *Record) Map() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.JSON(), &m)
	return m
}
