package guardconf

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzConfig feeds arbitrary StartInstance config JSON to the decoder and
// compiler: a bad config must never panic (a panic would take the plugin
// server down), every refusal names a field, and an accepted config has a
// usable policy.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"trusted_ips":["10.0.0.0/8","unix:"],"real_ip_header":"X-Forwarded-For","real_ip_recursive":true}`,
		`{"trusted_ips":["0.0.0.0/0"],"mode":"enforce","reject":["direct","lb_ip_leak"],"status":451,"message":"no"}`,
		`{"trusted_ips":["10.0.0.1/33"]}`,
		`{"allow":["2001:db8::/32"],"deny":["2001:db8::1"],"upstream_header":"X-Client-IP"}`,
		`{"real_ip_header":"proxy_protocol","log_sink":"file","log_path":"/tmp/x","log_when":"all"}`,
		`{"real_ip_header":"Forwarded","strip_untrusted_forwarding":true,"log_ports":true}`,
		`{"mode":"sometimes","status":99}`,
		`{"route_id":null,"service_id":"s","__seq__":7,"__plugin_id":"p"}`,
		`[1,2]`, `null`, `{"trusted_ips":"10.0.0.0/8"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Config
		if err := json.Unmarshal(b, &c); err != nil {
			return // go-pdk refuses the instance; nothing compiled
		}
		p, err := c.Policy()
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Field == "" {
				t.Fatalf("refusal without a field: %v", err)
			}
			return
		}
		if p == nil || p.Resolver == nil {
			t.Fatalf("accepted config %q without a resolver", b)
		}
		if p.Status < 100 || p.Status > 599 {
			t.Fatalf("accepted status %d", p.Status)
		}
		switch p.LogWhen {
		case LogAll, LogAnomalies, LogOff:
		default:
			t.Fatalf("accepted log_when %q", p.LogWhen)
		}
	})
}

// FuzzStringList checks the fast list reader against encoding/json: on
// any valid JSON value it either declines (ok false) or returns exactly
// what json.Unmarshal into a []string returns, nil and empty alike.
func FuzzStringList(f *testing.F) {
	for _, s := range []string{
		`["10.0.0.0/8", "2001:db8::/32"]`, `[]`, ` [ ] `, `null`, `["a"]`, "[\"x\"\n,\t\"y\"]",
		`["\u0031"]`, `["é"]`, `[1]`, `"10.0.0.0/8"`, `{"a":1}`, `[null]`, `["a",]`, `[""]`, `true`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // encoding/json hands stringList valid values only
		}
		got, ok := stringList(b)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("stringList accepted %q, encoding/json refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stringList(%q) = %#v, encoding/json %#v", b, got, want)
		}
	})
}

func TestStringList(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{``, nil, true},
		{`null`, nil, true},
		{`[]`, []string{}, true},
		{` [ "10.0.0.0/8" , "::1" ] `, []string{"10.0.0.0/8", "::1"}, true},
		{`["\u0031.2.3.4"]`, nil, false}, // escapes: left to encoding/json
		{`["é"]`, nil, false},
		{`[1]`, nil, false},
		{`"10.0.0.0/8"`, nil, false},
		{`[null]`, nil, false},
	}
	for _, tc := range cases {
		got, ok := stringList(json.RawMessage(tc.in))
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("stringList(%q) = %#v, %v; want %#v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
