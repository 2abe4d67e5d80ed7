package nodeconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		in      string
		want    []Listener
		listens []string
		err     string
	}{
		{
			in: DefaultProxyListen,
			want: []Listener{
				{Raw: "0.0.0.0:8000 reuseport backlog=16384", Host: "0.0.0.0", Port: 8000, ReusePort: true, Backlog: 16384, Flags: []string{"reuseport", "backlog=16384"}},
				{Raw: "0.0.0.0:8443 http2 ssl reuseport backlog=16384", Host: "0.0.0.0", Port: 8443, SSL: true, HTTP2: true, ReusePort: true, Backlog: 16384, Flags: []string{"ssl", "http2", "reuseport", "backlog=16384"}},
			},
			listens: []string{"0.0.0.0:8000 reuseport backlog=16384", "0.0.0.0:8443 ssl reuseport backlog=16384"},
		},
		{
			in:      " off , 0.0.0.0:8000",
			want:    []Listener{},
			listens: []string{},
		},
		{
			// Flags render in Kong's order, not the order written.
			in: "127.0.0.1:8000 bind proxy_protocol deferred so_keepalive=on ipv6only=off",
			want: []Listener{{Raw: "127.0.0.1:8000 bind proxy_protocol deferred so_keepalive=on ipv6only=off", Host: "127.0.0.1", Port: 8000,
				ProxyProtocol: true, Deferred: true, Bind: true, Flags: []string{"proxy_protocol", "deferred", "bind", "ipv6only=off", "so_keepalive=on"}}},
			listens: []string{"127.0.0.1:8000 proxy_protocol deferred bind ipv6only=off so_keepalive=on"},
		},
		{
			in:      "010.0.0.1:08000 so_keepalive=30m::10",
			want:    []Listener{{Raw: "010.0.0.1:08000 so_keepalive=30m::10", Host: "10.0.0.1", Port: 8000, Flags: []string{"so_keepalive=30m::10"}}},
			listens: []string{"10.0.0.1:8000 so_keepalive=30m::10"},
		},
		{
			in:      "[::1]:8000 ssl,,[2001:DB8::a]:9000",
			want:    []Listener{{Raw: "[::1]:8000 ssl", Host: "[0000:0000:0000:0000:0000:0000:0000:0001]", Port: 8000, SSL: true, Flags: []string{"ssl"}}, {Raw: "[2001:DB8::a]:9000", Host: "[2001:0db8:0000:0000:0000:0000:0000:000a]", Port: 9000}},
			listens: []string{"[0000:0000:0000:0000:0000:0000:0000:0001]:8000 ssl", "[2001:0db8:0000:0000:0000:0000:0000:000a]:9000"},
		},
		{
			in:      "kong.example:8000 http2",
			want:    []Listener{{Raw: "kong.example:8000 http2", Host: "kong.example", Port: 8000, HTTP2: true, Flags: []string{"http2"}}},
			listens: []string{"kong.example:8000"},
		},
		{in: "0.0.0.0:8000 proxy-protocol", err: `unknown or repeated flag "proxy-protocol"`},
		{in: "0.0.0.0:8000 ssl ssl", err: `unknown or repeated flag "ssl"`},
		{in: "0.0.0.0:8000 backlog=", err: `unknown or repeated flag "backlog="`},
		{in: "0.0.0.0:8000 SSL", err: `flag "SSL"`},
		{in: "0.0.0.0:8000, 0.0.0.0", err: `address "0.0.0.0"`},
		{in: "0.0.0.0:70000", err: `invalid port number "70000"`},
		{in: "256.0.0.1:80", err: `invalid ipv4 address`},
		{in: "[::1]", err: `address "[::1]"`},
		{in: "::1:8000", err: `want [<ipv6>]:<port>`},
		{in: "ssl reuseport", err: `no <ip>:<port>`},
		{in: " , ", err: "must be of form"},
		{in: "localhost", err: `address "localhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseListen(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseListen(%q) error = %v, want one containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseListen(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseListen(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
			listens := []string{}
			for _, l := range got {
				listens = append(listens, l.Listen())
			}
			if !reflect.DeepEqual(listens, tt.listens) {
				t.Fatalf("Listen() = %q, want %q", listens, tt.listens)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.RealIPHeader != "X-Real-IP" || c.RealIPRecursive || len(c.TrustedIPs) != 0 ||
		c.Prefix != "/usr/local/kong" || c.Database != "postgres" || len(c.ProxyListen) != 2 ||
		!reflect.DeepEqual(c.Plugins, []string{"bundled"}) || c.ProxyListen[0].ProxyProtocol || c.ProxyListen[1].ProxyProtocol {
		t.Fatalf("Defaults() = %+v", c)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(t *testing.T, c *Conf)
		err   string
	}{
		{
			name: "comments, escapes, blanks",
			text: "# a comment\n\n  ; another\nreal_ip_header = CF-Connecting-IP   # trailing\nlog_level=debug#x\nsecret = a\\#b # c\n",
			check: func(t *testing.T, c *Conf) {
				want := map[string]string{"real_ip_header": "CF-Connecting-IP", "log_level": "debug", "secret": "a#b"}
				if !reflect.DeepEqual(c.Raw, want) {
					t.Errorf("Raw = %q, want %q", c.Raw, want)
				}
				if c.RealIPHeader != "CF-Connecting-IP" {
					t.Errorf("RealIPHeader = %q", c.RealIPHeader)
				}
				if c.Sources["real_ip_header"] != "file:4" || c.Sources["secret"] != "file:6" {
					t.Errorf("Sources = %q", c.Sources)
				}
			},
		},
		{
			name: "key bytes become underscores, last assignment wins, continuation",
			text: "real-ip.recursive = off\nreal_ip_recursive = on\ntrusted_ips = 10.0.0.0/8, \\\n  ::1 ,unix:\nnot an assignment\n",
			check: func(t *testing.T, c *Conf) {
				if !c.RealIPRecursive || c.Sources["real_ip_recursive"] != "file:2" {
					t.Errorf("RealIPRecursive = %v (%s)", c.RealIPRecursive, c.Sources["real_ip_recursive"])
				}
				if want := []string{"10.0.0.0/8", "::1", "unix:"}; !reflect.DeepEqual(c.TrustedIPs, want) {
					t.Errorf("TrustedIPs = %q, want %q", c.TrustedIPs, want)
				}
				if c.Sources["trusted_ips"] != "file:3" {
					t.Errorf("trusted_ips source = %q", c.Sources["trusted_ips"])
				}
			},
		},
		{
			name: "NONE and empty mean unset; unknown keys kept",
			text: "trusted_ips = NONE\nreal_ip_header =\nread_ip_recursive = on\nprefix = /opt/kong/\ndatabase = off\ndeclarative_config = /k/kong.yml\n",
			check: func(t *testing.T, c *Conf) {
				if c.TrustedIPs != nil || c.RealIPHeader != "X-Real-IP" || c.RealIPRecursive {
					t.Errorf("got trusted %q header %q recursive %v", c.TrustedIPs, c.RealIPHeader, c.RealIPRecursive)
				}
				if c.Raw["read_ip_recursive"] != "on" {
					t.Errorf("unknown key not kept: %q", c.Raw)
				}
				if c.Prefix != "/opt/kong" || c.Database != "off" || c.DeclarativeConfig != "/k/kong.yml" {
					t.Errorf("prefix %q database %q declarative %q", c.Prefix, c.Database, c.DeclarativeConfig)
				}
			},
		},
		{
			name: "nginx_http_include relative to the prefix",
			text: "prefix = /opt/kong\nnginx_http_include = conf.d/../fast.conf\n",
			check: func(t *testing.T, c *Conf) {
				if c.HTTPInclude != "/opt/kong/fast.conf" {
					t.Errorf("HTTPInclude = %q", c.HTTPInclude)
				}
			},
		},
		{
			name: "nginx_http_include absolute; NONE is unset",
			text: "nginx_http_include = /etc/kong/fast.conf\n",
			check: func(t *testing.T, c *Conf) {
				if c.HTTPInclude != "/etc/kong/fast.conf" {
					t.Errorf("HTTPInclude = %q", c.HTTPInclude)
				}
				if d, err := Parse(strings.NewReader("nginx_http_include = NONE\n"), ""); err != nil || d.HTTPInclude != "" {
					t.Errorf("NONE: HTTPInclude = %q, %v", d.HTTPInclude, err)
				}
			},
		},
		{
			name: "nginx_proxy directive beats its alias",
			text: "real_ip_header = X-Forwarded-For\nnginx_proxy_real_ip_header = proxy_protocol\nreal_ip_recursive = on\nnginx_proxy_real_ip_recursive = off\n",
			check: func(t *testing.T, c *Conf) {
				if c.RealIPHeader != "proxy_protocol" || c.RealIPRecursive {
					t.Errorf("header %q recursive %v", c.RealIPHeader, c.RealIPRecursive)
				}
			},
		},
		{
			name: "proxy_listen",
			text: "proxy_listen = 0.0.0.0:8000 proxy_protocol, 0.0.0.0:8443 ssl proxy_protocol\n",
			check: func(t *testing.T, c *Conf) {
				if len(c.ProxyListen) != 2 || !c.ProxyListen[0].ProxyProtocol || !c.ProxyListen[1].ProxyProtocol || !c.ProxyListen[1].SSL {
					t.Errorf("ProxyListen = %+v", c.ProxyListen)
				}
			},
		},
		{
			name: "plugins",
			text: "plugins = bundled, client-ip-guard\n",
			check: func(t *testing.T, c *Conf) {
				if want := []string{"bundled", "client-ip-guard"}; !reflect.DeepEqual(c.Plugins, want) {
					t.Errorf("Plugins = %q", c.Plugins)
				}
			},
		},
		{name: "hostname in trusted_ips", text: "trusted_ips = 10.0.0.0/8, lb.internal\n",
			err: "trusted_ips must be a comma separated list in the form of IPv4 or IPv6 address or CIDR block or 'unix:', got 'lb.internal' (kong.conf:1)"},
		{name: "bad CIDR", text: "trusted_ips = 10.0.0.0/33\n", err: "got '10.0.0.0/33'"},
		{name: "unix path", text: "trusted_ips = unix:/tmp/x\n", err: "got 'unix:/tmp/x'"},
		{name: "recursive yes", text: "\nreal_ip_recursive = yes\n", err: `real_ip_recursive must be on or off, got "yes" (kong.conf:2)`},
		{name: "header with space", text: "real_ip_header = X Real\n", err: `real_ip_header "X Real" is not a header name`},
		{name: "bad listen", text: "proxy_listen = 0.0.0.0:8000 proxyprotocol\n", err: `flag "proxyprotocol"`},
		{name: "bad database", text: "database = mysql\n", err: `database has an invalid value: "mysql"`},
		{name: "section", text: "[x]\n", err: `kong.conf:1: section header "[x]"`},
		{
			name: "header buffers: nginx defaults",
			text: "log_level = debug\nnginx_http_client_header_buffer_size = NONE\n",
			check: func(t *testing.T, c *Conf) {
				if c.ClientHeaderBufferSize != 1024 || c.LargeClientHeaderBuffers != (HeaderBuffers{Num: 4, Size: 8192}) {
					t.Errorf("client %d large %+v", c.ClientHeaderBufferSize, c.LargeClientHeaderBuffers)
				}
			},
		},
		{
			name: "header buffers: http block",
			text: "nginx_http_client_header_buffer_size = 2K\nnginx_http_large_client_header_buffers =  8   16k \n",
			check: func(t *testing.T, c *Conf) {
				if c.ClientHeaderBufferSize != 2048 || c.LargeClientHeaderBuffers != (HeaderBuffers{Num: 8, Size: 16384}) {
					t.Errorf("client %d large %+v", c.ClientHeaderBufferSize, c.LargeClientHeaderBuffers)
				}
			},
		},
		{
			// Each directive on its own: the server block's value wins over
			// the http block's, and what the server block does not set is
			// inherited.
			name: "header buffers: proxy server block beats http block",
			text: "nginx_proxy_large_client_header_buffers = 2 1m\nnginx_http_large_client_header_buffers = 8 16k\nnginx_http_client_header_buffer_size = 4096\nnginx_proxy_client_header_buffer_size = \n",
			check: func(t *testing.T, c *Conf) {
				if c.ClientHeaderBufferSize != 4096 || c.LargeClientHeaderBuffers != (HeaderBuffers{Num: 2, Size: 1 << 20}) {
					t.Errorf("client %d large %+v", c.ClientHeaderBufferSize, c.LargeClientHeaderBuffers)
				}
			},
		},
		{
			name: "header buffers: sizes in bytes and M",
			text: "nginx_proxy_client_header_buffer_size = 1M\nnginx_proxy_large_client_header_buffers = 1 512\n",
			check: func(t *testing.T, c *Conf) {
				if c.ClientHeaderBufferSize != 1<<20 || c.LargeClientHeaderBuffers != (HeaderBuffers{Num: 1, Size: 512}) {
					t.Errorf("client %d large %+v", c.ClientHeaderBufferSize, c.LargeClientHeaderBuffers)
				}
			},
		},
		{
			name: "header buffers: a lower connection_pool_size allows smaller buffers",
			text: "nginx_http_connection_pool_size = 256\nnginx_proxy_large_client_header_buffers = 4 256\n",
			check: func(t *testing.T, c *Conf) {
				if c.LargeClientHeaderBuffers != (HeaderBuffers{Num: 4, Size: 256}) {
					t.Errorf("large %+v", c.LargeClientHeaderBuffers)
				}
			},
		},
		{name: "client header buffer with a unit nginx lacks", text: "nginx_http_client_header_buffer_size = 1g\n",
			err: `nginx_http_client_header_buffer_size must be a size greater than 0 such as 1024, 1k or 1m, got "1g" (kong.conf:1)`},
		{name: "client header buffer zero", text: "nginx_proxy_client_header_buffer_size = 0k\n",
			err: `nginx_proxy_client_header_buffer_size must be a size greater than 0 such as 1024, 1k or 1m, got "0k"`},
		{name: "client header buffer with a semicolon", text: "nginx_proxy_client_header_buffer_size = 1k;\n",
			err: `got "1k;"`},
		{name: "client header buffer overflow", text: "nginx_proxy_client_header_buffer_size = 99999999999999999999\n",
			err: `got "99999999999999999999"`},
		{name: "large buffers without a number", text: "nginx_proxy_large_client_header_buffers = 8k\n",
			err: `nginx_proxy_large_client_header_buffers must be a number of buffers and a size greater than 0 such as "4 8k", got "8k" (kong.conf:1)`},
		{name: "large buffers with a unit on the number", text: "nginx_http_large_client_header_buffers = 4k 8k\n",
			err: `nginx_http_large_client_header_buffers must be a number of buffers and a size greater than 0 such as "4 8k", got "4k 8k"`},
		{name: "large buffers zero", text: "\nnginx_http_large_client_header_buffers = 0 8k\n",
			err: `got "0 8k" (kong.conf:2)`},
		{name: "large buffers bad size", text: "nginx_proxy_large_client_header_buffers = 4 8x\n",
			err: `got "4 8x"`},
		{name: "large buffers three values", text: "nginx_proxy_large_client_header_buffers = 4 8k 1\n",
			err: `got "4 8k 1"`},
		{name: "large buffers below connection_pool_size", text: "nginx_proxy_large_client_header_buffers = 4 256\n",
			err: `nginx_proxy_large_client_header_buffers: the size must be equal to or greater than connection_pool_size (512), got "4 256" (kong.conf:1)`},
		{name: "bad proxy value is an error even with a good http one", text: "nginx_http_large_client_header_buffers = 4 8k\nnginx_proxy_large_client_header_buffers = four 8k\n",
			err: `nginx_proxy_large_client_header_buffers must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.text), "kong.conf")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.conf")
	text := "real_ip_header = X-Real-IP\ntrusted_ips = 10.0.0.0/8\nnginx_proxy_real_ip_recursive = off\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path      string
		env       []string
		header    string
		recursive bool
		trusted   []string
		sources   map[string]string
	}{
		{name: "file only", path: path, header: "X-Real-IP", trusted: []string{"10.0.0.0/8"},
			sources: map[string]string{"real_ip_header": "file:1", "trusted_ips": "file:2", "nginx_proxy_real_ip_recursive": "file:3"}},
		{
			name:    "env overrides file",
			path:    path,
			env:     []string{"PATH=/bin", "KONG_REAL_IP_HEADER= X-Forwarded-For ", "KONG_TRUSTED_IPS=192.0.2.0/24,::1", "kong_database=off"},
			header:  "X-Forwarded-For",
			trusted: []string{"192.0.2.0/24", "::1"},
			sources: map[string]string{"real_ip_header": "env:KONG_REAL_IP_HEADER", "trusted_ips": "env:KONG_TRUSTED_IPS", "nginx_proxy_real_ip_recursive": "file:3"},
		},
		{
			// The directive set in the file beats the alias from the
			// environment.
			name:    "file directive beats env alias",
			path:    path,
			env:     []string{"KONG_REAL_IP_RECURSIVE=on"},
			header:  "X-Real-IP",
			trusted: []string{"10.0.0.0/8"},
			sources: map[string]string{"real_ip_header": "file:1", "trusted_ips": "file:2", "nginx_proxy_real_ip_recursive": "file:3", "real_ip_recursive": "env:KONG_REAL_IP_RECURSIVE"},
		},
		{
			name:      "no file, lower-case variable ignored",
			env:       []string{"KONG_REAL_IP_RECURSIVE=on", "KONG_trusted_ips=10.0.0.1", "KONG_=x", "KONG_TRUSTED_IPS=NONE"},
			header:    "X-Real-IP",
			recursive: true,
			sources:   map[string]string{"real_ip_recursive": "env:KONG_REAL_IP_RECURSIVE", "trusted_ips": "env:KONG_TRUSTED_IPS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.RealIPHeader != tt.header || c.RealIPRecursive != tt.recursive || !reflect.DeepEqual(c.TrustedIPs, tt.trusted) {
				t.Errorf("header %q recursive %v trusted %q; want %q %v %q", c.RealIPHeader, c.RealIPRecursive, c.TrustedIPs, tt.header, tt.recursive, tt.trusted)
			}
			if !reflect.DeepEqual(c.Sources, tt.sources) {
				t.Errorf("Sources = %q, want %q", c.Sources, tt.sources)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.conf"), nil); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("Load(missing) error = %v", err)
	}
}

func TestPluginServers(t *testing.T) {
	installed := func(p string) bool { return p == "/usr/local/bin/client-ip-guard" }
	tests := []struct {
		name string
		raw  map[string]string
		want []PluginServer
		err  string
	}{
		{
			name: "defaults from the installed binary and the prefix",
			raw:  map[string]string{"pluginserver_names": "Client-IP-Guard", "prefix": "/kong_prefix/"},
			want: []PluginServer{{Name: "client-ip-guard", Socket: "/kong_prefix/client-ip-guard.socket",
				StartCmd: "/usr/local/bin/client-ip-guard", QueryCmd: "/usr/local/bin/client-ip-guard -dump"}},
		},
		{
			name: "explicit keys, '-' becomes '_' in key names",
			raw: map[string]string{"pluginserver_names": "go-hello, client-ip-guard",
				"pluginserver_go_hello_socket":           "/run/go-hello.sock",
				"pluginserver_go_hello_query_cmd":        "/opt/go-hello -dump",
				"pluginserver_client_ip_guard_start_cmd": "/opt/cig -kong-prefix /usr/local/kong"},
			want: []PluginServer{
				{Name: "go-hello", Socket: "/run/go-hello.sock", QueryCmd: "/opt/go-hello -dump"},
				{Name: "client-ip-guard", Socket: "/usr/local/kong/client-ip-guard.socket", StartCmd: "/opt/cig -kong-prefix /usr/local/kong", QueryCmd: "/usr/local/bin/client-ip-guard -dump"},
			},
		},
		{name: "none", raw: map[string]string{"pluginserver_names": "NONE"}},
		{name: "missing query command", raw: map[string]string{"pluginserver_names": "go-hello"},
			err: "pluginserver_go_hello_query_cmd is unset and /usr/local/bin/go-hello does not exist: query_command undefined for pluginserver go-hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := map[string]string{}
			c, err := resolve(tt.raw, src, "", installed)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.PluginServers, tt.want) {
				t.Fatalf("PluginServers = %+v\nwant %+v", c.PluginServers, tt.want)
			}
		})
	}
}

func TestHeaderNameRules(t *testing.T) {
	for _, tc := range []struct {
		name, text                 string
		underscores, ignoreInvalid bool
		err                        string
	}{
		{name: "Kong's defaults", text: "", underscores: true, ignoreInvalid: true},
		{name: "proxy underscores off", text: "nginx_proxy_underscores_in_headers = off\n", ignoreInvalid: true},
		{name: "NONE is unset", text: "nginx_proxy_underscores_in_headers = NONE\nnginx_http_underscores_in_headers = NONE\n", underscores: true, ignoreInvalid: true},
		{name: "ignore_invalid_headers, proxy wins", text: "nginx_http_ignore_invalid_headers = on\nnginx_proxy_ignore_invalid_headers = off\n", underscores: true},
		{name: "ignore_invalid_headers, http", text: "nginx_http_ignore_invalid_headers = off\n", underscores: true},
		{name: "http underscores is a duplicate", text: "\nnginx_http_underscores_in_headers = off\n",
			err: `nginx_http_underscores_in_headers: "underscores_in_headers" directive is duplicate: Kong's template sets it in the http block (kong/templates/nginx_kong.lua:30); use nginx_proxy_underscores_in_headers (kong.conf:2)`},
		{name: "not a flag", text: "nginx_proxy_underscores_in_headers = yes\n", err: `nginx_proxy_underscores_in_headers: invalid value "yes", it must be "on" or "off" (kong.conf:1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.text), "")
			if err != nil {
				t.Fatal(err)
			}
			u, i, err := c.HeaderNameRules()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || u != tc.underscores || i != tc.ignoreInvalid {
				t.Errorf("got %v %v %v, want %v %v", u, i, err, tc.underscores, tc.ignoreInvalid)
			}
		})
	}
}
