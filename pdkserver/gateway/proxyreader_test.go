package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxdiff"
)

// knownDeviations lists the ProxyCases where go-proxyproto (REQUIRE policy)
// and nginx 1.22.1 disagree, with why. The test fails on any other
// difference and on a listed case that no longer differs.
var knownDeviations = map[string]string{
	"v1 TCP4 with IPv6 addresses":                "go-proxyproto parses the addresses for the declared family; nginx only checks the characters",
	"v1 address text not an address":             "go-proxyproto parses the addresses; nginx only checks the characters",
	"v1 empty source":                            "go-proxyproto needs every field to be a parsable value; nginx takes an empty address",
	"v1 port 0 and leading zeros":                "go-proxyproto rejects the leading zero in 00443 per spec; nginx only checks digits",
	"v1 long address":                            "go-proxyproto enforces the spec's 107-byte v1 line; nginx reads up to its buffer",
	"v1 UNKNOWNjunk":                             "go-proxyproto wants UNKNOWN as a whole token (UNKNOWNjunk is an unknown protocol); nginx skips to CRLF",
	"v1 address with port":                       "go-proxyproto parses the address (fails on ':1'); nginx takes ':' as an address character",
	"v2 command 2":                               "go-proxyproto rejects commands other than LOCAL/PROXY; nginx skips the header",
	"v2 UNSPEC":                                  "go-proxyproto rejects PROXY with the UNSPEC family; nginx skips the addresses",
	"v2 family 4":                                "go-proxyproto rejects an unknown address family; nginx skips the addresses",
	"v2 oversized (beyond 1024-byte first read)": "go-proxyproto reads the declared length from the stream; nginx's header must fit its 1024-byte first read",
	"v2 truncated signature":                     "go-proxyproto reads the stream across pauses; nginx needs the header in its first read",
	"v2 slow: split after 16 bytes":              "go-proxyproto reads the stream across pauses; nginx needs the header in its first read",
}

// proxyAnswer writes pc's chunks to addr with their pauses and reports
// whether an HTTP response (any status) came back before the connection
// closed or the deadline passed.
func proxyAnswer(t *testing.T, addr string, pc nginxdiff.ProxyCase, deadline time.Duration) (accepted bool, status int, id string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	for _, ch := range pc.Chunks {
		if _, err := c.Write(ch.Data); err != nil {
			break // closed early: what came back, if anything, decides
		}
		if ch.Pause > 0 {
			time.Sleep(ch.Pause)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		var ne net.Error
		if ok := asNetErr(err, &ne); ok && ne.Timeout() {
			t.Errorf("%s: no answer and no close within %s", pc.Name, deadline)
		}
		return false, 0, ""
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return true, resp.StatusCode, resp.Header.Get("X-Kong-Request-Id")
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

func TestProxyReaderAgainstNginxVerdicts(t *testing.T) {
	begin := time.Now()
	h := start(t, Node{
		Listeners:  []Listener{{Addr: "127.0.0.1:0", ProxyProtocol: true}},
		TrustedIPs: []string{"127.0.0.1"}, RealIPHeader: "proxy_protocol",
	}, baseYML)
	pp := h.addr(t, func(l Listener) bool { return l.ProxyProtocol })

	cases := nginxdiff.ProxyCases()
	names := map[string]bool{}
	agree, known := 0, 0
	for _, pc := range cases {
		require.False(t, names[pc.Name], "duplicate case %q", pc.Name)
		names[pc.Name] = true
		var pauses time.Duration
		for _, ch := range pc.Chunks {
			pauses += ch.Pause
		}
		got, status, id := proxyAnswer(t, pp, pc, 3*time.Second+pauses)
		why, listed := knownDeviations[pc.Name]
		switch {
		case got == pc.Accept && listed:
			t.Errorf("%s: listed as a deviation (%s) but ours now agrees with nginx (accept=%v)", pc.Name, why, got)
		case got == pc.Accept:
			agree++
		case listed:
			known++
			t.Logf("known deviation %s: nginx accept=%v, ours accept=%v (status %d): %s", pc.Name, pc.Accept, got, status, why)
			if got {
				// Ours took a header nginx refused: the client address must
				// still be the well-formed source in it (every such case is a
				// valid TCP4 header that nginx refused only for its framing),
				// never text nginx would have called a malformed address.
				require.NotEmpty(t, id, "%s: no request id", pc.Name)
				assert.Equal(t, "203.0.113.9", h.exchange(t, id).Request.Vars.RemoteAddr, pc.Name)
			}
		default:
			t.Errorf("%s: nginx accept=%v, ours accept=%v (status %d); nginx note: %q", pc.Name, pc.Accept, got, status, pc.Note)
		}
	}
	for name := range knownDeviations {
		assert.True(t, names[name], "knownDeviations names %q, which is not a ProxyCase", name)
	}

	// After all of that, a plain PROXY v1 request is still served.
	ok, status, _ := proxyAnswer(t, pp, nginxdiff.ProxyCase{Name: "final v1", Chunks: []nginxdiff.Chunk{{Data: []byte(
		"PROXY TCP4 198.51.100.9 10.0.0.1 41000 80\r\n" + strings.Replace(nginxdiff.ProxyRequest, "GET / ", "GET /echo ", 1))}}}, 3*time.Second)
	require.True(t, ok, "gateway stopped serving PROXY v1")
	assert.Equal(t, 200, status)

	t.Logf("%d cases, %d agree, %d known deviations (%s)", len(cases), agree, known, time.Since(begin).Round(time.Millisecond))
}
