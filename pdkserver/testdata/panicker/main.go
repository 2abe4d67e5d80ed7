// Command panicker is a test plugin for pdkserver's end-to-end tests: its
// access handler panics when the request carries "X-Panic: 1" and does
// nothing otherwise. go-pdk does not recover handler panics, so the panic
// takes the plugin server process down, as it would under Kong; the tests
// check that the gateway answers as Kong does and recovers after the
// respawn. The binary must be named panicker.
package main

import (
	"log"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the (empty) plugin configuration.
type Config struct{}

// New returns a new configuration.
func New() any { return &Config{} }

// Access panics on request.
func (c *Config) Access(kong *pdk.PDK) {
	v, err := kong.Request.GetHeader("X-Panic")
	if err == nil && v == "1" {
		panic("panicker: asked to panic")
	}
}

func main() {
	if err := server.StartServer(New, "0.0.1", 500); err != nil {
		log.Fatal(err)
	}
}
