// Package procstats reports the plugin server's own process figures
// (goroutines, resident memory, heap, file descriptors) on a signal, as one
// JSON line on the process's output. Kong copies a plugin server's output
// into its error log, so `kill -USR1 <pid>` on a Kong node puts the figures
// next to the requests they concern; the benchmarks and the soak test read
// them the same way.
//
// The Go runtime's default action for SIGUSR1 is to end the process;
// installing the handler also removes that trap.
package procstats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
)

// Prefix starts every line Watch writes, so readers can find it in a log.
const Prefix = "procstats "

// Stats is one reading of the process.
type Stats struct {
	Pid        int    `json:"pid"`
	Goroutines int    `json:"goroutines"`
	RSSBytes   uint64 `json:"rss_bytes"`  // VmRSS from /proc/self/status; 0 without procfs
	HeapInuse  uint64 `json:"heap_inuse"` // runtime.MemStats.HeapInuse
	HeapAlloc  uint64 `json:"heap_alloc"` // runtime.MemStats.HeapAlloc
	Sys        uint64 `json:"sys"`        // runtime.MemStats.Sys
	NumGC      uint32 `json:"num_gc"`     // completed GC cycles
	FDs        int    `json:"fds"`        // open file descriptors; -1 without procfs
}

// Read takes a reading. It stops the world briefly (runtime.ReadMemStats):
// cheap enough on demand, not meant for a request path.
func Read() Stats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return Stats{
		Pid:        os.Getpid(),
		Goroutines: runtime.NumGoroutine(),
		RSSBytes:   rss(),
		HeapInuse:  m.HeapInuse,
		HeapAlloc:  m.HeapAlloc,
		Sys:        m.Sys,
		NumGC:      m.NumGC,
		FDs:        fds(),
	}
}

// Line renders s as Watch writes it: Prefix, JSON, newline.
func (s Stats) Line() string {
	b, _ := json.Marshal(s) // a struct of numbers always marshals
	return Prefix + string(b) + "\n"
}

// ParseLine finds a reading in a log line (anything may precede Prefix,
// such as Kong's "[client-ip-guard:1234]").
func ParseLine(line string) (Stats, bool) {
	i := strings.Index(line, Prefix+"{")
	if i < 0 {
		return Stats{}, false
	}
	var s Stats
	if err := json.Unmarshal([]byte(strings.TrimSpace(line[i+len(Prefix):])), &s); err != nil {
		return Stats{}, false
	}
	return s, true
}

// Watch writes a reading to w each time one of sigs arrives, until stop is
// closed. The handler is installed when Watch returns.
func Watch(w io.Writer, stop <-chan struct{}, sigs ...os.Signal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-stop:
				return
			case <-ch:
				_, _ = io.WriteString(w, Read().Line())
			}
		}
	}()
}

// rss reads VmRSS (kB) from /proc/self/status.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// fds counts the entries of /proc/self/fd (the directory read itself holds
// one, which is not counted).
func fds() int {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names) - 1
}
