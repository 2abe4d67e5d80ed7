package lint

import (
	"path/filepath"
	"sort"
)

// layers links the sources one Kong node reads together. Kong reads
// kong.conf, then the environment, whose KONG_* variables win; an image's
// ENV lies under the variables a container or compose service adds. lint
// links only what the files given say is read together:
//   - a Dockerfile's COPY/ADD of a .conf file (the image's kong.conf);
//   - a compose service's build context (its Dockerfile) and .conf bind mounts;
//   - a container's volumeMounts of a ConfigMap holding a kong.conf;
//   - env files beside a single kong.conf of the same deployment (a host's
//     kong.conf and its EnvironmentFile).
type layers struct {
	// refs are files this node reads under its own settings (cleaned paths).
	refs []string
	// configMaps are ConfigMaps mounted into this container.
	configMaps []string
	// configMap names the ConfigMap a kong.conf node was read from.
	configMap string
	// envFile marks a node read from an env file.
	envFile bool
	// bases are the linked nodes, lowest precedence first.
	bases []*Node
	// consumed marks a node read as part of another one.
	consumed bool
}

// image reports whether n is a Dockerfile's ENV.
func (n *Node) image() bool { return n.Where == dockerfileWhere }

// linkLayers fills bases and consumed for every node of set.
func (set *Set) linkLayers() {
	if set.linked {
		return
	}
	set.linked = true
	byFile := map[string]*Node{}
	byConfigMap := map[string][]*Node{}
	for _, n := range set.Nodes {
		switch {
		case n.configMap != "":
			byConfigMap[n.configMap] = append(byConfigMap[n.configMap], n)
		case n.Format == "kong.conf" || n.image():
			byFile[filepath.Clean(n.File)] = n
		}
	}
	link := func(n, base *Node) {
		if base == nil || base == n {
			return
		}
		n.bases = append(n.bases, base.bases...)
		n.bases = append(n.bases, base)
		base.consumed = true
	}
	// Images first, so a compose service inherits the image's kong.conf.
	sort.SliceStable(set.Nodes, func(i, j int) bool { return set.Nodes[i].image() && !set.Nodes[j].image() })
	for _, n := range set.Nodes {
		for _, r := range n.refs {
			link(n, byFile[r])
		}
		for _, cm := range n.configMaps {
			for _, b := range byConfigMap[cm] {
				link(n, b)
			}
		}
	}
	set.linkEnvFiles()
}

// linkEnvFiles puts the env files of a deployment over its kong.conf when
// the deployment has exactly one kong.conf not already read by another node.
func (set *Set) linkEnvFiles() {
	confs := map[string][]*Node{}
	for _, n := range set.Nodes {
		if n.Format == "kong.conf" && n.configMap == "" && !n.consumed {
			g := set.group(n.File)
			confs[g] = append(confs[g], n)
		}
	}
	for _, n := range set.Nodes {
		if c := confs[set.group(n.File)]; n.envFile && len(c) == 1 && len(n.bases) == 0 {
			n.bases = append(n.bases, c[0])
			c[0].consumed = true
		}
	}
}

// deployments returns the nodes Kong would run: each node over its bases,
// and the nodes no other node reads.
func (set *Set) deployments() []*Node {
	var out []*Node
	for _, n := range set.Nodes {
		switch {
		case n.consumed:
		case len(n.bases) == 0:
			out = append(out, n)
		default:
			out = append(out, n.merged())
		}
	}
	return out
}

// merged returns n's settings over those of its bases, each value keeping
// its own file and line.
func (n *Node) merged() *Node {
	m := NewNode(n.File, n.Format)
	m.Where, m.PrefixDefault, m.TLSDisabled, m.Helm = n.Where, n.PrefixDefault, n.TLSDisabled, n.Helm
	for _, b := range append(append([]*Node{}, n.bases...), n) {
		for _, v := range b.Order {
			m.Set(v)
		}
	}
	if n.Format == "helm" && n.Values["proxy_listen"] == nil {
		m.Listeners, m.ListenLine = n.Listeners, n.ListenLine // the chart's own
	} else {
		m.finishListeners()
	}
	return m
}
