package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// Kong's own error bodies.
const (
	bodyUnexpected = `{"message":"An unexpected error occurred"}`
	bodyNoRoute    = `{"message":"no Route matched with those values"}`
	bodyBadGateway = `{"message":"An invalid response was received from the upstream server"}`
	bodyTimeout    = `{"message":"The upstream server is timed out"}`
)

// ServeHTTP runs one request through Kong's phases.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt := g.conf.Load()
	bl, _ := r.Context().Value(listenerKey{}).(BoundListener)
	gc, _ := r.Context().Value(connKey{}).(*gwConn)
	x := &Exchange{ID: newRequestID(), Listener: bl.Listener, start: start}
	lines := headerLines(r)
	req := g.newRequest(r, gc, bl, start, g.keptLines(lines, x.ID))
	x.Request = req
	req.NginxVars["request_id"], req.NginxVars["kong_request_id"] = x.ID, x.ID
	w.Header().Set("X-Kong-Request-Id", x.ID)
	if g.refuseHead(w, r, x, lines) {
		// nginx refused the head before any Kong phase: no plugin runs.
		g.finish(x, nil)
		return
	}

	route := rt.match(r.URL.Path)
	x.Route = route
	if route != nil {
		x.Service = route.Service
		req.RouteID, req.RouteName = route.ID, route.Name
		req.ServiceID, req.ServiceName = route.Service.ID, route.Service.Name
		req.RouteEntity = map[string]any{"id": route.ID, "name": route.Name, "paths": route.Paths}
		svc := route.Service
		req.ServiceEntity = map[string]any{"id": svc.ID, "name": svc.Name, "host": svc.Host, "port": svc.Port, "protocol": svc.Protocol, "path": svc.Path}
		if !slices.Contains(route.Protocols, req.Scheme) {
			route = nil // Kong's router does not match a route for another protocol
			x.Route, x.Service = nil, nil
			req.RouteID, req.RouteName, req.ServiceID, req.ServiceName = "", "", "", ""
			req.RouteEntity, req.ServiceEntity = nil, nil
		}
	}
	plugins := g.pluginsFor(rt, route, req.Scheme)
	ctx := r.Context()

	// rewrite: every global entity, before routing decides anything
	// (kong/init.lua:1155-1169 at 3.9.3).
	for _, p := range g.globalRewrite(rt) {
		if stop := g.runPhase(ctx, x, p, "rewrite", w); stop {
			g.finish(x, plugins)
			return
		}
	}
	if route == nil {
		g.respond(w, x, http.StatusNotFound, "error", bodyNoRoute, "application/json; charset=utf-8")
		g.finish(x, plugins)
		return
	}
	x.kong = g.accessBefore(req, route)
	for _, p := range plugins {
		if p.ext == nil || !p.has("access") {
			continue
		}
		if stop := g.runPhase(ctx, x, p, "access", w); stop {
			g.finish(x, plugins)
			return
		}
	}
	g.proxy(w, r, x, route)
	g.finish(x, plugins)
}

// runPhase runs one plugin phase; it reports whether the request ended
// (the plugin exited, or the event failed and Kong answered 500).
func (g *Gateway) runPhase(ctx context.Context, x *Exchange, p *boundPlugin, phase string, w http.ResponseWriter) bool {
	ectx, cancel := context.WithTimeout(ctx, g.opts.EventTimeout)
	defer cancel()
	err := p.ext.HandleEvent(ectx, p.entity, phase, x.Request)
	if err != nil {
		g.logf("[error] %s phase of plugin %s failed: %v, client: %s, request id: %s", phase, p.cfg.Name, err, x.Request.Vars.RemoteAddr, x.ID)
		x.EventErrors = append(x.EventErrors, fmt.Sprintf("%s %s: %v", phase, p.cfg.Name, err))
		if x.Request.Exit == nil {
			g.respond(w, x, http.StatusInternalServerError, "error", bodyUnexpected, "application/json; charset=utf-8")
			return true
		}
	}
	if e := x.Request.Exit; e != nil {
		for k, vs := range e.Headers {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header()["Content-Type"] = nil // no sniffing: Kong sends none for a raw body
		}
		status := e.Status
		if status < 100 || status > 599 {
			status = http.StatusInternalServerError
		}
		g.respondRaw(w, x, status, "exit", e.Body)
		return true
	}
	return false
}

func (g *Gateway) respond(w http.ResponseWriter, x *Exchange, status int, source, body, ctype string) {
	w.Header().Set("Content-Type", ctype)
	g.respondRaw(w, x, status, source, []byte(body))
}

func (g *Gateway) respondRaw(w http.ResponseWriter, x *Exchange, status int, source string, body []byte) {
	h := w.Header()
	for k, vs := range x.Request.ResponseHeaders { // kong.response.set_header before the exit
		if h.Get(k) == "" {
			h[http.CanonicalHeaderKey(k)] = vs
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Server", "kong/"+KongVersion)
	h.Set("X-Kong-Response-Latency", strconv.FormatInt(time.Since(x.start).Milliseconds(), 10))
	x.Status, x.Source = status, source
	x.ResponseHeader = h.Clone()
	w.WriteHeader(status)
	n, _ := w.Write(body)
	x.size = n
}

// finish runs the log phase after the response, asynchronously as Kong's
// timer does, then hands the exchange to Observe.
func (g *Gateway) finish(x *Exchange, plugins []*boundPlugin) {
	var logs []*boundPlugin
	for _, p := range plugins {
		if p.has("log") {
			logs = append(logs, p)
		}
	}
	if len(logs) == 0 && g.opts.Observe == nil {
		return
	}
	select {
	case g.logSlots <- struct{}{}:
	default:
		g.logf("[error] too many pending log phases, skipping log for request %s", x.ID)
		return
	}
	g.bg.Add(1)
	// What the log phase's snapshot reads: the response as sent.
	x.Request.Response = kongpdk.Response{Status: x.Status, Source: x.Source, Headers: x.ResponseHeader, Size: x.size}
	if x.Upstream != nil {
		x.Request.Response.UpstreamURI = x.Upstream.URL.RequestURI()
	}
	// The serializer output a log plugin receives is taken now, when the
	// log phase starts, as kong.log.serialize() is.
	ser := kongpdk.SerializeJSON(x.Request, kongpdk.DefaultWorkspaceID)
	go func() {
		defer g.bg.Done()
		defer func() { <-g.logSlots }()
		for _, p := range logs {
			if p.ext == nil {
				if rec, err := writeFileLog(p.cfg.Config, ser); err != nil {
					g.logf("[error] file-log: %v", err)
				} else {
					x.FileLog = append(x.FileLog, rec)
				}
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), g.opts.EventTimeout)
			err := p.ext.HandleEvent(ctx, p.entity, "log", x.Request)
			cancel()
			if err != nil {
				g.logf("[error] log phase of plugin %s failed: %v, request id: %s", p.cfg.Name, err, x.ID)
				x.EventErrors = append(x.EventErrors, fmt.Sprintf("log %s: %v", p.cfg.Name, err))
			}
		}
		if g.opts.Observe != nil {
			g.opts.Observe(x)
		}
	}()
}

// keptLines are the header lines nginx keeps: those whose names it reads
// as invalid are dropped under ignore_invalid_headers (on by default),
// logged as nginx logs them.
func (g *Gateway) keptLines(lines []kongpdk.Header, id string) []kongpdk.Header {
	node := &g.opts.Node
	if node.KeepInvalidHeaders {
		return lines
	}
	var out []kongpdk.Header // nil until a line is dropped: no copy otherwise
	for i, h := range lines {
		if nginxvar.HeaderNameValid(h.Name, !node.UnderscoresOff) {
			if out != nil {
				out = append(out, h)
			}
			continue
		}
		if out == nil {
			out = append(make([]kongpdk.Header, 0, len(lines)), lines[:i]...)
		}
		g.logf("[info] client sent invalid header line: %q while reading client request headers, request id: %s", h.Name+": "+h.Value, id)
	}
	if out == nil {
		return lines
	}
	return out
}

// newRequest fills the PDK state nginx would have for r, whose header
// lines nginx kept are lines.
func (g *Gateway) newRequest(r *http.Request, gc *gwConn, bl BoundListener, start time.Time, lines []kongpdk.Header) *kongpdk.Request {
	req := &kongpdk.Request{
		Scheme:      "http",
		Method:      r.Method,
		Path:        r.URL.EscapedPath(),
		RawQuery:    r.URL.RawQuery,
		HTTPVersion: float64(r.ProtoMajor) + float64(r.ProtoMinor)/10,
		Trusted:     g.trusted.Contains,
		Shared:      map[string]any{},
		NgxCtx:      map[string]any{},
		StartTime:   float64(start.UnixNano()) / 1e9,
		Calls:       map[string][]string{},
		Maps:        g.maps,
	}
	if r.TLS != nil {
		req.Scheme = "https"
	}
	if ta, ok := bl.Addr.(*net.TCPAddr); ok {
		req.Port = ta.Port
	}
	req.Host = hostOnly(r.Host)
	if req.Host == "" {
		req.Host = "kong" // nginx's $host falls back to the server_name
	}
	req.Headers = lines
	req.NginxVars = map[string]string{"server_port": strconv.Itoa(req.Port), "scheme": req.Scheme}

	var peer netip.AddrPort
	var pv *proxyVars
	if gc != nil {
		peer = gc.peer()
		pv = readProxyVars(gc.proxyHeader())
	}
	rr := realip.Request{Peer: peer, Headers: make([]realip.Header, len(req.Headers))}
	for i, h := range req.Headers {
		rr.Headers[i] = realip.Header{Name: h.Name, Value: h.Value}
	}
	if pv != nil {
		rr.Proxy = &realip.Proxy{SrcAddr: pv.srcAddr, SrcPort: pv.srcPort}
		req.Vars.ProxyProtocolAddr = pv.srcAddr
		req.Vars.ProxyProtocolPort = strconv.Itoa(int(pv.srcPort))
		req.Vars.ProxyProtocolServerAddr = pv.dstAddr
		req.Vars.ProxyProtocolServerPort = strconv.Itoa(int(pv.dstPort))
		req.Vars.ProxyProtocolTLVs = pv.tlvs
	}
	res := g.resolver.Resolve(&rr, nil)
	req.Vars.RemoteAddr = formatAddr(res.Addr)
	req.Vars.RemotePort = portText(res.Port)
	req.Vars.RealIPRemoteAddr = formatAddr(res.PeerAddr)
	req.Vars.RealIPRemotePort = portText(res.PeerPort)
	return req
}

func formatAddr(a netip.Addr) string { return realip.FormatAddr(a) }

// portText renders a port as nginx does: empty when unknown.
func portText(p uint16) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(int(p))
}

// hostOnly is nginx's $host: the Host header without port, lower-cased.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

// headerLines lists the request's header lines, Host first. net/http keeps
// the order of lines of one name but not across names, so names come in
// sorted order; nginx's realip only depends on the per-name order.
func headerLines(r *http.Request) []kongpdk.Header {
	out := make([]kongpdk.Header, 0, len(r.Header)+1)
	if r.Host != "" {
		out = append(out, kongpdk.Header{Name: "Host", Value: r.Host})
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			out = append(out, kongpdk.Header{Name: k, Value: v})
		}
	}
	return out
}

// hopByHop response headers are not copied back to the client.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length"}

// proxy forwards the request to the route's service with Kong's upstream
// headers and copies the response back.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, x *Exchange, route *kongyml.Route) {
	req := x.Request
	svc := route.Service
	// What kong.service.request.* left: method, query, body, scheme, path.
	up := &http.Request{
		Method:        req.Method,
		Header:        http.Header{},
		Body:          r.Body,
		ContentLength: r.ContentLength,
		Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	if req.Body != nil { // set_raw_body (the gateway does not prefill Body)
		up.Body, up.ContentLength = io.NopCloser(bytes.NewReader(req.Body)), int64(len(req.Body))
	}
	if up.ContentLength == 0 {
		up.Body = nil
	}
	if up.Method == "" {
		up.Method = r.Method
	}
	scheme := svc.Protocol
	if req.UpstreamScheme != "" {
		scheme = req.UpstreamScheme
	}
	path := upstreamPath(r.URL.EscapedPath(), route, svc)
	if req.UpstreamPath != "" {
		path = req.UpstreamPath
	}
	u := fmt.Sprintf("%s://%s%s", scheme, hostPort(svc.Host, svc.Port), path)
	if req.RawQuery != "" {
		u += "?" + req.RawQuery
	}
	var err error
	if up.URL, err = url.Parse(u); err != nil {
		g.respond(w, x, http.StatusBadGateway, "error", bodyBadGateway, "application/json; charset=utf-8")
		return
	}
	for _, h := range upstreamHeaderLines(req, x.kong, x.ID) {
		up.Header.Add(h[0], h[1])
	}
	if _, ok := up.Header["User-Agent"]; !ok {
		up.Header["User-Agent"] = []string{""} // nginx adds none; keeps Go's out
	}
	switch {
	case req.UpstreamHost != "": // kong.service.request.set_header("host", ...)
		up.Host = req.UpstreamHost
	case route.PreserveHost:
		up.Host = r.Host
	default:
		up.Host = svc.Host
		if svc.Port != defaultPort(svc.Protocol) {
			up.Host = hostPort(svc.Host, svc.Port)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.opts.UpstreamTimeout)
	defer cancel()
	up = up.WithContext(ctx)
	x.Upstream = up
	sent := time.Now()
	resp, err := g.transport.RoundTrip(up)
	if err != nil {
		g.logf("[error] upstream %s failed: %v, client: %s, request id: %s", u, err, req.Vars.RemoteAddr, x.ID)
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			g.respond(w, x, http.StatusGatewayTimeout, "error", bodyTimeout, "application/json; charset=utf-8")
		} else {
			g.respond(w, x, http.StatusBadGateway, "error", bodyBadGateway, "application/json; charset=utf-8")
		}
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if slices.Contains(hopByHop, k) && k != "Content-Length" {
			continue
		}
		w.Header()[k] = vs
	}
	for k, vs := range req.ResponseHeaders {
		w.Header()[http.CanonicalHeaderKey(k)] = vs
	}
	w.Header().Add("Via", "1.1 kong/"+KongVersion)
	w.Header().Set("X-Kong-Upstream-Latency", strconv.FormatInt(time.Since(sent).Milliseconds(), 10))
	w.Header().Set("X-Kong-Proxy-Latency", strconv.FormatInt(sent.Sub(x.start).Milliseconds(), 10))
	if w.Header().Get("Content-Type") == "" {
		w.Header()["Content-Type"] = nil
	}
	x.Status, x.Source = resp.StatusCode, "service"
	x.ResponseHeader = w.Header().Clone()
	w.WriteHeader(resp.StatusCode)
	n, err := io.Copy(w, resp.Body)
	x.size = int(n)
	if err != nil {
		g.logf("[error] reading the upstream response: %v, request id: %s", err, x.ID)
	}
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// upstreamPath is Kong's upstream URI (path_handling v0): the route's
// matched prefix stripped when strip_path is on, appended to the service's
// path.
func upstreamPath(path string, route *kongyml.Route, svc *kongyml.Service) string {
	rest := path
	if route.StripPath {
		if p := matchedPrefix(path, route); p != "" {
			rest = path[len(p):]
		}
	}
	base := svc.Path
	switch {
	case base == "" && rest == "":
		return "/"
	case base == "":
		if !strings.HasPrefix(rest, "/") {
			rest = "/" + rest
		}
		return rest
	case rest == "":
		return base
	case strings.HasSuffix(base, "/") && strings.HasPrefix(rest, "/"):
		return base + rest[1:]
	case !strings.HasSuffix(base, "/") && !strings.HasPrefix(rest, "/"):
		return base + "/" + rest
	}
	return base + rest
}

// matchedPrefix is the longest of the route's paths that prefixes path.
func matchedPrefix(path string, route *kongyml.Route) string {
	best := ""
	for _, p := range route.Paths {
		if strings.HasPrefix(path, p) && len(p) > len(best) {
			best = p
		}
	}
	return best
}
