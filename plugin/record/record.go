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

// Record is one request's resolution, as logged.
type Record struct {
	Time       string   `json:"time"`
	ClientIP   string   `json:"client_ip"`
	ClientPort int      `json:"client_port"`
	PeerIP     string   `json:"peer_ip"`
	PeerPort   int      `json:"peer_port"`
	Source     string   `json:"source"`
	Chain      []string `json:"chain"`
	Truncated  bool     `json:"chain_truncated,omitempty"`
	KongIP     string   `json:"kong_client_ip,omitempty"`
	Verdict    string   `json:"verdict"`
	Reasons    []string `json:"reasons"`
	Action     string   `json:"action"`
	Mode       string   `json:"mode"`
	RouteID    string   `json:"route_id,omitempty"`
	ServiceID  string   `json:"service_id,omitempty"`
	Instance   string   `json:"plugin_instance,omitempty"`
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
// them, capped at MaxChainEntries entries of MaxEntryBytes bytes.
func Chain(headers []realip.Header, kind realip.Kind, name string) (chain []string, truncated bool) {
	chain = []string{}
	add := func(tok string) bool {
		if len(chain) == MaxChainEntries {
			truncated = true
			return false
		}
		if len(tok) > MaxEntryBytes {
			tok = tok[:runeCut(tok, MaxEntryBytes)]
			truncated = true
		}
		// Replacing invalid bytes can make the entry longer (one byte
		// becomes three), so the cap is applied again afterwards.
		tok = strings.ToValidUTF8(tok, "\uFFFD")
		if len(tok) > MaxEntryBytes {
			tok = tok[:runeCut(tok, MaxEntryBytes)]
			truncated = true
		}
		chain = append(chain, tok)
		return true
	}
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
				if !add(tok) {
					return chain, truncated
				}
			}
			if err != nil && !add("!"+err.Error()) {
				return chain, truncated
			}
		} else {
			for _, tok := range strings.FieldsFunc(h.Value, func(r rune) bool { return r == ' ' || r == ',' }) {
				if !add(tok) {
					return chain, truncated
				}
			}
		}
		if kind != realip.KindXForwardedFor && kind != realip.KindForwarded {
			break
		}
	}
	return chain, truncated
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
