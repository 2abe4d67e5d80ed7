package peers

import (
	"fmt"
	"net/http"
	"reflect"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// caddyDetermineTrustedProxy is caddyhttp's own per-request client-IP
// step, which PrepareRequest runs for every request: it checks the peer
// against trusted_proxies and then reads client_ip_headers. Calling it
// directly times the client-IP logic without PrepareRequest's unrelated
// context and replacer set-up.
//
//go:linkname caddyDetermineTrustedProxy github.com/caddyserver/caddy/v2/modules/caddyhttp.determineTrustedProxy
func caddyDetermineTrustedProxy(r *http.Request, s *caddyhttp.Server) (bool, string)

func newCaddy(cidrs []string) (Impl, error) {
	src := &caddyhttp.StaticIPRange{Ranges: cidrs}
	if err := src.Provision(caddy.Context{}); err != nil {
		return Impl{}, fmt.Errorf("caddy: %w", err)
	}
	srv := &caddyhttp.Server{
		ClientIPHeaders:      []string{"X-Forwarded-For"},
		TrustedProxiesStrict: 1, // right to left: the rightmost untrusted address
	}
	// caddyhttp.App.Provision loads trusted_proxies into this unexported
	// field; provisioning a whole App needs the TLS and events apps, so
	// the field is set directly to the provisioned range source.
	f := reflect.ValueOf(srv).Elem().FieldByName("trustedProxies")
	if !f.IsValid() {
		return Impl{}, fmt.Errorf("caddy: caddyhttp.Server has no trustedProxies field in this version")
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(caddyhttp.IPRangeSource(src)))
	return Impl{Name: "caddy", Prepare: func(in Input) Prepared {
		req := httpRequest(in)
		return stringPrepared(func() string {
			_, ip := caddyDetermineTrustedProxy(req, srv)
			return ip
		})
	}}, nil
}
