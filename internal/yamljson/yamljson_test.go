package yamljson

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarshal(t *testing.T) {
	type inner struct {
		B string `json:"b"`
		A []int  `json:"a"`
	}
	long := strings.Repeat("x ", 60)
	y, err := Marshal(map[string]any{
		"z": inner{B: "on", A: []int{1, 2}},
		"a": map[string]string{"long": long, "num": "80", "multi": "a\nb"},
		"e": map[string]any{},
		"n": nil,
	})
	require.NoError(t, err)
	assert.Equal(t, `a:
  long: '`+long+`'
  multi: |-
    a
    b
  num: "80"
e: {}
"n": null
z:
  a:
  - 1
  - 2
  b: "on"
`, string(y))
}

func TestToJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a: yes\nb: 'yes'\nc: !!str on\nd: off\ne: true", `{"a":true,"b":"yes","c":"on","d":false,"e":true}`},
		{"1: x\ntrue: z", `{"1":"x","true":"z"}`},
		{"base: &b {k: 1}\nref: *b\nm: {<<: *b, j: 2}", `{"base":{"k":1},"m":{"j":2,"k":1},"ref":{"k":1}}`},
		{"- 1.5\n- ~\n- [a]", `[1.5,null,["a"]]`},
	}
	for _, tt := range tests {
		j, err := ToJSON([]byte(tt.in))
		require.NoError(t, err, tt.in)
		assert.JSONEq(t, tt.want, string(j), tt.in)
	}
	_, err := ToJSON([]byte("a: [unclosed"))
	assert.Error(t, err)
}

func TestUnmarshalStrict(t *testing.T) {
	type T struct {
		Name  string            `json:"name"`
		On    bool              `json:"on"`
		Tags  []string          `json:"tags"`
		Extra map[string]string `json:"extra"`
	}
	var v T
	require.NoError(t, UnmarshalStrict([]byte("name: n\n\"on\": yes\ntags: [off, 1]\nextra: {a: yes}\n"), &v))
	assert.Equal(t, T{Name: "n", On: true, Tags: []string{"off", "1"}, Extra: map[string]string{"a": "yes"}}, v)
	err := UnmarshalStrict([]byte("name: n\nother: 1\n"), &v)
	assert.ErrorContains(t, err, `unknown field "other"`)
	err = UnmarshalStrict([]byte("name: n\nname: m\n"), &v)
	assert.ErrorContains(t, err, "already defined")
}
