package pluginsrv

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// echoEnv makes the test binary, re-executed, serve echoEcho on the Unix
// socket it names instead of running tests (see TestMain).
const echoEnv = "PLUGINSRV_SOCKET_ECHO"

// serveEcho answers every call, two frames (a little-endian uint32 length
// and that many bytes: the method, then the arguments), with one frame, the
// first echoed, in one write: Kong's side of a PDK call, in its own process
// as Kong and the plugin server are.
func serveEcho(path string) {
	l, err := net.Listen("unix", path)
	if err != nil {
		os.Exit(2)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(0)
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				n, ok := readFrameInto(c, buf)
				if !ok {
					return
				}
				if _, ok := readFrameInto(c, buf[4+n:]); !ok {
					return
				}
				if _, err := c.Write(buf[:4+n]); err != nil {
					return
				}
			}
		}()
	}
}

// BenchmarkSocketRoundTrip is the physical floor under a PDK call: one
// request and one reply between two processes over a Unix socket, with
// nothing but the bytes. "one-write" sends a call as one write(), the least
// the kernel can do; "go-pdk-framing" sends the same bytes as go-pdk v0.11.2
// does (bridge.Ask: a method frame and an arguments frame, each a length
// write then a payload write, server/pbserver.go writePbFrame), four
// write()s. Kong's side answers each call with one frame, in one write. The two run interleaved in rounds;
// compare their µs/call with the per-call cost of BenchmarkAccessEvent
// ((trivial - noop) / 3).
func BenchmarkSocketRoundTrip(b *testing.B) {
	path := filepath.Join(b.TempDir(), "echo.sock")
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), echoEnv+"="+path)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var c net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = net.Dial("unix", path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	method := []byte("kong.client.get_ip")
	args := []byte{} // an Empty message
	oneWrite := func() {
		// Both frames of the call in one buffer.
		var buf [64]byte
		n := copy(buf[4:], method)
		binary.LittleEndian.PutUint32(buf[:4], uint32(n))
		binary.LittleEndian.PutUint32(buf[4+n:], uint32(len(args)))
		if _, err := c.Write(buf[:4+n+4]); err != nil {
			b.Fatal(err)
		}
		readEcho(b, c, n)
	}
	framed := func() {
		var hdr [4]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(method)))
		mustWrite(b, c, hdr[:])
		mustWrite(b, c, method)
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(args)))
		mustWrite(b, c, hdr[:])
		if len(args) > 0 {
			mustWrite(b, c, args)
		}
		readEcho(b, c, len(method))
	}
	const rounds = 10
	var took [2]time.Duration
	var calls [2]int
	b.Run("interleaved", func(b *testing.B) {
		took, calls = [2]time.Duration{}, [2]int{}
		for r := 0; r < rounds; r++ {
			share := b.N / rounds
			for k, f := range []func(){oneWrite, framed} {
				t0 := time.Now()
				for i := 0; i < share; i++ {
					f()
				}
				took[k] += time.Since(t0)
				calls[k] += share
			}
		}
	})
	for k, name := range []string{"one-write", "go-pdk-framing"} {
		b.Run(name, func(b *testing.B) {
			if calls[k] == 0 {
				b.Skip("not measured")
			}
			b.ReportMetric(float64(took[k].Nanoseconds())/float64(calls[k])/1e3, "µs/call")
		})
	}
	b.Run("ratio", func(b *testing.B) {
		if calls[0] == 0 || calls[1] == 0 {
			b.Skip("not measured")
		}
		b.ReportMetric((float64(took[1])/float64(calls[1]))/(float64(took[0])/float64(calls[0])), "framing/one-write")
	})
}

func mustWrite(b *testing.B, c net.Conn, p []byte) {
	if _, err := c.Write(p); err != nil {
		b.Fatal(err)
	}
}

// readEcho reads one echoed frame of n payload bytes.
func readEcho(b *testing.B, c net.Conn, n int) {
	var buf [64]byte
	if _, err := io.ReadFull(c, buf[:4+n]); err != nil {
		b.Fatal(err)
	}
}

// readFrameInto reads one frame into buf (length included) and returns its
// payload length.
func readFrameInto(c net.Conn, buf []byte) (int, bool) {
	if _, err := io.ReadFull(c, buf[:4]); err != nil {
		return 0, false
	}
	n := int(binary.LittleEndian.Uint32(buf[:4]))
	if n > len(buf)-4 {
		return 0, false
	}
	if _, err := io.ReadFull(c, buf[4:4+n]); err != nil {
		return 0, false
	}
	return n, true
}
