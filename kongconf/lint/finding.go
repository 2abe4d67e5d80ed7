// Package lint finds client-IP footguns in Kong configuration: kong.conf,
// KONG_* env files, Helm values, Kubernetes Service manifests, decK kong.yml
// and KongPlugin/KongClusterPlugin objects. Every rule has a stable ID, a
// severity, a one-line reason and a fix.
package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity ranks a finding.
type Severity string

// Severities, most severe first.
const (
	// Error means the setup is broken or spoofable; lint exits non-zero.
	Error Severity = "error"
	// Warning means the setup works but is risky or likely wrong.
	Warning Severity = "warning"
	// Info is advice.
	Info Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Rule documents one check.
type Rule struct {
	// ID is stable, e.g. KC001.
	ID string `json:"id"`
	// Severity is the default severity of its findings.
	Severity Severity `json:"severity"`
	// Title names the footgun.
	Title string `json:"title"`
	// Why is the one-line consequence.
	Why string `json:"why"`
	// Fix is the one-line remedy.
	Fix string `json:"fix"`
}

// Finding is one rule hit.
type Finding struct {
	// Rule is the rule ID.
	Rule string `json:"rule"`
	// Severity of this hit (may differ from the rule default).
	Severity Severity `json:"severity"`
	// File is where the problem is ("" for cross-file or live findings).
	File string `json:"file,omitempty"`
	// Line is the 1-based line, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Key is the setting or field involved.
	Key string `json:"key,omitempty"`
	// Message says what is wrong here and why it matters.
	Message string `json:"message"`
	// Fix says what to change.
	Fix string `json:"fix"`
}

// Location formats file:line.
func (f Finding) Location() string {
	switch {
	case f.File == "":
		return "-"
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// Report is the outcome of linting a set of files.
type Report struct {
	// Files are the inputs in order.
	Files []string `json:"files"`
	// Findings are sorted by file, line, then rule.
	Findings []Finding `json:"findings"`
}

// Count returns the number of findings with severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// HasErrors reports whether any finding is an error.
func (r *Report) HasErrors() bool { return r.Count(Error) > 0 }

// Sort orders findings deterministically.
func (r *Report) Sort() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

// WriteText prints one finding per line plus a summary.
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintf(w, "%s: %s %s: %s\n    fix: %s\n", f.Location(), f.Severity, f.Rule, f.Message, f.Fix); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d file(s): %d error(s), %d warning(s), %d info\n",
		len(r.Files), r.Count(Error), r.Count(Warning), r.Count(Info))
	return err
}

// WriteJSON prints the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		*Report
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
	}{r, r.Count(Error), r.Count(Warning)}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Rules returns every rule, sorted by ID.
func Rules() []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// lookupRule returns the rule with the given ID.
func lookupRule(id string) (Rule, bool) {
	r, ok := rules[strings.ToUpper(id)]
	return r, ok
}

// sink collects findings for one run.
type sink struct {
	findings []Finding
}

// add records a hit of rule id; msg overrides the rule's Why when non-empty.
func (s *sink) add(id, file string, line int, key, msg string) {
	s.addSev(id, "", file, line, key, msg)
}

func (s *sink) addSev(id string, sev Severity, file string, line int, key, msg string) {
	r, ok := rules[id]
	if !ok {
		panic("lint: unknown rule " + id)
	}
	if sev == "" {
		sev = r.Severity
	}
	if msg == "" {
		msg = r.Why
	} else {
		msg = msg + " — " + r.Why
	}
	s.findings = append(s.findings, Finding{Rule: id, Severity: sev, File: file, Line: line, Key: key, Message: msg, Fix: r.Fix})
}
