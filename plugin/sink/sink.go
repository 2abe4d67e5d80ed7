// Package sink writes records from the plugin process itself, with no PDK
// call: to a file or to stdout (which Kong captures into its error log at
// info level, prefixed with the plugin's name and pid). Writes are
// asynchronous and never block a request: when the queue is full a record
// is dropped and counted.
package sink

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// QueueSize is how many records may wait for the writer.
const QueueSize = 4096

// Writer appends one line per record to an io.Writer from one goroutine.
type Writer struct {
	ch      chan []byte
	dropped atomic.Uint64
	written atomic.Uint64
	done    chan struct{}
	closeMu sync.Once
}

// NewWriter starts a writer goroutine over w; closeFn, if not nil, runs
// after the last write.
func NewWriter(w io.Writer, closeFn func() error) *Writer {
	s := &Writer{ch: make(chan []byte, QueueSize), done: make(chan struct{})}
	go s.run(w, closeFn)
	return s
}

func (s *Writer) run(w io.Writer, closeFn func() error) {
	defer close(s.done)
	bw := bufio.NewWriterSize(w, 64<<10)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line, ok := <-s.ch:
			if !ok {
				_ = bw.Flush()
				if closeFn != nil {
					_ = closeFn()
				}
				return
			}
			_, _ = bw.Write(line)
			_ = bw.WriteByte('\n')
			s.written.Add(1)
			if len(s.ch) == 0 {
				_ = bw.Flush()
			}
		case <-tick.C:
			_ = bw.Flush()
		}
	}
}

// Write queues one record line; it never blocks.
func (s *Writer) Write(line []byte) {
	select {
	case s.ch <- line:
	default:
		s.dropped.Add(1)
	}
}

// Dropped returns how many records were dropped because the queue was full.
func (s *Writer) Dropped() uint64 { return s.dropped.Load() }

// Written returns how many records were written.
func (s *Writer) Written() uint64 { return s.written.Load() }

// Close flushes and stops the writer.
func (s *Writer) Close() {
	s.closeMu.Do(func() { close(s.ch) })
	<-s.done
}

var (
	mu      sync.Mutex
	writers = map[string]*Writer{}
)

// Open returns the process-wide writer for path ("-" for stdout), opening
// the file for appending on first use. Instances sharing a path share one
// writer, so lines never interleave.
func Open(path string) (*Writer, error) {
	mu.Lock()
	defer mu.Unlock()
	if w, ok := writers[path]; ok {
		return w, nil
	}
	var w *Writer
	if path == "-" {
		w = NewWriter(os.Stdout, nil)
	} else {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log_path %q: %w", path, err)
		}
		w = NewWriter(f, f.Close)
	}
	writers[path] = w
	return w, nil
}
