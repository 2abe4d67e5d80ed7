package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Text writes the summary for a person.
func (s *Summary) Text(w io.Writer) {
	fmt.Fprintf(w, "client-ip-guard records: %d", s.Records)
	if s.First != "" {
		fmt.Fprintf(w, " from %s to %s", s.First, s.Last)
	}
	fmt.Fprintf(w, " (%s)\n", joinCounts(s.Shapes, []string{"file", "error_log", "log_plugin"}))
	fmt.Fprintf(w, "lines read: %d; skipped: %d", s.Lines, s.Skipped)
	if s.Skipped > 0 {
		fmt.Fprintf(w, " (%s)", joinCounts(s.SkippedBy, nil))
	}
	if s.Filtered > 0 {
		fmt.Fprintf(w, "; outside --since/--until: %d", s.Filtered)
	}
	if s.ConfigErrors > 0 {
		fmt.Fprintf(w, "; configuration errors: %d", s.ConfigErrors)
	}
	fmt.Fprintln(w)
	if s.Records == 0 {
		fmt.Fprintf(w, "\nSafe to enforce: %s\n", s.Assessment.line())
		return
	}

	fmt.Fprintln(w)
	s.verdictTable(w)
	fmt.Fprintf(w, "modes: %s\n", joinCounts(s.Modes, nil))
	if len(s.Reasons) > 0 {
		fmt.Fprintf(w, "reasons: %s\n", joinCounts(s.Reasons, nil))
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tSERVICE\tRECORDS\tANOMALIES\tWOULD REJECT\tVERDICTS")
	for i, rt := range s.Routes {
		if i == 20 {
			fmt.Fprintf(tw, "... %d more (--format json lists all)\t\t\t\t\t\n", len(s.Routes)-i)
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", orAny(rt.RouteID), orAny(rt.ServiceID), rt.Records, rt.Anomalies, rt.WouldReject, joinCounts(rt.Verdicts, nil))
	}
	tw.Flush()

	if len(s.Anomalies) > 0 {
		fmt.Fprintln(w, "\nBehind each anomaly:")
		for _, b := range s.Anomalies {
			fmt.Fprintf(w, "  %s (%d)\n    peers:   %s\n    clients: %s\n", b.Verdict, b.Records, topLine(b.Peers), topLine(b.Clients))
		}
	}

	fmt.Fprintln(w)
	s.enforceLines(w)
	fmt.Fprintf(w, "\nSafe to enforce: %s\n", s.Assessment.line())
}

// Brief writes the verdict table, what enforce would reject and the
// assessment: the report in a dozen lines.
func (s *Summary) Brief(w io.Writer) {
	fmt.Fprintf(w, "client-ip-guard records: %d; lines without a record: %d\n", s.Records, s.Skipped)
	if s.Records > 0 {
		s.verdictTable(w)
		s.enforceLines(w)
	}
	fmt.Fprintf(w, "Safe to enforce: %s\n", s.Assessment.line())
}

func (s *Summary) verdictTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	actions := actionColumns(s.Actions)
	fmt.Fprintf(tw, "VERDICT\tRECORDS\t%s\t\n", strings.ToUpper(strings.Join(actions, "\t")))
	for _, c := range sortedCounts(s.Verdicts) {
		row := []string{c.Key, fmt.Sprint(c.Count)}
		for _, a := range actions {
			row = append(row, fmt.Sprint(s.ByVerdict[c.Key][a]))
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	tw.Flush()
}

func (s *Summary) enforceLines(w io.Writer) {
	fmt.Fprintf(w, "Enforce would reject %d of %d records (%.2f%%): %d would_reject (monitor), %d already rejected (enforce)\n",
		s.WouldReject, s.Records, 100*float64(s.WouldReject)/float64(s.Records), s.WouldReject-s.Rejected, s.Rejected)
	if s.WouldReject > 0 {
		fmt.Fprintf(w, "  peers:   %s\n  clients: %s\n", topLine(s.Enforce.Peers), topLine(s.Enforce.Clients))
	}
}

func (a Assessment) line() string {
	switch a.Verdict {
	case "safe":
		return "yes, " + a.Why
	case "review":
		return "review first, " + a.Why
	case "not_yet":
		return "not yet, " + a.Why
	}
	return "cannot tell, " + a.Why
}

// actionColumns are the plugin's three actions, then any others seen.
func actionColumns(seen map[string]int64) []string {
	cols := []string{ActionAllowed, ActionWouldReject, ActionRejected}
	var extra []string
	for a := range seen {
		if a != ActionAllowed && a != ActionWouldReject && a != ActionRejected {
			extra = append(extra, a)
		}
	}
	sort.Strings(extra)
	return append(cols, extra...)
}

func sortedCounts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Key: k, Count: v})
	}
	sortCounts(out)
	return out
}

// joinCounts renders "a 3, b 1", in order's order, else highest first.
func joinCounts(m map[string]int64, order []string) string {
	var parts []string
	if order != nil {
		for _, k := range order {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	} else {
		for _, c := range sortedCounts(m) {
			parts = append(parts, fmt.Sprintf("%s %d", orAny(c.Key), c.Count))
		}
	}
	return strings.Join(parts, ", ")
}

func topLine(cs []Count) string {
	if len(cs) == 0 {
		return "-"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		approx := ""
		if c.Err > 0 {
			approx = "~"
		}
		parts[i] = fmt.Sprintf("%s %s%d", orAny(c.Key), approx, c.Count)
	}
	return strings.Join(parts, ", ")
}

// orAny shows an empty key (a global plugin's route, a missing field).
func orAny(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
