// Package nginxconf renders the part of Kong's nginx configuration that
// decides the client address: the proxy server's listen lines and its realip
// directives, in the form Kong's nginx_kong.lua template produces them. It
// also wraps them into small standalone nginx.conf files for tests that run
// a real nginx.
package nginxconf

import (
	"fmt"
	"sort"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
)

// indent is the template's indentation inside the proxy server block.
const indent = "    "

// RenderOptions selects version-dependent details of Kong's template.
type RenderOptions struct {
	// LegacyHTTP2 renders the http2 flag inside each listen line, as Kong
	// 3.0–3.5 do (OpenResty 1.21.4). Kong 3.6+ (nginx 1.25.1+, where
	// "listen ... http2" is deprecated) drops the flag from listen and
	// renders one server-level "http2 on;" if any proxy_listen entry has
	// http2, which enables HTTP/2 for every listener of the proxy server.
	// nginx before 1.25.1 has no "http2" directive, so standalone configs
	// for such an nginx need this set.
	LegacyHTTP2 bool
}

// Render returns the proxy server's client-address lines as Kong 3.6+
// renders them, indented as in the template:
//
//	listen <host>:<port> <flags>;        one per proxy_listen entry
//	http2 on;                            if any entry has http2
//	# injected nginx_proxy_* directives
//	real_ip_header <value>;
//	real_ip_recursive on|off;
//	<other nginx_proxy_* directives>
//	set_real_ip_from <entry>;            one per trusted_ips entry, as written
//
// Kong emits the nginx_proxy_* directives in Lua table order, which is
// unspecified; here real_ip_header and real_ip_recursive come first and any
// other nginx_proxy_* keys the user set follow in name order. The order has
// no effect on nginx.
func Render(c *nodeconf.Conf) string {
	return RenderWith(c, RenderOptions{})
}

// RenderWith is Render with version-dependent options.
func RenderWith(c *nodeconf.Conf, o RenderOptions) string {
	var b strings.Builder
	http2 := false
	for _, l := range c.ProxyListen {
		b.WriteString(indent + "listen " + listenText(l, o) + ";\n")
		http2 = http2 || l.HTTP2
	}
	if http2 && !o.LegacyHTTP2 {
		b.WriteString(indent + "http2 on;\n")
	}
	b.WriteString(indent + "# injected nginx_proxy_* directives\n")
	header := c.RealIPHeader
	if header == "" {
		header = nodeconf.DefaultRealIPHeader
	}
	b.WriteString(indent + "real_ip_header " + header + ";\n")
	rec := "off"
	if c.RealIPRecursive {
		rec = "on"
	}
	b.WriteString(indent + "real_ip_recursive " + rec + ";\n")
	for _, d := range otherProxyDirectives(c) {
		b.WriteString(indent + d[0] + " " + d[1] + ";\n")
	}
	for _, ip := range c.TrustedIPs {
		b.WriteString(indent + "set_real_ip_from " + ip + ";\n")
	}
	return b.String()
}

func listenText(l nodeconf.Listener, o RenderOptions) string {
	if !o.LegacyHTTP2 || !l.HTTP2 {
		return l.Listen()
	}
	// Kong 3.0–3.5 kept http2 in its canonical place, right after ssl.
	parts := []string{fmt.Sprintf("%s:%d", l.Host, l.Port)}
	parts = append(parts, l.Flags...)
	return strings.Join(parts, " ")
}

// otherProxyDirectives returns the user's nginx_proxy_* settings other than
// the two realip ones, sorted by directive name.
func otherProxyDirectives(c *nodeconf.Conf) [][2]string {
	var out [][2]string
	for k, v := range c.Raw {
		name, ok := strings.CutPrefix(k, "nginx_proxy_")
		if !ok || name == "" || name == "real_ip_header" || name == "real_ip_recursive" {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || v == "NONE" {
			continue
		}
		out = append(out, [2]string{name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// Options controls a standalone nginx.conf built around rendered server
// lines.
type Options struct {
	// Dir holds the pid file, the error log and the temp directories. It
	// must be an absolute path.
	Dir string
	// ErrorLogLevel is the error_log level; "info" when empty (nginx logs
	// PROXY protocol "broken header" errors at error level and client
	// closes at info).
	ErrorLogLevel string
	// LegacyHTTP2 is passed to RenderWith; set it for nginx before 1.25.1.
	LegacyHTTP2 bool
	// SSLCertificate and SSLCertificateKey are rendered into every server
	// that has an ssl listener; without them nginx refuses such a server.
	SSLCertificate, SSLCertificateKey string
	// HTTPInclude, if set, is included in the http block as Kong renders
	// nginx_http_include (kong/templates/nginx_kong.lua:42-44 at 3.9.3).
	HTTPInclude string
	// HTTPDirectives are more http-level directives, without the ';'.
	HTTPDirectives []string
	// Return replaces EchoReturn as every server's answer.
	Return string
}

// EchoReturn is the response body every test server returns: nginx's view
// of the connection and of the realip result, space-separated.
const EchoReturn = `return 200 "$remote_addr $remote_port $realip_remote_addr $realip_remote_port $proxy_protocol_addr $proxy_protocol_port\n";`

// ServerBlock returns a complete nginx.conf with one server for c that
// answers every request with EchoReturn. nginx runs in the foreground with
// one worker; pid, logs and temp files live in opts.Dir. Start it with
// "nginx -p <Dir> -e <Dir>/error.log -c <file>".
func ServerBlock(c *nodeconf.Conf, opts Options) string {
	return Config(opts, c)
}

// Config is ServerBlock for several servers in one nginx process, one
// server block per configuration, in order. Their listen addresses must not
// collide.
func Config(opts Options, confs ...*nodeconf.Conf) string {
	dir := strings.TrimRight(opts.Dir, "/")
	level := opts.ErrorLogLevel
	if level == "" {
		level = "info"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log %[2]s;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type text/plain;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    # Kong sets this too; it keeps header names with '_' visible to realip.
    underscores_in_headers on;
    large_client_header_buffers 4 64k;
`, dir, level)
	for _, d := range opts.HTTPDirectives {
		b.WriteString("    " + d + ";\n")
	}
	if opts.HTTPInclude != "" {
		b.WriteString("    include " + opts.HTTPInclude + ";\n")
	}
	ret := EchoReturn
	if opts.Return != "" {
		ret = opts.Return
	}
	for i, c := range confs {
		fmt.Fprintf(&b, "\n    server {\n        server_name kong%d;\n", i)
		ssl := false
		for _, l := range c.ProxyListen {
			ssl = ssl || l.SSL
		}
		for _, line := range strings.SplitAfter(RenderWith(c, RenderOptions{LegacyHTTP2: opts.LegacyHTTP2}), "\n") {
			if line != "" {
				b.WriteString(indent + line)
			}
		}
		if ssl && opts.SSLCertificate != "" {
			fmt.Fprintf(&b, "        ssl_certificate %s;\n        ssl_certificate_key %s;\n", opts.SSLCertificate, opts.SSLCertificateKey)
		}
		b.WriteString("        location / {\n            " + ret + "\n        }\n    }\n")
	}
	b.WriteString("}\n")
	return b.String()
}
