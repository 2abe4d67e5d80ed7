package realip_test

import (
	"fmt"
	"net/netip"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// A load balancer at 10.0.0.2 appends to X-Forwarded-For. With
// real_ip_recursive on, nginx walks left over trusted hops and stops at
// the first untrusted one: the client. What the client forged further
// left is never read.
func ExampleResolver_Resolve() {
	trusted := realip.MustTrusted("10.0.0.0/8")
	r := realip.NewResolver(trusted, "X-Forwarded-For", true)
	req := realip.Request{
		Peer:    netip.MustParseAddrPort("10.0.0.2:41000"),
		Headers: []realip.Header{{Name: "X-Forwarded-For", Value: "6.6.6.6, 203.0.113.7, 10.0.0.9"}},
	}
	res := r.Resolve(&req, nil)
	fmt.Println(realip.FormatAddr(res.Addr), res.PeerAddr)
	// Output: 203.0.113.7 10.0.0.2
}

// The trap of real_ip_recursive off: nginx takes the rightmost entry even
// when it is another proxy, so every request "comes from" that proxy.
func ExampleResolver_Resolve_nonRecursive() {
	r := realip.NewResolver(realip.MustTrusted("10.0.0.0/8"), "X-Forwarded-For", false)
	req := realip.Request{
		Peer:    netip.MustParseAddrPort("10.0.0.2:41000"),
		Headers: []realip.Header{{Name: "X-Forwarded-For", Value: "203.0.113.7, 10.0.0.9"}},
	}
	res := r.Resolve(&req, nil)
	fmt.Println(realip.FormatAddr(res.Addr), res.AddrTrusted)
	// Output: 10.0.0.9 true
}

// nginx's address parser, not Go's: leading zeros are decimal and an
// address may carry a port.
func ExampleParseAddrPort() {
	a, port, ok := realip.ParseAddrPort("198.051.100.007:0443")
	fmt.Println(a, port, ok)
	_, _, ok = realip.ParseAddrPort("fe80::1%eth0")
	fmt.Println(ok)
	// Output:
	// 198.51.100.7 443 true
	// false
}
