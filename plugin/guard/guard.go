// Package guard is client-ip-guard's glue to Kong: the access handler that
// gathers the request's addressing facts with as few PDK calls as
// possible, resolves and judges them with the pure packages, then records
// and enforces. Every PDK call is a round trip over a Unix socket, so the
// handler's call budget is part of its contract (see Access).
package guard

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/metrics"
	"github.com/client-ip-guard/client-ip-guard/plugin/pbheaders"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/sink"
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
// Kong's maximum. A request with more header lines cannot be judged.
const MaxHeaders = evaluate.MaxHeaders

// Config is the plugin's configuration type handed to go-pdk: the fields
// and JSON tags of guardconf.Config, plus the phase handlers. go-pdk sees
// the methods of this type to decide the phases: Rewrite and Access.
type Config guardconf.Config

// New is the constructor go-pdk calls for each plugin instance.
func New() any { return &Config{} }

// UnmarshalJSON decodes and compiles the instance's config once.
func (c *Config) UnmarshalJSON(b []byte) error { return (*guardconf.Config)(c).UnmarshalJSON(b) }

// Now is the clock used for records; tests replace it.
var Now = time.Now

// errorReportEvery bounds how often one instance logs the same kind of
// failure in monitor mode, where traffic passes and a line per request
// would flood Kong's log.
const errorReportEvery = time.Minute

// Rewrite runs only for global instances: Kong runs the rewrite phase for
// plugins bound to no route, service or consumer (kong/init.lua:1169 at
// 3.9.3), before runloop.access.before computes the upstream
// X-Forwarded-For from the request's headers (kong/init.lua:1199,
// kong/runloop/handler.lua:1340-1347). A global instance judges here, so
// that strip_untrusted_forwarding removes a forged X-Forwarded-For before
// Kong copies it upstream; its access event then does nothing.
func (c *Config) Rewrite(kong *pdk.PDK) {
	if (*guardconf.Config)(c).Scope().Global() {
		c.handle(kong)
	}
}

// Access runs in Kong's access phase for instances bound to a route,
// service or consumer (a global instance has judged in Rewrite). The PDK
// calls of one judgement:
//
//	always           kong.client.get_ip, kong.request.get_headers,
//	                 kong.client.get_forwarded_ip                      3
//	proxy_protocol   + kong.nginx.get_var proxy_protocol_addr/_port  +2
//	strip            + one clear_header per forwarding header to clear +n
//	upstream_header  + set_header or clear_header                     +1
//	a record         + kong.log.notice or set_serialize_value
//	                   (file/stdout sinks: none)                      +1
//	log_ports        + kong.client.get_port, with a record            +1
//	a rejection      + kong.response.exit                             +1
//
// so an ok request in the default configuration costs 3 calls and an
// anomaly 4. With fast_path, the first three (and the PROXY pair) are one
// kong.nginx.get_var of $client_ip_guard_facts: an ok request costs 1
// call; a request the variable shows as an anomaly, or cannot describe,
// is read again with the three (1+3, then as above). Nothing is left for the log phase, which in Kong runs after
// the response from a snapshot that cannot read the client address.
func (c *Config) Access(kong *pdk.PDK) {
	if !(*guardconf.Config)(c).Scope().Global() {
		c.handle(kong)
	}
}

// factsPool recycles Facts and their header buffers between requests.
var factsPool = sync.Pool{New: func() any { return new(facts) }}

// facts is one request's evaluate.Facts plus the raw get_headers reply.
type facts struct {
	evaluate.Facts
	headerBuf emptypb.Empty // kong.request.get_headers' reply, kept as raw bytes
	varBuf    emptypb.Empty // kong.nginx.get_var's reply on the fast path
}

// handle judges one request. It never lets an error or a panic take the
// plugin server down; whether the request then passes depends on the mode
// (see fail).
func (c *Config) handle(kong *pdk.PDK) {
	conf := (*guardconf.Config)(c)
	defer func() {
		if r := recover(); r != nil {
			fail(kong, conf, "client-ip-guard: internal error: "+toString(r))
		}
	}()
	pol, err := conf.Policy()
	if err != nil {
		metrics.ConfigError(err) // metrics: config_errors_total{field}
		fail(kong, conf, err.Error())
		return
	}
	f := factsPool.Get().(*facts)
	defer func() {
		f.Reset()
		f.headerBuf = emptypb.Empty{}
		f.varBuf = emptypb.Empty{}
		factsPool.Put(f)
	}()
	fast := pol.FastPath && conf.FastPathUp(Now()) && f.readFast(kong, conf, pol)
	var ev evaluate.Evaluation
	if fast {
		ev = evaluate.Evaluate(pol, &f.Facts, nil)
		// What the variable cannot show could only make a request look
		// cleaner than it is, so an anomaly is judged again from the
		// three calls, and the verdict of any request worth a record is
		// the full path's.
		fast = !ev.Anomaly(pol)
		if !fast {
			metrics.FastPath(metrics.FastRejudged)
			f.Reset()
		} else {
			metrics.FastPath(metrics.FastServed)
		}
	}
	if !fast {
		if err := f.gather(kong, pol); err != nil {
			fail(kong, conf, "client-ip-guard: reading the request from Kong: "+err.Error())
			return
		}
		ev = evaluate.Evaluate(pol, &f.Facts, nil)
	}
	// metrics: verdicts_total; a lock-free lookup and an atomic add, no PDK call, no allocation.
	scope := conf.Scope()
	metrics.For(scope.RouteID, scope.ServiceID).Count(ev.Outcome.Verdict, metrics.ActionOf(ev.Reject, pol.Enforce))
	if ev.Passes(pol) {
		for _, h := range ev.Strip(pol, &f.Facts) {
			_ = kong.ServiceRequest.ClearHeader(h)
		}
		if v, clear, ok := ev.Upstream(pol); ok {
			if clear {
				// Not a client address: make sure no client-sent value survives.
				_ = kong.ServiceRequest.ClearHeader(pol.UpstreamHdr)
			} else {
				_ = kong.ServiceRequest.SetHeader(pol.UpstreamHdr, v)
			}
		}
	}
	if ev.Logged(pol) {
		rec := ev.Record(pol, &f.Facts, scope, record.Stamp(Now()))
		if pol.LogPorts {
			if p, err := kong.Client.GetPort(); err == nil {
				rec.PeerPort = p
				if ev.Result.Status == realip.Declined {
					rec.ClientPort = p
				}
			}
		}
		emit(kong, pol, rec)
	}
	if !ev.Passes(pol) {
		// JSON-encode the message: Go quoting (\a, \x..) is not JSON.
		msg, _ := json.Marshal(pol.Message)
		body := []byte(`{"message":` + string(msg) + `}`)
		kong.Response.Exit(pol.Status, body, map[string][]string{"Content-Type": {"application/json; charset=utf-8"}})
	}
}

// getHeaders is the PDK method behind kong.request.get_headers.
const getHeaders = "kong.request.get_headers"

// getVar is the PDK method behind kong.nginx.get_var (Kong 3.9.3:
// kong/runloop/plugin_servers/plugin.lua:52, ngx.var[name]).
const getVar = "kong.nginx.get_var"

// fastRetry is how long an instance whose fast path could not be served
// reads requests the long way before it tries the variable again (the
// include may be loaded by a later Kong reload).
const fastRetry = time.Minute

// readFast fills f from $client_ip_guard_facts with one PDK call and
// reports whether it did. A request the variable cannot describe exactly
// is left to gather; a variable that cannot serve the instance sets the
// fast path aside for fastRetry, said once per instance in Kong's log.
func (f *facts) readFast(kong *pdk.PDK, conf *guardconf.Config, pol *guardconf.Policy) bool {
	if err := kong.Nginx.Ask(getVar, &kong_plugin_protocol.String{V: fastpath.Variable}, &f.varBuf); err != nil {
		metrics.PDKError(getVar)
		return false
	}
	raw, err := pbheaders.String(f.varBuf.ProtoReflect().GetUnknown())
	status, why := fastpath.Ineligible, ""
	if err == nil {
		status, why = fastpath.Fill(&f.Facts, raw, pol.Resolver.Kind(), pol.Resolver.HeaderName())
	}
	switch status {
	case fastpath.OK:
		return true
	case fastpath.Ineligible:
		metrics.FastPath(metrics.FastIneligible)
	case fastpath.Unavailable:
		metrics.FastPath(metrics.FastUnavailable)
		if conf.FastPathDown(Now(), fastRetry) {
			_ = kong.Log.Warn("client-ip-guard: fast_path: ", why, "; reading requests with three PDK calls")
		}
	}
	f.Reset()
	return false
}

func (f *facts) gather(kong *pdk.PDK, pol *guardconf.Policy) error {
	peer, err := kong.Client.GetIp()
	if err != nil {
		metrics.PDKError("kong.client.get_ip")
		return err
	}
	// The reply is decoded into an empty message, so that its bytes stay
	// unknown fields that pbheaders reads as sent: go-pdk's own GetHeaders
	// fails the whole call on one non-UTF-8 byte in any header.
	if err := kong.Request.Ask(getHeaders, &kong_plugin_protocol.Int{V: MaxHeaders}, &f.headerBuf); err != nil {
		metrics.PDKError(getHeaders)
		return err
	}
	kongAddr, err := kong.Client.GetForwardedIp()
	if err != nil {
		metrics.PDKError("kong.client.get_forwarded_ip")
		return err
	}
	f.SetKong(kongAddr)
	// The peer's port is not read: nothing in the verdict needs it and it
	// would cost a call. Port 0 here never reaches a record unless
	// log_ports asks for the real one.
	if err := f.SetPeer(peer); err != nil {
		return fmt.Errorf("kong.client.get_ip returned %q: %w", peer, err)
	}
	source := pol.Resolver.HeaderName()
	err = pbheaders.Walk(f.headerBuf.ProtoReflect().GetUnknown(), func(k, v []byte) {
		f.AddHeader(source, k, v)
	})
	if err != nil {
		return err
	}
	if pol.Resolver.Kind() == realip.KindProxyProtocol {
		addr, err := kong.Nginx.GetVar("proxy_protocol_addr")
		if err != nil {
			metrics.PDKError("kong.nginx.get_var")
			return err
		}
		if addr != "" {
			port, err := kong.Nginx.GetVar("proxy_protocol_port")
			if err != nil {
				metrics.PDKError("kong.nginx.get_var")
				return err
			}
			p, _ := strconv.ParseUint(port, 10, 16)
			f.SetProxy(addr, uint16(p))
		}
	}
	return nil
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
		_ = kong.Log.Notice(string(rec.Fit(record.MaxKongLogBytes)))
	}
}

// fail handles a request the guard cannot judge. In monitor mode the
// request passes and the error is logged at most once per
// errorReportEvery; otherwise the error is logged and the request is
// rejected with 500: a guard that enforces must not let through what it
// could not check.
func fail(kong *pdk.PDK, conf *guardconf.Config, msg string) {
	defer func() { _ = recover() }() // the connection may already be gone
	if conf.FailOpen() {
		if conf.ErrorReportDue(time.Now(), errorReportEvery) {
			_ = kong.Log.Err(msg, " (monitor mode: requests pass unjudged)")
		}
		return
	}
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
