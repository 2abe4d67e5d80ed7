package fastinclude

import (
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

func include(t *testing.T, source string) string {
	t.Helper()
	s, err := fastpath.Include(source)
	require.NoError(t, err)
	return s
}

func TestDefines(t *testing.T) {
	xff := include(t, "X-Forwarded-For")
	commented := "# " + strings.ReplaceAll(xff, "\n", "\n# ")
	for _, tc := range []struct {
		name, text string
		want       bool
	}{
		{"generated", xff, true},
		{"beside other directives", "client_max_body_size 1m;\n" + xff + "map $host $other { default 1; }\n", true},
		{"commented out", commented, false},
		{"another variable", strings.ReplaceAll(xff, "$"+fastpath.Variable+" {", "$other {"), false},
		{"not nginx", "trusted_ips = 10.0.0.0/8\n", false},
		{"unterminated string", `map $nginx_version $` + fastpath.Variable + ` { default "cig1`, false},
		{"inside http", "http {\n" + xff + "}\n", true},
		// nginx: the former tokenizer took "a" and b as two words.
		{"text after a quote", "a \"a\"b;\n" + xff, false},
		{"stray closing brace", xff + "}\n", false},
		{"map without a block", "map $nginx_version $" + fastpath.Variable + ";", false},
	} {
		assert.Equal(t, tc.want, Defines(tc.text), tc.name)
	}
}

// TestValueIsNginxs: the value read from the include is what nginx's
// parser makes of the quoted string: \n becomes a line feed, so the value
// has one field per line and starts with the layout's magic.
func TestValueIsNginxs(t *testing.T) {
	v, err := Value(include(t, "CF-Connecting-IP"))
	require.NoError(t, err)
	fields := strings.Split(v, "\n")
	fixed, err := Value(include(t, ""))
	require.NoError(t, err)
	assert.Len(t, fields, len(strings.Split(fixed, "\n"))+2, "a custom header adds its name and value")
	assert.Equal(t, "cf-connecting-ip", fields[len(fields)-2])
	assert.Equal(t, "$http_cf_connecting_ip", fields[len(fields)-1])
	assert.NotContains(t, v, `\n`)

	_, err = Value("map $a $" + fastpath.Variable + " { volatile; }")
	assert.ErrorContains(t, err, "no default")
	_, err = Value("server { }")
	assert.ErrorContains(t, err, "no map")
}

// TestValueReadsAsNginx: the include is read by nginxvar.Parse, nginx's
// tokenizer. The cases marked "nginx:" are where fastinclude's former
// tokenizer disagreed with nginx (checked with Debian's nginx: the values as
// a running nginx returns them, the errors as nginx -t words them): it kept
// escapes in an unquoted word as typed, took a word glued to a closing
// quote as a new word, accepted a malformed complex value, a block in the
// map and a second default, and missed a quoted "map" or a variable name
// in other case.
func TestValueReadsAsNginx(t *testing.T) {
	head := "map $nginx_version $" + fastpath.Variable + " {\n"
	for _, tc := range []struct {
		name, text, want, err string
	}{
		{name: "escapes in quotes", text: head + `default "x\ty\"z\\w\q";}`, want: "x\ty\"z\\w\\q"},
		{name: "single quotes", text: head + `default 'it\'s';}`, want: "it's"},
		{name: "nginx: escapes in an unquoted word", text: head + `default a\"b\tc;}`, want: "a\"b\tc"},
		{name: "quotes, # and } inside a word", text: head + `default x"y#z};}`, want: `x"y#z}`},
		{name: "${ does not open a block", text: head + `default ${remote_addr}x;}`, want: "${remote_addr}x"},
		{name: "comment", text: head + "# default no;\n default yes; # default no;\n}", want: "yes"},
		{name: "nginx: quoted directive names", text: `"map" $nginx_version "$` + fastpath.Variable + `" { "default" v; }`, want: "v"},
		{name: "nginx: variable names ignore case", text: "map $nginx_version $CLIENT_IP_GUARD_FACTS { default v; }", want: "v"},
		{name: "inside http", text: "http {\n server { listen 80; }\n " + head + " default v;\n }\n}\n", want: "v"},
		{name: "nginx: text after a quote", text: head + `default "a"b;}`, err: `unexpected "b" in include:2`},
		{name: "nginx: unclosed ${", text: head + "\n default \"${remote_addr\";\n}", err: `the closing bracket in "remote_addr" variable is missing in include:3`},
		{name: "nginx: block in a map", text: head + "default v;\n x y {}\n}", err: `unexpected "{" in include:3`},
		{name: "nginx: duplicate default", text: head + "default v;\ndefault w;\n}", err: "duplicate default map parameter in include:3"},
		{name: "unterminated string", text: head + `default "cig1`, err: `unexpected end of file, expecting ";" or "}" in include:2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Value(tc.text)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMatch(t *testing.T) {
	xff := include(t, "X-Forwarded-For")
	cf := include(t, "CF-Connecting-IP")
	for _, tc := range []struct {
		name, text, source string
		m                  Mismatch
		why                string
	}{
		{"as generated", xff, "X-Forwarded-For", Same, ""},
		{"fixed fields serve X-Real-IP too", xff, "X-Real-IP", Same, ""},
		{"and PROXY protocol", xff, "proxy_protocol", Same, ""},
		{"comments and layout do not count", "# mine\n" + strings.ReplaceAll(xff, "    ", "\t\t"), "X-Forwarded-For", Same, ""},
		{"custom header", cf, "cf-connecting-ip", Same, ""},
		{"other custom header", cf, "True-Client-IP", OtherSource, "generated for real_ip_header cf-connecting-ip, but this instance reads True-Client-IP"},
		{"no custom field", xff, "CF-Connecting-IP", OtherSource, "generated for real_ip_header X-Real-IP, X-Forwarded-For or proxy_protocol (no extra header field), but this instance reads CF-Connecting-IP"},
		{"custom field, fixed source", cf, "X-Forwarded-For", OtherSource, "generated for real_ip_header cf-connecting-ip"},
		{"edited variable", strings.Replace(xff, "$http_x_forwarded_for", "$http_x_client", 1), "X-Forwarded-For", Edited, "differs from what this version's kongconf generate --fast-path writes"},
		{"another layout", strings.Replace(xff, `"cig1`, `"cig0`, 1), "X-Forwarded-For", OtherLayout, `another layout (it starts "cig0"`},
		{"no map", "server {}", "X-Forwarded-For", Missing, "defines no $client_ip_guard_facts"},
		{"not nginx", xff + "}", "X-Forwarded-For", Missing, `defines no $client_ip_guard_facts: unexpected "}" in include:`},
		{"malformed value", strings.Replace(xff, "$http_forwarded", "${http_forwarded", 1), "X-Forwarded-For", Edited, `its value cannot be read: the closing bracket in "http_forwarded" variable is missing`},
		// nginx: \n is a line feed in an unquoted word too, so the value
		// without its quotes is the same; the former tokenizer kept the
		// escapes of an unquoted word as typed and saw an edit.
		{"quotes do not count", strings.Replace(strings.Replace(xff, `default "`, "default ", 1), `";`, ";", 1), "X-Forwarded-For", Same, ""},
		{"bad plugin header", xff, "X Y", Edited, "nginx can name only"},
	} {
		m, why := Match(tc.text, tc.source)
		assert.Equal(t, tc.m, m, tc.name)
		assert.Contains(t, why, tc.why, tc.name)
	}
}

// TestRenderFillsAsTheFullPath: the variable rendered for a request and
// read by fastpath.Fill judges the request as the three calls' facts do
// (the facts built the way the guard's gather builds them), for requests
// the fast path serves.
func TestRenderFillsAsTheFullPath(t *testing.T) {
	conf := &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true}
	pol, err := guardconf.Compile(conf)
	require.NoError(t, err)
	value, err := Value(include(t, conf.RealIPHeader))
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		peer    string
		headers []nginxvar.Header
		kong    string
		want    fastpath.Status
	}{
		{"clean chain", "10.0.0.5", []nginxvar.Header{{Name: "X-Forwarded-For", Value: "203.0.113.7, 10.0.0.9"}}, "203.0.113.7", fastpath.OK},
		{"two lines join cleanly", "10.0.0.5", []nginxvar.Header{{Name: "X-Forwarded-For", Value: "203.0.113.7"}, {Name: "X-Forwarded-For", Value: "10.0.0.9"}}, "203.0.113.7", fastpath.OK},
		{"untrusted peer with a header", "198.51.100.1", []nginxvar.Header{{Name: "X-Forwarded-For", Value: "1.2.3.4"}}, "198.51.100.1", fastpath.OK},
		{"empty entry needs the lines", "10.0.0.5", []nginxvar.Header{{Name: "X-Forwarded-For", Value: "203.0.113.7,,10.0.0.9"}}, "203.0.113.7", fastpath.Ineligible},
	} {
		raw, err := Render(value, Request{Peer: tc.peer, RemoteAddr: tc.kong, Headers: tc.headers}, nginxvar.V1_25)
		require.NoError(t, err, tc.name)
		var fast evaluate.Facts
		st, why := fastpath.Fill(&fast, []byte(raw), pol.Resolver.Kind(), pol.Resolver.HeaderName())
		require.Equal(t, tc.want, st, "%s: %s", tc.name, why)
		if st != fastpath.OK {
			continue
		}
		var full evaluate.Facts
		require.NoError(t, full.SetPeer(tc.peer))
		full.SetKong(tc.kong)
		for _, h := range tc.headers {
			full.AddHeader(pol.Resolver.HeaderName(), []byte(strings.ToLower(h.Name)), []byte(h.Value))
		}
		evFast := evaluate.Evaluate(pol, &fast, nil)
		evFull := evaluate.Evaluate(pol, &full, nil)
		assert.Equal(t, evFull.Outcome, evFast.Outcome, tc.name)
		assert.Equal(t, evFull.Result.Addr, evFast.Result.Addr, tc.name)
	}
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		header string
		v      nginxvar.Version
		want   fastpath.Status
		why    string
	}{
		{"X-Forwarded-For", nginxvar.V1_22, fastpath.Unavailable, "nginx 1.23 or later"}, // an empty first X-Real-IP line hides the rest
		{"X-Forwarded-For", nginxvar.V1_25, fastpath.OK, ""},
		{"proxy_protocol", nginxvar.V1_22, fastpath.Unavailable, "nginx 1.23 or later"},
		{"proxy_protocol", nginxvar.V1_25, fastpath.OK, ""},
		{"X-Real-IP", nginxvar.V1_25, fastpath.OK, ""},
		{"X-Real-IP", nginxvar.V1_22, fastpath.Unavailable, "nginx 1.23 or later"},
		{"CF-Connecting-IP", nginxvar.V1_25, fastpath.OK, ""},
		{"CF-Connecting-IP", nginxvar.Version{Major: 1, Minor: 21}, fastpath.Unavailable, "nginx 1.23 or later"},
		{"Forwarded", nginxvar.V1_25, fastpath.Unavailable, "Forwarded"},
	} {
		pol, err := guardconf.Compile(&guardconf.Config{RealIPHeader: tc.header})
		require.NoError(t, err)
		st, why := Probe(tc.header, pol.Resolver.Kind(), pol.Resolver.HeaderName(), tc.v)
		assert.Equal(t, tc.want, st, "%s on %s: %s", tc.header, tc.v, why)
		assert.Contains(t, why, tc.why)
	}
	st, why := Probe("bad header", realip.KindCustom, "bad header", nginxvar.V1_25)
	assert.Equal(t, fastpath.Unavailable, st)
	assert.Contains(t, why, "bad header")
	// An instance whose header the node's include does not carry.
	st, why = Probe("X-Forwarded-For", realip.KindCustom, "cf-connecting-ip", nginxvar.V1_25)
	assert.Equal(t, fastpath.Unavailable, st)
	assert.Contains(t, why, "carries no cf-connecting-ip header")
	st, _ = Probe("CF-Connecting-IP", realip.KindXForwardedFor, "x-forwarded-for", nginxvar.V1_25)
	assert.Equal(t, fastpath.OK, st, "the fixed fields are in every include")
}
