// Package pluginsrv is Kong's side of the ProtoBuf:1 plugin-server
// protocol that go-pdk plugins speak, reproduced from Kong 3.x
// (kong/runloop/plugin_servers): it queries a plugin binary with -dump,
// runs and supervises the plugin server as Kong's worker 0 does, keeps one
// plugin instance per plugin entity, and drives events over the plugin's
// Unix socket. The PDK calls a plugin makes are answered by package
// kongpdk from a kongpdk.Request.
//
// Nothing here depends on Kong or OpenResty: the goal is that a real
// plugin binary, unchanged, sees the same bytes, the same answers and the
// same failures it would see under Kong.
//
// Usage:
//
//	s, err := pluginsrv.Start(ctx, pluginsrv.Options{Name: "p", StartCmd: "/bin/p -kong-prefix /tmp/k",
//		QueryCmd: "/bin/p -dump", Socket: "/tmp/k/p.socket"})
//	err = s.HandleEvent(ctx, entity, "access", req) // req.Exit set: the plugin exited
//	s.HandleLogAsync(entity, req, done)             // after the response, from a snapshot
//
// Where Kong's behaviour is reproduced and where it is bounded:
//
//   - One emulated worker: instances, the connection pool and __seq__
//     belong to a Server.
//   - Kong retries an event without limit after the plugin closes the
//     socket; here an event is tried at most four times.
//   - Every RPC is bounded by its context and by Kong's 60 s cosocket
//     timeout; a connection is never shared by two RPCs.
//   - PDK methods are answered by kongpdk (see there for what it models).
package pluginsrv
