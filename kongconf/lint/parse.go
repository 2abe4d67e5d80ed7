package lint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	configurationv1 "github.com/kong/kubernetes-configuration/api/configuration/v1"
	yaml "go.yaml.in/yaml/v3"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	corev1 "k8s.io/api/core/v1"
)

const pluginName = "client-ip-guard"

// helmPrefix is Kong's prefix in the Helm charts' containers.
const helmPrefix = "/kong_prefix"

// ParseKongConf reads kong.conf with Kong's reader rules (nodeconf.ReadLines),
// keeping each key's line for findings.
func ParseKongConf(r io.Reader, file string) (*Node, []Finding) {
	n := NewNode(file, "kong.conf")
	var s sink
	lines, err := nodeconf.ReadLines(r)
	for _, l := range lines {
		if !l.Assign {
			// A template directive line (<% if %>, {{ end }}) is no setting.
			if l.Text != "" && !templated(l.Text) {
				s.add(ruleNoEquals, file, l.Line, "", fmt.Sprintf("line %q has no '='", l.Text))
			}
			continue
		}
		if templated(l.Orig) {
			continue
		}
		n.Set(&Value{Key: strings.ToLower(l.Key), Orig: l.Orig, Value: l.Value, Line: l.Line, Skip: templated(l.Value)})
	}
	if err != nil {
		s.add(ruleUnreadable, file, 0, "", err.Error())
	}
	n.finishListeners()
	return n, s.findings
}

// ParseEnv reads KEY=value lines (optionally "export KEY=value", quoted
// values). Only KONG_* variables become properties.
func ParseEnv(r io.Reader, file string) (*Node, []Finding) {
	n := NewNode(file, "env")
	var s sink
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			s.add(ruleUnreadable, file, line, "", fmt.Sprintf("line %q is not NAME=value", t))
			continue
		}
		k = strings.TrimSpace(k)
		raw := strings.TrimSpace(v)
		v = unquote(raw)
		if !strings.HasPrefix(strings.ToUpper(k), "KONG_") {
			continue
		}
		val := &Value{Key: strings.ToLower(k[len("KONG_"):]), Orig: k, Value: v, Line: line, Skip: templated(v) || neverRead(k)}
		if v == raw {
			if i := strings.Index(v, " #"); i >= 0 {
				val.InlineComment = v[i+1:]
			}
		}
		n.Set(val)
	}
	if err := sc.Err(); err != nil {
		s.add(ruleUnreadable, file, 0, "", err.Error())
	}
	n.finishListeners()
	return n, s.findings
}

func coveredByRule(err error) bool {
	m := err.Error()
	return strings.Contains(m, "trusted_ips") || strings.Contains(m, "listen") || strings.Contains(m, "recursive")
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func (n *Node) finishListeners() {
	if s, v, ok := n.Get("proxy_listen"); ok {
		n.Listeners = ParseListeners(s)
		n.ListenLine = v.Line
		return
	}
	n.Listeners = DefaultListeners()
}

// Load reads and classifies one file into set, returning parse findings.
func Load(set *Set, file string, data []byte) []Finding {
	set.Files = append(set.Files, file)
	kind := sniff(file, data)
	switch kind {
	case "dockerfile":
		n, f := ParseDockerfile(data, file)
		if n != nil {
			set.Nodes = append(set.Nodes, n)
		} else if len(f) == 0 {
			var s sink
			s.add(ruleUnknownFile, file, 0, "", "Dockerfile without KONG_* ENV lines, nothing to check")
			f = s.findings
		}
		return f
	case "kong.conf":
		if what := notKongConf(data); what != "" {
			if addInclude(set, file, data) {
				return nil // the fast path's include, read by the node that loads it
			}
			var s sink
			s.add(ruleUnknownFile, file, 0, "", "not kong.conf ("+what+"); not checked")
			return s.findings
		}
		n, f := ParseKongConf(bytes.NewReader(data), file)
		set.Nodes = append(set.Nodes, n)
		// Kong's own loader rules (modelled by nodeconf) catch what the
		// line-level rules do not; trusted_ips and proxy_listen problems
		// already have their own rules.
		if _, err := nodeconf.Parse(bytes.NewReader(untemplated(data)), file); err != nil && !coveredByRule(err) {
			var s sink
			s.add(ruleNodeRejected, file, 0, "", err.Error())
			f = append(f, s.findings...)
		}
		return f
	case "env":
		n, f := ParseEnv(bytes.NewReader(data), file)
		if len(n.Order) == 0 && len(f) == 0 {
			var s sink
			s.add(ruleUnknownFile, file, 0, "", "env file without KONG_* variables, nothing to check")
			return s.findings
		}
		n.envFile = true
		set.Nodes = append(set.Nodes, n)
		return f
	case "yaml":
		return loadYAML(set, file, data)
	}
	var s sink
	s.add(ruleUnknownFile, file, 0, "", "")
	return s.findings
}

var envLine = regexp.MustCompile(`(?m)^\s*(export\s+)?KONG_[A-Z0-9_]+=`)
var confLine = regexp.MustCompile(`(?m)^\s*[a-z_0-9]+\s*=`)

// untemplated blanks the lines holding template placeholders, so Kong's
// loader model judges only the settings lint can see (line numbers kept).
func untemplated(data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if templated(l) {
			lines[i] = ""
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// isDockerfile reports whether a file name is a Dockerfile's.
func isDockerfile(base string) bool {
	base = strings.ToLower(base)
	return base == "dockerfile" || base == "containerfile" || strings.HasPrefix(base, "dockerfile.") ||
		strings.HasSuffix(base, ".dockerfile") || strings.HasPrefix(base, "containerfile.")
}

var confSetting = regexp.MustCompile(`^[A-Za-z0-9_.\-]+\s*=`)

// notKongConf says why a .conf file is not kong.conf syntax (an nginx or
// logrotate file: blocks, directives ending in ';', "key value" lines), or
// "" when most of its lines are key = value.
func notKongConf(data []byte) string {
	settings, other, blocks := 0, 0, 0
	for _, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == ';' || templated(t) {
			continue
		}
		switch {
		case confSetting.MatchString(t):
			settings++
		default:
			other++
			if strings.HasSuffix(t, "{") || strings.HasSuffix(t, "}") || strings.HasSuffix(t, ";") {
				blocks++
			}
		}
	}
	switch {
	case settings > 0 && settings >= other:
		return ""
	case blocks > 0:
		return "nginx or logrotate syntax: blocks or directives ending in ';'"
	case other > 0:
		return "no key = value lines"
	}
	return ""
}

func sniff(file string, data []byte) string {
	base := strings.ToLower(filepath.Base(file))
	if isDockerfile(base) {
		return "dockerfile"
	}
	switch ext := filepath.Ext(base); {
	case ext == ".conf":
		return "kong.conf"
	case ext == ".env" || base == ".env" || base == "env":
		return "env"
	case ext == ".yaml" || ext == ".yml" || ext == ".json":
		return "yaml"
	}
	switch {
	case envLine.Match(data):
		return "env"
	case confLine.Match(data):
		return "kong.conf"
	}
	return "yaml"
}

func loadYAML(set *Set, file string, data []byte) []Finding {
	var s sink
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	var skipped kindTally
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.add(ruleUnreadable, file, 0, "", err.Error())
			return s.findings
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			continue
		}
		docs++
		loadDoc(set, &s, file, root, &skipped)
	}
	skipped.report(&s, file)
	if docs == 0 {
		s.add(ruleUnknownFile, file, 0, "", "no YAML mapping found")
	}
	return s.findings
}

// mapGet returns the key and value nodes for key in a mapping node,
// following aliases and YAML merge keys (<<: *anchor).
func mapGet(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for _, kv := range mapPairs(n) {
		if kv[0].Value == key {
			return kv[0], kv[1]
		}
	}
	return nil, nil
}

func mapPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		_, n = mapGet(n, k)
		if n == nil {
			return nil
		}
	}
	return n
}

func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func loadDoc(set *Set, s *sink, file string, root *yaml.Node, skipped *kindTally) {
	kind := scalar(mapPath(root, "kind"))
	api := scalar(mapPath(root, "apiVersion"))
	switch {
	case kind == "Service" && (api == "v1" || api == ""):
		loadService(set, s, file, root)
	case kind == "List" && api == "v1":
		for _, item := range seqItems(mapPath(root, "items")) {
			loadDoc(set, s, file, item, skipped)
		}
	case kind == "KongPlugin" || kind == "KongClusterPlugin":
		loadKICPlugin(set, s, file, root, kind)
	case kind == "Ingress":
		loadIngress(set, s, file, root)
	case kind == "BackendConfig" && strings.HasPrefix(api, "cloud.google.com/"):
		loadBackendConfig(set, file, root)
	case (kind == "ConfigMap" || kind == "Secret") && api == "v1":
		loadEnvSource(set, s, file, kind, root)
	case kind == "Application" && strings.HasPrefix(api, "argoproj.io/"):
		loadArgoApp(set, s, file, root)
	case kind == "HelmRelease" && strings.HasPrefix(api, "helm.toolkit.fluxcd.io/"):
		loadHelmRelease(set, s, file, root)
	case kind == "HelmChart" && strings.HasPrefix(api, "helm.cattle.io/"):
		loadHelmChartCR(set, s, file, root)
	case (kind == "GatewayConfiguration" || kind == "DataPlane") && strings.HasPrefix(api, "gateway-operator.konghq.com/"):
		loadOperator(set, s, file, kind, root)
	case kind != "":
		if !loadWorkload(set, file, kind, root) {
			skipped.add(kind, root.Line)
		}
	case mapPath(root, "apiVersion") != nil && mapPath(root, "name") != nil && mapPath(root, "dependencies") != nil:
		loadChartFile(set, s, file, root)
	case isCompose(root):
		loadCompose(set, s, file, root)
	case mapPath(root, "_format_version") != nil || mapPath(root, "services") != nil && mapPath(root, "env") == nil:
		loadDeck(set, s, file, root)
	case isBitnami(root):
		loadBitnami(set, s, file, root)
	case helmLike(root):
		loadHelm(set, s, file, root, "")
	case helmLike(mapPath(root, "kong")):
		loadHelm(set, s, file, mapPath(root, "kong"), "kong.")
	default:
		s.add(ruleUnknownFile, file, root.Line, "", "")
	}
}

// helmLike reports whether a mapping looks like values for Kong's charts
// (kong, or ingress with its gateway: sub-chart).
func helmLike(n *yaml.Node) bool {
	for _, k := range []string{"env", "proxy", "gateway", "plugins", "customEnv", "ingressController"} {
		if mapPath(n, k) != nil {
			return true
		}
	}
	// The ingress chart's controller: sub-chart (KIC only, Kong's defaults).
	return mapPath(n, "controller", "ingressController") != nil
}

// kindTally collects the Kubernetes kinds of one file that lint does not
// read, so they are reported once (KC902) instead of passed silently.
type kindTally struct {
	kinds []string
	count map[string]int
	line  int
}

func (k *kindTally) add(kind string, line int) {
	if k.count == nil {
		k.count = map[string]int{}
		k.line = line
	}
	if k.count[kind] == 0 {
		k.kinds = append(k.kinds, kind)
	}
	k.count[kind]++
}

func (k *kindTally) report(s *sink, file string) {
	if len(k.kinds) == 0 {
		return
	}
	parts := make([]string, 0, len(k.kinds))
	for _, kind := range k.kinds {
		if c := k.count[kind]; c > 1 {
			parts = append(parts, fmt.Sprintf("%s (%d)", kind, c))
		} else {
			parts = append(parts, kind)
		}
	}
	s.add(ruleUnknownFile, file, k.line, "kind", "not checked: "+strings.Join(parts, ", ")+" (no Kong settings, Service, plugin or pod template lint reads)")
}

// strictDecode converts a YAML node to JSON and decodes it into out,
// rejecting unknown fields.
func strictDecode(n *yaml.Node, out any) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

func loadService(set *Set, s *sink, file string, root *yaml.Node) {
	var svc corev1.Service
	if err := strictDecode(root, &svc); err != nil {
		s.add(ruleBadStrict, file, root.Line, "Service", "Service: "+err.Error())
		return
	}
	out := &Service{File: file, Line: root.Line, Name: svc.Name, Type: string(svc.Spec.Type),
		ExternalTrafficPolicy: string(svc.Spec.ExternalTrafficPolicy), Annotations: svc.Annotations, AnnLines: map[string]int{},
		Selector: svc.Spec.Selector}
	if k, _ := mapGet(mapPath(root, "spec"), "selector"); k != nil {
		out.SelectorLine = k.Line
	}
	if out.Type == "" {
		out.Type = "ClusterIP"
	}
	if k, _ := mapGet(mapPath(root, "spec"), "externalTrafficPolicy"); k != nil {
		out.ETPLine = k.Line
	}
	if ann := mapPath(root, "metadata", "annotations"); ann != nil {
		for i := 0; i+1 < len(ann.Content); i += 2 {
			out.AnnLines[ann.Content[i].Value] = ann.Content[i].Line
		}
	}
	ports := mapPath(root, "spec", "ports")
	for i, p := range svc.Spec.Ports {
		out.Ports = append(out.Ports, p.Port)
		// A port reaches Kong's TLS listener when it targets 8443 (or a
		// named tls/ssl port), or names no target and is itself 443/8443.
		// 443 aimed at 8000 is TLS ending on the load balancer.
		tp := p.TargetPort.String()
		unset := tp == "0" || tp == ""
		if tp == "8443" || strings.Contains(tp, "tls") || strings.Contains(tp, "ssl") || unset && (p.Port == 443 || p.Port == 8443) {
			out.TargetsTLS = true
			if ports != nil && i < len(ports.Content) {
				out.TLSLine = ports.Content[i].Line
			}
		}
	}
	set.Services = append(set.Services, out)
}

func loadKICPlugin(set *Set, s *sink, file string, root *yaml.Node, kind string) {
	var name, plugin string
	var cfg []byte
	var labels, anns map[string]string
	if kind == "KongPlugin" {
		var kp configurationv1.KongPlugin
		if err := strictDecode(root, &kp); err != nil {
			s.add(ruleBadStrict, file, root.Line, kind, kind+": "+err.Error())
			return
		}
		name, plugin, cfg = kp.Name, kp.PluginName, kp.Config.Raw
	} else {
		var kcp configurationv1.KongClusterPlugin
		if err := strictDecode(root, &kcp); err != nil {
			s.add(ruleBadStrict, file, root.Line, kind, kind+": "+err.Error())
			return
		}
		name, plugin, cfg, labels, anns = kcp.Name, kcp.PluginName, kcp.Config.Raw, kcp.Labels, kcp.Annotations
	}
	if plugin != pluginName {
		return
	}
	if kind == "KongClusterPlugin" {
		if labels["global"] != "true" {
			s.add(ruleKCPNotGlobal, file, root.Line, "metadata.labels.global", fmt.Sprintf("KongClusterPlugin %s has no global: \"true\" label", name))
		}
		if anns["kubernetes.io/ingress.class"] == "" {
			s.add(ruleKCPNoClass, file, root.Line, "metadata.annotations", fmt.Sprintf("KongClusterPlugin %s has no kubernetes.io/ingress.class", name))
		}
	}
	pu := &PluginUse{File: file, Line: root.Line, Where: kind + " " + name, Config: map[string]any{}, KeyLines: map[string]int{}}
	if len(cfg) > 0 {
		if err := json.Unmarshal(cfg, &pu.Config); err != nil {
			s.add(rulePluginBadValue, file, root.Line, "config", "config is not an object: "+err.Error())
			return
		}
	}
	keyLines(mapPath(root, "config"), pu.KeyLines)
	set.Plugins = append(set.Plugins, pu)
}

func keyLines(n *yaml.Node, into map[string]int) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		into[n.Content[i].Value] = n.Content[i].Line
	}
}

var yamlBools = map[string]bool{"on": true, "off": true, "yes": true, "no": true, "y": true, "n": true, "true": true, "false": true}

// loadHelm reads values for Kong's kong chart, or for its ingress chart
// (gateway: sub-key). prefix names where root sits in the file ("kong." for
// an umbrella chart, "spec.values." for a Flux HelmRelease).
func loadHelm(set *Set, s *sink, file string, root *yaml.Node, prefix string) *Node {
	gw := root
	if g := mapPath(root, "gateway"); g != nil {
		gw, prefix = g, prefix+"gateway."
	}
	n := NewNode(file, "helm")
	n.PrefixDefault = helmPrefix
	n.Helm = helmInfo(root, gw, gw != root)
	loadHelmIncludes(set, file, gw, n.Helm)
	if env := mapPath(gw, "env"); env != nil && env.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(env.Content); i += 2 {
			k, v := env.Content[i], env.Content[i+1]
			val := &Value{Key: strings.ToLower(k.Value), Orig: prefix + "env." + k.Value, Line: k.Line}
			if v.Kind == yaml.ScalarNode {
				val.Value = v.Value
				val.YAMLBool = v.Style == 0 && yamlBools[strings.ToLower(v.Value)]
				val.Skip = templated(v.Value)
			} else {
				val.Skip = true
			}
			n.Set(val)
		}
	}
	// customEnv holds whole variable names; KONG_* ones are settings too.
	if ce := mapPath(gw, "customEnv"); ce != nil && ce.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ce.Content); i += 2 {
			k, v := ce.Content[i], ce.Content[i+1]
			if !strings.HasPrefix(strings.ToUpper(k.Value), "KONG_") {
				continue
			}
			val := &Value{Key: strings.ToLower(k.Value[len("KONG_"):]), Orig: prefix + "customEnv." + k.Value, Line: k.Line}
			if v.Kind == yaml.ScalarNode {
				val.Value = v.Value
				val.YAMLBool = v.Style == 0 && yamlBools[strings.ToLower(v.Value)]
				val.Skip = templated(v.Value)
			} else {
				val.Skip = true
			}
			n.Set(val)
		}
	}
	if _, _, ok := n.Get("plugins"); !ok {
		if k, v := mapGet(mapPath(gw, "plugins"), "preInstalled"); v != nil {
			n.Set(&Value{Key: "plugins", Orig: prefix + "plugins.preInstalled", Value: "bundled," + scalar(v), Line: k.Line})
		} else {
			line := 0
			if k, _ := mapGet(gw, "plugins"); k != nil {
				line = k.Line
			}
			n.Set(&Value{Key: "plugins", Orig: prefix + "plugins.preInstalled", Value: "bundled", Line: line})
		}
	}
	proxy := mapPath(gw, "proxy")
	// Listeners: env.proxy_listen wins over the chart's generated value.
	if _, v, ok := n.Get("proxy_listen"); ok {
		n.Listeners = ParseListeners(v.Value)
		n.ListenLine = v.Line
	} else {
		httpParams := []string{}
		tlsParams := []string{"http2"}
		if p := mapPath(proxy, "http", "parameters"); p != nil {
			httpParams = seqStrings(p)
			n.ListenLine = p.Line
		}
		if k, p := mapGet(mapPath(proxy, "tls"), "parameters"); p != nil {
			tlsParams = seqStrings(p)
			if n.ListenLine == 0 {
				n.ListenLine = k.Line
			}
			if contains(tlsParams, "proxy_protocol") && !contains(tlsParams, "http2") {
				s.add(ruleTLSParamsDropHTTP2, file, k.Line, prefix+"proxy.tls.parameters", "")
			}
		}
		if scalar(mapPath(proxy, "http", "enabled")) != "false" {
			n.Listeners = append(n.Listeners, Listener{Raw: strings.TrimSpace("0.0.0.0:8000 " + strings.Join(httpParams, " ")), ProxyProtocol: contains(httpParams, "proxy_protocol")})
		}
		if scalar(mapPath(proxy, "tls", "enabled")) != "false" {
			n.Listeners = append(n.Listeners, Listener{Raw: strings.TrimSpace("0.0.0.0:8443 " + strings.Join(tlsParams, " ") + " ssl"), SSL: true, ProxyProtocol: contains(tlsParams, "proxy_protocol")})
		}
	}
	if v, ok := n.Values["proxy_listen"]; ok && proxy != nil && mapPath(proxy, "http") != nil {
		s.add(ruleListenDrift, file, v.Line, v.Orig, "")
	}
	set.Nodes = append(set.Nodes, n)

	if proxy != nil {
		set.Services = append(set.Services, helmService(file, n, proxy))
	}
	return n
}

// helmService is the proxy Service the chart renders from proxy.*.
func helmService(file string, n *Node, proxy *yaml.Node) *Service {
	svc := serviceOptions(file, "proxy", proxy, "LoadBalancer")
	if scalar(mapPath(proxy, "tls", "enabled")) != "false" {
		// tls.overrideServiceTargetPort aims the chart's 443 at another
		// listener (Kong/charts charts/kong/templates/_helpers.tpl:240).
		if o := scalar(mapPath(proxy, "tls", "overrideServiceTargetPort")); o == "" || o == "8443" {
			svc.TargetsTLS = true
		}
		svc.TLSLine = proxy.Line
		if k, _ := mapGet(proxy, "tls"); k != nil {
			svc.TLSLine = k.Line
		}
	} else {
		n.TLSDisabled = true
	}
	return svc
}

func seqStrings(n *yaml.Node) []string {
	var out []string
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			out = append(out, scalar(c))
		}
	} else if n.Kind == yaml.ScalarNode && n.Value != "" {
		out = append(out, n.Value)
	}
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
