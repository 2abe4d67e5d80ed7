package nginxdiff

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
)

// ProxyRequest is the HTTP request sent after each PROXY header.
const ProxyRequest = "GET / HTTP/1.1\r\nHost: kong\r\nConnection: close\r\n\r\n"

// ProxyCase is a connection opening for a proxy_protocol listener and
// nginx's verdict on it.
type ProxyCase struct {
	// Name identifies the case.
	Name string
	// Chunks are written in order (the last one ends with ProxyRequest);
	// a pause between chunks makes the header arrive in pieces.
	Chunks []Chunk
	// Accept is nginx's recorded verdict: true when it answered the
	// request (the header was taken or skipped), false when it logged a
	// broken or unreadable header and closed the connection.
	Accept bool
	// Note says why.
	Note string
}

// Bytes is the concatenation of the chunks.
func (p ProxyCase) Bytes() []byte {
	var b bytes.Buffer
	for _, c := range p.Chunks {
		b.Write(c.Data)
	}
	return b.Bytes()
}

// Slow reports whether the case pauses between chunks.
func (p ProxyCase) Slow() bool {
	for _, c := range p.Chunks[:len(p.Chunks)-1] {
		if c.Pause > 0 {
			return true
		}
	}
	return false
}

func whole(hdr []byte) []Chunk {
	return []Chunk{{Data: append(append([]byte{}, hdr...), ProxyRequest...)}}
}

// ProxyCases returns the PROXY protocol reader table, with nginx 1.22.1's
// verdicts recorded (TestProxyVerdicts checks them against the nginx on the
// machine). Other implementations of a proxy_protocol listener can be
// compared against it without running nginx.
func ProxyCases() []ProxyCase {
	src4 := netip.MustParseAddrPort("203.0.113.9:5555")
	dst4 := netip.MustParseAddrPort("10.0.0.1:443")
	src6 := netip.MustParseAddrPort("[2001:db8::9]:5555")
	dst6 := netip.MustParseAddrPort("[2001:db8::1]:443")
	v2 := func(verCmd, fam byte, tlv []byte) []byte {
		if fam>>4 == 2 {
			return ProxyV2(verCmd, fam, src6, dst6, tlv)
		}
		return ProxyV2(verCmd, fam, src4, dst4, tlv)
	}
	tlv := func(n int) []byte { // one type-0x04 (NOOP) TLV with n value bytes
		return append([]byte{0x04, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{'x'}, n)...)
	}
	pause := 150 * time.Millisecond
	v1ok := []byte("PROXY TCP4 203.0.113.9 10.0.0.1 5555 443\r\n")
	cases := []ProxyCase{
		{Name: "v1 TCP4", Chunks: whole(v1ok), Accept: true},
		{Name: "v1 TCP6", Chunks: whole([]byte("PROXY TCP6 2001:db8::9 2001:db8::1 5555 443\r\n")), Accept: true},
		{Name: "v1 TCP4 with IPv6 addresses", Chunks: whole([]byte("PROXY TCP4 2001:db8::9 ::1 5555 443\r\n")), Accept: true, Note: "family not checked against the address"},
		{Name: "v1 address text not an address", Chunks: whole([]byte("PROXY TCP4 1.2.3 ::::: 5555 443\r\n")), Accept: true, Note: "only the characters are checked"},
		{Name: "v1 empty source", Chunks: whole([]byte("PROXY TCP4  10.0.0.1 5555 443\r\n")), Accept: true},
		{Name: "v1 port 0 and leading zeros", Chunks: whole([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 0 00443\r\n")), Accept: true},
		{Name: "v1 long address", Chunks: whole([]byte("PROXY TCP6 " + strings.Repeat("a", 300) + " ::1 1 2\r\n")), Accept: true, Note: "no 107-byte limit on read"},
		{Name: "v1 UNKNOWN", Chunks: whole([]byte("PROXY UNKNOWN\r\n")), Accept: true},
		{Name: "v1 UNKNOWN with addresses", Chunks: whole([]byte("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n")), Accept: true},
		{Name: "v1 UNKNOWNjunk", Chunks: whole([]byte("PROXY UNKNOWNjunk\r\n")), Accept: true, Note: "anything up to CRLF is skipped"},
		{Name: "v1 port 65536", Chunks: whole([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n"))},
		{Name: "v1 empty port", Chunks: whole([]byte("PROXY TCP4 1.2.3.4 5.6.7.8  443\r\n"))},
		{Name: "v1 signed port", Chunks: whole([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 443\r\n"))},
		{Name: "v1 bad address character", Chunks: whole([]byte("PROXY TCP4 1.2.3.x 5.6.7.8 1 443\r\n"))},
		{Name: "v1 address with port", Chunks: whole([]byte("PROXY TCP4 1.2.3.4:1 5.6.7.8 1 443\r\n")), Accept: true, Note: "':' is an address character; the text then fails realip"},
		{Name: "v1 double space", Chunks: whole([]byte("PROXY TCP4 1.2.3.4  5.6.7.8 1 443\r\n"))},
		{Name: "v1 extra field", Chunks: whole([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 443 9\r\n"))},
		{Name: "v1 LF only", Chunks: whole([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 443\n"))},
		{Name: "v1 lower-case", Chunks: whole([]byte("proxy tcp4 1.2.3.4 5.6.7.8 1 443\r\n"))},
		{Name: "v1 TCP5", Chunks: whole([]byte("PROXY TCP5 1.2.3.4 5.6.7.8 1 443\r\n"))},
		{Name: "v1 missing protocol", Chunks: whole([]byte("PROXY \r\n"))},
		{Name: "v1 oversized (no CRLF within 1024 bytes)", Chunks: whole([]byte("PROXY TCP6 " + strings.Repeat("a", 1100) + " ::1 1 2\r\n"))},
		{Name: "no header (plain HTTP)", Chunks: whole(nil)},
		{Name: "v1 slow: split mid-header", Chunks: []Chunk{{Data: v1ok[:20], Pause: pause}, {Data: append(append([]byte{}, v1ok[20:]...), ProxyRequest...)}},
			Note: "the header must arrive in nginx's first read"},
		{Name: "v1 slow: header, then request", Chunks: []Chunk{{Data: v1ok, Pause: pause}, {Data: []byte(ProxyRequest)}}, Accept: true},
		{Name: "v2 TCP4", Chunks: whole(v2(0x21, 0x11, nil)), Accept: true},
		{Name: "v2 TCP6", Chunks: whole(v2(0x21, 0x21, nil)), Accept: true},
		{Name: "v2 TCP4 with TLVs", Chunks: whole(v2(0x21, 0x11, tlv(100))), Accept: true},
		{Name: "v2 LOCAL", Chunks: whole(ProxyV2Raw(0x20, 0x00, 0, nil)), Accept: true},
		{Name: "v2 LOCAL with addresses", Chunks: whole(v2(0x20, 0x11, nil)), Accept: true},
		{Name: "v2 command 2", Chunks: whole(v2(0x22, 0x11, nil)), Accept: true, Note: "unsupported commands are skipped"},
		{Name: "v2 UDP4", Chunks: whole(v2(0x21, 0x12, nil)), Accept: true, Note: "non-stream transport is skipped"},
		{Name: "v2 UNIX stream", Chunks: whole(ProxyV2(0x21, 0x31, netip.AddrPort{}, netip.AddrPort{}, nil)), Accept: true},
		{Name: "v2 UNSPEC", Chunks: whole(ProxyV2Raw(0x21, 0x01, 0, nil)), Accept: true},
		{Name: "v2 family 4", Chunks: whole(ProxyV2Raw(0x21, 0x41, 4, []byte{1, 2, 3, 4})), Accept: true},
		{Name: "v2 version 1", Chunks: whole(v2(0x11, 0x11, nil)), Note: "unknown PROXY protocol version"},
		{Name: "v2 version 3", Chunks: whole(v2(0x31, 0x11, nil))},
		{Name: "v2 TCP4 length too short for addresses", Chunks: whole(ProxyV2Raw(0x21, 0x11, 8, make([]byte, 8)))},
		{Name: "v2 TCP6 length 12", Chunks: whole(ProxyV2Raw(0x21, 0x21, 12, make([]byte, 12)))},
		{Name: "v2 length beyond data", Chunks: []Chunk{{Data: ProxyV2Raw(0x21, 0x11, 200, make([]byte, 12)), Pause: pause}, {Data: []byte(ProxyRequest)}},
			Note: "header is too large: the length must fit in the first read"},
		{Name: "v2 TLVs near the read limit", Chunks: whole(v2(0x21, 0x11, tlv(1024-16-12-3-1))), Accept: true},
		{Name: "v2 oversized (beyond 1024-byte first read)", Chunks: whole(v2(0x21, 0x11, tlv(2000)))},
		{Name: "v2 truncated signature", Chunks: []Chunk{{Data: ProxyV2Signature[:10], Pause: pause}, {Data: append(append([]byte{}, v2(0x21, 0x11, nil)[10:]...), ProxyRequest...)}}},
		{Name: "v2 slow: split after 16 bytes", Chunks: []Chunk{{Data: v2(0x21, 0x11, nil)[:16], Pause: pause}, {Data: append(append([]byte{}, v2(0x21, 0x11, nil)[16:]...), ProxyRequest...)}}},
		{Name: "v2 slow: header, then request", Chunks: []Chunk{{Data: v2(0x21, 0x11, nil), Pause: pause}, {Data: []byte(ProxyRequest)}}, Accept: true},
		{Name: "v2 bad signature byte", Chunks: whole(append([]byte("\r\n\r\n\x00\r\nQUIT\r"), v2(0x21, 0x11, nil)[12:]...))},
	}
	return cases
}

// ProxyVerdicts starts nginx (bin) with one proxy_protocol listener on a
// free loopback port, under dir, and returns each ProxyCase's observed
// verdict by name: true when nginx answered.
func ProxyVerdicts(bin, dir string) (map[string]bool, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	c, err := nodeconf.Parse(strings.NewReader(fmt.Sprintf("proxy_listen = 127.0.0.1:%d proxy_protocol\n", ports[0])), "verdicts")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	n, err := Start(bin, filepath.Join(dir, "verdicts"), []*nodeconf.Conf{c}, nginxconf.Options{})
	if err != nil {
		return nil, err
	}
	defer n.Stop()
	target := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ports[0]))
	out := map[string]bool{}
	for _, pc := range ProxyCases() {
		ans, err := Send(netip.Addr{}, target, pc.Chunks, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pc.Name, err)
		}
		out[pc.Name] = !ans.Closed
	}
	return out, nil
}
