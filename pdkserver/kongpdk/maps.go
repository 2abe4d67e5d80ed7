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
			// $remote_addr as the front door computed it after realip; a
			// variable nginx has no value for (no PROXY header, no such
			// header line) renders empty. The header lines are converted
			// once for every $http_ the value reads.
			v := &r.Vars
			vars := nginxvar.Vars{Version: NginxVersion, RealIPRemoteAddr: v.RealIPRemoteAddr, RemoteAddr: v.RemoteAddr,
				ProxyProtocolAddr: v.ProxyProtocolAddr, ProxyProtocolPort: v.ProxyProtocolPort, Headers: NginxHeaders(r.Headers)}
			x, err := r.Maps[i].Value(vars.Lookup)
			// Every variable was checked when the include was loaded.
			return x, err == nil
		}
	}
	return "", false
}

// MapVariable reports whether a map loaded with nginx_http_include may read
// $name in pdkserver.
func MapVariable(name string) bool {
	var vars nginxvar.Vars
	_, ok := vars.Lookup(name)
	return ok
}
