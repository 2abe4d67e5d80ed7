package explain

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFastPath: explain renders the fast path's variable for the request
// and reads it as the guard does: served, judged again, read the long way,
// or never served, and a blind spot shows as a verdict that differs.
func TestFastPath(t *testing.T) {
	xff := func(nginx string, headers ...string) Input {
		return Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true,
			Peer: "10.0.0.2:5555", Headers: headers, NginxVersion: nginx,
			Plugin: `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"X-Forwarded-For","real_ip_recursive":true,"fast_path":true}`}
	}
	for _, tc := range []struct {
		name    string
		in      Input
		status  string
		reason  string
		verdict string // the fast path's verdict when it differs
	}{
		{"clean chain", xff("", "X-Forwarded-For: 203.0.113.7, 10.1.1.1"), FastServed, "", ""},
		{"two lines join cleanly", xff("1.25", "X-Forwarded-For: 203.0.113.7", "X-Forwarded-For: 10.1.1.1"), FastServed, "", ""},
		{"X-Forwarded-For before nginx 1.23: an empty first X-Real-IP line would hide the rest", xff("1.21", "X-Forwarded-For: 203.0.113.7"), FastUnavailable, "nginx 1.23 or later", ""},
		{"an empty entry needs the lines", xff("", "X-Forwarded-For: 203.0.113.7,,10.1.1.1"), FastIneligible, "", ""},
		{"a leak is an anomaly, judged again", xff(""), FastRejudged, "", ""},
		{"underscore spelling: the blind spot", xff("", "X-Forwarded-For: 203.0.113.7", "X_Forwarded_For: 6.6.6.6"), FastServed, "", "ok"},
		{"X-Real-IP before nginx 1.23", Input{TrustedIPs: []string{"10.0.0.0/8"}, Peer: "10.0.0.2", Headers: []string{"X-Real-IP: 1.2.3.4"}, NginxVersion: "1.21"}, FastUnavailable, "nginx 1.23 or later", ""},
		{"X-Real-IP on Kong 3.6+", Input{TrustedIPs: []string{"10.0.0.0/8"}, Peer: "10.0.0.2", Headers: []string{"X-Real-IP: 1.2.3.4"}}, FastServed, "", ""},
		{"a second X-Real-IP line", Input{TrustedIPs: []string{"10.0.0.0/8"}, Peer: "10.0.0.2", Headers: []string{"X-Real-IP: 1.2.3.4", "X-Real-IP: 5.6.7.8"}}, FastIneligible, "", ""},
		{"Forwarded", Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "Forwarded", Peer: "10.0.0.2", Headers: []string{"Forwarded: for=203.0.113.7"}}, FastUnavailable, "RFC 7239", ""},
		{"PROXY protocol", Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "proxy_protocol", Peer: "10.0.0.2:5555", ProxyProtocol: "198.51.100.7:61000"}, FastServed, "", ""},
	} {
		rep, err := Run(tc.in)
		require.NoError(t, err, tc.name)
		require.NotNil(t, rep.FastPath, tc.name)
		assert.Equal(t, tc.status, rep.FastPath.Status, "%s: %+v", tc.name, rep.FastPath)
		assert.Contains(t, rep.FastPath.Reason, tc.reason, tc.name)
		assert.Equal(t, tc.verdict, rep.FastPath.Verdict, tc.name)
	}
	rep, err := Run(xff("", "X-Forwarded-For: 203.0.113.7", "X_Forwarded_For: 6.6.6.6"))
	require.NoError(t, err)
	assert.True(t, rep.FastPath.Enabled)
	var b bytes.Buffer
	rep.Text(&b)
	assert.Contains(t, b.String(), "fast path           = served (1 PDK call) on nginx 1.25.3\n")
	assert.Contains(t, b.String(), "the fast path would judge this request ok")

	_, err = Run(xff("one.two"))
	assert.ErrorContains(t, err, "--nginx-version")
}

// TestUnderscoresOff: with nginx_proxy_underscores_in_headers = off nginx
// drops a header line named with '_' before anyone reads it, so the full
// path and the fast path judge the same request, and the blind spot is gone.
func TestUnderscoresOff(t *testing.T) {
	in := Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true,
		Peer: "10.0.0.2:5555", Headers: []string{"X-Forwarded-For: 203.0.113.7", "X_Forwarded_For: 6.6.6.6"}}
	on, err := Run(in)
	require.NoError(t, err)
	assert.Equal(t, "smuggled", on.Verdict)
	assert.Equal(t, "ok", on.FastPath.Verdict)

	in.UnderscoresOff = true
	off, err := Run(in)
	require.NoError(t, err)
	assert.Equal(t, "ok", off.Verdict)
	assert.Equal(t, FastServed, off.FastPath.Status)
	assert.Empty(t, off.FastPath.Verdict)
	assert.Contains(t, strings.Join(off.Warnings, "\n"), `nginx ignores the header line "X_Forwarded_For: 6.6.6.6"`)
}
