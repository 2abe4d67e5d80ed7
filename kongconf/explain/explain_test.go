package explain

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	cases := []struct {
		name       string
		in         Input
		remote     string
		remotePort int
		peer       string
		peerPort   int
		client     string // the plugin's client address, when not remote
		verdict    string
		source     string
	}{
		{
			name:   "untrusted peer keeps its address and is flagged for its forged header",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "203.0.113.9:4000", Headers: []string{"X-Forwarded-For: 1.2.3.4"}},
			remote: "203.0.113.9", remotePort: 4000, peer: "203.0.113.9", peerPort: 4000, verdict: "spoof_attempt", source: "socket",
		},
		{
			name:   "trusted LB, recursive walk stops at the first untrusted entry",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true, Peer: "10.0.0.2:5555", Headers: []string{"X-Forwarded-For: 6.6.6.6, 1.2.3.4, 10.1.1.1"}},
			remote: "1.2.3.4", remotePort: 0, peer: "10.0.0.2", peerPort: 5555, verdict: "ok", source: "X-Forwarded-For",
		},
		{
			name:   "non-recursive takes the rightmost entry even when it is a proxy",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "10.0.0.2:5555", Headers: []string{"X-Forwarded-For: 1.2.3.4, 10.1.1.1"}},
			remote: "10.1.1.1", remotePort: 0, peer: "10.0.0.2", peerPort: 5555, verdict: "lb_ip_leak", source: "X-Forwarded-For",
		},
		{
			name:   "header port becomes $remote_port",
			in:     Input{TrustedIPs: []string{"10.0.0.2"}, Peer: "10.0.0.2:5555", Headers: []string{"X-Real-IP: [2001:db8::7]:8443"}},
			remote: "2001:db8::7", remotePort: 8443, peer: "10.0.0.2", peerPort: 5555, verdict: "ok", source: "X-Real-IP",
		},
		{
			name:   "proxy protocol source and port",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "proxy_protocol", Peer: "10.0.0.2:5555", ProxyProtocol: "198.51.100.7:61000"},
			remote: "198.51.100.7", remotePort: 61000, peer: "10.0.0.2", peerPort: 5555, verdict: "ok", source: "proxy_protocol",
		},
		{
			name:   "trusted peer without the header leaks the LB address",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "10.0.0.2:5555"},
			remote: "10.0.0.2", remotePort: 5555, peer: "10.0.0.2", peerPort: 5555, verdict: "lb_ip_leak", source: "socket",
		},
		{
			name:   "Forwarded: nginx cannot read it, the plugin can",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "Forwarded", Peer: "10.0.0.2", Headers: []string{"Forwarded: for=203.0.113.7"}},
			remote: "10.0.0.2", remotePort: 0, peer: "10.0.0.2", peerPort: 0, client: "203.0.113.7", verdict: "ok", source: "Forwarded",
		},
		{
			name:   "a tab stays in the value, as in nginx",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "10.0.0.2", Headers: []string{"X-Forwarded-For: 203.0.113.9\t"}},
			remote: "10.0.0.2", remotePort: 0, peer: "10.0.0.2", peerPort: 0, verdict: "malformed", source: "socket",
		},
		{
			name: "the plugin's own config differs from the node: drift",
			in: Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "10.0.0.2", Headers: []string{"X-Forwarded-For: 203.0.113.9"},
				Plugin: `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"X-Real-IP"}`},
			remote: "203.0.113.9", remotePort: 0, peer: "10.0.0.2", peerPort: 0, client: "10.0.0.2", verdict: "config_drift", source: "socket",
		},
		{
			name:   "an underscore spelling behind the LB is smuggled",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "10.0.0.2", Headers: []string{"X_Forwarded_For: 6.6.6.6", "X-Forwarded-For: 203.0.113.9"}},
			remote: "203.0.113.9", remotePort: 0, peer: "10.0.0.2", peerPort: 0, verdict: "smuggled", source: "X-Forwarded-For",
		},
		{
			name:   "malformed rightmost entry is ignored by nginx",
			in:     Input{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", Peer: "10.0.0.2", Headers: []string{"X-Forwarded-For: 1.2.3.4, nope"}},
			remote: "10.0.0.2", remotePort: 0, peer: "10.0.0.2", peerPort: 0, verdict: "malformed", source: "socket",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.remote, rep.RemoteAddr)
			assert.Equal(t, tc.remotePort, rep.RemotePort)
			assert.Equal(t, tc.peer, rep.RealIPRemoteAddr)
			assert.Equal(t, tc.peerPort, rep.RealIPRemotePort)
			client := tc.client
			if client == "" {
				client = tc.remote
			}
			assert.Equal(t, client, rep.ClientIP)
			assert.Equal(t, tc.verdict, rep.Verdict)
			assert.Equal(t, tc.source, rep.Source)
			assert.NotEmpty(t, rep.Steps)
		})
	}
}

func TestJSONInterface(t *testing.T) {
	rep, err := Run(Input{TrustedIPs: []string{"127.0.0.1"}, RealIPHeader: "X-Forwarded-For", Peer: "127.0.0.1:1234", Headers: []string{"X-Forwarded-For: 1.2.3.4"}})
	require.NoError(t, err)
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"remote_addr", "remote_port", "realip_remote_addr", "realip_remote_port", "verdict", "steps"} {
		assert.Contains(t, m, k)
	}
	// Ports are numbers; nginx's empty $remote_port is 0.
	assert.Equal(t, float64(0), m["remote_port"])
	assert.Equal(t, float64(1234), m["realip_remote_port"])
	assert.IsType(t, []any{}, m["steps"])
}

func TestRunErrors(t *testing.T) {
	for _, in := range []Input{
		{TrustedIPs: []string{"lb.example"}, Peer: "1.2.3.4"},
		{Peer: "not-an-ip"},
		{Peer: "1.2.3.4", ProxyProtocol: "x:y"},
		{Peer: "1.2.3.4", Headers: []string{"no colon here"}},
		{Peer: "1.2.3.4", Headers: []string{"X-Real-IP : 1.2.3.4"}},
		{Peer: "1.2.3.4", Headers: []string{": 1.2.3.4"}},
		{Peer: "1.2.3.4", Headers: []string{"X-Real-IP: 1.2.3.4\r\nX-Evil: 1"}},
		{Peer: "1.2.3.4", Headers: []string{"X-Real-IP: 1.2\x003.4"}},
		{Peer: "1.2.3.4", Plugin: `{"mode":"block"}`},
		{Peer: "1.2.3.4", Plugin: `{not json`},
	} {
		_, err := Run(in)
		assert.Error(t, err, "%+v", in)
	}
}

func TestIgnoredHeaderLine(t *testing.T) {
	rep, err := Run(Input{TrustedIPs: []string{"10.0.0.0/8"}, Peer: "10.0.0.2", Headers: []string{"X.Real.IP: 1.2.3.4", "X-Real-IP: 5.6.7.8"}})
	require.NoError(t, err)
	assert.Equal(t, "5.6.7.8", rep.RemoteAddr, "nginx drops the invalid line, so X-Real-IP has one line")
	assert.Equal(t, "ok", rep.Verdict)
	require.NotEmpty(t, rep.Warnings)
	assert.Contains(t, rep.Warnings[0], "nginx ignores the header line")
}

func TestText(t *testing.T) {
	rep, err := Run(Input{TrustedIPs: []string{"0.0.0.0/0"}, Peer: "1.2.3.4:1", Headers: []string{"X-Real-IP: 9.9.9.9"}})
	require.NoError(t, err)
	var b bytes.Buffer
	rep.Text(&b)
	out := b.String()
	assert.Contains(t, out, "$remote_addr        = 9.9.9.9")
	assert.Contains(t, out, `$remote_port        = ""`)
	assert.Contains(t, out, "warning: trusted_ips trusts every address")
}
