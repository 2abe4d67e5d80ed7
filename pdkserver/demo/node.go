package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/gateway"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongpdk"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/kongyml"
	"github.com/client-ip-guard/client-ip-guard/pdkserver/pluginsrv"
)

// NodeSpec says how to start one emulated Kong node.
type NodeSpec struct {
	// Name labels the node in logs and tables ("alb", "nlb").
	Name string
	// ConfPath is the kong.conf-style file.
	ConfPath string
	// YMLPath is the kong.yml; "" uses the file's declarative_config.
	YMLPath string
	// Environ holds the environment Kong would see; KONG_* entries
	// override the file, as in Kong.
	Environ []string
	// Logf receives the node's error log; nil discards it.
	Logf func(format string, args ...any)
	// EventTimeout bounds one plugin phase (0: the gateway's default).
	EventTimeout time.Duration
	// Observe is passed to the gateway.
	Observe func(*gateway.Exchange)
	// Share, if set, makes this node use Share's plugin servers instead of
	// starting its own (a second front door with other node settings; the
	// pluginserver_* settings of this node are then ignored).
	Share *Node
}

// Node is a running emulated Kong: its plugin servers and its front door.
type Node struct {
	Name    string
	Conf    *nodeconf.Conf
	YMLPath string
	Gateway *gateway.Gateway
	Servers []*pluginsrv.Server // owned: stopped by Close
	// AdminAddrs are the Admin API (POST /config) addresses, if any.
	AdminAddrs []string
	plugins    []gateway.Plugin
	logf       func(string, ...any)
	once       sync.Once
}

// StartNode reads the node configuration and kong.yml, starts every plugin
// server named in pluginserver_names (as Kong: query_cmd, then start_cmd)
// and opens the proxy listeners.
func StartNode(ctx context.Context, spec NodeSpec) (*Node, error) {
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	conf, err := nodeconf.Load(spec.ConfPath, spec.Environ)
	if err != nil {
		return nil, err
	}
	// Kong's error log for this node: nginx writes only lines at kong.conf's
	// log_level or above.
	kongLog, err := gateway.LevelFilter(conf.Raw["log_level"], func(format string, args ...any) {
		logf("["+spec.Name+"] "+format, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.ConfPath, err)
	}
	maxReqHeaders, err := luaMaxReqHeaders(conf.Raw["lua_max_req_headers"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.ConfPath, err)
	}
	n := &Node{Name: spec.Name, Conf: conf, YMLPath: spec.YMLPath, logf: logf}
	if n.YMLPath == "" {
		n.YMLPath = conf.DeclarativeConfig
	}
	if n.YMLPath == "" {
		return nil, fmt.Errorf("%s: no kong.yml: pass one or set declarative_config", spec.ConfPath)
	}
	yml, err := kongyml.Load(n.YMLPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w (the demo's configuration is the repository's kong.yml)", err)
		}
		return nil, err
	}
	node, err := gatewayNode(conf, maxReqHeaders)
	if err != nil {
		return nil, err
	}
	var plugins []gateway.Plugin
	servers := conf.PluginServers
	if spec.Share != nil {
		plugins, servers = spec.Share.plugins, nil
	}
	for _, ps := range servers {
		srv, err := pluginsrv.Start(ctx, pluginsrv.Options{
			Name: ps.Name, StartCmd: ps.StartCmd, QueryCmd: ps.QueryCmd, Socket: ps.Socket,
			Logf: kongLog,
		})
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("pluginserver %s: %w", ps.Name, err)
		}
		n.Servers = append(n.Servers, srv)
		if ps.StartCmd != "" {
			// Kong (3.5+) does not wait and lets early requests fail; the
			// demo and the tests want a deterministic first request.
			if err := waitSocket(ctx, ps.Socket, 10*time.Second); err != nil {
				n.Close()
				return nil, fmt.Errorf("pluginserver %s: %w (see its output in the error log)", ps.Name, err)
			}
		}
		info := srv.Info()
		if info.Name != ps.Name {
			logf("[warn] pluginserver %s: its -dump names the plugin %q; Kong registers that name", ps.Name, info.Name)
		}
		plugins = append(plugins, &external{srv: srv, info: info})
	}
	n.plugins = plugins
	gw, err := gateway.New(gateway.Options{
		Node: node, Config: yml, Plugins: plugins,
		Logf:         kongLog,
		EventTimeout: spec.EventTimeout,
		Observe:      spec.Observe,
	})
	if err != nil {
		n.Close()
		return nil, err
	}
	n.Gateway = gw
	if err := gw.Start(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.serveAdmin(spec.Name); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// gatewayNode is what the gateway needs of the node's settings.
func gatewayNode(conf *nodeconf.Conf, maxReqHeaders int) (gateway.Node, error) {
	underscores, ignoreInvalid, err := conf.HeaderNameRules()
	if err != nil {
		return gateway.Node{}, err
	}
	node := gateway.Node{
		TrustedIPs:         conf.TrustedIPs,
		RealIPHeader:       conf.RealIPHeader,
		RealIPRecursive:    conf.RealIPRecursive,
		Plugins:            conf.Plugins,
		LuaMaxReqHeaders:   maxReqHeaders,
		HTTPInclude:        conf.HTTPInclude,
		UnderscoresOff:     !underscores,
		KeepInvalidHeaders: !ignoreInvalid,
		HeaderBuffers: gateway.HeaderBuffers{
			ClientSize: conf.ClientHeaderBufferSize,
			LargeNum:   conf.LargeClientHeaderBuffers.Num,
			LargeSize:  conf.LargeClientHeaderBuffers.Size,
		},
	}
	for _, l := range conf.ProxyListen {
		node.Listeners = append(node.Listeners, gateway.Listener{
			Addr:          net.JoinHostPort(strings.Trim(l.Host, "[]"), strconv.Itoa(l.Port)),
			SSL:           l.SSL,
			HTTP2:         l.HTTP2,
			ProxyProtocol: l.ProxyProtocol,
		})
	}
	return node, nil
}

// serveAdmin opens Kong's Admin API, for POST /config, only where
// admin_listen is set explicitly (Kong's default, 127.0.0.1:8001, would
// collide with a real Kong on the same machine).
func (n *Node) serveAdmin(name string) error {
	v := strings.TrimSpace(n.Conf.Raw["admin_listen"])
	if v == "" || v == "off" {
		return nil
	}
	ls, err := nodeconf.ParseListen(v)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.SSL {
			n.logf("[warn] [%s] admin_listen %s: ssl admin listeners are not emulated, skipped", name, l.Raw)
			continue
		}
		a, err := n.Gateway.ServeAdmin(net.JoinHostPort(strings.Trim(l.Host, "[]"), strconv.Itoa(l.Port)))
		if err != nil {
			return err
		}
		n.AdminAddrs = append(n.AdminAddrs, a.String())
	}
	return nil
}

// Reload re-reads kong.yml and swaps it in while traffic flows, as Kong's
// POST /config does.
func (n *Node) Reload() error {
	yml, err := kongyml.Load(n.YMLPath)
	if err != nil {
		return err
	}
	return n.Gateway.SetConfig(yml)
}

// Addr returns the address of the first listener of a kind: "plain",
// "ssl" or "proxy" (proxy_protocol without ssl); "" if there is none.
func (n *Node) Addr(kind string) string {
	if n.Gateway == nil {
		return ""
	}
	for _, b := range n.Gateway.Listeners() {
		switch {
		case kind == "ssl" && b.SSL && !b.ProxyProtocol,
			kind == "proxy" && b.ProxyProtocol && !b.SSL,
			kind == "plain" && !b.SSL && !b.ProxyProtocol:
			return b.Addr.String()
		}
	}
	return ""
}

// Close stops the front door, then the plugin servers.
func (n *Node) Close() {
	n.once.Do(func() {
		if n.Gateway != nil {
			n.Gateway.Close()
		}
		for _, s := range n.Servers {
			s.Close()
		}
	})
}

// external adapts a pluginsrv.Server to the gateway.
type external struct {
	srv  *pluginsrv.Server
	info pluginsrv.PluginInfo

	// entities maps a plugin entity id to its current gateway entity and
	// the pluginsrv.Entity made for it once, so the plugin server reuses
	// the instance by pointer; a reload (new gateway entity) replaces it.
	mu       sync.Mutex
	entities map[string]entityPair
}

type entityPair struct {
	gw *gateway.Entity
	pe *pluginsrv.Entity
}

// Name, Priority, Phases and Schema report the plugin's -dump.
func (e *external) Name() string            { return e.info.Name }
func (e *external) Priority() int           { return e.info.Priority }
func (e *external) Phases() []string        { return e.info.Phases }
func (e *external) Schema() json.RawMessage { return e.info.Schema }

// HandleEvent runs one phase through the plugin server.
func (e *external) HandleEvent(ctx context.Context, ent *gateway.Entity, phase string, req *kongpdk.Request) error {
	if e.srv == nil {
		return errors.New("plugin server not running")
	}
	e.mu.Lock()
	p, ok := e.entities[ent.ID]
	if !ok || p.gw != ent {
		p = entityPair{gw: ent, pe: &pluginsrv.Entity{
			ID: ent.ID, Name: ent.Name, InstanceName: ent.InstanceName,
			RouteID: ent.RouteID, ServiceID: ent.ServiceID, ConsumerID: ent.ConsumerID,
			Config: ent.Config,
		}}
		if e.entities == nil {
			e.entities = map[string]entityPair{}
		}
		e.entities[ent.ID] = p
	}
	e.mu.Unlock()
	return e.srv.HandleEvent(ctx, p.pe, phase, req)
}

// waitSocket waits until something accepts connections on a Unix socket.
func waitSocket(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("socket %s not accepting connections after %v: %w", path, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// luaMaxReqHeaders reads kong.conf's lua_max_req_headers: an integer from 1
// to 1000 (kong/conf_loader/parse.lua:843-846 at 3.9.3); "" is Kong's
// default (0 here).
func luaMaxReqHeaders(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("lua_max_req_headers must be an integer between 1 and 1000, got %q", v)
	}
	return n, nil
}
