package pluginsrv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// maxIdle is lua_socket_pool_size, Kong's keepalive pool per worker.
const maxIdle = 256

// pool keeps idle connections to the plugin socket, as the cosocket
// keepalive pool does for a Kong worker.
type pool struct {
	mu   sync.Mutex
	idle []*conn
	gen  uint64
}

func (p *pool) init() { p.idle = make([]*conn, 0, 16) }

// get returns an idle connection of the current generation, or nil.
func (p *pool) get() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if c.gen == p.gen {
			return c
		}
		c.close()
	}
	return nil
}

// put returns a connection after a completed RPC (setkeepalive).
func (p *pool) put(c *conn) {
	p.mu.Lock()
	if c.gen != p.gen || len(p.idle) >= maxIdle {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// bumpGeneration marks every existing connection stale (the plugin
// server they lead to is gone) and closes the idle ones.
func (p *pool) bumpGeneration() {
	p.mu.Lock()
	p.gen++
	idle := p.idle
	p.idle = make([]*conn, 0, 16)
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

func (p *pool) closeAll() { p.bumpGeneration() }

// size is the number of idle connections.
func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (p *pool) generation() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen
}

// acquire returns a pooled connection or dials a new one. reused tells
// which, so that a write failure on a reused one can be told apart.
func (s *Server) acquire(ctx context.Context) (c *conn, reused bool, err error) {
	if c := s.pool.get(); c != nil {
		return c, true, nil
	}
	gen := s.pool.generation()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", s.opts.Socket)
	if err != nil {
		return nil, false, fmt.Errorf("trying to connect: %w", err)
	}
	s.stats.dials.Add(1)
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, false, fmt.Errorf("trying to connect: %s is not a unix socket", s.opts.Socket)
	}
	return newConn(uc, gen), false, nil
}

// isBrokenPipe reports a write to a connection the peer already closed.
func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}
