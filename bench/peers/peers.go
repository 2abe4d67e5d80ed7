// Package peers sets up plugin/realip and other Go projects' client-IP code
// on identical inputs, so that bench_test.go can time them side by side and
// semantics_test.go can record where their answers differ.
//
// This is a separate module so that the product's go.mod never carries
// these libraries. Each adapter configures its library the way a user
// would to get "the rightmost address that is not a trusted proxy" from
// X-Forwarded-For behind a trusted peer, i.e. nginx's set_real_ip_from +
// real_ip_header X-Forwarded-For + real_ip_recursive on:
//
//   - realip: realip.ParseTrusted + NewResolver(.., "X-Forwarded-For", true).
//   - realclientip-go: ChainStrategy(RightmostTrustedRangeStrategy,
//     RemoteAddrStrategy), its documented rightmost-trusted-range setup.
//     It never looks at the peer.
//   - echo: ExtractIPFromXFFHeader with TrustIPRange per CIDR, and its
//     default trust of loopback, link-local and private ranges turned off.
//   - gin: Engine.SetTrustedProxies, RemoteIPHeaders X-Forwarded-For,
//     Context.ClientIP.
//   - traefik: pkg/ip.Checker on the peer (what the entry point's
//     forwardedHeaders.trustedIPs does) and ip.PoolStrategy on the header
//     with the same Checker (ipStrategy.excludedIPs).
//   - caddy: the server's trusted_proxies (a static range source) with
//     client_ip_headers X-Forwarded-For and trusted_proxies_strict, read
//     through caddyhttp's own determineTrustedProxy (see caddy.go).
package peers

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"github.com/realclientip/realclientip-go"
	traefikip "github.com/traefik/traefik/v3/pkg/ip"
)

// Input is one request as every implementation sees it.
type Input struct {
	// Peer is the connection's remote address.
	Peer netip.AddrPort
	// XFF holds the X-Forwarded-For lines, in order.
	XFF []string
}

// Prepared is one Input converted once into an implementation's own
// request type. Run does the timed work and keeps the answer in a sink;
// Answer returns the answer as text, for the semantic tests.
type Prepared struct {
	Run    func()
	Answer func() string
}

// Impl is one client-IP implementation configured with a trusted set.
type Impl struct {
	Name    string
	Prepare func(in Input) Prepared
}

// Names lists the implementations in the order they are run and reported.
var Names = []string{"realip", "realclientip", "echo", "gin", "traefik", "caddy"}

// SinkResult and SinkString keep the benchmarked answers alive so that no
// call is optimised away.
var (
	SinkResult realip.Result
	SinkString string
)

// New configures every implementation with the same trusted entries
// (addresses or CIDRs).
func New(cidrs []string) ([]Impl, error) {
	builders := []func([]string) (Impl, error){
		newRealip, newRealclientip, newEcho, newGin, newTraefik, newCaddy,
	}
	out := make([]Impl, 0, len(builders))
	for _, b := range builders {
		im, err := b(cidrs)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

// httpRequest is the request a Go HTTP server hands a handler for in.
func httpRequest(in Input) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "http://api.example/", nil)
	if err != nil {
		panic(err) // fixed URL: cannot fail
	}
	req.RemoteAddr = in.Peer.String()
	req.Header.Set("User-Agent", "bench")
	for _, v := range in.XFF {
		req.Header.Add("X-Forwarded-For", v)
	}
	return req
}

func newRealip(cidrs []string) (Impl, error) {
	tr, _, err := realip.ParseTrusted(cidrs)
	if err != nil {
		return Impl{}, fmt.Errorf("realip: %w", err)
	}
	r := realip.NewResolver(tr, "X-Forwarded-For", true)
	return Impl{Name: "realip", Prepare: func(in Input) Prepared {
		req := &realip.Request{Peer: in.Peer, Headers: []realip.Header{
			{Name: "Host", Value: "api.example"},
			{Name: "User-Agent", Value: "bench"},
		}}
		for _, v := range in.XFF {
			req.Headers = append(req.Headers, realip.Header{Name: "X-Forwarded-For", Value: v})
		}
		return Prepared{
			Run:    func() { SinkResult = r.Resolve(req, nil) },
			Answer: func() string { return r.Resolve(req, nil).Addr.String() },
		}
	}}, nil
}

func newRealclientip(cidrs []string) (Impl, error) {
	nets, err := realclientip.AddressesAndRangesToIPNets(cidrs...)
	if err != nil {
		return Impl{}, fmt.Errorf("realclientip: %w", err)
	}
	rtr, err := realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", nets)
	if err != nil {
		return Impl{}, fmt.Errorf("realclientip: %w", err)
	}
	strat := realclientip.NewChainStrategy(rtr, realclientip.RemoteAddrStrategy{})
	return Impl{Name: "realclientip", Prepare: func(in Input) Prepared {
		req := httpRequest(in)
		return stringPrepared(func() string { return strat.ClientIP(req.Header, req.RemoteAddr) })
	}}, nil
}

func newEcho(cidrs []string) (Impl, error) {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, c := range cidrs {
		n, err := ipNet(c)
		if err != nil {
			return Impl{}, fmt.Errorf("echo: %w", err)
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	extract := echo.ExtractIPFromXFFHeader(opts...)
	return Impl{Name: "echo", Prepare: func(in Input) Prepared {
		req := httpRequest(in)
		return stringPrepared(func() string { return extract(req) })
	}}, nil
}

// ipNet parses an address or CIDR as echo's TrustIPRange wants it.
func ipNet(s string) (*net.IPNet, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return nil, err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}, nil
}

func newGin(cidrs []string) (Impl, error) {
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.ForwardedByClientIP = true
	engine.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := engine.SetTrustedProxies(cidrs); err != nil {
		return Impl{}, fmt.Errorf("gin: %w", err)
	}
	return Impl{Name: "gin", Prepare: func(in Input) Prepared {
		c := gin.CreateTestContextOnly(nil, engine)
		c.Request = httpRequest(in)
		return stringPrepared(c.ClientIP)
	}}, nil
}

func newTraefik(cidrs []string) (Impl, error) {
	checker, err := traefikip.NewChecker(cidrs)
	if err != nil {
		return Impl{}, fmt.Errorf("traefik: %w", err)
	}
	pool := &traefikip.PoolStrategy{Checker: checker}
	remote := &traefikip.RemoteAddrStrategy{}
	return Impl{Name: "traefik", Prepare: func(in Input) Prepared {
		req := httpRequest(in)
		return stringPrepared(func() string {
			// The entry point drops X-Forwarded-For from an untrusted peer.
			if checker.IsAuthorized(req.RemoteAddr) != nil {
				return remote.GetIP(req)
			}
			return pool.GetIP(req)
		})
	}}, nil
}

func stringPrepared(f func() string) Prepared {
	return Prepared{Run: func() { SinkString = f() }, Answer: f}
}
