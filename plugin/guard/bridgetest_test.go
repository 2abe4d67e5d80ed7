package guard_test

import (
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	"github.com/Kong/go-pdk/bridge/bridgetest"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// runBridgetest plays a conversation with go-pdk's own scripted mock,
// which compares every call's arguments byte for byte, and checks that the
// plugin made exactly the scripted calls.
func runBridgetest(t *testing.T, cfg *guard.Config, script []bridgetest.MockStep) {
	t.Helper()
	conn := &wire{Conn: bridgetest.Mock(t, script)}
	cfg.Access(pdk.Init(conn))
	want := make([]string, len(script))
	for i, s := range script {
		want[i] = s.Method
	}
	if !assert.Equal(t, want, conn.Attempted(), "PDK calls") {
		// Unblock the mock so it reports its view before the test ends.
		_ = conn.Close()
		time.Sleep(100 * time.Millisecond)
	}
	_ = conn.Close()
}

func wrapHeaders(t *testing.T, h map[string][]string) *structpb.Struct {
	st, err := bridge.WrapHeaders(h)
	require.NoError(t, err)
	return st
}

func TestBridgetestConversations(t *testing.T) {
	empty := &emptypb.Empty{}
	maxHeaders := &kong_plugin_protocol.Int{V: guard.MaxHeaders}

	t.Run("direct client, default config", func(t *testing.T) {
		runBridgetest(t, config(t, `{}`), []bridgetest.MockStep{
			{Method: "kong.client.get_ip", Args: empty, Ret: bridge.WrapString(direct)},
			{Method: "kong.request.get_headers", Args: maxHeaders, Ret: wrapHeaders(t, hs{"accept": {"*/*"}})},
			{Method: "kong.client.get_forwarded_ip", Args: empty, Ret: bridge.WrapString(direct)},
		})
	})

	t.Run("trusted LB, recursive X-Forwarded-For, upstream header", func(t *testing.T) {
		runBridgetest(t, config(t, confXFFRec+`,"upstream_header":"X-Client-IP"}`), []bridgetest.MockStep{
			{Method: "kong.client.get_ip", Args: empty, Ret: bridge.WrapString(lb)},
			{Method: "kong.request.get_headers", Args: maxHeaders, Ret: wrapHeaders(t, hs{"x-forwarded-for": {client + ", 10.0.0.2"}})},
			{Method: "kong.client.get_forwarded_ip", Args: empty, Ret: bridge.WrapString(client)},
			{Method: "kong.service.request.set_header", Args: &kong_plugin_protocol.KV{K: "X-Client-IP", V: structpb.NewStringValue(client)}},
		})
	})

	t.Run("PROXY protocol", func(t *testing.T) {
		runBridgetest(t, config(t, confPP+`}`), []bridgetest.MockStep{
			{Method: "kong.client.get_ip", Args: empty, Ret: bridge.WrapString(lb)},
			{Method: "kong.request.get_headers", Args: maxHeaders, Ret: wrapHeaders(t, hs{})},
			{Method: "kong.client.get_forwarded_ip", Args: empty, Ret: bridge.WrapString(client)},
			{Method: "kong.nginx.get_var", Args: bridge.WrapString("proxy_protocol_addr"), Ret: bridge.WrapString(client)},
			{Method: "kong.nginx.get_var", Args: bridge.WrapString("proxy_protocol_port"), Ret: bridge.WrapString("5555")},
		})
	})

	t.Run("denied in enforce: record, then exit", func(t *testing.T) {
		r := rec(func(r *record.Record) {
			r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
			r.Source = "X-Forwarded-For"
			r.Chain = []string{client}
			r.Verdict, r.Reasons = "denied", []string{verdict.ReasonDenyListed}
			r.Action, r.Mode = record.ActionRejected, guardconf.ModeEnforce
		})
		line, err := structpb.NewList([]any{string(r.JSON())})
		require.NoError(t, err)
		runBridgetest(t, config(t, confXFF+`,"deny":["198.51.100.7"],"mode":"enforce","status":429,"message":"slow down"}`), []bridgetest.MockStep{
			{Method: "kong.client.get_ip", Args: empty, Ret: bridge.WrapString(lb)},
			{Method: "kong.request.get_headers", Args: maxHeaders, Ret: wrapHeaders(t, hs{"x-forwarded-for": {client}})},
			{Method: "kong.client.get_forwarded_ip", Args: empty, Ret: bridge.WrapString(client)},
			{Method: "kong.log.notice", Args: line},
			{Method: "kong.response.exit", Args: &kong_plugin_protocol.ExitArgs{
				Status:  429,
				Body:    []byte(`{"message":"slow down"}`),
				Headers: wrapHeaders(t, hs{"Content-Type": {"application/json; charset=utf-8"}}),
			}},
		})
	})
}
