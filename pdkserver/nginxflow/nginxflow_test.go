package nginxflow

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxdiff"
	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
)

// flowCase is one raw request: its header lines (after Host), the peer it
// comes from, and the scripts of kong.service.request / kong.request calls
// a global plugin runs in the rewrite phase (X-Rewrite-Ops) and the access
// phase (X-Ops), as pdkprobe and the Lua stand-in both read them.
type flowCase struct {
	name    string
	from    string // 127.0.0.1 (untrusted) or 127.0.0.2 (trusted_ips)
	lines   []string
	rewrite string
	access  string
	// joined marks a case whose answer depends on nginx ≥ 1.23 joining
	// every line of an unknown header into $http_<name> (Kong 3.9.3 runs
	// nginx 1.25.3; nginx 1.22 returns the first line): it is compared only
	// on nginx ≥ 1.23.
	joined bool
}

// pad is n header lines. net/http hands pdkserver the header names sorted
// (Host first), nginx keeps the order sent: "A-Pad" sorts first and send
// writes X-Case and Connection right after Host, so a line after the pads
// has the same position in both, which the 100-line get_headers() cap
// depends on.
func pad(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("A-Pad: %d", i)
	}
	return out
}

var corpus = []flowCase{
	{name: "no XFF", from: "127.0.0.1"},
	{name: "one XFF", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1"}},
	{name: "two XFF lines: first only", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1", "X-Forwarded-For: 2.2.2.2, 3.3.3.3"}},
	{name: "X_Forwarded_For only", from: "127.0.0.1", lines: []string{"X_Forwarded_For: 6.6.6.6"}},
	{name: "dash then underscore", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1", "X_Forwarded_For: 6.6.6.6"}},
	{name: "underscore then dash", from: "127.0.0.1", lines: []string{"x_forwarded_for: 6.6.6.6", "X-Forwarded-For: 1.1.1.1"}},
	{name: "mixed spelling", from: "127.0.0.1", lines: []string{"X-Forwarded_For: 6.6.6.6"}},
	{name: "XFF past the 100-line table", from: "127.0.0.1", lines: append(pad(100), "X-Forwarded-For: 1.1.1.1")},
	{name: "XFF at line 100", from: "127.0.0.1", lines: append(pad(98), "X-Forwarded-For: 1.1.1.1")},
	{name: "access clear XFF", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1"}, access: "sreqclear:X-Forwarded-For"},
	{name: "access clear X_Forwarded_For", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1", "X_Forwarded_For: 6.6.6.6"}, access: "sreqclear:X_Forwarded_For"},
	{name: "access clear XFF leaves X_Forwarded_For", from: "127.0.0.1", lines: []string{"X_Forwarded_For: 6.6.6.6"}, access: "sreqclear:X-Forwarded-For"},
	{name: "access set XFF", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1"}, access: "sreqset:X-Forwarded-For=9.9.9.9"},
	{name: "access set X-Real-IP", from: "127.0.0.1", lines: []string{"X-Real-IP: 5.5.5.5"}, access: "sreqset:X-Real-IP=9.9.9.9"},
	{name: "rewrite clear XFF", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1"}, rewrite: "sreqclear:X-Forwarded-For"},
	{name: "rewrite clear x_forwarded_for", from: "127.0.0.1", lines: []string{"X_Forwarded_For: 6.6.6.6", "X-Forwarded-For: 1.1.1.1"}, rewrite: "sreqclear:x_forwarded_for"},
	{name: "rewrite clear both spellings", from: "127.0.0.1", lines: []string{"X_Forwarded_For: 6.6.6.6", "X-Forwarded-For: 1.1.1.1"}, rewrite: "sreqclear:x_forwarded_for;sreqclear:x-forwarded-for"},
	{name: "rewrite set XFF", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1"}, rewrite: "sreqset:X-Forwarded-For=7.7.7.7"},
	{name: "rewrite clear X-Real-IP from a trusted peer", from: "127.0.0.2", lines: []string{"X-Real-IP: 203.0.113.9"}, rewrite: "sreqclear:X-Real-IP"},
	{name: "trusted peer, X-Real-IP and XFF", from: "127.0.0.2", lines: []string{"X-Real-IP: 203.0.113.9", "X-Forwarded-For: 198.51.100.1"}},
	{name: "trusted peer, X_Real_IP passes through", from: "127.0.0.2", lines: []string{"X_Real_IP: 203.0.113.9"}},
	{name: "clear X-Custom leaves X_Custom", from: "127.0.0.1", lines: []string{"X_Custom: a", "X-Custom: b"}, access: "sreqclear:X-Custom"},
	{name: "set x_custom leaves X-Custom", from: "127.0.0.1", lines: []string{"X-Custom: b"}, access: "sreqset:x_custom=n"},
	{name: "add_header X-Custom beside X_Custom", from: "127.0.0.1", lines: []string{"X_Custom: a"}, access: "sreqadd:X-Custom=n"},
	{name: "add_header X_Custom copies X-Custom", from: "127.0.0.1", lines: []string{"X-Custom: b"}, access: "sreqadd:X_Custom=n"},
	{name: "add_header X-Custom appends", from: "127.0.0.1", lines: []string{"X-Custom: b", "x-custom: c"}, access: "sreqadd:X-Custom=n"},
	{name: "get_header X-Real-IP, both spellings", from: "127.0.0.1", lines: []string{"X_Real_IP: 6.6.6.6", "X-Real-IP: 5.5.5.5"}, access: "probehdr:X-Real-IP", joined: true},
	{name: "get_header X-Real-IP, underscore only", from: "127.0.0.1", lines: []string{"X_Real_IP: 6.6.6.6"}, access: "probehdr:X-Real-IP"},
	{name: "get_header X_Real_IP, dash only", from: "127.0.0.1", lines: []string{"X-Real-IP: 5.5.5.5"}, access: "probehdr:X_Real_IP"},
	{name: "get_header XFF, two lines", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1", "X-Forwarded-For: 2.2.2.2"}, access: "probehdr:X-Forwarded-For"},
	{name: "get_header XFF, underscore only", from: "127.0.0.1", lines: []string{"X_Forwarded_For: 6.6.6.6"}, access: "probehdr:X-Forwarded-For"},
	{name: "get_header x_forwarded_for, both", from: "127.0.0.1", lines: []string{"X-Forwarded-For: 1.1.1.1, 2.2.2.2", "X_Forwarded_For: 6.6.6.6"}, access: "probehdr:x_forwarded_for"},
	{name: "get_header custom, two lines", from: "127.0.0.1", lines: []string{"X-Custom: a", "X_Custom: b"}, access: "probehdr:X-Custom"},
	{name: "invalid header names are dropped", from: "127.0.0.2", lines: []string{"X.Forwarded.For: 6.6.6.6", "X~Real~IP: 6.6.6.6", "X-Real-IP: 5.5.5.5", "X+Custom: c"}},
}

// ignored are upstream headers outside the comparison: values that differ
// by design (request ids, ports, Host, Kong's X-Forwarded-* other than For,
// Via: the Lua stand-in does not compute them) or that the two HTTP clients
// add differently (Connection, Content-Length).
var ignored = []string{
	"host", "connection", "content-length", "via", "x-kong-request-id", "x-case",
	"x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-path", "x-forwarded-prefix",
}

func TestUpstreamHeadersMatchNginx(t *testing.T) {
	bin, modules, version := findNginxLua(t)
	up := startRecorder(t)
	dir := t.TempDir()
	ports, err := nginxdiff.FreePorts(2)
	require.NoError(t, err)
	ngxAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ports[0]))
	ngx, err := testsupport.StartNginx(bin, filepath.Join(dir, "nginx"), nginxConf(t, modules, ngxAddr, up.addr), []string{ngxAddr.String()})
	require.NoError(t, err)
	t.Cleanup(ngx.Stop)
	pdkAddr := startPDKServer(t, dir, ports[1], up.addr)

	for i, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			if tc.joined && !testsupport.NginxVersionAtLeast(version, 1, 23, 0) {
				t.Skipf("%s does not join an unknown header's lines into $http_*; Kong's 1.25 does (kongpdk's TestNgxHeaderLookups pins that)", version)
			}
			got := map[string][][2]string{}
			for side, addr := range map[string]string{"nginx": ngxAddr.String(), "pdkserver": pdkAddr} {
				id := fmt.Sprintf("%s-%d", side, i)
				status := send(t, tc, addr, id)
				require.Equal(t, 200, status, "%s answered %d; nginx error log:\n%s", side, status, tail(ngx.ErrorLog(), 2000))
				got[side] = up.take(t, id)
			}
			assert.Equal(t, got["nginx"], got["pdkserver"], "upstream header lines (name lower-cased, in order per name)")
		})
	}
}

// findNginxLua finds nginx and its lua module, skipping without them and
// failing under CI=true, as the other nginx tests do.
func findNginxLua(t *testing.T) (bin, modules, version string) {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s", why)
		}
		t.Skipf("skipping the nginx flow test: %s", why)
	}
	bin, err := testsupport.FindNginx()
	if err != nil {
		missing(err.Error())
	}
	out, err := exec.Command(bin, "-V").CombinedOutput()
	require.NoError(t, err, "%s -V: %s", bin, out)
	m := regexp.MustCompile(`--modules-path=(\S+)`).FindSubmatch(out)
	modules = "/usr/lib/nginx/modules"
	if m != nil {
		modules = string(m[1])
	}
	for _, so := range []string{"ndk_http_module.so", "ngx_http_lua_module.so"} {
		if _, err := os.Stat(filepath.Join(modules, so)); err != nil {
			missing(fmt.Sprintf("%s not found (apt-get install libnginx-mod-http-lua)", filepath.Join(modules, so)))
		}
	}
	version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	t.Logf("%s (%s)", version, bin)
	return bin, modules, version
}

// nginxConf is Kong 3.9.3's proxy server, reduced to what decides the
// upstream X-Forwarded-For and X-Real-IP: underscores_in_headers on
// (kong/templates/nginx_kong.lua:30), the realip settings Kong renders from
// kong.conf (real_ip_header X-Real-IP, real_ip_recursive off:
// kong/templates/kong_defaults.lua:118-119; set_real_ip_from per
// trusted_ips: nginx_kong.lua:138-140), rewrite and access handlers in
// that order (nginx_kong.lua:142-148) and the proxy_set_header lines
// (nginx_kong.lua:195, 201).
func nginxConf(t *testing.T, modules string, listen netip.AddrPort, upstream string) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return fmt.Sprintf(`load_module %[1]s/ndk_http_module.so;
load_module %[1]s/ngx_http_lua_module.so;
worker_processes 1;
daemon off;
pid nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    lua_package_path "%[2]s/?.lua;;";
    # Loaded by the master while it reads this file: a worker (nobody when
    # the tests run as root) may not be able to read a checkout under a
    # private directory such as mktemp -d's.
    init_by_lua_block { require("standin") }
    underscores_in_headers on;
    server {
        listen %[3]s;
        real_ip_header X-Real-IP;
        real_ip_recursive off;
        set_real_ip_from 127.0.0.2;
        location / {
            set $upstream_x_forwarded_for '';
            rewrite_by_lua_block { require("standin").run("x_rewrite_ops") }
            access_by_lua_block {
                local standin = require("standin")
                standin.access_before()
                standin.run("x_ops")
            }
            proxy_http_version 1.1;
            proxy_set_header Connection "keep-alive";
            proxy_set_header X-Forwarded-For $upstream_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_pass http://%[4]s;
        }
    }
}
`, modules, filepath.Join(wd, "testdata"), listen, upstream)
}

// startPDKServer runs pdkserver (demo.StartNode: the gateway and pdkprobe
// over the real plugin socket) with the same trusted_ips, pdkprobe global.
func startPDKServer(t *testing.T, dir string, port int, upstream string) string {
	t.Helper()
	binDir := filepath.Join(dir, "bin")
	out, err := exec.Command("go", "build", "-o", binDir+"/", "github.com/client-ip-guard/client-ip-guard/pdkserver/internal/testplugins/pdkprobe").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	// Unix socket paths are limited to 108 bytes.
	sock, err := os.MkdirTemp("", "flow")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(sock) })
	probe := filepath.Join(binDir, "pdkprobe")
	conf := filepath.Join(dir, "kong.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`prefix = %[1]s
proxy_listen = 127.0.0.1:%[2]d
admin_listen = off
trusted_ips = 127.0.0.2
plugins = bundled,pdkprobe
pluginserver_names = pdkprobe
pluginserver_pdkprobe_socket = %[1]s/pdkprobe.socket
pluginserver_pdkprobe_start_cmd = %[3]s -kong-prefix %[1]s
pluginserver_pdkprobe_query_cmd = %[3]s -dump
`, sock, port, probe)), 0o644))
	yml := filepath.Join(dir, "kong.yml")
	require.NoError(t, os.WriteFile(yml, []byte(fmt.Sprintf(`_format_version: "3.0"
plugins:
- name: pdkprobe
services:
- name: up
  url: http://%s
  routes:
  - {name: all, paths: [/], strip_path: false}
`, upstream)), 0o644))
	n, err := demo.StartNode(context.Background(), demo.NodeSpec{Name: "pdk", ConfPath: conf, YMLPath: yml, Logf: t.Logf, EventTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(n.Close)
	return n.Addr("plain")
}

// send writes tc's request, tagged with id (X-Case), from tc.from and
// returns the status.
func send(t *testing.T, tc flowCase, addr, id string) int {
	t.Helper()
	d := loopback.Dialer(net.ParseIP(tc.from), 2*time.Second)
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	b.WriteString("GET /flow HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Case: " + id + "\r\n")
	for _, l := range tc.lines {
		b.WriteString(l + "\r\n")
	}
	if tc.rewrite != "" {
		b.WriteString("X-Rewrite-Ops: " + tc.rewrite + "\r\n")
	}
	if tc.access != "" {
		b.WriteString("X-Ops: " + tc.access + "\r\n")
	}
	b.WriteString("\r\n")
	_, err = io.WriteString(c, b.String())
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	var status int
	_, err = fmt.Sscanf(line, "HTTP/1.1 %d", &status)
	require.NoError(t, err, "status line %q", line)
	return status
}

// recorder is an upstream that keeps the header lines of every request,
// by its X-Case header, as received on the wire.
type recorder struct {
	addr string
	mu   sync.Mutex
	got  map[string][][2]string
	seen chan struct{}
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &recorder{addr: l.Addr().String(), got: map[string][][2]string{}, seen: make(chan struct{}, 256)}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

// serve reads requests on one connection (nginx and Go both may keep it
// alive) and answers each with an empty 200.
func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var lines [][2]string
		id := ""
		if _, err := br.ReadString('\n'); err != nil { // request line
			return
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\r\n")
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			value = strings.TrimSpace(value)
			if strings.EqualFold(name, "X-Case") {
				id = value
			}
			lines = append(lines, [2]string{strings.ToLower(name), value})
		}
		r.mu.Lock()
		r.got[id] = lines
		r.mu.Unlock()
		r.seen <- struct{}{}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
			return
		}
	}
}

// take returns the compared lines of request id: without the ignored
// names, stably sorted by name (each name's lines keep their order).
func (r *recorder) take(t *testing.T, id string) [][2]string {
	t.Helper()
	r.mu.Lock()
	lines, ok := r.got[id]
	r.mu.Unlock()
	require.True(t, ok, "the upstream did not receive %s", id)
	var out [][2]string
	for _, l := range lines {
		if !slices.Contains(ignored, l[0]) {
			out = append(out, l)
		}
	}
	slices.SortStableFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
