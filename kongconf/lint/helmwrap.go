package lint

import (
	"fmt"
	"strings"

	operatorv1beta1 "github.com/kong/kubernetes-configuration/api/gateway-operator/v1beta1"
	yaml "go.yaml.in/yaml/v3"
)

// loadWrappedValues reads Helm values embedded in another tool's object
// (Flux HelmRelease spec.values, Argo CD valuesObject, ...). Values for
// Kong's charts, an umbrella chart's kong: sub-key and Bitnami's kong chart
// are read; anything else is reported once (KC902), never passed silently.
func loadWrappedValues(set *Set, s *sink, file, where string, vals *yaml.Node, prefix string) *Node {
	switch {
	case vals == nil:
		s.add(ruleUnknownFile, file, 0, "", where+": no Helm values to check")
	case isBitnami(vals):
		return loadBitnami(set, s, file, vals)
	case helmLike(vals):
		return loadHelm(set, s, file, vals, prefix)
	case helmLike(mapPath(vals, "kong")):
		return loadHelm(set, s, file, mapPath(vals, "kong"), prefix+"kong.")
	default:
		s.add(ruleUnknownFile, file, vals.Line, "", where+": the values set nothing lint reads (env, customEnv, proxy, gateway, kong)")
	}
	return nil
}

// loadArgoApp reads an Argo CD Application's Helm values:
// spec.source.helm (or each of spec.sources[].helm) valuesObject, values
// (a YAML string) and parameters (name/value overrides).
func loadArgoApp(set *Set, s *sink, file string, root *yaml.Node) {
	sources := []*yaml.Node{}
	paths := []string{}
	if src := mapPath(root, "spec", "source"); src != nil {
		sources, paths = append(sources, src), append(paths, "spec.source")
	}
	for i, src := range seqItems(mapPath(root, "spec", "sources")) {
		sources, paths = append(sources, src), append(paths, fmt.Sprintf("spec.sources[%d]", i))
	}
	where := "Application " + scalar(mapPath(root, "metadata", "name"))
	found := false
	for i, src := range sources {
		helm := mapPath(src, "helm")
		if helm == nil {
			continue
		}
		found = true
		var n *Node
		if vo := mapPath(helm, "valuesObject"); vo != nil {
			n = loadWrappedValues(set, s, file, where, vo, paths[i]+".helm.valuesObject.")
		} else if v := mapPath(helm, "values"); v != nil {
			doc, err := embeddedYAML(v)
			if err != nil {
				s.add(ruleUnreadable, file, v.Line, paths[i]+".helm.values", fmt.Sprintf("%s: helm.values is not YAML: %v", where, err))
				continue
			}
			n = loadWrappedValues(set, s, file, where, doc, "")
		}
		if mapPath(helm, "valuesObject") == nil && mapPath(helm, "values") == nil && mapPath(helm, "parameters") == nil {
			s.add(ruleUnknownFile, file, helm.Line, paths[i]+".helm", where+": no inline values or parameters (valueFiles live in the chart's repository), nothing to check")
			continue
		}
		var params [][2]*yaml.Node
		for _, p := range seqItems(mapPath(helm, "parameters")) {
			k, _ := mapGet(p, "name")
			_, v := mapGet(p, "value")
			if k != nil && v != nil {
				params = append(params, [2]*yaml.Node{{Value: scalar(mapPath(p, "name")), Line: k.Line}, v})
			}
		}
		applyHelmSets(set, file, n, params, paths[i]+".helm.parameters ")
	}
	if !found {
		s.add(ruleUnknownFile, file, root.Line, "kind", where+": no Helm source, nothing to check")
	}
}

// loadHelmChartCR reads a k3s/RKE2 HelmChart: spec.valuesContent (a YAML
// string) and spec.set (dotted-key overrides).
func loadHelmChartCR(set *Set, s *sink, file string, root *yaml.Node) {
	where := "HelmChart " + scalar(mapPath(root, "metadata", "name"))
	var n *Node
	if v := mapPath(root, "spec", "valuesContent"); v != nil {
		doc, err := embeddedYAML(v)
		if err != nil {
			s.add(ruleUnreadable, file, v.Line, "spec.valuesContent", fmt.Sprintf("%s: valuesContent is not YAML: %v", where, err))
			return
		}
		n = loadWrappedValues(set, s, file, where, doc, "")
	} else if mapPath(root, "spec", "set") == nil {
		s.add(ruleUnknownFile, file, root.Line, "kind", where+": no valuesContent or set, nothing to check")
	}
	applyHelmSets(set, file, n, mapPairs(mapPath(root, "spec", "set")), "spec.set ")
}

// applyHelmSets applies --set style overrides (env.trusted_ips=...,
// gateway.env.X, kong.env.X) to the node built from the values, or to a new
// Helm node when there were no values.
func applyHelmSets(set *Set, file string, n *Node, pairs [][2]*yaml.Node, origPrefix string) {
	for _, kv := range pairs {
		key := kv[0].Value
		for _, p := range []string{"kong.", "gateway."} {
			key = strings.TrimPrefix(key, p)
		}
		if !strings.HasPrefix(key, "env.") {
			continue
		}
		if n == nil {
			n = NewNode(file, "helm")
			n.PrefixDefault = helmPrefix
			n.Listeners = DefaultListeners()
			set.Nodes = append(set.Nodes, n)
		}
		v := &Value{Key: strings.ToLower(strings.TrimPrefix(key, "env.")), Orig: origPrefix + kv[0].Value, Value: scalar(kv[1]), Line: kv[0].Line}
		v.Skip = templated(v.Value)
		n.Set(v)
		if v.Key == "proxy_listen" && !v.Skip {
			n.Listeners, n.ListenLine = ParseListeners(v.Value), v.Line
		}
	}
}

// isBitnami reports whether values are for Bitnami's kong chart, whose keys
// differ from Kong's (kong.extraEnvVars, service.*).
func isBitnami(n *yaml.Node) bool {
	if mapPath(n, "kong", "extraEnvVars") != nil || mapPath(n, "kong", "extraEnvVarsCM") != nil {
		return true
	}
	return strings.Contains(scalar(mapPath(n, "image", "repository")), "bitnami/kong")
}

// loadBitnami reads Bitnami's kong chart values: kong.extraEnvVars (a list of
// name/value variables) and the service.* block, with a notice (KC903)
// that these are not the keys of Kong's own chart.
func loadBitnami(set *Set, s *sink, file string, root *yaml.Node) *Node {
	kong := mapPath(root, "kong")
	k, _ := mapGet(kong, "extraEnvVars")
	line := root.Line
	if k != nil {
		line = k.Line
	}
	s.add(ruleOtherChart, file, line, "kong.extraEnvVars", "")
	// The chart puts extraEnvVars in the container's env and
	// extraEnvVarsCM/extraEnvVarsSecret in its envFrom: read it as that
	// container, so the ConfigMap and Secret resolve like any workload's.
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Line: line} }
	c := &yaml.Node{Kind: yaml.MappingNode, Line: line}
	if ev := mapPath(kong, "extraEnvVars"); ev != nil {
		c.Content = append(c.Content, str("env"), ev)
	}
	from := &yaml.Node{Kind: yaml.SequenceNode, Line: line}
	for _, ref := range [][2]string{{"extraEnvVarsCM", "configMapRef"}, {"extraEnvVarsSecret", "secretRef"}} {
		if name := scalar(mapPath(kong, ref[0])); name != "" && !templated(name) {
			named := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("name"), str(name)}}
			from.Content = append(from.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str(ref[1]), named}})
		}
	}
	c.Content = append(c.Content, str("envFrom"), from)
	set.containers = append(set.containers, container{file: file, where: "Bitnami kong container", line: line, node: c,
		workload: "Bitnami kong values", workloadLine: line})
	if svc := mapPath(root, "service"); svc != nil {
		// service.type defaults to ClusterIP in Bitnami's chart (bitnami/kong/values.yaml).
		set.Services = append(set.Services, serviceOptions(file, "Bitnami service", svc, "ClusterIP"))
	}
	return nil
}

// serviceOptions builds a Service from a chart's or operator's service
// block (type, externalTrafficPolicy, annotations).
func serviceOptions(file, name string, opts *yaml.Node, defType string) *Service {
	sv := &Service{File: file, Line: opts.Line, Name: name, Type: defType, Annotations: map[string]string{}, AnnLines: map[string]int{}, FromHelm: true}
	if t := scalar(mapPath(opts, "type")); t != "" {
		sv.Type = t
	}
	if k, v := mapGet(opts, "externalTrafficPolicy"); v != nil {
		sv.ExternalTrafficPolicy, sv.ETPLine = scalar(v), k.Line
	}
	for _, kv := range mapPairs(mapPath(opts, "annotations")) {
		sv.Annotations[kv[0].Value] = scalar(kv[1])
		sv.AnnLines[kv[0].Value] = kv[0].Line
	}
	return sv
}

// loadOperator reads a Kong Gateway Operator DataPlane or
// GatewayConfiguration: the data plane pod template's env (as any
// workload) and the ingress Service options (type LoadBalancer unless set;
// the operator maps its 443 to Kong's 8443). v1beta1 objects are first
// decoded strictly into the operator's types (KC209 on a mismatch); the
// settings are read either way.
func loadOperator(set *Set, s *sink, file, kind string, root *yaml.Node) {
	if scalar(mapPath(root, "apiVersion")) == operatorv1beta1.SchemeGroupVersion.String() {
		var obj any = &operatorv1beta1.GatewayConfiguration{}
		if kind == "DataPlane" {
			obj = &operatorv1beta1.DataPlane{}
		}
		if err := strictDecode(root, obj); err != nil {
			s.add(ruleBadStrict, file, root.Line, kind, kind+": "+err.Error())
		}
	}
	loadWorkload(set, file, kind, root)
	name := scalar(mapPath(root, "metadata", "name"))
	for _, p := range [][]string{{"spec", "network", "services", "ingress"}, {"spec", "dataPlaneOptions", "network", "services", "ingress"}} {
		if opts := mapPath(root, p...); opts != nil {
			svName := kind + " " + name + " ingress"
			if n := scalar(mapPath(opts, "name")); n != "" {
				svName = n // the Service name the operator gives it
			}
			sv := serviceOptions(file, svName, opts, "LoadBalancer")
			sv.TargetsTLS, sv.TLSLine = true, opts.Line
			set.Services = append(set.Services, sv)
		}
	}
}

// valuesRef is a Flux valuesFrom entry, resolved once every file is read.
type valuesRef struct {
	file, where, kind, name, key string
	line                         int
}

// loadHelmRelease reads a Flux HelmRelease: spec.values, and each
// spec.valuesFrom ConfigMap or Secret among the files given (resolved in
// resolveValuesFrom).
func loadHelmRelease(set *Set, s *sink, file string, root *yaml.Node) {
	where := "HelmRelease " + scalar(mapPath(root, "metadata", "name"))
	refs := seqItems(mapPath(root, "spec", "valuesFrom"))
	if vals := mapPath(root, "spec", "values"); vals != nil || len(refs) == 0 {
		loadWrappedValues(set, s, file, where, vals, "spec.values.")
	}
	for _, r := range refs {
		key := scalar(mapPath(r, "valuesKey"))
		if key == "" {
			key = "values.yaml" // Flux's default valuesKey
		}
		set.valuesFrom = append(set.valuesFrom, valuesRef{file: file, where: where, kind: scalar(mapPath(r, "kind")),
			name: scalar(mapPath(r, "name")), key: key, line: r.Line})
	}
}

// resolveValuesFrom reads the values files Flux HelmReleases take from
// ConfigMaps and Secrets, with lines pointing into the ConfigMap; one not
// among the files given is reported (KC902).
func (set *Set) resolveValuesFrom(s *sink) {
	for _, r := range set.valuesFrom {
		src := set.envSource(r.kind, r.name)
		if src == nil {
			s.add(ruleUnknownFile, r.file, r.line, "spec.valuesFrom", fmt.Sprintf("%s: values from %s %s, not among the files given", r.where, r.kind, r.name))
			continue
		}
		src.used = true
		v, ok := src.nodes[r.key]
		if !ok {
			if ev, found := src.vals[r.key]; found { // a Secret's decoded value
				v = &yaml.Node{Kind: yaml.ScalarNode, Value: ev.Value, Line: ev.Line - 1}
				ok = true
			}
		}
		if !ok {
			s.add(ruleUnknownFile, r.file, r.line, "spec.valuesFrom", fmt.Sprintf("%s: %s %s has no key %s", r.where, r.kind, r.name, r.key))
			continue
		}
		doc, err := embeddedYAML(v)
		if err != nil {
			s.add(ruleUnreadable, src.file, v.Line, r.key, fmt.Sprintf("%s %s: %s is not YAML: %v", r.kind, r.name, r.key, err))
			continue
		}
		loadWrappedValues(set, s, src.file, r.where+" valuesFrom "+r.kind+" "+r.name, doc, "")
	}
	set.valuesFrom = nil
}
