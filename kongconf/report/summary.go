package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary is a Report's result, as kongconf report --format json prints it.
type Summary struct {
	// Records counts the records kept (after --since/--until).
	Records  int64            `json:"records"`
	Verdicts map[string]int64 `json:"verdicts"`
	Actions  map[string]int64 `json:"actions"`
	Modes    map[string]int64 `json:"modes"`
	Reasons  map[string]int64 `json:"reasons"`
	// ByVerdict splits each verdict's records by action.
	ByVerdict map[string]map[string]int64 `json:"by_verdict"`
	// WouldReject counts records whose action is would_reject or
	// rejected: what enforce rejects. Rejected counts the latter only.
	WouldReject int64 `json:"would_reject"`
	Rejected    int64 `json:"rejected"`
	// First and Last are the earliest and latest record times.
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	// Lines and Bytes are what was read; Skipped the lines without a
	// record, by reason; Filtered the records outside --since/--until.
	Lines     int64            `json:"lines"`
	Bytes     int64            `json:"bytes"`
	Skipped   int64            `json:"skipped"`
	SkippedBy map[string]int64 `json:"skipped_by"`
	Filtered  int64            `json:"filtered"`
	// Shapes counts records by where they came from.
	Shapes map[string]int64 `json:"shapes"`
	// ConfigErrors counts the plugin's configuration-error lines.
	ConfigErrors int64          `json:"config_errors"`
	Routes       []RouteSummary `json:"routes"`
	// Anomalies lists each verdict other than ok with the peers and
	// clients behind it.
	Anomalies []Behind `json:"anomalies"`
	// Enforce is who the rejected and would-be rejected records came from.
	Enforce    Behind     `json:"enforce"`
	Assessment Assessment `json:"assessment"`
}

// RouteSummary is one (route, service) pair's share.
type RouteSummary struct {
	RouteID     string           `json:"route_id"`
	ServiceID   string           `json:"service_id"`
	Records     int64            `json:"records"`
	Anomalies   int64            `json:"anomalies"`
	WouldReject int64            `json:"would_reject"`
	Verdicts    map[string]int64 `json:"verdicts,omitempty"`
}

// Behind is a group of records with its top peers and clients.
type Behind struct {
	Verdict string  `json:"verdict,omitempty"`
	Records int64   `json:"records"`
	Peers   []Count `json:"top_peers"`
	Clients []Count `json:"top_clients"`
}

// Assessment says whether switching to enforce looks safe, and why.
type Assessment struct {
	// Verdict is "safe", "review", "not_yet" or "no_data".
	Verdict string `json:"verdict"`
	Safe    bool   `json:"safe"`
	Why     string `json:"why"`
}

// Thresholds of the assessment.
const (
	// MaxRejectShare is the share of all records enforce may reject before
	// the report asks for a review (when ok records are logged too).
	MaxRejectShare = 0.01
	// ConcentratedShare is the share of the would-be rejections from one
	// peer above which that peer looks like a proxy missing from
	// trusted_ips rather than clients misbehaving.
	ConcentratedShare = 0.5
	// MinConcentrated is the fewest would-be rejections the concentration
	// rule looks at.
	MinConcentrated = 10
)

// Summary computes the result so far.
func (r *Report) Summary() Summary {
	s := Summary{
		Records: r.records, Verdicts: r.verdicts.Map(), Actions: r.actions.Map(), Modes: r.modes.Map(),
		Reasons: r.reasons.Map(), ByVerdict: map[string]map[string]int64{},
		WouldReject: r.wouldReject, Rejected: r.rejected,
		Lines: r.lines, Bytes: r.bytes, Filtered: r.filtered, ConfigErrors: r.cfgErrs,
		SkippedBy: map[string]int64{}, Shapes: map[string]int64{},
	}
	if !r.first.IsZero() {
		s.First, s.Last = r.first.UTC().Format(time.RFC3339Nano), r.last.UTC().Format(time.RFC3339Nano)
	}
	for k, n := range r.pairs.Map() {
		v, a, _ := strings.Cut(k, pairSep)
		if s.ByVerdict[v] == nil {
			s.ByVerdict[v] = map[string]int64{}
		}
		s.ByVerdict[v][a] += n
	}
	for i := SkipNotRecord; i < numSkips; i++ {
		s.Skipped += r.skipped[i]
		if r.skipped[i] > 0 {
			s.SkippedBy[i.String()] = r.skipped[i]
		}
	}
	for i := Shape(0); i < numShapes; i++ {
		s.Shapes[i.String()] = r.shapes[i]
	}
	s.Routes = r.routeSummaries()
	for _, c := range r.verdicts.Sorted() {
		if pc := r.behind[c.Key]; pc != nil {
			s.Anomalies = append(s.Anomalies, Behind{Verdict: c.Key, Records: c.Count,
				Peers: pc.peers.Top(r.opt.Top), Clients: pc.clients.Top(r.opt.Top)})
		}
	}
	s.Enforce = Behind{Records: r.wouldReject, Peers: r.rejectBy.peers.Top(r.opt.Top), Clients: r.rejectBy.clients.Top(r.opt.Top)}
	s.Assessment = assess(&s)
	return s
}

func (r *Report) routeSummaries() []RouteSummary {
	out := make([]RouteSummary, 0, len(r.routes)+1)
	for k, st := range r.routes {
		out = append(out, RouteSummary{RouteID: k.route, ServiceID: k.service, Records: st.records,
			Anomalies: st.anomalies, WouldReject: st.wouldReject, Verdicts: st.verdicts})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Records != out[j].Records {
			return out[i].Records > out[j].Records
		}
		return out[i].RouteID+out[i].ServiceID < out[j].RouteID+out[j].ServiceID
	})
	if o := r.routeOth; o.records > 0 {
		out = append(out, RouteSummary{RouteID: OtherKey, ServiceID: OtherKey, Records: o.records,
			Anomalies: o.anomalies, WouldReject: o.wouldReject})
	}
	return out
}

// topPeer is the peer behind most records of a verdict and a lower bound
// of its count.
func (s *Summary) topPeer(v string) (string, int64) {
	for _, b := range s.Anomalies {
		if b.Verdict == v && len(b.Peers) > 0 {
			return b.Peers[0].Key, b.Peers[0].Count - b.Peers[0].Err
		}
	}
	return "", 0
}

// assess applies the rules, first match wins: no records; configuration
// errors; config_drift (Kong and the plugin disagree, so enforce would
// act on a wrong address); one untrusted peer sending forwarding data in
// most records (a load balancer missing from trusted_ips, whether or not
// spoof_attempt is rejected); lb_ip_leak set to be rejected (load-balancer
// health checks look like that); nothing rejected; one peer behind most
// rejections (a proxy missing from trusted_ips looks like that); more
// than MaxRejectShare of all requests rejected; otherwise safe.
func assess(s *Summary) Assessment {
	no := func(v, f string, a ...any) Assessment { return Assessment{Verdict: v, Why: fmt.Sprintf(f, a...)} }
	switch {
	case s.Records == 0:
		return no("no_data", "no records to judge: check log_when is not off and that the records' log was given")
	case s.ConfigErrors > 0:
		return no("not_yet", "%d configuration error(s) in the log: the plugin cannot judge until its config is fixed (monitor passes requests unjudged, enforce answers 500)", s.ConfigErrors)
	case s.Verdicts[VerdictConfigDrift] > 0:
		return no("not_yet", "%d record(s) are config_drift: Kong and the plugin resolve the client differently; align trusted_ips and real_ip_* (kongconf lint) before enforcing",
			s.Verdicts[VerdictConfigDrift])
	}
	if p, n := s.topPeer(VerdictSpoofAttempt); n >= MinConcentrated && float64(n) >= ConcentratedShare*float64(s.Records) {
		return no("review", "peer %s sent forwarding data without being trusted in %d of %d records (spoof_attempt): if it is your load balancer or proxy, it is missing from trusted_ips and Kong takes it for the client",
			p, n, s.Records)
	}
	leak := s.ByVerdict[VerdictLBIPLeak][ActionWouldReject] + s.ByVerdict[VerdictLBIPLeak][ActionRejected]
	if leak > 0 {
		return no("review", "%d lb_ip_leak record(s) would be rejected: load-balancer health checks look like this, and rejecting them takes Kong out of rotation", leak)
	}
	if s.WouldReject == 0 {
		return Assessment{Verdict: "safe", Safe: true, Why: fmt.Sprintf("enforce would reject none of %d records", s.Records)}
	}
	share := float64(s.WouldReject) / float64(s.Records)
	if top := s.Enforce.Peers; len(top) > 0 && s.WouldReject >= MinConcentrated &&
		float64(top[0].Count-top[0].Err) >= ConcentratedShare*float64(s.WouldReject) {
		return no("review", "peer %s is behind %d of the %d records enforce would reject: if it is a load balancer or proxy, it is missing from trusted_ips",
			top[0].Key, top[0].Count, s.WouldReject)
	}
	if s.Verdicts[VerdictOK] > 0 && share > MaxRejectShare {
		return no("review", "enforce would reject %d of %d requests (%.1f%%, above %.0f%%): check the peers and clients below before enforcing",
			s.WouldReject, s.Records, 100*share, 100*MaxRejectShare)
	}
	why := fmt.Sprintf("enforce would reject %d of %d records (%.2f%%), spread over peers, with no configuration drift or error",
		s.WouldReject, s.Records, 100*share)
	if s.Verdicts[VerdictOK] == 0 {
		why += " (no ok records: with log_when anomalies the share of all traffic is unknown)"
	}
	return Assessment{Verdict: "safe", Safe: true, Why: why}
}
