// Package loopback dials from a chosen loopback source address (127.0.0.2
// plays the load balancer in the demo and the tests) without exhausting
// its ports.
//
// A dialer with LocalAddr binds before it connects, so the kernel picks a
// port that is free for any destination, and a port in TIME_WAIT cannot be
// reused: a test that opens tens of thousands of short connections from
// one source address runs out of its 28k ephemeral ports ("bind: address
// already in use"). IP_BIND_ADDRESS_NO_PORT (Linux 4.2+, ip(7)) defers the
// port choice to connect, where the full 4-tuple is known and ports are
// shared across destinations.
package loopback

import (
	"net"
	"time"
)

// Dialer returns a dialer that connects from ip (nil: the kernel's choice)
// with the given timeout.
func Dialer(ip net.IP, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
		d.Control = bindNoPort
	}
	return d
}
