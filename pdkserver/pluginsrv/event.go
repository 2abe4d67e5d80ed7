package pluginsrv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// event is one HandleEvent in progress: the request it answers for, the
// phase, and for the log phase the snapshot Kong's timer works from.
type event struct {
	s     *Server
	req   *Request
	phase string
	pbit  phaseMask
	snap  *snapshot // non-nil in the log phase
	calls int
}

// luaError is a Lua error raised inside a PDK function in Kong. Kong does
// not catch it in the RPC loop: the request (or the log timer) fails and
// the plugin's socket is closed without a reply.
type luaError struct{ msg string }

func (e *luaError) Error() string { return e.msg }

func luaErrorf(format string, args ...any) error {
	return &luaError{msg: fmt.Sprintf(format, args...)}
}

// errExit is returned by kong.response.exit: Kong never answers it.
var errExit = errors.New("kong.response.exit")

// ErrMethodNotFound is wrapped by the error of an event whose plugin
// called a PDK method Kong's table does not have.
var ErrMethodNotFound = errors.New("method not found")

// ErrClosed is wrapped by errors for a connection the plugin server
// closed while Kong was reading from it — Kong's "closed",
// which makes it drop the plugin's instances and retry the event.
var ErrClosed = errors.New("closed")

// call answers one PDK call. name aliases the connection's read
// buffer and is only valid until args is read, so it is resolved first.
func (ev *event) call(c *conn, name []byte) error {
	m := methods[string(name)]
	var mname string
	if m != nil {
		mname = m.name
	} else {
		mname = string(name)
	}
	args, err := c.readFrame()
	if err != nil {
		return readErr(err)
	}
	ev.calls++
	ev.s.stats.calls.Add(1)
	req := ev.req
	req.mu.Lock()
	if req.Calls == nil {
		req.Calls = make(map[string][]string, 2)
	}
	req.Calls[ev.phase] = append(req.Calls[ev.phase], mname)
	var reply any
	switch {
	case m == nil:
		// pb_rpc.lua call_pdk: `method "x" not found`; Rpc:call returns
		// the error without writing a reply.
		err = fmt.Errorf("%w: %q", ErrMethodNotFound, mname)
	case m.fn == nil:
		err = luaErrorf("%s is not emulated by pdkserver", mname)
	case ev.snap != nil && m.live:
		err = luaErrorf("%s: API disabled in the context of ngx.timer", mname)
	case m.phases&ev.pbit == 0:
		err = luaErrorf("%s: function cannot be called in %s phase", mname, ev.phase)
	default:
		reply, err = m.fn(ev, args)
	}
	var frame []byte
	if err == nil {
		// Encoded under the lock: a reply may alias request state.
		frame, err = c.encodeFrame(reply)
	}
	req.mu.Unlock()
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
// and an appendReply encodes itself.
func (c *conn) encodeFrame(reply any) ([]byte, error) {
	b := c.beginFrame()
	switch r := reply.(type) {
	case nil:
	case []byte:
		b = append(b, r...)
	case appendReply:
		b = r(b)
	case proto.Message:
		var err error
		if b, err = (proto.MarshalOptions{}).MarshalAppend(b, r); err != nil {
			return nil, luaErrorf("encoding reply: %v", err)
		}
	default:
		return nil, luaErrorf("internal: reply of type %T", reply)
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

// decode unmarshals args into m; a decode failure is Kong's
// assert(pb.decode(...)) — a Lua error.
func decode(args []byte, m proto.Message) error {
	if err := proto.Unmarshal(args, m); err != nil {
		return luaErrorf("decoding arguments: %v", err)
	}
	return nil
}

// Reply helpers; Kong wraps a Lua nil as no reply at all (empty frame).
func replyString(s string) any { return &kpp.String{V: s} }
func replyInt(n int) any       { return &kpp.Int{V: int32(n)} }
func replyNumber(f float64) any {
	return &kpp.Number{V: f}
}
func replyBool(b bool) any { return &kpp.Bool{V: b} }

// argString decodes a String argument.
func argString(args []byte) (string, error) {
	var s kpp.String
	if err := decode(args, &s); err != nil {
		return "", err
	}
	return s.V, nil
}
