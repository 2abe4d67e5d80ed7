package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
)

// maxConfigBytes bounds a POST /config body.
const maxConfigBytes = 8 << 20

// AdminHandler serves the part of Kong's Admin API a DB-less user needs to
// change the configuration while traffic flows: POST /config (a kong.yml
// as the body, or as the "config" field of a form, as Kong accepts it) and
// GET /status.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/config", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			adminJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
			return
		}
		text, err := configBody(r)
		if err != nil {
			adminJSON(w, http.StatusBadRequest, map[string]any{"message": err.Error()})
			return
		}
		f, err := kongyml.Parse(text)
		if err == nil {
			err = g.SetConfig(f)
		}
		if err != nil {
			g.logf("[warn] POST /config refused: %v", err)
			adminJSON(w, http.StatusBadRequest, map[string]any{
				"name":    "invalid declarative configuration",
				"message": "declarative config is invalid: " + err.Error(),
			})
			return
		}
		g.logf("[notice] POST /config: new declarative configuration loaded")
		adminJSON(w, http.StatusCreated, map[string]any{"services": len(f.Services), "routes": len(f.Routes), "plugins": len(f.Plugins)})
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, http.StatusOK, map[string]any{"configuration_hash": fmt.Sprintf("%032x", g.conf.Load().seq), "server": map[string]any{"connections_active": 0}})
	})
	return mux
}

// configBody extracts the declarative text from a POST /config request.
func configBody(r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxConfigBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data", "application/x-www-form-urlencoded":
		if err := r.ParseMultipartForm(maxConfigBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return nil, fmt.Errorf("reading the form: %v", err)
		}
		if v := r.FormValue("config"); v != "" {
			return []byte(v), nil
		}
		if r.MultipartForm != nil {
			if fh := r.MultipartForm.File["config"]; len(fh) > 0 {
				f, err := fh[0].Open()
				if err != nil {
					return nil, err
				}
				defer f.Close()
				return io.ReadAll(f)
			}
		}
		return nil, errors.New("the form has no config field")
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %v", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, errors.New("expected a declarative configuration in the body")
	}
	return b, nil
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeAdmin serves AdminHandler on a plain-HTTP address (admin_listen)
// until Close, and returns the bound address.
func (g *Gateway) ServeAdmin(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin_listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, ErrorLog: g.stdLogger()}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		ln.Close()
		return nil, errors.New("gateway is closed")
	}
	g.servers = append(g.servers, srv)
	g.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logf("[crit] admin listener %s stopped: %v", addr, err)
		}
	}()
	return ln.Addr(), nil
}
