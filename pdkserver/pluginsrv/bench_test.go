package pluginsrv

import (
	"context"
	"testing"
)

// BenchmarkAccessEvent measures one access event over the real plugin
// socket: noop (no PDK call) against trivial (three PDK calls, as many
// round trips as client-ip-guard's fast path) against client-ip-guard
// itself in its default configuration, sequential and parallel.
func BenchmarkAccessEvent(b *testing.B) {
	for _, name := range []string{"noop", "trivial", "client-ip-guard"} {
		s, _ := startPlugin(b, name)
		e := &Entity{ID: "bench"}
		ctx := context.Background()
		req := newReq()
		if err := s.HandleEvent(ctx, e, "access", req); err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req.Calls = nil
				if err := s.HandleEvent(ctx, e, "access", req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := newReq()
				for pb.Next() {
					req.Calls = nil
					if err := s.HandleEvent(ctx, e, "access", req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
