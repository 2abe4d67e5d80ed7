package kongpdk

import (
	"testing"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

func getVar(t *testing.T, req *Request, name string) any {
	t.Helper()
	args, err := proto.Marshal(&kpp.String{V: name})
	require.NoError(t, err)
	reply, err := NewEvent(req, "access", nil, EventOptions{}).Call("kong.nginx.get_var", args)
	require.NoError(t, err)
	return reply
}

func TestGetVarServesIncludeMaps(t *testing.T) {
	text, err := fastpath.Include("CF-Connecting-IP")
	require.NoError(t, err)
	maps, err := nginxvar.ParseMaps("fast.conf", []byte(text), MapVariable)
	require.NoError(t, err)
	req := &Request{
		Vars: Vars{RemoteAddr: "203.0.113.7", RealIPRemoteAddr: "10.0.0.1", ProxyProtocolAddr: "198.51.100.2", ProxyProtocolPort: "4444"},
		Headers: []Header{
			{"Host", "kong"}, {"X-Forwarded-For", "1.1.1.1"}, {"X_Forwarded_For", "6.6.6.6"}, {"x-forwarded-for", "2.2.2.2"},
			{"X_Real_IP", "7.7.7.7"}, {"X-Real-IP", "5.5.5.5"}, {"cf-connecting-ip", "8.8.8.8"},
		},
		Maps: maps,
	}
	want := "cig1\n1.25.3\n10.0.0.1\n203.0.113.7\n198.51.100.2\n4444\n1.1.1.1, 2.2.2.2\n7.7.7.7, 5.5.5.5\n\ncf-connecting-ip\n8.8.8.8"
	assert.Equal(t, &kpp.String{V: want}, getVar(t, req, fastpath.Variable))

	// volatile: a later read sees the headers a plugin changed.
	req.Headers = clearHeader(req.Headers, "x-forwarded-for")
	want = "cig1\n1.25.3\n10.0.0.1\n203.0.113.7\n198.51.100.2\n4444\n\n7.7.7.7, 5.5.5.5\n\ncf-connecting-ip\n8.8.8.8"
	assert.Equal(t, &kpp.String{V: want}, getVar(t, req, fastpath.Variable))

	// Without the include the variable is undefined: ngx.var[name] is nil,
	// a zero-length reply that go-pdk reads as "".
	req.Maps = nil
	assert.Nil(t, getVar(t, req, fastpath.Variable))
}

func TestMapVariable(t *testing.T) {
	for _, name := range []string{"nginx_version", "remote_addr", "realip_remote_addr", "proxy_protocol_addr", "proxy_protocol_port", "http_x_forwarded_for", "http_cf_connecting_ip"} {
		assert.True(t, MapVariable(name), name)
	}
	for _, name := range []string{"http_", "remote_port", "upstream_addr", "client_ip_guard_facts", "binary_remote_addr"} {
		assert.False(t, MapVariable(name), name)
	}
}
