// Package fastinclude reads the nginx include of client-ip-guard's fast
// path as nginx would: it reads the text with nginxvar.Parse (nginx's
// configuration tokenizer), finds the map that defines
// $client_ip_guard_facts among any other directives, takes the map's
// value, and renders the variable for a request with internal/nginxvar. kongconf's generate, lint and explain use it to ask
// plugin/fastpath (Include, Fill) what the plugin would make of a node;
// the include's text itself only ever comes from fastpath.Include.
package fastinclude

import (
	"fmt"
	"slices"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// find returns the map block that defines $client_ip_guard_facts in
// directives, at any depth, or nil when none does. nginx names variables
// case-insensitively, and reads a quoted directive name as the same word.
func find(ds []nginxvar.Directive) *nginxvar.Directive {
	for i := range ds {
		d := &ds[i]
		if d.Name == "map" && len(d.Args) == 2 && d.Block != nil && strings.EqualFold(d.Args[1], "$"+fastpath.Variable) {
			return d
		}
		if m := find(d.Block); m != nil {
			return m
		}
	}
	return nil
}

// mapBlock parses text as nginx configuration (nginxvar.Parse; errors say
// "in include:LINE") and returns the map defining $client_ip_guard_facts,
// nil when the text defines none.
func mapBlock(text string) (*nginxvar.Directive, error) {
	ds, err := nginxvar.Parse("include", []byte(text))
	if err != nil {
		return nil, err
	}
	m := find(ds)
	if m == nil {
		return nil, nil
	}
	for _, d := range m.Block {
		// nginx reads a map's body with the map's handler, to which a '{'
		// is an error (nginx 1.25.3 src/core/ngx_conf_file.c:299-302).
		if d.Block != nil {
			return nil, fmt.Errorf(`unexpected "{" in include:%d`, d.Line)
		}
	}
	return m, nil
}

// Defines reports whether text is nginx configuration with a map that
// defines $client_ip_guard_facts.
func Defines(text string) bool {
	m, err := mapBlock(text)
	return err == nil && m != nil
}

// Value returns the default value of the map defining
// $client_ip_guard_facts in text, as nginx reads it (escapes resolved,
// variables not yet expanded).
func Value(text string) (string, error) {
	m, err := mapBlock(text)
	if err != nil {
		return "", err
	}
	if m == nil {
		return "", fmt.Errorf("no map defines $%s", fastpath.Variable)
	}
	value, found := "", false
	for _, d := range m.Block {
		// ngx_http_map reads a two-word line named default as the default
		// (nginx 1.25.3 src/http/modules/ngx_http_map_module.c:411-415,
		// 514-522).
		if d.Name != "default" || len(d.Args) != 1 {
			continue
		}
		if found {
			return "", fmt.Errorf("duplicate default map parameter in include:%d", d.Line)
		}
		// nginx compiles the value at start-up and refuses a malformed
		// one ("${a", "a$"); the variables are Render's to know.
		if _, err := nginxvar.Expand(d.Args[0], anyVariable); err != nil {
			return "", fmt.Errorf("%v in include:%d", err, d.Line)
		}
		value, found = d.Args[0], true
	}
	if !found {
		return "", fmt.Errorf("the map defining $%s has no default value", fastpath.Variable)
	}
	return value, nil
}

func anyVariable(string) (string, bool) { return "", true }

// Mismatch is how an include differs from the one an instance needs.
type Mismatch uint8

const (
	// Same: the include is the one fastpath.Include writes for the
	// instance (comments and layout aside).
	Same Mismatch = iota
	// Missing: the text defines no $client_ip_guard_facts.
	Missing
	// OtherLayout: the value is in another version's layout; the plugin
	// refuses it and reads requests the long way.
	OtherLayout
	// OtherSource: the include was generated for another real_ip_header;
	// the plugin refuses it and reads requests the long way.
	OtherSource
	// Edited: the include differs in a way the plugin may not notice (a
	// variable swapped or renamed): the facts it reads could be wrong.
	Edited
)

// Match compares the map defining $client_ip_guard_facts in text with the
// one fastpath.Include writes for an instance whose real_ip_header is
// source, word by word (comments and layout do not count). When they
// differ, why says how, in words for a lint finding.
func Match(text, source string) (m Mismatch, why string) {
	want, err := fastpath.Include(source)
	if err != nil {
		return Edited, err.Error()
	}
	got, err := mapBlock(text)
	if err != nil {
		return Missing, "it defines no $" + fastpath.Variable + ": " + err.Error()
	}
	if got == nil {
		return Missing, "it defines no $" + fastpath.Variable
	}
	if same(got, generated(want)) {
		return Same, ""
	}
	v, err := Value(text)
	if err != nil {
		return Edited, "its value cannot be read: " + err.Error()
	}
	fields := strings.Split(v, "\n")
	fixedText, _ := fastpath.Include("")
	fixedValue, _ := Value(fixedText)
	fixed := strings.Split(fixedValue, "\n")
	if fields[0] != fixed[0] {
		return OtherLayout, fmt.Sprintf("its value is in another layout (it starts %q, this plugin reads %q): generated by another version", fields[0], fixed[0])
	}
	other, known := "", true
	switch len(fields) {
	case len(fixed):
	case len(fixed) + 2:
		other = fields[len(fixed)]
	default:
		known = false
	}
	if known {
		if o, err := fastpath.Include(other); err == nil && same(got, generated(o)) {
			return OtherSource, fmt.Sprintf("it was generated for real_ip_header %s, but this instance reads %s", describe(other), describe(source))
		}
	}
	return Edited, "it differs from what this version's kongconf generate --fast-path writes for real_ip_header " + describe(source) + " (edited by hand, or generated by another version)"
}

// describe names a source header for a message: the fixed fields serve
// X-Real-IP, X-Forwarded-For and proxy_protocol alike.
func describe(source string) string {
	switch strings.ToLower(source) {
	case "", "x-real-ip", "x-forwarded-for", "proxy_protocol":
		return "X-Real-IP, X-Forwarded-For or proxy_protocol (no extra header field)"
	}
	return source
}

// generated returns the map of an include fastpath.Include wrote (nil if
// it had none).
func generated(text string) *nginxvar.Directive {
	m, _ := mapBlock(text)
	return m
}

// same reports whether two directives are the same words in the same
// blocks, wherever they stand in their files.
func same(a, b *nginxvar.Directive) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Name != b.Name || !slices.Equal(a.Args, b.Args) || len(a.Block) != len(b.Block) || (a.Block == nil) != (b.Block == nil) {
		return false
	}
	for i := range a.Block {
		if !same(&a.Block[i], &b.Block[i]) {
			return false
		}
	}
	return true
}

// Request is what nginx knows of a request when the plugin reads the
// variable.
type Request struct {
	// Peer is $realip_remote_addr, RemoteAddr Kong's $remote_addr (after
	// realip), as text.
	Peer, RemoteAddr string
	// ProxyAddr and ProxyPort are $proxy_protocol_addr and _port ("" when
	// the connection had no PROXY header).
	ProxyAddr, ProxyPort string
	// Headers are the header lines nginx kept, in order.
	Headers []nginxvar.Header
}

// Render expands value (Value's result) for req under nginx version v:
// what kong.nginx.get_var returns for $client_ip_guard_facts. A $http_
// variable of a header the request lacks is empty, as in nginx.
func Render(value string, req Request, v nginxvar.Version) (string, error) {
	vars := nginxvar.Vars{Version: v, RealIPRemoteAddr: req.Peer, RemoteAddr: req.RemoteAddr,
		ProxyProtocolAddr: req.ProxyAddr, ProxyProtocolPort: req.ProxyPort, Headers: req.Headers}
	return nginxvar.Expand(value, vars.Lookup)
}

// Probe asks fastpath.Fill whether the include generated for a node whose
// real_ip_header is node could serve an instance reading source
// (realip.Resolver.HeaderName) with resolver kind at all under nginx v,
// with a request that has no forwarding header. Unavailable means never,
// with Fill's reason.
func Probe(node string, kind realip.Kind, source string, v nginxvar.Version) (fastpath.Status, string) {
	text, err := fastpath.Include(node)
	if err != nil {
		return fastpath.Unavailable, err.Error()
	}
	value, err := Value(text)
	if err != nil {
		return fastpath.Unavailable, err.Error()
	}
	raw, err := Render(value, Request{Peer: "192.0.2.1", RemoteAddr: "192.0.2.1"}, v)
	if err != nil {
		return fastpath.Unavailable, err.Error()
	}
	var f evaluate.Facts
	return fastpath.Fill(&f, []byte(raw), kind, source)
}
