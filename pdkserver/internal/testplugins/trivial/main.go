// Command trivial is a go-pdk plugin whose Access handler makes three
// trivial PDK calls (client IP, forwarded IP, one request header): the
// same number of round trips as client-ip-guard's fast path, with no
// work of its own.
package main

import (
	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the (empty) plugin configuration.
type Config struct{}

// New returns a plugin instance's configuration.
func New() any { return &Config{} }

// Access asks for three values and ignores them.
func (*Config) Access(kong *pdk.PDK) {
	_, _ = kong.Client.GetIp()
	_, _ = kong.Client.GetForwardedIp()
	_, _ = kong.Request.GetHeader("x-test")
}

func main() { _ = server.StartServer(New, "0.1.0", 1000) }
