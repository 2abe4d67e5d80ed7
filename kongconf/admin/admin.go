// Package admin talks to a running Kong through its Admin API (go-kong):
// doctor reads the node's realip settings and client-ip-guard instances and
// reports the same findings as lint; apply pushes a generated plugin config.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
	"github.com/kong/go-kong/kong"

	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/kongconf/lint"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// NodeInfo is what GET / says about client addresses.
type NodeInfo struct {
	// Version is Kong's version.
	Version string
	// Database is "off" in DB-less mode.
	Database string
	// TrustedIPs are configuration.trusted_ips (Kong encodes an empty list as {} or []).
	TrustedIPs []string
	// RealIPHeader is configuration.real_ip_header.
	RealIPHeader string
	// RealIPRecursive is configuration.real_ip_recursive ("on"/"off").
	RealIPRecursive string
	// Listeners are configuration.proxy_listeners.
	Listeners []lint.Listener
	// Available reports plugins.available_on_server["client-ip-guard"].
	Available bool
	// Plugins is configuration.plugins.
	Plugins []string
	// Directives are the injected nginx directives the fast path's lint
	// rules read (fastPathKeys), as configuration.<key>: Kong keeps each
	// nginx_* key of kong.conf in its configuration beside the directive
	// lists built from them (kong/conf_loader/parse.lua:944-962 at 3.9.3)
	// and GET / returns that configuration (kong/api/routes/kong.lua:127).
	Directives map[string]string
}

// fastPathKeys are the kong.conf keys lint's fast-path rules (KC211, KC213,
// KC021) read from a node. The include's text is on the node's disk, which
// the Admin API does not show: doctor checks that one is loaded, not what
// it holds.
var fastPathKeys = []string{"nginx_http_include", "nginx_proxy_underscores_in_headers", "nginx_http_underscores_in_headers"}

// NewClient returns a go-kong client for url (http.DefaultClient when hc is nil).
func NewClient(url string, hc *http.Client) (*kong.Client, error) {
	if url == "" {
		url = "http://localhost:8001"
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return kong.NewClient(kong.String(url), hc)
}

// stringList decodes a JSON value that should be a list of strings; Kong's
// cjson encodes an empty table as {}, and a single value may be a string.
func stringList(raw json.RawMessage) ([]string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" || string(t) == "{}" || string(t) == "[]" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal(t, &l); err == nil {
		return l, nil
	}
	var s string
	if err := json.Unmarshal(t, &s); err == nil {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list of strings, got %s", t)
}

// onOff accepts "on"/"off" strings and JSON booleans.
func onOff(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.ToLower(s)
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		if b {
			return "on"
		}
		return "off"
	}
	return ""
}

// ReadNode fetches GET / and extracts NodeInfo.
func ReadNode(ctx context.Context, c *kong.Client) (*NodeInfo, error) {
	body, err := c.RootJSON(ctx)
	if err != nil {
		return nil, fmt.Errorf("GET /: %w", err)
	}
	var root struct {
		Version       string `json:"version"`
		Configuration struct {
			TrustedIPs      json.RawMessage `json:"trusted_ips"`
			RealIPHeader    string          `json:"real_ip_header"`
			RealIPRecursive json.RawMessage `json:"real_ip_recursive"`
			Database        string          `json:"database"`
			Plugins         json.RawMessage `json:"plugins"`
			ProxyListeners  json.RawMessage `json:"proxy_listeners"`
		} `json:"configuration"`
		Plugins struct {
			AvailableOnServer json.RawMessage `json:"available_on_server"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(body, &root); err != nil {
		return nil, fmt.Errorf("GET / is not Kong's node information: %w", err)
	}
	var keys struct {
		Configuration map[string]json.RawMessage `json:"configuration"`
	}
	_ = json.Unmarshal(body, &keys) // the same document: it decoded above
	directives := map[string]string{}
	for _, k := range fastPathKeys {
		var v string
		if raw, ok := keys.Configuration[k]; ok && json.Unmarshal(raw, &v) == nil {
			directives[k] = v
		}
	}
	cfg := root.Configuration
	n := &NodeInfo{Version: root.Version, Database: cfg.Database, RealIPHeader: cfg.RealIPHeader, RealIPRecursive: onOff(cfg.RealIPRecursive), Directives: directives}
	if n.TrustedIPs, err = stringList(cfg.TrustedIPs); err != nil {
		return nil, fmt.Errorf("configuration.trusted_ips: %w", err)
	}
	if n.Plugins, err = stringList(cfg.Plugins); err != nil {
		return nil, fmt.Errorf("configuration.plugins: %w", err)
	}
	if t := bytes.TrimSpace(cfg.ProxyListeners); len(t) > 0 && t[0] == '[' {
		var ls []struct {
			Listener      string `json:"listener"`
			SSL           bool   `json:"ssl"`
			ProxyProtocol bool   `json:"proxy_protocol"`
		}
		if err := json.Unmarshal(t, &ls); err != nil {
			return nil, fmt.Errorf("configuration.proxy_listeners: %w", err)
		}
		for _, l := range ls {
			n.Listeners = append(n.Listeners, lint.Listener{Raw: l.Listener, SSL: l.SSL, ProxyProtocol: l.ProxyProtocol})
		}
	}
	if t := bytes.TrimSpace(root.Plugins.AvailableOnServer); len(t) > 0 && t[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(t, &m); err == nil {
			_, n.Available = m[topology.PluginName]
		}
	} else if len(t) > 0 && t[0] == '[' {
		var l []string
		if json.Unmarshal(t, &l) == nil {
			for _, x := range l {
				n.Available = n.Available || x == topology.PluginName
			}
		}
	}
	return n, nil
}

// Node converts NodeInfo into lint's node model.
func (n *NodeInfo) Node(source string) *lint.Node {
	ln := lint.NewNode("", "admin")
	set := func(k, v string) {
		ln.Set(&lint.Value{Key: k, Orig: "configuration." + k, Value: v, File: source})
	}
	if len(n.TrustedIPs) > 0 {
		set("trusted_ips", strings.Join(n.TrustedIPs, ","))
	}
	if n.RealIPHeader != "" {
		set("real_ip_header", n.RealIPHeader)
	}
	if n.RealIPRecursive != "" {
		set("real_ip_recursive", n.RealIPRecursive)
	}
	for _, k := range fastPathKeys {
		if v, ok := n.Directives[k]; ok {
			set(k, v)
		}
	}
	ln.Listeners = n.Listeners
	ln.File = source
	return ln
}

// Doctor checks a live node: its realip settings (same rules as lint), that
// the plugin is loaded, and every client-ip-guard instance (and, when extra
// is given, a proposed config) against both lint and Kong's own schema
// validation. source labels findings (usually the Admin URL).
func Doctor(ctx context.Context, c *kong.Client, source string, extra map[string]any) (*lint.Report, *NodeInfo, error) {
	info, err := ReadNode(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	set := &lint.Set{Files: []string{source}}
	set.Nodes = append(set.Nodes, info.Node(source))
	var findings []lint.Finding
	if !info.Available {
		findings = lint.Add(findings, lint.RuleNotAvailable, source, 0, "plugins.available_on_server", "")
	}
	var toValidate []*kong.Plugin
	plugins, err := c.Plugins.ListAll(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("GET /plugins: %w", err)
	}
	for _, p := range plugins {
		if p.Name == nil || *p.Name != topology.PluginName {
			continue
		}
		id := ""
		if p.ID != nil {
			id = *p.ID
		}
		set.Plugins = append(set.Plugins, &lint.PluginUse{File: source, Where: "plugin " + id, Config: map[string]any(p.Config)})
		toValidate = append(toValidate, &kong.Plugin{Name: p.Name, Config: p.Config})
	}
	if extra != nil {
		set.Plugins = append(set.Plugins, &lint.PluginUse{File: source, Where: "proposed config", Config: extra})
		toValidate = append(toValidate, &kong.Plugin{Name: kong.String(topology.PluginName), Config: kong.Configuration(extra)})
	}
	if info.Available {
		for i, p := range toValidate {
			ok, msg, err := c.Plugins.Validate(ctx, p)
			if err != nil {
				return nil, nil, fmt.Errorf("POST /schemas/plugins/validate: %w", err)
			}
			if !ok {
				where := set.Plugins[i].Where
				findings = lint.Add(findings, lint.RuleLiveRejected, source, 0, "config", fmt.Sprintf("%s: %s", where, msg))
			}
		}
	}
	findings = append(findings, lint.Check(set)...)
	rep := &lint.Report{Files: set.Files, Findings: findings}
	rep.Sort()
	return rep, info, nil
}

// ApplyResult says what apply did.
type ApplyResult struct {
	// Action is "config" (DB-less POST /config), "created" or "updated".
	Action string
	// ID is the plugin's id for created/updated.
	ID string
}

// Apply pushes the generated client-ip-guard config. In DB-less mode it
// POSTs the whole generated kong.yml to /config (replacing the node's
// configuration; allowReplace must be true). Otherwise it updates the
// global client-ip-guard plugin, or creates it.
func Apply(ctx context.Context, c *kong.Client, r *topology.Resolved, allowReplace bool) (*ApplyResult, error) {
	info, err := ReadNode(ctx, c)
	if err != nil {
		return nil, err
	}
	if !info.Available {
		return nil, fmt.Errorf("client-ip-guard is not loaded on this node (plugins.available_on_server); load it first (kongconf generate -o pluginserver-env)")
	}
	cfg := generate.PluginConfig(r)
	if info.Database == "off" {
		if !allowReplace {
			return nil, fmt.Errorf("node is DB-less: POST /config replaces its whole configuration with the generated kong.yml; pass --replace to do that")
		}
		y, err := yamljson.Marshal(generate.DeckConfig(r))
		if err != nil {
			return nil, err
		}
		j, err := yamljson.ToJSON(y)
		if err != nil {
			return nil, err
		}
		if err := c.ReloadDeclarativeRawConfig(ctx, bytes.NewReader(j), true, true); err != nil {
			return nil, fmt.Errorf("POST /config: %w", err)
		}
		return &ApplyResult{Action: "config"}, nil
	}
	plugins, err := c.Plugins.ListAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("GET /plugins: %w", err)
	}
	for _, p := range plugins {
		if p.Name != nil && *p.Name == topology.PluginName && p.Service == nil && p.Route == nil && p.Consumer == nil && p.ConsumerGroup == nil {
			p.Config = kong.Configuration(cfg)
			p.Enabled = kong.Bool(true)
			up, err := c.Plugins.Update(ctx, p)
			if err != nil {
				return nil, fmt.Errorf("PATCH /plugins/%s: %w", deref(p.ID), err)
			}
			return &ApplyResult{Action: "updated", ID: deref(up.ID)}, nil
		}
	}
	created, err := c.Plugins.Create(ctx, &kong.Plugin{
		Name:      kong.String(topology.PluginName),
		Config:    kong.Configuration(cfg),
		Enabled:   kong.Bool(true),
		Protocols: kong.StringSlice("http", "https"),
	})
	if err != nil {
		return nil, fmt.Errorf("POST /plugins: %w", err)
	}
	return &ApplyResult{Action: "created", ID: deref(created.ID)}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
