package lint

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
)

// Top-level keys Kong 3.x and decK accept in a declarative file.
var deckTopLevel = map[string]bool{
	"_format_version": true, "_transform": true, "_comment": true, "_ignore": true, "_info": true,
	"_workspace": true, "_konnect": true, "_plugin_configs": true,
	"services": true, "routes": true, "consumers": true, "consumer_groups": true, "plugins": true,
	"upstreams": true, "targets": true, "certificates": true, "ca_certificates": true, "snis": true,
	"vaults": true, "keys": true, "key_sets": true, "filter_chains": true, "partials": true,
	"rbac_roles": true, "custom_entities": true, "licenses": true, "degraphql_routes": true,
	"acls": true, "basicauth_credentials": true, "keyauth_credentials": true, "jwt_secrets": true,
	"hmacauth_credentials": true, "oauth2_credentials": true, "mtls_auth_credentials": true,
}

// Fields of a plugin entity in Kong OSS 3.x (plus decK's foreign keys).
var deckPluginFields = map[string]bool{
	"id": true, "name": true, "instance_name": true, "config": true, "enabled": true, "protocols": true,
	"tags": true, "service": true, "route": true, "consumer": true, "created_at": true, "updated_at": true,
	"ordering": true, "consumer_group": true, "run_on": true, "_config": true, "partials": true,
}

var deckServiceFields = map[string]bool{
	"id": true, "name": true, "url": true, "host": true, "port": true, "protocol": true, "path": true,
	"retries": true, "connect_timeout": true, "write_timeout": true, "read_timeout": true, "tags": true,
	"client_certificate": true, "tls_verify": true, "tls_verify_depth": true, "ca_certificates": true,
	"enabled": true, "routes": true, "plugins": true, "created_at": true, "updated_at": true, "tls_sans": true,
}

var deckRouteFields = map[string]bool{
	"id": true, "name": true, "protocols": true, "methods": true, "hosts": true, "paths": true, "headers": true,
	"https_redirect_status_code": true, "regex_priority": true, "strip_path": true, "path_handling": true,
	"preserve_host": true, "request_buffering": true, "response_buffering": true, "snis": true, "sources": true,
	"destinations": true, "tags": true, "service": true, "plugins": true, "expression": true, "priority": true,
	"created_at": true, "updated_at": true,
}

func loadDeck(set *Set, s *sink, file string, root *yaml.Node) {
	for _, p := range ValidateDeckNode(root) {
		p.File = file
		s.findings = append(s.findings, p)
	}
	collect := func(seq *yaml.Node, where string) {
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return
		}
		for i, p := range seq.Content {
			if scalar(mapPath(p, "name")) != pluginName {
				continue
			}
			pu := &PluginUse{File: file, Line: p.Line, Where: fmt.Sprintf("%s[%d]", where, i), Config: map[string]any{}, KeyLines: map[string]int{}}
			pu.AllowDrift = contains(seqStrings(orEmptyNode(mapPath(p, "tags"))), generate.AllowDriftTag)
			if c := mapPath(p, "config"); c != nil {
				var m map[string]any
				if err := c.Decode(&m); err != nil {
					s.add(rulePluginBadValue, file, c.Line, "config", "config is not an object: "+err.Error())
					continue
				}
				if m != nil {
					pu.Config = m
				}
				keyLines(c, pu.KeyLines)
			}
			set.Plugins = append(set.Plugins, pu)
		}
	}
	collect(mapPath(root, "plugins"), "plugins")
	forEach(mapPath(root, "services"), func(i int, svc *yaml.Node) {
		collect(mapPath(svc, "plugins"), fmt.Sprintf("services[%d].plugins", i))
		forEach(mapPath(svc, "routes"), func(j int, rt *yaml.Node) {
			collect(mapPath(rt, "plugins"), fmt.Sprintf("services[%d].routes[%d].plugins", i, j))
		})
	})
	forEach(mapPath(root, "routes"), func(i int, rt *yaml.Node) {
		collect(mapPath(rt, "plugins"), fmt.Sprintf("routes[%d].plugins", i))
	})
	forEach(mapPath(root, "consumers"), func(i int, c *yaml.Node) {
		collect(mapPath(c, "plugins"), fmt.Sprintf("consumers[%d].plugins", i))
	})
}

func orEmptyNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return &yaml.Node{Kind: yaml.SequenceNode}
	}
	return n
}

func forEach(seq *yaml.Node, f func(int, *yaml.Node)) {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
	for i, c := range seq.Content {
		f(i, c)
	}
}

// ValidateDeckNode checks the structure of a declarative document the way
// Kong's loader and decK's JSON schema would: format version, known top-level
// keys, required fields and known fields on services, routes and plugins, and
// unique names. It does not check plugin config against plugin schemas.
func ValidateDeckNode(root *yaml.Node) []Finding {
	var s sink
	k, v := mapGet(root, "_format_version")
	switch {
	case v == nil:
		s.add(ruleDeckFormat, "", root.Line, "_format_version", "no _format_version")
	case v.Kind != yaml.ScalarNode || v.Tag != "!!str":
		s.add(ruleDeckFormat, "", k.Line, "_format_version", fmt.Sprintf("_format_version %s is not a string (quote it)", v.Value))
	case v.Value != "3.0" && v.Value != "2.1" && v.Value != "1.1":
		s.add(ruleDeckFormat, "", k.Line, "_format_version", fmt.Sprintf("_format_version %q", v.Value))
	}
	if _, t := mapGet(root, "_transform"); t != nil && t.Tag != "!!bool" {
		s.add(ruleDeckStructure, "", t.Line, "_transform", "_transform must be true or false")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if key := root.Content[i].Value; !deckTopLevel[key] {
			s.add(ruleDeckStructure, "", root.Content[i].Line, key, fmt.Sprintf("unknown top-level key %q", key))
		}
	}
	names := map[string]map[string]int{}
	unique := func(kind string, n *yaml.Node) {
		name := scalar(mapPath(n, "name"))
		if name == "" {
			return
		}
		if names[kind] == nil {
			names[kind] = map[string]int{}
		}
		if prev, dup := names[kind][name]; dup {
			s.add(ruleDeckStructure, "", n.Line, kind, fmt.Sprintf("%s name %q repeats the one on line %d", kind, name, prev))
		}
		names[kind][name] = n.Line
	}
	fields := func(kind string, n *yaml.Node, allowed map[string]bool) {
		if n.Kind != yaml.MappingNode {
			s.add(ruleDeckStructure, "", n.Line, kind, kind+" entry is not a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if key := n.Content[i].Value; !allowed[key] {
				s.add(ruleDeckStructure, "", n.Content[i].Line, key, fmt.Sprintf("%s has unknown field %q", kind, key))
			}
		}
	}
	plugin := func(where string, p *yaml.Node) {
		fields("plugin", p, deckPluginFields)
		if p.Kind != yaml.MappingNode {
			return
		}
		if scalar(mapPath(p, "name")) == "" {
			s.add(ruleDeckStructure, "", p.Line, "name", where+": plugin without a name")
		}
		for _, f := range []string{"ordering", "consumer_group"} {
			if fk, _ := mapGet(p, f); fk != nil {
				s.add(ruleDeckEnterpriseField, "", fk.Line, f, fmt.Sprintf("%s: plugin field %s", where, f))
			}
		}
		if c := mapPath(p, "config"); c != nil && c.Kind != yaml.MappingNode {
			s.add(ruleDeckStructure, "", c.Line, "config", where+": config must be an object")
		}
		if pr := mapPath(p, "protocols"); pr != nil {
			for _, x := range seqStrings(pr) {
				switch x {
				case "http", "https", "grpc", "grpcs", "tcp", "tls", "udp", "tls_passthrough", "ws", "wss":
				default:
					s.add(ruleDeckStructure, "", pr.Line, "protocols", fmt.Sprintf("%s: unknown protocol %q", where, x))
				}
			}
		}
	}
	route := func(where string, rt *yaml.Node) {
		fields("route", rt, deckRouteFields)
		unique("route", rt)
		if rt.Kind != yaml.MappingNode {
			return
		}
		if mapPath(rt, "paths") == nil && mapPath(rt, "hosts") == nil && mapPath(rt, "methods") == nil &&
			mapPath(rt, "headers") == nil && mapPath(rt, "snis") == nil && mapPath(rt, "expression") == nil &&
			mapPath(rt, "sources") == nil && mapPath(rt, "destinations") == nil {
			s.add(ruleDeckStructure, "", rt.Line, "paths", where+": route matches nothing (needs paths, hosts, methods, headers, snis or expression)")
		}
		forEach(mapPath(rt, "paths"), func(_ int, p *yaml.Node) {
			if !strings.HasPrefix(p.Value, "/") && !strings.HasPrefix(p.Value, "~") {
				s.add(ruleDeckStructure, "", p.Line, "paths", fmt.Sprintf("%s: path %q must start with / (or ~ for a regex)", where, p.Value))
			}
		})
		forEach(mapPath(rt, "plugins"), func(i int, p *yaml.Node) { plugin(fmt.Sprintf("%s.plugins[%d]", where, i), p) })
	}
	forEach(mapPath(root, "services"), func(i int, svc *yaml.Node) {
		where := fmt.Sprintf("services[%d]", i)
		fields("service", svc, deckServiceFields)
		unique("service", svc)
		if svc.Kind != yaml.MappingNode {
			return
		}
		if mapPath(svc, "url") == nil && mapPath(svc, "host") == nil {
			s.add(ruleDeckStructure, "", svc.Line, "url", where+": service needs url or host")
		}
		if u := scalar(mapPath(svc, "url")); u != "" && !strings.Contains(u, "://") {
			s.add(ruleDeckStructure, "", svc.Line, "url", fmt.Sprintf("%s: url %q has no scheme", where, u))
		}
		forEach(mapPath(svc, "routes"), func(j int, rt *yaml.Node) { route(fmt.Sprintf("%s.routes[%d]", where, j), rt) })
		forEach(mapPath(svc, "plugins"), func(j int, p *yaml.Node) { plugin(fmt.Sprintf("%s.plugins[%d]", where, j), p) })
	})
	forEach(mapPath(root, "routes"), func(i int, rt *yaml.Node) { route(fmt.Sprintf("routes[%d]", i), rt) })
	forEach(mapPath(root, "plugins"), func(i int, p *yaml.Node) { plugin(fmt.Sprintf("plugins[%d]", i), p) })
	return s.findings
}
