package pluginsrv

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"google.golang.org/protobuf/types/known/structpb"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// fconn is the plugin's end of a connection in wire tests, framed as
// go-pdk frames.
type fconn struct{ net.Conn }

func (f fconn) read() ([]byte, error) {
	var n uint32
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(f, b)
	return b, err
}

func (f fconn) write(b []byte) error {
	return f.writeRaw(binary.LittleEndian.AppendUint32(nil, uint32(len(b))), b)
}

func (f fconn) writeRaw(parts ...[]byte) error {
	_, err := f.Write(bytes.Join(parts, nil))
	return err
}

func (f fconn) call() (*kpp.RpcCall, error) {
	b, err := f.read()
	if err != nil {
		return nil, err
	}
	var c kpp.RpcCall
	return &c, proto.Unmarshal(b, &c)
}

// ask plays bridge.Ask: method frame, args frame, raw reply.
func (f fconn) ask(method string, args proto.Message) ([]byte, error) {
	if err := f.write([]byte(method)); err != nil {
		return nil, err
	}
	var a []byte
	if args != nil {
		a, _ = proto.Marshal(args)
	}
	if err := f.write(a); err != nil {
		return nil, err
	}
	return f.read()
}

func (f fconn) ret(seq int64, r *kpp.RpcReturn) error {
	if r == nil {
		r = &kpp.RpcReturn{}
	}
	r.Sequence = seq
	b, _ := proto.Marshal(r)
	return f.write(b)
}

// startFake runs an in-process stand-in for a plugin server: serve is
// called for every RpcCall on every connection and returns false to
// close that connection. The Server has no process (start_cmd unset:
// "managed externally", as Kong allows).
func startFake(t *testing.T, serve func(f fconn, c *kpp.RpcCall) bool) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "pw")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "fake.socket")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				f := fconn{c}
				for {
					call, err := f.call()
					if err != nil || !serve(f, call) {
						return
					}
				}
			}()
		}
	}()
	dumpFile := filepath.Join(dir, "dump.json")
	require.NoError(t, os.WriteFile(dumpFile, []byte(`{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"fake","Phases":["access","log"],"Version":"1.2.3","Priority":7,"Schema":{"name":"fake"}}]}`), 0o600))
	s, err := Start(context.Background(), Options{Name: "fake", QueryCmd: "cat " + dumpFile, Socket: sock})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// startReply answers a CmdStartInstance with instance id = __seq__, as
// go-pdk does.
func startReply(f fconn, c *kpp.RpcCall) (map[string]any, bool) {
	var conf map[string]any
	if json.Unmarshal(c.GetCmdStartInstance().GetConfig(), &conf) != nil {
		return nil, false
	}
	seq, _ := conf["__seq__"].(float64)
	return conf, f.ret(c.Sequence, &kpp.RpcReturn{Return: &kpp.RpcReturn_InstanceStatus{
		InstanceStatus: &kpp.InstanceStatus{Name: "fake", InstanceId: int32(seq), StartedAt: 1},
	}}) == nil
}

func TestQueryInfo(t *testing.T) {
	s := startFake(t, func(fconn, *kpp.RpcCall) bool { return false })
	assert.Equal(t, PluginInfo{Name: "fake", Phases: []string{"access", "log"}, Priority: 7, Version: "1.2.3", Schema: json.RawMessage(`{"name":"fake"}`)}, s.Info())

	for _, tc := range []struct{ dump, want string }{
		{`{"Protocol":"MsgPack:1","Plugins":[{"Name":"x"}]}`, `"MsgPack:1" is not ProtoBuf:1`},
		{`{"Plugins":[{"Name":"x"}]}`, `"MsgPack:1" is not ProtoBuf:1`},
		{`{"Protocol":"ProtoBuf:1","Plugins":[]}`, "not a plugin info table"},
		{`not json`, "failed decoding plugin info"},
	} {
		_, err := queryInfo(context.Background(), "printf '%s' '"+tc.dump+"'")
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := queryInfo(context.Background(), "exit 3")
	assert.ErrorContains(t, err, "error loading plugins info")
	_, err = Start(context.Background(), Options{Name: "x", Socket: "/nonexistent/x.socket"})
	assert.ErrorContains(t, err, "query_command undefined")
}

// TestWireDialogue checks the bytes of a start + event exchange: the
// config JSON Kong sends, sequence numbers, and the replies for nil
// values (empty frame for a nil String/Int, 08 01 for a nil Value).
func TestWireDialogue(t *testing.T) {
	var (
		mu      sync.Mutex
		conf    map[string]any
		seqs    []int64
		replies [][]byte
	)
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		mu.Lock()
		defer mu.Unlock()
		seqs = append(seqs, c.Sequence)
		switch {
		case c.GetCmdStartInstance() != nil:
			var ok bool
			conf, ok = startReply(f, c)
			return ok
		case c.GetCmdHandleEvent() != nil:
			he := c.GetCmdHandleEvent()
			if he.EventName != "access" || int64(he.InstanceId) != int64(conf["__seq__"].(float64)) {
				return false
			}
			for _, q := range []struct {
				m string
				a proto.Message
			}{
				{"kong.client.get_ip", nil},
				{"kong.client.get_forwarded_port", nil},
				{"kong.nginx.get_ctx", &kpp.String{V: "none"}},
				{"kong.request.get_header", &kpp.String{V: "absent"}},
				{"kong.nginx.set_ctx", &kpp.KV{K: "k", V: structpb.NewStringValue("v")}},
				{"kong.nginx.get_ctx", &kpp.String{V: "k"}},
			} {
				r, err := f.ask(q.m, q.a)
				if err != nil {
					return false
				}
				replies = append(replies, r)
			}
			return f.write(nil) == nil && f.ret(c.Sequence, nil) == nil
		}
		return false
	})
	req := newReq()
	req.Vars.RemotePort = ""
	e := &Entity{ID: "pid-1", RouteID: "r1", InstanceName: "inst", Config: map[string]any{"a": "b", "n": 1}}
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", req))

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int64{2, 3}, seqs, "Kong sends msg_id+1")
	assert.Equal(t, map[string]any{
		"a": "b", "n": float64(1), "route_id": "r1", "plugin_instance_name": "inst",
		"__plugin_id": "pid-1", "__ws_id": kongpdk.DefaultWorkspaceID, "__seq__": float64(1),
		"__key__": "plugins:fake:r1::::" + kongpdk.DefaultWorkspaceID,
	}, conf, "service_id/consumer_id are nil in Lua, so absent")
	require.Len(t, replies, 6)
	assert.Equal(t, append([]byte{0x0a, 8}, "10.0.0.7"...), replies[0], "String{v}")
	assert.Empty(t, replies[1], "nil port: empty frame")
	assert.Equal(t, []byte{0x08, 0x01}, replies[2], "nil Value: null_value 1")
	assert.Empty(t, replies[3], "absent header: empty frame")
	assert.Empty(t, replies[4], "set_ctx returns nothing")
	assert.Equal(t, []byte{0x1a, 0x01, 'v'}, replies[5], "Value{string_value}")
}

// TestRetryAfterClosed: the plugin closing the socket on HandleEvent (an
// unknown instance after a restart) makes Kong forget its instances and
// retry; the restarted instance reuses __seq__.
func TestRetryAfterClosed(t *testing.T) {
	var starts []float64
	var known atomic.Bool
	var mu sync.Mutex
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		switch {
		case c.GetCmdStartInstance() != nil:
			conf, ok := startReply(f, c)
			mu.Lock()
			starts = append(starts, conf["__seq__"].(float64))
			mu.Unlock()
			known.Store(true)
			return ok
		case c.GetCmdHandleEvent() != nil:
			if !known.Load() {
				return false // "no plugin instance N": close, no reply
			}
			return f.write(nil) == nil && f.ret(c.Sequence, nil) == nil
		}
		return false
	})
	e := &Entity{ID: "r"}
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", newReq()))
	known.Store(false) // the plugin server "restarted"
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", newReq()))
	assert.EqualValues(t, 1, s.Stats().Retries)
	mu.Lock()
	assert.Equal(t, []float64{1, 1}, starts)
	mu.Unlock()
}

// TestRetryBounded: a plugin that always closes fails the event after a
// bounded number of attempts instead of recursing forever.
func TestRetryBounded(t *testing.T) {
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		if c.GetCmdStartInstance() != nil {
			_, ok := startReply(f, c)
			return ok
		}
		return false
	})
	err := s.HandleEvent(ctx5s(t), &Entity{ID: "b"}, "access", newReq())
	require.ErrorIs(t, err, ErrClosed)
	assert.EqualValues(t, maxAttempts-1, s.Stats().Retries)
}

// TestStartInstanceFailure: a config the plugin cannot decode (it closes)
// fails the event without retry, and the claim is released.
func TestStartInstanceFailure(t *testing.T) {
	var starts atomic.Int32
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		if c.GetCmdStartInstance() != nil {
			starts.Add(1)
		}
		return false
	})
	for i := 1; i <= 2; i++ {
		err := s.HandleEvent(ctx5s(t), &Entity{ID: "bad"}, "access", newReq())
		require.ErrorIs(t, err, ErrClosed)
		assert.ErrorContains(t, err, "starting instance")
		assert.EqualValues(t, i, starts.Load())
	}
	assert.EqualValues(t, 0, s.Stats().Retries)
}

// TestSequenceMismatch: Kong asserts the RpcReturn sequence.
func TestSequenceMismatch(t *testing.T) {
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		if c.GetCmdStartInstance() != nil {
			_, ok := startReply(f, c)
			return ok
		}
		return f.write(nil) == nil && f.ret(c.Sequence+5, nil) == nil
	})
	err := s.HandleEvent(ctx5s(t), &Entity{ID: "s"}, "access", newReq())
	assert.ErrorContains(t, err, "sequence")
}

// TestNoHang: a plugin that stops answering mid-event cannot hold the
// request past its context.
func TestNoHang(t *testing.T) {
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		if c.GetCmdStartInstance() != nil {
			_, ok := startReply(f, c)
			return ok
		}
		_ = f.write([]byte("kong.client.get_ip"))
		_, _ = io.Copy(io.Discard, f) // never sends the args frame
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.HandleEvent(ctx, &Entity{ID: "h"}, "access", newReq())
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), err)
	assert.Less(t, time.Since(start), time.Second)

	// Cancellation (not only deadlines) unblocks too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	start = time.Now()
	err = s.HandleEvent(ctx2, &Entity{ID: "h"}, "access", newReq())
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), time.Second)
}

// TestConnectFailure: no plugin listening → the event fails at once
// (Kong answers 500); nothing waits for readiness.
func TestConnectFailure(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "d.json")
	require.NoError(t, os.WriteFile(dump, []byte(`{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"gone"}]}`), 0o600))
	s, err := Start(context.Background(), Options{Name: "gone", QueryCmd: "cat " + dump, Socket: filepath.Join(dir, "gone.socket")})
	require.NoError(t, err)
	defer s.Close()
	start := time.Now()
	err = s.HandleEvent(ctx5s(t), &Entity{ID: "g"}, "access", newReq())
	assert.ErrorContains(t, err, "trying to connect")
	assert.Less(t, time.Since(start), time.Second)
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.HandleEvent(ctx5s(t), &Entity{ID: "g"}, "access", newReq()), ErrServerClosed)
}

// TestFraming: little-endian length prefix, zero-length frames, and a
// bound on the length a peer may announce.
func TestFraming(t *testing.T) {
	fds, err := socketPair()
	require.NoError(t, err)
	defer fds[0].Close()
	defer fds[1].Close()
	c := newConn(fds[0], 0)
	go func() {
		_ = c.writeFrame(nil)
		_ = c.writeFrame([]byte("abc"))
	}()
	buf := make([]byte, 11)
	_, err = io.ReadFull(fds[1], buf)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'}, buf)

	go func() {
		_, _ = fds[1].Write([]byte{0, 0, 0, 0, 2, 0, 0, 0, 'h', 'i', 0xff, 0xff, 0xff, 0xff})
	}()
	f, err := c.readFrame()
	require.NoError(t, err)
	assert.Empty(t, f)
	f, err = c.readFrame()
	require.NoError(t, err)
	assert.Equal(t, "hi", string(f))
	_, err = c.readFrame()
	assert.ErrorIs(t, err, errFrameTooLarge)
}

func socketPair() ([2]*net.UnixConn, error) {
	var out [2]*net.UnixConn
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unix"})
	if err != nil {
		return out, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.AcceptUnix()
		out[1] = c
		done <- err
	}()
	out[0], err = net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		return out, err
	}
	return out, <-done
}

// TestConfigChangeOrder: on a config change Kong starts the new instance
// before closing the old one, then runs the event on the new one.
func TestConfigChangeOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	s := startFake(t, func(f fconn, c *kpp.RpcCall) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case c.GetCmdStartInstance() != nil:
			conf, ok := startReply(f, c)
			log = append(log, fmt.Sprintf("start %v tag=%v", conf["__seq__"], conf["tag"]))
			return ok
		case c.GetCmdCloseInstance() != nil:
			log = append(log, fmt.Sprintf("close %d", c.GetCmdCloseInstance().InstanceId))
			return f.ret(c.Sequence, &kpp.RpcReturn{Return: &kpp.RpcReturn_InstanceStatus{InstanceStatus: &kpp.InstanceStatus{Name: "---"}}}) == nil
		case c.GetCmdHandleEvent() != nil:
			log = append(log, fmt.Sprintf("event %d", c.GetCmdHandleEvent().InstanceId))
			return f.write(nil) == nil && f.ret(c.Sequence, nil) == nil
		}
		return false
	})
	require.NoError(t, s.HandleEvent(ctx5s(t), &Entity{ID: "e", Config: map[string]any{"tag": "a"}}, "access", newReq()))
	require.NoError(t, s.HandleEvent(ctx5s(t), &Entity{ID: "other"}, "access", newReq()))
	require.NoError(t, s.HandleEvent(ctx5s(t), &Entity{ID: "e", Config: map[string]any{"tag": "b"}}, "access", newReq()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"start 1 tag=a", "event 1",
		"start 2 tag=<nil>", "event 2",
		"start 3 tag=b", "close 1", "event 3",
	}, log)
}

// TestCommandNotFound: a start command the shell cannot find exits 127;
// Kong logs it and keeps respawning once a second.
func TestCommandNotFound(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "d.json")
	require.NoError(t, os.WriteFile(dump, []byte(`{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"nf"}]}`), 0o600))
	logs := &logSink{}
	s, err := Start(context.Background(), Options{
		Name: "nf", QueryCmd: "cat " + dump, StartCmd: filepath.Join(dir, "missing-binary"),
		Socket: filepath.Join(dir, "nf.socket"), Logf: logs.logf,
	})
	require.NoError(t, err)
	defer s.Close()
	deadline := time.Now().Add(3 * time.Second)
	for s.Stats().Spawns < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.EqualValues(t, 2, s.Stats().Spawns)
	assert.True(t, logs.has(`exited with "command not found"`), logs.all())
	assert.ErrorContains(t, s.HandleEvent(ctx5s(t), &Entity{ID: "x"}, "access", newReq()), "trying to connect")
}
