package nginxconf

import (
	"strings"
	"testing"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
)

func mustParse(t *testing.T, text string) *nodeconf.Conf {
	t.Helper()
	c, err := nodeconf.Parse(strings.NewReader(text), "kong.conf")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRender(t *testing.T) {
	tests := []struct {
		name string
		conf string
		opts RenderOptions
		want string
	}{
		{
			name: "defaults",
			conf: "",
			want: `    listen 0.0.0.0:8000 reuseport backlog=16384;
    listen 0.0.0.0:8443 ssl reuseport backlog=16384;
    http2 on;
    # injected nginx_proxy_* directives
    real_ip_header X-Real-IP;
    real_ip_recursive off;
`,
		},
		{
			name: "defaults, Kong 3.0-3.5 http2",
			conf: "",
			opts: RenderOptions{LegacyHTTP2: true},
			want: `    listen 0.0.0.0:8000 reuseport backlog=16384;
    listen 0.0.0.0:8443 ssl http2 reuseport backlog=16384;
    # injected nginx_proxy_* directives
    real_ip_header X-Real-IP;
    real_ip_recursive off;
`,
		},
		{
			name: "proxy protocol behind an LB",
			conf: `proxy_listen = 0.0.0.0:8000 proxy_protocol reuseport, [::]:8443 reuseport ssl proxy_protocol
real_ip_header = proxy_protocol
trusted_ips = 10.0.0.0/8, 2001:db8::/32 ,unix:
`,
			want: `    listen 0.0.0.0:8000 proxy_protocol reuseport;
    listen [0000:0000:0000:0000:0000:0000:0000:0000]:8443 ssl proxy_protocol reuseport;
    # injected nginx_proxy_* directives
    real_ip_header proxy_protocol;
    real_ip_recursive off;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 2001:db8::/32;
    set_real_ip_from unix:;
`,
		},
		{
			name: "XFF recursive, extra nginx_proxy directives, listen off",
			conf: `proxy_listen = off
real_ip_header = X-Forwarded-For
real_ip_recursive = on
nginx_proxy_proxy_buffering = off
nginx_proxy_client_max_body_size = 1m
nginx_proxy_large_client_header_buffers = NONE
trusted_ips = 192.0.2.1
`,
			want: `    # injected nginx_proxy_* directives
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    client_max_body_size 1m;
    proxy_buffering off;
    set_real_ip_from 192.0.2.1;
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenderWith(mustParse(t, tt.conf), tt.opts)
			if got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			if tt.opts == (RenderOptions{}) && Render(mustParse(t, tt.conf)) != got {
				t.Fatal("Render differs from RenderWith with zero options")
			}
		})
	}
}

func TestServerBlock(t *testing.T) {
	c := mustParse(t, "proxy_listen = 127.0.0.1:18000 proxy_protocol\nreal_ip_header = X-Forwarded-For\ntrusted_ips = 127.0.0.1\n")
	got := ServerBlock(c, Options{Dir: "/tmp/ng/"})
	want := `daemon off;
master_process on;
worker_processes 1;
pid /tmp/ng/nginx.pid;
error_log /tmp/ng/error.log info;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type text/plain;
    client_body_temp_path /tmp/ng/client_body;
    proxy_temp_path /tmp/ng/proxy;
    fastcgi_temp_path /tmp/ng/fastcgi;
    uwsgi_temp_path /tmp/ng/uwsgi;
    scgi_temp_path /tmp/ng/scgi;
    # Kong sets this too; it keeps header names with '_' visible to realip.
    underscores_in_headers on;
    large_client_header_buffers 4 64k;

    server {
        server_name kong0;
        listen 127.0.0.1:18000 proxy_protocol;
        # injected nginx_proxy_* directives
        real_ip_header X-Forwarded-For;
        real_ip_recursive off;
        set_real_ip_from 127.0.0.1;
        location / {
            return 200 "$remote_addr $remote_port $realip_remote_addr $realip_remote_port $proxy_protocol_addr $proxy_protocol_port\n";
        }
    }
}
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	tls := mustParse(t, "proxy_listen = 127.0.0.1:18443 ssl\n")
	multi := Config(Options{Dir: "/d", ErrorLogLevel: "debug", SSLCertificate: "/d/c.pem", SSLCertificateKey: "/d/k.pem"}, c, tls)
	for _, s := range []string{"error_log /d/error.log debug;", "server_name kong1;", "listen 127.0.0.1:18443 ssl;",
		"ssl_certificate /d/c.pem;\n        ssl_certificate_key /d/k.pem;"} {
		if !strings.Contains(multi, s) {
			t.Errorf("Config output lacks %q:\n%s", s, multi)
		}
	}
	if strings.Count(multi, "ssl_certificate ") != 1 || strings.Count(multi, "server {") != 2 {
		t.Errorf("want one ssl_certificate and two servers:\n%s", multi)
	}
}

// TestServerBlockNginxT checks that nginx itself accepts generated configs
// ("nginx -t"). It needs an nginx binary: skipped without one (and under
// -short), except under CI=true.
func TestServerBlockNginxT(t *testing.T) {
	bin := testsupport.NginxBin(t)
	ver, err := testsupport.NginxVersion(bin)
	if err != nil {
		t.Fatal(err)
	}
	// "http2 on" exists from nginx 1.25.1; older nginx needs the flag in listen.
	legacy := !testsupport.NginxVersionAtLeast(ver, 1, 25, 1)
	confs := []string{
		"proxy_listen = 127.0.0.1:1 proxy_protocol deferred reuseport backlog=10, [::1]:1 bind ipv6only=on\nreal_ip_header = proxy_protocol\ntrusted_ips = 10.0.0.0/8, 172.16.5.4/12, ::1, unix:\n",
		"proxy_listen = 127.0.0.1:2 http2, 127.0.0.1:3 so_keepalive=30m::10\nreal_ip_header = X-Forwarded-For\nreal_ip_recursive = on\ntrusted_ips = 0.0.0.0/0,::/0\n",
		"proxy_listen = [::ffff:7f00:1]:4 ipv6only=off\nreal_ip_header = CF-Connecting-IP\n",
	}
	for i, text := range confs {
		dir := t.TempDir()
		out := ServerBlock(mustParse(t, text), Options{Dir: dir, LegacyHTTP2: legacy})
		if err := testsupport.CheckNginxConf(bin, dir, out); err != nil {
			t.Errorf("config %d rejected by %s: %v\n%s", i, ver, err, out)
		}
	}
}
