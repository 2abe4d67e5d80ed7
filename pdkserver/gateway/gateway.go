// Package gateway is pdkserver's front door: an HTTP gateway that behaves,
// for what concerns the client address, as Kong's proxy does. It listens as
// kong.conf's proxy_listen says (PROXY protocol and TLS included), computes
// nginx's address variables with plugin/realip (the same code the plugin
// runs), routes by kong.yml, runs the external plugins' phases through a
// plugin server, and forwards to the upstream with Kong's upstream headers.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// KongVersion is the Kong release the gateway stands in for, as shown in
// the Via and Server headers: the tag whose source pdkserver models.
const KongVersion = "3.9.3"

// Listener is one proxy_listen entry.
type Listener struct {
	// Addr is host:port; port 0 picks a free port (tests).
	Addr          string
	SSL           bool
	HTTP2         bool
	ProxyProtocol bool
}

// String renders the entry as kong.conf would.
func (l Listener) String() string {
	s := l.Addr
	if l.SSL {
		s += " ssl"
	}
	if l.HTTP2 {
		s += " http2"
	}
	if l.ProxyProtocol {
		s += " proxy_protocol"
	}
	return s
}

// Node is the node-level (kong.conf) part of the configuration.
type Node struct {
	Listeners       []Listener
	TrustedIPs      []string
	RealIPHeader    string
	RealIPRecursive bool
	// Plugins is kong.conf's plugins list; "bundled" enables the bundled
	// plugins pdkserver emulates (file-log).
	Plugins []string
	// HeaderBuffers are nginx's request header buffers; HTTP/1 requests
	// whose head would not fit them are refused with Kong's 400 or 414
	// before any phase. The zero value is nginx's default (1k; 4 8k).
	HeaderBuffers HeaderBuffers
	// LuaMaxReqHeaders is kong.conf's lua_max_req_headers: how many request
	// lines ngx.req.get_headers() reads in Kong (0: Kong's default, 100).
	LuaMaxReqHeaders int
	// HTTPInclude is kong.conf's nginx_http_include, an absolute path
	// (nodeconf.Conf.HTTPInclude); "" for none. pdkserver models the
	// include the fast path needs: volatile map blocks (LoadHTTPInclude).
	HTTPInclude string
	// UnderscoresOff is underscores_in_headers off in the proxy server
	// (nodeconf.Conf.HeaderNameRules; Kong's template turns it on), and
	// KeepInvalidHeaders is ignore_invalid_headers off. By default nginx
	// drops a header line whose name has a byte other than a letter, a
	// digit, '-' or '_', and with UnderscoresOff also '_'
	// (nginxvar.HeaderNameValid).
	UnderscoresOff     bool
	KeepInvalidHeaders bool
}

// Entity is a plugin entity as handed to a plugin server.
type Entity struct {
	ID, Name, InstanceName         string
	RouteID, ServiceID, ConsumerID string
	Config                         map[string]any
}

// Plugin is an external plugin as the gateway drives it: what its -dump
// said, and a way to run one of its phases for a request.
type Plugin interface {
	Name() string
	Priority() int
	Phases() []string
	// Schema is the plugin's schema from -dump; nil skips config checks.
	Schema() json.RawMessage
	HandleEvent(ctx context.Context, e *Entity, phase string, req *kongpdk.Request) error
}

// Options configure a Gateway.
type Options struct {
	Node    Node
	Config  *kongyml.File
	Plugins []Plugin
	// Logf receives the gateway's error-log lines; nil discards them.
	Logf func(format string, args ...any)
	// EventTimeout bounds one plugin phase for one request (default 60 s,
	// Kong's socket timeout towards plugin servers).
	EventTimeout time.Duration
	// UpstreamTimeout bounds the upstream exchange (default 60 s, Kong's
	// service read_timeout).
	UpstreamTimeout time.Duration
	// ProxyHeaderTimeout bounds reading the PROXY header (default 5 s).
	ProxyHeaderTimeout time.Duration
	// Observe, if set, is called once per request after every phase,
	// including the asynchronous log phase, has finished.
	Observe func(*Exchange)
}

// Exchange is what happened to one request, for tests and the demo.
type Exchange struct {
	ID       string
	Listener Listener
	Route    *kongyml.Route
	Service  *kongyml.Service
	// Request is the PDK state after every phase ran.
	Request *kongpdk.Request
	// Status is the status sent to the client; Source is Kong's
	// kong.response.get_source: "exit", "error" or "service".
	Status int
	Source string
	// ResponseHeader is what the client was sent.
	ResponseHeader http.Header
	// Upstream is the request sent to the service (nil when none was).
	Upstream *http.Request
	// EventErrors lists plugin event failures, "phase plugin: error".
	EventErrors []string
	// FileLog holds the records the emulated file-log plugin wrote.
	FileLog []map[string]any

	kong  kongVars  // $upstream_* as access.before set them
	size  int       // response body bytes sent
	start time.Time // request start
}

// Gateway is a running front door.
type Gateway struct {
	opts     Options
	resolver *realip.Resolver
	trusted  *realip.Trusted
	plugins  map[string]Plugin
	logf     func(string, ...any)
	conf     atomic.Pointer[routing]
	cert     *certificate
	maps     []nginxvar.Map // nginx_http_include's map variables

	mu        sync.Mutex
	servers   []*http.Server
	bound     []BoundListener
	closed    bool
	bg        sync.WaitGroup // log phases
	logSlots  chan struct{}
	transport *http.Transport
}

// BoundListener is a listener with its actual address.
type BoundListener struct {
	Listener
	Addr net.Addr
}

// New checks the configuration and prepares a Gateway; Start opens the
// listeners.
func New(opts Options) (*Gateway, error) {
	if opts.EventTimeout <= 0 {
		opts.EventTimeout = 60 * time.Second
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = 60 * time.Second
	}
	if opts.ProxyHeaderTimeout <= 0 {
		opts.ProxyHeaderTimeout = 5 * time.Second
	}
	if len(opts.Node.Listeners) == 0 {
		return nil, errors.New("proxy_listen has no entries")
	}
	trusted, warns, err := realip.ParseTrusted(opts.Node.TrustedIPs)
	if err != nil {
		return nil, fmt.Errorf("trusted_ips: %w", err)
	}
	g := &Gateway{
		opts:     opts,
		trusted:  trusted,
		resolver: realip.NewResolver(trusted, opts.Node.RealIPHeader, opts.Node.RealIPRecursive),
		plugins:  map[string]Plugin{},
		logf:     opts.Logf,
		logSlots: make(chan struct{}, 4096), // lua_max_running_timers
	}
	if g.logf == nil {
		g.logf = func(string, ...any) {}
	}
	for _, w := range warns {
		g.logf("[warn] trusted_ips entry %s: %s", w.Entry, w.Message)
	}
	if p := opts.Node.HTTPInclude; p != "" {
		if g.maps, err = LoadHTTPInclude(p); err != nil {
			return nil, fmt.Errorf("nginx_http_include: %w", err)
		}
	}
	for _, p := range opts.Plugins {
		g.plugins[p.Name()] = p
	}
	if opts.Config == nil {
		opts.Config = &kongyml.File{}
	}
	if err := g.SetConfig(opts.Config); err != nil {
		return nil, err
	}
	g.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 60 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: opts.UpstreamTimeout,
		DisableCompression:    true,
		// Kong does not verify upstream certificates unless tls_verify is set.
		TLSClientConfig: insecureTLS(),
	}
	return g, nil
}

// Start binds every listener and serves until Close.
func (g *Gateway) Start() error {
	if g.cert == nil && slices.ContainsFunc(g.opts.Node.Listeners, func(l Listener) bool { return l.SSL }) {
		c, err := newSelfSigned()
		if err != nil {
			return fmt.Errorf("generating the self-signed certificate: %w", err)
		}
		g.cert = c
	}
	for _, l := range g.opts.Node.Listeners {
		if err := g.listen(l); err != nil {
			g.Close()
			return fmt.Errorf("proxy_listen %q: %w", l.String(), err)
		}
	}
	return nil
}

// Listeners returns the bound listeners in proxy_listen order.
func (g *Gateway) Listeners() []BoundListener {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]BoundListener(nil), g.bound...)
}

// CertificatePEM returns the self-signed certificate the ssl listeners
// present, PEM-encoded; nil without ssl listeners.
func (g *Gateway) CertificatePEM() []byte {
	if g.cert == nil {
		return nil
	}
	return g.cert.pem
}

// Close stops the listeners, closes open connections and waits (up to the
// event timeout) for pending log phases.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	servers := g.servers
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}
	done := make(chan struct{})
	go func() { g.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(g.opts.EventTimeout):
		g.logf("[warn] closing with log phases still running")
	}
	g.transport.CloseIdleConnections()
	return nil
}

// routing is one kong.yml's worth of state, swapped atomically on reload.
type routing struct {
	file     *kongyml.File
	routes   []routeEntry // longest path first
	seq      uint64
	entities map[*kongyml.Plugin]*Entity // one per plugin entity and config, so plugin servers can reuse instances
}

type routeEntry struct {
	path  string
	route *kongyml.Route
}

var configSeq atomic.Uint64

// SetConfig checks a kong.yml and makes it the live configuration; requests
// already running finish with the old one, as on Kong's POST /config.
func (g *Gateway) SetConfig(f *kongyml.File) error {
	if f == nil {
		return errors.New("no declarative configuration")
	}
	enabled := map[string]bool{}
	for _, p := range g.opts.Node.Plugins {
		enabled[strings.TrimSpace(p)] = true
	}
	for _, p := range f.Plugins {
		bundled := p.Name == fileLogName
		if !enabled[p.Name] && !(bundled && enabled["bundled"]) {
			return fmt.Errorf("plugin %s (%s): plugin '%s' not enabled; add it to the 'plugins' configuration property", p.Name, p.Scope(), p.Name)
		}
		if bundled {
			if err := checkFileLog(p.Config); err != nil {
				return fmt.Errorf("plugin file-log (%s): %w", p.Scope(), err)
			}
			continue
		}
		ext := g.plugins[p.Name]
		if ext == nil {
			return fmt.Errorf("plugin %s (%s): not available in pdkserver: only plugin servers listed in pluginserver_names and the bundled file-log are emulated", p.Name, p.Scope())
		}
		if err := checkSchema(ext.Schema(), p.Config); err != nil {
			return fmt.Errorf("plugin %s (%s): schema violation: %w", p.Name, p.Scope(), err)
		}
	}
	rt := &routing{file: f, seq: configSeq.Add(1), entities: map[*kongyml.Plugin]*Entity{}}
	for _, p := range f.Plugins {
		e := &Entity{ID: p.ID, Name: p.Name, InstanceName: p.InstanceName, Config: p.Config}
		if p.Route != nil {
			e.RouteID = p.Route.ID
		}
		if p.Service != nil {
			e.ServiceID = p.Service.ID
		}
		rt.entities[p] = e
	}
	for _, r := range f.Routes {
		for _, p := range r.Paths {
			rt.routes = append(rt.routes, routeEntry{path: p, route: r})
		}
	}
	// Longest prefix first; stable so equal lengths keep file order.
	slices.SortStableFunc(rt.routes, func(a, b routeEntry) int { return len(b.path) - len(a.path) })
	g.conf.Store(rt)
	return nil
}

// checkSchema rejects config keys the plugin's schema does not declare,
// as Kong's schema validation does ("unknown field").
func checkSchema(schema json.RawMessage, config map[string]any) error {
	if len(schema) == 0 {
		return nil
	}
	var s struct {
		Fields []map[string]struct {
			Type   string                       `json:"type"`
			Fields []map[string]json.RawMessage `json:"fields"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil // an unreadable schema is the plugin server's problem
	}
	known := map[string]bool{}
	found := false
	for _, f := range s.Fields {
		if c, ok := f["config"]; ok {
			found = true
			for _, cf := range c.Fields {
				for k := range cf {
					known[k] = true
				}
			}
		}
	}
	if !found {
		return nil
	}
	var unknown []string
	for k := range config {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("config.%s: unknown field", strings.Join(unknown, ", config."))
	}
	return nil
}

// match finds the route for a path: the longest matching prefix.
func (rt *routing) match(path string) *kongyml.Route {
	for _, e := range rt.routes {
		if strings.HasPrefix(path, e.path) {
			return e.route
		}
	}
	return nil
}

// boundPlugin is a plugin entity resolved for one request.
type boundPlugin struct {
	entity   *Entity
	cfg      *kongyml.Plugin
	ext      Plugin // nil for bundled
	priority int
	phases   []string
}

func (b *boundPlugin) has(phase string) bool { return slices.Contains(b.phases, phase) }

// pluginsFor picks, for each plugin name, the most specific enabled entity
// (route, then service, then global) and orders them by priority, highest
// first, as Kong's plugins iterator does.
func (g *Gateway) pluginsFor(rt *routing, route *kongyml.Route, scheme string) []*boundPlugin {
	best := map[string]*kongyml.Plugin{}
	rank := func(p *kongyml.Plugin) int {
		switch {
		case p.Route != nil:
			return 2
		case p.Service != nil:
			return 1
		}
		return 0
	}
	for _, p := range rt.file.Plugins {
		if !p.Enabled {
			continue
		}
		if len(p.Protocols) > 0 && !slices.Contains(p.Protocols, scheme) {
			continue
		}
		switch {
		case p.Route != nil && (route == nil || p.Route != route):
			continue
		case p.Service != nil && (route == nil || p.Service != route.Service):
			continue
		}
		if cur := best[p.Name]; cur == nil || rank(p) > rank(cur) {
			best[p.Name] = p
		}
	}
	out := make([]*boundPlugin, 0, len(best))
	for _, p := range best {
		out = append(out, g.bind(rt, p))
	}
	sortByPriority(out)
	return out
}

// globalRewrite lists the global plugin entities (no route, service or
// consumer) whose plugin has a rewrite handler, by priority. Kong runs each
// of them in the rewrite phase, before routing, whatever more specific
// entity the access phase picks later and whatever the protocol
// (kong/runloop/plugins_iterator.lua:569-573 and 604-614, kong/init.lua:1169
// and 312-341 at 3.9.3).
func (g *Gateway) globalRewrite(rt *routing) []*boundPlugin {
	var out []*boundPlugin
	for _, p := range rt.file.Plugins {
		if !p.Enabled || p.Route != nil || p.Service != nil || p.Name == fileLogName { // kongyml refuses consumer scopes
			continue
		}
		if b := g.bind(rt, p); b.ext != nil && b.has("rewrite") {
			out = append(out, b)
		}
	}
	sortByPriority(out)
	return out
}

// bind pairs a plugin entity with its plugin.
func (g *Gateway) bind(rt *routing, p *kongyml.Plugin) *boundPlugin {
	b := &boundPlugin{cfg: p, entity: rt.entities[p]}
	if p.Name == fileLogName {
		b.priority, b.phases = fileLogPriority, []string{"log"}
	} else {
		b.ext = g.plugins[p.Name]
		b.priority, b.phases = b.ext.Priority(), b.ext.Phases()
	}
	return b
}

// sortByPriority orders plugins as Kong's iterator runs them: highest
// priority first.
func sortByPriority(out []*boundPlugin) {
	slices.SortFunc(out, func(a, b *boundPlugin) int {
		if a.priority != b.priority {
			return b.priority - a.priority
		}
		return strings.Compare(a.cfg.Name, b.cfg.Name)
	})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorLogger adapts Logf for http.Server.ErrorLog.
type errorLogger struct{ logf func(string, ...any) }

// Write logs one line of net/http's own messages.
func (e errorLogger) Write(p []byte) (int, error) {
	e.logf("[info] %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (g *Gateway) stdLogger() *log.Logger { return log.New(errorLogger{g.logf}, "", 0) }

// CloseIdleConnections closes kept-alive upstream connections; their
// number follows the load, so leak checks measure without them.
func (g *Gateway) CloseIdleConnections() { g.transport.CloseIdleConnections() }
