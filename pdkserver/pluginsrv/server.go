package pluginsrv

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// Options configure a plugin server as kong.conf's pluginserver_<name>_*
// settings do.
type Options struct {
	Name     string // plugin name
	StartCmd string // shell command line, run as Kong does: "exec <cmd>" via /bin/sh -c, near-empty env
	QueryCmd string // e.g. "/abs/bin/client-ip-guard -dump"
	Socket   string // socket path Kong connects to
	// Logf receives the lines Kong would write to its error log (nil
	// discards them).
	Logf func(format string, args ...any)

	// WorkspaceID is the __ws_id sent in plugin configs (default: a fixed
	// UUID standing in for Kong's default workspace).
	WorkspaceID string
	// LogTimeout bounds a log-phase event run by HandleLogAsync (default
	// 60 s, Kong's cosocket timeout).
	LogTimeout time.Duration
}

// PluginInfo is what the plugin's -dump reported.
type PluginInfo struct {
	Name     string
	Phases   []string
	Priority int
	Version  string
	Schema   json.RawMessage
}

// Entity is a plugin entity (a row of Kong's plugins table) as a plugin
// server sees it. Treat an Entity as immutable once handed to the Server:
// pass a new *Entity to change its configuration.
type Entity struct {
	ID, Name, InstanceName         string
	RouteID, ServiceID, ConsumerID string
	Config                         map[string]any
}

// Stats are aggregate counters of a Server.
type Stats struct {
	Events         int64 // HandleEvent calls that reached the plugin
	EventErrors    int64 // events that failed
	Calls          int64 // PDK calls answered (or refused)
	Retries        int64 // events retried after the plugin closed the socket
	Spawns         int64 // plugin-server processes started
	Restarts       int64 // spawns after the first
	InstanceStarts int64
	InstanceCloses int64
	Dials          int64 // socket connections opened
	Idle           int   // pooled connections waiting for an RPC now
}

type counters struct {
	events, eventErrors, calls, retries, spawns, instanceStarts, instanceCloses, dials atomic.Int64
}

// Server is Kong's side of one plugin server: the process it runs, the
// instances started in it and the pooled connections to its socket.
type Server struct {
	opts   Options
	info   PluginInfo
	nodeID string

	stats counters
	msgID atomic.Int64 // Rpc.msg_id

	proc   supervisor
	pool   pool
	insts  instances
	closed atomic.Bool
}

// Start queries the plugin with QueryCmd, then spawns StartCmd and keeps
// it running (respawning it at most once a second) until Close. Like Kong
// it does not wait for the plugin's socket: events before the plugin
// listens fail to connect.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Name == "" {
		return nil, errors.New("pluginsrv: Options.Name is empty")
	}
	if opts.Socket == "" {
		return nil, fmt.Errorf("pluginsrv: no socket path for plugin server %q", opts.Name)
	}
	if opts.WorkspaceID == "" {
		opts.WorkspaceID = kongpdk.DefaultWorkspaceID
	}
	if opts.LogTimeout <= 0 {
		opts.LogTimeout = 60 * time.Second
	}
	info, err := queryInfo(ctx, opts.QueryCmd)
	if err != nil {
		return nil, fmt.Errorf("pluginsrv: %s: %w", opts.Name, err)
	}
	if info.Name != opts.Name {
		// Kong registers the dump's name; a mismatch means kong.conf's
		// pluginserver_names entry does not match the binary.
		logf(opts.Logf, "[warn] [pluginserver] %s: -dump reports plugin name %q", opts.Name, info.Name)
	}
	s := &Server{opts: opts, info: info, nodeID: newUUID()}
	s.pool.init()
	s.insts.init()
	if opts.StartCmd != "" {
		if err := s.proc.start(s); err != nil {
			return nil, fmt.Errorf("pluginsrv: %s: %w", opts.Name, err)
		}
	}
	return s, nil
}

// Info is the plugin's -dump information.
func (s *Server) Info() PluginInfo { return s.info }

// Name is the plugin name from -dump.
func (s *Server) Name() string { return s.info.Name }

// Priority is the plugin's priority from -dump.
func (s *Server) Priority() int { return s.info.Priority }

// Phases are the plugin's phases from -dump, in go-pdk's order.
func (s *Server) Phases() []string { return s.info.Phases }

// Schema is the plugin's schema from -dump.
func (s *Server) Schema() json.RawMessage { return s.info.Schema }

// NodeID is what kong.node.get_id answers.
func (s *Server) NodeID() string { return s.nodeID }

// Pid is the current plugin-server process id (0 while none runs).
func (s *Server) Pid() int { return s.proc.pid() }

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Events: c.events.Load(), EventErrors: c.eventErrors.Load(), Calls: c.calls.Load(),
		Retries: c.retries.Load(), Spawns: c.spawns.Load(), InstanceStarts: c.instanceStarts.Load(),
		InstanceCloses: c.instanceCloses.Load(), Dials: c.dials.Load(),
		Restarts: max(c.spawns.Load()-1, 0),
		Idle:     s.pool.size(),
	}
}

// Close stops respawning, SIGTERMs the plugin server as Kong's
// exit_worker does, waits for it (killing it after 5 s) and closes the
// pooled connections.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := s.proc.stop()
	s.pool.closeAll()
	return err
}

// newUUID returns a random (version 4) UUID, as kong.node.get_id's.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func logf(f func(string, ...any), format string, args ...any) {
	if f != nil {
		f(format, args...)
	}
}
