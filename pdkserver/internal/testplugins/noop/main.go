// Command noop is a go-pdk plugin whose Access handler makes no PDK call:
// the floor cost of one event over the plugin socket.
package main

import (
	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the (empty) plugin configuration.
type Config struct{}

// New returns a plugin instance's configuration.
func New() any { return &Config{} }

// Access does nothing.
func (*Config) Access(*pdk.PDK) {}

func main() { _ = server.StartServer(New, "0.1.0", 1000) }
