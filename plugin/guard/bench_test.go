package guard_test

import (
	"net"
	"testing"

	"github.com/Kong/go-pdk"

	"github.com/client-ip-guard/client-ip-guard/plugin/metrics"
)

// BenchmarkAccess is the handler's own cost for one ok request in the
// default configuration, with Kong played over net.Pipe: against the same
// three calls made by a handler that does nothing with the answers
// (trivial), the difference is the guard's work on the plugin side.
func BenchmarkAccess(b *testing.B) {
	cfg := config(b, confXFFRec+`}`)
	steps := gather(lb, hs{"x-forwarded-for": {"203.0.113.50, " + client}, "host": {"example.com"}, "user-agent": {"curl/8"}}, client)
	for _, bc := range []struct {
		name    string
		handle  func(*pdk.PDK)
		metrics bool
	}{
		{"guard", cfg.Access, false},
		{"guard+metrics", cfg.Access, true},
		{"trivial", func(kong *pdk.PDK) {
			_, _ = kong.Client.GetIp()
			_, _ = kong.Request.GetHeaders(1000)
			_, _ = kong.Client.GetForwardedIp()
		}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			metrics.SetEnabled(bc.metrics)
			defer metrics.SetEnabled(false)
			b.ReportAllocs()
			for b.Loop() {
				c := &conversation{steps: steps, done: make(chan struct{})}
				a, k := net.Pipe()
				c.plugin, c.kong = &wire{Conn: a}, k
				go c.serve()
				bc.handle(c.pdk())
				_ = c.plugin.Close()
				<-c.done
			}
		})
	}
}
