// Command panicky is a go-pdk plugin that panics when the request has
// "x-panic: 1". go-pdk does not recover handler panics, so the whole
// plugin server dies and Kong has to respawn it.
package main

import (
	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the (empty) plugin configuration.
type Config struct{}

// New returns a plugin instance's configuration.
func New() any { return &Config{} }

// Access panics on demand.
func (*Config) Access(kong *pdk.PDK) {
	if v, _ := kong.Request.GetHeader("x-panic"); v == "1" {
		panic("panicky: asked to panic")
	}
}

func main() { _ = server.StartServer(New, "0.1.0", 1000) }
