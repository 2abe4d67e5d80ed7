package peers

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// semanticCase is one request and every implementation's actual answer to
// it, trusted set 172.16.0.0/16. realip's answer is nginx's $remote_addr
// (realip is checked against a real nginx by internal/nginxdiff); "" means
// the implementation gives no address.
type semanticCase struct {
	name string
	peer string
	xff  []string
	want map[string]string
	// why says what the difference means for an operator.
	why string
}

var semanticCases = []semanticCase{
	{
		name: "all-trusted chain",
		peer: "172.16.255.254:40000", xff: []string{"172.16.0.3, 172.16.0.2"},
		want: map[string]string{
			"realip": "172.16.0.3", "realclientip": "172.16.255.254", "echo": "172.16.0.3",
			"gin": "172.16.0.3", "traefik": "", "caddy": "172.16.255.254",
		},
		why: "nginx, echo and gin take the leftmost entry; realclientip (via its RemoteAddr fallback) and caddy the peer; traefik nothing",
	},
	{
		name: "malformed entry",
		peer: "172.16.255.254:40000", xff: []string{"198.51.100.7, junk, 172.16.0.2"},
		want: map[string]string{
			"realip": "172.16.0.2", "realclientip": "172.16.255.254", "echo": "172.16.255.254",
			"gin": "172.16.255.254", "traefik": "junk", "caddy": "198.51.100.7",
		},
		why: "nginx stops at the bad token and keeps the last address taken; caddy skips it and reads past it; traefik returns the token itself",
	},
	{
		name: "ip:port entries",
		peer: "172.16.255.254:40000", xff: []string{"198.51.100.7:5555, 172.16.0.2:80"},
		want: map[string]string{
			"realip": "198.51.100.7", "realclientip": "198.51.100.7", "echo": "172.16.255.254",
			"gin": "172.16.255.254", "traefik": "172.16.0.2:80", "caddy": "198.51.100.7",
		},
		why: "nginx (port 5555 kept as $remote_port), realclientip and caddy strip ports; echo and gin give up to the peer; traefik returns the proxy's entry as the client",
	},
	{
		name: "leading-zero IPv4",
		peer: "172.16.255.254:40000", xff: []string{"198.051.100.007, 172.16.0.2"},
		want: map[string]string{
			"realip": "198.51.100.7", "realclientip": "172.16.255.254", "echo": "172.16.255.254",
			"gin": "172.16.255.254", "traefik": "198.051.100.007", "caddy": "172.16.255.254",
		},
		why: "nginx reads octets as decimal with leading zeros; Go's parsers refuse them, so the peers fall back to the peer, and traefik returns the raw text",
	},
	{
		name: "multiple X-Forwarded-For lines",
		peer: "172.16.255.254:40000", xff: []string{"203.0.113.9", "198.51.100.7, 172.16.0.2"},
		want: map[string]string{
			"realip": "198.51.100.7", "realclientip": "198.51.100.7", "echo": "198.51.100.7",
			"gin": "198.51.100.7", "traefik": "203.0.113.9", "caddy": "198.51.100.7",
		},
		why: "traefik's pkg/ip reads the first line only, which the client wrote: a spoof",
	},
	{
		name: "IPv4-mapped addresses",
		peer: "172.16.255.254:40000", xff: []string{"::ffff:198.51.100.7, ::ffff:172.16.0.2"},
		want: map[string]string{
			"realip": "::ffff:198.51.100.7", "realclientip": "198.51.100.7", "echo": "198.51.100.7",
			"gin": "::ffff:198.51.100.7", "traefik": "::ffff:198.51.100.7", "caddy": "::ffff:172.16.0.2",
		},
		why: "nginx matches mapped addresses against IPv4 entries, as do the net.IP-based peers; caddy's netip.Prefix does not, so it answers the proxy",
	},
	{
		name: "untrusted peer sends X-Forwarded-For",
		peer: "203.0.113.50:1234", xff: []string{"198.51.100.7"},
		want: map[string]string{
			"realip": "203.0.113.50", "realclientip": "198.51.100.7", "echo": "203.0.113.50",
			"gin": "203.0.113.50", "traefik": "203.0.113.50", "caddy": "203.0.113.50",
		},
		why: "realclientip never checks the peer: a direct client picks its own address",
	},
}

// TestSemanticDifferences records each implementation's actual answer on
// the inputs where they disagree. A change in any library's behaviour
// fails here and must be reflected in BENCHMARKS.md.
func TestSemanticDifferences(t *testing.T) {
	impls, err := New([]string{"172.16.0.0/16"})
	require.NoError(t, err)
	for _, c := range semanticCases {
		t.Run(c.name, func(t *testing.T) {
			in := Input{Peer: netip.MustParseAddrPort(c.peer), XFF: c.xff}
			require.Len(t, c.want, len(impls))
			for _, im := range impls {
				want, ok := c.want[im.Name]
				require.True(t, ok, "no expectation for %s", im.Name)
				assert.Equal(t, want, im.Prepare(in).Answer(), "%s: %s", im.Name, c.why)
			}
		})
	}
}
