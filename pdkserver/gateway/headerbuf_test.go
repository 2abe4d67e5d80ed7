package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
)

// The layouts below use the request line "GET / HTTP/1.1\r\n" (16 bytes)
// and "Host: a\r\n" (9 bytes), as curl-like clients send first; the
// boundary cases were checked against Debian's nginx 1.22.1.
const (
	tReqLine = 16
	tHost    = 9
)

// repeat returns n copies of length l.
func repeat(n, l int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = l
	}
	return out
}

func TestNginxHeaderStatus(t *testing.T) {
	raised := HeaderBuffers{LargeNum: 8, LargeSize: 16 << 10}
	tests := []struct {
		name    string
		reqLine int
		lines   []int // after Host
		bufs    HeaderBuffers
		want    int
	}{
		{name: "small request", reqLine: tReqLine, want: 0},
		{name: "8190-byte line + CRLF fills a large buffer exactly", reqLine: tReqLine, lines: []int{8192}, want: 0},
		{name: "8191-byte line + CRLF", reqLine: tReqLine, lines: []int{8193}, want: 400},
		{name: "8192-byte line + CRLF", reqLine: tReqLine, lines: []int{8194}, want: 400},
		{name: "64 KiB line", reqLine: tReqLine, lines: []int{64<<10 + 2}, want: 400},
		{name: "4 x 8000", reqLine: tReqLine, lines: repeat(4, 8002), want: 0},
		{name: "5 x 7000: a fifth buffer", reqLine: tReqLine, lines: repeat(5, 7002), want: 400},
		{name: "10 x 3000: two per buffer, five buffers", reqLine: tReqLine, lines: repeat(10, 3002), want: 400},
		{name: "8 x 3000: four buffers", reqLine: tReqLine, lines: repeat(8, 3002), want: 0},
		{name: "20 x 1600", reqLine: tReqLine, lines: repeat(20, 1602), want: 0},
		{name: "40 x 800", reqLine: tReqLine, lines: repeat(40, 802), want: 0},
		{name: "41 x 800: the first buffer holds one", reqLine: tReqLine, lines: repeat(41, 802), want: 0},
		{name: "42 x 800", reqLine: tReqLine, lines: repeat(42, 802), want: 400},
		{name: "request line of a large buffer exactly", reqLine: 8192, want: 0},
		{name: "request line one byte over a large buffer", reqLine: 8193, want: 414},
		{name: "request line over 4 large buffers", reqLine: 40000, want: 414},
		{
			// The request line ends at the end of the first buffer, Host
			// takes a large buffer; the header that cannot get one is a
			// 400, not a 414.
			name:    "request line fills the first buffer, then the headers need a fifth",
			reqLine: 1024, lines: repeat(4, 8192), want: 400,
		},
		{name: "request line fills the first buffer, the headers fit", reqLine: 1024, lines: repeat(3, 8183), want: 0},
		{
			// The final empty line needs room too: four full large buffers
			// and the CRLF ending the head needs a fifth.
			name:    "lines fill four large buffers exactly, the final CRLF does not fit",
			reqLine: 1024 - tHost, lines: repeat(4, 8192), want: 400,
		},
		{
			name:    "same, with one buffer to spare",
			reqLine: 1024 - tHost, lines: repeat(3, 8192), want: 0,
		},
		{
			// The final CR is the last byte of the fourth large buffer:
			// the 1-byte partial line moves to a fifth.
			name:    "final CR at the end of the last buffer",
			reqLine: 1024 - tHost, lines: append(repeat(3, 8192), 8191), want: 400,
		},
		{name: "raised: 16k line", reqLine: tReqLine, lines: []int{16384}, bufs: raised, want: 0},
		{name: "raised: 16k+1 line", reqLine: tReqLine, lines: []int{16385}, bufs: raised, want: 400},
		{name: "raised: 10 x 3000 fit", reqLine: tReqLine, lines: repeat(10, 3002), bufs: raised, want: 0},
		{name: "raised: 8 x 16000", reqLine: tReqLine, lines: repeat(8, 16002), bufs: raised, want: 0},
		{name: "raised: 9 x 16000", reqLine: tReqLine, lines: repeat(9, 16002), bufs: raised, want: 400},
		{name: "raised: 40 x 3000, five per buffer", reqLine: tReqLine, lines: repeat(40, 3002), bufs: raised, want: 0},
		{name: "raised: 41 x 3000", reqLine: tReqLine, lines: repeat(41, 3002), bufs: raised, want: 400},
		{name: "raised: request line 16k", reqLine: 16384, bufs: raised, want: 0},
		{name: "raised: request line 16k+1", reqLine: 16385, bufs: raised, want: 414},
		{
			// A first buffer as large as the large ones: a request line
			// that fills it moves nowhere (nginx's check is >= size).
			name: "client buffer 8k, request line 8193", reqLine: 8193,
			bufs: HeaderBuffers{ClientSize: 8192}, want: 414,
		},
		{name: "client buffer 8k holds the head", reqLine: tReqLine, lines: repeat(10, 800), bufs: HeaderBuffers{ClientSize: 8192}, want: 0},
		{name: "one large buffer", reqLine: tReqLine, lines: repeat(2, 1000), bufs: HeaderBuffers{LargeNum: 1}, want: 0},
		{name: "one large buffer, too many lines", reqLine: tReqLine, lines: repeat(9, 1000), bufs: HeaderBuffers{LargeNum: 1}, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := append([]int{tHost}, tt.lines...)
			assert.Equal(t, tt.want, nginxHeaderStatus(tt.reqLine, lines, tt.bufs))
		})
	}
}

func TestHeaderBuffersDefaults(t *testing.T) {
	assert.Equal(t, HeaderBuffers{ClientSize: 1024, LargeNum: 4, LargeSize: 8192}, HeaderBuffers{}.resolved())
	assert.Equal(t, HeaderBuffers{ClientSize: 2048, LargeNum: 4, LargeSize: 16384}, HeaderBuffers{ClientSize: 2048, LargeSize: 16384}.resolved())
	assert.Equal(t, 1<<20, HeaderBuffers{}.maxGoHeaderBytes(), "at least 1 MiB")
	assert.Equal(t, 1024+64*(64<<10)+4096, HeaderBuffers{LargeNum: 64, LargeSize: 64 << 10}.maxGoHeaderBytes())
	assert.Equal(t, 1<<31-1, HeaderBuffers{LargeNum: 1 << 20, LargeSize: 1 << 30}.maxGoHeaderBytes(), "capped")
}

// rawExchange writes raw to addr and reads one response; closed reports
// whether the gateway closed the connection after it.
func rawExchange(t *testing.T, addr string, raw []byte) (resp *http.Response, body []byte, closed bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	werr := make(chan error, 1)
	go func() { _, err := c.Write(raw); werr <- err }()
	br := bufio.NewReader(c)
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	return resp, body, errors.Is(err, io.EOF)
}

func TestGatewayRefusesOversizedHeads(t *testing.T) {
	h := start(t, Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}}, baseYML)
	addr := h.addr(t, func(Listener) bool { return true })

	// Kong's body: kong/error_handlers.lua:13-28 and 62-67, the text/plain
	// template of kong/tools/http.lua:414 (3.9.3).
	refused := func(t *testing.T, raw string, status int, msg string) {
		t.Helper()
		resp, got, closed := rawExchange(t, addr, []byte(raw))
		require.Equal(t, status, resp.StatusCode)
		body := msg + "\nrequest_id: " + resp.Header.Get("X-Kong-Request-Id") + "\n"
		assert.Equal(t, body, string(got))
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
		assert.True(t, resp.Close, "Connection: close")
		assert.True(t, closed, "the gateway closes the connection")
		x := h.exchange(t, resp.Header.Get("X-Kong-Request-Id"))
		assert.Equal(t, status, x.Status)
		assert.Equal(t, "error", x.Source)
		assert.Nil(t, x.Upstream)
		assert.Empty(t, x.Request.Calls, "no plugin phase runs")
	}

	t.Run("64 KiB header", func(t *testing.T) {
		raw := "GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
		refused(t, raw, 400, "Request header or cookie too large")
	})
	t.Run("10,000-entry X-Forwarded-For over 100 lines", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET /echo HTTP/1.1\r\nHost: a\r\n")
		for line := range 100 {
			b.WriteString("X-Forwarded-For: ")
			for i := range 100 {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "10.%d.%d.%d", line, i/256, i%256)
			}
			b.WriteString("\r\n")
		}
		b.WriteString("\r\n")
		require.Greater(t, b.Len(), 100_000)
		refused(t, b.String(), 400, "Request header or cookie too large")
	})
	t.Run("request line over a large buffer", func(t *testing.T) {
		raw := "GET /echo" + strings.Repeat("a", 8200) + " HTTP/1.1\r\nHost: a\r\n\r\n"
		refused(t, raw, 414, "URI too long")
	})
	t.Run("8190-byte line accepted", func(t *testing.T) {
		line := "X-Long: " + strings.Repeat("b", 8190-len("X-Long: "))
		require.Len(t, line, 8190)
		resp, body, _ := rawExchange(t, addr, []byte("GET /echo HTTP/1.1\r\nHost: a\r\n"+line+"\r\nConnection: close\r\n\r\n"))
		require.Equal(t, 200, resp.StatusCode, "%s", body)
		var seen seenUpstream
		require.NoError(t, json.Unmarshal(body, &seen))
		assert.Len(t, seen.Headers.Get("X-Long"), 8190-len("X-Long: "))
	})
	t.Run("8191-byte line refused", func(t *testing.T) {
		raw := "GET /echo HTTP/1.1\r\nHost: a\r\nX-Long: " + strings.Repeat("b", 8191-len("X-Long: ")) + "\r\n\r\n"
		refused(t, raw, 400, "Request header or cookie too large")
	})
}

// headLayout is one request head for the differential test: the request
// line's length and the header lines' lengths, CRLF included, Host first.
type headLayout struct {
	reqLine int
	lines   []int
}

// String renders the layout as a call of the model, for reproducers.
func (l headLayout) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nginxHeaderStatus(%d, []int{", l.reqLine)
	for i, n := range l.lines {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(n))
	}
	b.WriteString("}, bufs)")
	return b.String()
}

// bytes renders the head: "GET /echo<pad> HTTP/1.1", "Host: a", then
// "X-NNNN: <pad>" lines, names in sorted order so the gateway's
// reconstruction (Host first, names sorted) is the order sent.
func (l headLayout) bytes() []byte {
	var b bytes.Buffer
	b.WriteString("GET /echo")
	b.WriteString(strings.Repeat("a", l.reqLine-len("GET /echo HTTP/1.1\r\n")))
	b.WriteString(" HTTP/1.1\r\n")
	for i, n := range l.lines {
		if i == 0 {
			b.WriteString("Host: a\r\n")
			continue
		}
		fmt.Fprintf(&b, "X-%04d: %s\r\n", i, strings.Repeat("v", n-len("X-0000: \r\n")))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// statusOf sends raw over a fresh connection and returns the response
// status.
func statusOf(addr string, raw []byte) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	go func() { _, _ = c.Write(raw) }() // a refusing server may stop reading
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// startNginx runs nginx in the foreground with one server per buffer
// configuration, on free loopback ports, and returns their addresses.
func startNginx(t *testing.T, bin string, bufs []HeaderBuffers) []string {
	t.Helper()
	dir := t.TempDir()
	var servers strings.Builder
	var addrs []string
	for _, b := range bufs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		addrs = append(addrs, addr)
		fmt.Fprintf(&servers, "    server {\n        listen %s;\n", addr)
		if b.ClientSize != 0 {
			fmt.Fprintf(&servers, "        client_header_buffer_size %d;\n", b.ClientSize)
		}
		if b.LargeNum != 0 {
			fmt.Fprintf(&servers, "        large_client_header_buffers %d %d;\n", b.LargeNum, b.LargeSize)
		}
		servers.WriteString("        location / { return 200 \"ok\\n\"; }\n    }\n")
	}
	render := func(extra string) string {
		return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s%[3]s}
`, dir, extra, servers.String())
	}
	// nginx 1.29.8+ and Debian's 1.22.1-9+deb12u11 (a backport) refuse
	// more than max_headers (default 1000) header lines with the same 400.
	// Kong 3.9's OpenResty (nginx 1.25.3) has no such limit, and neither
	// has the model: lift it where the directive exists.
	conf := render("    max_headers 1000000;\n")
	if err := testsupport.CheckNginxConf(bin, dir, conf); err != nil {
		if !strings.Contains(err.Error(), `"max_headers"`) {
			t.Fatalf("%v\n%s", err, conf)
		}
		conf = render("")
	} else {
		t.Logf("%s knows max_headers (backported or nginx 1.29.8+): lifted to match Kong's nginx", bin)
	}
	n, err := testsupport.StartNginx(bin, dir, conf, addrs)
	if err != nil {
		t.Fatalf("%v\n%s", err, conf)
	}
	t.Cleanup(n.Stop)
	return addrs
}

// randomLayouts returns n seeded random heads around bufs' limit: header
// lines of 10 to 9000 bytes (per head at most 200, 1000, 3000 or 9000, not
// more than twice the large buffers' size), as many as make the head
// between 0.6 and 1.1 times what the buffers can hold, and now and then a
// long request line.
func randomLayouts(r *rand.Rand, n int, bufs HeaderBuffers) []headLayout {
	b := bufs.resolved()
	total := b.ClientSize + b.LargeNum*b.LargeSize
	var maxLens []int
	for _, m := range []int{200, 1000, 3000, 9000} {
		if m <= 2*b.LargeSize {
			maxLens = append(maxLens, m)
		}
	}
	var out []headLayout
	for range n {
		l := headLayout{reqLine: len("GET /echo HTTP/1.1\r\n"), lines: []int{tHost}}
		if r.IntN(10) == 0 {
			l.reqLine += r.IntN(b.LargeSize + b.LargeSize/8)
		}
		maxLen := maxLens[r.IntN(len(maxLens))]
		target := total*6/10 + r.IntN(total/2)
		for sum := l.reqLine + tHost; sum < target && len(l.lines) < 9999; {
			n := 10 + r.IntN(maxLen-10+1)
			l.lines = append(l.lines, n)
			sum += n
		}
		out = append(out, l)
	}
	return out
}

// boundaryLayouts are the unit test's boundary cases, as heads.
func boundaryLayouts() []headLayout {
	rl := len("GET /echo HTTP/1.1\r\n")
	with := func(lines ...int) headLayout { return headLayout{reqLine: rl, lines: append([]int{tHost}, lines...)} }
	return []headLayout{
		with(8192), with(8193), with(8194),
		with(repeat(4, 8002)...), with(repeat(5, 7002)...), with(repeat(10, 3002)...),
		with(repeat(8, 3002)...), with(repeat(20, 1602)...), with(repeat(40, 802)...), with(repeat(41, 802)...), with(repeat(42, 802)...),
		{reqLine: 8192, lines: []int{tHost}}, {reqLine: 8193, lines: []int{tHost}},
		{reqLine: 1024 - tHost, lines: append([]int{tHost}, repeat(4, 8192)...)},
		{reqLine: 1024, lines: append([]int{tHost}, repeat(4, 8192)...)},
		{reqLine: 1024, lines: append([]int{tHost}, repeat(3, 8183)...)},
		{reqLine: 1024 - tHost, lines: append([]int{tHost}, repeat(3, 8192)...)},
		{reqLine: 1024 - tHost, lines: append([]int{tHost}, append(repeat(3, 8192), 8191)...)},
		{reqLine: 16384, lines: []int{tHost}}, {reqLine: 16385, lines: []int{tHost}},
		with(16384), with(16385), with(repeat(8, 16002)...), with(repeat(9, 16002)...),
		with(repeat(40, 3002)...), with(repeat(41, 3002)...),
	}
}

// knownHeaderDeviations lists layouts (by String) where the model and
// nginx are known to disagree, with why. None so far.
var knownHeaderDeviations = map[string]string{}

// TestHeaderBuffersAgainstNginx sends seeded random heads to a real nginx
// with the default buffers and with "large_client_header_buffers 8 16k",
// and to gateways configured alike, and requires nginx, the model and the
// gateway to agree on accept (200), 400 or 414. It needs nginx: skipped
// without one, except under CI=true. HEADERBUF_SEED sets the seed and
// HEADERBUF_CASES the number of random heads per configuration.
func TestHeaderBuffersAgainstNginx(t *testing.T) {
	begin := time.Now()
	bin := testsupport.NginxBin(t)
	var err error
	seed := uint64(20250101)
	if s := os.Getenv("HEADERBUF_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "HEADERBUF_SEED")
	}
	perConfig := 250
	if s := os.Getenv("HEADERBUF_CASES"); s != "" {
		perConfig, err = strconv.Atoi(s)
		require.NoError(t, err, "HEADERBUF_CASES")
	}
	t.Logf("seed %d (HEADERBUF_SEED), %d random heads per configuration (HEADERBUF_CASES)", seed, perConfig)
	r := rand.New(rand.NewPCG(seed, seed))

	configs := []struct {
		name string
		bufs HeaderBuffers
	}{
		{"default (1k; 4 8k)", HeaderBuffers{}},
		{"large_client_header_buffers 8 16k", HeaderBuffers{LargeNum: 8, LargeSize: 16 << 10}},
		// A first buffer larger than the large ones.
		{"client_header_buffer_size 4k; large_client_header_buffers 3 2k", HeaderBuffers{ClientSize: 4 << 10, LargeNum: 3, LargeSize: 2 << 10}},
	}
	var all []HeaderBuffers
	for _, c := range configs {
		all = append(all, c.bufs)
	}
	nginxAddrs := startNginx(t, bin, all)

	up := echo(t)
	yml, err := kongyml.Parse([]byte(strings.ReplaceAll("_format_version: \"3.0\"\nservices:\n- name: echo\n  url: UPSTREAM\n  routes:\n  - name: echo\n    paths: [/echo]\n", "UPSTREAM", up.URL)))
	require.NoError(t, err)

	cases, agree := 0, 0
	byStatus := map[int]int{}
	for i, c := range configs {
		gw, err := New(Options{Node: Node{Listeners: []Listener{{Addr: "127.0.0.1:0"}}, HeaderBuffers: c.bufs}, Config: yml})
		require.NoError(t, err)
		require.NoError(t, gw.Start())
		t.Cleanup(func() { gw.Close() })
		gwAddr := gw.Listeners()[0].Addr.String()

		layouts := append(boundaryLayouts(), randomLayouts(r, perConfig, c.bufs)...)
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, l := range layouts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				raw := l.bytes()
				ngx, err := statusOf(nginxAddrs[i], raw)
				if err != nil {
					t.Errorf("%s: nginx: %v for %s", c.name, err, l)
					return
				}
				ours, err := statusOf(gwAddr, raw)
				if err != nil {
					t.Errorf("%s: gateway: %v for %s", c.name, err, l)
					return
				}
				model := nginxHeaderStatus(l.reqLine, l.lines, c.bufs)
				if model == 0 {
					model = 200
				}
				mu.Lock()
				defer mu.Unlock()
				cases++
				byStatus[ngx]++
				if why, ok := knownHeaderDeviations[l.String()]; ok {
					t.Logf("%s: known deviation (%s): nginx %d, model %d, gateway %d", c.name, why, ngx, model, ours)
					return
				}
				if ngx == model && ours == model {
					agree++
					return
				}
				t.Errorf("%s: nginx %d, model %d, gateway %d; reproducer (%d bytes):\n\t%s",
					c.name, ngx, model, ours, len(raw), minimalRepro(nginxAddrs[i], l, c.bufs))
			}()
		}
		wg.Wait()
	}
	t.Logf("%d heads (nginx: %d accepted, %d refused with 400, %d with 414), %d agree (nginx = model = gateway), %s",
		cases, byStatus[200], byStatus[400], byStatus[414], agree, time.Since(begin).Round(time.Millisecond))
}

// minimalRepro drops header lines from a mismatching layout, in ever
// smaller runs, as long as nginx and the model still disagree, and renders
// what is left (at most 400 more requests to nginx).
func minimalRepro(addr string, l headLayout, bufs HeaderBuffers) string {
	budget := 400
	differs := func(l headLayout) (int, int, bool) {
		budget--
		ngx, err := statusOf(addr, l.bytes())
		model := nginxHeaderStatus(l.reqLine, l.lines, bufs)
		if model == 0 {
			model = 200
		}
		return ngx, model, err == nil && ngx != model
	}
	ngx, model, ok := differs(l)
	if !ok {
		return fmt.Sprintf("%s with bufs = %+v (nginx and the model agree on it: the gateway differs)", l, bufs)
	}
	for run := (len(l.lines) - 1) / 2; run >= 1 && budget > 0; run /= 2 {
		for i := 1; i+run <= len(l.lines) && budget > 0; {
			try := headLayout{reqLine: l.reqLine, lines: append(append([]int(nil), l.lines[:i]...), l.lines[i+run:]...)}
			if n, m, ok := differs(try); ok {
				l, ngx, model = try, n, m
				continue // the same i, now the next run
			}
			i += run
		}
	}
	return fmt.Sprintf("%s with bufs = %+v: nginx %d, model %d", l, bufs, ngx, model)
}
