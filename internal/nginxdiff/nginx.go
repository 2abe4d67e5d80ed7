// Package nginxdiff runs a real nginx with configurations rendered from
// kong.conf variants and compares its client-address variables with what
// plugin/realip computes for the same connection and bytes. It also records
// which PROXY protocol headers nginx accepts.
//
// nginx runs as a foreground child process (one master, one worker) with
// every file under a test directory, listening on loopback only. Clients
// bind 127.0.0.0/8 source addresses (Linux routes the whole block to lo) or
// ::1 to vary the peer; listeners on ::ffff:127.0.0.1 with ipv6only=off
// make nginx see IPv4-mapped peers.
//
// The tests read these environment variables:
//
//	NGINX_BIN         nginx binary (default: nginx on PATH, then /usr/sbin/nginx)
//	NGINXDIFF_SEED    seed of the random cases (default: time; always logged)
//	NGINXDIFF_CASES   number of random cases (default 10000)
//	CI=true           a missing nginx fails the tests instead of skipping them
//
// The expectations model nginx 1.22.1 (Debian 12) through 1.27.2. nginx
// 1.27.3 started accepting a bare "[v6]" header token, which Kong's nginx
// (1.27.1 in Kong 3.10) and plugin/realip reject; newer nginx would report
// that difference.
package nginxdiff

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
)

// Nginx is a running nginx child process.
type Nginx = testsupport.Nginx

// Start writes an nginx.conf for confs into dir and starts nginx on it in
// the foreground. It returns once every listener of every configuration
// accepts connections.
func Start(bin, dir string, confs []*nodeconf.Conf, opts nginxconf.Options) (*Nginx, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, c := range confs {
		for _, l := range c.ProxyListen {
			ap, err := listenerAddr(l)
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, ap.String())
		}
	}
	opts.Dir = dir
	return testsupport.StartNginx(bin, dir, nginxconf.Config(opts, confs...), addrs)
}

// listenerAddr turns a rendered listener back into a dialable address.
func listenerAddr(l nodeconf.Listener) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(strings.Trim(l.Host, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listener %q: host %q is not an IP address", l.Raw, l.Host)
	}
	return netip.AddrPortFrom(a, uint16(l.Port)), nil
}

// FreePorts returns n TCP ports that were free on both 127.0.0.1 and ::1
// a moment ago. They are released before returning, so a concurrent
// process may take one; Start then fails and the caller can retry.
func FreePorts(n int) ([]int, error) {
	var (
		ports []int
		held  []net.Listener
	)
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	ctx := context.Background()
	var lc net.ListenConfig
	for len(ports) < n {
		l4, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, l4)
		p := l4.Addr().(*net.TCPAddr).Port
		l6, err := lc.Listen(ctx, "tcp6", fmt.Sprintf("[::1]:%d", p))
		if errors.Is(err, syscall.EADDRINUSE) {
			continue // taken on ::1; keep the v4 one held and try another
		}
		if err != nil {
			return nil, fmt.Errorf("IPv6 loopback ::1 unusable (is IPv6 disabled on lo?): %w", err)
		}
		held = append(held, l6)
		ports = append(ports, p)
	}
	return ports, nil
}
