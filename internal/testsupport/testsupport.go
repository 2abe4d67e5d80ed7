// Package testsupport holds what the tests of several packages share:
// finding and running Debian's nginx (the reference for realip and PROXY
// parsing), building the module's binaries from the working tree, and the
// rule for what `go test -short` leaves out (soak, load and nginx
// differential tests; `make test` and CI run everything).
package testsupport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SkipShort skips t under `go test -short`; what says what is left out
// ("soak", "load", "nginx differential", ...).
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skipping a %s test", what)
	}
}

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

// NginxBin returns the nginx binary for an nginx differential test. It
// skips t under -short, and when there is no nginx, except under CI=true,
// where a missing nginx fails t.
func NginxBin(t testing.TB) string {
	t.Helper()
	SkipShort(t, "nginx differential")
	bin, err := FindNginx()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("skipping the nginx differential test: %v", err)
	}
	return bin
}

// NginxVersion returns nginx's version line ("nginx version: nginx/1.22.1").
func NginxVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -v: %v: %s", bin, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// NginxVersionAtLeast reports whether a version line from NginxVersion names nginx
// major.minor.patch or later.
func NginxVersionAtLeast(line string, major, minor, patch int) bool {
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

// StartNginx writes conf to dir/nginx.conf (dir also gets the usual temp
// path subdirectories) and runs bin on it in the foreground, in its own
// process group. It returns once every address in addrs accepts TCP
// connections, or an error with nginx's output and error log.
func StartNginx(bin, dir, conf string, addrs []string) (*Nginx, error) {
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
	n := &Nginx{Dir: dir, done: make(chan struct{})}
	// -e: nginx opens its compiled-in error log before reading the config
	// unless told otherwise, which fails for a non-root user.
	n.cmd = exec.Command(bin, "-p", dir+"/", "-e", n.errorLogPath(), "-c", confPath)
	n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.out
	// Own process group, so a stop reaches the worker too.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for {
			select {
			case <-n.done:
				return nil, fmt.Errorf("nginx exited: %v\n%s%s", n.err, n.out.String(), n.ErrorLog())
			default:
			}
			conn, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				n.Stop()
				return nil, fmt.Errorf("nginx not listening on %s after 10s: %v\n%s", a, err, n.ErrorLog())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return n, nil
}

// CheckNginxConf runs `bin -t` on conf in dir and returns its output on
// failure.
func CheckNginxConf(bin, dir, conf string) error {
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	out, err := exec.Command(bin, "-t", "-q", "-p", dir+"/", "-e", filepath.Join(dir, "error.log"), "-c", confPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nginx -t: %v\n%s", err, out)
	}
	return nil
}

func (n *Nginx) errorLogPath() string { return filepath.Join(n.Dir, "error.log") }

// ErrorLog returns the error log's contents so far.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(n.errorLogPath())
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

// ModuleRoot returns the directory of the main module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// Build builds the main packages pkgs (import paths, or paths relative to
// the module root such as ./plugin/cmd/client-ip-guard) from the working
// tree into dir, each binary named after its package's last path element,
// with CGO_ENABLED=0. Tests build their binaries this way so they never run
// a stale bin/.
func Build(dir string, pkgs ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}
