package kongpdk

import (
	"net/netip"
	"sync"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
)

// Header is one request header line, as received or as rewritten by
// kong.service.request.* calls.
type Header struct {
	Name  string
	Value string
}

// Vars holds the nginx variables Kong's PDK reads for the client address.
// The front door computes them with plugin/realip, exactly as nginx would.
type Vars struct {
	RemoteAddr       string // $remote_addr (after realip)
	RemotePort       string // $remote_port ("" when realip left it empty)
	RealIPRemoteAddr string // $realip_remote_addr (the TCP peer)
	RealIPRemotePort string // $realip_remote_port

	ProxyProtocolAddr       string // $proxy_protocol_addr ("" without PROXY data)
	ProxyProtocolPort       string
	ProxyProtocolServerAddr string
	ProxyProtocolServerPort string
	// ProxyProtocolTLVs maps nginx TLV variable suffixes ("alpn", "0xea",
	// "ssl_cn", ...) to raw values, for $proxy_protocol_tlv_*.
	ProxyProtocolTLVs map[string]string
}

// Exit is a kong.response.exit a plugin asked for.
type Exit struct {
	Status  int
	Body    []byte
	Headers map[string][]string
}

// LogLine is one kong.log.* call, as Kong would write it to its error log.
type LogLine struct {
	Level   string // "err", "notice", ...
	Message string
}

// Request is the per-request state Kong's PDK exposes to a plugin. The
// front door fills the inputs; HandleEvent answers PDK calls from them and
// records what the plugin did. It is safe for one event at a time.
type Request struct {
	mu sync.Mutex // Lock and Unlock

	// Inputs.
	Vars        Vars
	Scheme      string // "http" or "https"
	Host        string
	Port        int // listener port
	Method      string
	Path        string
	RawQuery    string
	HTTPVersion float64
	// Headers holds the request header lines in order. set_header,
	// add_header and clear_header rewrite it, and later reads see the
	// change, as in Kong.
	Headers []Header
	// Trusted answers kong.ip.is_trusted (Kong's trusted_ips).
	Trusted func(netip.Addr) bool
	// RouteID, ServiceID, names: what kong.router.get_route/get_service return.
	RouteID, RouteName, ServiceID, ServiceName string
	// RouteEntity and ServiceEntity are the route and service tables
	// kong.log.serialize() copies (nil: just id and name).
	RouteEntity, ServiceEntity map[string]any
	// Shared is kong.ctx.shared; NgxCtx is ngx.ctx (kong.nginx.get_ctx).
	Shared map[string]any
	NgxCtx map[string]any
	// StartTime is the request start, seconds since the epoch.
	StartTime float64
	// NginxVars answers kong.nginx.get_var for variables not derived from
	// the fields above (e.g. "request_id", "server_addr"); optional.
	NginxVars map[string]string
	// Maps are the map variables of kong.conf's nginx_http_include, read
	// by kong.nginx.get_var (shared, read-only; nil without the include).
	Maps []nginxvar.Map
	// Body is the request body, for kong.request.get_raw_body; optional.
	Body []byte
	// Response is what the client was sent, filled before the log phase.
	Response Response

	// Outputs.
	Exit           *Exit
	Logs           []LogLine
	SerializeValue map[string]any // kong.log.set_serialize_value, dotted keys as given
	// ResponseHeaders are kong.response.set_header/add_header results.
	ResponseHeaders map[string][]string
	// Calls lists every PDK method the plugin called, per phase, in order.
	Calls map[string][]string
	// UpstreamHost is set by kong.service.request.set_header("host", v),
	// as Kong sets $upstream_host.
	UpstreamHost string
	// UpstreamScheme and UpstreamPath are $upstream_scheme and
	// $upstream_uri as kong.service.request.set_scheme / set_path leave
	// them ("" = not set by a plugin; the path is escaped as Kong does).
	// set_raw_query, set_query, set_method and set_raw_body rewrite
	// RawQuery, Method and Body themselves, as ngx.req.* does.
	UpstreamScheme, UpstreamPath string
}

// Response is the response side of a request as the client saw it; the
// front door fills it before running the log phase, whose snapshot
// (kong.response.get_status/get_header/get_headers, kong.log.serialize)
// reads it.
type Response struct {
	Status int
	// Source is kong.response.get_source: "exit", "error" or "service";
	// empty means derive it (exit when Request.Exit is set, else service).
	Source  string
	Headers map[string][]string
	// Size is the number of bytes sent, for the serializer.
	Size int
	// UpstreamURI is the URI sent to the service ("" when none was).
	UpstreamURI string
}

// Lock and Unlock guard the request while a PDK call reads or edits it.
func (r *Request) Lock() { r.mu.Lock() }

// Unlock releases Lock.
func (r *Request) Unlock() { r.mu.Unlock() }
