package kongpdk

import "strings"

// reservedByte marks the bytes kong/tools/uri.lua keeps percent-encoded
// when normalising (RFC 3986 reserved characters plus '%').
var reservedByte = func() (t [256]bool) {
	for _, c := range []byte("!*'();:@&=+$,/?%#[]") {
		t[c] = true
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normalizePath is what kong.request.get_path returns for a raw path:
// percent-escapes of unreserved bytes decoded (reserved ones kept,
// upper-cased), dot segments removed and, as get_path asks, repeated
// slashes merged.
func normalizePath(uri string) string {
	if uri == "" || uri == "/" {
		return uri
	}
	if strings.IndexByte(uri, '%') >= 0 {
		var b strings.Builder
		for i := 0; i < len(uri); i++ {
			if uri[i] == '%' && i+2 < len(uri) {
				hi, ok1 := unhex(uri[i+1])
				lo, ok2 := unhex(uri[i+2])
				if ok1 && ok2 {
					c := hi<<4 | lo
					if reservedByte[c] {
						b.WriteByte('%')
						b.WriteString(strings.ToUpper(uri[i+1 : i+3]))
					} else {
						b.WriteByte(c)
					}
					i += 2
					continue
				}
			}
			b.WriteByte(uri[i])
		}
		uri = b.String()
	}
	if !strings.Contains(uri, ".") && !strings.Contains(uri, "//") {
		return uri
	}
	var out []string
	for len(uri) > 0 {
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case uri == "." || uri == "..":
			uri = ""
		case strings.HasPrefix(uri, "../"):
			uri = uri[3:]
		case strings.HasPrefix(uri, "./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/../"):
			uri = uri[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case strings.HasPrefix(uri, "//"):
			uri = uri[1:]
		default:
			if i := strings.IndexByte(uri[1:], '/'); i >= 0 {
				out = append(out, uri[:i+1])
				uri = uri[i+1:]
			} else {
				out = append(out, uri)
				uri = ""
			}
		}
	}
	return strings.Join(out, "")
}
