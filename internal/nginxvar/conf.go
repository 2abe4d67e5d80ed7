package nginxvar

import (
	"fmt"
	"strings"
)

// Directive is one directive of nginx configuration text: its name and
// arguments with quotes removed and escapes read as nginx reads them, and
// for a block directive ("http { ... }") the directives of its block.
type Directive struct {
	Name string
	// Args are the words after the name (nil when there are none).
	Args []string
	// Block is nil for a directive ended by ';' and non-nil (empty for
	// "{ }") for one that opens a block.
	Block []Directive
	// Line is the line of the ';' or '{' that ends the directive: the line
	// nginx names in an error about it (the conf parser's line when the
	// directive's handler runs).
	Line int
}

// Parse reads nginx configuration text (file names it in errors, which
// say "in FILE:LINE" as nginx's do) into its directives, as ngx_conf_parse
// reads a file (nginx 1.25.3 src/core/ngx_conf_file.c:158-352): words as
// ngx_conf_read_token splits them (Reader), a '{' opens a block that a '}'
// closes. It knows no directive: what each one means, and whether nginx
// allows it where it stands, is the caller's to judge.
func Parse(file string, text []byte) ([]Directive, error) {
	return NewReader(file, text).parse(false)
}

// parse reads directives up to the end of the text (inBlock false) or the
// '}' closing the block (inBlock true).
func (r *Reader) parse(inBlock bool) ([]Directive, error) {
	out := []Directive{}
	for {
		words, end, err := r.Next()
		if err != nil {
			return nil, err
		}
		switch end {
		case BlockEnd:
			if !inBlock { // ngx_conf_file.c:259-264
				return nil, r.Errorf(`unexpected "}"`)
			}
			return out, nil
		case EOF:
			if inBlock { // :269-275
				return nil, r.Errorf(`unexpected end of file, expecting "}"`)
			}
			return out, nil
		}
		d := Directive{Name: words[0], Line: r.line}
		if len(words) > 1 {
			d.Args = words[1:]
		}
		if end == BlockStart {
			if d.Block, err = r.parse(true); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
}

// End is how Reader.Next's directive ends.
type End int

const (
	// Semicolon: the directive ends with ';'.
	Semicolon End = iota
	// BlockStart: the directive opens a block with '{'.
	BlockStart
	// BlockEnd: a '}' closes a block (no words).
	BlockEnd
	// EOF: the text ends (no words).
	EOF
)

// Reader is ngx_conf_read_token (nginx 1.25.3
// src/core/ngx_conf_file.c:502-817) over an in-memory file: it reads nginx
// configuration text one directive at a time, with nginx's comments,
// quotes, escapes and errors. Parse builds the directive tree on it; a
// caller that reads a block as a directive's handler does (nginx's map,
// types, ...: ngx_conf_parse with cf->handler) reads the block with Next.
type Reader struct {
	file string
	src  []byte
	pos  int
	line int
}

// NewReader returns a Reader of text; file names it in errors.
func NewReader(file string, text []byte) *Reader {
	return &Reader{file: file, src: text, line: 1}
}

// Line is the line the Reader is on: after Next, the line of the ';',
// '{' or '}' it stopped at.
func (r *Reader) Line() int { return r.line }

// Errorf returns an error about the text at the current line, worded as
// nginx's are: "MESSAGE in FILE:LINE".
func (r *Reader) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s in %s:%d", fmt.Sprintf(format, args...), r.file, r.line)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// token is ngx_conf_read_token's state while it reads one directive.
type token struct {
	args                                      []string
	start, startLine                          int // where the current word starts
	lastSpace, needSpace, sharpComment        bool
	variable, quoted, sQuoted, dQuoted, found bool
}

// Next reads one directive's words and how it ends, as
// ngx_conf_read_token does (same states, same errors). The words of a
// BlockEnd or an EOF are nil; those of a Semicolon or BlockStart are at
// least the directive's name.
func (r *Reader) Next() (words []string, end End, err error) {
	t := token{lastSpace: true, start: r.pos, startLine: r.line}
	for {
		if r.pos >= len(r.src) {
			if len(t.args) > 0 || !t.lastSpace {
				return nil, 0, r.Errorf(`unexpected end of file, expecting ";" or "}"`)
			}
			return nil, EOF, nil
		}
		if r.pos-t.start == confBuffer {
			return nil, 0, r.tooLong(&t)
		}
		ch := r.src[r.pos]
		r.pos++
		if ch == '\n' {
			r.line++
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
				return t.args, Semicolon, nil
			case ch == '{':
				return t.args, BlockStart, nil
			case ch == ')':
				t.lastSpace, t.needSpace = true, false
			default:
				return nil, 0, r.Errorf("unexpected %q", string(ch))
			}
		}
		var done bool
		if t.lastSpace {
			end, done, err = r.wordStart(&t, ch)
		} else {
			end, done = r.inWord(&t, ch)
		}
		if err != nil {
			return nil, 0, err
		}
		if done {
			return t.args, end, nil
		}
	}
}

// confBuffer is NGX_CONF_BUFFER, the size of nginx's conf read buffer
// (ngx_conf_file.c:11).
const confBuffer = 4096

// tooLong is nginx's error for a word, or a comment, that fills the read
// buffer before it ends (ngx_conf_file.c:555-579): the buffer holds the
// current word from its start, so a word (or a comment, from its '#')
// reaches 4096 bytes only when nginx must read on with no room left. The
// error names the line the word starts on.
func (r *Reader) tooLong(t *token) error {
	r.line = t.startLine
	switch {
	case t.dQuoted:
		return r.Errorf(`too long parameter, probably missing terminating """ character`)
	case t.sQuoted:
		return r.Errorf(`too long parameter, probably missing terminating "'" character`)
	}
	return r.Errorf(`too long parameter "%s..." started`, r.src[t.start:t.start+10])
}

// wordStart reads ch between words: a word, a quote, a comment or the end
// of the directive.
func (r *Reader) wordStart(t *token, ch byte) (end End, done bool, err error) {
	t.start, t.startLine = r.pos-1, r.line
	if isSpace(ch) {
		return 0, false, nil
	}
	switch ch {
	case ';', '{':
		if len(t.args) == 0 {
			return 0, false, r.Errorf("unexpected %q", string(ch))
		}
		if ch == '{' {
			return BlockStart, true, nil
		}
		return Semicolon, true, nil
	case '}':
		if len(t.args) != 0 {
			return 0, false, r.Errorf(`unexpected "}"`)
		}
		return BlockEnd, true, nil
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
func (r *Reader) inWord(t *token, ch byte) (end End, done bool) {
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
	t.args = append(t.args, unescape(r.src[t.start:r.pos-1]))
	t.found = false
	switch ch {
	case ';':
		return Semicolon, true
	case '{':
		return BlockStart, true
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
