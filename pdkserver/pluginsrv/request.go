package pluginsrv

import (
	"net/netip"
	"sync"
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
	mu sync.Mutex

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
	// Shared is kong.ctx.shared; NgxCtx is ngx.ctx (kong.nginx.get_ctx).
	Shared map[string]any
	NgxCtx map[string]any
	// StartTime is the request start, seconds since the epoch.
	StartTime float64

	// Outputs.
	Exit           *Exit
	Logs           []LogLine
	SerializeValue map[string]any // kong.log.set_serialize_value, dotted keys as given
	// ResponseHeaders are kong.response.set_header/add_header results.
	ResponseHeaders map[string][]string
	// Calls lists every PDK method the plugin called, per phase, in order.
	Calls map[string][]string
}
