package demo

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
)

// Proxy is a PROXY protocol header a scenario sends first.
type Proxy struct {
	Version int    // 1 or 2
	Src     string // client addr:port as the LB saw it
	Dst     string // the LB's frontend addr:port
}

// header builds the go-proxyproto header.
func (p *Proxy) header() (*proxyproto.Header, error) {
	src, err := netip.ParseAddrPort(p.Src)
	if err != nil {
		return nil, fmt.Errorf("PROXY source %q: %w", p.Src, err)
	}
	dst, err := netip.ParseAddrPort(p.Dst)
	if err != nil {
		return nil, fmt.Errorf("PROXY destination %q: %w", p.Dst, err)
	}
	tp := proxyproto.TCPv4
	if src.Addr().Is6() {
		tp = proxyproto.TCPv6
	}
	return &proxyproto.Header{
		Version:           byte(p.Version),
		Command:           proxyproto.PROXY,
		TransportProtocol: tp,
		SourceAddr:        net.TCPAddrFromAddrPort(src),
		DestinationAddr:   net.TCPAddrFromAddrPort(dst),
	}, nil
}

// Response is what a scripted client got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Closed is set when the gateway dropped the connection without an
	// HTTP response (nginx's reaction to a broken PROXY header).
	Closed bool
}

// Send makes one request over a fresh connection from the loopback address
// from, to addr: an optional PROXY header, optional TLS (trusting certPEM),
// then HTTP/1.1. Every step is bounded by timeout.
func Send(from, addr string, proxy *Proxy, certPEM []byte, method, path string, headers [][2]string, timeout time.Duration) (*Response, error) {
	var ip net.IP
	if from != "" {
		if ip = net.ParseIP(from); ip == nil {
			return nil, fmt.Errorf("client address %q is not an IP", from)
		}
	}
	d := loopback.Dialer(ip, timeout)
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting from %s to %s: %w", from, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if proxy != nil {
		h, err := proxy.header()
		if err != nil {
			return nil, err
		}
		if _, err := h.WriteTo(c); err != nil {
			return nil, fmt.Errorf("writing the PROXY header: %w", err)
		}
	}
	var conn net.Conn = c
	scheme := "http"
	if certPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err := tc.Handshake(); err != nil {
			if Dropped(err) {
				return &Response{Closed: true}, nil
			}
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn, scheme = tc, "https"
	}
	req, err := http.NewRequest(method, scheme+"://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "pdkserver-demo")
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	if err := req.Write(conn); err != nil {
		if Dropped(err) {
			return &Response{Closed: true}, nil
		}
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		if Dropped(err) {
			return &Response{Closed: true}, nil
		}
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the response body: %w", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Dropped tells a connection the server dropped (EOF, reset) from other
// failures; a timeout is not a drop: the server left the client waiting.
func Dropped(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// CheckLoopback verifies that scripted clients can use the load
// balancer's address. Linux routes all of 127.0.0.0/8 to the loopback
// interface; macOS has only 127.0.0.1 until an alias is added.
func CheckLoopback() error {
	l, err := net.Listen("tcp", net.JoinHostPort(LoadBalancer, "0"))
	if err != nil {
		return fmt.Errorf("cannot use %s as the load balancer's address (%v); on macOS add it with: sudo ifconfig lo0 alias %s up", LoadBalancer, err, LoadBalancer)
	}
	return l.Close()
}
