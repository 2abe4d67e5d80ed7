// Command kongconf generates, lints and checks Kong client-IP configuration
// for the client-ip-guard plugin. See kongconf/README.md.
package main

import "github.com/client-ip-guard/client-ip-guard/kongconf/cli"

func main() { cli.Main() }
