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

// ParseKongConf reads kong.conf with Kong's reader rules (nodeconf.ReadLines),
// keeping each key's line for findings.
func ParseKongConf(r io.Reader, file string) (*Node, []Finding) {
	n := NewNode(file, "kong.conf")
	var s sink
	lines, err := nodeconf.ReadLines(r)
	for _, l := range lines {
		if !l.Assign {
			if l.Text != "" {
				s.add(ruleNoEquals, file, l.Line, "", fmt.Sprintf("line %q has no '='", l.Text))
			}
			continue
		}
		n.Set(&Value{Key: strings.ToLower(l.Key), Orig: l.Orig, Value: l.Value, Line: l.Line})
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
		v = unquote(strings.TrimSpace(v))
		if !strings.HasPrefix(strings.ToUpper(k), "KONG_") {
			continue
		}
		n.Set(&Value{Key: strings.ToLower(k[len("KONG_"):]), Orig: k, Value: v, Line: line})
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
	case "kong.conf":
		n, f := ParseKongConf(bytes.NewReader(data), file)
		set.Nodes = append(set.Nodes, n)
		// Kong's own loader rules (modelled by nodeconf) catch what the
		// line-level rules do not; trusted_ips and proxy_listen problems
		// already have their own rules.
		if _, err := nodeconf.Parse(bytes.NewReader(data), file); err != nil && !coveredByRule(err) {
			var s sink
			s.add(ruleNodeRejected, file, 0, "", err.Error())
			f = append(f, s.findings...)
		}
		return f
	case "env":
		n, f := ParseEnv(bytes.NewReader(data), file)
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

func sniff(file string, data []byte) string {
	base := strings.ToLower(filepath.Base(file))
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
		loadDoc(set, &s, file, root)
	}
	if docs == 0 {
		s.add(ruleUnknownFile, file, 0, "", "no YAML mapping found")
	}
	return s.findings
}

// mapGet returns the key and value nodes for key in a mapping node.
func mapGet(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
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
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func loadDoc(set *Set, s *sink, file string, root *yaml.Node) {
	kind := scalar(mapPath(root, "kind"))
	api := scalar(mapPath(root, "apiVersion"))
	switch {
	case kind == "Service" && (api == "v1" || api == ""):
		loadService(set, s, file, root)
	case kind == "KongPlugin" || kind == "KongClusterPlugin":
		loadKICPlugin(set, s, file, root, kind)
	case kind == "Ingress":
		loadIngress(set, s, file, root)
	case kind == "BackendConfig":
		loadBackendConfig(set, file, root)
	case kind == "GatewayConfiguration":
		loadGatewayConfiguration(set, s, file, root)
	case kind != "":
		// Other Kubernetes objects are not about client IPs.
	case mapPath(root, "apiVersion") != nil && mapPath(root, "name") != nil && mapPath(root, "dependencies") != nil:
		loadChartFile(set, file, root)
	case mapPath(root, "_format_version") != nil || mapPath(root, "services") != nil && mapPath(root, "env") == nil:
		loadDeck(set, s, file, root)
	case mapPath(root, "env") != nil || mapPath(root, "proxy") != nil || mapPath(root, "gateway") != nil || mapPath(root, "plugins") != nil:
		loadHelm(set, s, file, root)
	default:
		s.add(ruleUnknownFile, file, root.Line, "", "")
	}
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

func loadHelm(set *Set, s *sink, file string, root *yaml.Node) {
	gw := root
	prefix := ""
	if g := mapPath(root, "gateway"); g != nil {
		gw, prefix = g, "gateway."
	}
	n := NewNode(file, "helm")
	n.PrefixDefault = "/kong_prefix"
	n.Helm = helmInfo(root, gw, prefix != "")
	if env := mapPath(gw, "env"); env != nil && env.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(env.Content); i += 2 {
			k, v := env.Content[i], env.Content[i+1]
			val := &Value{Key: strings.ToLower(k.Value), Orig: prefix + "env." + k.Value, Line: k.Line}
			if v.Kind == yaml.ScalarNode {
				val.Value = v.Value
				val.YAMLBool = v.Style == 0 && yamlBools[strings.ToLower(v.Value)]
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

	// The proxy Service the chart renders.
	if proxy == nil {
		return
	}
	svc := &Service{File: file, Line: proxy.Line, Name: "proxy", Type: "LoadBalancer", Annotations: map[string]string{}, AnnLines: map[string]int{}, FromHelm: true}
	if t := scalar(mapPath(proxy, "type")); t != "" {
		svc.Type = t
	}
	if k, v := mapGet(proxy, "externalTrafficPolicy"); v != nil {
		svc.ExternalTrafficPolicy, svc.ETPLine = scalar(v), k.Line
	}
	if ann := mapPath(proxy, "annotations"); ann != nil && ann.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ann.Content); i += 2 {
			svc.Annotations[ann.Content[i].Value] = scalar(ann.Content[i+1])
			svc.AnnLines[ann.Content[i].Value] = ann.Content[i].Line
		}
	}
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
	set.Services = append(set.Services, svc)
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
