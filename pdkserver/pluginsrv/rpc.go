package pluginsrv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// defaultTimeout is the cosocket timeout Kong uses towards plugin servers
// (lua_socket_read_timeout / send_timeout default, 60 s); it bounds an
// RPC whose context has no earlier deadline.
const defaultTimeout = 60 * time.Second

// pastDeadline unblocks pending I/O at once.
var pastDeadline = time.Unix(1, 0)

// rpc performs one RpcCall as pb_rpc.lua's Rpc:call does: connect (or
// reuse a pooled connection), send the call, run the PDK loop for an
// event, read the RpcReturn, check its sequence and return the
// connection to the pool. Any failure closes the connection.
func (s *Server) rpc(ctx context.Context, call *kpp.RpcCall, ev *event) (*kpp.RpcReturn, error) {
	// Kong's quirk: msg_id is incremented, then the value sent is one more.
	call.Sequence = s.msgID.Add(1) + 1
	for tries := 0; ; tries++ {
		c, reused, err := s.acquire(ctx)
		if err != nil {
			return nil, err
		}
		ret, err := s.rpcOn(ctx, c, call, ev)
		if err == nil {
			s.pool.put(c)
			return ret, nil
		}
		c.close()
		if errors.Is(err, errStaleConn) && reused && tries < maxIdle {
			continue // nginx would already have dropped it from the pool
		}
		if errors.Is(err, kongpdk.ErrExit) {
			return nil, err
		}
		if ce := ctxErr(ctx, err); ce != nil {
			return nil, fmt.Errorf("%w (%v)", ce, err)
		}
		return nil, err
	}
}

// ctxErr reports the context error behind an I/O failure; the socket
// deadline (set to the context's) may fire before ctx.Done is closed.
func ctxErr(ctx context.Context, ioErr error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(ioErr, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// errStaleConn marks a failure to send on a pooled connection whose peer
// is already gone.
var errStaleConn = errors.New("stale pooled connection")

func (s *Server) rpcOn(ctx context.Context, c *conn, call *kpp.RpcCall, ev *event) (*kpp.RpcReturn, error) {
	dl := time.Now().Add(defaultTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	if err := c.setDeadline(dl); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.setDeadline(pastDeadline) })
	defer stop()

	b := c.beginFrame()
	b, err := proto.MarshalOptions{}.MarshalAppend(b, call)
	if err != nil {
		return nil, fmt.Errorf("encoding RpcCall: %w", err)
	}
	if err := c.finishFrame(b); err != nil {
		if isBrokenPipe(err) {
			return nil, fmt.Errorf("%w: %v", errStaleConn, err)
		}
		return nil, fmt.Errorf("sending RpcCall: %w", err)
	}
	for ev != nil {
		name, err := c.readFrame()
		if err != nil {
			return nil, readErr(err)
		}
		if len(name) == 0 {
			break // the handler returned
		}
		if err := ev.call(c, name); err != nil {
			return nil, err
		}
	}
	msg, err := c.readFrame()
	if err != nil {
		return nil, readErr(err)
	}
	ret := new(kpp.RpcReturn)
	if err := proto.Unmarshal(msg, ret); err != nil {
		return nil, fmt.Errorf("decoding RpcReturn: %w", err)
	}
	if ret.Sequence != call.Sequence {
		return nil, fmt.Errorf("RpcReturn sequence %d, want %d", ret.Sequence, call.Sequence)
	}
	return ret, nil
}

// startInstance is Rpc:call_start_instance.
func (s *Server) startInstance(ctx context.Context, config []byte) (int32, error) {
	ret, err := s.rpc(ctx, &kpp.RpcCall{Call: &kpp.RpcCall_CmdStartInstance{
		CmdStartInstance: &kpp.CmdStartInstance{Name: s.info.Name, Config: config},
	}}, nil)
	if err != nil {
		return 0, err
	}
	st := ret.GetInstanceStatus()
	if st == nil {
		return 0, errors.New("StartInstance returned no instance status")
	}
	s.stats.instanceStarts.Add(1)
	return st.InstanceId, nil
}

// closeInstance is Rpc:call_close_instance; Kong ignores its result.
func (s *Server) closeInstance(ctx context.Context, id int32) {
	_, err := s.rpc(ctx, &kpp.RpcCall{Call: &kpp.RpcCall_CmdCloseInstance{
		CmdCloseInstance: &kpp.CmdCloseInstance{InstanceId: id},
	}}, nil)
	if err == nil {
		s.stats.instanceCloses.Add(1)
	}
}

// handleEventOnce sends CmdHandleEvent and serves the plugin's PDK calls.
// A kong.response.exit ends it successfully, its connection dropped.
func (s *Server) handleEventOnce(ctx context.Context, id int32, ev *event) error {
	_, err := s.rpc(ctx, &kpp.RpcCall{Call: &kpp.RpcCall_CmdHandleEvent{
		CmdHandleEvent: &kpp.CmdHandleEvent{InstanceId: id, EventName: ev.pdk.Phase()},
	}}, ev)
	if errors.Is(err, kongpdk.ErrExit) {
		return nil
	}
	return err
}
