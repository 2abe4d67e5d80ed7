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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/client-ip-guard/client-ip-guard/kongconf/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/nodeconf"
)

// FindNginx returns the nginx binary to use: $NGINX_BIN if set, else nginx
// on $PATH, else /usr/sbin/nginx (Debian's location, often not on a
// non-root PATH).
func FindNginx() (string, error) {
	if p := os.Getenv("NGINX_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("NGINX_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("nginx not found (set NGINX_BIN, or install it: apt-get install nginx-light)")
}

// Version returns nginx's version line ("nginx version: nginx/1.22.1").
func Version(bin string) (string, error) {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -v: %v: %s", bin, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// VersionAtLeast reports whether a version line from Version names nginx
// major.minor.patch or later.
func VersionAtLeast(line string, major, minor, patch int) bool {
	_, v, ok := strings.Cut(line, "nginx/")
	if !ok {
		return false
	}
	v, _, _ = strings.Cut(v, " ")
	var a, b, c int
	if n, _ := fmt.Sscanf(v, "%d.%d.%d", &a, &b, &c); n < 2 {
		return false
	}
	switch {
	case a != major:
		return a > major
	case b != minor:
		return b > minor
	}
	return c >= patch
}

// Nginx is a running nginx child process.
type Nginx struct {
	// Dir holds nginx.conf, the pid file, the error log and temp paths.
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  bytes.Buffer
}

// Start writes an nginx.conf for confs into dir and starts nginx on it in
// the foreground. It returns once every listener of every configuration
// accepts connections.
func Start(bin, dir string, confs []*nodeconf.Conf, opts nginxconf.Options) (*Nginx, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	var addrs []netip.AddrPort
	for _, c := range confs {
		for _, l := range c.ProxyListen {
			ap, err := listenerAddr(l)
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, ap)
		}
	}
	return StartConf(bin, dir, nginxconf.Config(opts, confs...), addrs)
}

// StartConf writes conf as dir/nginx.conf and starts nginx on it in the
// foreground, with dir as its prefix (temp paths under it must be named in
// conf or left to nginx's defaults relative to the prefix). It returns once
// every address in addrs accepts connections.
func StartConf(bin, dir, conf string, addrs []netip.AddrPort) (*Nginx, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	errLog := filepath.Join(dir, "error.log")
	n := &Nginx{Dir: dir, done: make(chan struct{})}
	// -e: nginx opens its compiled-in error log before reading the config
	// unless told otherwise, which fails for a non-root user.
	n.cmd = exec.Command(bin, "-p", dir+"/", "-e", errLog, "-c", confPath)
	n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.out
	// Own process group, so a stop reaches the worker too.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for _, ap := range addrs {
		for {
			select {
			case <-n.done:
				log, _ := os.ReadFile(errLog)
				return nil, fmt.Errorf("nginx exited: %v\n%s%s", n.err, n.out.String(), log)
			default:
			}
			conn, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				n.Stop()
				log, _ := os.ReadFile(errLog)
				return nil, fmt.Errorf("nginx not listening on %s after 10s: %v\n%s", ap, err, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return n, nil
}

// listenerAddr turns a rendered listener back into a dialable address.
func listenerAddr(l nodeconf.Listener) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(strings.Trim(l.Host, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listener %q: host %q is not an IP address", l.Raw, l.Host)
	}
	return netip.AddrPortFrom(a, uint16(l.Port)), nil
}

// ErrorLog returns the error log's contents so far.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	return string(b)
}

// Stop ends nginx: a graceful quit to the process group it started,
// then a kill if it is still running after five seconds.
func (n *Nginx) Stop() {
	if n == nil || n.cmd == nil || n.cmd.Process == nil {
		return
	}
	pgid := n.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-n.done
	}
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
