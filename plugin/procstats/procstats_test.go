package procstats

import (
	"bytes"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	s := Read()
	assert.Equal(t, os.Getpid(), s.Pid)
	assert.Positive(t, s.Goroutines)
	assert.Positive(t, s.HeapInuse)
	if runtime.GOOS == "linux" {
		assert.Greater(t, s.RSSBytes, uint64(1<<20), "a Go test binary holds more than 1 MiB")
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		defer f.Close()
		assert.Equal(t, s.FDs+1, Read().FDs, "an opened file is counted")
	}
}

func TestLineRoundTrip(t *testing.T) {
	s := Stats{Pid: 7, Goroutines: 12, RSSBytes: 1 << 22, HeapInuse: 3, HeapAlloc: 2, Sys: 9, NumGC: 4, FDs: 11}
	got, ok := ParseLine("2026/11/30 [info] [client-ip-guard:7] " + s.Line())
	require.True(t, ok)
	assert.Equal(t, s, got)

	for _, bad := range []string{"", "procstats", "procstats {", "procstats {\"pid\":\"x\"}", "no reading here"} {
		_, ok := ParseLine(bad)
		assert.False(t, ok, "%q", bad)
	}
}

// syncBuf is a bytes.Buffer safe for the watcher goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestWatchSignal sends SIGUSR1 to this process: a reading is written and
// the process survives (the runtime's default would end it).
func TestWatchSignal(t *testing.T) {
	var out syncBuf
	stop := make(chan struct{})
	defer close(stop)
	Watch(&out, stop, syscall.SIGUSR1)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	require.Eventually(t, func() bool {
		s, ok := ParseLine(out.String())
		return ok && s.Pid == os.Getpid() && s.Goroutines > 0
	}, 5*time.Second, 10*time.Millisecond)
}
