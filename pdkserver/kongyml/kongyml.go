// Package kongyml reads the subset of Kong's DB-less declarative file
// (kong.yml) that pdkserver serves: _format_version "3.0", services with a
// url, routes with paths, and plugins attached globally, to a service or to
// a route, each with its config.
//
// Anything outside the subset is refused with an error naming the entity
// and the key, rather than silently ignored: a file that pdkserver accepts
// means the same thing to Kong.
package kongyml

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
)

// File is a parsed kong.yml with references resolved: every plugin knows
// its service and route, every route its service.
type File struct {
	Services []*Service
	Routes   []*Route
	Plugins  []*Plugin
}

// Service is an upstream Kong proxies to.
type Service struct {
	ID   string
	Name string
	// URL is the service url; Protocol, Host, Port and Path are its parts,
	// with Kong's default ports filled in.
	URL      string
	Protocol string
	Host     string
	Port     int
	Path     string
}

// Route matches requests by path prefix.
type Route struct {
	ID           string
	Name         string
	Service      *Service
	Paths        []string
	StripPath    bool
	PreserveHost bool
	Protocols    []string
}

// Plugin is one plugin entity. Service and Route are nil for a global
// plugin (or for the scope not given).
type Plugin struct {
	ID           string
	Name         string
	InstanceName string
	Service      *Service
	Route        *Route
	Enabled      bool
	Protocols    []string
	Config       map[string]any
}

// Scope names the plugin's attachment for messages: "global",
// "service echo", "route strict".
func (p *Plugin) Scope() string {
	switch {
	case p.Route != nil:
		return "route " + p.Route.Name
	case p.Service != nil:
		return "service " + p.Service.Name
	}
	return "global"
}

// The raw shapes. Unknown keys are rejected by the decoder; keys Kong
// accepts but pdkserver does not act on are listed so they parse.
type rawFile struct {
	FormatVersion *string      `json:"_format_version"`
	Transform     *bool        `json:"_transform"`
	Comment       any          `json:"_comment"`
	Ignore        any          `json:"_ignore"`
	Info          any          `json:"_info"`
	Services      []rawService `json:"services"`
	Routes        []rawRoute   `json:"routes"`
	Plugins       []rawPlugin  `json:"plugins"`
}

type rawService struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	URL            string      `json:"url"`
	Protocol       string      `json:"protocol"`
	Host           string      `json:"host"`
	Port           *int        `json:"port"`
	Path           string      `json:"path"`
	Enabled        *bool       `json:"enabled"`
	Tags           []string    `json:"tags"`
	Retries        *int        `json:"retries"`
	ConnectTimeout *int        `json:"connect_timeout"`
	ReadTimeout    *int        `json:"read_timeout"`
	WriteTimeout   *int        `json:"write_timeout"`
	Routes         []rawRoute  `json:"routes"`
	Plugins        []rawPlugin `json:"plugins"`
}

type rawRoute struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Service       any         `json:"service"`
	Paths         []string    `json:"paths"`
	StripPath     *bool       `json:"strip_path"`
	PreserveHost  *bool       `json:"preserve_host"`
	Protocols     []string    `json:"protocols"`
	Tags          []string    `json:"tags"`
	PathHandling  string      `json:"path_handling"`
	RegexPriority *int        `json:"regex_priority"`
	Plugins       []rawPlugin `json:"plugins"`
}

type rawPlugin struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	InstanceName string         `json:"instance_name"`
	Service      any            `json:"service"`
	Route        any            `json:"route"`
	Consumer     any            `json:"consumer"`
	Enabled      *bool          `json:"enabled"`
	Protocols    []string       `json:"protocols"`
	Tags         []string       `json:"tags"`
	Config       map[string]any `json:"config"`
}

// Load reads and parses a kong.yml file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("declarative config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("declarative config %s: %w", path, err)
	}
	return f, nil
}

// Parse parses kong.yml (YAML or JSON) text.
func Parse(data []byte) (*File, error) {
	js, err := yamljson.ToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, errors.New("file is empty")
	}
	var raw rawFile
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, explainDecode(err)
	}
	if raw.FormatVersion == nil {
		return nil, errors.New(`_format_version is missing; pdkserver reads "3.0"`)
	}
	if *raw.FormatVersion != "3.0" {
		return nil, fmt.Errorf(`_format_version %q is not supported; pdkserver reads "3.0" (Kong migrates 1.1 and 2.1 files, pdkserver does not)`, *raw.FormatVersion)
	}
	b := builder{f: &File{}, services: map[string]*Service{}, routes: map[string]*Route{}, ids: map[string]string{}}
	for i := range raw.Services {
		if err := b.service(&raw.Services[i], fmt.Sprintf("services[%d]", i)); err != nil {
			return nil, err
		}
	}
	for i := range raw.Routes {
		if err := b.route(&raw.Routes[i], nil, fmt.Sprintf("routes[%d]", i)); err != nil {
			return nil, err
		}
	}
	for i := range raw.Plugins {
		if err := b.plugin(&raw.Plugins[i], nil, nil, fmt.Sprintf("plugins[%d]", i)); err != nil {
			return nil, err
		}
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.f, nil
}

// explainDecode rewrites encoding/json errors into kong.yml terms.
func explainDecode(err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		field := strings.TrimPrefix(msg, "json: unknown field ")
		return fmt.Errorf("unknown or unsupported key %s (pdkserver reads services, routes and plugins only)", field)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("key %q has the wrong type: got a %s, want %s", te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("cannot read file: %s", strings.TrimPrefix(err.Error(), "json: "))
}

type pending struct {
	plugin  *Plugin
	service any
	route   any
	where   string
}

type builder struct {
	f        *File
	services map[string]*Service // by name and by id
	routes   map[string]*Route
	ids      map[string]string // id -> where, for duplicates
	plugins  []pending
	routeRef []struct {
		r     *Route
		ref   any
		where string
	}
}

// stableID derives a UUID-shaped id from what identifies the entity, so
// ids survive a reload of an unchanged file, as Kong's DB-less ids do for
// entities given without one.
func stableID(kind, key string) string {
	h := sha1.Sum([]byte("pdkserver/" + kind + "/" + key))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (b *builder) claimID(id, where string) error {
	if prev, ok := b.ids[id]; ok {
		return fmt.Errorf("%s: id %q is already used by %s", where, id, prev)
	}
	b.ids[id] = where
	return nil
}

var defaultPorts = map[string]int{"http": 80, "https": 443, "grpc": 80, "grpcs": 443}

func (b *builder) service(rs *rawService, where string) error {
	s := &Service{ID: rs.ID, Name: rs.Name}
	if s.Name != "" {
		where += " (" + s.Name + ")"
	}
	if rs.URL != "" {
		if rs.Protocol != "" || rs.Host != "" || rs.Port != nil || rs.Path != "" {
			return fmt.Errorf("%s: url cannot be combined with protocol, host, port or path", where)
		}
		u, err := url.Parse(rs.URL)
		if err != nil {
			return fmt.Errorf("%s: url %q: %v", where, rs.URL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("%s: url %q: scheme must be http or https (pdkserver proxies HTTP only)", where, rs.URL)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%s: url %q has no host", where, rs.URL)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("%s: url %q: a service url has no query, fragment or user info", where, rs.URL)
		}
		s.Protocol, s.Host, s.Path = u.Scheme, u.Hostname(), u.EscapedPath()
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%s: url %q: port %q is not in 1..65535", where, rs.URL, p)
			}
			s.Port = n
		}
	} else {
		s.Protocol, s.Host, s.Path = rs.Protocol, rs.Host, rs.Path
		if s.Protocol == "" {
			s.Protocol = "http"
		}
		if s.Protocol != "http" && s.Protocol != "https" {
			return fmt.Errorf("%s: protocol %q: pdkserver proxies http and https only", where, s.Protocol)
		}
		if s.Host == "" {
			return fmt.Errorf("%s: needs a url (or host)", where)
		}
		if rs.Port != nil {
			if *rs.Port < 1 || *rs.Port > 65535 {
				return fmt.Errorf("%s: port %d is not in 1..65535", where, *rs.Port)
			}
			s.Port = *rs.Port
		}
	}
	if s.Port == 0 {
		s.Port = defaultPorts[s.Protocol]
	}
	if s.Path != "" && !strings.HasPrefix(s.Path, "/") {
		return fmt.Errorf("%s: path %q must start with /", where, s.Path)
	}
	u := url.URL{Scheme: s.Protocol, Host: hostPort(s.Host, s.Port), Path: s.Path}
	s.URL = u.String()
	key := s.Name
	if key == "" {
		key = where
	}
	if s.ID == "" {
		s.ID = stableID("service", key)
	}
	if s.Name != "" {
		if _, dup := b.services[s.Name]; dup {
			return fmt.Errorf("%s: service name %q is used twice", where, s.Name)
		}
		b.services[s.Name] = s
	}
	if err := b.claimID(s.ID, where); err != nil {
		return err
	}
	b.services[s.ID] = s
	b.f.Services = append(b.f.Services, s)
	for i := range rs.Routes {
		if rs.Routes[i].Service != nil {
			return fmt.Errorf("%s.routes[%d]: a nested route cannot name a service", where, i)
		}
		if err := b.route(&rs.Routes[i], s, fmt.Sprintf("%s.routes[%d]", where, i)); err != nil {
			return err
		}
	}
	for i := range rs.Plugins {
		if rs.Plugins[i].Service != nil {
			return fmt.Errorf("%s.plugins[%d]: a nested plugin cannot name a service", where, i)
		}
		if err := b.plugin(&rs.Plugins[i], s, nil, fmt.Sprintf("%s.plugins[%d]", where, i)); err != nil {
			return err
		}
	}
	return nil
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func (b *builder) route(rr *rawRoute, svc *Service, where string) error {
	r := &Route{ID: rr.ID, Name: rr.Name, Service: svc, StripPath: true, Protocols: rr.Protocols}
	if r.Name != "" {
		where += " (" + r.Name + ")"
	}
	if rr.StripPath != nil {
		r.StripPath = *rr.StripPath
	}
	if rr.PreserveHost != nil {
		r.PreserveHost = *rr.PreserveHost
	}
	if len(r.Protocols) == 0 {
		r.Protocols = []string{"http", "https"}
	}
	for _, p := range r.Protocols {
		if p != "http" && p != "https" {
			return fmt.Errorf("%s: protocol %q: pdkserver routes http and https only", where, p)
		}
	}
	if rr.PathHandling != "" && rr.PathHandling != "v0" && rr.PathHandling != "v1" {
		return fmt.Errorf("%s: path_handling %q must be v0 or v1", where, rr.PathHandling)
	}
	if len(rr.Paths) == 0 {
		return fmt.Errorf("%s: needs paths (pdkserver matches routes by path prefix only)", where)
	}
	for _, p := range rr.Paths {
		if strings.HasPrefix(p, "~") {
			return fmt.Errorf("%s: regex path %q is not supported; use a prefix path", where, p)
		}
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%s: path %q must start with /", where, p)
		}
	}
	r.Paths = append([]string(nil), rr.Paths...)
	key := r.Name
	if key == "" {
		key = where
	}
	if r.ID == "" {
		r.ID = stableID("route", key)
	}
	if r.Name != "" {
		if _, dup := b.routes[r.Name]; dup {
			return fmt.Errorf("%s: route name %q is used twice", where, r.Name)
		}
		b.routes[r.Name] = r
	}
	if err := b.claimID(r.ID, where); err != nil {
		return err
	}
	b.routes[r.ID] = r
	b.f.Routes = append(b.f.Routes, r)
	if svc == nil {
		if rr.Service == nil {
			return fmt.Errorf("%s: a top-level route needs service: <name>", where)
		}
		b.routeRef = append(b.routeRef, struct {
			r     *Route
			ref   any
			where string
		}{r, rr.Service, where})
	}
	for i := range rr.Plugins {
		if rr.Plugins[i].Route != nil || rr.Plugins[i].Service != nil {
			return fmt.Errorf("%s.plugins[%d]: a nested plugin cannot name a service or route", where, i)
		}
		if err := b.plugin(&rr.Plugins[i], nil, r, fmt.Sprintf("%s.plugins[%d]", where, i)); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) plugin(rp *rawPlugin, svc *Service, rt *Route, where string) error {
	if rp.Name == "" {
		return fmt.Errorf("%s: plugin needs a name", where)
	}
	where += " (" + rp.Name + ")"
	if rp.Consumer != nil {
		return fmt.Errorf("%s: consumer-scoped plugins are not supported", where)
	}
	p := &Plugin{ID: rp.ID, Name: rp.Name, InstanceName: rp.InstanceName, Service: svc, Route: rt, Enabled: true, Protocols: rp.Protocols, Config: rp.Config}
	if rp.Enabled != nil {
		p.Enabled = *rp.Enabled
	}
	if p.Config == nil {
		p.Config = map[string]any{}
	}
	b.plugins = append(b.plugins, pending{plugin: p, service: rp.Service, route: rp.Route, where: where})
	b.f.Plugins = append(b.f.Plugins, p)
	return nil
}

// refName accepts a reference as Kong does: a name or id string, or
// {name: x} / {id: x}.
func refName(ref any) (string, bool) {
	switch v := ref.(type) {
	case string:
		return v, v != ""
	case map[string]any:
		for _, k := range []string{"id", "name"} {
			if s, ok := v[k].(string); ok && s != "" {
				return s, true
			}
		}
	}
	return "", false
}

func (b *builder) finish() error {
	for _, rr := range b.routeRef {
		name, ok := refName(rr.ref)
		if !ok {
			return fmt.Errorf("%s: service reference must be a name or id", rr.where)
		}
		s := b.services[name]
		if s == nil {
			return fmt.Errorf("%s: service %q is not defined", rr.where, name)
		}
		rr.r.Service = s
	}
	seen := map[string]string{} // scope+name -> where
	for _, pp := range b.plugins {
		p := pp.plugin
		if pp.service != nil {
			name, ok := refName(pp.service)
			if !ok {
				return fmt.Errorf("%s: service reference must be a name or id", pp.where)
			}
			if p.Service = b.services[name]; p.Service == nil {
				return fmt.Errorf("%s: service %q is not defined", pp.where, name)
			}
		}
		if pp.route != nil {
			name, ok := refName(pp.route)
			if !ok {
				return fmt.Errorf("%s: route reference must be a name or id", pp.where)
			}
			if p.Route = b.routes[name]; p.Route == nil {
				return fmt.Errorf("%s: route %q is not defined", pp.where, name)
			}
		}
		if p.Route != nil && p.Service != nil {
			return fmt.Errorf("%s: a plugin on both a route and a service is a combination pdkserver does not support", pp.where)
		}
		scopeKey := p.Scope() + "/" + p.Name
		if prev, dup := seen[scopeKey]; dup {
			return fmt.Errorf("%s: plugin %s is configured twice on the same %s (also at %s); Kong refuses this too", pp.where, p.Name, p.Scope(), prev)
		}
		seen[scopeKey] = pp.where
		if p.ID == "" {
			p.ID = stableID("plugin", scopeKey)
		}
		if err := b.claimID(p.ID, pp.where); err != nil {
			return err
		}
	}
	return nil
}
