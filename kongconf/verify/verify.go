// Package verify checks a generated bundle the way a user's cluster would:
// every file is parsed and strictly decoded (Kubernetes objects into the
// k8s.io/api and KIC types, kong.yml structurally), then linted as one set.
package verify

import (
	"sort"

	"github.com/client-ip-guard/client-ip-guard/kongconf/lint"
)

// Bundle lints files (name → content) together and returns the report.
func Bundle(files map[string]string) *lint.Report {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	set := &lint.Set{}
	var findings []lint.Finding
	for _, n := range names {
		findings = append(findings, lint.Load(set, n, []byte(files[n]))...)
	}
	findings = append(findings, lint.Check(set)...)
	r := &lint.Report{Files: set.Files, Findings: findings}
	r.Sort()
	return r
}
