package guardconf

import (
	"bytes"
	"encoding/json"

	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// trustedSet is a trusted_ips list compiled while the config was read.
type trustedSet struct {
	trusted *realip.Trusted
	warns   []realip.TrustedWarning
}

// readTrusted compiles the trusted_ips of the config object b straight
// from its bytes, in one pass, instead of decoding it into strings first:
// at a million CIDRs that decoding costs more than the set. rest is b with
// every trusted_ips value replaced by null, for encoding/json to decode
// the other fields from; set is nil when b has no trusted_ips key.
//
// It follows encoding/json: a key matches trusted_ips as encoding/json
// matches it to the field (escapes decoded, then bytes.EqualFold), and the
// last of duplicate keys wins. ok false means "decode b the ordinary way":
// b is not an object, or a trusted_ips value is not null or an array of
// strings, or an entry is refused. That way every error, and its message,
// is encoding/json's or Compile's; FuzzReadTrusted checks the result
// against that way. Bytes readTrusted skips are checked by encoding/json
// when it decodes rest.
func readTrusted(b []byte) (rest []byte, set *trustedSet, ok bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, nil, false
	}
	var spans [][2]int // the trusted_ips values, to cut out
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return b, nil, skipSpace(b, i+1) == len(b)
	}
	for {
		// A key, a colon, a value, then a comma or the end.
		end := scanString(b, i)
		if end < 0 {
			return nil, nil, false
		}
		trustedKey := isTrustedKey(b[i:end])
		if i = skipSpace(b, end); i == len(b) || b[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1)
		if trustedKey {
			// The last trusted_ips key wins: an earlier set is dropped.
			start := i
			if set, i = readList(b, i); i < 0 {
				return nil, nil, false
			}
			spans = append(spans, [2]int{start, i})
		} else if i = skipValue(b, i); i < 0 {
			return nil, nil, false
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, nil, false
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1)
	}
	if skipSpace(b, i+1) != len(b) {
		return nil, nil, false
	}
	if len(spans) == 0 {
		return b, nil, true
	}
	cut := 0
	for _, s := range spans {
		cut += s[1] - s[0] - len("null")
	}
	rest = make([]byte, 0, len(b)-cut)
	prev := 0
	for _, s := range spans {
		rest = append(append(rest, b[prev:s[0]]...), "null"...)
		prev = s[1]
	}
	return append(rest, b[prev:]...), set, true
}

// isTrustedKey reports whether encoding/json would decode the value of
// the key token k (quotes included) into Config.TrustedIPs.
func isTrustedKey(k []byte) bool {
	name := k[1 : len(k)-1]
	for _, c := range name {
		if c == '\\' || c >= 0x80 {
			// Escapes, or non-ASCII that folds to ASCII (K, the Kelvin
			// sign, folds to k): decoded as encoding/json does.
			var s string
			if json.Unmarshal(k, &s) != nil {
				return false // left to encoding/json, which refuses it
			}
			return bytes.EqualFold([]byte(s), []byte("trusted_ips"))
		}
	}
	return bytes.EqualFold(name, []byte("trusted_ips"))
}

// readList compiles the trusted_ips value at b[i:]: null or an array of
// strings. It returns the index after the value, or -1 when the value is
// anything else or an entry is refused.
func readList(b []byte, i int) (*trustedSet, int) {
	var tb realip.TrustedBuilder
	if bytes.HasPrefix(b[i:], []byte("null")) {
		t, w := tb.Trusted()
		return &trustedSet{t, w}, i + len("null")
	}
	if i == len(b) || b[i] != '[' {
		return nil, -1
	}
	// An upper bound on the entries, to size the builder once.
	tb.Grow(bytes.Count(b[i:], []byte{','}) + 1)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		t, w := tb.Trusted()
		return &trustedSet{t, w}, i + 1
	}
	for {
		if i == len(b) || b[i] != '"' {
			return nil, -1
		}
		j := i + 1
		for j < len(b) && plainByte[b[j]] {
			j++
		}
		if j < len(b) && b[j] == '"' {
			// Plain ASCII, as every address is: the entry is its bytes.
			if tb.AddBytes(b[i+1:j]) != nil {
				return nil, -1
			}
			i = j + 1
		} else {
			// Escapes or non-ASCII: decoded as encoding/json does.
			end := scanString(b, i)
			var s string
			if end < 0 || json.Unmarshal(b[i:end], &s) != nil || tb.Add(s) != nil {
				return nil, -1
			}
			i = end
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, -1
		}
		switch b[i] {
		case ']':
			t, w := tb.Trusted()
			return &trustedSet{t, w}, i + 1
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, -1
		}
	}
}

// plainByte is true for the bytes a JSON string holds as themselves:
// printable ASCII but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString returns the index after the JSON string starting at b[i]
// (a quote), or -1 if there is none. Escapes are skipped, not checked.
func scanString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c == '\\':
			j++
		case c < 0x20:
			return -1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or
// -1 if it finds none. It only finds the value's end; encoding/json
// checks the value itself.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && bytes.IndexByte([]byte(",}] \t\r\n"), b[j]) < 0 {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
