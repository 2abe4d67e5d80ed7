// Package guardconf is the client-ip-guard plugin's configuration: the
// struct Kong fills from the plugin entity's config (its JSON tags are the
// schema field names go-pdk dumps to Kong), the defaults, and the
// validation that turns it into a ready-to-use Policy once per instance.
//
// go-pdk derives the schema Kong enforces from this struct by reflection:
// the whole json tag becomes the field name (so no ",omitempty"), and
// int64 or interface{} fields are silently dropped, so only string, bool,
// int and slices of strings appear here. Kong applies no defaults or
// validators of its own to them; Compile does both.
package guardconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/client-ip-guard/client-ip-guard/plugin/internal/iprange"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// Config is the plugin's configuration as Kong sends it.
type Config struct {
	// TrustedIPs mirrors Kong's trusted_ips: the proxies whose forwarding
	// headers are believed. Empty trusts nobody, Kong's default.
	TrustedIPs []string `json:"trusted_ips"`
	// RealIPHeader mirrors Kong's real_ip_header: X-Real-IP (default),
	// X-Forwarded-For, proxy_protocol, any header name, or "Forwarded" for
	// RFC 7239 (the plugin only; Kong cannot read it).
	RealIPHeader string `json:"real_ip_header"`
	// RealIPRecursive mirrors Kong's real_ip_recursive.
	RealIPRecursive bool `json:"real_ip_recursive"`
	// Mode is "monitor" (default: record only) or "enforce" (reject).
	Mode string `json:"mode"`
	// RequireTrustedPeer makes direct requests (peer not trusted) a
	// rejection in enforce mode: Kong should be reachable only via the LB.
	RequireTrustedPeer bool `json:"require_trusted_peer"`
	// Allow and Deny are IPs or CIDRs matched against the verified client
	// address; deny is checked first, and a non-empty allow list denies
	// everything not on it.
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
	// Status and Message form the rejection response (default 403).
	Status  int    `json:"status"`
	Message string `json:"message"`
	// Reject lists the verdicts rejected in enforce mode (default:
	// spoof_attempt, malformed, config_drift, denied).
	Reject []string `json:"reject"`
	// UpstreamHeader, when set, carries the verified client address to the
	// upstream (any value the client sent in it is replaced).
	UpstreamHeader string `json:"upstream_header"`
	// StripUntrustedForwarding clears X-Forwarded-For, X-Real-IP,
	// Forwarded and the configured header when the peer is not trusted, so
	// the upstream never sees a forged chain.
	StripUntrustedForwarding bool `json:"strip_untrusted_forwarding"`
	// LogWhen is "anomalies" (default), "all" or "off".
	LogWhen string `json:"log_when"`
	// LogSink is "kong" (default: kong.log.notice), "serializer"
	// (kong.log.set_serialize_value, carried by every log plugin), "file"
	// or "stdout" (written by the plugin process, no PDK call).
	LogSink string `json:"log_sink"`
	// LogPath is the file for log_sink "file".
	LogPath string `json:"log_path"`
	// LogPorts adds the peer port to records, at the cost of one more PDK
	// call per record.
	LogPorts bool `json:"log_ports"`
	// FastPath reads the request with one kong.nginx.get_var of
	// $client_ip_guard_facts, an nginx map that kongconf generate
	// --fast-path writes, instead of three PDK calls. Without the map the
	// instance says so once in Kong's log and reads the long way.
	FastPath bool `json:"fast_path"`

	// Compiled state, filled once per instance. Unexported, so go-pdk
	// leaves it out of the schema.
	once       sync.Once
	policy     *Policy
	err        error
	scope      Scope
	released   bool // UnmarshalJSON dropped the lists after compiling
	lastReport atomic.Int64
	fastDown   atomic.Int64 // unix ns until which the fast path is not tried
	fastWarned atomic.Bool
}

// Scope is what Kong adds to a plugin instance's config besides the
// plugin's own fields: the entity the instance is attached to.
type Scope struct {
	PluginID     string `json:"__plugin_id"`
	RouteID      string `json:"route_id"`
	ServiceID    string `json:"service_id"`
	ConsumerID   string `json:"consumer_id"`
	InstanceName string `json:"plugin_instance_name"`
}

// UnmarshalJSON decodes the config Kong sends to StartInstance, keeps the
// scope keys Kong adds, and compiles the policy right away, so that every
// event of the instance shares one parse. A semantic error (bad CIDR,
// unknown mode) is kept, not returned: returning it would make go-pdk drop
// the connection with the reason lost in the plugin's stderr, while Policy
// hands it to the handler to report through kong.log.err. Once compiled,
// TrustedIPs, Allow and Deny are released (set to nil): Policy is the
// view of them that stays.
func (c *Config) UnmarshalJSON(b []byte) error {
	// trusted_ips, megabytes of CIDRs in some setups, is compiled straight
	// from the bytes; encoding/json decodes the rest.
	rest, trusted, ok := readTrusted(b)
	if !ok {
		rest, trusted = b, nil
	}
	return c.decode(rest, trusted)
}

// decode is UnmarshalJSON with trusted_ips, when non-nil, compiled
// already (and null in b).
func (c *Config) decode(b []byte, trusted *trustedSet) error {
	// One decoding pass for the fields and the scope, with the lists kept
	// raw: a config can be megabytes of CIDRs, which stringList reads
	// faster than encoding/json's reflection does.
	type plain Config
	in := struct {
		*plain
		PluginID     json.RawMessage `json:"__plugin_id"`
		RouteID      json.RawMessage `json:"route_id"`
		ServiceID    json.RawMessage `json:"service_id"`
		ConsumerID   json.RawMessage `json:"consumer_id"`
		InstanceName json.RawMessage `json:"plugin_instance_name"`
		TrustedIPs   json.RawMessage `json:"trusted_ips"`
		Allow        json.RawMessage `json:"allow"`
		Deny         json.RawMessage `json:"deny"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var ok1, ok2, ok3 bool
	c.TrustedIPs, ok1 = stringList(in.TrustedIPs)
	c.Allow, ok2 = stringList(in.Allow)
	c.Deny, ok3 = stringList(in.Deny)
	if !ok1 || !ok2 || !ok3 {
		// Escapes, non-ASCII or a type mismatch: encoding/json decides,
		// and names the field in its error.
		if err := json.Unmarshal(b, (*plain)(c)); err != nil {
			return err
		}
	}
	c.scope = Scope{
		PluginID:     scopeString(in.PluginID),
		RouteID:      scopeString(in.RouteID),
		ServiceID:    scopeString(in.ServiceID),
		ConsumerID:   scopeString(in.ConsumerID),
		InstanceName: scopeString(in.InstanceName),
	}
	c.once.Do(func() { c.policy, c.err = compile(c, trusted) })
	// The lists live on in the compiled policy; their strings would cost
	// more than the policy itself (about 40 bytes a CIDR, millions of
	// CIDRs in some setups), so a started instance drops them.
	c.TrustedIPs, c.Allow, c.Deny = nil, nil, nil
	c.released = true
	return nil
}

// stringList decodes raw, a valid JSON value, as a list of strings when
// it is null or an array of plain strings (printable ASCII, no escapes),
// which is what every list of addresses is; ok is false for anything
// else, left to encoding/json. Absent (empty raw) is a nil list.
func stringList(raw json.RawMessage) (list []string, ok bool) {
	i := skipSpace(raw, 0)
	switch {
	case i == len(raw):
		return nil, true
	case raw[i] == 'n':
		return nil, true // null: valid JSON starting with n
	case raw[i] != '[':
		return nil, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return []string{}, true
	}
	// One allocation for all the entries, substrings of it, which the
	// compiled policy does not keep.
	all := string(raw)
	list = make([]string, 0, bytes.Count(raw, []byte{','})+1)
	for i < len(raw) && raw[i] == '"' {
		j := i + 1
		for j < len(raw) && raw[j] != '"' && raw[j] != '\\' && raw[j] >= 0x20 && raw[j] < 0x7f {
			j++
		}
		if j == len(raw) || raw[j] != '"' {
			return nil, false
		}
		list = append(list, all[i+1:j])
		i = skipSpace(raw, j+1)
		if i < len(raw) && raw[i] == ']' {
			return list, true
		}
		if i == len(raw) || raw[i] != ',' {
			return nil, false
		}
		i = skipSpace(raw, i+1)
	}
	return nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scopeString decodes a scope value. Kong sends null for an unscoped
// plugin, and sometimes other non-strings: those are ignored.
func scopeString(raw json.RawMessage) string {
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v
}

// Policy returns the compiled policy, compiling it on first use. It is
// safe for concurrent use.
func (c *Config) Policy() (*Policy, error) {
	c.once.Do(func() { c.policy, c.err = Compile(c) })
	return c.policy, c.err
}

// Scope returns the scope keys Kong sent with the config.
func (c *Config) Scope() Scope { return c.scope }

// FailOpen reports whether a request may pass when the guard cannot judge
// it (a bad config, a failed PDK call, an internal error): only in monitor
// mode, written as such or left empty. Any other mode, a misspelt
// "enforce" included, fails closed.
func (c *Config) FailOpen() bool {
	m := strings.ToLower(strings.TrimSpace(c.Mode))
	return m == "" || m == ModeMonitor
}

// ErrorReportDue reports whether an error of this instance should be
// logged now: at most once per every, so that a bad config in monitor mode
// is visible in Kong's log without a line per request.
func (c *Config) ErrorReportDue(now time.Time, every time.Duration) bool {
	last := c.lastReport.Load()
	n := now.UnixNano()
	if last != 0 && n-last < int64(every) {
		return false
	}
	return c.lastReport.CompareAndSwap(last, n)
}

// FastPathUp reports whether the fast path may be tried now: not while it
// is down after FastPathDown.
func (c *Config) FastPathUp(now time.Time) bool {
	return now.UnixNano() >= c.fastDown.Load()
}

// FastPathDown sets the fast path aside until now+retry, after the
// variable could not serve this instance, and reports whether this is the
// instance's first time: the one time it is worth a line in Kong's log.
func (c *Config) FastPathDown(now time.Time, retry time.Duration) (first bool) {
	c.fastDown.Store(now.Add(retry).UnixNano())
	return c.fastWarned.CompareAndSwap(false, true)
}

// Global reports whether the instance applies to every request (no route,
// service or consumer): the only instances Kong runs in the rewrite phase.
func (s Scope) Global() bool { return s.RouteID == "" && s.ServiceID == "" && s.ConsumerID == "" }

// Modes, log_when values and sinks.
const (
	ModeMonitor = "monitor"
	ModeEnforce = "enforce"

	LogAll       = "all"
	LogAnomalies = "anomalies"
	LogOff       = "off"

	SinkKong       = "kong"
	SinkSerializer = "serializer"
	SinkFile       = "file"
	SinkStdout     = "stdout"
)

// DefaultStatus and DefaultMessage form the default rejection.
const (
	DefaultStatus  = 403
	DefaultMessage = "client address not allowed"
)

// DefaultReject is the set of verdicts enforce mode rejects unless told
// otherwise, chosen by who a rejection hurts:
//   - smuggled, malformed, config_drift and denied: an attacker, a broken
//     chain or a broken config; no legitimate client sends them.
//   - lb_ip_leak is left out: load-balancer health checks arrive from the
//     LB without forwarding data, and rejecting them would take the gateway
//     out of rotation.
//   - spoof_attempt is left out: with externalTrafficPolicy: Local or PROXY
//     protocol, clients behind corporate forward proxies send
//     X-Forwarded-For; nginx ignores it for the client address, so
//     rejecting them protects nothing. require_trusted_peer rejects every
//     request from an untrusted peer, spoof_attempt among them.
var DefaultReject = []verdict.Verdict{verdict.Smuggled, verdict.Malformed, verdict.ConfigDrift, verdict.Denied}

// kongUpstreamHeaders are the request headers Kong's template sets with
// proxy_set_header (kong/templates/nginx_kong.lua:190-203 at 3.9.3), which
// override anything kong.service.request.set_header writes to the same
// name: upstream_header cannot carry the client address in them.
var kongUpstreamHeaders = []string{
	"Host", "TE", "Via", "Upgrade", "Connection",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port",
	"X-Forwarded-Path", "X-Forwarded-Prefix", "X-Real-IP", "X-Kong-Request-Id",
}

// Policy is a validated, compiled Config. It is immutable and shared by
// all concurrent events of a plugin instance.
type Policy struct {
	Resolver      *realip.Resolver
	Enforce       bool
	RequirePeer   bool
	Allow, Deny   *iprange.Set
	Status        int
	Message       string
	Reject        verdict.Set
	UpstreamHdr   string
	Strip         bool
	LogWhen       string
	Sink          string
	LogPath       string
	LogPorts      bool
	FastPath      bool
	Warnings      []string
	hasAllow      bool
	hasDeny       bool
	TrustAllWarns bool
}

// Error is a configuration error naming the field and the value at fault.
type Error struct {
	Field string
	Value string
	Why   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("client-ip-guard config: %s = %q: %s", e.Field, e.Value, e.Why)
}

// Compile validates c, applies defaults and builds the Policy. Errors name
// the field and value; warnings (accepted but risky settings) are returned
// in Policy.Warnings.
func Compile(c *Config) (*Policy, error) { return compile(c, nil) }

// compile is Compile with the trusted set, when non-nil, compiled already
// from the config's bytes (c.TrustedIPs is then not read).
func compile(c *Config, pre *trustedSet) (*Policy, error) {
	if c.released {
		// Compiling again would silently read empty lists.
		return nil, &Error{Field: "trusted_ips", Why: "the lists of a decoded config are released once compiled; use Config.Policy"}
	}
	p := &Policy{
		Status:  DefaultStatus,
		Message: DefaultMessage,
		LogWhen: LogAnomalies,
		Sink:    SinkKong,
	}
	trusted, warns, err := parseTrusted(c, pre)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		p.Warnings = append(p.Warnings, fmt.Sprintf("trusted_ips entry %s: %s", w.Entry, w.Message))
	}
	header := strings.TrimSpace(c.RealIPHeader)
	switch {
	case header == "":
		header = "X-Real-IP"
	case !validHeaderName(header):
		return nil, &Error{Field: "real_ip_header", Value: c.RealIPHeader, Why: "not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"}
	}
	if strings.EqualFold(header, "forwarded") {
		p.Resolver = realip.NewForwardedResolver(trusted, c.RealIPRecursive)
	} else {
		p.Resolver = realip.NewResolver(trusted, header, c.RealIPRecursive)
	}
	if v4, v6 := trusted.TrustsEverything(); v4 || v6 {
		p.TrustAllWarns = true
		if p.Resolver.Kind() != realip.KindProxyProtocol {
			p.Warnings = append(p.Warnings, "trusted_ips trusts every address with a header source: any client can forge its address")
		}
	}
	switch strings.ToLower(strings.TrimSpace(c.Mode)) {
	case "", ModeMonitor:
	case ModeEnforce:
		p.Enforce = true
	default:
		return nil, &Error{Field: "mode", Value: c.Mode, Why: "must be monitor or enforce"}
	}
	p.RequirePeer = c.RequireTrustedPeer
	if p.Allow, p.hasAllow, err = ipSet("allow", c.Allow); err != nil {
		return nil, err
	}
	if p.Deny, p.hasDeny, err = ipSet("deny", c.Deny); err != nil {
		return nil, err
	}
	if c.Status != 0 {
		if c.Status < 100 || c.Status > 599 {
			return nil, &Error{Field: "status", Value: fmt.Sprint(c.Status), Why: "must be an HTTP status between 100 and 599"}
		}
		p.Status = c.Status
	}
	if c.Message != "" {
		p.Message = c.Message
	}
	if c.Reject == nil {
		p.Reject = verdict.NewSet(DefaultReject...)
	} else {
		for _, r := range c.Reject {
			v, ok := verdict.Parse(strings.TrimSpace(r))
			if !ok || v == verdict.OK {
				return nil, &Error{Field: "reject", Value: r, Why: "not a verdict that can be rejected (direct, lb_ip_leak, malformed, spoof_attempt, smuggled, config_drift, denied)"}
			}
			p.Reject = p.Reject.With(v)
		}
	}
	if p.RequirePeer {
		p.Reject = p.Reject.With(verdict.Direct)
	}
	if p.Enforce && p.HasAllowDeny() && !p.Reject.Has(verdict.Denied) {
		return nil, &Error{Field: "reject", Value: strings.Join(c.Reject, ","), Why: "allow/deny are set in enforce mode but denied is not rejected, so they can never refuse a client: add denied"}
	}
	if h := strings.TrimSpace(c.UpstreamHeader); h != "" {
		if !validHeaderName(h) {
			return nil, &Error{Field: "upstream_header", Value: c.UpstreamHeader, Why: "not a header name"}
		}
		for _, k := range kongUpstreamHeaders {
			if strings.EqualFold(h, k) {
				return nil, &Error{Field: "upstream_header", Value: c.UpstreamHeader, Why: "Kong sets this header itself with proxy_set_header, which overrides the plugin: choose another name (X-Client-IP, say)"}
			}
		}
		p.UpstreamHdr = h
	}
	p.Strip = c.StripUntrustedForwarding
	switch v := strings.ToLower(strings.TrimSpace(c.LogWhen)); v {
	case "":
	case LogAll, LogAnomalies, LogOff:
		p.LogWhen = v
	default:
		return nil, &Error{Field: "log_when", Value: c.LogWhen, Why: "must be all, anomalies or off"}
	}
	switch v := strings.ToLower(strings.TrimSpace(c.LogSink)); v {
	case "":
	case SinkKong, SinkSerializer, SinkStdout:
		p.Sink = v
	case SinkFile:
		p.Sink = v
		if strings.TrimSpace(c.LogPath) == "" {
			return nil, &Error{Field: "log_path", Value: c.LogPath, Why: "required when log_sink is file"}
		}
		p.LogPath = strings.TrimSpace(c.LogPath)
	default:
		return nil, &Error{Field: "log_sink", Value: c.LogSink, Why: "must be kong, serializer, file or stdout"}
	}
	p.LogPorts = c.LogPorts
	p.FastPath = c.FastPath
	return p, nil
}

// parseTrusted returns pre's set, or compiles c.TrustedIPs.
func parseTrusted(c *Config, pre *trustedSet) (*realip.Trusted, []realip.TrustedWarning, error) {
	if pre != nil {
		return pre.trusted, pre.warns, nil
	}
	trusted, warns, err := realip.ParseTrusted(c.TrustedIPs)
	if err != nil {
		return nil, nil, &Error{Field: "trusted_ips", Value: strings.Join(c.TrustedIPs, ","), Why: err.Error()}
	}
	return trusted, warns, nil
}

// AllowDeny applies the allow and deny lists to a verified client address:
// deny first, then a non-empty allow list. A v4-mapped address is matched
// against the IPv4 entries, as nginx's ngx_cidr_match does.
func (p *Policy) AllowDeny(a netip.Addr) (denied bool, reason string) {
	// The sets match an IPv4-mapped address as the IPv4 address it maps.
	if p.Deny != nil && p.Deny.Contains(a) {
		return true, verdict.ReasonDenyListed
	}
	if p.hasAllow && !p.Allow.Contains(a) {
		return true, verdict.ReasonNotAllowListed
	}
	return false, ""
}

// HasAllowDeny reports whether any allow or deny entry is configured.
func (p *Policy) HasAllowDeny() bool {
	// Flags set by Compile, which knows whether the lists had entries.
	return p.hasAllow || p.hasDeny
}

// ipSet compiles an allow or deny list; nonEmpty reports whether it had
// a non-blank entry. Bare IPv4-mapped addresses are unmapped (lookups
// unmap the address they check); prefixes are kept as written.
func ipSet(field string, entries []string) (set *iprange.Set, nonEmpty bool, err error) {
	var b iprange.Builder
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		nonEmpty = true
		if strings.Contains(e, "/") {
			pfx, err := netip.ParsePrefix(e)
			if err != nil || pfx.Addr().Zone() != "" {
				return nil, false, &Error{Field: field, Value: strings.Clone(raw), Why: "not an IP address or CIDR"}
			}
			if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
				// ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are matched
				// unmapped, so the mapped form would match nothing.
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
			}
			b.AddPrefix(pfx)
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return nil, false, &Error{Field: field, Value: strings.Clone(raw), Why: "not an IP address or CIDR"}
		}
		b.AddAddr(a.Unmap())
	}
	return b.Set(), nonEmpty, nil
}

// validHeaderName checks RFC 9110 token characters.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}
