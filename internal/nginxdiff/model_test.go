package nginxdiff

import (
	"net/netip"
	"testing"
)

// TestProxyCasesModel checks the recorded verdicts against ExpectProxy
// without nginx, so the table stays usable where nginx is absent.
func TestProxyCasesModel(t *testing.T) {
	for _, pc := range ProxyCases() {
		if pc.Slow() {
			continue
		}
		if got := ExpectProxy(pc.Bytes()).Accept; got != pc.Accept {
			t.Errorf("%s: ExpectProxy accept=%v, recorded %v", pc.Name, got, pc.Accept)
		}
	}
}

func TestExpectProxy(t *testing.T) {
	v2 := ProxyV2(0x21, 0x21, netip.MustParseAddrPort("[::ffff:1.2.3.4]:7"), netip.MustParseAddrPort("[::1]:443"), []byte{4, 0, 1, 'x'})
	tests := []struct {
		name     string
		in       string
		accept   bool
		src      string // "-" for no stored source
		port     uint16
		consumed int
	}{
		{"v1", "PROXY TCP4 010.1.1.1 2.2.2.2 080 443\r\nGET", true, "010.1.1.1", 80, 38},
		{"v1 empty source", "PROXY TCP6  ::1 1 2\r\n", true, "", 1, 21},
		{"v1 unknown", "PROXY UNKNOWN x y\r\nGET", true, "-", 0, 19},
		{"v1 no LF", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\rX", false, "-", 0, 0},
		{"v1 short", "PROXY T", false, "-", 0, 0},
		{"v2 mapped", string(v2) + "GET", true, "::ffff:1.2.3.4", 7, len(v2)},
		{"v2 local", string(ProxyV2Raw(0x20, 0, 0, nil)), true, "-", 0, 16},
		{"v2 length beyond data", string(ProxyV2Raw(0x21, 0x11, 40, make([]byte, 12))), false, "-", 0, 0},
	}
	for _, tt := range tests {
		e := ExpectProxy([]byte(tt.in))
		src := "-"
		var port uint16
		if e.Proxy != nil {
			src, port = e.Proxy.SrcAddr, e.Proxy.SrcPort
		}
		if e.Accept != tt.accept || src != tt.src || port != tt.port || (tt.accept && e.Consumed != tt.consumed) {
			t.Errorf("%s: got accept=%v src=%q port=%d consumed=%d; want %v %q %d %d", tt.name, e.Accept, src, port, e.Consumed, tt.accept, tt.src, tt.port, tt.consumed)
		}
	}
}

func TestAnswerParse(t *testing.T) {
	a := Answer{Raw: []byte("HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n1.2.3.4  127.0.0.1 5555  \n")}
	if err := a.parse(); err != nil || a.Vars != [6]string{"1.2.3.4", "", "127.0.0.1", "5555", "", ""} {
		t.Fatalf("parse: %v %q", err, a.Vars)
	}
	for _, raw := range []string{"HTTP/1.1 200 OK\r\n\r\na b\n", "junk", "HTTP/1.1 200 OK\r\n\r\na b c d e f"} {
		a := Answer{Raw: []byte(raw)}
		if err := a.parse(); err == nil {
			t.Errorf("parse(%q) accepted", raw)
		}
	}
}
