package pluginsrv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// event is one HandleEvent in progress: the PDK's view of it and the
// server it runs on.
type event struct {
	s     *Server
	pdk   *kongpdk.Event
	req   *kongpdk.Request
	calls int
}

// newEvent starts an event on s; snap is nil except in the log phase.
func (s *Server) newEvent(req *kongpdk.Request, phase string, snap *kongpdk.Snapshot) *event {
	return &event{s: s, req: req, pdk: kongpdk.NewEvent(req, phase, snap, kongpdk.EventOptions{
		NodeID: s.nodeID, WorkspaceID: s.opts.WorkspaceID, Logf: s.opts.Logf,
	})}
}

// ErrMethodNotFound is wrapped by the error of an event whose plugin
// called a PDK method Kong's table does not have.
var ErrMethodNotFound = kongpdk.ErrMethodNotFound

// ErrClosed is wrapped by errors for a connection the plugin server
// closed while Kong was reading from it — Kong's "closed",
// which makes it drop the plugin's instances and retry the event.
var ErrClosed = errors.New("closed")

// call answers one PDK call. name aliases the connection's read
// buffer and is only valid until args is read, so it is resolved first
// (without allocating for a known method).
func (ev *event) call(c *conn, name []byte) error {
	mname := kongpdk.InternName(name)
	args, err := c.readFrame()
	if err != nil {
		return readErr(err)
	}
	ev.calls++
	ev.s.stats.calls.Add(1)
	ev.req.Lock()
	reply, err := ev.pdk.Call(mname, args)
	var frame []byte
	if err == nil {
		// Encoded under the lock: a reply may alias request state.
		frame, err = c.encodeFrame(reply)
	}
	ev.req.Unlock()
	if err != nil {
		return err
	}
	if err := c.writeRaw(frame); err != nil {
		return fmt.Errorf("writing reply: %w", err)
	}
	return nil
}

// encodeFrame builds a PDK reply frame in c.wb: nil is the zero-length
// frame (Lua nil), []byte is sent verbatim, a proto.Message is marshalled
// and an kongpdk.AppendReply encodes itself.
func (c *conn) encodeFrame(reply any) ([]byte, error) {
	b := c.beginFrame()
	switch r := reply.(type) {
	case nil:
	case []byte:
		b = append(b, r...)
	case kongpdk.AppendReply:
		b = r(b)
	case proto.Message:
		var err error
		if b, err = (proto.MarshalOptions{}).MarshalAppend(b, r); err != nil {
			return nil, kongpdk.EncodeError("encoding reply: %v", err)
		}
	default:
		return nil, kongpdk.EncodeError("internal: reply of type %T", reply)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-4))
	c.wb = b
	return b, nil
}

// readErr classifies a read error as Kong's cosocket would report it:
// the peer's orderly close is "closed" (which Kong retries); a reset
// ("connection reset by peer") or a timeout is not.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return err
}
