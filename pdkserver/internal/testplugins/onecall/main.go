// Command onecall is a go-pdk plugin whose Access handler makes exactly one
// trivial PDK call (kong.client.get_ip): with noop (none) and trivial
// (three), it gives the throughput cost of each round trip.
package main

import (
	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the (empty) plugin configuration.
type Config struct{}

// New returns a plugin instance's configuration.
func New() any { return &Config{} }

// Access reads the client address and ignores it.
func (*Config) Access(kong *pdk.PDK) { _, _ = kong.Client.GetIp() }

func main() { _ = server.StartServer(New, "0.1.0", 1000) }
