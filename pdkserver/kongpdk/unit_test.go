package kongpdk

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestMethodTable(t *testing.T) {
	assert.Empty(t, undeclared, "handlers for names pluginsocket.proto does not declare")
	assert.Len(t, methods, 74)
	for _, tc := range []struct{ rpc, want string }{
		{"Client_GetIp", "kong.client.get_ip"},
		{"Client_GetForwardedIp", "kong.client.get_forwarded_ip"},
		{"Request_GetHttpVersion", "kong.request.get_http_version"},
		{"Nginx_GetTls1VersionStr", "kong.nginx.get_tls1_version_str"},
		{"Service_Request_SetHeader", "kong.service.request.set_header"},
		{"Log_Err", "kong.log.err"},
	} {
		assert.Equal(t, tc.want, methodName(tc.rpc, nil), tc.rpc)
		m := methods[tc.want]
		if assert.NotNil(t, m, tc.want) {
			assert.Equal(t, tc.rpc, m.rpc)
			assert.NotNil(t, m.fn, "%s is answered", tc.want)
		}
	}
	// The MethodName option wins over the derived name.
	assert.Equal(t, "Ctx_SetShared", methods["kong.ctx.shared.set"].rpc)
	assert.Equal(t, "kong_plugin_protocol.KV", string(methods["kong.ctx.shared.set"].in))
	assert.Equal(t, "google.protobuf.Value", string(methods["kong.ctx.shared.get"].out))
	for _, name := range []string{"kong.client.get_ip", "kong.request.get_path", "kong.nginx.get_var"} {
		assert.True(t, methods[name].live, "%s fails in the log timer", name)
	}
	for _, name := range []string{"kong.request.get_header", "kong.request.get_headers", "kong.log.serialize", "kong.nginx.get_ctx", "kong.ctx.shared.get", "kong.nginx.req_start_time", "kong.response.get_status"} {
		assert.False(t, methods[name].live, "%s is answered from the snapshot", name)
	}
}

func TestHeaderHelpers(t *testing.T) {
	lines := []Header{{"Host", "h"}, {"X-A", "1"}, {"Cookie", "a=1"}, {"x_a", "2"}, {"Cookie", "b=2"}}
	// kong.request.get_header: $http_x_a joins both spellings ("1, 2"), so
	// the get_headers() table decides: "X_A" is not a raw key (keys are
	// lower case), its __index form "x-a" is.
	v, ok := kongGetHeader(lines, "X_A")
	assert.True(t, ok)
	assert.Equal(t, "1", v)
	_, ok = kongGetHeader(lines, "x-b")
	assert.False(t, ok)
	j, _ := httpVar(lines, "x_a")
	assert.Equal(t, "1, 2", j)
	j, _ = httpVar(lines, "cookie")
	assert.Equal(t, "a=1; b=2", j)
	assert.Equal(t, map[string]any{"host": "h", "x-a": "1"}, headerTable(lines, 2))

	got := setHeader(append([]Header(nil), lines...), "x-a", []string{"n1", "n2"})
	assert.Equal(t, []Header{{"Host", "h"}, {"x-a", "n1"}, {"x-a", "n2"}, {"Cookie", "a=1"}, {"x_a", "2"}, {"Cookie", "b=2"}}, got)
	got = setHeader(append([]Header(nil), lines...), "New", []string{"v"})
	assert.Equal(t, Header{"New", "v"}, got[len(got)-1])
	// ngx.req.clear_header: case-insensitive only, x_a survives X-A.
	assert.Equal(t, []Header{{"Host", "h"}, {"Cookie", "a=1"}, {"x_a", "2"}, {"Cookie", "b=2"}}, clearHeader(append([]Header(nil), lines...), "X-A"))
	assert.True(t, sameHeader("X_Forwarded_For", "x-forwarded-for"))
	assert.False(t, sameHeader("X-Forwarded-For", "x-forwarded-fo"))
}

func TestQueryTable(t *testing.T) {
	assert.Equal(t, map[string]any{
		"a": []any{"1", "2"}, "flag": true, "e": "", "sp ace": "x y",
	}, queryTable("a=1&a=2&flag&e=&sp+ace=x%20y&=ignored&&", 100))
	assert.Equal(t, map[string]any{"a": "1"}, queryTable("a=1&b=2", 1))
}

func TestValues(t *testing.T) {
	// bool false unwraps to nil, as in Kong's structpb_value.
	assert.Nil(t, unwrapValue(structpb.NewBoolValue(false)))
	assert.Equal(t, true, unwrapValue(structpb.NewBoolValue(true)))
	l, _ := structpb.NewList([]any{"a", 1.5})
	assert.Equal(t, []any{"a", 1.5}, unwrapValue(structpb.NewListValue(l)))

	b, err := proto.Marshal(wrapValue(nil))
	assert.NoError(t, err)
	assert.Equal(t, luaNull, b)
	// An empty Lua table is a struct, a table with [1] a list.
	assert.NotNil(t, wrapValue([]any{}).GetStructValue())
	assert.NotNil(t, wrapValue([]string{"x"}).GetListValue())
	assert.Equal(t, "1", luaToString(1.0))
	assert.Equal(t, "0.1", luaToString(0.1))
	assert.Equal(t, "1e+20", luaToString(1e20))
	assert.Equal(t, "nil", luaToString(nil))
}

func TestSerializeKeys(t *testing.T) {
	assert.Equal(t, []string{"a", "b", "c"}, splitSerializeKey("a.b.c"))
	assert.Equal(t, []string{"a.b", "c"}, splitSerializeKey(`a\.b.c`))
	root := map[string]any{"a": "scalar"}
	setPath(root, []string{"a", "b"}, 1)
	assert.Equal(t, map[string]any{"a": map[string]any{"b": 1}}, root)
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"/":            "/",
		"/a/b":         "/a/b",
		"/a/./b/../c":  "/a/c",
		"/a//b///c":    "/a/b/c",
		"/%61%2fb%2Fc": "/a%2Fb%2Fc",
		"/%7euser/%41": "/~user/A",
		"/a/..":        "/",
		"/../../x":     "/x",
		"/x%zz":        "/x%zz",
		"/x%4":         "/x%4",
		"/a/%2e%2e/b":  "/b",
		"/foo/bar/./":  "/foo/bar/",
		"/%3F%23?":     "/%3F%23?",
	} {
		assert.Equal(t, want, normalizePath(in), in)
	}
}

func TestHeaderStructMatchesTable(t *testing.T) {
	lines := []Header{{"Host", "h"}, {"X-A", "1"}, {"x-a", "2"}, {"X-A", "3"}, {"Empty", ""}, {"x_a", "u"}, {"Long", strings.Repeat("v", 300)}}
	for _, max := range []int{1, 2, 3, 100} {
		var got structpb.Struct
		assert.NoError(t, proto.Unmarshal(headerReply(lines, max)(nil), &got))
		assert.True(t, proto.Equal(wrapStruct(headerTable(lines, max)), &got), "max %d: %v", max, &got)
	}
}

// TestNgxHeaderLookups pins the three lookups Kong makes on request headers:
// the get_headers() table (kong/tools/http.lua:545-565 with ctx, and
// plugin.lua's saved headers), $http_<name> then the table
// (kong.request.get_header), and their line cap.
func TestNgxHeaderLookups(t *testing.T) {
	under := []Header{{"X-Forwarded-For", "1.1.1.1"}, {"X_Forwarded_For", "6.6.6.6"}, {"X-Forwarded-For", "2.2.2.2"}}
	many := make([]Header, 0, DefaultMaxReqHeaders+1)
	for i := 0; i < DefaultMaxReqHeaders; i++ {
		many = append(many, Header{"X-Pad", "p"})
	}
	many = append(many, Header{"X-Forwarded-For", "9.9.9.9"})
	tests := []struct {
		name     string
		lines    []Header
		key      string
		table    string // LookupHeaders
		tableOK  bool
		getHdr   string // kongGetHeader: $http_*, the table when it holds ", "
		getHdrOK bool
	}{
		{"raw underscore key wins", under, "x_forwarded_for", "6.6.6.6", true, "6.6.6.6", true},
		{"dash key never finds the underscore line", under, "x-forwarded-for", "1.1.1.1", true, "1.1.1.1", true},
		{"underscore line alone", []Header{{"X_Forwarded_For", "6.6.6.6"}}, "x_forwarded_for", "6.6.6.6", true, "", false},
		{"dash only, first line", []Header{{"x-forwarded-for", "a, b"}, {"X-Forwarded-For", "c"}}, "x_forwarded_for", "a, b", true, "a, b", true},
		{"mixed spelling is another header", []Header{{"X-Forwarded_For", "m"}}, "x_forwarded_for", "", false, "", false},
		{"mixed-case key misses raw, hits normalized", []Header{{"X-Real-IP", "r"}}, "X_Real_IP", "r", true, "r", true},
		{"unknown header var joins both spellings", []Header{{"X_Real_IP", "u"}, {"X-Real-IP", "d"}}, "x-real-ip", "d", true, "d", true},
		{"unknown header var, underscore alone", []Header{{"X_Real_IP", "u"}}, "x-real-ip", "", false, "u", true},
		{"line 101 is past the table's cap", many, "x_forwarded_for", "", false, "9.9.9.9", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := LookupHeaders(tc.lines, DefaultMaxReqHeaders, tc.key)
			assert.Equal(t, tc.tableOK, ok)
			assert.Equal(t, tc.table, v)
			if tc.name == "mixed-case key misses raw, hits normalized" || tc.name == "line 101 is past the table's cap" {
				return // kong.request.get_header("x_forwarded_for") reads $http_x_forwarded_for; covered above
			}
			v, ok = kongGetHeader(tc.lines, tc.key)
			assert.Equal(t, tc.getHdrOK, ok, "get_header")
			assert.Equal(t, tc.getHdr, v, "get_header")
		})
	}
}
