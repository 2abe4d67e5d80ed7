package generate

import (
	"strings"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// Where the fast path's nginx include lives on a node. One path for every
// output: kong.conf and env users copy the file there, the Helm values
// mount it there from a ConfigMap.
const (
	// IncludeFile is the include's file name (and its ConfigMap key).
	IncludeFile = "client-ip-guard-fastpath.conf"
	// IncludeDir is the directory it is read from.
	IncludeDir = "/etc/kong/client-ip-guard"
	// IncludePath is nginx_http_include's value.
	IncludePath = IncludeDir + "/" + IncludeFile
)

// FastPathInclude returns the nginx include for r: fastpath.Include for
// Kong's real_ip_header, unchanged ("" when the fast path is off).
func FastPathInclude(r *topology.Resolved) (string, error) {
	if !r.FastPath {
		return "", nil
	}
	return fastpath.Include(r.RealIPHeader)
}

// FastPathSettings returns the node settings of the fast path (none when
// it is off). Kong turns a kong.conf key nginx_http_<directive> into a
// directive of nginx's http block and nginx_proxy_<directive> into one of
// the proxy server block (kong/conf_loader/constants.lua:124-143,
// parse.lua:944-962, templates/nginx_kong.lua:41-44 and 134-137 at 3.9.3).
func FastPathSettings(r *topology.Resolved) []Setting {
	if !r.FastPath {
		return nil
	}
	return []Setting{
		{"nginx_http_include", IncludePath},
		{"nginx_proxy_underscores_in_headers", "off"},
	}
}

// fastPathWhy explains the fast path's settings, one comment line per
// entry, for kong.conf, env files and the Helm values' header.
var fastPathWhy = []string{
	"client-ip-guard fast path (fast_path: true): one PDK call per request instead of three to five.",
	"nginx_http_include loads " + IncludeFile + ", the nginx map that defines $" + fastpath.Variable + ",",
	"into nginx's http block (Kong 3.9.3 kong/templates/nginx_kong.lua:41-44); put the file at " + IncludePath + ".",
	"Kong reads one nginx_http_include: if you already set one, add \"include " + IncludePath + ";\" to your file instead.",
	"Without the include the plugin reads requests with three calls and says so once per instance in Kong's log.",
	"nginx_proxy_underscores_in_headers = off: a trade-off. Kong turns underscores_in_headers on for all of",
	"nginx (nginx_kong.lua:30), and the fast path cannot see header names spelled with '_' for '-'",
	"(X_Forwarded_For, X_Real_IP): nginx's $http_ variables do not tell them from the standard names.",
	"Off in the proxy server block (nginx_kong.lua:134-137), nginx drops every header line whose name has a '_'",
	"(ignore_invalid_headers, on by default) before Kong, the plugin or the upstream sees it, so both paths agree;",
	"but clients or upstreams that rely on such a header break. Leave it out to keep those headers, and accept",
	"that the fast path is blind to them (README, \"Fast path\").",
}

// fastPathComment renders fastPathWhy with a comment leader.
func fastPathComment(r *topology.Resolved, comment string) string {
	if !r.FastPath {
		return ""
	}
	var b strings.Builder
	for _, l := range fastPathWhy {
		b.WriteString(comment + " " + l + "\n")
	}
	return b.String()
}

// FastPathConfigMap is the ConfigMap the Helm values create (through the
// chart's extraObjects) and mount into the proxy container (through
// extraConfigMaps), named after the release.
func FastPathConfigMap(r *topology.Resolved) string {
	return r.Platform.Release + "-" + topology.PluginName + "-fastpath"
}

// helmFastPath adds the fast path's keys to the gateway's values: the env
// settings, the ConfigMap holding the include (extraObjects) and its mount
// in the proxy container (extraConfigMaps); see chart.KeyExtraObjects and
// chart.KeyExtraConfigMaps for the chart's templates.
func helmFastPath(r *topology.Resolved, gw map[string]any) error {
	text, err := FastPathInclude(r)
	if err != nil || text == "" {
		return err
	}
	env := gw["env"].(map[string]any)
	for _, s := range FastPathSettings(r) {
		env[s.Key] = s.Value
	}
	name := FastPathConfigMap(r)
	gw["extraConfigMaps"] = []any{map[string]any{"name": name, "mountPath": IncludeDir}}
	gw["extraObjects"] = []any{map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": name},
		"data":       map[string]any{IncludeFile: text},
	}}
	return nil
}
