// Package yamljson reads and writes YAML for Go values described by their json
// tags (Kubernetes objects, Helm values, decK files, topology files), on top of
// go.yaml.in/yaml/v3, the module's one YAML library.
//
// Its rules are those of sigs.k8s.io/yaml (on yaml.v2), which Kubernetes
// tooling shares: output has sorted keys, two-space indentation, sequences
// flush with their key, no line folding and quotes around strings YAML 1.1
// would read as booleans; input reads an unquoted yes/no/on/off/y/n as a
// boolean (YAML 1.1), except where the target field is a string.
package yamljson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Marshal encodes v as JSON (so json tags and MarshalJSON apply), then writes
// that document as block YAML with sorted keys.
func Marshal(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("error marshaling into JSON: %w", err)
	}
	return FromJSON(j)
}

// FromJSON rewrites a JSON document as block YAML with sorted keys.
func FromJSON(j []byte) ([]byte, error) {
	// Decoding with the YAML parser keeps integers apart from floats.
	var v any
	if err := yaml.Unmarshal(j, &v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ToJSON converts one YAML document to JSON. Non-string keys become strings.
func ToJSON(y []byte) ([]byte, error) {
	v, err := decode(y, nil)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// UnmarshalStrict decodes one YAML document into v through its JSON form;
// duplicate keys and fields unknown to v are errors.
func UnmarshalStrict(y []byte, v any) error {
	d, err := decode(y, reflect.TypeOf(v))
	if err != nil {
		return fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	j, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("error unmarshaling JSON: %w", err)
	}
	return nil
}

// decode parses y into JSON-compatible values (maps keyed by strings). With
// a target type t, an unquoted scalar bound for a string field stays the text
// written (so `name: no` is "no", not false).
func decode(y []byte, t reflect.Type) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(y, &doc); err != nil {
		return nil, err
	}
	retag(&doc, t)
	var v any
	if err := doc.Decode(&v); err != nil {
		return nil, err
	}
	return jsonable(v)
}

// yaml11Bools are the plain scalars YAML 1.1 (and yaml.v2) reads as booleans
// beyond true/false.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// retag retags unquoted, untagged YAML 1.1 booleans as booleans, except where
// the target type t (nil: unknown) wants a string: there every unquoted,
// untagged scalar but null is read as a string.
func retag(n *yaml.Node, t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			retag(c, t)
		}
	case yaml.ScalarNode:
		if n.Style != 0 {
			return
		}
		if t != nil && t.Kind() == reflect.String && n.Tag != "!!null" {
			n.Tag = "!!str"
		} else if b, ok := yaml11Bools[n.Value]; ok && n.Tag == "!!str" {
			n.Tag, n.Value = "!!bool", fmt.Sprint(b)
		}
	case yaml.SequenceNode:
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for _, c := range n.Content {
			retag(c, elem)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			retag(n.Content[i], nil)
			retag(n.Content[i+1], fieldType(t, n.Content[i].Value))
		}
	}
}

// fieldType is the type encoding/json decodes key of a t into (nil: unknown).
func fieldType(t reflect.Type, key string) reflect.Type {
	switch {
	case t == nil:
		return nil
	case t.Kind() == reflect.Map:
		return t.Elem()
	case t.Kind() != reflect.Struct:
		return nil
	}
	var fold reflect.Type
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || (f.Anonymous && f.Tag.Get("json") == "") {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold = f.Type
		}
	}
	return fold
}

// jsonable turns maps with non-string keys into maps keyed by strings.
func jsonable(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case string, bool, int, int64, uint64, float64:
				m[fmt.Sprint(k)] = c
			default:
				return nil, fmt.Errorf("unsupported map key of type %T", k)
			}
		}
		return m, nil
	case []any:
		for i, e := range x {
			c, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	}
	return v, nil
}
