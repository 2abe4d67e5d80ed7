package nginxdiff

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// ProxyV2Signature is the 12-byte PROXY protocol v2 signature.
var ProxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// HeaderBufferSize is nginx's default client_header_buffer_size. An HTTP
// listener reads the PROXY header out of its first read of at most this
// many bytes, so the whole header must arrive in that read.
const HeaderBufferSize = 1024

// ProxyV2 builds a PROXY protocol v2 header. verCmd is the version/command
// byte (0x21 = v2 PROXY, 0x20 = v2 LOCAL), famProto the family/transport
// byte (0x11 TCP4, 0x21 TCP6, 0x12 UDP4, 0x31 UNIX stream, 0x00 UNSPEC).
// For the inet families the addresses and ports are encoded; tlvs follow
// verbatim. The length field covers everything after the 16-byte header.
func ProxyV2(verCmd, famProto byte, src, dst netip.AddrPort, tlvs []byte) []byte {
	var body []byte
	switch famProto >> 4 {
	case 1:
		s, d := src.Addr().As4(), dst.Addr().As4()
		body = append(body, s[:]...)
		body = append(body, d[:]...)
		body = binary.BigEndian.AppendUint16(body, src.Port())
		body = binary.BigEndian.AppendUint16(body, dst.Port())
	case 2:
		s, d := src.Addr().As16(), dst.Addr().As16()
		body = append(body, s[:]...)
		body = append(body, d[:]...)
		body = binary.BigEndian.AppendUint16(body, src.Port())
		body = binary.BigEndian.AppendUint16(body, dst.Port())
	case 3:
		body = make([]byte, 216)
	}
	body = append(body, tlvs...)
	return ProxyV2Raw(verCmd, famProto, uint16(len(body)), body)
}

// ProxyV2Raw builds a v2 header with an arbitrary length field and body.
func ProxyV2Raw(verCmd, famProto byte, length uint16, body []byte) []byte {
	h := append([]byte{}, ProxyV2Signature...)
	h = append(h, verCmd, famProto)
	h = binary.BigEndian.AppendUint16(h, length)
	return append(h, body...)
}

// ProxyExpect is what nginx does with the start of a connection on a
// proxy_protocol listener, derived from the bytes alone.
type ProxyExpect struct {
	// Accept is false when nginx logs "broken header" (or a v2 error) and
	// closes the connection.
	Accept bool
	// Proxy is the source nginx stores, nil when the header carries no
	// usable addresses (v1 UNKNOWN; v2 LOCAL, non-stream or non-inet).
	// SrcAddr is the text nginx shows as $proxy_protocol_addr: the v1
	// bytes verbatim, or nginx's rendering of a v2 binary address.
	Proxy *realip.Proxy
	// Consumed is the header length nginx skips before the HTTP request.
	Consumed int
}

// ExpectProxy applies nginx's PROXY protocol reader (ngx_proxy_protocol_read,
// unchanged in what it accepts from 1.13.11 through 1.27) to first, the
// bytes of nginx's first read on the connection.
func ExpectProxy(first []byte) ProxyExpect {
	if len(first) > HeaderBufferSize {
		first = first[:HeaderBufferSize]
	}
	if len(first) >= 16 && bytes.HasPrefix(first, ProxyV2Signature) {
		return expectV2(first)
	}
	reject := ProxyExpect{}
	if len(first) < 8 || !bytes.HasPrefix(first, []byte("PROXY ")) {
		return reject
	}
	p := first[6:]
	if bytes.HasPrefix(p, []byte("UNKNOWN")) {
		// Skip to the first CRLF after "UNKNOWN"; none means broken.
		rest := p[7:]
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			return ProxyExpect{Accept: true, Consumed: 6 + 7 + i + 2}
		}
		return reject
	}
	if len(p) < 5 || !bytes.HasPrefix(p, []byte("TCP")) || (p[3] != '4' && p[3] != '6') || p[4] != ' ' {
		return reject
	}
	p = p[5:]
	src, p, ok := v1Addr(p)
	if !ok {
		return reject
	}
	if _, p, ok = v1Addr(p); !ok {
		return reject
	}
	srcPort, p, ok := v1Port(p, ' ')
	if !ok {
		return reject
	}
	if _, p, ok = v1Port(p, '\r'); !ok {
		return reject
	}
	if len(p) == 0 || p[0] != '\n' {
		return reject
	}
	p = p[1:]
	return ProxyExpect{Accept: true, Proxy: &realip.Proxy{SrcAddr: string(src), SrcPort: srcPort}, Consumed: len(first) - len(p)}
}

// v1Addr reads address characters up to a space; any other byte, or the
// end of the data, is an error. The address may be empty.
func v1Addr(p []byte) ([]byte, []byte, bool) {
	for i, c := range p {
		switch {
		case c == ' ':
			return p[:i], p[i+1:], true
		case c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
		default:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// v1Port reads up to sep and parses a decimal 0..65535 as ngx_atoi does:
// digits only, at least one.
func v1Port(p []byte, sep byte) (uint16, []byte, bool) {
	i := bytes.IndexByte(p, sep)
	if i < 0 || i == 0 {
		return 0, nil, false
	}
	n := 0
	for _, c := range p[:i] {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return 0, nil, false
		}
	}
	return uint16(n), p[i+1:], true
}

func expectV2(first []byte) ProxyExpect {
	reject := ProxyExpect{}
	verCmd, fam := first[12], first[13]
	n := int(binary.BigEndian.Uint16(first[14:16]))
	body := first[16:]
	if verCmd>>4 != 2 || len(body) < n {
		return reject
	}
	body = body[:n]
	skip := ProxyExpect{Accept: true, Consumed: 16 + n}
	if verCmd&0x0f != 1 || fam&0x0f != 1 {
		return skip
	}
	var src netip.Addr
	var port uint16
	switch fam >> 4 {
	case 1:
		if len(body) < 12 {
			return reject
		}
		src = netip.AddrFrom4([4]byte(body[0:4]))
		port = binary.BigEndian.Uint16(body[8:10])
	case 2:
		if len(body) < 36 {
			return reject
		}
		src = netip.AddrFrom16([16]byte(body[0:16]))
		port = binary.BigEndian.Uint16(body[32:34])
	default:
		return skip
	}
	skip.Proxy = &realip.Proxy{SrcAddr: realip.FormatAddr(src), SrcPort: port}
	return skip
}
