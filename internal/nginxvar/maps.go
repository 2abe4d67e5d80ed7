package nginxvar

import (
	"strings"
)

// Map is one map block of an nginx include, reduced to the form the fast
// path's include has (plugin/fastpath.Include):
//
//	map <source> $<name> { volatile; default "<complex value>"; }
//
// Its value is the default complex value: a map without entries returns it
// for every source value (ngx_http_map_variable, nginx 1.25.3
// src/http/modules/ngx_http_map_module.c:107-155), and a map without a
// default returns the empty string (ngx_http_variable_null_value, :290-291).
type Map struct {
	// Name is the variable the map defines, without '$', lower-cased as
	// nginx stores variable names (ngx_http_add_variable).
	Name string
	// Source is the source complex value (evaluated by nginx on every read;
	// it cannot change the result of a map without entries).
	Source string
	// Volatile is the "volatile" parameter: the value is not cached for
	// the request (ngx_http_map_module.c:286-288, NGX_HTTP_VAR_NOCACHEABLE),
	// so every read sees the request's headers as they are then.
	Volatile bool
	// Default is the default value's complex value, with the conf parser's
	// escapes read (\" \' \\ \t \r \n: ngx_conf_read_token,
	// src/core/ngx_conf_file.c:771-801).
	Default string
	// File and Line say where the map block starts.
	File string
	Line int
}

// Value evaluates the map for a request whose variables lookup returns
// (an unset variable is ("", true), as a complex value renders a
// not-found variable empty; an unknown one is ("", false)).
func (m *Map) Value(lookup func(name string) (string, bool)) (string, error) {
	return Expand(m.Default, lookup)
}

// ParseMaps reads the text of an nginx include (file names it in errors,
// which say "in FILE:LINE" as nginx's do) that holds only map blocks of the
// form Map describes: nginx's conf syntax (comments, quoting, escapes) is
// read as ngx_conf_read_token reads it (Reader; not Parse, as nginx reads
// a map's body through the map's handler one directive at a time, so each
// error is the one nginx meets first). known reports whether a variable
// name (lower case, without '$') can be evaluated; a source or value naming
// any other is an error, as nginx refuses to start on an unknown variable.
//
// Anything else nginx would accept in an http-level include (other
// directives, map entries, hostnames, include) is an error saying that it is
// not modelled: a harness that served such a variable would answer
// differently from nginx.
func ParseMaps(file string, text []byte, known func(name string) bool) ([]Map, error) {
	s := NewReader(file, text)
	var out []Map
	for {
		args, end, err := s.Next()
		if err != nil {
			return nil, err
		}
		switch end {
		case EOF:
			return out, nil
		case BlockEnd:
			return nil, s.Errorf(`unexpected "}"`)
		}
		if args[0] != "map" {
			return nil, s.Errorf("%q: only map blocks are modelled in this include (the form kongconf generate --fast-path writes)", args[0])
		}
		// ngx_conf_handler's order: the block, then the arguments.
		if end != BlockStart {
			return nil, s.Errorf(`directive "map" has no opening "{"`)
		}
		if len(args) != 3 {
			return nil, s.Errorf(`invalid number of arguments in "map" directive`)
		}
		m, err := mapBlock(s, args[1], args[2], known)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if o.Name == m.Name {
				return nil, s.Errorf("$%s is defined twice (at line %d): not modelled", m.Name, o.Line)
			}
		}
		out = append(out, m)
	}
}

// mapBlock reads a map block's body (ngx_http_map_block and ngx_http_map,
// ngx_http_map_module.c:175-300 and 380-525) one directive at a time, as
// nginx's map handler does (ngx_conf_parse with cf->handler: a '{' in the
// body is an error when it is read, ngx_conf_file.c:299-302).
func mapBlock(s *Reader, source, name string, known func(string) bool) (Map, error) {
	m := Map{Source: source, File: s.file, Line: s.line}
	if _, err := Expand(source, knownOnly(known)); err != nil {
		return m, s.Errorf("%v", err)
	}
	if !strings.HasPrefix(name, "$") {
		return m, s.Errorf("invalid variable name %q", name)
	}
	m.Name = strings.ToLower(name[1:])
	if m.Name == "" {
		return m, s.Errorf(`invalid variable name "$"`)
	}
	for i := 0; i < len(m.Name); i++ {
		if !isNameByte(m.Name[i]) {
			return m, s.Errorf("variable name %q: only letters, digits and '_' are modelled", name)
		}
	}
	if known(m.Name) {
		return m, s.Errorf("the duplicate %q variable", name[1:])
	}
	hasDefault := false
	for {
		args, end, err := s.Next()
		if err != nil {
			return m, err
		}
		switch {
		case end == BlockEnd:
			return m, nil
		case end == EOF:
			return m, s.Errorf(`unexpected end of file, expecting "}"`)
		case end == BlockStart:
			return m, s.Errorf(`unexpected "{"`)
		case len(args) == 1 && args[0] == "volatile":
			m.Volatile = true
		case len(args) == 1 && args[0] == "hostnames":
			return m, s.Errorf("map parameter %q is not modelled", args[0])
		case len(args) != 2:
			return m, s.Errorf("invalid number of the map parameters")
		case args[0] == "default":
			if hasDefault {
				return m, s.Errorf("duplicate default map parameter")
			}
			if _, err := Expand(args[1], knownOnly(known)); err != nil {
				return m, s.Errorf("%v", err)
			}
			m.Default, hasDefault = args[1], true
		default:
			return m, s.Errorf("map entry %q: only volatile and default are modelled", args[0])
		}
	}
}

func knownOnly(known func(string) bool) func(string) (string, bool) {
	return func(name string) (string, bool) { return "", known(name) }
}
