package nginxvar

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPKnownAndUnknownHeaders(t *testing.T) {
	hs := []Header{
		{"Host", "kong"},
		{"X-Forwarded-For", "1.1.1.1"},
		{"X_Forwarded_For", "6.6.6.6"},
		{"x-forwarded-for", "2.2.2.2, 3.3.3.3"},
		{"X_Real_IP", "7.7.7.7"},
		{"X-Real-IP", "5.5.5.5"},
		{"User-Agent", "a"},
		{"user-agent", "b"},
		{"User_Agent", "u"},
		{"Cookie", "c=1"},
		{"cookie", "d=2"},
		{"CF-Connecting-IP", ""},
		{"cf-connecting-ip", "8.8.8.8"},
		{"Empty", ""},
	}
	cases := []struct {
		name     string
		v22, v25 string
		found22  bool
		found25  bool
	}{
		{name: "x_forwarded_for", v22: "1.1.1.1, 2.2.2.2, 3.3.3.3", v25: "1.1.1.1, 2.2.2.2, 3.3.3.3", found22: true, found25: true},
		{name: "x_real_ip", v22: "7.7.7.7", v25: "7.7.7.7, 5.5.5.5", found22: true, found25: true},
		{name: "user_agent", v22: "a", v25: "a, b", found22: true, found25: true},
		{name: "cookie", v22: "c=1; d=2", v25: "c=1; d=2", found22: true, found25: true},
		{name: "host", v22: "kong", v25: "kong", found22: true, found25: true},
		{name: "cf_connecting_ip", v22: "", v25: ", 8.8.8.8", found22: true, found25: true},
		{name: "empty", v22: "", v25: "", found22: true, found25: true},
		{name: "forwarded"},
		{name: "x-real-ip"}, // nginx compares the variable's '-' with the line's '_'
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := HTTP(hs, tc.name, V1_22)
			assert.Equal(t, tc.found22, ok, "found, 1.22")
			assert.Equal(t, tc.v22, v, "1.22")
			v, ok = HTTP(hs, tc.name, V1_25)
			assert.Equal(t, tc.found25, ok, "found, 1.25")
			assert.Equal(t, tc.v25, v, "1.25")
		})
	}
}

func TestExpandEdges(t *testing.T) {
	vars := map[string]string{"a": "1", "b_2": "two", "empty": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	cases := []struct{ in, want, err string }{
		{in: "plain", want: "plain"},
		{in: "$a$b_2", want: "1two"},
		{in: "${a}x$A-", want: "1x1-"},
		{in: "[$empty]", want: "[]"},
		{in: "x\n$a\n", want: "x\n1\n"},
		{in: "$", err: `invalid variable name in "$"`},
		{in: "$-", err: `invalid variable name in "$-"`},
		{in: "${a", err: `the closing bracket in "a" variable is missing`},
		{in: "$nope", err: `unknown "nope" variable`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Expand(tc.in, lookup)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestHeaderNameValid(t *testing.T) {
	for _, tc := range []struct {
		name              string
		underscores, want bool
	}{
		{"X-Forwarded-For", false, true},
		{"X_Forwarded_For", true, true},
		{"X_Forwarded_For", false, false},
		{"X-Forwarded_For", false, false},
		{"X.Forwarded.For", true, false},
		{"CF-Connecting-IP2", false, true},
		{"X~Y", true, false},
		{"Ünicode", true, false},
	} {
		assert.Equal(t, tc.want, HeaderNameValid(tc.name, tc.underscores), "%s, underscores %v", tc.name, tc.underscores)
	}
}
