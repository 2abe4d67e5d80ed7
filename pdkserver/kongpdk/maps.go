package kongpdk

import (
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
)

// NginxVersion is $nginx_version in Kong 3.9.3, whose OpenResty 1.25.3.2
// is nginx 1.25.3 (the 3.9.3 release's .requirements: OPENRESTY=1.25.3.2).
var NginxVersion = nginxvar.V1_25

// mapValue is ngx.var[name] for a variable an nginx_http_include map
// defines: the map evaluated now, over the request's variables as they are
// (the maps pdkserver serves are volatile). ok=false when no map defines
// name.
func (r *Request) mapValue(name string) (string, bool) {
	for i := range r.Maps {
		if strings.EqualFold(r.Maps[i].Name, name) {
			v, err := r.Maps[i].Value(r.mapVar)
			// Every variable was checked when the include was loaded.
			return v, err == nil
		}
	}
	return "", false
}

// mapVar is a variable as a map's complex value reads it: a variable nginx
// has no value for (no PROXY header, no such header line) renders empty.
// These are the variables pdkserver models for the fast path's include
// (plugin/fastpath.Include); ok=false for any other.
func (r *Request) mapVar(name string) (string, bool) {
	v := &r.Vars
	vars := nginxvar.Vars{Version: NginxVersion, RealIPRemoteAddr: v.RealIPRemoteAddr, RemoteAddr: v.RemoteAddr,
		ProxyProtocolAddr: v.ProxyProtocolAddr, ProxyProtocolPort: v.ProxyProtocolPort}
	if strings.HasPrefix(name, "http_") {
		vars.Headers = NginxHeaders(r.Headers)
	}
	return vars.Lookup(name)
}

// MapVariable reports whether a map loaded with nginx_http_include may read
// $name in pdkserver.
func MapVariable(name string) bool {
	_, ok := (&Request{}).mapVar(name)
	return ok
}
