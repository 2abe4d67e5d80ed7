package demo

// The demo runs two front doors over the same plugin server and kong.yml:
//
//   - "alb": kong.conf as written. Kong sits behind an HTTP load balancer
//     at 127.0.0.2 that appends X-Forwarded-For (trusted_ips 127.0.0.2,
//     real_ip_header X-Forwarded-For, real_ip_recursive on).
//   - "nlb": the same file with KONG_* overrides, as a second Kong behind a
//     TCP load balancer at 127.0.0.2 that sends PROXY protocol
//     (real_ip_header proxy_protocol on a proxy_protocol listener).
//
// Scripted clients bind their sockets to 127.0.0.1 (a direct client) or
// 127.0.0.2 (the load balancer), which Linux allows for any loopback
// address without privileges.

// Client addresses.
const (
	DirectClient = "127.0.0.1"
	LoadBalancer = "127.0.0.2"
)

// Profile is one front door of the demo.
type Profile struct {
	Name  string
	About string
	// Env is added after the process environment (later entries win).
	Env []string
}

// Profiles are the demo's front doors; NLBListen is the nlb listener used
// unless the caller overrides KONG_PROXY_LISTEN.
var Profiles = []Profile{
	{Name: "alb", About: "kong.conf as written: behind an HTTP LB at 127.0.0.2 (X-Forwarded-For)"},
	{Name: "nlb", About: "kong.conf + KONG_REAL_IP_HEADER=proxy_protocol: behind a TCP LB at 127.0.0.2 (PROXY protocol)",
		Env: []string{"KONG_REAL_IP_HEADER=proxy_protocol", "KONG_REAL_IP_RECURSIVE=off", "KONG_PROXY_LISTEN=" + NLBListen, "KONG_ADMIN_LISTEN=off"}},
}

// NLBListen is the nlb front door's proxy_listen.
const NLBListen = "127.0.0.1:18100 proxy_protocol"

// Expect is what a scenario should produce.
type Expect struct {
	Status   int    // HTTP status; 0 with Closed
	Closed   bool   // the connection is dropped without a response
	Verdict  string // the plugin's verdict ("" when no record is expected)
	ClientIP string // Kong's $remote_addr
}

// Scenario is one scripted request.
type Scenario struct {
	Name     string
	Node     string // profile name
	Listener string // "plain", "ssl" or "proxy"
	From     string // client socket address
	Path     string
	Headers  [][2]string
	Proxy    *Proxy
	Expect   Expect
}

// Scenarios is the scripted set, shared by `make run` and the end-to-end
// tests. Paths select kong.yml routes: /echo (monitor), /strict (enforce),
// /guarded (enforce, deny list), /drift (plugin config differs from
// Kong's), /nlb (plugin mirrors the nlb node).
var Scenarios = []Scenario{
	{Name: "direct client", Node: "alb", Listener: "plain", From: DirectClient, Path: "/echo",
		Expect: Expect{Status: 200, Verdict: "direct", ClientIP: DirectClient}},
	{Name: "direct client over TLS", Node: "alb", Listener: "ssl", From: DirectClient, Path: "/echo",
		Expect: Expect{Status: 200, Verdict: "direct", ClientIP: DirectClient}},
	{Name: "XFF chain via trusted LB", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/echo",
		Headers: [][2]string{{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}},
		Expect:  Expect{Status: 200, Verdict: "ok", ClientIP: "203.0.113.7"}},
	{Name: "spoof from untrusted peer", Node: "alb", Listener: "plain", From: DirectClient, Path: "/echo",
		Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}},
		Expect:  Expect{Status: 200, Verdict: "spoof_attempt", ClientIP: DirectClient}},
	// nginx ignored the forged header, so by default enforce lets the
	// client (perhaps behind a forward proxy) through with its own address.
	{Name: "spoof, enforce mode: not rejected by default", Node: "alb", Listener: "plain", From: DirectClient, Path: "/strict",
		Headers: [][2]string{{"X-Forwarded-For", "1.2.3.4"}},
		Expect:  Expect{Status: 200, Verdict: "spoof_attempt", ClientIP: DirectClient}},
	// X_Forwarded_For passes the load balancer untouched; Kong 3.6+ would
	// send it upstream in place of the LB's X-Forwarded-For.
	{Name: "X_Forwarded_For smuggled past the LB, enforce mode", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/strict",
		Headers: [][2]string{{"X_Forwarded_For", "6.6.6.6"}, {"X-Forwarded-For", "203.0.113.7"}},
		Expect:  Expect{Status: 403, Verdict: "smuggled", ClientIP: "203.0.113.7"}},
	{Name: "LB-IP leak (LB sent no XFF)", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/echo",
		Expect: Expect{Status: 200, Verdict: "lb_ip_leak", ClientIP: LoadBalancer}},
	{Name: "malformed chain entry", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/echo",
		Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7, bogus"}},
		Expect:  Expect{Status: 200, Verdict: "malformed", ClientIP: LoadBalancer}},
	{Name: "deny list, enforce mode", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/guarded",
		Headers: [][2]string{{"X-Forwarded-For", "192.0.2.66"}},
		Expect:  Expect{Status: 403, Verdict: "denied", ClientIP: "192.0.2.66"}},
	{Name: "plugin config differs from Kong's", Node: "alb", Listener: "plain", From: LoadBalancer, Path: "/drift",
		Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}},
		Expect:  Expect{Status: 200, Verdict: "config_drift", ClientIP: "203.0.113.7"}},
	{Name: "PROXY v1 via NLB", Node: "nlb", Listener: "proxy", From: LoadBalancer, Path: "/nlb",
		Proxy:  &Proxy{Version: 1, Src: "198.51.100.9:41000", Dst: "192.0.2.10:80"},
		Expect: Expect{Status: 200, Verdict: "ok", ClientIP: "198.51.100.9"}},
	{Name: "PROXY v2 (IPv6) via NLB", Node: "nlb", Listener: "proxy", From: LoadBalancer, Path: "/nlb",
		Proxy:  &Proxy{Version: 2, Src: "[2001:db8::9]:5555", Dst: "[2001:db8::10]:443"},
		Expect: Expect{Status: 200, Verdict: "ok", ClientIP: "2001:db8::9"}},
	{Name: "PROXY v1 from untrusted peer", Node: "nlb", Listener: "proxy", From: DirectClient, Path: "/nlb",
		Proxy:  &Proxy{Version: 1, Src: "198.51.100.9:41000", Dst: "192.0.2.10:80"},
		Expect: Expect{Status: 200, Verdict: "spoof_attempt", ClientIP: DirectClient}},
	{Name: "no PROXY header on a proxy_protocol listener", Node: "nlb", Listener: "proxy", From: DirectClient, Path: "/nlb",
		Expect: Expect{Closed: true}},
}
