// Package sink writes records from the plugin process itself, with no PDK
// call: to a file or to stdout (which Kong captures into its error log at
// info level). Writes are asynchronous and never block a request: when the
// queue is full a record is dropped and counted.
//
// A file is reopened when it is moved or removed (logrotate's default
// create mode), checked once per ReopenCheck; a writer unused for
// IdleTimeout closes its file and its goroutine, so a log_path left by an
// old config holds neither for ever.
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

// Tunables; tests shorten them.
var (
	// ReopenCheck is how often a file writer checks that its path still
	// names the file it writes.
	ReopenCheck = time.Second
	// IdleTimeout is how long a writer opened by Open lives unused.
	IdleTimeout = 5 * time.Minute
)

// flushEvery bounds how long a written line waits in the buffer.
const flushEvery = 200 * time.Millisecond

// Writer appends one line per record to an io.Writer from one goroutine.
type Writer struct {
	ch      chan []byte
	dropped atomic.Uint64
	written atomic.Uint64
	done    chan struct{}

	mu      sync.Mutex // guards closed, lastUse and sends on ch
	closed  bool
	lastUse time.Time

	out  io.Writer
	file *reopener // set for files opened by Open
	// closeFn runs after the last write (nil for none).
	closeFn func() error
	// path is the registry key of writers made by Open ("" otherwise).
	path string
	// check and idle are ReopenCheck and IdleTimeout when it was made.
	check, idle time.Duration
}

// NewWriter starts a writer goroutine over w; closeFn, if not nil, runs
// after the last write. It is never closed for idleness.
func NewWriter(w io.Writer, closeFn func() error) *Writer {
	s := newWriter(w, closeFn)
	go s.run()
	return s
}

func newWriter(w io.Writer, closeFn func() error) *Writer {
	return &Writer{ch: make(chan []byte, QueueSize), done: make(chan struct{}), out: w, closeFn: closeFn, lastUse: time.Now(),
		check: ReopenCheck, idle: IdleTimeout}
}

func (s *Writer) run() {
	defer close(s.done)
	bw := bufio.NewWriterSize(s.out, 64<<10)
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	check := time.NewTicker(s.check)
	defer check.Stop()
	for {
		select {
		case line, ok := <-s.ch:
			if !ok {
				_ = bw.Flush()
				if s.closeFn != nil {
					_ = s.closeFn()
				}
				return
			}
			_, _ = bw.Write(line)
			_ = bw.WriteByte('\n')
			s.written.Add(1)
			if len(s.ch) == 0 {
				_ = bw.Flush()
			}
		case <-flush.C:
			_ = bw.Flush()
		case now := <-check.C:
			if s.file != nil {
				_ = bw.Flush()
				s.file.check()
			}
			if s.path != "" {
				s.retireIfIdle(now)
			}
		}
	}
}

// Write queues one record line; it never blocks. A line written to a
// closed writer is dropped and counted.
func (s *Writer) Write(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.dropped.Add(1)
		return
	}
	s.lastUse = time.Now()
	select {
	case s.ch <- line:
	default:
		s.dropped.Add(1)
	}
}

// Dropped returns how many records were dropped because the queue was
// full or the writer closed.
func (s *Writer) Dropped() uint64 { return s.dropped.Load() }

// Written returns how many records were written.
func (s *Writer) Written() uint64 { return s.written.Load() }

// Close flushes and stops the writer. A writer made by Open leaves the
// registry: the next Open of its path starts a new one.
func (s *Writer) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
	unregister(s)
	<-s.done
}

// retireIfIdle closes the writer if nothing used it for IdleTimeout and
// nothing waits in its queue.
func (s *Writer) retireIfIdle(now time.Time) {
	s.mu.Lock()
	idle := !s.closed && now.Sub(s.lastUse) >= s.idle && len(s.ch) == 0
	if idle {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
	if idle {
		unregister(s)
	}
}

// touch marks the writer used; it reports false if it is already closed.
func (s *Writer) touch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.lastUse = time.Now()
	return true
}

var (
	mu      sync.Mutex
	writers = map[string]*Writer{}
)

func unregister(s *Writer) {
	if s.path == "" {
		return
	}
	mu.Lock()
	if writers[s.path] == s {
		delete(writers, s.path)
	}
	mu.Unlock()
}

// Open returns the process-wide writer for path ("-" for stdout), opening
// the file for appending on first use. Instances sharing a path share one
// writer, so lines never interleave.
func Open(path string) (*Writer, error) {
	mu.Lock()
	defer mu.Unlock()
	if w, ok := writers[path]; ok && w.touch() {
		return w, nil
	}
	var w *Writer
	if path == "-" {
		w = newWriter(os.Stdout, nil)
	} else {
		r, err := openReopener(path)
		if err != nil {
			return nil, fmt.Errorf("log_path %q: %w", path, err)
		}
		w = newWriter(r, r.close)
		w.file = r
	}
	w.path = path
	writers[path] = w
	go w.run()
	return w, nil
}

// OpenCount reports how many writers Open keeps now.
func OpenCount() int {
	mu.Lock()
	defer mu.Unlock()
	return len(writers)
}

// reopener is a file that follows its path: when the path no longer names
// the open file (moved or removed by log rotation), it opens the path anew.
// Only the writer goroutine uses it.
type reopener struct {
	path string
	f    *os.File
}

func openReopener(path string) (*reopener, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &reopener{path: path, f: f}, nil
}

func (r *reopener) Write(p []byte) (int, error) { return r.f.Write(p) }

// check reopens the path when it names another file or none; if the new
// open fails, writing goes on to the old file.
func (r *reopener) check() {
	cur, err := r.f.Stat()
	if err != nil {
		return
	}
	if st, err := os.Stat(r.path); err == nil && os.SameFile(cur, st) {
		return
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	_ = r.f.Close()
	r.f = f
}

func (r *reopener) close() error { return r.f.Close() }
