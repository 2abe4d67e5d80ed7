package lint

import (
	"encoding/base64"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// container is one Kubernetes container whose environment is resolved once
// every file has been read (envFrom and valueFrom may name a ConfigMap or
// Secret from another file).
type container struct {
	file, where string
	line        int
	node        *yaml.Node
	// workload names the object ("Deployment kong"); workloadLine locates it.
	workload     string
	workloadLine int
	// migrations marks a "kong migrations" container: no proxy, not read.
	migrations bool
	// configMaps are the ConfigMaps its volumeMounts mount.
	configMaps []string
}

// envSource is the data of a ConfigMap or Secret.
type envSource struct {
	kind, name, file string
	line             int
	keys             []string
	vals             map[string]envVar
	// nodes holds the YAML value of each plain (not base64) key, for
	// values files kept in a ConfigMap (Flux valuesFrom).
	nodes map[string]*yaml.Node
	used  bool
}

// podSpecs returns the pod specs in a workload document: spec (Pod),
// spec.template.spec (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
// Argo Rollout, ...), spec.jobTemplate.spec.template.spec (CronJob),
// template.spec (PodTemplate) and the Kong Gateway Operator's
// podTemplateSpec (DataPlane, GatewayConfiguration).
func podSpecs(root *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, path := range [][]string{
		{"spec"},
		{"spec", "template", "spec"},
		{"spec", "jobTemplate", "spec", "template", "spec"},
		{"template", "spec"},
		{"spec", "deployment", "podTemplateSpec", "spec"},
		{"spec", "dataPlaneOptions", "deployment", "podTemplateSpec", "spec"},
	} {
		if p := mapPath(root, path...); p != nil && mapPath(p, "containers") != nil {
			out = append(out, p)
		}
	}
	return out
}

// loadWorkload records the containers of a workload for resolution.
// It reports whether the document holds a pod spec with containers.
func loadWorkload(set *Set, file, kind string, root *yaml.Node) bool {
	before := len(set.containers)
	name := scalar(mapPath(root, "metadata", "name"))
	for _, spec := range podSpecs(root) {
		for _, c := range seqItems(mapPath(spec, "containers")) {
			where := fmt.Sprintf("%s %s container %s", kind, name, scalar(mapPath(c, "name")))
			set.containers = append(set.containers, container{file: file, where: where, line: c.Line, node: c,
				workload: kind + " " + name, workloadLine: root.Line, migrations: migrationsOnly(c), configMaps: mountedConfigMaps(spec, c)})
		}
	}
	return len(set.containers) > before
}

// mountedConfigMaps returns the ConfigMaps a container mounts (volumeMounts
// naming a configMap volume of the pod).
func mountedConfigMaps(spec, c *yaml.Node) []string {
	vols := map[string]string{}
	for _, v := range seqItems(mapPath(spec, "volumes")) {
		if cm := scalar(mapPath(v, "configMap", "name")); cm != "" {
			vols[scalar(mapPath(v, "name"))] = cm
		}
	}
	var out []string
	for _, m := range seqItems(mapPath(c, "volumeMounts")) {
		if cm, ok := vols[scalar(mapPath(m, "name"))]; ok {
			out = append(out, cm)
		}
	}
	return out
}

func migrationsOnly(c *yaml.Node) bool {
	for _, k := range []string{"command", "args"} {
		for _, a := range seqItems(mapPath(c, k)) {
			if strings.Contains(scalar(a), "migrations") {
				return true
			}
		}
	}
	return false
}

// loadEnvSource records a ConfigMap's or Secret's data. Secret data is
// base64; stringData and ConfigMap data are plain.
func loadEnvSource(set *Set, s *sink, file, kind string, root *yaml.Node) {
	src := &envSource{kind: kind, name: scalar(mapPath(root, "metadata", "name")), file: file, line: root.Line,
		vals: map[string]envVar{}, nodes: map[string]*yaml.Node{}}
	add := func(field string, b64 bool) {
		for _, kv := range mapPairs(mapPath(root, field)) {
			v := scalar(kv[1])
			if b64 {
				d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
				if err != nil {
					s.add(ruleUnreadable, file, kv[1].Line, field+"."+kv[0].Value, fmt.Sprintf("%s %s: data.%s is not base64: %v", kind, src.name, kv[0].Value, err))
					continue
				}
				v = string(d)
			} else {
				src.nodes[kv[0].Value] = kv[1]
			}
			if _, dup := src.vals[kv[0].Value]; !dup {
				src.keys = append(src.keys, kv[0].Value)
			}
			src.vals[kv[0].Value] = envVar{Name: kv[0].Value, Value: v, File: file, Line: kv[0].Line}
		}
	}
	add("data", kind == "Secret")
	add("stringData", false)
	set.envSources = append(set.envSources, src)
	if kind == "ConfigMap" {
		loadMountedConf(set, s, file, src, mapPath(root, "data"))
		loadConfigMapIncludes(set, file, src.name, mapPath(root, "data"))
	}
}

// loadMountedConf reads kong.conf files kept in a ConfigMap (a data key
// ending in .conf, mounted as Kong's configuration file), with lines
// pointing into the manifest.
func loadMountedConf(set *Set, s *sink, file string, src *envSource, data *yaml.Node) {
	for _, kv := range mapPairs(data) {
		v := kv[1]
		if !strings.HasSuffix(kv[0].Value, ".conf") || v == nil || v.Kind != yaml.ScalarNode || notKongConf([]byte(v.Value)) != "" {
			continue
		}
		n, f := ParseKongConf(strings.NewReader(v.Value), file)
		delta := v.Line - 1
		if v.Style == yaml.LiteralStyle || v.Style == yaml.FoldedStyle {
			delta = v.Line
		}
		for _, x := range n.Order {
			x.Line += delta
		}
		for i := range f {
			if f[i].Line > 0 {
				f[i].Line += delta
			}
		}
		if n.ListenLine > 0 {
			n.ListenLine += delta
		}
		n.Where, n.configMap = "ConfigMap "+src.name+" "+kv[0].Value, src.name
		src.used = true
		s.findings = append(s.findings, f...)
		set.Nodes = append(set.Nodes, n)
	}
}

// mountsKongConf reports whether one of the ConfigMaps holds a kong.conf.
func (set *Set) mountsKongConf(cms []string) bool {
	for _, n := range set.Nodes {
		for _, cm := range cms {
			if n.configMap == cm {
				return true
			}
		}
	}
	return false
}

func (set *Set) envSource(kind, name string) *envSource {
	for _, e := range set.envSources {
		if e.kind == kind && e.name == name {
			return e
		}
	}
	return nil
}

// resolveWorkloads builds one node per container that sets KONG_*
// variables, reading envFrom and valueFrom from the ConfigMaps and Secrets
// given, and one node per ConfigMap/Secret with KONG_* keys that no
// container uses. It runs once; later calls do nothing.
// A workload none of whose containers sets a KONG_* variable is reported
// once (KC902) rather than passed silently.
func (set *Set) resolveWorkloads() []Finding {
	var s sink
	kong := map[string]bool{}
	var order []container
	for _, c := range set.containers {
		key := c.file + "\x00" + c.workload
		if _, seen := kong[key]; !seen {
			kong[key] = false
			order = append(order, c)
		}
		if c.migrations {
			continue // kong migrations containers serve no traffic
		}
		n := envNode(c.file, "env", set.containerEnv(c))
		if n == nil && set.mountsKongConf(c.configMaps) {
			n = NewNode(c.file, "env") // no KONG_* variables, but a mounted kong.conf
			n.finishListeners()
		}
		if n != nil {
			n.Where, n.configMaps = c.where, c.configMaps
			set.Nodes = append(set.Nodes, n)
			kong[key] = true
		}
	}
	for _, c := range order {
		switch {
		case kong[c.file+"\x00"+c.workload]:
		case c.migrations:
			s.add(ruleUnknownFile, c.file, c.workloadLine, "args", c.workload+": runs kong migrations, no proxy; not checked")
		default:
			s.add(ruleUnknownFile, c.file, c.workloadLine, "env", c.workload+": no container sets KONG_* variables (Kong's defaults apply if it runs Kong)")
		}
	}
	set.containers = nil
	for _, e := range set.envSources {
		if e.used {
			continue
		}
		vars := make([]envVar, 0, len(e.keys))
		for _, k := range e.keys {
			vars = append(vars, e.vals[k])
		}
		if n := envNode(e.file, "env", vars); n != nil {
			n.Where = e.kind + " " + e.name
			set.Nodes = append(set.Nodes, n)
		} else {
			s.add(ruleUnknownFile, e.file, e.line, "data", fmt.Sprintf("%s %s: no KONG_* keys and no container among the files uses it", e.kind, e.name))
		}
		e.used = true
	}
	return s.findings
}

// containerEnv lists a container's variables in Kubernetes' order: envFrom
// sources first, then env entries, which override them.
func (set *Set) containerEnv(c container) []envVar {
	var vars []envVar
	for _, ef := range seqItems(mapPath(c.node, "envFrom")) {
		prefix := scalar(mapPath(ef, "prefix"))
		for _, ref := range []struct{ field, kind string }{{"configMapRef", "ConfigMap"}, {"secretRef", "Secret"}} {
			r := mapPath(ef, ref.field)
			if r == nil {
				continue
			}
			src := set.envSource(ref.kind, scalar(mapPath(r, "name")))
			if src == nil {
				continue // not among the files given; nothing to check
			}
			src.used = true
			for _, k := range src.keys {
				v := src.vals[k]
				v.Name = prefix + k
				vars = append(vars, v)
			}
		}
	}
	for _, e := range seqItems(mapPath(c.node, "env")) {
		k, _ := mapGet(e, "name")
		if k == nil {
			continue
		}
		ev := envVar{Name: scalar(mapPath(e, "name")), File: c.file, Line: k.Line}
		if vf := mapPath(e, "valueFrom"); vf != nil {
			ev.Skip = true
			for _, ref := range []struct{ field, kind string }{{"configMapKeyRef", "ConfigMap"}, {"secretKeyRef", "Secret"}} {
				r := mapPath(vf, ref.field)
				if r == nil {
					continue
				}
				if src := set.envSource(ref.kind, scalar(mapPath(r, "name"))); src != nil {
					src.used = true
					if v, ok := src.vals[scalar(mapPath(r, "key"))]; ok {
						ev.Value, ev.File, ev.Line, ev.Skip = v.Value, v.File, v.Line, false
					}
				}
			}
		} else {
			ev.Value = scalar(mapPath(e, "value"))
		}
		vars = append(vars, ev)
	}
	return vars
}
