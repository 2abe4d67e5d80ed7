package guardconf

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkSameDecode decodes b with UnmarshalJSON (trusted_ips read from the
// bytes when readTrusted can) and the encoding/json way (decode with
// nothing precompiled), and requires the same outcome: the same decoding
// error, the same exported fields and scope, the same policy or policy
// error. It returns the config UnmarshalJSON made.
func checkSameDecode(t *testing.T, b []byte) *Config {
	t.Helper()
	var want, got Config
	errWant := want.decode(b, nil)
	errGot := got.UnmarshalJSON(b)
	require.Equal(t, errText(errWant), errText(errGot), "decoding %q", b)
	if errWant != nil {
		return &got
	}
	fw, err := json.Marshal(&want)
	require.NoError(t, err)
	fg, err := json.Marshal(&got)
	require.NoError(t, err)
	require.JSONEq(t, string(fw), string(fg), "fields of %q", b)
	require.Equal(t, want.Scope(), got.Scope(), "scope of %q", b)
	pw, ew := want.Policy()
	pg, eg := got.Policy()
	require.Equal(t, errText(ew), errText(eg), "policy error of %q", b)
	require.Equal(t, pw, pg, "policy of %q", b)
	return &got
}

func TestReadTrusted(t *testing.T) {
	cases := []struct {
		name string
		in   string
		fast bool     // readTrusted compiles trusted_ips itself
		in4  []string // addresses the policy trusts
		out4 []string // and does not
		err  string   // policy error, naming field and value
	}{
		{name: "plain", in: `{"trusted_ips":["10.0.0.0/8","2001:db8::/32"],"mode":"monitor"}`, fast: true,
			in4: []string{"10.1.2.3", "2001:db8::1"}, out4: []string{"11.0.0.1"}},
		{name: "whitespace everywhere", in: " {\n\t\"trusted_ips\" :\r [ \"10.0.0.0/8\" ,\n\"192.0.2.1\" ] , \"mode\" : \"monitor\" }\n", fast: true,
			in4: []string{"10.9.9.9", "192.0.2.1"}, out4: []string{"192.0.2.2"}},
		{name: "escaped slash", in: `{"trusted_ips":["10.0.0.0\u002f8","\u0031\u0039\u0032.0.2.1"]}`, fast: true,
			in4: []string{"10.1.2.3", "192.0.2.1"}, out4: []string{"11.0.0.0"}},
		{name: "escaped key", in: `{"trusted\u005fips":["10.0.0.0/8"]}`, fast: true, in4: []string{"10.0.0.1"}},
		{name: "key in other case", in: `{"Trusted_IPs":["10.0.0.0/8"]}`, fast: true, in4: []string{"10.0.0.1"}},
		{name: "Kelvin sign and long s fold", in: "{\"tru\u017fted_ips\":[\"10.0.0.0/8\"]}", fast: true, in4: []string{"10.0.0.1"}},
		{name: "not the key", in: `{"trusted_ips_":["10.0.0.0/8"],"x":{"trusted_ips":["11.0.0.0/8"]}}`, fast: true,
			out4: []string{"10.0.0.1", "11.0.0.1"}},
		{name: "duplicate keys: the last wins", in: `{"trusted_ips":["10.0.0.0/8"],"mode":"monitor","TRUSTED_IPS":["11.0.0.0/8"]}`, fast: true,
			in4: []string{"11.0.0.1"}, out4: []string{"10.0.0.1"}},
		{name: "duplicate keys: a last null empties", in: `{"trusted_ips":["10.0.0.0/8"],"trusted_ips":null}`, fast: true,
			out4: []string{"10.0.0.1"}},
		{name: "duplicate keys: a last list after a bad one", in: `{"trusted_ips":["nope"],"trusted_ips":["10.0.0.0/8"]}`,
			in4: []string{"10.0.0.1"}},
		{name: "null", in: `{"trusted_ips":null}`, fast: true, out4: []string{"10.0.0.1"}},
		{name: "empty", in: `{"trusted_ips":[ ]}`, fast: true, out4: []string{"10.0.0.1"}},
		{name: "absent", in: `{"mode":"monitor"}`, fast: true, out4: []string{"10.0.0.1"}},
		{name: "empty object", in: ` { } `, fast: true},
		{name: "blank and padded entries", in: `{"trusted_ips":[""," 10.0.0.0/8 ","\t"]}`, fast: true, in4: []string{"10.0.0.1"}},
		{name: "unicode spaces trimmed", in: `{"trusted_ips":["\u00a010.0.0.0/8\u0085"]}`, fast: true, in4: []string{"10.0.0.1"}},
		{name: "unix", in: `{"trusted_ips":["unix:","::1"]}`, fast: true, in4: []string{"::1"}},
		{name: "v4-mapped entry stays IPv6", in: `{"trusted_ips":["::ffff:10.0.0.0/104"]}`, fast: true, out4: []string{"10.0.0.1"}},
		{name: "strings that look like keys", in: `{"message":"\"trusted_ips\":[\"10.0.0.0/8\"]","trusted_ips":["11.0.0.0/8"]}`, fast: true,
			in4: []string{"11.0.0.1"}, out4: []string{"10.0.0.1"}},
		{name: "scope kept", in: `{"route_id":"r","__plugin_id":"p","trusted_ips":["10.0.0.0/8"],"service_id":null}`, fast: true,
			in4: []string{"10.0.0.1"}},
		{name: "bad entry", in: `{"trusted_ips":["10.0.0.0/8","10.0.0.0/33"]}`, err: `trusted_ips = "10.0.0.0/8,10.0.0.0/33"`},
		{name: "bad escaped entry", in: `{"trusted_ips":["lb\u002eexample.com"]}`, err: `trusted_ips = "lb.example.com"`},
		{name: "zone", in: `{"trusted_ips":["fe80::1%eth0"]}`, err: `trusted_ips = "fe80::1%eth0"`},
		{name: "null entry", in: `{"trusted_ips":[null,"10.0.0.0/8"]}`, in4: []string{"10.0.0.1"}},
		{name: "number entry", in: `{"trusted_ips":[10]}`},
		{name: "string value", in: `{"trusted_ips":"10.0.0.0/8"}`},
		{name: "object value", in: `{"trusted_ips":{"a":"10.0.0.0/8"}}`},
		{name: "not an object", in: `["10.0.0.0/8"]`},
		{name: "null config", in: `null`},
		{name: "trailing comma", in: `{"trusted_ips":["10.0.0.0/8",]}`},
		{name: "unterminated", in: `{"trusted_ips":["10.0.0.0/8"`},
		{name: "control character", in: "{\"trusted_ips\":[\"10.0.0.0/8\x01\"]}"},
		{name: "bad escape", in: `{"trusted_ips":["10.0.0.0\x/8"]}`},
		{name: "trailing data", in: `{"trusted_ips":["10.0.0.0/8"]} x`},
		{name: "status mistyped after the list", in: `{"trusted_ips":["10.0.0.0/8"],"status":"403"}`, fast: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			_, _, fast := readTrusted(b)
			assert.Equal(t, tc.fast, fast, "read from the bytes")
			c := checkSameDecode(t, b)
			p, err := c.Policy()
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			if p == nil {
				return // a decoding or other policy error, the same both ways
			}
			for _, a := range tc.in4 {
				assert.True(t, p.Resolver.Trusted().Contains(netip.MustParseAddr(a)), "%s trusted", a)
			}
			for _, a := range tc.out4 {
				assert.False(t, p.Resolver.Trusted().Contains(netip.MustParseAddr(a)), "%s not trusted", a)
			}
		})
	}
}

// TestReadTrustedWarnings: entries with host bits set and 0.0.0.0/0 warn
// as they do through Compile.
func TestReadTrustedWarnings(t *testing.T) {
	c := checkSameDecode(t, []byte(`{"trusted_ips":["10.1.2.3/8","1.2.3.4/0"],"real_ip_header":"X-Forwarded-For"}`))
	p, err := c.Policy()
	require.NoError(t, err)
	assert.Equal(t, []string{
		"trusted_ips entry 10.1.2.3/8: low address bits are meaningless; matches 10.0.0.0/8",
		"trusted_ips entry 1.2.3.4/0: low address bits are meaningless; matches 0.0.0.0/0",
		"trusted_ips trusts every address with a header source: any client can forge its address",
	}, p.Warnings)
	assert.True(t, p.TrustAllWarns)
}

// FuzzReadTrusted compares UnmarshalJSON, which reads trusted_ips from
// the bytes when it can, with decoding the encoding/json way, on any
// input: the same error, fields, scope and policy.
func FuzzReadTrusted(f *testing.F) {
	for _, s := range []string{
		`{"trusted_ips":["10.0.0.0/8","2001:db8::/32"],"mode":"monitor"}`,
		`{"trusted\u005fips":["10.0.0.0\u002f8"],"TRUSTED_IPS":null}`,
		`{"trusted_ips":[" 10.1.2.3/8 ","unix:"],"route_id":"r","x":[{"trusted_ips":1}]}`,
		`{"trusted_ips":["nope"]}`, `{"trusted_ips":[null]}`, `{"trusted_ips":"x"}`, `[]`, `{}`, `null`,
		"{\"tru\u017fted_ips\":[\"::ffff:1.2.3.4/120\"],\"allow\":[\"10.0.0.0/8\"]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSameDecode(t, b) })
}
