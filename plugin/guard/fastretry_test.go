package guard_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// TestFastPathRetry: an instance whose variable is undefined (include not
// loaded) warns once, reads its requests with the three calls for a
// minute, then asks for the variable again, and takes the one call once a
// reload has loaded the include.
func TestFastPathRetry(t *testing.T) {
	saved := guard.Now
	t.Cleanup(func() { guard.Now = saved })
	cfg := config(t, `{"trusted_ips": ["10.0.0.0/8"], "real_ip_header": "X-Forwarded-For", "fast_path": true}`)
	req := kongRequest{peer: lb, kong: client, headers: []realip.Header{{Name: "X-Forwarded-For", Value: client}}}
	full := []string{"kong.client.get_ip", "kong.request.get_headers", "kong.client.get_forwarded_ip"}
	steps := []struct {
		after  time.Duration
		loaded bool
		calls  []string
		warned bool
	}{
		{0, false, append([]string{"kong.nginx.get_var", "kong.log.warn"}, full...), true},
		{30 * time.Second, false, full, false},
		{59 * time.Second, true, full, false}, // loaded, but the minute is not over
		{61 * time.Second, false, append([]string{"kong.nginx.get_var"}, full...), false},
		{100 * time.Second, true, full, false},
		{122 * time.Second, true, []string{"kong.nginx.get_var"}, false},
		{123 * time.Second, true, []string{"kong.nginx.get_var"}, false},
	}
	for _, s := range steps {
		now := fixed.Add(s.after)
		guard.Now = func() time.Time { return now }
		r := req
		if s.loaded {
			r.facts = renderFacts(t, nginxvar.V1_25, "X-Forwarded-For", req)
		}
		got := standIn(t, cfg, r)
		assert.Equal(t, s.calls, got.calls, "at +%s", s.after)
		assert.Equal(t, s.warned, got.warned != "", "warned at +%s: %q", s.after, got.warned)
		assert.Nil(t, got.record, "an ok request, no record")
	}
}
