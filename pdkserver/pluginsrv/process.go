package pluginsrv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// dump is go-pdk's -dump output (server/os.go dumpInfo).
type dump struct {
	Protocol string
	Plugins  []struct {
		Name     string
		Phases   []string
		Version  string
		Priority int
		Schema   json.RawMessage
	}
}

// queryInfo runs the query command as Kong's process.lua does (io.popen
// through a shell, stdout only) and reads the first plugin of the dump.
func queryInfo(ctx context.Context, cmdline string) (PluginInfo, error) {
	if cmdline == "" {
		return PluginInfo{}, errors.New("query_command undefined")
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return PluginInfo{}, fmt.Errorf("error loading plugins info from [%s]: %v: %s", cmdline, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var d dump
	if err := json.Unmarshal(out, &d); err != nil {
		return PluginInfo{}, fmt.Errorf("failed decoding plugin info from [%s]: %v", cmdline, err)
	}
	if d.Protocol == "" {
		d.Protocol = "MsgPack:1" // Kong's default when the dump has none
	}
	if d.Protocol != "ProtoBuf:1" {
		return PluginInfo{}, fmt.Errorf("plugin server protocol %q is not ProtoBuf:1", d.Protocol)
	}
	if len(d.Plugins) == 0 || d.Plugins[0].Name == "" {
		return PluginInfo{}, fmt.Errorf("not a plugin info table: %s", bytes.TrimSpace(out))
	}
	p := d.Plugins[0] // Kong 3.9+ uses the first entry only
	return PluginInfo{Name: p.Name, Phases: p.Phases, Priority: p.Priority, Version: p.Version, Schema: p.Schema}, nil
}

// supervisor runs the plugin server as process.lua's pluginserver_timer:
// spawn, copy its output to the log, wait, respawn no sooner than a
// second after the previous spawn, until stopped.
type supervisor struct {
	mu      sync.Mutex
	cur     *os.Process
	stopped bool
	wake    chan struct{} // closed by stop
	done    chan struct{} // closed when the loop returns
}

func (p *supervisor) start(s *Server) error {
	p.wake = make(chan struct{})
	p.done = make(chan struct{})
	// The first spawn is synchronous so that a bad command is reported
	// by Start rather than only logged.
	proc, out, err := spawn(s)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cur = proc
	p.mu.Unlock()
	go p.loop(s, proc, out)
	return nil
}

func (p *supervisor) loop(s *Server, proc *os.Process, out io.ReadCloser) {
	defer close(p.done)
	for {
		next := time.Now().Add(time.Second)
		p.mu.Lock()
		p.cur = proc
		stopped := p.stopped
		p.mu.Unlock()
		if stopped && proc != nil {
			_ = proc.Signal(syscall.SIGTERM)
		}
		if proc != nil {
			s.stats.spawns.Add(1)
			logf(s.opts.Logf, "[notice] [pluginserver] started, pid %d", proc.Pid)
			grabLogs(s, proc.Pid, out)
			st, err := proc.Wait()
			p.mu.Lock()
			p.cur = nil
			p.mu.Unlock()
			// Every connection to the dead process is stale: nginx's
			// keepalive pool notices the peer's close and drops them.
			s.pool.bumpGeneration()
			switch {
			case err != nil:
				logf(s.opts.Logf, "[notice] external pluginserver '%s' terminated: %v", s.opts.Name, err)
			case st.ExitCode() == 127:
				logf(s.opts.Logf, "[error] [pluginserver] external pluginserver %q start command %q exited with \"command not found\"", s.opts.Name, s.opts.StartCmd)
			default:
				logf(s.opts.Logf, "[notice] external pluginserver '%s' terminated: %s", s.opts.Name, st)
			}
		}
		select {
		case <-p.wake:
			logf(s.opts.Logf, "[notice] [pluginserver] exiting: pluginserver '%s' not respawned.", s.opts.Name)
			return
		case <-time.After(time.Until(next)):
		}
		logf(s.opts.Logf, "[notice] [pluginserver] starting pluginserver process for %s", s.opts.Name)
		var err error
		proc, out, err = spawn(s)
		if err != nil {
			logf(s.opts.Logf, "[error] [pluginserver] spawning %s: %v", s.opts.Name, err)
			proc = nil
		}
	}
}

// spawn starts "exec <start_cmd>" through /bin/sh with nginx's cleared
// environment (only TZ survives) and stdout+stderr merged into one pipe.
func spawn(s *Server) (*os.Process, io.ReadCloser, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", "exec "+s.opts.StartCmd)
	cmd.Env = []string{}
	if tz, ok := os.LookupEnv("TZ"); ok {
		cmd.Env = append(cmd.Env, "TZ="+tz)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("starting %q: %w", s.opts.StartCmd, err)
	}
	w.Close()
	return cmd.Process, r, nil
}

// grabLogs copies the plugin server's output to the log, one info line
// per line, prefixed "[<name>:<pid>] ", until the pipe closes.
func grabLogs(s *Server, pid int, out io.ReadCloser) {
	defer out.Close()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			logf(s.opts.Logf, "[info] [%s:%d] %s", s.opts.Name, pid, line)
		}
	}
	// A line longer than the buffer stops the scanner; drain so the
	// plugin never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, out)
}

func (p *supervisor) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.Pid
}

// stop ends respawning and SIGTERMs the current process, SIGKILLing it if
// it is still there after 5 s.
func (p *supervisor) stop() error {
	if p.done == nil {
		return nil
	}
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.wake)
	}
	cur := p.cur
	p.mu.Unlock()
	if cur != nil {
		_ = cur.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	p.mu.Lock()
	cur = p.cur
	p.mu.Unlock()
	if cur != nil {
		_ = cur.Kill()
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("plugin server did not exit")
	}
}
