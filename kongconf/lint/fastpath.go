package lint

import (
	"fmt"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/client-ip-guard/client-ip-guard/internal/fastinclude"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

// The fast path's rules. A client-ip-guard instance with fast_path: true
// reads $client_ip_guard_facts, which only the nginx include kongconf
// generate --fast-path writes (fastpath.Include) defines; Kong loads it
// with nginx_http_include into nginx's http block (kong/templates/
// nginx_kong.lua:41-44 at 3.9.3).
var (
	ruleFastPathNoInclude = rule("KC211", Warning, "fast_path: true but the node loads no include defining $"+fastpath.Variable,
		"without the variable the plugin cannot take its one-call path: it reads every request with three PDK calls, says so once per instance in Kong's log and tries the variable again each minute",
		"load the include kongconf generate --fast-path writes: nginx_http_include = /etc/kong/client-ip-guard/client-ip-guard-fastpath.conf (Helm: the ConfigMap in extraObjects, mounted with extraConfigMaps), or drop fast_path")
	ruleFastPathStale = rule("KC212", Error, "fast path include does not match the plugin's real_ip_header",
		"the plugin reads the include's value field by field: one for another version or another real_ip_header makes it fall back to three PDK calls, and one edited by hand can feed it the wrong variables",
		"regenerate the include with kongconf generate --fast-path for the plugin's real_ip_header and do not edit it")
	ruleFastPathUnderscores = rule("KC213", Warning, "fast_path with underscores_in_headers on",
		"Kong's template turns underscores_in_headers on (kong/templates/nginx_kong.lua:30 at 3.9.3), so nginx passes header lines named with '_' for '-' (X_Forwarded_For, X_Real_IP) to Kong and the upstream; the full path sees them, the fast path cannot: nginx's $http_ variables do not tell the two spellings apart",
		"set nginx_proxy_underscores_in_headers = off, so nginx drops such header lines for every reader (clients or upstreams that use a header named with '_' then break), or accept the blind spot")
	ruleFastPathNever = rule("KC214", Warning, "fast_path: true on an instance the fast path never serves",
		"the fast path cannot read this real_ip_header at all (RFC 7239 Forwarded, or a header name nginx cannot turn into a variable): the instance reads every request with three PDK calls and says so in Kong's log",
		"drop fast_path from this instance")
	ruleHTTPUnderscores = rule("KC021", Error, "nginx_http_underscores_in_headers set",
		"Kong's template already sets underscores_in_headers in nginx's http block (kong/templates/nginx_kong.lua:30 at 3.9.3) and puts nginx_http_* directives in the same block (:41-44); nginx refuses a second one ('\"underscores_in_headers\" directive is duplicate', ngx_conf_set_flag_slot) and Kong does not start",
		"use nginx_proxy_underscores_in_headers, which sets it in the proxy server block (nginx_kong.lua:134-137)")
)

// Include is an nginx file among the inputs that a node may load with
// nginx_http_include: a .conf file in nginx syntax, or a ConfigMap key
// holding one.
type Include struct {
	// File and Line locate it (the ConfigMap key's line in a manifest).
	File string
	Line int
	// Name is the file name a node's path must end in: the file's base
	// name, or the ConfigMap key.
	Name string
	// ConfigMap is the ConfigMap holding it ("" for a file).
	ConfigMap string
	// Text is the nginx configuration.
	Text string
}

func (i *Include) where() string {
	if i.ConfigMap != "" {
		return fmt.Sprintf("ConfigMap %s key %s (%s)", i.ConfigMap, i.Name, i.File)
	}
	return i.File
}

// Mount is a ConfigMap a Helm values file mounts into the proxy container
// (extraConfigMaps: name, mountPath, subPath).
type Mount struct {
	ConfigMap, MountPath, SubPath string
}

// addInclude records a .conf file in nginx syntax; it reports whether the
// file defines the fast path's variable (a file lint knows).
func addInclude(set *Set, file string, data []byte) bool {
	text := string(data)
	set.Includes = append(set.Includes, &Include{File: file, Name: path.Base(file), Text: text})
	return fastinclude.Defines(text)
}

// loadConfigMapIncludes records the keys of a ConfigMap's data that hold
// nginx configuration.
func loadConfigMapIncludes(set *Set, file, name string, data *yaml.Node) {
	for _, kv := range mapPairs(data) {
		v := scalar(kv[1])
		if fastinclude.Defines(v) || strings.HasSuffix(kv[0].Value, ".conf") && notKongConf([]byte(v)) != "" {
			set.Includes = append(set.Includes, &Include{File: file, Line: kv[0].Line, Name: kv[0].Value, ConfigMap: name, Text: v})
		}
	}
}

// loadHelmIncludes reads the ConfigMaps Helm values create (extraObjects)
// and mount into the proxy container (extraConfigMaps), as the chart's
// templates do (see chart.KeyExtraObjects, chart.KeyExtraConfigMaps).
// Mounts lint does not model (deployment.userDefinedVolumeMounts) make the
// mount unknown.
func loadHelmIncludes(set *Set, file string, gw *yaml.Node, h *HelmInfo) {
	for _, o := range seqItems(mapPath(gw, chart.KeyExtraObjects)) {
		if scalar(mapPath(o, "kind")) == "ConfigMap" && scalar(mapPath(o, "apiVersion")) == "v1" {
			loadConfigMapIncludes(set, file, scalar(mapPath(o, "metadata", "name")), mapPath(o, "data"))
		}
	}
	for _, m := range seqItems(mapPath(gw, chart.KeyExtraConfigMaps)) {
		h.Mounts = append(h.Mounts, Mount{ConfigMap: scalar(mapPath(m, "name")), MountPath: scalar(mapPath(m, "mountPath")), SubPath: scalar(mapPath(m, "subPath"))})
	}
	h.OtherMounts = mapPath(gw, "deployment", "userDefinedVolumeMounts") != nil
}

func fastPathOn(p *PluginUse) bool {
	v, _ := p.Config["fast_path"].(bool)
	return v
}

// checkFastPath runs the fast path's rules for plugin p on node n of
// deployment g. A node read from the Admin API (doctor) carries the keys
// from GET / (kongconf/admin); its include is on the node's disk, never
// among the inputs, so only its presence is checked.
func checkFastPath(s *sink, g *Set, n *Node, p *PluginUse) {
	if !fastPathOn(p) {
		return
	}
	at := p.line("fast_path")
	incPath, iv, ok := n.Get("nginx_http_include")
	if iv != nil && iv.Skip {
		return // a placeholder: lint cannot see which file is loaded
	}
	checkUnderscores(s, n, p, iv)
	if !ok || strings.TrimSpace(incPath) == "" || strings.EqualFold(strings.TrimSpace(incPath), "NONE") {
		s.add(ruleFastPathNoInclude, p.File, at, "config.fast_path", fmt.Sprintf("%s has fast_path: true but %s sets no nginx_http_include", p.Where, nodeName(n)))
		return
	}
	incPath = strings.TrimSpace(incPath)
	inc := findInclude(g, incPath)
	if inc == nil {
		return // the file is not among the inputs: nothing to compare
	}
	// The findings below name the include, not the instance: one per
	// include and source header, however many nodes and instances share it.
	if why := unmounted(n, inc, incPath); why != "" {
		s.add(ruleFastPathNoInclude, iv.file(n.File), iv.line(), iv.Orig, fmt.Sprintf("%s = %s, but %s (fast_path: true needs it)", iv.Orig, incPath, why))
		return
	}
	header, _ := p.Config["real_ip_header"].(string)
	if strings.TrimSpace(header) == "" {
		header = "X-Real-IP"
	}
	m, why := fastinclude.Match(inc.Text, header)
	switch m {
	case fastinclude.Same:
	case fastinclude.Missing:
		s.add(ruleFastPathNoInclude, iv.file(n.File), iv.line(), iv.Orig, fmt.Sprintf("%s = %s, but %s defines no $%s (fast_path: true needs it)", iv.Orig, incPath, inc.where(), fastpath.Variable))
	case fastinclude.Edited:
		s.add(ruleFastPathStale, inc.File, inc.Line, "", fmt.Sprintf("%s (nginx_http_include): %s", inc.where(), why))
	default:
		// The plugin notices and falls back: slower, not wrong.
		s.addSev(ruleFastPathStale, Warning, inc.File, inc.Line, "", fmt.Sprintf("%s (nginx_http_include): %s; the plugin reads requests with three PDK calls", inc.where(), why))
	}
}

// checkFastPathServes reports a fast_path instance whose real_ip_header
// no include can serve: fastpath.Fill's answer on the variable of the
// include written for that very header.
func checkFastPathServes(s *sink, p *PluginUse, pol *guardconf.Policy) {
	if !pol.FastPath {
		return
	}
	kind, source := pol.Resolver.Kind(), pol.Resolver.HeaderName()
	if st, why := fastinclude.Probe(source, kind, source, nginxvar.V1_25); st == fastpath.Unavailable {
		s.add(ruleFastPathNever, p.File, p.line("fast_path"), "config.fast_path", fmt.Sprintf("%s: %s", p.Where, why))
	}
}

// checkUnderscores reports a fast path on a node whose proxy server keeps
// Kong's underscores_in_headers on.
func checkUnderscores(s *sink, n *Node, p *PluginUse, iv *Value) {
	v, uv, ok := n.Get("nginx_proxy_underscores_in_headers")
	if uv != nil && uv.Skip || ok && strings.EqualFold(strings.TrimSpace(v), "off") {
		return
	}
	if ok {
		s.add(ruleFastPathUnderscores, uv.file(n.File), uv.line(), uv.Orig, fmt.Sprintf("%s = %s with a fast_path instance: the fast path is blind to header names spelled with '_'", uv.Orig, v))
		return
	}
	msg := fmt.Sprintf("%s keeps Kong's underscores_in_headers on with a fast_path instance: the fast path is blind to header names spelled with '_'", nodeName(n))
	if iv != nil {
		s.add(ruleFastPathUnderscores, iv.file(n.File), iv.line(), iv.Orig, msg)
		return
	}
	s.add(ruleFastPathUnderscores, p.File, p.line("fast_path"), "config.fast_path", fmt.Sprintf("%s (%s)", msg, p.Where))
}

// checkHTTPUnderscores reports nginx_http_underscores_in_headers, which
// stops nginx.
func checkHTTPUnderscores(s *sink, n *Node) {
	if v, ok := n.Values["nginx_http_underscores_in_headers"]; ok && !v.Skip && strings.TrimSpace(v.Value) != "" && !strings.EqualFold(strings.TrimSpace(v.Value), "NONE") {
		s.add(ruleHTTPUnderscores, v.File, v.Line, v.Orig, fmt.Sprintf("%s = %s duplicates the underscores_in_headers Kong's template sets", v.Orig, v.Value))
	}
}

// findInclude returns the include of g a node loading incPath reads: the
// one named like the path's file, preferring one that defines the fast
// path's variable.
func findInclude(g *Set, incPath string) *Include {
	var found *Include
	for _, i := range g.Includes {
		if i.Name != path.Base(incPath) {
			continue
		}
		if fastinclude.Defines(i.Text) {
			return i
		}
		if found == nil {
			found = i
		}
	}
	return found
}

// unmounted says why a Helm node does not have a ConfigMap's include at
// incPath ("" when it does, or when lint cannot tell).
func unmounted(n *Node, inc *Include, incPath string) string {
	if inc.ConfigMap == "" || n.Helm == nil || n.Helm.OtherMounts {
		return ""
	}
	for _, m := range n.Helm.Mounts {
		if m.ConfigMap != inc.ConfigMap {
			continue
		}
		if m.SubPath == "" && path.Join(m.MountPath, inc.Name) == path.Clean(incPath) || m.SubPath == inc.Name && path.Clean(m.MountPath) == path.Clean(incPath) {
			return ""
		}
	}
	return fmt.Sprintf("no %s entry mounts ConfigMap %s at %s (key %s)", chart.KeyExtraConfigMaps, inc.ConfigMap, path.Dir(incPath), inc.Name)
}
