package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/client-ip-guard/client-ip-guard/pdkserver/gateway"
)

// Collector keeps the gateway's exchanges by request id so a client can
// look up what happened to its request.
type Collector struct {
	mu    sync.Mutex
	byID  map[string]*gateway.Exchange
	order []string // arrival order, to keep at most maxKept exchanges
	wake  chan struct{}
	// OnExchange, if set, also receives every exchange.
	OnExchange func(*gateway.Exchange)
}

// maxKept bounds the exchanges a Collector holds.
const maxKept = 4096

// NewCollector returns an empty Collector.
func NewCollector() *Collector {
	return &Collector{byID: map[string]*gateway.Exchange{}, wake: make(chan struct{})}
}

// Observe is the gateway's Observe hook.
func (c *Collector) Observe(x *gateway.Exchange) {
	c.mu.Lock()
	c.byID[x.ID] = x
	c.order = append(c.order, x.ID)
	for len(c.order) > maxKept { // exchanges nobody waits for (manual curl tries)
		delete(c.byID, c.order[0])
		c.order = c.order[1:]
	}
	close(c.wake)
	c.wake = make(chan struct{})
	f := c.OnExchange
	c.mu.Unlock()
	if f != nil {
		f(x)
	}
}

// Wait returns the exchange with the id once its log phase is done, or nil
// after timeout.
func (c *Collector) Wait(id string, timeout time.Duration) *gateway.Exchange {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		x, wake := c.byID[id], c.wake
		if x != nil {
			delete(c.byID, id)
		}
		c.mu.Unlock()
		if x != nil {
			return x
		}
		select {
		case <-wake:
		case <-deadline.C:
			return nil
		}
	}
}

// Result is one scenario's outcome.
type Result struct {
	Scenario Scenario
	Response *Response
	Exchange *gateway.Exchange
	Record   map[string]any
	Seen     *Seen
	Err      error
}

// RunScenario sends s to the node and gathers what happened.
func RunScenario(n *Node, c *Collector, s Scenario, timeout time.Duration) Result {
	r := Result{Scenario: s}
	addr := n.Addr(s.Listener)
	if addr == "" {
		r.Err = fmt.Errorf("node %s has no %s listener", n.Name, s.Listener)
		return r
	}
	var cert []byte
	if s.Listener == "ssl" {
		cert = n.Gateway.CertificatePEM()
	}
	resp, err := Send(s.From, addr, s.Proxy, cert, "GET", s.Path, s.Headers, timeout)
	if err != nil {
		r.Err = err
		return r
	}
	r.Response = resp
	if resp.Closed {
		return r
	}
	if id := resp.Header.Get("X-Kong-Request-Id"); id != "" {
		r.Exchange = c.Wait(id, timeout)
	}
	if r.Exchange != nil {
		r.Record = Record(r.Exchange)
	}
	var seen Seen
	if resp.Status == 200 && json.Unmarshal(resp.Body, &seen) == nil && seen.Method != "" {
		r.Seen = &seen
	}
	return r
}

// Record finds the plugin's record for an exchange, whichever Kong-side
// sink carried it: kong.log.set_serialize_value("client_ip_guard"), a
// kong.log.* line, or what the emulated file-log wrote. Where a global
// instance judged in the rewrite phase and a route or service instance
// in access (Kong runs both: kong/init.lua:1169 and 1203 at 3.9.3), the
// last record is the more specific instance's.
func Record(x *gateway.Exchange) map[string]any {
	if rec := asRecord(x.Request.SerializeValue["client_ip_guard"]); rec != nil {
		return rec
	}
	for i := len(x.Request.Logs) - 1; i >= 0; i-- {
		if rec := asRecord(x.Request.Logs[i].Message); rec != nil {
			return rec
		}
	}
	for _, f := range x.FileLog {
		if rec := asRecord(f["client_ip_guard"]); rec != nil {
			return rec
		}
	}
	return nil
}

func asRecord(v any) map[string]any {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["verdict"]; ok {
			return t
		}
	case string:
		i := strings.IndexByte(t, '{')
		if i < 0 {
			return nil
		}
		var m map[string]any
		if json.Unmarshal([]byte(t[i:]), &m) == nil {
			if _, ok := m["verdict"]; ok {
				return m
			}
		}
	}
	return nil
}

// Verdict is the record's verdict, or "".
func (r *Result) Verdict() string {
	v, _ := r.Record["verdict"].(string)
	return v
}

// ClientIP is Kong's $remote_addr for the request, or "".
func (r *Result) ClientIP() string {
	if r.Exchange == nil {
		return ""
	}
	return r.Exchange.Request.Vars.RemoteAddr
}

// Problems lists how the result differs from the scenario's expectation.
func (r *Result) Problems() []string {
	e := r.Scenario.Expect
	if r.Err != nil {
		return []string{r.Err.Error()}
	}
	var p []string
	if e.Closed {
		if !r.Response.Closed {
			p = append(p, fmt.Sprintf("want the connection dropped, got status %d", r.Response.Status))
		}
		return p
	}
	if r.Response.Closed {
		return []string{"connection dropped without a response"}
	}
	if r.Response.Status != e.Status {
		p = append(p, fmt.Sprintf("status %d, want %d", r.Response.Status, e.Status))
	}
	if r.Exchange == nil {
		return append(p, "the gateway reported no exchange for the request")
	}
	if got := r.ClientIP(); got != e.ClientIP {
		p = append(p, fmt.Sprintf("Kong resolved %s, want %s", got, e.ClientIP))
	}
	if got := r.Verdict(); got != e.Verdict {
		p = append(p, fmt.Sprintf("verdict %q, want %q", got, e.Verdict))
	}
	return p
}

// sent renders what the client sent.
func (r *Result) sent() string {
	s := r.Scenario
	var parts []string
	if s.Proxy != nil {
		parts = append(parts, fmt.Sprintf("PROXY v%d src %s", s.Proxy.Version, s.Proxy.Src))
	}
	if s.Listener == "ssl" {
		parts = append(parts, "TLS")
	}
	for _, h := range s.Headers {
		name := h[0]
		if name == "X-Forwarded-For" {
			name = "XFF"
		}
		parts = append(parts, name+": "+h[1])
	}
	if len(parts) == 0 {
		parts = append(parts, "no forwarding data")
	}
	return fmt.Sprintf("%s %s; %s", s.From, s.Path, strings.Join(parts, "; "))
}

func (r *Result) resolved() string {
	if r.Exchange == nil {
		return "-"
	}
	v := r.Exchange.Request.Vars
	if v.RemotePort == "" {
		return v.RemoteAddr
	}
	if strings.Contains(v.RemoteAddr, ":") {
		return "[" + v.RemoteAddr + "]:" + v.RemotePort
	}
	return v.RemoteAddr + ":" + v.RemotePort
}

func (r *Result) outcome() string {
	switch {
	case r.Err != nil:
		return "error"
	case r.Response.Closed:
		return "closed"
	}
	v := r.Verdict()
	if v == "" {
		v = "(no record)"
	}
	return fmt.Sprintf("%s %d", v, r.Response.Status)
}

func (r *Result) upstream() string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case r.Response.Closed:
		return "nothing: connection dropped (nginx: broken header)"
	case r.Seen == nil:
		return fmt.Sprintf("nothing: Kong answered %d", r.Response.Status)
	}
	h := r.Seen.Headers
	return fmt.Sprintf("X-Real-IP %s; XFF %s", h.Get("X-Real-Ip"), h.Get("X-Forwarded-For"))
}

// PrintTable writes the results as an aligned table, then any mismatch
// with the expectations; it returns the number of mismatching scenarios.
func PrintTable(w io.Writer, results []Result) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tNODE\tSCENARIO\tCLIENT SENT\tKONG RESOLVES\tVERDICT\tUPSTREAM SAW")
	bad := 0
	for i, r := range results {
		mark := ""
		if len(r.Problems()) > 0 {
			mark = " !"
			bad++
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, mark, r.Scenario.Node, r.Scenario.Name, r.sent(), r.resolved(), r.outcome(), r.upstream())
	}
	tw.Flush()
	calls := map[string][2]int{} // verdict -> min, max PDK calls of the judging event
	var order []string
	for _, r := range results {
		if r.Exchange == nil || r.Verdict() == "" {
			continue
		}
		// A route or service instance judges in access; a global one in
		// rewrite, and its access event makes no call.
		n := len(r.Exchange.Request.Calls["access"])
		if n == 0 {
			n = len(r.Exchange.Request.Calls["rewrite"])
		}
		v := r.Verdict()
		mm, seen := calls[v]
		if !seen {
			order = append(order, v)
			mm = [2]int{n, n}
		}
		mm[0], mm[1] = min(mm[0], n), max(mm[1], n)
		calls[v] = mm
	}
	if len(order) > 0 {
		var parts []string
		for _, v := range order {
			mm := calls[v]
			if mm[0] == mm[1] {
				parts = append(parts, fmt.Sprintf("%s %d", v, mm[0]))
			} else {
				parts = append(parts, fmt.Sprintf("%s %d-%d", v, mm[0], mm[1]))
			}
		}
		fmt.Fprintf(w, "\nPDK calls per judgement (rewrite for the global instance, access for a route's): %s\n", strings.Join(parts, ", "))
		fmt.Fprintln(w, "  (here every request is recorded: +1; PROXY data: +2 get_var; a rejection: +1 exit;")
		fmt.Fprintln(w, "   an ok request in the plugin's default configuration costs 3, 1 with fast_path: see the README)")
	}
	for i, r := range results {
		for _, p := range r.Problems() {
			fmt.Fprintf(w, "  #%d %s: %s\n", i+1, r.Scenario.Name, p)
		}
	}
	return bad
}
