// Package report reads client-ip-guard's records from wherever they land
// (the file or stdout sink, Kong's error log, a log plugin's output),
// detecting the shape of each line, and sums them up for the move from
// monitor to enforce: counts per verdict and action, per route and
// service, the peers and clients behind each anomaly, what enforce would
// reject, and whether that looks safe.
//
// It streams: memory is bounded by the caps below, whatever the input's
// size. It has no CLI code; kongconf report and the demo call it.
package report

import (
	"bytes"
	"errors"
	"io"
	"time"
)

// Caps that bound memory. Counts past a Capped table's capacity are
// summed under "(other)"; TopK tables keep the heavy hitters.
const (
	// MaxVerdicts bounds distinct verdict, action, mode and reason names
	// (the plugin has a handful of each; the rest is junk input).
	MaxVerdicts = 32
	// MaxRoutes bounds distinct (route, service) pairs.
	MaxRoutes = 1024
	// TopKCapacity is the number of keys each top-peers or top-clients
	// table tracks: any key seen in more than 1/TopKCapacity of the
	// table's records is guaranteed to be kept.
	TopKCapacity = 512
)

// ProgressEvery is how many lines pass between Options.Progress calls.
const ProgressEvery = 1 << 16

// Options tunes a Report.
type Options struct {
	// Since and Until keep records whose time is in [Since, Until); zero
	// values do not bound.
	Since, Until time.Time
	// Top is how many rows each top table shows (default 5).
	Top int
	// Progress, if set, is called every ProgressEvery lines and at the
	// end of each input.
	Progress func(Progress)
}

// Progress is how far reading has come.
type Progress struct {
	Bytes, Lines, Records int64
}

// Report accumulates records. The zero value is not usable: call New.
type Report struct {
	opt      Options
	lines    int64
	bytes    int64
	records  int64
	filtered int64
	skipped  [numSkips]int64
	shapes   [numShapes]int64
	cfgErrs  int64
	first    time.Time
	last     time.Time

	verdicts *Capped
	actions  *Capped
	modes    *Capped
	reasons  *Capped
	// pairs counts verdict+pairSep+action, for the verdict table.
	pairs *Capped
	// wouldReject counts records whose action is would_reject or
	// rejected; rejected only the latter.
	wouldReject, rejected int64
	// behind holds top peers and clients per non-ok verdict; rejectBy
	// the same for the records enforce rejects.
	behind   map[string]*peersClients
	rejectBy *peersClients
	routes   map[routeKey]*routeStats
	routeOth routeStats
}

type peersClients struct{ peers, clients *TopK }

func newPeersClients() *peersClients {
	return &peersClients{peers: NewTopK(TopKCapacity), clients: NewTopK(TopKCapacity)}
}

type routeKey struct{ route, service string }

type routeStats struct {
	records, anomalies, wouldReject int64
	verdicts                        map[string]int64 // keys: verdicts with their own entry
}

// New returns an empty Report.
func New(opt Options) *Report {
	if opt.Top <= 0 {
		opt.Top = 5
	}
	return &Report{
		opt:      opt,
		verdicts: NewCapped(MaxVerdicts),
		actions:  NewCapped(MaxVerdicts),
		modes:    NewCapped(MaxVerdicts),
		reasons:  NewCapped(MaxVerdicts),
		pairs:    NewCapped(MaxPairs),
		behind:   map[string]*peersClients{},
		rejectBy: newPeersClients(),
		routes:   map[routeKey]*routeStats{},
	}
}

// Read consumes one input to its end. Lines that hold no record are
// counted as skipped; only a read error stops it.
func (r *Report) Read(in io.Reader) error {
	lr := newLineReader(in)
	emit := r.Add
	for {
		line, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.bytes += lr.read
			return err
		}
		r.lines++
		switch {
		case tooLong:
			r.skipped[SkipTooLong]++
		default:
			if s := ParseLine(line, emit); s != NotSkipped {
				r.skipped[s]++
				if s == SkipNotRecord && isConfigError(line) {
					r.cfgErrs++
				}
			}
		}
		if r.opt.Progress != nil && r.lines%ProgressEvery == 0 {
			r.opt.Progress(Progress{Bytes: r.bytes + lr.read, Lines: r.lines, Records: r.records})
		}
	}
	r.bytes += lr.read
	if r.opt.Progress != nil {
		r.opt.Progress(Progress{Bytes: r.bytes, Lines: r.lines, Records: r.records})
	}
	return nil
}

// Add counts one record found in a line of the given shape.
func (r *Report) Add(rec *Record, shape Shape) {
	t, terr := time.Parse(time.RFC3339Nano, rec.Time)
	if !r.opt.Since.IsZero() || !r.opt.Until.IsZero() {
		if terr != nil {
			r.skipped[SkipBadTime]++
			return
		}
		if (!r.opt.Since.IsZero() && t.Before(r.opt.Since)) || (!r.opt.Until.IsZero() && !t.Before(r.opt.Until)) {
			r.filtered++
			return
		}
	}
	if terr == nil {
		if r.first.IsZero() || t.Before(r.first) {
			r.first = t
		}
		if t.After(r.last) {
			r.last = t
		}
	}
	r.records++
	r.shapes[shape]++
	r.verdicts.Add(rec.Verdict)
	r.actions.Add(rec.Action)
	r.modes.Add(rec.Mode)
	r.pairs.Add(rec.Verdict + pairSep + rec.Action)
	for _, reason := range rec.Reasons {
		r.reasons.Add(reason)
	}
	rejects := rec.Action == ActionWouldReject || rec.Action == ActionRejected
	if rejects {
		r.wouldReject++
		if rec.Action == ActionRejected {
			r.rejected++
		}
		r.rejectBy.peers.Add(rec.PeerIP)
		r.rejectBy.clients.Add(rec.ClientIP)
	}
	anomaly := rec.Verdict != VerdictOK
	if anomaly && r.verdicts.Has(rec.Verdict) {
		pc := r.behind[rec.Verdict]
		if pc == nil {
			pc = newPeersClients()
			r.behind[rec.Verdict] = pc
		}
		pc.peers.Add(rec.PeerIP)
		pc.clients.Add(rec.ClientIP)
	}
	r.route(rec, anomaly, rejects)
}

func (r *Report) route(rec *Record, anomaly, rejects bool) {
	k := routeKey{rec.RouteID, rec.ServiceID}
	st := r.routes[k]
	if st == nil {
		if len(r.routes) < MaxRoutes {
			st = &routeStats{verdicts: map[string]int64{}}
			r.routes[k] = st
		} else {
			st = &r.routeOth
		}
	}
	st.records++
	if anomaly {
		st.anomalies++
	}
	if rejects {
		st.wouldReject++
	}
	if st.verdicts != nil && r.verdicts.Has(rec.Verdict) {
		st.verdicts[rec.Verdict]++
	}
}

// Values of the record's verdict and action fields the report reads
// (plugin/verdict and plugin/record name them).
const (
	VerdictOK           = "ok"
	VerdictConfigDrift  = "config_drift"
	VerdictLBIPLeak     = "lb_ip_leak"
	VerdictSpoofAttempt = "spoof_attempt"
	ActionAllowed       = "allowed"
	ActionWouldReject   = "would_reject"
	ActionRejected      = "rejected"
)

// configErrorPrefix starts the message of a plugin configuration error
// (guardconf.Error), which the plugin writes with kong.log.err.
const configErrorPrefix = "client-ip-guard config: "

func isConfigError(line []byte) bool {
	return bytes.Contains(line, []byte(configErrorPrefix))
}

// Size is the number of entries the report holds in all its tables; it
// stays under a bound that does not depend on the input.
func (r *Report) Size() int {
	n := r.verdicts.Len() + r.actions.Len() + r.modes.Len() + r.reasons.Len() + r.pairs.Len()
	n += r.rejectBy.peers.Len() + r.rejectBy.clients.Len()
	for _, pc := range r.behind {
		n += pc.peers.Len() + pc.clients.Len()
	}
	for _, st := range r.routes {
		n += 1 + len(st.verdicts)
	}
	return n
}

// MaxSize is the bound on Size.
const MaxSize = 4*MaxVerdicts + MaxPairs + 2*TopKCapacity + MaxVerdicts*2*TopKCapacity + MaxRoutes*(1+MaxVerdicts)

// MaxPairs bounds distinct (verdict, action) pairs.
const MaxPairs = 4 * MaxVerdicts

// pairSep joins a verdict and an action into one key.
const pairSep = "\x00"
