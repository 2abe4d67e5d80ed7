package loopback

import (
	"syscall"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h; the
// syscall package does not name it.
const ipBindAddressNoPort = 24

func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
