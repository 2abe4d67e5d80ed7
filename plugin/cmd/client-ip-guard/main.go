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
//
// -metrics-listen ADDR (host:port, off by default) serves Prometheus
// metrics on http://ADDR/metrics: client_ip_guard_verdicts_total,
// client_ip_guard_config_errors_total, client_ip_guard_pdk_errors_total,
// and the Go runtime's and the process's. Add it to Kong's start command:
//
//	pluginserver_client_ip_guard_start_cmd = /usr/local/bin/client-ip-guard -kong-prefix /kong_prefix -metrics-listen 0.0.0.0:9542
package main

import (
	"flag"
	"log"
	"os"
	"syscall"

	"github.com/Kong/go-pdk/server"

	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/metrics"
	"github.com/client-ip-guard/client-ip-guard/plugin/procstats"
)

// go-pdk's server package defines -kong-prefix, -dump and -help on the
// same flag set; StartServer parses it again, which changes nothing.
var metricsListen = flag.String("metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (host:port); off when empty")

func main() {
	flag.Parse()
	if *metricsListen != "" && flag.Lookup("dump").Value.String() != "true" {
		l, err := metrics.Listen(*metricsListen)
		if err != nil {
			log.Fatalf("client-ip-guard: %v", err)
		}
		metrics.Enable()
		go func() { log.Printf("client-ip-guard: metrics server stopped: %v", metrics.Default.Serve(l)) }()
		log.Printf("client-ip-guard: metrics on http://%s/metrics", l.Addr())
	}
	procstats.Watch(os.Stderr, nil, syscall.SIGUSR1)
	if err := server.StartServer(guard.New, guard.Version, guard.Priority); err != nil {
		log.Fatalf("client-ip-guard: %v", err)
	}
}
