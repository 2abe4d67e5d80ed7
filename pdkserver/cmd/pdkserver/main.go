// Command pdkserver runs a stand-in for Kong Gateway: Kong's side of the Go
// plugin-server protocol, driving the real plugin binary over its Unix
// socket, behind a front door that reads the same kong.conf and kong.yml a
// user gives Kong.
//
//	pdkserver -c kong.conf [-d kong.yml]        serve until interrupted (SIGHUP reloads kong.yml)
//	pdkserver -c kong.conf -d kong.yml -demo    run the scripted requests, print the table, exit
//	pdkserver ... -demo -keep                   the same, then keep serving for manual curl tries
//
// An echo upstream is built in (-echo); kong.yml's services point at it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/report"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/demo"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/gateway"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pdkserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	confPath := fs.String("c", "kong.conf", "kong.conf-style node configuration (KONG_* variables override it)")
	ymlPath := fs.String("d", "", "DB-less kong.yml (default: the configuration's declarative_config)")
	echoAddr := fs.String("echo", "127.0.0.1:18080", `address of the built-in echo upstream ("off" to disable)`)
	runDemo := fs.Bool("demo", false, "send the scripted requests, print the table and exit")
	nlbListen := fs.String("nlb-listen", demo.NLBListen, "with -demo: proxy_listen of the PROXY-protocol front door")
	keep := fs.Bool("keep", false, "with -demo: keep serving afterwards and print curl commands to try")
	echoOnly := fs.Bool("echo-only", false, "run only the echo upstream (a test upstream for real Kong)")
	verbose := fs.Bool("v", false, "write the error log to stderr instead of <prefix>/logs/error.log")
	eventTimeout := fs.Duration("event-timeout", 60*time.Second, "bound on one plugin phase for one request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pdkserver: unexpected arguments %q\n", fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *echoOnly {
		echo, err := demo.StartEcho(*echoAddr)
		if err != nil {
			fmt.Fprintf(stderr, "pdkserver: echo upstream on %s: %v\n", *echoAddr, err)
			return 1
		}
		fmt.Fprintf(stdout, "echo upstream on %s\n", echo.Addr())
		<-ctx.Done()
		echo.Close()
		return 0
	}

	logf, closeLog, logPath, err := errorLog(*confPath, *verbose, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pdkserver: %v\n", err)
		return 1
	}
	defer closeLog()

	if *echoAddr != "off" {
		echo, err := demo.StartEcho(*echoAddr)
		if err != nil {
			fmt.Fprintf(stderr, "pdkserver: echo upstream on %s: %v (kong.yml's services point at it; pass -echo and edit the service url)\n", *echoAddr, err)
			return 1
		}
		defer echo.Close()
	}

	collector := demo.NewCollector()
	var observe func(*gateway.Exchange)
	if *runDemo {
		observe = collector.Observe
	}
	alb, err := demo.StartNode(ctx, demo.NodeSpec{
		Name: "alb", ConfPath: *confPath, YMLPath: *ymlPath, Environ: os.Environ(),
		Logf: logf, EventTimeout: *eventTimeout, Observe: observe,
	})
	if err != nil {
		fmt.Fprintf(stderr, "pdkserver: %v%s\n", err, portHint(err))
		return 1
	}
	defer alb.Close()
	nodes := []*demo.Node{alb}

	if *runDemo {
		if err := demo.CheckLoopback(); err != nil {
			fmt.Fprintf(stderr, "pdkserver: %v\n", err)
			return 1
		}
		nlbProfile := demo.Profiles[1]
		nlb, err := demo.StartNode(ctx, demo.NodeSpec{
			Name: nlbProfile.Name, ConfPath: *confPath, YMLPath: alb.YMLPath,
			Environ: append(append(os.Environ(), nlbProfile.Env...), "KONG_PROXY_LISTEN="+*nlbListen),
			Logf:    logf, EventTimeout: *eventTimeout, Observe: observe, Share: alb,
		})
		if err != nil {
			fmt.Fprintf(stderr, "pdkserver: %s front door: %v%s\n", nlbProfile.Name, err, portHint(err))
			return 1
		}
		defer nlb.Close()
		nodes = append(nodes, nlb)
		bad := runScenarios(stdout, nodes, collector, *echoAddr, logPath)
		if !*keep {
			if bad > 0 {
				return 1
			}
			return 0
		}
		printCurls(stdout, nodes)
	} else {
		describe(stdout, nodes, *echoAddr, logPath)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fmt.Fprintln(stdout, "serving; Ctrl-C stops, SIGHUP reloads kong.yml")
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "stopping")
			return 0
		case <-hup:
			for _, n := range nodes {
				if err := n.Reload(); err != nil {
					fmt.Fprintf(stderr, "pdkserver: reload of %s refused, keeping the old configuration: %v\n", n.Name, err)
				} else {
					fmt.Fprintf(stdout, "%s: kong.yml reloaded\n", n.Name)
				}
			}
		}
	}
}

// errorLog opens Kong's error log: <prefix>/logs/error.log, or stderr.
func errorLog(confPath string, verbose bool, stderr io.Writer) (func(string, ...any), func(), string, error) {
	var mu sync.Mutex
	if verbose {
		l := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
		return func(f string, a ...any) { mu.Lock(); l.Printf(f, a...); mu.Unlock() }, func() {}, "stderr", nil
	}
	conf, err := nodeconf.Load(confPath, os.Environ())
	if err != nil {
		return nil, nil, "", err
	}
	path := filepath.Join(conf.Prefix, "logs", "error.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, "", fmt.Errorf("error log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, "", fmt.Errorf("error log: %w", err)
	}
	l := log.New(f, "", log.LstdFlags|log.Lmicroseconds)
	return func(fm string, a ...any) { mu.Lock(); l.Printf(fm, a...); mu.Unlock() }, func() { f.Close() }, path, nil
}

func describe(w io.Writer, nodes []*demo.Node, echoAddr, logPath string) {
	for _, n := range nodes {
		for _, s := range n.Servers {
			info := s.Info()
			fmt.Fprintf(w, "plugin %s %s (priority %d, phases %s), pid %d\n", info.Name, info.Version, info.Priority, strings.Join(info.Phases, ","), s.Pid())
		}
	}
	for _, n := range nodes {
		var ls []string
		for _, b := range n.Gateway.Listeners() {
			l := b.Listener
			l.Addr = b.Addr.String()
			ls = append(ls, l.String())
		}
		rec := "off"
		if n.Conf.RealIPRecursive {
			rec = "on"
		}
		fmt.Fprintf(w, "%s: proxy_listen %s | trusted_ips %s | real_ip_header %s | real_ip_recursive %s\n",
			n.Name, strings.Join(ls, ", "), strings.Join(n.Conf.TrustedIPs, ","), n.Conf.RealIPHeader, rec)
		if len(n.AdminAddrs) > 0 {
			fmt.Fprintf(w, "%s: admin API (POST /config) on %s\n", n.Name, strings.Join(n.AdminAddrs, ", "))
		}
	}
	if echoAddr != "off" {
		fmt.Fprintf(w, "upstream: built-in echo on %s\n", echoAddr)
	}
	fmt.Fprintf(w, "error log: %s\n", logPath)
}

func runScenarios(w io.Writer, nodes []*demo.Node, c *demo.Collector, echoAddr, logPath string) int {
	describe(w, nodes, echoAddr, logPath)
	// The error log is appended to across runs: the report reads from here.
	var logStart int64
	if st, err := os.Stat(logPath); err == nil {
		logStart = st.Size()
	}
	fmt.Fprintln(w)
	byName := map[string]*demo.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	var results []demo.Result
	for _, s := range demo.Scenarios {
		n := byName[s.Node]
		if n == nil {
			results = append(results, demo.Result{Scenario: s, Err: errors.New("no such front door: " + s.Node)})
			continue
		}
		results = append(results, demo.RunScenario(n, c, s, 10*time.Second))
	}
	bad := demo.PrintTable(w, results)
	fmt.Fprintln(w)
	if bad == 0 {
		fmt.Fprintf(w, "%d/%d scenarios as expected.\n", len(results), len(results))
	} else {
		fmt.Fprintf(w, "%d of %d scenarios differ from what Kong would do (see above; error log: %s).\n", bad, len(results), logPath)
	}
	printReport(w, logPath, logStart)
	return bad
}

// printReport sums up the records this run wrote to the error log (the
// kong sink, kong.log.notice), as kongconf report does.
func printReport(w io.Writer, logPath string, from int64) {
	fmt.Fprintln(w)
	if logPath == "stderr" {
		fmt.Fprintln(w, "The records went to stderr (-v): pipe them to kongconf report for the rollout report.")
		return
	}
	f, err := os.Open(logPath)
	if err != nil {
		fmt.Fprintf(w, "report: %v\n", err)
		return
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		fmt.Fprintf(w, "report: %v\n", err)
		return
	}
	rep := report.New(report.Options{Top: 3})
	if err := rep.Read(f); err != nil {
		fmt.Fprintf(w, "report: %s: %v\n", logPath, err)
		return
	}
	fmt.Fprintf(w, "Rollout report of this run's records (in full: bin/kongconf report %s):\n", logPath)
	s := rep.Summary()
	s.Brief(w)
}

func printCurls(w io.Writer, nodes []*demo.Node) {
	alb, nlb := nodes[0], nodes[1]
	plain, ssl, pp := alb.Addr("plain"), alb.Addr("ssl"), nlb.Addr("proxy")
	fmt.Fprintln(w, "\nTry it (curl's --interface picks the loopback source address; 127.0.0.2 is the trusted LB):")
	if plain != "" {
		fmt.Fprintf(w, "  curl -s http://%s/echo                                                   # direct client\n", plain)
		fmt.Fprintf(w, "  curl -s --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.7' http://%s/echo   # through the LB\n", plain)
		fmt.Fprintf(w, "  curl -s -H 'X-Forwarded-For: 1.2.3.4' http://%s/echo                       # spoof (monitor)\n", plain)
		fmt.Fprintf(w, "  curl -si -H 'X-Forwarded-For: 1.2.3.4' http://%s/strict                     # spoof (enforce: 403)\n", plain)
	}
	if ssl != "" {
		fmt.Fprintf(w, "  curl -sk https://%s/echo                                                 # TLS\n", ssl)
	}
	if pp != "" {
		fmt.Fprintf(w, "  curl -s --interface 127.0.0.2 --haproxy-protocol http://%s/nlb            # PROXY v1 from the LB\n", pp)
		fmt.Fprintf(w, "  curl -s --interface 127.0.0.2 --haproxy-protocol --haproxy-clientip 198.51.100.9 http://%s/nlb   # curl >= 8.2\n", pp)
	}
	for _, a := range alb.AdminAddrs {
		fmt.Fprintf(w, "  curl -s -X POST http://%s/config -F config=@%s   # swap kong.yml while traffic flows\n", a, alb.YMLPath)
	}
	fmt.Fprintf(w, "The plugin's records are in the error log (kong.log.notice).\n")
}

// portHint explains how to move off a port that is taken.
func portHint(err error) string {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return ""
	}
	return "\n  a port is taken: override it, e.g. KONG_PROXY_LISTEN='127.0.0.1:28000, 127.0.0.1:28443 ssl http2', KONG_ADMIN_LISTEN=off, -nlb-listen '127.0.0.1:28100 proxy_protocol'"
}
