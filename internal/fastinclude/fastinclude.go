// Package fastinclude reads the nginx include of client-ip-guard's fast
// path as nginx would: it finds the map that defines
// $client_ip_guard_facts, reads the map's value the way nginx's
// configuration parser does, and renders the variable for a request with
// internal/nginxvar. kongconf's generate, lint and explain use it to ask
// plugin/fastpath (Include, Fill) what the plugin would make of a node;
// the include's text itself only ever comes from fastpath.Include.
package fastinclude

import (
	"fmt"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// token is one word of nginx configuration syntax: a directive name or
// argument with its quotes removed and escapes read, or one of ";", "{"
// and "}" (quoted is false for those).
type token struct {
	text   string
	quoted bool
}

// tokens splits nginx configuration text into words as ngx_conf_read_token
// does (nginx 1.25.3 src/core/ngx_conf_file.c:495-815): '#' at the start
// of a word starts a comment to the end of the line; a quote at the start
// of a word opens a quoted word; in a quoted word \" \' \\ stand for the character and \t \r
// \n for tab, carriage return and line feed (:771-800).
func tokens(text string) ([]token, error) {
	var out []token
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			out = append(out, token{text: string(c)})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(text) && text[j] != c; j++ {
				if text[j] == '\\' && j+1 < len(text) {
					j++
					switch text[j] {
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case 'n':
						b.WriteByte('\n')
					case '"', '\'', '\\':
						b.WriteByte(text[j])
					default:
						b.WriteByte('\\')
						b.WriteByte(text[j])
					}
					continue
				}
				b.WriteByte(text[j])
			}
			if j >= len(text) {
				return nil, fmt.Errorf("unterminated %c string", c)
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		default:
			// Inside a word only whitespace, ';' and a '{' not after '$'
			// end it; quotes and '}' are ordinary (:721-760).
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n;", rune(text[j])) && (text[j] != '{' || text[j-1] == '$') {
				j++
			}
			out = append(out, token{text: text[i:j]})
			i = j
		}
	}
	return out, nil
}

// block returns the words of the map block that defines the fast path's
// variable ("map", the source, "$client_ip_guard_facts", "{" ... "}"), or
// nil when the text defines none.
func block(toks []token) []token {
	for i := 0; i+3 < len(toks); i++ {
		if toks[i].quoted || toks[i].text != "map" || toks[i+2].text != "$"+fastpath.Variable || toks[i+3].text != "{" {
			continue
		}
		for j := i + 4; j < len(toks); j++ {
			if !toks[j].quoted && toks[j].text == "}" {
				return toks[i : j+1]
			}
		}
		return nil
	}
	return nil
}

// Defines reports whether text is nginx configuration with a map that
// defines $client_ip_guard_facts.
func Defines(text string) bool {
	toks, err := tokens(text)
	return err == nil && block(toks) != nil
}

// Value returns the default value of the map defining
// $client_ip_guard_facts in text, as nginx reads it (escapes resolved,
// variables not yet expanded).
func Value(text string) (string, error) {
	toks, err := tokens(text)
	if err != nil {
		return "", err
	}
	b := block(toks)
	if b == nil {
		return "", fmt.Errorf("no map defines $%s", fastpath.Variable)
	}
	for i := 4; i+2 < len(b); i++ {
		if !b[i].quoted && b[i].text == "default" && b[i+2].text == ";" {
			return b[i+1].text, nil
		}
	}
	return "", fmt.Errorf("the map defining $%s has no default value", fastpath.Variable)
}

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
	got, err := mapWords(text)
	if err != nil || got == nil {
		return Missing, "it defines no $" + fastpath.Variable
	}
	if same(got, mustWords(want)) {
		return Same, ""
	}
	v, _ := Value(text)
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
		if o, err := fastpath.Include(other); err == nil && same(got, mustWords(o)) {
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

func mustWords(text string) []token {
	w, _ := mapWords(text)
	return w
}

func mapWords(text string) ([]token, error) {
	toks, err := tokens(text)
	if err != nil {
		return nil, err
	}
	return block(toks), nil
}

func same(a, b []token) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
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
	return nginxvar.Expand(value, func(name string) (string, bool) {
		switch name {
		case "nginx_version":
			return v.String(), true
		case "realip_remote_addr":
			return req.Peer, true
		case "remote_addr":
			return req.RemoteAddr, true
		case "proxy_protocol_addr":
			return req.ProxyAddr, true
		case "proxy_protocol_port":
			return req.ProxyPort, true
		}
		if h, ok := strings.CutPrefix(name, "http_"); ok {
			s, _ := nginxvar.HTTP(req.Headers, h, v)
			return s, true
		}
		return "", false
	})
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
