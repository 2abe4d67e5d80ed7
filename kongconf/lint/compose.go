package lint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// isCompose reports whether a document is a docker-compose file: services
// is a mapping of service name to definition (decK's services is a list).
func isCompose(root *yaml.Node) bool {
	svcs := deref(mapPath(root, "services"))
	return svcs != nil && svcs.Kind == yaml.MappingNode
}

// loadCompose builds one node per compose service that sets KONG_*
// variables: env_file entries first, then environment (map or list form),
// which overrides them as docker compose does. x- extension fields and
// merge keys are followed through mapGet.
func loadCompose(set *Set, s *sink, file string, root *yaml.Node) {
	for _, kv := range mapPairs(mapPath(root, "services")) {
		svc := kv[1]
		var vars []envVar
		for _, ef := range composeEnvFiles(mapPath(svc, "env_file")) {
			vars = append(vars, readEnvFile(s, file, ef)...)
		}
		env := deref(mapPath(svc, "environment"))
		if env != nil && env.Kind == yaml.SequenceNode {
			for _, item := range seqItems(env) {
				name, val, ok := strings.Cut(scalar(item), "=")
				// "NAME" alone takes the value from the shell: unknown here.
				vars = append(vars, envVar{Name: strings.TrimSpace(name), Value: val, File: file, Line: item.Line, Skip: !ok})
			}
		} else {
			for _, p := range mapPairs(env) {
				v := p[1]
				vars = append(vars, envVar{Name: p[0].Value, Value: scalar(v), File: file, Line: p[0].Line, Skip: v == nil || v.Tag == "!!null"})
			}
		}
		refs := composeRefs(file, svc)
		n := envNode(file, "env", vars)
		if n == nil && len(refs) > 0 {
			n = NewNode(file, "env") // no KONG_* variables, but an image or kong.conf
			n.finishListeners()
		}
		if n != nil {
			n.Where, n.refs = "service "+kv[0].Value, refs
			set.Nodes = append(set.Nodes, n)
		}
	}
}

// composeRefs returns the files a compose service runs on: the Dockerfile
// of its build context and the .conf files it bind-mounts, relative to the
// compose file.
func composeRefs(file string, svc *yaml.Node) []string {
	dir := filepath.Dir(file)
	var out []string
	if b := deref(mapPath(svc, "build")); b != nil {
		ctx, df := scalar(b), "Dockerfile"
		if b.Kind == yaml.MappingNode {
			ctx = scalar(mapPath(b, "context"))
			if d := scalar(mapPath(b, "dockerfile")); d != "" {
				df = d
			}
		}
		if ctx != "" && !templated(ctx) && !strings.Contains(ctx, "://") {
			out = append(out, filepath.Clean(filepath.Join(dir, ctx, df)))
		}
	}
	for _, v := range seqItems(mapPath(svc, "volumes")) {
		src := scalar(mapPath(v, "source"))
		if v.Kind == yaml.ScalarNode {
			src, _, _ = strings.Cut(v.Value, ":")
		}
		if strings.HasSuffix(src, ".conf") && !templated(src) {
			out = append(out, filepath.Clean(filepath.Join(dir, src)))
		}
	}
	return out
}

type envFileRef struct {
	path     string
	line     int
	required bool
}

func composeEnvFiles(n *yaml.Node) []envFileRef {
	n = deref(n)
	if n == nil {
		return nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = seqItems(n)
	}
	var out []envFileRef
	for _, it := range items {
		switch it.Kind {
		case yaml.ScalarNode:
			out = append(out, envFileRef{path: it.Value, line: it.Line, required: true})
		case yaml.MappingNode:
			out = append(out, envFileRef{path: scalar(mapPath(it, "path")), line: it.Line, required: scalar(mapPath(it, "required")) != "false"})
		}
	}
	return out
}

// readEnvFile reads a compose env_file, relative to the compose file.
func readEnvFile(s *sink, composeFile string, ref envFileRef) []envVar {
	if templated(ref.path) {
		return nil
	}
	p := ref.path
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(composeFile), p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if ref.required {
			s.addFix(ruleUnreadable, composeFile, ref.line, "env_file", fmt.Sprintf("env_file %s: %v", ref.path, err),
				"env_file paths are relative to the compose file; fix the path, pass the file, or mark it required: false")
		}
		return nil
	}
	n, f := ParseEnv(bytes.NewReader(b), p)
	s.findings = append(s.findings, f...)
	vars := make([]envVar, 0, len(n.Order))
	for _, v := range n.Order {
		val := v.Value
		if v.InlineComment != "" {
			// docker compose's env_file reader, unlike docker run --env-file,
			// ends an unquoted value at '#' (compose-spec/compose-go
			// dotenv/parser.go extractVarValue, at 0421734829); lint cuts
			// only a " #" tail, the form that is surely a comment.
			val = strings.TrimSpace(strings.TrimSuffix(val, v.InlineComment))
		}
		vars = append(vars, envVar{Name: v.Orig, Value: val, File: p, Line: v.Line, Skip: v.Skip})
	}
	return vars
}
