package nginxvar

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// knownVars is a small variable set for the parser's checks.
func knownVars(name string) bool {
	switch name {
	case "nginx_version", "remote_addr", "realip_remote_addr", "proxy_protocol_addr", "proxy_protocol_port":
		return true
	}
	return strings.HasPrefix(name, "http_")
}

func TestParseMapsGeneratedInclude(t *testing.T) {
	for _, source := range []string{"", "X-Forwarded-For", "X-Real-IP", "proxy_protocol", "CF-Connecting-IP", "X_Client_IP"} {
		t.Run(source, func(t *testing.T) {
			text, err := fastpath.Include(source)
			require.NoError(t, err)
			maps, err := ParseMaps("fastpath.conf", []byte(text), knownVars)
			require.NoError(t, err)
			require.Len(t, maps, 1)
			m := maps[0]
			assert.Equal(t, fastpath.Variable, m.Name)
			assert.Equal(t, "$nginx_version", m.Source)
			assert.True(t, m.Volatile)
			want := "cig1\n$nginx_version\n$realip_remote_addr\n$remote_addr\n$proxy_protocol_addr\n$proxy_protocol_port\n$http_x_forwarded_for\n$http_x_real_ip\n$http_forwarded"
			switch source {
			case "CF-Connecting-IP":
				want += "\ncf-connecting-ip\n$http_cf_connecting_ip"
			case "X_Client_IP":
				want += "\nx-client-ip\n$http_x_client_ip"
			}
			assert.Equal(t, want, m.Default)
			assert.Equal(t, strings.Count(text[:strings.Index(text, "\nmap ")], "\n")+2, m.Line, "the line the map block starts on")
		})
	}
}

func TestParseMapsSyntax(t *testing.T) {
	cases := []struct {
		name, text string
		want       []Map // File "f" implied
	}{
		{name: "empty", text: "# nothing\n\n"},
		{name: "escapes in double quotes", text: `map $nginx_version $v { default "a\"b\\c\td\re\nf\qg\'h"; }`,
			want: []Map{{Name: "v", Source: "$nginx_version", Default: "a\"b\\c\td\re\nf\\qg'h", Line: 1}}},
		{name: "single quotes and bare words", text: "map\t$remote_addr   $V1 {\n  volatile ;\n  default 'x $remote_addr' ;\n}\n",
			want: []Map{{Name: "v1", Source: "$remote_addr", Volatile: true, Default: "x $remote_addr", Line: 1}}},
		{name: "an escaped space stays escaped", text: `map $nginx_version $v { default a\ b; }`,
			want: []Map{{Name: "v", Source: "$nginx_version", Default: "a\\ b", Line: 1}}},
		{name: "braced variable", text: `map $nginx_version $v { default ${remote_addr}x; }`,
			want: []Map{{Name: "v", Source: "$nginx_version", Default: "${remote_addr}x", Line: 1}}},
		{name: "no default", text: "map $nginx_version $v {\n}\n",
			want: []Map{{Name: "v", Source: "$nginx_version", Line: 1}}},
		{name: "comment after a word", text: "map $nginx_version $v { # c\n default x; }",
			want: []Map{{Name: "v", Source: "$nginx_version", Default: "x", Line: 1}}},
		{name: "two maps", text: "map $nginx_version $a { default 1; }\n\nmap $nginx_version $b { default 2; }\n",
			want: []Map{{Name: "a", Source: "$nginx_version", Default: "1", Line: 1}, {Name: "b", Source: "$nginx_version", Default: "2", Line: 3}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMaps("f", []byte(tc.text), knownVars)
			require.NoError(t, err)
			for i := range tc.want {
				tc.want[i].File = "f"
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseMapsErrors(t *testing.T) {
	cases := []struct{ name, text, err string }{
		{"another directive", "underscores_in_headers off;\n", `"underscores_in_headers": only map blocks are modelled in this include (the form kongconf generate --fast-path writes) in f:1`},
		{"map without block", "map $nginx_version $v;", `directive "map" has no opening "{" in f:1`},
		{"map with one argument", "map $v {\n}", `invalid number of arguments in "map" directive in f:1`},
		{"name without $", "map $nginx_version v { }", `invalid variable name "v" in f:1`},
		{"name only $", "map $nginx_version $ { }", `invalid variable name "$" in f:1`},
		{"name shadows a variable", "map $nginx_version $Remote_Addr { }", `the duplicate "Remote_Addr" variable in f:1`},
		{"name with a dash", "map $nginx_version $a-b { }", `variable name "$a-b": only letters, digits and '_' are modelled in f:1`},
		{"unknown source variable", "map $foo $v { }", `unknown "foo" variable in f:1`},
		{"unknown value variable", "map $nginx_version $v {\n default \"$remote_addr $upstream_addr\";\n}", `unknown "upstream_addr" variable in f:2`},
		{"unclosed brace variable", "map $nginx_version $v {\n\n default \"${remote_addr\";\n}", `the closing bracket in "remote_addr" variable is missing in f:3`},
		{"dollar at the end", `map $nginx_version $v { default "a$"; }`, `invalid variable name in "a$" in f:1`},
		{"duplicate default", "map $nginx_version $v {\n default a;\n default b;\n}", `duplicate default map parameter in f:3`},
		{"an entry", "map $nginx_version $v {\n 1.25.3 a;\n}", `map entry "1.25.3": only volatile and default are modelled in f:2`},
		{"hostnames", "map $nginx_version $v { hostnames; }", `map parameter "hostnames" is not modelled in f:1`},
		{"three parameters", "map $nginx_version $v { default a b; }", `invalid number of the map parameters in f:1`},
		{"nested block", "map $nginx_version $v { default {", `unexpected "{" in f:1`},
		{"unterminated block", "map $nginx_version $v {\n default a;\n", `unexpected end of file, expecting "}" in f:3`},
		{"unterminated string", "map $nginx_version $v {\n default \"a;\n}\n", `unexpected end of file, expecting ";" or "}" in f:4`},
		{"text after a quote", `map $nginx_version $v { default "a"b; }`, `unexpected "b" in f:1`},
		{"stray closing brace", "}\n", `unexpected "}" in f:1`},
		{"stray semicolon", ";", `unexpected ";" in f:1`},
		{"twice the same name", "map $nginx_version $v { }\nmap $nginx_version $V { }", `$v is defined twice (at line 1): not modelled in f:2`},
		{"include inside map", "map $nginx_version $v { include other.conf; }", `map entry "include": only volatile and default are modelled in f:1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMaps("f", []byte(tc.text), knownVars)
			require.Error(t, err)
			assert.Equal(t, tc.err, err.Error())
		})
	}
}

func TestMapValue(t *testing.T) {
	text, err := fastpath.Include("CF-Connecting-IP")
	require.NoError(t, err)
	maps, err := ParseMaps("f", []byte(text), knownVars)
	require.NoError(t, err)
	hs := []Header{{"Host", "kong"}, {"X-Forwarded-For", "1.1.1.1"}, {"x-forwarded-for", "2.2.2.2"}, {"CF_Connecting_IP", "3.3.3.3"}, {"cf-connecting-ip", "4.4.4.4"}}
	vars := map[string]string{"nginx_version": "1.25.3", "realip_remote_addr": "10.0.0.1", "remote_addr": "2.2.2.2", "proxy_protocol_addr": "", "proxy_protocol_port": ""}
	lookup := func(name string) (string, bool) {
		if v, ok := vars[name]; ok {
			return v, true
		}
		if h, ok := strings.CutPrefix(name, "http_"); ok {
			v, _ := HTTP(hs, h, V1_25)
			return v, true
		}
		return "", false
	}
	got, err := maps[0].Value(lookup)
	require.NoError(t, err)
	assert.Equal(t, "cig1\n1.25.3\n10.0.0.1\n2.2.2.2\n\n\n1.1.1.1, 2.2.2.2\n\n\ncf-connecting-ip\n3.3.3.3, 4.4.4.4", got)
}
