// Package pluginsrv is Kong's side of the ProtoBuf:1 plugin-server
// protocol that go-pdk plugins speak, reproduced from Kong 3.x
// (kong/runloop/plugin_servers): it queries a plugin binary with -dump,
// runs and supervises the plugin server as Kong's worker 0 does, keeps one
// plugin instance per plugin entity, and drives events over the plugin's
// Unix socket, answering the PDK calls a plugin makes from a Request.
//
// Nothing here depends on Kong or OpenResty: the goal is that a real
// plugin binary, unchanged, sees the same bytes, the same answers and the
// same failures it would see under Kong.
package pluginsrv
