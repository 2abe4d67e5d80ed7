package pluginsrv

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestExitIsNeverAnswered: kong.response.exit is recorded, not answered;
// the connection is dropped, the plugin's later calls fail, the event
// still succeeds, and the next event works on a new connection.
func TestExitIsNeverAnswered(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	e := &Entity{ID: "exit", Config: map[string]any{"access_ops": "exit:403=denied;ip"}}
	req := newReq()
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", req))
	require.NotNil(t, req.Exit)
	assert.Equal(t, 403, req.Exit.Status)
	assert.Equal(t, "denied", string(req.Exit.Body))
	assert.Equal(t, map[string][]string{"X-Exit": {"yes"}}, req.Exit.Headers)
	assert.Equal(t, []string{"kong.request.get_header", "kong.response.exit"}, req.Calls["access"])
	assert.Nil(t, req.Shared["results"])

	dials := s.Stats().Dials
	req2 := newReq()
	e2 := &Entity{ID: "exit2", Config: map[string]any{"access_ops": "ip"}}
	require.NoError(t, s.HandleEvent(ctx5s(t), e2, "access", req2))
	assert.Equal(t, []string{"10.0.0.7"}, probeResults(t, req2))
	assert.Equal(t, dials+1, s.Stats().Dials, "the exited connection is dropped, not pooled")
	assert.Nil(t, req2.Exit)
}

// TestExitBadStatus: Kong refuses a status outside 100..599 with a Lua
// error.
func TestExitBadStatus(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	req := newReq()
	err := s.HandleEvent(ctx5s(t), &Entity{ID: "x", Config: map[string]any{"access_ops": "exit:700=x"}}, "access", req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "between 100 and 599")
	assert.Nil(t, req.Exit)
}

// TestUnknownMethod: a method Kong's table lacks aborts the RPC without a
// reply; the event fails (Kong: "pluginserver error", 500) and is not
// retried; the server keeps working.
func TestUnknownMethod(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	req := newReq()
	err := s.HandleEvent(ctx5s(t), &Entity{ID: "u", Config: map[string]any{"access_ops": "raw:kong.no.such_method;ip"}}, "access", req)
	require.ErrorIs(t, err, ErrMethodNotFound)
	assert.Contains(t, err.Error(), `"kong.no.such_method"`)
	assert.Equal(t, []string{"kong.request.get_header", "kong.no.such_method"}, req.Calls["access"])
	assert.EqualValues(t, 0, s.Stats().Retries)
	assert.EqualValues(t, 1, s.Stats().EventErrors)

	req2 := newReq()
	require.NoError(t, s.HandleEvent(ctx5s(t), &Entity{ID: "u2", Config: map[string]any{"access_ops": "ip"}}, "access", req2))
	assert.Equal(t, []string{"10.0.0.7"}, probeResults(t, req2))
}

// TestLogPhaseSnapshot: the log phase runs from the snapshot; calls
// plugin.lua answers from it work, calls needing the live request fail
// the (asynchronous) event.
func TestLogPhaseSnapshot(t *testing.T) {
	s, logs := startPlugin(t, "pdkprobe")
	const snapOps = "header:x-test;headers:-1;sget:from_access;getctx:c;rstatus;rheader:x-exit;rsource;starttime;route;nodeid;log:info=in log;serialize;rheaders:-1"
	e := &Entity{ID: "log", RouteID: "r1", Config: map[string]any{
		"access_ops": "sset:from_access=yes;setctx:c=ctxval;ssv:extra.k=v;exit:418=teapot",
		"log_ops":    snapOps,
	}}
	req := newReq()
	req.RouteID, req.RouteName = "r1", "rn"
	req.Headers = append(req.Headers, kongpdk.Header{Name: "Authorization", Value: "secret"})
	require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", req))
	require.NotNil(t, req.Exit)

	done := make(chan error, 1)
	s.HandleLogAsync(e, req, func(err error) { done <- err })
	// The snapshot is taken before HandleLogAsync returns: later changes
	// to the request do not show.
	req.Lock()
	req.Headers = append(req.Headers, kongpdk.Header{Name: "X-Late", Value: "1"})
	req.Unlock()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("log phase did not finish")
	}
	got := probeResults(t, req)
	require.Len(t, got, 13)
	assert.Equal(t, `{"x-exit":["yes"]}`, got[12])
	assert.Equal(t, "one", got[0])
	assert.Equal(t, `{"authorization":["secret"],"host":["example.com"],"user-agent":["t"],"x-test":["one","two"]}`, got[1])
	assert.Equal(t, []string{"yes", "ctxval", "418", "yes", "exit", "1.7000000005e+09", "r1/rn", s.nodeID, "ok"}, got[2:11])
	var ser map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[11]), &ser))
	assert.Equal(t, "10.0.0.7", ser["client_ip"])
	assert.Equal(t, map[string]any{"k": "v"}, ser["extra"])
	assert.Equal(t, "kong", ser["source"])
	assert.Equal(t, "REDACTED", ser["request"].(map[string]any)["headers"].(map[string]any)["authorization"])
	assert.Equal(t, float64(418), ser["response"].(map[string]any)["status"])
	assert.Contains(t, got[11], `"uri":"\/p?a=1&a=2&flag&e="`, "cjson escapes slashes")
	assert.Equal(t, map[string]any{"c": "ctxval"}, req.NgxCtx, "set_ctx in access reached ngx.ctx")
	assert.True(t, logs.has("[info] [kong] pb_rpc.lua:233 in log, context: ngx.timer"), logs.all())

	for _, op := range []string{"ip", "port", "path", "method", "var:remote_addr", "query:-1", "rset:X-A=1", "sreqset:X-A=1", "exit:200=x"} {
		t.Run("live "+op, func(t *testing.T) {
			e := &Entity{ID: "log-" + op, Config: map[string]any{"log_ops": op}}
			req := newReq()
			err := s.HandleEvent(ctx5s(t), e, "log", req)
			require.Error(t, err)
			assert.Nil(t, req.Shared["results"])
			assert.Len(t, req.Calls["log"], 1)
		})
	}
}
