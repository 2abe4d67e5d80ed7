package nginxvar

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHTTP(t *testing.T) {
	hs := []Header{
		{"X-Forwarded-For", "1.1.1.1"},
		{"X_Forwarded_For", "6.6.6.6"},
		{"x-forwarded-for", "2.2.2.2"},
		{"X-Real-IP", "3.3.3.3"},
		{"X_Real_IP", "7.7.7.7"},
		{"Forwarded", ""},
	}
	tests := []struct {
		name  string
		v     Version
		want  string
		found bool
	}{
		{"x_forwarded_for", V1_22, "1.1.1.1, 2.2.2.2", true},
		{"x_forwarded_for", V1_25, "1.1.1.1, 2.2.2.2", true},
		{"x_real_ip", V1_22, "3.3.3.3", true},
		{"x_real_ip", V1_25, "3.3.3.3, 7.7.7.7", true},
		{"forwarded", V1_25, "", true},
		{"via", V1_25, "", false},
	}
	for _, tt := range tests {
		got, found := HTTP(hs, tt.name, tt.v)
		assert.Equal(t, tt.want, got, "%s on %s", tt.name, tt.v)
		assert.Equal(t, tt.found, found, "%s on %s", tt.name, tt.v)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"a": "1", "b_c": "2"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"x$a\n${b_c}y": "x1\n2y",
		"$A":           "1",
		"${a}b_c":      "1b_c",
		"no vars":      "no vars",
	} {
		got, err := Expand(in, lookup)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, why := range map[string]string{
		"$nope":  `unknown "nope" variable`,
		"${a":    "closing bracket",
		"$":      "invalid variable name",
		"x$-foo": "invalid variable name",
	} {
		_, err := Expand(in, lookup)
		assert.ErrorContains(t, err, why, in)
	}
}
