package pluginsrv

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// settle waits for goroutines and file descriptors (not counting pooled
// idle connections) to come back to at most the given levels.
func settle(t *testing.T, s *Server, goroutines, fds int) (int, int) {
	var g, f int
	for i := 0; i < 100; i++ {
		runtime.GC()
		g, f = runtime.NumGoroutine(), countFDs(t)-s.pool.idleCount()
		if g <= goroutines && f <= fds {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return g, f
}

// steady waits until goroutine and fd counts (idle pool excluded) stop
// changing, and returns them.
func steady(t *testing.T, s *Server) (int, int) {
	g, f, same := -1, -1, 0
	for i := 0; i < 100 && same < 3; i++ {
		runtime.GC()
		g2, f2 := runtime.NumGoroutine(), countFDs(t)-s.pool.idleCount()
		if g2 == g && f2 == f {
			same++
		} else {
			same = 0
		}
		g, f = g2, f2
		time.Sleep(20 * time.Millisecond)
	}
	return g, f
}

// load runs events from n workers until stop is closed; each event has
// its own timeout. It reports the slowest event and the time of the
// first success after a given instant.
type loadResult struct {
	ok, failed  atomic.Int64
	maxLatency  atomic.Int64
	firstOKNano atomic.Int64 // first success after `after`
}

func runLoad(s *Server, n int, timeout time.Duration, stop <-chan struct{}, after *atomic.Int64, res *loadResult) *sync.WaitGroup {
	var wg sync.WaitGroup
	e := &Entity{ID: "load"}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				t0 := time.Now()
				err := s.HandleEvent(ctx, e, "access", newReq())
				cancel()
				d := time.Since(t0)
				for {
					m := res.maxLatency.Load()
					if int64(d) <= m || res.maxLatency.CompareAndSwap(m, int64(d)) {
						break
					}
				}
				if err != nil {
					res.failed.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				res.ok.Add(1)
				if a := after.Load(); a != 0 && t0.UnixNano() > a {
					res.firstOKNano.CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		}()
	}
	return &wg
}

// TestKillUnderLoad kills the plugin server while 16 workers send
// events: no event outlives its timeout, events succeed again within 2 s
// of the kill (respawn ≤ 1 s after the previous spawn), and goroutines
// and file descriptors come back to where they were.
func TestKillUnderLoad(t *testing.T) {
	testsupport.SkipShort(t, "load")
	s, logs := startPlugin(t, "trivial")
	const workers, timeout = 16, time.Second

	// Warm up with the same concurrency, then take the baseline.
	var never atomic.Int64
	warm := &loadResult{}
	stop := make(chan struct{})
	wg := runLoad(s, workers, timeout, stop, &never, warm)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.Zero(t, warm.failed.Load())
	baseG, baseF := steady(t, s)

	var killedAt atomic.Int64
	res := &loadResult{}
	stop = make(chan struct{})
	wg = runLoad(s, workers, timeout, stop, &killedAt, res)
	time.Sleep(150 * time.Millisecond)
	pid := s.Pid()
	require.NotZero(t, pid)
	killedAt.Store(time.Now().UnixNano())
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	deadline := time.Now().Add(5 * time.Second)
	for res.firstOKNano.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	require.NotZero(t, res.firstOKNano.Load(), "no success after the kill; log:\n%s", logs.all())
	recovery := time.Duration(res.firstOKNano.Load() - killedAt.Load())
	t.Logf("events ok=%d failed=%d, slowest %v, recovered %v after the kill", res.ok.Load(), res.failed.Load(), time.Duration(res.maxLatency.Load()), recovery)
	assert.Less(t, recovery, 2*time.Second)
	assert.Less(t, time.Duration(res.maxLatency.Load()), timeout+200*time.Millisecond, "an event outlived its timeout")
	assert.NotEqual(t, pid, s.Pid())
	assert.EqualValues(t, 2, s.Stats().Spawns)
	assert.True(t, logs.has("[notice] external pluginserver 'trivial' terminated: signal: killed"), logs.all())

	g, f := settle(t, s, baseG, baseF)
	t.Logf("goroutines %d (baseline %d), fds without idle pool %d (baseline %d)", g, baseG, f, baseF)
	assert.LessOrEqual(t, g, baseG, "goroutines grew")
	assert.LessOrEqual(t, f, baseF, "file descriptors grew")
}

// TestPanicRespawns: a handler panic kills go-pdk's whole server; the
// event fails, Kong's supervisor respawns it and later events succeed.
func TestPanicRespawns(t *testing.T) {
	s, logs := startPlugin(t, "panicky")
	e := &Entity{ID: "p"}
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", newReq()))
	pid := s.Pid()

	req := newReq()
	req.Headers = append(req.Headers, kongpdk.Header{Name: "X-Panic", Value: "1"})
	err := s.HandleEvent(ctx5s(t), e, "access", req)
	require.Error(t, err)

	deadline := time.Now().Add(3 * time.Second)
	for {
		err = s.HandleEvent(ctx5s(t), e, "access", newReq())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	assert.NotEqual(t, pid, s.Pid())
	assert.EqualValues(t, 2, s.Stats().Spawns)
	assert.True(t, logs.has(fmt.Sprintf("[info] [panicky:%d] panic: panicky: asked to panic", pid)), logs.all())
}

// TestCloseStopsRespawning: Close SIGTERMs the server and no new one is
// started.
func TestCloseStopsRespawning(t *testing.T) {
	s, logs := startPlugin(t, "noop")
	pid := s.Pid()
	require.NoError(t, s.Close())
	assert.Error(t, syscall.Kill(pid, 0), "process still there")
	time.Sleep(1200 * time.Millisecond)
	assert.Zero(t, s.Pid())
	assert.EqualValues(t, 1, s.Stats().Spawns)
	assert.True(t, logs.has("not respawned"), logs.all())
}

// TestProcessEnvironment: the plugin server runs with nginx's cleared
// environment, and its output reaches the log prefixed "[name:pid] ".
func TestProcessEnvironment(t *testing.T) {
	t.Setenv("PLUGINSRV_LEAK", "1")
	t.Setenv("TZ", "UTC")
	s, logs := startPlugin(t, "pdkprobe")
	req := newReq()
	got, err := runProbe(t, s, "access", "env", req)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.NotContains(t, got[0], "PLUGINSRV_LEAK")
	assert.NotContains(t, got[0], "HOME=")
	assert.Contains(t, got[0], "TZ=UTC")
	assert.True(t, logs.has(fmt.Sprintf("[info] [pdkprobe:%d] ", s.Pid())), logs.all())
	assert.True(t, logs.has(fmt.Sprintf("[notice] [pluginserver] started, pid %d", s.Pid())), logs.all())
}

// TestUndefinedPhase: an event for a phase the plugin lacks makes go-pdk
// close the socket; Kong would retry forever, pdkserver gives up.
func TestUndefinedPhase(t *testing.T) {
	s, _ := startPlugin(t, "noop")
	err := s.HandleEvent(ctx5s(t), &Entity{ID: "n"}, "log", newReq())
	require.ErrorIs(t, err, ErrClosed)
	assert.EqualValues(t, maxAttempts-1, s.Stats().Retries)
	assert.Error(t, s.HandleEvent(ctx5s(t), &Entity{ID: "n"}, "access", nil))
}

// TestRestartForgetsInstances: after a restart the new go-pdk process
// does not know the instance id Kong cached; it closes the socket, Kong
// drops its instances, starts the instance again (same __seq__, so the
// same id) and the event succeeds on the retry.
func TestRestartForgetsInstances(t *testing.T) {
	s, _ := startPlugin(t, "trivial")
	e := &Entity{ID: "restart"}
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", newReq()))
	pid := s.Pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	deadline := time.Now().Add(3 * time.Second)
	for (s.Pid() == pid || s.Pid() == 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.NotEqual(t, pid, s.Pid())
	waitSocket(t, s)

	req := newReq()
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", req))
	st := s.Stats()
	assert.EqualValues(t, 1, st.Retries)
	assert.EqualValues(t, 2, st.InstanceStarts)
	assert.Len(t, req.Calls["access"], 3)
}

// TestCloseUnderLoad: closing the server while events are in flight ends
// them promptly and leaves no goroutine behind.
func TestCloseUnderLoad(t *testing.T) {
	baseG, _ := steady(t, &Server{})
	s, _ := startPlugin(t, "trivial")
	var never atomic.Int64
	res := &loadResult{}
	stop := make(chan struct{})
	wg := runLoad(s, 8, time.Second, stop, &never, res)
	time.Sleep(100 * time.Millisecond)
	closed := time.Now()
	require.NoError(t, s.Close())
	close(stop)
	wg.Wait()
	assert.Less(t, time.Since(closed), 2*time.Second)
	assert.Positive(t, res.ok.Load())
	assert.Less(t, time.Duration(res.maxLatency.Load()), 1200*time.Millisecond)
	assert.EqualValues(t, 0, s.Stats().Restarts)
	g, _ := settle(t, s, baseG, 1<<30)
	assert.LessOrEqual(t, g, baseG, "goroutines left after Close")
}
