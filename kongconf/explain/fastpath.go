package explain

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/fastinclude"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// What the fast path makes of a request.
const (
	// FastServed: one PDK call; the verdict is the fast path's.
	FastServed = "served"
	// FastRejudged: the fast path saw an anomaly, so the request is read
	// again with three calls and judged on the full path.
	FastRejudged = "judged again on the full path"
	// FastIneligible: the joined headers cannot describe this request
	// exactly; it is read with three calls.
	FastIneligible = "full path: headers the variable cannot describe exactly"
	// FastUnavailable: the variable cannot serve the instance at all.
	FastUnavailable = "unavailable"
)

// FastPath is what the plugin's fast path (fast_path: true, with the
// include kongconf generate --fast-path writes for the node's
// real_ip_header) would make of the request.
type FastPath struct {
	// Enabled is the instance's fast_path.
	Enabled bool `json:"enabled"`
	// NginxVersion is the nginx the variable was rendered for.
	NginxVersion string `json:"nginx_version"`
	// Status is one of the Fast* values.
	Status string `json:"status"`
	// Reason says why the variable cannot serve the instance.
	Reason string `json:"reason,omitempty"`
	// Verdict is the fast path's own verdict for a served request, given
	// when it differs from the full path's: a blind spot.
	Verdict string `json:"verdict,omitempty"`
}

// DefaultNginx is the nginx Kong 3.6 to 3.9 run (OpenResty 1.25.3).
const DefaultNginx = "1.25"

// parseNginx reads "MAJOR.MINOR[.PATCH]".
func parseNginx(s string) (nginxvar.Version, error) {
	if s == "" {
		s = DefaultNginx
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nginxvar.Version{}, fmt.Errorf("--nginx-version %q: want MAJOR.MINOR such as 1.25 (Kong 3.6+) or 1.21 (Kong 3.0-3.5)", s)
	}
	var n [2]int
	for i := range n {
		v, err := strconv.Atoi(parts[i])
		if err != nil || v < 0 || v > 1000 {
			return nginxvar.Version{}, fmt.Errorf("--nginx-version %q: want MAJOR.MINOR such as 1.25 (Kong 3.6+) or 1.21 (Kong 3.0-3.5)", s)
		}
		n[i] = v
	}
	return nginxvar.Version{Major: n[0], Minor: n[1]}, nil
}

// fastPath renders $client_ip_guard_facts for the request as nginx would
// (fastinclude.Render) and reads it as the guard does (fastpath.Fill, then
// the same evaluation), comparing with full, the full path's evaluation.
func fastPath(in Input, pol *guardconf.Policy, rep *Report, lines []realip.Header, full *evaluate.Evaluation) (*FastPath, error) {
	v, err := parseNginx(in.NginxVersion)
	if err != nil {
		return nil, err
	}
	out := &FastPath{Enabled: pol.FastPath, NginxVersion: v.String()}
	node := strings.TrimSpace(in.RealIPHeader)
	if node == "" {
		node = "X-Real-IP"
	}
	text, err := fastpath.Include(node)
	if err != nil {
		out.Status, out.Reason = FastUnavailable, err.Error()
		return out, nil
	}
	value, err := fastinclude.Value(text)
	if err != nil {
		return nil, err
	}
	req := fastinclude.Request{Peer: rep.RealIPRemoteAddr, RemoteAddr: rep.RemoteAddr}
	if in.ProxyProtocol != "" {
		host, port, err := splitProxy(in.ProxyProtocol)
		if err != nil {
			return nil, fmt.Errorf("--proxy-protocol %q: %w", in.ProxyProtocol, err)
		}
		req.ProxyAddr, req.ProxyPort = host, strconv.Itoa(int(port))
	}
	for _, h := range lines {
		req.Headers = append(req.Headers, nginxvar.Header{Name: h.Name, Value: h.Value})
	}
	raw, err := fastinclude.Render(value, req, v)
	if err != nil {
		return nil, err
	}
	var f evaluate.Facts
	switch st, why := fastpath.Fill(&f, []byte(raw), pol.Resolver.Kind(), pol.Resolver.HeaderName()); st {
	case fastpath.Unavailable:
		out.Status, out.Reason = FastUnavailable, why
	case fastpath.Ineligible:
		out.Status = FastIneligible
	default:
		ev := evaluate.Evaluate(pol, &f, nil)
		if ev.Anomaly(pol) {
			out.Status = FastRejudged
			break
		}
		out.Status = FastServed
		if ev.Outcome.Verdict != full.Outcome.Verdict {
			out.Verdict = ev.Outcome.Verdict.String()
		}
	}
	return out, nil
}

// fastText is the fast path's line of the text report.
func (p *FastPath) fastText() string {
	s := p.Status
	switch p.Status {
	case FastServed:
		s += " (1 PDK call)"
	case FastRejudged, FastIneligible:
		s += " (1 + 3 PDK calls)"
	}
	s += " on nginx " + p.NginxVersion
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	if !p.Enabled {
		s += " (if fast_path were on)"
	}
	if p.Verdict != "" {
		s += fmt.Sprintf("\nwarning: the fast path would judge this request %s, the full path otherwise: a blind spot of the fast path (README, \"Fast path\")", p.Verdict)
	}
	return s
}
