// Package demo holds pdkserver's scripted scenarios and what runs them: the
// echo upstream, a client that can speak PROXY protocol from a chosen
// loopback address, node start-up from kong.conf and kong.yml, and the
// table `make run` prints. The end-to-end tests run the same scenarios.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"
)

// Seen is what the echo upstream received, as it answers it.
type Seen struct {
	Peer    string      `json:"peer"`
	Method  string      `json:"method"`
	Host    string      `json:"host"`
	URI     string      `json:"uri"`
	Headers http.Header `json:"headers"`
}

// Echo is the built-in upstream: it answers every request with a JSON Seen.
type Echo struct {
	srv *http.Server
	ln  net.Listener
}

// StartEcho listens on addr ("127.0.0.1:0" for any port).
func StartEcho(addr string) (*Echo, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &Echo{ln: ln, srv: &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(Seen{Peer: r.RemoteAddr, Method: r.Method, Host: r.Host, URI: r.URL.RequestURI(), Headers: r.Header})
		}),
	}}
	go func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener is gone; requests will fail with 502
		}
	}()
	return e, nil
}

// Addr is the echo's host:port.
func (e *Echo) Addr() string { return e.ln.Addr().String() }

// Close stops the echo.
func (e *Echo) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return e.srv.Shutdown(ctx)
}
