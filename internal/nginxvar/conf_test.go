package nginxvar

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParse: the values were checked against Debian's nginx 1.22.1 (its
// ngx_conf_read_token is 1.25.3's): a map's default set to the word and
// returned by "return 200".
func TestParse(t *testing.T) {
	cases := []struct {
		name, text string
		want       []Directive
	}{
		{name: "empty", text: "", want: []Directive{}},
		{name: "only comments", text: "# a;\n  # }\n", want: []Directive{}},
		{name: "nested blocks", text: "http {\n server {\n  listen 80;\n  location / { return 200; }\n }\n map $a $b {}\n}\n",
			want: []Directive{{Name: "http", Line: 1, Block: []Directive{
				{Name: "server", Line: 2, Block: []Directive{
					{Name: "listen", Args: []string{"80"}, Line: 3},
					{Name: "location", Args: []string{"/"}, Line: 4, Block: []Directive{{Name: "return", Args: []string{"200"}, Line: 4}}},
				}},
				{Name: "map", Args: []string{"$a", "$b"}, Line: 6, Block: []Directive{}},
			}}}},
		{name: "no blanks around braces", text: "a{b;}c;", want: []Directive{
			{Name: "a", Line: 1, Block: []Directive{{Name: "b", Line: 1}}}, {Name: "c", Line: 1}}},
		{name: "comments", text: "# c\na b; # d ;{}\nc # e\n f;", want: []Directive{
			{Name: "a", Args: []string{"b"}, Line: 2}, {Name: "c", Args: []string{"f"}, Line: 4}}},
		{name: "# quotes and } inside a word are ordinary", text: `a b#c x"y'z};`, want: []Directive{
			{Name: "a", Args: []string{"b#c", `x"y'z}`}, Line: 1}}},
		{name: "escapes in quotes", text: `a "x\ty\"z\\w\q\'" 'it\'s\n' "";`, want: []Directive{
			{Name: "a", Args: []string{"x\ty\"z\\w\\q'", "it's\n", ""}, Line: 1}}},
		{name: "quoted words keep blanks and braces", text: "a \"b c;{}\" 'd\n#e';", want: []Directive{
			{Name: "a", Args: []string{"b c;{}", "d\n#e"}, Line: 2}}},
		{name: "escapes in an unquoted word", text: `a b\"c\td\ e\;f\q\\g;`, want: []Directive{
			{Name: "a", Args: []string{"b\"c\td\\ e\\;f\\q\\g"}, Line: 1}}},
		{name: "an escaped quote does not open a word", text: `a \"b\';`, want: []Directive{
			{Name: "a", Args: []string{`"b'`}, Line: 1}}},
		{name: "${ does not open a block", text: "a ${b}c x${y}{ z; }", want: []Directive{
			{Name: "a", Args: []string{"${b}c", "x${y}"}, Line: 1, Block: []Directive{{Name: "z", Line: 1}}}}},
		{name: "$ before a letter, then { opens a block", text: "a $b{ }", want: []Directive{
			{Name: "a", Args: []string{"$b"}, Line: 1, Block: []Directive{}}}},
		{name: "unclosed ${ is a word", text: "a ${b c${;", want: []Directive{
			{Name: "a", Args: []string{"${b", "c${"}, Line: 1}}},
		{name: ") after a quote", text: `if ( "a") {}`, want: []Directive{
			{Name: "if", Args: []string{"(", "a", ")"}, Line: 1, Block: []Directive{}}}},
		{name: "word of 4095 bytes", text: "a " + x(4095) + ";", want: []Directive{{Name: "a", Args: []string{x(4095)}, Line: 1}}},
		{name: "comment of 4095 bytes", text: "#" + strings.Repeat("c", 4094) + "\na;", want: []Directive{{Name: "a", Line: 2}}},
		{name: "a directive over lines: the line of its ;", text: "a\r\n b\r\n\r\n ;\n", want: []Directive{
			{Name: "a", Args: []string{"b"}, Line: 4}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("f", []byte(tc.text))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestParseErrors: each error is Debian's nginx 1.22.1 "nginx -t" on the
// text (in an included file, or the main file for the blocks).
func TestParseErrors(t *testing.T) {
	cases := []struct{ name, text, err string }{
		{"text after a double quote", `a "b"c;`, `unexpected "c" in f:1`},
		{"text after a single quote", `a 'b'c;`, `unexpected "c" in f:1`},
		{"comment after a quote", `a "b"#c;`, `unexpected "#" in f:1`},
		{"unterminated string", "a\n\"b", `unexpected end of file, expecting ";" or "}" in f:2`},
		{"unterminated directive", "a b\n\n", `unexpected end of file, expecting ";" or "}" in f:3`},
		{"unterminated ${", "a ${b", `unexpected end of file, expecting ";" or "}" in f:1`},
		{"} after words", "a\n \"b\"\n c }", `unexpected "}" in f:3`},
		{"stray ;", ";", `unexpected ";" in f:1`},
		{"stray {", "\n{", `unexpected "{" in f:2`},
		{"stray }", "events {}\n}\n", `unexpected "}" in f:2`},
		{"unterminated block", "events {\n\n", `unexpected end of file, expecting "}" in f:3`},
		{"unterminated nested block", "events {}\nhttp {\n server {\n  listen 80;\n }\n", `unexpected end of file, expecting "}" in f:6`},
		{"error in a block", `events { worker_connections "a"b; }`, `unexpected "b" in f:1`},
		// nginx reads the file through a 4096-byte buffer that must hold the
		// current word, or comment, from its start.
		{"word of 4096 bytes", "map $a $b { default " + x(4096) + "; }", `too long parameter "xxxxxxxxxx..." started in f:1`},
		{"quoted word of 4096 bytes", "map $a $b {\n default \"" + x(4096) + "\"; }", `too long parameter, probably missing terminating """ character in f:2`},
		{"single-quoted word of 4096 bytes", "map $a $b {\n default '" + x(4096) + "'; }", `too long parameter, probably missing terminating "'" character in f:2`},
		{"quoted word of 4095 bytes and its ;", "map $a $b {\n default \"" + x(4095) + "\"; }", `too long parameter "xxxxxxxxxx..." started in f:2`},
		{"comment of 4096 bytes", "#" + strings.Repeat("c", 4095) + "\nmap $a $b { default x; }", `too long parameter "#ccccccccc..." started in f:1`},
		{"long word over lines: its first line", "map $a $b {\n default \"\n" + strings.Repeat("x\n", 3000) + "\"; }", `too long parameter, probably missing terminating """ character in f:2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("f", []byte(tc.text))
			require.Error(t, err)
			assert.Equal(t, tc.err, err.Error())
			assert.Nil(t, got)
		})
	}
}

func x(n int) string { return strings.Repeat("x", n) }
