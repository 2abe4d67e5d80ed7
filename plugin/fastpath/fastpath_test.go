package fastpath_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

func TestInclude(t *testing.T) {
	inc, err := fastpath.Include("X-Forwarded-For")
	require.NoError(t, err)
	assert.Contains(t, inc, "map $nginx_version $client_ip_guard_facts {\n    volatile;\n")
	assert.Contains(t, inc, `default "cig1\n$nginx_version\n$realip_remote_addr\n$remote_addr\n$proxy_protocol_addr\n$proxy_protocol_port\n$http_x_forwarded_for\n$http_x_real_ip\n$http_forwarded";`)
	for _, std := range []string{"", "X-Real-IP", "proxy_protocol", "Forwarded", "x-forwarded-for"} {
		got, err := fastpath.Include(std)
		require.NoError(t, err)
		assert.Equal(t, inc, got, "%q needs no field of its own", std)
	}

	inc, err = fastpath.Include("CF-Connecting-IP")
	require.NoError(t, err)
	assert.Contains(t, inc, `$http_forwarded\ncf-connecting-ip\n$http_cf_connecting_ip";`)

	for _, bad := range []string{"X Client", "X.Client", "X-Clïent", "X$a"} {
		_, err := fastpath.Include(bad)
		assert.ErrorContains(t, err, "header name", bad)
	}
}

// facts is a value of the variable with fields in the include's order.
func facts(version, peer, kong, ppAddr, ppPort, xff, xrip, fwd string, custom ...string) []byte {
	f := []string{"cig1", version, peer, kong, ppAddr, ppPort, xff, xrip, fwd}
	return []byte(strings.Join(append(f, custom...), "\n"))
}

func TestFill(t *testing.T) {
	const v = "1.25.3"
	tests := []struct {
		name   string
		raw    []byte
		header string
		want   fastpath.Status
		why    string
	}{
		{"not loaded", nil, "X-Forwarded-For", fastpath.Unavailable, "empty or undefined"},
		{"another layout", []byte("cig0\n1.25.3"), "X-Forwarded-For", fastpath.Unavailable, "not in this plugin's layout"},
		{"too few fields", []byte("cig1\n1.25.3\n10.0.0.1"), "X-Forwarded-For", fastpath.Unavailable, "not in this plugin's layout"},
		{"too many fields", append(facts(v, "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4", "", "", "a", "b"), "\nc"...), "X-Forwarded-For", fastpath.Unavailable, "more fields"},
		{"xff", facts(v, "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4, 10.0.0.2", "", ""), "X-Forwarded-For", fastpath.OK, ""},
		// Before nginx 1.23 an empty first X-Real-IP or Forwarded line hides
		// the others, whatever the source.
		{"xff on 1.22", facts("1.22.1", "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4", "", ""), "X-Forwarded-For", fastpath.Unavailable, "nginx 1.22.1 shows only the first line of X-Real-IP, Forwarded"},
		{"proxy protocol on 1.22", facts("1.22.1", "10.0.0.1", "1.2.3.4", "1.2.3.4", "5555", "", "", ""), "proxy_protocol", fastpath.Unavailable, "nginx 1.23 or later"},
		{"xff on 1.21.4 (Kong 3.4, 3.5)", facts("1.21.4", "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4", "", ""), "X-Forwarded-For", fastpath.Unavailable, "nginx 1.23 or later (Kong 3.6+)"},
		{"xff on 1.23.0", facts("1.23.0", "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4", "", ""), "X-Forwarded-For", fastpath.OK, ""},
		{"xff with an empty entry", facts(v, "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4,, 10.0.0.2", "", ""), "X-Forwarded-For", fastpath.Ineligible, ""},
		{"xff joined with an empty line", facts(v, "10.0.0.1", "1.2.3.4", "", "", ", 1.2.3.4", "", ""), "X-Forwarded-For", fastpath.Ineligible, ""},
		{"xff with a tab", facts(v, "10.0.0.1", "1.2.3.4", "", "", "1.2.3.4\t", "", ""), "X-Forwarded-For", fastpath.Ineligible, ""},
		{"xff space before a comma", facts(v, "10.0.0.1", "1.2.3.4", "", "", "6.6.6.6 ,1.2.3.4", "", ""), "X-Forwarded-For", fastpath.Ineligible, ""},
		{"bad peer", facts(v, "not-an-ip", "1.2.3.4", "", "", "", "", ""), "X-Forwarded-For", fastpath.Ineligible, ""},
		{"x-real-ip", facts(v, "10.0.0.1", "1.2.3.4", "", "", "", "1.2.3.4", ""), "X-Real-IP", fastpath.OK, ""},
		{"x-real-ip, two lines joined", facts(v, "10.0.0.1", "1.2.3.4", "", "", "", "1.2.3.4, 6.6.6.6", ""), "X-Real-IP", fastpath.Ineligible, ""},
		{"x-real-ip on 1.22", facts("1.22.1", "10.0.0.1", "1.2.3.4", "", "", "", "1.2.3.4", ""), "X-Real-IP", fastpath.Unavailable, "nginx 1.23 or later"},
		{"x-real-ip on nginx 2.0", facts("2.0.0", "10.0.0.1", "1.2.3.4", "", "", "", "1.2.3.4", ""), "X-Real-IP", fastpath.OK, ""},
		{"x-real-ip, garbled version", facts("1.25x", "10.0.0.1", "1.2.3.4", "", "", "", "1.2.3.4", ""), "X-Real-IP", fastpath.Unavailable, "nginx 1.23 or later"},
		{"custom", facts(v, "10.0.0.1", "1.2.3.4", "", "", "", "", "", "cf-connecting-ip", "1.2.3.4"), "CF-Connecting-IP", fastpath.OK, ""},
		{"custom, include for another header", facts(v, "10.0.0.1", "1.2.3.4", "", "", "", "", "", "true-client-ip", "1.2.3.4"), "CF-Connecting-IP", fastpath.Unavailable, "generated for header true-client-ip"},
		{"custom, include without it", facts(v, "10.0.0.1", "1.2.3.4", "", "", "", "", ""), "CF-Connecting-IP", fastpath.Unavailable, "carries no cf-connecting-ip"},
		{"proxy protocol", facts(v, "10.0.0.1", "1.2.3.4", "1.2.3.4", "5555", "", "", ""), "proxy_protocol", fastpath.OK, ""},
		{"forwarded", facts(v, "10.0.0.1", "10.0.0.1", "", "", "", "", "for=1.2.3.4"), "Forwarded", fastpath.Unavailable, "RFC 7239"},
		{"unix peer", facts(v, "unix:", "1.2.3.4", "", "", "", "1.2.3.4", ""), "X-Real-IP", fastpath.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := guardconf.Compile(&guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: tt.header})
			require.NoError(t, err)
			var f evaluate.Facts
			got, why := fastpath.Fill(&f, tt.raw, pol.Resolver.Kind(), pol.Resolver.HeaderName())
			assert.Equal(t, tt.want, got)
			if tt.why == "" {
				assert.Empty(t, why)
			} else {
				assert.Contains(t, why, tt.why)
			}
		})
	}
}

func TestFillReadsTheFacts(t *testing.T) {
	pol, err := guardconf.Compile(&guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "proxy_protocol"})
	require.NoError(t, err)
	var f evaluate.Facts
	st, _ := fastpath.Fill(&f, facts("1.25.3", "10.0.0.1", "198.51.100.7", "198.51.100.7", "5555", "6.6.6.6", "", "for=x"), pol.Resolver.Kind(), "")
	require.Equal(t, fastpath.OK, st)
	assert.Equal(t, "10.0.0.1", f.Req.Peer.Addr().String())
	assert.Equal(t, "198.51.100.7", f.KongAddr)
	require.NotNil(t, f.Req.Proxy)
	assert.Equal(t, realip.Proxy{SrcAddr: "198.51.100.7", SrcPort: 5555}, *f.Req.Proxy)
	assert.NotZero(t, f.Forwarding)
	ev := evaluate.Evaluate(pol, &f, nil)
	assert.Equal(t, "spoof_attempt", ev.Outcome.Verdict.String(), "headers beside PROXY data")
}

// TestJoinedListWalksAsLines: for X-Forwarded-For lines whose nginx join
// Fill accepts, the evaluation of the one joined value is the evaluation of
// the lines, under every resolver setting; random lines of addresses,
// trusted hops, ports, garbage and separators.
func TestJoinedListWalksAsLines(t *testing.T) {
	tokens := []string{"198.51.100.7", "10.0.0.2", "10.1.2.3:80", "2001:db8::7", "[2001:db8::7]:443", "::ffff:10.0.0.9", "garbage", "1.2.3", "6.6.6.6", "0", ""}
	seps := []string{", ", ",", ",  ", " ", ",,", " , "}
	var policies []*guardconf.Policy
	for _, rec := range []bool{false, true} {
		p, err := guardconf.Compile(&guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: rec})
		require.NoError(t, err)
		policies = append(policies, p)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for i := 0; i < 20000; i++ {
		var hs []nginxvar.Header
		for range 1 + rng.IntN(3) {
			var b strings.Builder
			for k := range 1 + rng.IntN(4) {
				if k > 0 {
					b.WriteString(seps[rng.IntN(len(seps))])
				}
				b.WriteString(tokens[rng.IntN(len(tokens))])
			}
			// nginx trims spaces around a header value.
			hs = append(hs, nginxvar.Header{Name: "X-Forwarded-For", Value: strings.Trim(b.String(), " ")})
		}
		if slicesHasEmpty(hs) {
			continue // Blind: an empty header is no header to nginx's variables
		}
		joined, _ := nginxvar.HTTP(hs, "x_forwarded_for", nginxvar.V1_25)
		raw := facts("1.25.3", "10.0.0.1", "10.0.0.1", "", "", joined, "", "")
		for _, pol := range policies {
			var fast, full evaluate.Facts
			st, _ := fastpath.Fill(&fast, raw, pol.Resolver.Kind(), pol.Resolver.HeaderName())
			if st != fastpath.OK {
				continue
			}
			accepted++
			require.NoError(t, full.SetPeer("10.0.0.1"))
			full.SetKong("10.0.0.1")
			for _, h := range hs {
				full.AddHeader("x-forwarded-for", []byte(strings.ToLower(h.Name)), []byte(h.Value))
			}
			a, b := evaluate.Evaluate(pol, &full, nil), evaluate.Evaluate(pol, &fast, nil)
			require.Equal(t, a.Result.Addr, b.Result.Addr, "lines %q", hs)
			require.Equal(t, a.Result.Port, b.Result.Port, "lines %q", hs)
			require.Equal(t, a.Result.Status, b.Result.Status, "lines %q", hs)
			require.Equal(t, a.Outcome, b.Outcome, "lines %q", hs)
			ra, rb := a.Record(pol, &full, guardconf.Scope{}, ""), b.Record(pol, &fast, guardconf.Scope{}, "")
			require.Equal(t, ra, rb, "lines %q", hs)
		}
	}
	assert.Greater(t, accepted, 5000, "the generator must reach the fast path")
}

func slicesHasEmpty(hs []nginxvar.Header) bool {
	for _, h := range hs {
		if h.Value == "" {
			return true
		}
	}
	return false
}

// TestFillAllocatesNothing: Fill runs on every request of a fast_path
// instance; reading the variable into Facts allocates nothing, for every
// source kind it serves.
func TestFillAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		header string
		raw    []byte
	}{
		{"X-Forwarded-For", facts("1.25.3", "10.0.0.1", "198.51.100.7", "", "", "198.51.100.7, 10.0.0.2", "", "")},
		{"X-Real-IP", facts("1.25.3", "10.0.0.1", "198.51.100.7", "", "", "", "198.51.100.7", "")},
		{"proxy_protocol", facts("1.25.3", "10.0.0.1", "198.51.100.7", "198.51.100.7", "5555", "", "", "")},
		{"CF-Connecting-IP", facts("1.25.3", "10.0.0.1", "198.51.100.7", "", "", "", "", "", "cf-connecting-ip", "198.51.100.7")},
	} {
		pol, err := guardconf.Compile(&guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: tc.header})
		require.NoError(t, err)
		kind, source := pol.Resolver.Kind(), pol.Resolver.HeaderName()
		var f evaluate.Facts
		st, _ := fastpath.Fill(&f, tc.raw, kind, source) // warm f's header buffer
		require.Equal(t, fastpath.OK, st, tc.header)
		allocs := testing.AllocsPerRun(100, func() {
			f.Reset()
			fastpath.Fill(&f, tc.raw, kind, source)
		})
		assert.Zero(t, allocs, tc.header)
	}
}
