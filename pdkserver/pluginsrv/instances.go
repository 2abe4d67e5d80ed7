package pluginsrv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// claimWait is how long an event waits for another one that is starting
// the same instance (plugin.lua: 0.1 s steps, 10 s in all).
const claimWait = 10 * time.Second

// instance is plugin.lua's running_instances entry for one plugin entity.
type instance struct {
	ent   *Entity // the Entity value it was started for (fast path)
	key   string  // canonical config, for entities passed by new pointers
	seq   int64
	id    int32
	ready chan struct{} // closed once the start finished (id or failure)
	err   error
}

// seqEntry remembers the __seq__ given to one configuration of an entity.
// Kong assigns __seq__ once per config table, so a restarted plugin
// server sees the same __seq__ (and go-pdk reuses it as instance id).
type seqEntry struct {
	key string
	seq int64
}

type instances struct {
	mu      sync.Mutex
	running map[string]*instance
	seqs    map[string]seqEntry
	nextSeq int64
}

func (in *instances) init() {
	in.running = map[string]*instance{}
	in.seqs = map[string]seqEntry{}
}

// resetAll is reset_instances_for_plugin: forget every instance (the
// plugin server lost them); the next event starts them again.
func (in *instances) resetAll() {
	in.mu.Lock()
	for k, inst := range in.running {
		select {
		case <-inst.ready:
			delete(in.running, k)
		default: // a start in flight owns its entry
		}
	}
	in.mu.Unlock()
}

// instanceID is plugin.lua's get_instance_id: reuse the entity's
// instance while its configuration is unchanged; otherwise start a new
// one, then close the old one and ignore the outcome. Concurrent first
// events wait for the one start in flight.
func (s *Server) instanceID(ctx context.Context, e *Entity) (int32, error) {
	if e == nil || e.ID == "" {
		return 0, errors.New("plugin entity has no id")
	}
	in := &s.insts
	deadline := time.Now().Add(claimWait)
	for {
		in.mu.Lock()
		cur := in.running[e.ID]
		if cur != nil {
			select {
			case <-cur.ready:
			default:
				in.mu.Unlock()
				if err := waitReady(ctx, cur.ready, deadline); err != nil {
					return 0, fmt.Errorf("could not claim instance_id for %s (key: %s): %w", s.info.Name, e.ID, err)
				}
				continue
			}
			if cur.err == nil && cur.ent == e {
				in.mu.Unlock()
				return cur.id, nil
			}
		}
		in.mu.Unlock()
		// Slow path: a new *Entity, or a failed start.
		cfg, key, err := s.configJSON(e)
		if err != nil {
			return 0, err
		}
		in.mu.Lock()
		if in.running[e.ID] != cur {
			in.mu.Unlock()
			continue // somebody else changed it meanwhile
		}
		if cur != nil && cur.err == nil && cur.key == key {
			cur.ent = e
			in.mu.Unlock()
			return cur.id, nil
		}
		se, ok := in.seqs[e.ID]
		if !ok || se.key != key {
			in.nextSeq++
			se = seqEntry{key: key, seq: in.nextSeq}
			in.seqs[e.ID] = se
		}
		mine := &instance{ent: e, key: key, seq: se.seq, ready: make(chan struct{})}
		in.running[e.ID] = mine
		in.mu.Unlock()

		id, err := s.startInstance(ctx, withSeq(cfg, se.seq))
		in.mu.Lock()
		mine.id, mine.err = id, err
		if err != nil && in.running[e.ID] == mine {
			delete(in.running, e.ID) // remove the claim; another event may succeed
		}
		close(mine.ready)
		in.mu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("starting instance: %w", err)
		}
		if cur != nil && cur.err == nil && cur.id != id {
			s.closeInstance(ctx, cur.id)
		}
		return id, nil
	}
}

func waitReady(ctx context.Context, ch <-chan struct{}, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("timed out")
	}
}

// configJSON is cjson.encode(conf) without __seq__ (added by withSeq):
// the entity's config plus the fields plugins_iterator.lua's
// get_plugin_config adds. Fields that are nil in Lua are absent. key is
// the canonical form used to detect a configuration change.
func (s *Server) configJSON(e *Entity) ([]byte, string, error) {
	conf := make(map[string]any, len(e.Config)+8)
	for k, v := range e.Config {
		conf[k] = v
	}
	put := func(k, v string) {
		if v != "" {
			conf[k] = v
		} else {
			delete(conf, k)
		}
	}
	put("route_id", e.RouteID)
	put("service_id", e.ServiceID)
	put("consumer_id", e.ConsumerID)
	put("plugin_instance_name", e.InstanceName)
	put("__plugin_id", e.ID)
	put("__ws_id", s.opts.WorkspaceID)
	// kong.db.plugins:cache_key(name, route, service, consumer, nil, ws)
	conf["__key__"] = fmt.Sprintf("plugins:%s:%s:%s:%s::%s", s.info.Name, e.RouteID, e.ServiceID, e.ConsumerID, s.opts.WorkspaceID)
	delete(conf, "__seq__")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(conf); err != nil {
		return nil, "", fmt.Errorf("encoding config of plugin %s: %w", e.ID, err)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	return b, string(b), nil
}

// withSeq appends "__seq__":n to a JSON object.
func withSeq(obj []byte, seq int64) []byte {
	out := make([]byte, 0, len(obj)+24)
	out = append(out, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = fmt.Appendf(out, `"__seq__":%d}`, seq)
	return out
}
