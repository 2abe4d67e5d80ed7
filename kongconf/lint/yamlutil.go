package lint

import (
	"bytes"
	"errors"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// deref follows YAML aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return deref(n.Content[0])
	}
	return n
}

// mapPairs returns the key/value pairs of a mapping with merge keys
// (<<: *a or <<: [*a, *b]) applied: explicit keys win over merged ones,
// earlier merge sources over later ones, as YAML's merge key defines.
func mapPairs(n *yaml.Node) [][2]*yaml.Node {
	return mapPairsDepth(deref(n), 0)
}

func mapPairsDepth(n *yaml.Node, depth int) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode || depth > 8 {
		return nil
	}
	var out, merged [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Value == "<<" && k.Tag != "!!str" {
			srcs := []*yaml.Node{v}
			if v != nil && v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, src := range srcs {
				merged = append(merged, mapPairsDepth(deref(src), depth+1)...)
			}
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	for _, kv := range merged {
		if !seen[kv[0].Value] {
			seen[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// seqItems returns the items of a sequence, aliases followed.
func seqItems(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, deref(c))
	}
	return out
}

// embeddedYAML parses a YAML document held in a string value (Argo CD
// helm.values, k3s HelmChart valuesContent) and moves its line numbers so
// they point into the outer file.
func embeddedYAML(v *yaml.Node) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader([]byte(v.Value)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	delta := v.Line - 1
	if v.Style == yaml.LiteralStyle || v.Style == yaml.FoldedStyle {
		delta = v.Line // the content starts below the | or > indicator
	}
	shiftLines(&doc, delta)
	return deref(&doc), nil
}

func shiftLines(n *yaml.Node, delta int) {
	if n == nil {
		return
	}
	n.Line += delta
	for _, c := range n.Content {
		shiftLines(c, delta)
	}
}
