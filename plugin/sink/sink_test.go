package sink_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/sink"
)

// lockedBuffer is an io.Writer the test can read while the writer runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gate blocks every Write until released, and says when the first one
// started.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	out     lockedBuffer
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.out.Write(p)
}

func TestWriterLinesAndClose(t *testing.T) {
	var out lockedBuffer
	var closed atomic.Int32
	w := sink.NewWriter(&out, func() error { closed.Add(1); return nil })
	want := make([]string, 100)
	for i := range want {
		want[i] = fmt.Sprintf(`{"n":%d}`, i)
		w.Write([]byte(want[i]))
	}
	w.Close()
	assert.Equal(t, strings.Join(want, "\n")+"\n", out.String(), "one line per record, in order, all flushed by Close")
	assert.EqualValues(t, 100, w.Written())
	assert.Zero(t, w.Dropped())
	assert.EqualValues(t, 1, closed.Load(), "closeFn runs after the last write")
	w.Close() // idempotent
	assert.EqualValues(t, 1, closed.Load())
}

func TestWriterFlushesWithoutClose(t *testing.T) {
	var out lockedBuffer
	w := sink.NewWriter(&out, nil)
	defer w.Close()
	w.Write([]byte("one"))
	require.Eventually(t, func() bool { return out.String() == "one\n" }, 2*time.Second, 5*time.Millisecond,
		"a lone record reaches the writer without waiting for Close")
}

func TestWriterDropsWhenFull(t *testing.T) {
	g := newGate()
	w := sink.NewWriter(g, nil)
	w.Write([]byte("first"))
	<-g.entered // the writer goroutine is stuck flushing "first"

	const extra = 25
	start := time.Now()
	for i := 0; i < sink.QueueSize+extra; i++ {
		w.Write([]byte("x"))
	}
	assert.Less(t, time.Since(start), 2*time.Second, "Write never blocks")
	assert.EqualValues(t, extra, w.Dropped())

	close(g.release)
	w.Close()
	assert.EqualValues(t, 1+sink.QueueSize, w.Written())
	assert.Equal(t, 1+sink.QueueSize, strings.Count(g.out.String(), "\n"))
	assert.EqualValues(t, extra, w.Dropped())
}

func TestWriterConcurrent(t *testing.T) {
	var out lockedBuffer
	w := sink.NewWriter(&out, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				w.Write([]byte(fmt.Sprintf("g%d-%d", g, i)))
			}
		}()
	}
	wg.Wait()
	w.Close()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	assert.Len(t, got, 1600-int(w.Dropped()))
	for _, l := range got {
		assert.Regexp(t, `^g\d-\d+$`, l, "lines never interleave")
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard.log")
	require.NoError(t, os.WriteFile(path, []byte("existing\n"), 0o644))
	w1, err := sink.Open(path)
	require.NoError(t, err)
	w2, err := sink.Open(path)
	require.NoError(t, err)
	assert.Same(t, w1, w2, "one writer per path")

	w1.Write([]byte("a"))
	w2.Write([]byte("b"))
	w1.Close()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "existing\na\nb\n", string(b), "appends")

	other, err := sink.Open(path + ".2")
	require.NoError(t, err)
	assert.NotSame(t, w1, other)
	other.Close()
}

func TestOpenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "guard.log")
	w, err := sink.Open(path)
	assert.Nil(t, w)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log_path")
	assert.Contains(t, err.Error(), path)

	// A failed open is not remembered: once the directory exists it works.
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	w, err = sink.Open(path)
	require.NoError(t, err)
	w.Close()
}

func TestOpenStdout(t *testing.T) {
	w1, err := sink.Open("-")
	require.NoError(t, err)
	w2, err := sink.Open("-")
	require.NoError(t, err)
	assert.Same(t, w1, w2)
}

// TestReopenAfterRotation: logrotate moves the file away; the writer
// notices within ReopenCheck and writes to a new file at the path.
func TestReopenAfterRotation(t *testing.T) {
	saved := sink.ReopenCheck
	sink.ReopenCheck = 20 * time.Millisecond
	t.Cleanup(func() { sink.ReopenCheck = saved })

	dir := t.TempDir()
	path := filepath.Join(dir, "guard.log")
	w, err := sink.Open(path)
	require.NoError(t, err)
	defer w.Close()
	w.Write([]byte("before"))
	require.Eventually(t, func() bool { b, _ := os.ReadFile(path); return string(b) == "before\n" }, 2*time.Second, 5*time.Millisecond)

	require.NoError(t, os.Rename(path, path+".1"))
	require.Eventually(t, func() bool {
		w.Write([]byte("after"))
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "after\n")
	}, 2*time.Second, 30*time.Millisecond, "the path is reopened")
	old, err := os.ReadFile(path + ".1")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(old), "before\n"), "the rotated file keeps what was written before")
}

// TestIdleWriterRetires: a writer nobody uses closes its file and its
// goroutine; the next Open starts a new one.
func TestIdleWriterRetires(t *testing.T) {
	savedCheck, savedIdle := sink.ReopenCheck, sink.IdleTimeout
	sink.ReopenCheck, sink.IdleTimeout = 10*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { sink.ReopenCheck, sink.IdleTimeout = savedCheck, savedIdle })

	path := filepath.Join(t.TempDir(), "old.log")
	before := sink.OpenCount()
	w, err := sink.Open(path)
	require.NoError(t, err)
	w.Write([]byte("one"))
	assert.Equal(t, before+1, sink.OpenCount())
	require.Eventually(t, func() bool { return sink.OpenCount() == before }, 2*time.Second, 10*time.Millisecond, "the idle writer leaves")
	w.Write([]byte("late")) // dropped, not a panic
	assert.EqualValues(t, 1, w.Dropped())

	w2, err := sink.Open(path)
	require.NoError(t, err)
	assert.NotSame(t, w, w2)
	w2.Write([]byte("two"))
	w2.Close()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "one\ntwo\n", string(b))
}
