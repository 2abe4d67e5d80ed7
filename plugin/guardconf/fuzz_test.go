package guardconf

import (
	"encoding/json"
	"errors"
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
