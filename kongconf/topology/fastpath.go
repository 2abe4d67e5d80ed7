package topology

import (
	"github.com/client-ip-guard/client-ip-guard/internal/fastinclude"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

// The nginx cores of Kong's releases, from the OpenResty each tag pins in
// .requirements (RESTY_VERSION / OPENRESTY; OpenResty's first three
// numbers are its nginx core's): 3.0.0-3.4.0 OpenResty 1.21.4.1, 3.5.0
// 1.21.4.2, 3.6.0-3.7.x 1.25.3.1 (changelog/3.6.0/3.6.0.md:110 "Bumped
// OpenResty from 1.21.4.2 to 1.25.3.1"), 3.8.0-3.9.3 1.25.3.2.
var (
	nginxKong36 = nginxvar.V1_25
	nginxKong35 = nginxvar.Version{Major: 1, Minor: 21}
)

// fastPathCheck refuses a fast path that cannot serve a plugin config of
// the topology with the include written for Kong's real_ip_header, and
// warns where it serves only newer Kong releases. The answer is
// fastpath.Fill's, on the variable the generated include gives.
type fastPathCheck struct {
	r    *Resolved
	errs *problems
	// warned: the Kong-version warning is given once per topology.
	warned bool
}

func (c *fastPathCheck) check(where string, pol *guardconf.Policy) {
	if !c.r.FastPath || pol == nil {
		return
	}
	kind, source := pol.Resolver.Kind(), pol.Resolver.HeaderName()
	if st, why := fastinclude.Probe(c.r.RealIPHeader, kind, source, nginxKong36); st == fastpath.Unavailable {
		c.errs.add("%s: fastPath: the fast path cannot serve this instance (real_ip_header %s) with the include written for Kong's real_ip_header %s: %s; drop fastPath (--fast-path)", where, source, c.r.RealIPHeader, why)
		return
	}
	if st, _ := fastinclude.Probe(c.r.RealIPHeader, kind, source, nginxKong35); st == fastpath.Unavailable && !c.warned {
		c.warned = true
		c.r.Warnings = append(c.r.Warnings, "the fast path needs Kong 3.6 or later (OpenResty 1.25.3, nginx 1.25.3): before nginx 1.23 an $http_ variable holds only the first line of X-Real-IP, Forwarded and other headers, where an empty first line hides the rest, so on Kong 3.0-3.5 (OpenResty 1.21.4) the plugin reads every request with three PDK calls and says so once per instance in Kong's log")
	}
}
