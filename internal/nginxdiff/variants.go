package nginxdiff

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// TrustedSets are the trusted_ips values the variants combine: none, a mix
// of 127.x peers, IPv6 and private ranges, trust-everything, narrow
// single addresses (including an IPv4-mapped IPv6 entry, which nginx never
// matches against IPv4 peers), and wide CIDRs with host bits set.
var TrustedSets = []struct{ Name, Value string }{
	{"none", ""},
	{"mixed", "127.0.0.1, 127.0.0.4/30, 10.0.0.0/8, 192.168.1.1, ::1, 2001:db8::/32"},
	{"all", "0.0.0.0/0, ::/0"},
	{"narrow", "127.0.0.2, 127.0.0.3/32, 203.0.113.7, 2001:db8::1, fe80::/10, ::ffff:127.0.0.9"},
	{"wide", "127.1.2.3/8, 172.16.5.4/12, 100.64.0.0/10, 2001:db8:1::/48"},
}

// RealIPHeaders are the real_ip_header values: nginx's three built-in
// kinds, a custom header, and X-Forwarded-For spelled in lower case, which
// nginx treats as a custom header (first line only).
var RealIPHeaders = []string{"X-Real-IP", "X-Forwarded-For", "proxy_protocol", "CF-Connecting-IP", "x-forwarded-for"}

// Variant is one kong.conf and what it turns into: an nginx server with
// NumListeners listeners and a resolver.
type Variant struct {
	// Name identifies the variant in reports.
	Name string
	// KongConf is the kong.conf text.
	KongConf string
	// Conf is KongConf parsed.
	Conf *nodeconf.Conf
	// Resolver is plugin/realip configured from Conf.
	Resolver *realip.Resolver
	// Listeners are the dialable addresses, indexed by Listener*.
	Listeners [NumListeners]netip.AddrPort
}

// Listener slots of a Variant. The mapped ones listen on the IPv6 socket
// address ::ffff:127.0.0.1 with ipv6only=off: clients dial 127.0.0.1 and
// nginx sees them as IPv4-mapped IPv6 peers (::ffff:127.x.y.z).
const (
	ListenV4 = iota
	ListenV4Proxy
	ListenV6
	ListenV6Proxy
	ListenMapped
	ListenMappedProxy
	NumListeners
)

// IsProxy reports whether listener slot i has the proxy_protocol flag.
func IsProxy(i int) bool { return i == ListenV4Proxy || i == ListenV6Proxy || i == ListenMappedProxy }

// IsMapped reports whether listener slot i sees IPv4-mapped peers.
func IsMapped(i int) bool { return i == ListenMapped || i == ListenMappedProxy }

// IsV6 reports whether listener slot i is reached over IPv6 (from ::1).
func IsV6(i int) bool { return i == ListenV6 || i == ListenV6Proxy }

// BuildVariants returns every combination of TrustedSets, RealIPHeaders
// and real_ip_recursive, each with NumListeners listeners on consecutive
// ports from ports: 127.0.0.1, ::1 and ::ffff:127.0.0.1, each with and
// without proxy_protocol.
func BuildVariants(ports []int) ([]*Variant, error) {
	var out []*Variant
	for _, ts := range TrustedSets {
		for _, h := range RealIPHeaders {
			for _, rec := range []string{"off", "on"} {
				i := len(out)
				if NumListeners*(i+1) > len(ports) {
					return nil, fmt.Errorf("need %d ports, have %d", NumListeners*(i+1), len(ports))
				}
				p := ports[NumListeners*i : NumListeners*(i+1)]
				var b strings.Builder
				fmt.Fprintf(&b, "proxy_listen = 127.0.0.1:%d, 127.0.0.1:%d proxy_protocol, [::1]:%d, [::1]:%d proxy_protocol, "+
					"[::ffff:7f00:1]:%d ipv6only=off, [::ffff:7f00:1]:%d proxy_protocol ipv6only=off\n", p[0], p[1], p[2], p[3], p[4], p[5])
				if ts.Value != "" {
					fmt.Fprintf(&b, "trusted_ips = %s\n", ts.Value)
				}
				fmt.Fprintf(&b, "real_ip_header = %s\nreal_ip_recursive = %s\n", h, rec)
				v, err := NewVariant(fmt.Sprintf("%s/%s/recursive-%s", ts.Name, h, rec), b.String())
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// NewVariant parses kong.conf text whose proxy_listen has exactly the
// NumListeners listeners in Listener* order, and builds its resolver.
func NewVariant(name, kongConf string) (*Variant, error) {
	c, err := nodeconf.Parse(strings.NewReader(kongConf), name)
	if err != nil {
		return nil, err
	}
	if len(c.ProxyListen) != NumListeners {
		return nil, fmt.Errorf("variant %s: want %d listeners, got %d", name, NumListeners, len(c.ProxyListen))
	}
	v := &Variant{Name: name, KongConf: kongConf, Conf: c}
	for i, l := range c.ProxyListen {
		if l.ProxyProtocol != IsProxy(i) {
			return nil, fmt.Errorf("variant %s: listener %d (%s): proxy_protocol flag out of place", name, i, l.Raw)
		}
		if v.Listeners[i], err = listenerAddr(l); err != nil {
			return nil, err
		}
		// Dial the IPv4 address behind a mapped listener.
		v.Listeners[i] = netip.AddrPortFrom(v.Listeners[i].Addr().Unmap(), v.Listeners[i].Port())
	}
	trusted, _, err := realip.ParseTrusted(c.TrustedIPs)
	if err != nil {
		return nil, fmt.Errorf("variant %s: %w", name, err)
	}
	v.Resolver = realip.NewResolver(trusted, c.RealIPHeader, c.RealIPRecursive)
	return v, nil
}
