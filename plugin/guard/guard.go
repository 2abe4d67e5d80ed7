// Package guard is client-ip-guard's glue to Kong: the access handler that
// gathers the request's addressing facts with as few PDK calls as
// possible, resolves and judges them with the pure packages, then records
// and enforces. Every PDK call is a round trip over a Unix socket, so the
// handler's call budget is part of its contract (see Access).
package guard

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/pbheaders"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/sink"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// Name, Version and Priority identify the plugin to Kong. The name Kong
// registers is the executable's file name, which the build sets to Name.
const (
	Name    = "client-ip-guard"
	Version = "0.1.0"
	// Priority 1000 runs the guard before ip-restriction (990) and the
	// rate-limiting plugins (910), which key on the address it verifies.
	Priority = 1000
)

// SerializeKey is the kong.log.set_serialize_value key of the serializer
// sink: log plugins carry the record under this name.
const SerializeKey = "client_ip_guard"

// MaxHeaders is the kong.request.get_headers limit the guard asks for:
// Kong's maximum. A request with more header lines is judged on the first
// MaxHeaders and flagged.
const MaxHeaders = 1000

// Config is the plugin's configuration type handed to go-pdk: the fields
// and JSON tags of guardconf.Config, plus the phase handler. go-pdk sees
// the methods of this type to decide the phases: Access only.
type Config guardconf.Config

// New is the constructor go-pdk calls for each plugin instance.
func New() any { return &Config{} }

// UnmarshalJSON decodes and compiles the instance's config once.
func (c *Config) UnmarshalJSON(b []byte) error { return (*guardconf.Config)(c).UnmarshalJSON(b) }

// Now is the clock used for records; tests replace it.
var Now = time.Now

// Access runs in Kong's access phase. Its PDK calls:
//
//	always           kong.client.get_ip, kong.request.get_headers,
//	                 kong.client.get_forwarded_ip                      3
//	proxy_protocol   + kong.nginx.get_var proxy_protocol_addr/_port  +2
//	strip            + one clear_header per forwarding header sent   +n
//	upstream_header  + set_header or clear_header                     +1
//	a record         + kong.log.notice or set_serialize_value
//	                   (file/stdout sinks: none)                      +1
//	log_ports        + kong.client.get_port, with a record            +1
//	a rejection      + kong.response.exit                             +1
//
// so an ok request in the default configuration costs 3 calls and an
// anomaly 4. Nothing is left for the log phase, which in Kong runs after
// the response from a snapshot that cannot read the client address.
func (c *Config) Access(kong *pdk.PDK) {
	defer func() {
		if r := recover(); r != nil {
			failClosed(kong, "client-ip-guard: internal error: "+toString(r))
		}
	}()
	pol, err := (*guardconf.Config)(c).Policy()
	if err != nil {
		failClosed(kong, err.Error())
		return
	}
	var f facts
	if err := f.gather(kong, pol); err != nil {
		failClosed(kong, "client-ip-guard: reading the request from Kong: "+err.Error())
		return
	}
	res := pol.Resolver.Resolve(&f.req, nil)
	in := verdict.Input{
		Result:      &res,
		Kind:        pol.Resolver.Kind(),
		Forwarding:  f.forwarding,
		SourceLines: f.sourceLines,
		KongAddr:    f.kongAddr,
		KongKnown:   true,
		Truncated:   f.truncated,
		TrustAll:    pol.TrustAllWarns,
	}
	if pol.HasAllowDeny() && !res.Unix {
		in.Denied, in.DenyReason = pol.AllowDeny(res.Addr)
	}
	out := verdict.Judge(&in)
	reject := pol.Reject.Has(out.Verdict)
	action := record.ActionAllowed
	if reject {
		action = record.ActionWouldReject
		if pol.Enforce {
			action = record.ActionRejected
		}
	}

	if !reject || !pol.Enforce {
		if pol.Strip && !res.PeerTrusted {
			f.strip(kong, pol)
		}
		if pol.UpstreamHdr != "" {
			if res.Unix || res.AddrTrusted || (res.Status == realip.Declined && res.PeerTrusted) {
				// Not a client address: make sure no client-sent value survives.
				_ = kong.ServiceRequest.ClearHeader(pol.UpstreamHdr)
			} else {
				_ = kong.ServiceRequest.SetHeader(pol.UpstreamHdr, realip.FormatAddr(res.Addr))
			}
		}
	}

	if pol.LogWhen == guardconf.LogAll || (pol.LogWhen == guardconf.LogAnomalies && (out.Anomaly(pol.Reject) || reject)) {
		rec := c.record(kong, pol, &f, &res, out, action)
		emit(kong, pol, rec)
	}

	if reject && pol.Enforce {
		// JSON-encode the message: Go quoting (\a, \x..) is not JSON.
		msg, _ := json.Marshal(pol.Message)
		body := []byte(`{"message":` + string(msg) + `}`)
		kong.Response.Exit(pol.Status, body, map[string][]string{"Content-Type": {"application/json; charset=utf-8"}})
	}
}

// facts is what the guard reads from Kong for one request.
type facts struct {
	req         realip.Request
	proxy       realip.Proxy
	kongAddr    string
	forwarding  verdict.Forwarding
	sourceLines int
	truncated   bool
	headerBuf   emptypb.Empty // kong.request.get_headers' reply, kept as raw bytes
}

// getHeaders is the PDK method behind kong.request.get_headers.
const getHeaders = "kong.request.get_headers"

func (f *facts) gather(kong *pdk.PDK, pol *guardconf.Policy) error {
	peer, err := kong.Client.GetIp()
	if err != nil {
		return err
	}
	// The reply is decoded into an empty message, so that its bytes stay
	// unknown fields that pbheaders reads as sent: go-pdk's own GetHeaders
	// fails the whole call on one non-UTF-8 byte in any header.
	if err := kong.Request.Ask(getHeaders, &kong_plugin_protocol.Int{V: MaxHeaders}, &f.headerBuf); err != nil {
		return err
	}
	if f.kongAddr, err = kong.Client.GetForwardedIp(); err != nil {
		return err
	}
	// The peer's port is not read: nothing in the verdict needs it and it
	// would cost a call. Port 0 here never reaches a record unless
	// log_ports asks for the real one.
	if peer != "unix:" {
		a, perr := netip.ParseAddr(peer)
		if perr == nil {
			f.req.Peer = netip.AddrPortFrom(a.WithZone(""), 0)
		}
	}
	kind := pol.Resolver.Kind()
	name := pol.Resolver.HeaderName()
	total := 0
	err = pbheaders.Walk(f.headerBuf.ProtoReflect().GetUnknown(), func(k, v []byte) {
		total++
		switch string(k) {
		case "x-forwarded-for":
			f.forwarding |= verdict.HasXForwardedFor
		case "x-real-ip":
			f.forwarding |= verdict.HasXRealIP
		case "forwarded":
			f.forwarding |= verdict.HasForwarded
		default:
			if string(k) == name {
				f.forwarding |= verdict.HasConfigured
			}
		}
		if name != "" && string(k) == name {
			f.sourceLines++
			f.req.Headers = append(f.req.Headers, realip.Header{Name: name, Value: string(v)})
		}
	})
	if err != nil {
		return err
	}
	f.truncated = total >= MaxHeaders
	if kind == realip.KindProxyProtocol {
		addr, err := kong.Nginx.GetVar("proxy_protocol_addr")
		if err != nil {
			return err
		}
		if addr != "" {
			port, err := kong.Nginx.GetVar("proxy_protocol_port")
			if err != nil {
				return err
			}
			p, _ := strconv.ParseUint(port, 10, 16)
			f.proxy = realip.Proxy{SrcAddr: addr, SrcPort: uint16(p)}
			f.req.Proxy = &f.proxy
		}
	}
	return nil
}

// strip clears the forwarding headers an untrusted peer sent, so that
// neither Kong's upstream X-Forwarded-For nor the service sees them.
func (f *facts) strip(kong *pdk.PDK, pol *guardconf.Policy) {
	sent := func(h string, flag verdict.Forwarding) {
		if f.forwarding&flag != 0 {
			_ = kong.ServiceRequest.ClearHeader(h)
		}
	}
	sent("x-forwarded-for", verdict.HasXForwardedFor)
	sent("x-real-ip", verdict.HasXRealIP)
	sent("forwarded", verdict.HasForwarded)
	if h := pol.Resolver.HeaderName(); h != "" && h != "x-forwarded-for" && h != "x-real-ip" && h != "forwarded" {
		sent(h, verdict.HasConfigured)
	}
}

func (c *Config) record(kong *pdk.PDK, pol *guardconf.Policy, f *facts, res *realip.Result, out verdict.Outcome, action string) *record.Record {
	scope := (*guardconf.Config)(c).Scope()
	kind := pol.Resolver.Kind()
	name := pol.Resolver.HeaderName()
	r := &record.Record{
		Time:       record.Stamp(Now()),
		ClientIP:   clientText(res),
		ClientPort: int(res.Port),
		PeerIP:     peerText(res),
		PeerPort:   int(res.PeerPort),
		Source:     record.Source(res, kind, headerLabel(pol)),
		KongIP:     f.kongAddr,
		Verdict:    out.Verdict.String(),
		Reasons:    out.Reasons.Names(),
		Action:     action,
		Mode:       guardconf.ModeMonitor,
		RouteID:    scope.RouteID,
		ServiceID:  scope.ServiceID,
		Instance:   scope.InstanceName,
	}
	if pol.Enforce {
		r.Mode = guardconf.ModeEnforce
	}
	if kind == realip.KindProxyProtocol {
		if f.req.Proxy != nil {
			host := f.proxy.SrcAddr
			if strings.IndexByte(host, ':') >= 0 {
				host = "[" + host + "]" // "2001:db8::1:5555" would be ambiguous
			}
			r.Chain = []string{host + ":" + strconv.Itoa(int(f.proxy.SrcPort))}
		} else {
			r.Chain = []string{}
		}
	} else {
		r.Chain, r.Truncated = record.Chain(f.req.Headers, kind, name)
	}
	if pol.LogPorts {
		if p, err := kong.Client.GetPort(); err == nil {
			r.PeerPort = p
			if res.Status == realip.Declined {
				r.ClientPort = p
			}
		}
	}
	return r
}

func headerLabel(pol *guardconf.Policy) string {
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

func clientText(res *realip.Result) string {
	if res.Unix {
		return "unix:"
	}
	return realip.FormatAddr(res.Addr)
}

func peerText(res *realip.Result) string {
	if !res.PeerAddr.IsValid() {
		return "unix:"
	}
	return realip.FormatAddr(res.PeerAddr)
}

// emit sends a record to the configured sink.
func emit(kong *pdk.PDK, pol *guardconf.Policy, rec *record.Record) {
	switch pol.Sink {
	case guardconf.SinkSerializer:
		v, err := structpb.NewValue(rec.Map())
		if err != nil {
			_ = kong.Log.Err("client-ip-guard: encoding record: ", err.Error())
			return
		}
		// go-pdk has no wrapper for set_serialize_value; ask the bridge.
		_ = kong.Log.Ask("kong.log.set_serialize_value", &kong_plugin_protocol.KV{K: SerializeKey, V: v}, nil)
	case guardconf.SinkFile, guardconf.SinkStdout:
		path := pol.LogPath
		if pol.Sink == guardconf.SinkStdout {
			path = "-"
		}
		w, err := sink.Open(path)
		if err != nil {
			_ = kong.Log.Err("client-ip-guard: ", err.Error())
			return
		}
		w.Write(rec.JSON())
	default:
		_ = kong.Log.Notice(string(rec.JSON()))
	}
}

// failClosed reports an error to Kong's log and rejects the request with
// 500: a guard that cannot judge must not let the request through.
func failClosed(kong *pdk.PDK, msg string) {
	defer func() { _ = recover() }() // the connection may already be gone
	_ = kong.Log.Err(msg)
	kong.Response.Exit(500, []byte(`{"message":"An unexpected error occurred"}`), map[string][]string{"Content-Type": {"application/json; charset=utf-8"}})
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	}
	return "panic"
}
