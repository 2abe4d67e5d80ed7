package forwarded

import (
	"strings"
	"testing"
)

// FuzzParse: the parser never panics; every node it returns prints back
// to text that parses to the same node; and when a value parses without
// error, walking it from the right as the resolver does (TrimRight,
// LastElementStart) finds the same elements in reverse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`,
		`for=unknown, for=_hidden, for="_x:_p"`,
		`host="a,b";for=192.0.2.1, for=192.0.2.2`,
		`host="a\",b";for=unknown`,
		`for="192.0.2.1`,
		`for=2001:db8::1`,
		` , for=192.0.2.1,, ;;`,
		`FOR="[::ffff:192.0.2.1]:80";ext="x\\"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		els, err := Parse(v)
		if len(els) > strings.Count(v, ",")+1 {
			t.Fatalf("%q: %d elements from %d commas", v, len(els), strings.Count(v, ","))
		}
		for _, e := range els {
			for _, n := range []struct {
				has  bool
				node Node
			}{{e.HasFor, e.For}, {e.HasBy, e.By}} {
				if !n.has {
					continue
				}
				text := n.node.String()
				back, err := ElementFor("for=" + text)
				if err != nil || back != n.node {
					t.Fatalf("%q: node %+v prints %q, parses to %+v, %v", v, n.node, text, back, err)
				}
			}
		}
		if err != nil {
			return
		}
		// Walk from the right.
		var rev []Element
		n := len(v)
		for {
			n = TrimRight(v[:n])
			if n == 0 {
				break
			}
			start := LastElementStart(v[:n])
			if trimOWS(v[start:n]) != "" {
				e, err := ParseElement(v[start:n])
				if err != nil {
					t.Fatalf("%q: element %q from the right: %v", v, v[start:n], err)
				}
				rev = append(rev, e)
			}
			if start == 0 {
				break
			}
			n = start - 1
		}
		if len(rev) != len(els) {
			t.Fatalf("%q: %d elements from the left, %d from the right", v, len(els), len(rev))
		}
		for i := range els {
			if els[i] != rev[len(rev)-1-i] {
				t.Fatalf("%q: element %d differs: %+v vs %+v", v, i, els[i], rev[len(rev)-1-i])
			}
		}
	})
}
