package nginxvar

import (
	"fmt"
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
// read as ngx_conf_read_token reads it (nginx 1.25.3
// src/core/ngx_conf_file.c:502-817). known reports whether a variable name
// (lower case, without '$') can be evaluated; a source or value naming any
// other is an error, as nginx refuses to start on an unknown variable.
//
// Anything else nginx would accept in an http-level include (other
// directives, map entries, hostnames, include) is an error saying that it is
// not modelled: a harness that served such a variable would answer
// differently from nginx.
func ParseMaps(file string, text []byte, known func(name string) bool) ([]Map, error) {
	s := &scanner{file: file, src: text, line: 1}
	var out []Map
	for {
		args, end, err := s.next()
		if err != nil {
			return nil, err
		}
		switch end {
		case endFile:
			return out, nil
		case endBlockDone:
			return nil, s.errorf(`unexpected "}"`)
		}
		if args[0] != "map" {
			return nil, s.errorf("%q: only map blocks are modelled in this include (the form kongconf generate --fast-path writes)", args[0])
		}
		// ngx_conf_handler's order: the block, then the arguments.
		if end != endBlockStart {
			return nil, s.errorf(`directive "map" has no opening "{"`)
		}
		if len(args) != 3 {
			return nil, s.errorf(`invalid number of arguments in "map" directive`)
		}
		m, err := s.mapBlock(args[1], args[2], known)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if o.Name == m.Name {
				return nil, s.errorf("$%s is defined twice (at line %d): not modelled", m.Name, o.Line)
			}
		}
		out = append(out, m)
	}
}

// mapBlock reads a map block's body (ngx_http_map_block and ngx_http_map,
// ngx_http_map_module.c:175-300 and 380-525).
func (s *scanner) mapBlock(source, name string, known func(string) bool) (Map, error) {
	m := Map{Source: source, File: s.file, Line: s.line}
	if _, err := Expand(source, knownOnly(known)); err != nil {
		return m, s.errorf("%v", err)
	}
	if !strings.HasPrefix(name, "$") {
		return m, s.errorf("invalid variable name %q", name)
	}
	m.Name = strings.ToLower(name[1:])
	if m.Name == "" {
		return m, s.errorf(`invalid variable name "$"`)
	}
	for i := 0; i < len(m.Name); i++ {
		if !isNameByte(m.Name[i]) {
			return m, s.errorf("variable name %q: only letters, digits and '_' are modelled", name)
		}
	}
	if known(m.Name) {
		return m, s.errorf("the duplicate %q variable", name[1:])
	}
	hasDefault := false
	for {
		args, end, err := s.next()
		if err != nil {
			return m, err
		}
		switch {
		case end == endBlockDone:
			return m, nil
		case end == endFile:
			return m, s.errorf(`unexpected end of file, expecting "}"`)
		case end == endBlockStart:
			return m, s.errorf(`unexpected "{"`)
		case len(args) == 1 && args[0] == "volatile":
			m.Volatile = true
		case len(args) == 1 && args[0] == "hostnames":
			return m, s.errorf("map parameter %q is not modelled", args[0])
		case len(args) != 2:
			return m, s.errorf("invalid number of the map parameters")
		case args[0] == "default":
			if hasDefault {
				return m, s.errorf("duplicate default map parameter")
			}
			if _, err := Expand(args[1], knownOnly(known)); err != nil {
				return m, s.errorf("%v", err)
			}
			m.Default, hasDefault = args[1], true
		default:
			return m, s.errorf("map entry %q: only volatile and default are modelled", args[0])
		}
	}
}

func knownOnly(known func(string) bool) func(string) (string, bool) {
	return func(name string) (string, bool) { return "", known(name) }
}

// How a directive ends.
const (
	endStatement  = iota // ';'
	endBlockStart        // '{'
	endBlockDone         // '}'
	endFile              // end of the text
)

// scanner is ngx_conf_read_token over an in-memory file.
type scanner struct {
	file string
	src  []byte
	pos  int
	line int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%s in %s:%d", fmt.Sprintf(format, args...), s.file, s.line)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// token is ngx_conf_read_token's state while it reads one directive.
type token struct {
	args                                      []string
	start                                     int // where the current word starts
	lastSpace, needSpace, sharpComment        bool
	variable, quoted, sQuoted, dQuoted, found bool
}

// next reads one directive's words and how it ends, as
// ngx_conf_read_token does (same states, same errors).
func (s *scanner) next() (args []string, end int, err error) {
	t := token{lastSpace: true, start: s.pos}
	for {
		if s.pos >= len(s.src) {
			if len(t.args) > 0 || !t.lastSpace {
				return nil, 0, s.errorf(`unexpected end of file, expecting ";" or "}"`)
			}
			return nil, endFile, nil
		}
		ch := s.src[s.pos]
		s.pos++
		if ch == '\n' {
			s.line++
			t.sharpComment = false
		}
		if t.sharpComment {
			continue
		}
		if t.quoted {
			t.quoted = false
			continue
		}
		if t.needSpace {
			// After a closing quote.
			switch {
			case isSpace(ch):
				t.lastSpace, t.needSpace = true, false
				continue
			case ch == ';':
				return t.args, endStatement, nil
			case ch == '{':
				return t.args, endBlockStart, nil
			case ch == ')':
				t.lastSpace, t.needSpace = true, false
			default:
				return nil, 0, s.errorf("unexpected %q", string(ch))
			}
		}
		var done bool
		if t.lastSpace {
			end, done, err = s.wordStart(&t, ch)
		} else {
			end, done = s.inWord(&t, ch)
		}
		if err != nil {
			return nil, 0, err
		}
		if done {
			return t.args, end, nil
		}
	}
}

// wordStart reads ch between words: a word, a quote, a comment or the end
// of the directive.
func (s *scanner) wordStart(t *token, ch byte) (end int, done bool, err error) {
	t.start = s.pos - 1
	if isSpace(ch) {
		return 0, false, nil
	}
	switch ch {
	case ';', '{':
		if len(t.args) == 0 {
			return 0, false, s.errorf("unexpected %q", string(ch))
		}
		if ch == '{' {
			return endBlockStart, true, nil
		}
		return endStatement, true, nil
	case '}':
		if len(t.args) != 0 {
			return 0, false, s.errorf(`unexpected "}"`)
		}
		return endBlockDone, true, nil
	case '#':
		t.sharpComment = true
		return 0, false, nil
	case '\\':
		t.quoted = true
	case '"':
		t.start++
		t.dQuoted = true
	case '\'':
		t.start++
		t.sQuoted = true
	case '$':
		t.variable = true
	}
	t.lastSpace = false
	return 0, false, nil
}

// inWord reads ch inside a word; a word ends at its closing quote, or
// unquoted at a blank, ';' or '{'.
func (s *scanner) inWord(t *token, ch byte) (end int, done bool) {
	if ch == '{' && t.variable {
		return 0, false
	}
	t.variable = false
	switch {
	case ch == '\\':
		t.quoted = true
		return 0, false
	case ch == '$':
		t.variable = true
		return 0, false
	case t.dQuoted:
		if ch == '"' {
			t.dQuoted, t.needSpace, t.found = false, true, true
		}
	case t.sQuoted:
		if ch == '\'' {
			t.sQuoted, t.needSpace, t.found = false, true, true
		}
	case isSpace(ch) || ch == ';' || ch == '{':
		t.lastSpace, t.found = true, true
	}
	if !t.found {
		return 0, false
	}
	t.args = append(t.args, unescape(s.src[t.start:s.pos-1]))
	t.found = false
	switch ch {
	case ';':
		return endStatement, true
	case '{':
		return endBlockStart, true
	}
	return 0, false
}

// unescape is the word copy of ngx_conf_read_token: \" \' \\ lose the
// backslash, \t \r \n become the control character, any other backslash
// stays.
func unescape(w []byte) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] == '\\' && i+1 < len(w) {
			switch w[i+1] {
			case '"', '\'', '\\':
				i++
			case 't':
				b.WriteByte('\t')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(w[i])
	}
	return b.String()
}
