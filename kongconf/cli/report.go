package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/client-ip-guard/client-ip-guard/kongconf/report"
)

func newReportCmd() *cobra.Command {
	var (
		format, since, until string
		top                  int
	)
	cmd := &cobra.Command{
		Use:   "report [FILE|-]...",
		Short: "Sum up client-ip-guard's records: what enforce would reject, for whom, and whether it looks safe",
		Long: `report reads client-ip-guard's records from files, or stdin ("-" or no argument),
wherever they landed, detecting each line's shape: the file or stdout sink's JSON
lines, Kong's error log (the kong sink), or a log plugin's entries (file-log,
http-log, tcp-log) carrying the record under client_ip_guard (the serializer
sink). Lines without a record, and records cut short, are counted as skipped.

It prints counts per verdict and action, per route and service, the top peers and
clients behind each anomaly, what enforce would reject (the records' own actions:
would_reject and rejected), and whether switching to enforce looks safe, and why.
It streams: memory stays bounded whatever the input's size.

--since and --until take an RFC 3339 time, a date (2006-01-02, UTC), or a
duration before now (24h); records outside [since, until) are left out.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: want text or json", format)
			}
			now := time.Now()
			var opt report.Options
			var err error
			if opt.Since, err = parseWhen("--since", since, now); err != nil {
				return err
			}
			if opt.Until, err = parseWhen("--until", until, now); err != nil {
				return err
			}
			opt.Top = top
			stderr := cmd.ErrOrStderr()
			if isTerminal(stderr) {
				opt.Progress = progress(stderr)
			}
			rep := report.New(opt)
			if len(args) == 0 {
				if isTerminal(cmd.InOrStdin()) {
					return fmt.Errorf("no input: give the files holding the records, or pipe them in (kongconf report - < error.log)")
				}
				args = []string{"-"}
			}
			for _, a := range args {
				if err := readInput(rep, a, cmd.InOrStdin()); err != nil {
					return err
				}
			}
			if opt.Progress != nil {
				fmt.Fprint(stderr, "\r\033[K")
			}
			s := rep.Summary()
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			s.Text(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "text or json")
	f.StringVar(&since, "since", "", "keep records at or after this time (RFC 3339, date, or duration before now)")
	f.StringVar(&until, "until", "", "keep records before this time (RFC 3339, date, or duration before now)")
	f.IntVar(&top, "top", 5, "rows in each top peers/clients list")
	return cmd
}

func readInput(rep *report.Report, name string, stdin io.Reader) error {
	if name == "-" {
		if err := rep.Read(stdin); err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		return nil
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := rep.Read(f); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// parseWhen reads a --since/--until value.
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration before now (24h)", flag, v)
}

// isTerminal reports whether f is a character device: a terminal, or
// /dev/null, where a progress line is lost and empty input is no input
// either. (Telling the two apart takes an ioctl per OS; not worth a
// dependency here.)
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress rewrites one status line at most every 200 ms.
func progress(w io.Writer) func(report.Progress) {
	var last time.Time
	return func(p report.Progress) {
		if time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r\033[Kreport: %d MB, %d lines, %d records", p.Bytes>>20, p.Lines, p.Records)
	}
}
