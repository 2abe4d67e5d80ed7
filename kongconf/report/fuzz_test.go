package report

import (
	"strings"
	"testing"
)

// FuzzParseLine: no line crashes the parser, a line gives records exactly
// when it is not skipped, and every record has a verdict.
func FuzzParseLine(f *testing.F) {
	r := rec(t0, "spoof_attempt", "would_reject", "198.51.100.7", "1.2.3.4", "r1")
	for _, s := range []string{
		r, r[:50], "", "junk", `{"foo":1}`, "[" + r + "]", "[1,2",
		`2026/12/01 10:00:00 [notice] 1#0: *5 [kong] pb_rpc.lua:233 ` + r + `, client: 1.2.3.4, server: kong`,
		`{"started_at":1,"client_ip_guard":` + r + `}`, `{"started_at":1,"client_ip_guard":"x"}`,
		`{"verdict":{"a":1}}`, `x {"verdict":"ok"`, strings.Repeat("[", 100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		n := 0
		skip := ParseLine(line, func(rec *Record, _ Shape) {
			n++
			if rec.Verdict == "" {
				t.Fatalf("record without a verdict from %q", line)
			}
		})
		if (skip == NotSkipped) != (n > 0) {
			t.Fatalf("skip %v with %d records from %q", skip, n, line)
		}
	})
}
