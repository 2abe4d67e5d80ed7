package loopback

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDialFromSource: with the option set, connections to two
// destinations come from the chosen address, and a nil address dials as
// usual.
func TestDialFromSource(t *testing.T) {
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		addrs = append(addrs, l.Addr().String())
	}
	d := Dialer(net.ParseIP("127.0.0.2"), time.Second)
	for _, a := range addrs {
		c, err := d.Dial("tcp", a)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.2", c.LocalAddr().(*net.TCPAddr).IP.String())
		c.Close()
	}
	c, err := Dialer(nil, time.Second).Dial("tcp", addrs[0])
	require.NoError(t, err)
	c.Close()
}
