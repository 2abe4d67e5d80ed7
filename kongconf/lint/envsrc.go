package lint

import (
	"regexp"
	"strings"
)

// envVar is one environment variable as a deployment file defines it
// (Kubernetes container env, docker-compose environment, Dockerfile ENV).
type envVar struct {
	// Name is the variable name as written.
	Name string
	// Value is its value when known.
	Value string
	// File and Line locate the definition (the ConfigMap key for envFrom).
	File string
	Line int
	// InlineComment is an env file's " # ..." tail kept in Value.
	InlineComment string
	// Skip marks values lint cannot see (valueFrom a field, an unresolved
	// reference, a placeholder).
	Skip bool
}

// placeholder matches template placeholders lint cannot evaluate: Helm/Go
// {{ }}, ERB <%= %>, shell/compose ${VAR} and $VAR, Kubernetes $(VAR).
var placeholder = regexp.MustCompile(`\{\{|<%|\$\{|\$\(|\$[A-Za-z_]`)

// templated reports whether a value holds a template placeholder, so its
// real value is only known after rendering.
func templated(v string) bool {
	return placeholder.MatchString(v)
}

// envNode turns variables into a node: KONG_* variables become properties,
// in order, later ones overriding earlier ones as in a process environment.
// It returns nil when no KONG_* variable is present.
func envNode(file, format string, vars []envVar) *Node {
	n := NewNode(file, format)
	for _, ev := range vars {
		if !strings.HasPrefix(strings.ToUpper(ev.Name), "KONG_") {
			continue
		}
		n.Set(&Value{Key: strings.ToLower(ev.Name[len("KONG_"):]), Orig: ev.Name, Value: ev.Value,
			File: ev.File, Line: ev.Line, Skip: ev.Skip || templated(ev.Value) || neverRead(ev.Name), InlineComment: ev.InlineComment})
	}
	if len(n.Order) == 0 {
		return nil
	}
	n.finishListeners()
	return n
}

// neverRead reports whether Kong ignores an environment variable: it looks
// up KONG_<KEY> in upper case only (KC017 reports the others).
func neverRead(name string) bool {
	return name != strings.ToUpper(name)
}

// realIPUnknown reports whether a client-IP setting of the node is set to
// a value lint cannot see (a template placeholder, a valueFrom reference):
// the rules on those settings would judge a guess, so they are skipped.
func (n *Node) realIPUnknown() bool {
	for _, k := range []string{"trusted_ips", "real_ip_header", "real_ip_recursive", "proxy_listen",
		"nginx_proxy_real_ip_header", "nginx_proxy_real_ip_recursive"} {
		if v, ok := n.Values[k]; ok && v.Skip && !(n.Format == "env" && neverRead(v.Orig)) {
			return true
		}
	}
	return false
}
