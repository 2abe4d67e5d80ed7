package pluginsrv

import (
	"context"
	"errors"
	"fmt"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
)

// maxAttempts bounds Kong's retry-by-recursion after the plugin closed the
// socket (pb_rpc.lua Rpc:handle_event recurses without a limit).
const maxAttempts = 4

// ErrServerClosed is returned for events on a closed Server.
var ErrServerClosed = errors.New("plugin server is closed")

// HandleEvent runs one phase of the plugin for a request, as Kong's
// plugin handler does: get (or start) the entity's instance, send
// CmdHandleEvent and answer the plugin's PDK calls from req until the
// handler returns or exits. An error means Kong would answer 500
// ("An unexpected error occurred"); req.Exit set with a nil error means
// the plugin exited.
//
// The "log" phase is run with the semantics of Kong's log timer, from a
// snapshot taken now (see HandleLogAsync, which also does it
// asynchronously).
func (s *Server) HandleEvent(ctx context.Context, e *Entity, phase string, req *kongpdk.Request) error {
	if req == nil {
		return errors.New("pluginsrv: HandleEvent with a nil Request")
	}
	var snap *kongpdk.Snapshot
	if phase == "log" {
		snap = kongpdk.NewSnapshot(req, s.opts.WorkspaceID)
	}
	return s.runEvent(ctx, e, s.newEvent(req, phase, snap))
}

// HandleLogAsync schedules the log phase the way Kong does for external
// plugins: the snapshot (serializer output, ngx.ctx copy, ctx.shared,
// request and response headers, status, start time) is taken now, the
// event runs later on its own connection, and done (if non-nil) receives
// its outcome. Calls that need the live request fail there.
func (s *Server) HandleLogAsync(e *Entity, req *kongpdk.Request, done func(error)) {
	if req == nil {
		if done != nil {
			done(errors.New("pluginsrv: HandleLogAsync with a nil Request"))
		}
		return
	}
	ev := s.newEvent(req, "log", kongpdk.NewSnapshot(req, s.opts.WorkspaceID))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.LogTimeout)
		err := s.runEvent(ctx, e, ev)
		cancel()
		if done != nil {
			done(err)
		}
	}()
}

func (s *Server) runEvent(ctx context.Context, e *Entity, ev *event) error {
	if s.closed.Load() {
		return ErrServerClosed
	}
	s.stats.events.Add(1)
	for attempt := 1; ; attempt++ {
		id, err := s.instanceID(ctx, e)
		if err != nil {
			// get_instance_id raises a Lua error: no retry.
			s.stats.eventErrors.Add(1)
			return err
		}
		err = s.handleEventOnce(ctx, id, ev)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrClosed) && attempt < maxAttempts && ctx.Err() == nil && !s.closed.Load() {
			// "no plugin instance" / "closed": drop every instance of the
			// plugin and run the event again.
			s.insts.resetAll()
			s.stats.retries.Add(1)
			// pb_rpc.lua:378 (3.9.3) logs with kong.log, which the plugins
			// iterator namespaced for this plugin: the tag is there.
			logf(s.opts.Logf, "[warn] [kong] pb_rpc.lua:378 [%s] %v", s.info.Name, err)
			continue
		}
		s.stats.eventErrors.Add(1)
		return fmt.Errorf("pluginserver error: %w", err)
	}
}
