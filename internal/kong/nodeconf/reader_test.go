package nodeconf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadLines pins Kong's reader rules (Penlight's config.read and Kong's
// strip_comments; see reader.go), whitespace class and all.
func TestReadLines(t *testing.T) {
	text := "# comment\n" +
		"\f; also a comment\n" + // \f is Lua %s: a comment line
		"\v\n" + // blank
		"trusted_ips = 10.0.0.0/8 # why\n" + // 4
		"real-ip.header\t=\vX-Real-IP\r\n" + // 5: key bytes to '_', \v and \r are whitespace
		"a # b = c\n" + // 6: the key runs to the first '='
		"msg = a\\#b#c\n" + // 7
		"proxy_listen = 0.0.0.0:8000, \\ \t\n" + // 8: continuation, blanks after '\'
		"  0.0.0.0:8443 ssl\n" +
		"no equals here # x\n" + // 10
		"[section]\n" + // 11
		"  [indented] = 1\n" // 12: only column 0 starts a section
	lines, err := ReadLines(strings.NewReader(text))
	require.NoError(t, err)
	want := []Line{
		{Line: 4, Text: "trusted_ips = 10.0.0.0/8 # why", Assign: true, Orig: "trusted_ips", Key: "trusted_ips", Value: "10.0.0.0/8"},
		{Line: 5, Text: "real-ip.header\t=\vX-Real-IP", Assign: true, Orig: "real-ip.header", Key: "real_ip_header", Value: "X-Real-IP"},
		{Line: 6, Text: "a # b = c", Assign: true, Orig: "a # b", Key: "a___b", Value: "c"},
		{Line: 7, Text: "msg = a\\#b#c", Assign: true, Orig: "msg", Key: "msg", Value: "a#b"},
		{Line: 8, Text: "proxy_listen = 0.0.0.0:8000,   0.0.0.0:8443 ssl", Assign: true, Orig: "proxy_listen", Key: "proxy_listen", Value: "0.0.0.0:8000,   0.0.0.0:8443 ssl"},
		{Line: 10, Text: "no equals here"},
		{Line: 11, Text: "[section]", Section: true},
		{Line: 12, Text: "[indented] = 1", Assign: true, Orig: "[indented]", Key: "_indented_", Value: "1"},
	}
	assert.Equal(t, want, lines)
}

func TestWhere(t *testing.T) {
	c, err := Parse(strings.NewReader("# x\ntrusted_ips = 10.0.0.0/8\n"), "/etc/kong/kong.conf")
	require.NoError(t, err)
	assert.Equal(t, "/etc/kong/kong.conf:2", c.Where("trusted_ips"))
	assert.Equal(t, "", c.Where("real_ip_header"))
	c, err = Load("", []string{"KONG_REAL_IP_HEADER=X-Forwarded-For"})
	require.NoError(t, err)
	assert.Equal(t, "env:KONG_REAL_IP_HEADER", c.Where("real_ip_header"))
	c, err = Parse(strings.NewReader("real_ip_recursive = on\n"), "")
	require.NoError(t, err)
	assert.Equal(t, "kong.conf:1", c.Where("real_ip_recursive"))
}
