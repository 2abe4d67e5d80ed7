package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

// Default is the plugin server's Set. It counts only once Enable is
// called (-metrics-listen), so that a plugin server without metrics pays
// nothing.
var Default = NewSet()

var enabled atomic.Bool

// Enable turns counting into Default on.
func Enable() { enabled.Store(true) }

// SetEnabled turns counting into Default on or off (benchmarks compare).
func SetEnabled(on bool) { enabled.Store(on) }

// Enabled reports whether Default counts.
func Enabled() bool { return enabled.Load() }

// For returns Default's counters for a route and service, or nil (which
// counts nothing) when metrics are off.
func For(routeID, serviceID string) *Instance {
	if !enabled.Load() {
		return nil
	}
	return Default.Instance(routeID, serviceID)
}

// ConfigError counts a configuration error into Default, by the
// guardconf.Error's field.
func ConfigError(err error) {
	if !enabled.Load() {
		return
	}
	field := ""
	var ce *guardconf.Error
	if errors.As(err, &ce) {
		field = ce.Field
	}
	Default.ConfigError(field)
}

// FastPath counts a fast-path request's result into Default.
func FastPath(r FastPathResult) {
	if enabled.Load() {
		Default.FastPath(r)
	}
}

// PDKError counts a failed PDK call into Default.
func PDKError(method string) {
	if enabled.Load() {
		Default.PDKError(method)
	}
}

// Listen opens addr (host:port) for Serve; the error says what is wrong
// with it.
func Listen(addr string) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("-metrics-listen %q: want host:port (e.g. 127.0.0.1:9542 or :9542): %v", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-listen %q: %w", addr, err)
	}
	return l, nil
}

// Handler serves s's registry in the Prometheus exposition formats.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// Serve answers GET /metrics from s on l until l is closed.
func (s *Set) Serve(l net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(l)
}
