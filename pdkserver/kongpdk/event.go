package kongpdk

import (
	"errors"
	"fmt"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// Event is one plugin event as the PDK sees it: the request it answers
// for, the phase, and for the log phase the snapshot Kong's timer works
// from.
type Event struct {
	req   *Request
	phase string
	pbit  phaseMask
	snap  *Snapshot // non-nil in the log phase

	nodeID, workspaceID string
	logf                func(string, ...any)
}

// EventOptions are what the plugin server contributes to an event.
type EventOptions struct {
	// NodeID answers kong.node.get_id.
	NodeID string
	// WorkspaceID is the workspace kong.log.serialize() reports.
	WorkspaceID string
	// Logf receives the lines Kong writes to its error log (nil: none).
	Logf func(string, ...any)
}

// NewEvent starts an event for req in phase; snap is nil except in the log
// phase.
func NewEvent(req *Request, phase string, snap *Snapshot, o EventOptions) *Event {
	return &Event{req: req, phase: phase, pbit: phaseBits(phase), snap: snap,
		nodeID: o.NodeID, workspaceID: o.WorkspaceID, logf: o.Logf}
}

// Phase is the event's phase name.
func (ev *Event) Phase() string { return ev.phase }

// luaError is a Lua error raised inside a PDK function in Kong. Kong does
// not catch it in the RPC loop: the request (or the log timer) fails and
// the plugin's socket is closed without a reply.
type luaError struct{ msg string }

func (e *luaError) Error() string { return e.msg }

func luaErrorf(format string, args ...any) error {
	return &luaError{msg: fmt.Sprintf(format, args...)}
}

// ErrExit is returned by kong.response.exit: Kong never answers it.
var ErrExit = errors.New("kong.response.exit")

// ErrMethodNotFound is wrapped by the error of an event whose plugin
// called a PDK method Kong's table does not have.
var ErrMethodNotFound = errors.New("method not found")

// Call answers one PDK call by its wire name, as pb_rpc.lua's call_pdk
// does (kong/runloop/plugin_servers/rpc/pb_rpc.lua:218-243 at 3.9.3): the
// method table (:219-222), the log timer's calls answered from the saved
// request (plugin.lua:38-140) or refused by the timer, the PDK's phase check
// (kong/pdk/private/phases.lua:91), then the handler. It records the call in Request.Calls. The reply is nil
// (a zero-length frame, Lua nil), []byte sent verbatim, an AppendReply, or
// a proto.Message. The caller holds the request's lock (Request.Lock)
// until the reply is encoded: a reply may alias request state.
func (ev *Event) Call(name string, args []byte) (any, error) {
	m := methods[name]
	mname := name
	if m != nil {
		mname = m.name
	}
	req := ev.req
	if req.Calls == nil {
		req.Calls = make(map[string][]string, 2)
	}
	req.Calls[ev.phase] = append(req.Calls[ev.phase], mname)
	switch {
	case m == nil:
		// pb_rpc.lua:221 (3.9.3): `method "x" not found`; Rpc:call
		// returns the error without writing a reply.
		return nil, fmt.Errorf("%w: %q", ErrMethodNotFound, mname)
	case m.fn == nil:
		return nil, luaErrorf("%s is not emulated by pdkserver", mname)
	case ev.snap != nil && m.live:
		return nil, luaErrorf("%s: API disabled in the context of ngx.timer", mname)
	case m.phases&ev.pbit == 0:
		return nil, luaErrorf("%s: function cannot be called in %s phase", mname, ev.phase)
	}
	return m.fn(ev, args)
}

// EncodeError is the Lua error for a reply that cannot be encoded.
func EncodeError(format string, args ...any) error { return luaErrorf(format, args...) }

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
