package nodeconf

import (
	"bufio"
	"io"
	"strings"
)

// The kong.conf reader. Kong 3.9.3 reads the file with Penlight's
// config.read (kong/conf_loader/init.lua:127-133: smart = false, so "=" is
// the key separator; Penlight 1.14.0, pinned by kong-3.9.3-0.rockspec:18),
// then cuts trailing comments from every value (init.lua:138-150). From
// Penlight's pl/config.lua (config.lines and config.read):
//   - whitespace is Lua's %s: space, \t, \n, \v, \f, \r;
//   - a line with no non-space byte, or whose first non-space byte is '#'
//     or ';', is skipped;
//   - a line ending in '\' (then optional whitespace) is joined with the
//     next, the text before the '\' kept as written;
//   - a line starting with '[' is a section header;
//   - otherwise leading whitespace goes, and the key is everything before
//     the first '=' (whitespace before it dropped), every byte that is not
//     a letter or digit turned into '_' (variablilize); the value is the
//     rest, stripped of whitespace. A line without '=' is an anonymous list
//     item no setting reads.
//
// Kong's strip_comments (init.lua:142-143) then removes, from each value,
// whitespace followed by the first '#' not preceded by '\' and everything
// after it, and turns "\#" into "#".

// space is Lua's %s class, the whitespace set Penlight's reader uses.
const space = " \t\n\v\f\r"

// Line is one logical kong.conf line as Kong's reader sees it.
type Line struct {
	// Line is the 1-based number of its first physical line.
	Line int
	// Text is the whole logical line, trimmed, with the comment cut from
	// lines without '='.
	Text string
	// Section reports a section header ("[name]"), which kong.conf does not
	// use.
	Section bool
	// Assign reports a "key = value" line; the fields below are set only
	// for those.
	Assign bool
	// Orig is the key as written, trimmed.
	Orig string
	// Key is Orig with every byte other than an ASCII letter or digit
	// turned into '_' (case kept, as Kong keeps it).
	Key string
	// Value is the value, trimmed, its trailing comment cut.
	Value string
}

// ReadLines returns the logical lines of kong.conf text that Kong's reader
// does not skip, in file order.
func ReadLines(r io.Reader) ([]Line, error) {
	var out []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	lineNo, pending, pendingStart := 0, "", 0
	for sc.Scan() {
		lineNo++
		l := sc.Text()
		trimmed := strings.TrimLeft(l, space)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if t := strings.TrimRight(l, space); strings.HasSuffix(t, `\`) {
			if pending == "" {
				pendingStart = lineNo
			}
			pending += t[:len(t)-1]
			continue
		}
		start := lineNo
		if pending != "" {
			l, start, pending = pending+l, pendingStart, ""
		}
		out = append(out, parseLine(l, start))
	}
	if pending != "" {
		out = append(out, parseLine(pending, pendingStart))
	}
	return out, sc.Err()
}

func parseLine(l string, lineNo int) Line {
	if strings.HasPrefix(l, "[") {
		return Line{Line: lineNo, Text: strings.Trim(l, space), Section: true}
	}
	l = strings.TrimLeft(l, space)
	eq := strings.IndexByte(l, '=')
	if eq < 0 {
		return Line{Line: lineNo, Text: StripComment(strings.Trim(l, space))}
	}
	orig := strings.TrimRight(l[:eq], space)
	return Line{
		Line: lineNo, Text: strings.Trim(l, space), Assign: true,
		Orig: orig, Key: normalizeKey(orig), Value: StripComment(strings.Trim(l[eq+1:], space)),
	}
}

func normalizeKey(k string) string {
	b := []byte(k)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// StripComment cuts a trailing comment from a kong.conf value as Kong's
// strip_comments does: whitespace, then a '#' not preceded by '\', then the
// rest; then "\#" becomes "#".
func StripComment(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && (i == 0 || v[i-1] != '\\') {
			v = strings.TrimRight(v[:i], space)
			break
		}
	}
	return strings.ReplaceAll(v, `\#`, "#")
}
