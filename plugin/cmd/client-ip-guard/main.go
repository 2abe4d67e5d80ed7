// Command client-ip-guard is the Kong plugin server for the client-ip-guard
// plugin. Kong runs it through its pluginserver settings:
//
//	client-ip-guard -dump                   print name, phases, priority, schema
//	client-ip-guard -kong-prefix /prefix    serve on /prefix/client-ip-guard.socket
//
// The binary must be named client-ip-guard: go-pdk reports the
// executable's file name as the plugin name.
//
// SIGUSR1 writes one line of process figures (goroutines, RSS, heap, open
// file descriptors) to stderr, which Kong copies into its error log:
//
//	procstats {"pid":1234,"goroutines":9,"rss_bytes":12582912,...}
package main

import (
	"log"
	"os"
	"syscall"

	"github.com/Kong/go-pdk/server"

	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/procstats"
)

func main() {
	procstats.Watch(os.Stderr, nil, syscall.SIGUSR1)
	if err := server.StartServer(guard.New, guard.Version, guard.Priority); err != nil {
		log.Fatalf("client-ip-guard: %v", err)
	}
}
