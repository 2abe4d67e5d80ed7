package guard_test

// Kong's side of a plugin conversation, for handler tests. The framing is
// the plugin socket's: every message is a little-endian uint32 length and
// that many bytes; a PDK call is a method-name frame and an arguments
// frame from the plugin, answered by one reply frame.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
)

func readFrame(r io.Reader) ([]byte, error) {
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeFrame(w io.Writer, b []byte) error {
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if len(b) > 0 {
		_, err := w.Write(b)
		return err
	}
	return nil
}

// wire is the plugin's end of the socket. It notes every PDK call the
// plugin attempts, including those that fail because the connection is
// gone (after kong.response.exit, for instance), so a test sees calls the
// Kong side never could.
type wire struct {
	net.Conn
	mu    sync.Mutex
	frame int // frames started since the last call began
	want  int // body bytes expected for the current frame, 0 when a header is next
	calls []string
}

func (w *wire) Write(p []byte) (int, error) {
	w.mu.Lock()
	method := w.frame%2 == 0
	if w.want == 0 {
		if method {
			w.calls = append(w.calls, "?")
		}
		if len(p) == 4 {
			w.want = int(binary.LittleEndian.Uint32(p))
		}
		if w.want == 0 {
			w.frame++
		}
	} else {
		if method {
			w.calls[len(w.calls)-1] = string(p)
		}
		w.want = 0
		w.frame++
	}
	w.mu.Unlock()
	n, err := w.Conn.Write(p)
	if err != nil {
		// go-pdk abandons the call; the next write starts a new one.
		w.mu.Lock()
		w.frame, w.want = 0, 0
		w.mu.Unlock()
	}
	return n, err
}

// Attempted returns the method names of every call the plugin attempted
// ("?" when even the name could not be written).
func (w *wire) Attempted() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// step is one PDK call Kong expects, and its answer.
type step struct {
	method string
	// args, when set, must match the call's arguments byte for byte (only
	// for messages whose encoding is deterministic: no maps of >1 key).
	args proto.Message
	// check, when set, decodes and inspects the arguments.
	check func(t assert.TestingT, args []byte)
	// ret is the reply; nil sends an empty frame.
	ret proto.Message
	// raw, when set, is the reply's bytes as Kong sends them (for what
	// Go's protobuf runtime refuses to marshal).
	raw []byte
	// noReply closes the connection instead of answering, as Kong does
	// for kong.response.exit.
	noReply bool
}

// errs collects assertion failures from the Kong goroutine; finish
// reports them on the test's goroutine.
type errs struct {
	mu  sync.Mutex
	msg []string
}

func (e *errs) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msg = append(e.msg, fmt.Sprintf(format, args...))
}

// conversation plays Kong for one event.
type conversation struct {
	steps  []step
	plugin *wire
	kong   net.Conn
	done   chan struct{}
	errs   errs
	ran    int // steps whose call arrived
}

func script(steps ...step) *conversation {
	a, b := net.Pipe()
	c := &conversation{steps: steps, plugin: &wire{Conn: a}, kong: b, done: make(chan struct{})}
	go c.serve()
	return c
}

func (c *conversation) serve() {
	defer close(c.done)
	defer c.kong.Close()
	for i := 0; ; i++ {
		m, err := readFrame(c.kong)
		if err != nil {
			return // the plugin closed its end
		}
		a, err := readFrame(c.kong)
		if err != nil {
			c.errs.Errorf("call %d (%s): reading arguments: %v", i, m, err)
			return
		}
		if i >= len(c.steps) {
			c.errs.Errorf("unexpected call %d: %s", i, m)
			return
		}
		st := c.steps[i]
		c.ran++
		if string(m) != st.method {
			c.errs.Errorf("call %d: got %s, want %s", i, m, st.method)
			return
		}
		if st.args != nil {
			want, err := proto.Marshal(st.args)
			if err != nil {
				c.errs.Errorf("call %d: marshal: %v", i, err)
				return
			}
			if !bytes.Equal(want, a) {
				c.errs.Errorf("call %d (%s): args %x, want %x (%v)", i, m, a, want, st.args)
			}
		}
		if st.check != nil {
			st.check(&c.errs, a)
		}
		if st.noReply {
			return
		}
		out := st.raw
		if st.ret != nil {
			if out, err = proto.Marshal(st.ret); err != nil {
				c.errs.Errorf("call %d: marshal reply: %v", i, err)
				return
			}
		}
		if err := writeFrame(c.kong, out); err != nil {
			c.errs.Errorf("call %d (%s): writing reply: %v", i, m, err)
			return
		}
	}
}

// pdk is the PDK the handler gets.
func (c *conversation) pdk() *pdk.PDK { return pdk.Init(c.plugin) }

// finish ends the event and checks that the plugin made exactly the
// scripted calls: every step consumed, nothing extra, nothing attempted
// after the connection closed. It returns the attempted call count.
func (c *conversation) finish(t testing.TB) int {
	t.Helper()
	_ = c.plugin.Close()
	<-c.done
	for _, m := range c.errs.msg {
		t.Error(m)
	}
	want := make([]string, len(c.steps))
	for i, s := range c.steps {
		want[i] = s.method
	}
	got := c.plugin.Attempted()
	assert.Equal(t, len(c.steps), c.ran, "scripted steps consumed")
	if len(want)+len(got) > 0 {
		assert.Equal(t, want, got, "PDK calls attempted by the plugin")
	}
	return len(got)
}

// run handles one access event on cfg with Kong playing steps.
func run(t testing.TB, cfg *guard.Config, steps ...step) int {
	t.Helper()
	c := script(steps...)
	cfg.Access(c.pdk())
	return c.finish(t)
}

// config decodes a plugin config as go-pdk does for StartInstance, for an
// instance bound to a service (testService), unless js names its own
// scope: such instances judge in the access phase.
func config(t testing.TB, js string) *guard.Config {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(js), &m))
	_, r := m["route_id"]
	_, s := m["service_id"]
	_, c := m["consumer_id"]
	if !r && !s && !c {
		m["service_id"] = testService
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return globalConfig(t, string(b))
}

// testService is the service_id config gives instances.
const testService = "svc-1"

// globalConfig decodes js as is: with no scope keys, a global instance,
// which Kong runs in the rewrite phase.
func globalConfig(t testing.TB, js string) *guard.Config {
	t.Helper()
	c, ok := guard.New().(*guard.Config)
	require.True(t, ok)
	require.NoError(t, json.Unmarshal([]byte(js), c))
	return c
}

// Replies and steps for the calls the guard makes.

func str(s string) *kong_plugin_protocol.String { return &kong_plugin_protocol.String{V: s} }

// kongHeaders builds kong.request.get_headers' reply as Kong does: a single
// line is a string, repeated lines a list.
func kongHeaders(h map[string][]string) *structpb.Struct {
	st := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, vs := range h {
		if len(vs) == 1 {
			st.Fields[k] = structpb.NewStringValue(vs[0])
			continue
		}
		l := &structpb.ListValue{}
		for _, v := range vs {
			l.Values = append(l.Values, structpb.NewStringValue(v))
		}
		st.Fields[k] = structpb.NewListValue(l)
	}
	return st
}

func getIP(peer string) step {
	return step{method: "kong.client.get_ip", args: &emptypb.Empty{}, ret: str(peer)}
}

func getHeaders(h map[string][]string) step {
	return step{method: "kong.request.get_headers", args: &kong_plugin_protocol.Int{V: guard.MaxHeaders}, ret: kongHeaders(h)}
}

// rawHeader is kong.request.get_headers' reply for one header line, with
// its bytes as lua-protobuf writes them: no UTF-8 check.
func rawHeader(name, value string) []byte {
	val := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), value) // Value.string_value
	entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), name)
	entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), val)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), entry) // Struct.fields
}

func getForwardedIP(addr string) step {
	return step{method: "kong.client.get_forwarded_ip", args: &emptypb.Empty{}, ret: str(addr)}
}

// gather is the three calls every event starts with.
func gather(peer string, h map[string][]string, kongAddr string) []step {
	return []step{getIP(peer), getHeaders(h), getForwardedIP(kongAddr)}
}

func getVar(name, val string) step {
	return step{method: "kong.nginx.get_var", args: str(name), ret: str(val)}
}

func getPort(p int32) step {
	return step{method: "kong.client.get_port", args: &emptypb.Empty{}, ret: &kong_plugin_protocol.Int{V: p}}
}

func clearHeader(name string) step {
	return step{method: "kong.service.request.clear_header", args: str(name)}
}

func setHeader(name, val string) step {
	return step{method: "kong.service.request.set_header", args: &kong_plugin_protocol.KV{K: name, V: structpb.NewStringValue(val)}}
}

// decodeRecord reads a record from its JSON text, refusing unknown fields.
func decodeRecord(t assert.TestingT, b []byte) (record.Record, bool) {
	var r record.Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Errorf("record %s: %v", b, err)
		return r, false
	}
	return r, true
}

// notice expects the record through kong.log.notice: one string argument,
// the record's JSON, equal to want.
func notice(want record.Record) step {
	return step{method: "kong.log.notice", check: func(t assert.TestingT, a []byte) {
		if got, ok := decodeNotice(t, a); ok {
			assert.Equal(t, want, got)
		}
	}}
}

// decodeNotice reads kong.log.notice's arguments: exactly one string, the
// record's JSON on one line.
func decodeNotice(t assert.TestingT, a []byte) (record.Record, bool) {
	var l structpb.ListValue
	if !assert.NoError(t, proto.Unmarshal(a, &l)) || !assert.Len(t, l.Values, 1, "one argument") {
		return record.Record{}, false
	}
	s, ok := l.Values[0].Kind.(*structpb.Value_StringValue)
	if !assert.True(t, ok, "a string argument") {
		return record.Record{}, false
	}
	assert.NotContains(t, s.StringValue, "\n", "one line")
	return decodeRecord(t, []byte(s.StringValue))
}

// serialized expects the record through kong.log.set_serialize_value.
func serialized(want record.Record) step {
	return step{method: "kong.log.set_serialize_value", check: func(t assert.TestingT, a []byte) {
		var kv kong_plugin_protocol.KV
		if !assert.NoError(t, proto.Unmarshal(a, &kv)) {
			return
		}
		assert.Equal(t, guard.SerializeKey, kv.K)
		st := kv.V.GetStructValue()
		if !assert.NotNil(t, st, "a struct value") {
			return
		}
		b, err := json.Marshal(st.AsMap())
		if !assert.NoError(t, err) {
			return
		}
		if got, ok := decodeRecord(t, b); ok {
			assert.Equal(t, want, got)
		}
	}}
}

// logErr expects kong.log.err with a message containing every part.
func logErr(parts ...string) step {
	return step{method: "kong.log.err", check: func(t assert.TestingT, a []byte) {
		var l structpb.ListValue
		if !assert.NoError(t, proto.Unmarshal(a, &l)) {
			return
		}
		var msg strings.Builder
		for _, v := range l.Values {
			msg.WriteString(v.GetStringValue())
		}
		for _, p := range parts {
			assert.Contains(t, msg.String(), p)
		}
	}}
}

// exit expects kong.response.exit with status and a JSON body carrying
// message; like Kong, it never answers.
func exit(status int32, message string) step {
	return step{method: "kong.response.exit", noReply: true, check: func(t assert.TestingT, a []byte) {
		var x kong_plugin_protocol.ExitArgs
		if !assert.NoError(t, proto.Unmarshal(a, &x)) {
			return
		}
		assert.Equal(t, status, x.Status)
		var body struct {
			Message string `json:"message"`
		}
		if assert.NoError(t, json.Unmarshal(x.Body, &body), "body %q is JSON", x.Body) {
			assert.Equal(t, message, body.Message)
		}
		h := x.Headers.AsMap()
		assert.Equal(t, map[string]any{"Content-Type": []any{"application/json; charset=utf-8"}}, h)
	}}
}

func steps(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch x := p.(type) {
		case step:
			out = append(out, x)
		case []step:
			out = append(out, x...)
		default:
			panic(fmt.Sprintf("steps: %T", p))
		}
	}
	return out
}
