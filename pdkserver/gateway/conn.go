package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// listen binds one proxy_listen entry and serves it in the background.
func (g *Gateway) listen(l Listener) error {
	tcp, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return err
	}
	var inner net.Listener = tcp
	if l.ProxyProtocol {
		// nginx requires the header from every peer of a proxy_protocol
		// listener; REQUIRE is go-proxyproto's default but is spelled out
		// so a process-wide change of DefaultPolicy cannot loosen it.
		inner = &proxyproto.Listener{
			Listener:          tcp,
			ConnPolicy:        func(proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) { return proxyproto.REQUIRE, nil },
			ReadHeaderTimeout: g.opts.ProxyHeaderTimeout,
		}
	}
	host, _, _ := net.SplitHostPort(l.Addr)
	v6 := strings.Contains(host, ":")
	wl := &gwListener{Listener: inner, l: l, v6: v6, logf: g.logf}
	bl := BoundListener{Listener: l, Addr: tcp.Addr()}
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    g.opts.Node.HeaderBuffers.maxGoHeaderBytes(),
		ErrorLog:          g.stdLogger(),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if gc, ok := c.(*gwConn); ok {
				ctx = context.WithValue(ctx, connKey{}, gc)
			}
			return context.WithValue(ctx, listenerKey{}, bl)
		},
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if l.SSL {
		protocols.SetHTTP2(l.HTTP2)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{g.cert.tls}, MinVersion: tls.VersionTLS12}
	}
	srv.Protocols = &protocols
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		tcp.Close()
		return errors.New("gateway is closed")
	}
	g.servers = append(g.servers, srv)
	g.bound = append(g.bound, bl)
	g.mu.Unlock()
	go func() {
		var err error
		if l.SSL {
			err = srv.ServeTLS(wl, "", "")
		} else {
			err = srv.Serve(wl)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logf("[crit] listener %s stopped: %v", l.String(), err)
		}
	}()
	return nil
}

type connKey struct{}
type listenerKey struct{}

// gwListener wraps accepted connections so the handler can reach the TCP
// peer and the PROXY header behind net/http and crypto/tls.
type gwListener struct {
	net.Listener
	l    Listener
	v6   bool
	logf func(string, ...any)
}

// Accept wraps the next connection with what the handler needs.
func (wl *gwListener) Accept() (net.Conn, error) {
	c, err := wl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	raw := c
	if pc, ok := c.(*proxyproto.Conn); ok {
		raw = pc.Raw()
	}
	return &gwConn{Conn: c, raw: raw, v6: wl.v6, logf: wl.logf}, nil
}

// gwConn is an accepted connection.
type gwConn struct {
	net.Conn          // what net/http reads: the PROXY-aware conn or the TCP conn
	raw      net.Conn // the TCP connection
	v6       bool     // the listener is IPv6, so IPv4 peers stay IPv4-mapped
	logf     func(string, ...any)
	once     sync.Once
}

// Read reports a broken PROXY header once, in nginx's words, before the
// connection is dropped.
func (c *gwConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && err != io.EOF && isProxyError(err) {
		c.once.Do(func() {
			c.logf("[error] broken header while reading PROXY protocol (%v), client: %s", err, c.raw.RemoteAddr())
		})
	}
	return n, err
}

func isProxyError(err error) bool {
	return strings.HasPrefix(err.Error(), "proxyproto:")
}

// peer is the TCP peer as nginx sees it.
func (c *gwConn) peer() netip.AddrPort {
	ta, ok := c.raw.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	if !c.v6 {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// proxyHeader returns the PROXY header read on the connection, or nil.
func (c *gwConn) proxyHeader() *proxyproto.Header {
	if pc, ok := c.Conn.(*proxyproto.Conn); ok {
		return pc.ProxyHeader()
	}
	return nil
}

// proxyVars is what nginx stores from a PROXY header: nothing for LOCAL,
// UNKNOWN or non-TCP headers (nginx skips those and uses the real peer).
type proxyVars struct {
	srcAddr, dstAddr string
	srcPort, dstPort uint16
	tlvs             map[string]string
}

func readProxyVars(h *proxyproto.Header) *proxyVars {
	if h == nil || !h.Command.IsProxy() {
		return nil
	}
	if h.TransportProtocol != proxyproto.TCPv4 && h.TransportProtocol != proxyproto.TCPv6 {
		return nil
	}
	src, ok1 := h.SourceAddr.(*net.TCPAddr)
	dst, ok2 := h.DestinationAddr.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return nil
	}
	conv := func(a *net.TCPAddr) netip.Addr {
		ip, _ := netip.AddrFromSlice(a.IP)
		if h.TransportProtocol == proxyproto.TCPv4 {
			ip = ip.Unmap()
		}
		return ip
	}
	pv := &proxyVars{
		srcAddr: formatAddr(conv(src)), srcPort: uint16(src.Port),
		dstAddr: formatAddr(conv(dst)), dstPort: uint16(dst.Port),
	}
	if tlvs, err := h.TLVs(); err == nil && len(tlvs) > 0 {
		pv.tlvs = map[string]string{}
		for _, t := range tlvs {
			pv.tlvs[fmt.Sprintf("0x%02x", byte(t.Type))] = string(t.Value)
			if name := tlvNames[byte(t.Type)]; name != "" {
				pv.tlvs[name] = string(t.Value)
			}
			if t.Type == proxyproto.PP2_TYPE_SSL {
				addSSLTLVs(pv.tlvs, t.Value)
			}
		}
	}
	return pv
}

// tlvNames are the TLV names nginx accepts in $proxy_protocol_tlv_<name>.
var tlvNames = map[byte]string{0x01: "alpn", 0x02: "authority", 0x05: "unique_id", 0x20: "ssl", 0x30: "netns"}

var sslSubNames = map[byte]string{0x21: "ssl_version", 0x22: "ssl_cn", 0x23: "ssl_cipher", 0x24: "ssl_sig_alg", 0x25: "ssl_key_alg"}

// addSSLTLVs unpacks the PP2_TYPE_SSL value: client(1) verify(4) sub-TLVs.
func addSSLTLVs(m map[string]string, v []byte) {
	if len(v) < 5 {
		return
	}
	verify := uint32(v[1])<<24 | uint32(v[2])<<16 | uint32(v[3])<<8 | uint32(v[4])
	m["ssl_verify"] = strconv.FormatUint(uint64(verify), 10)
	rest := v[5:]
	for len(rest) >= 3 {
		t, n := rest[0], int(rest[1])<<8|int(rest[2])
		if len(rest) < 3+n {
			return
		}
		val := string(rest[3 : 3+n])
		m[fmt.Sprintf("ssl_0x%02x", t)] = val
		if name := sslSubNames[t]; name != "" {
			m[name] = val
		}
		rest = rest[3+n:]
	}
}

// certificate is the ssl listeners' self-signed certificate.
type certificate struct {
	tls tls.Certificate
	pem []byte
}

// newSelfSigned makes a short-lived ECDSA certificate for localhost and the
// loopback addresses, as Kong generates a default one at start.
func newSelfSigned() (*certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"pdkserver"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certificate{
		tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // Kong's default: upstream tls_verify off
}
