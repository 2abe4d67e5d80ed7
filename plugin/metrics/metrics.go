// Package metrics counts client-ip-guard's verdicts and errors for
// Prometheus, on a private registry served by the plugin server when it
// runs with -metrics-listen.
//
// Counting is built for the access handler's hot path: an Instance holds
// one prometheus.Counter per (verdict, action), resolved when it is first
// asked for, so a request costs one lock-free lookup and one atomic add;
// no PDK call and no allocation. Labels come from Kong's entities (route
// and service ids from the instance's config) and from enums (verdict,
// action, config field, PDK method), never from the request.
package metrics

import (
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

// Metric names, as exported.
const (
	VerdictsName     = "client_ip_guard_verdicts_total"
	ConfigErrorsName = "client_ip_guard_config_errors_total"
	PDKErrorsName    = "client_ip_guard_pdk_errors_total"
	FastPathName     = "client_ip_guard_fast_path_total"
)

// FastPathResult is what became of a request on the fast path (fast_path:
// true), as the result label says.
type FastPathResult uint8

// The fast path's results.
const (
	// FastServed: judged from $client_ip_guard_facts alone, one PDK call.
	FastServed FastPathResult = iota
	// FastRejudged: the variable showed an anomaly, judged again from the
	// three calls.
	FastRejudged
	// FastIneligible: headers the joined variable cannot describe exactly,
	// read with the three calls.
	FastIneligible
	// FastUnavailable: the variable could not serve the instance (see
	// Kong's log), read with the three calls.
	FastUnavailable
	numFastResults
)

var fastResultNames = [numFastResults]string{"served", "rejudged", "ineligible", "unavailable"}

// Action is what the guard did with a request, as the action label says.
type Action uint8

// The actions (plugin/record's action names).
const (
	Allowed Action = iota
	WouldReject
	Rejected
	numActions
)

var actionNames = [numActions]string{record.ActionAllowed, record.ActionWouldReject, record.ActionRejected}

// String returns the action's label value.
func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "unknown"
}

// ActionOf is the action of a request the policy rejects (reject) in
// enforce or monitor mode.
func ActionOf(reject, enforce bool) Action {
	switch {
	case !reject:
		return Allowed
	case enforce:
		return Rejected
	}
	return WouldReject
}

// verdicts lists every verdict the plugin gives, in label order.
var verdicts = verdict.All()

// Set is one registry with client-ip-guard's metrics, the Go runtime's and
// the process's.
type Set struct {
	reg          *prometheus.Registry
	verdicts     *prometheus.CounterVec
	configErrors *prometheus.CounterVec
	pdkErrors    *prometheus.CounterVec
	fastPath     [numFastResults]prometheus.Counter

	mu        sync.Mutex                          // serialises writers of instances
	instances atomic.Pointer[map[scope]*Instance] // copied on write; read without a lock
	pdkMu     sync.Mutex
	pdkSeen   map[string]bool
}

type scope struct{ route, service string }

// NewSet builds a Set on a fresh registry.
func NewSet() *Set {
	s := &Set{
		reg: prometheus.NewRegistry(),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: VerdictsName,
			Help: "Requests judged, by verdict, action (allowed, would_reject, rejected), and the route and service the plugin instance is attached to.",
		}, []string{"verdict", "action", "route_id", "service_id"}),
		configErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ConfigErrorsName,
			Help: "Requests not judged because the plugin instance's configuration is invalid, by the field at fault (monitor mode lets them pass, other modes answer 500).",
		}, []string{"field"}),
		pdkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: PDKErrorsName,
			Help: "PDK calls to Kong that failed, by PDK method.",
		}, []string{"method"}),
		pdkSeen: map[string]bool{},
	}
	fast := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: FastPathName,
		Help: "Requests of fast_path instances, by result: served (one PDK call), rejudged (an anomaly judged again from three calls), ineligible (headers the variable cannot describe), unavailable (the include is missing or does not fit; see Kong's log).",
	}, []string{"result"})
	for i, n := range fastResultNames {
		s.fastPath[i] = fast.WithLabelValues(n)
	}
	s.reg.MustRegister(s.verdicts, s.configErrors, s.pdkErrors, fast,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	empty := map[scope]*Instance{}
	s.instances.Store(&empty)
	return s
}

// FastPath counts one fast-path request by its result.
func (s *Set) FastPath(r FastPathResult) {
	if r < numFastResults {
		s.fastPath[r].Inc()
	}
}

// Registry returns the Set's registry, for serving and for tests.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Instance holds the verdict counters of one (route, service) scope.
type Instance struct {
	c []prometheus.Counter // index: verdict*numActions + action
}

// Instance returns the counters of the plugin instances attached to a
// route and service (either may be empty: a global or service-wide
// instance). The first call for a scope creates its series, all at 0;
// later calls are a lock-free map lookup that allocates nothing.
func (s *Set) Instance(routeID, serviceID string) *Instance {
	k := scope{routeID, serviceID}
	if in := (*s.instances.Load())[k]; in != nil {
		return in
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.instances.Load()
	if in := old[k]; in != nil {
		return in
	}
	in := &Instance{c: make([]prometheus.Counter, len(verdicts)*int(numActions))}
	for _, v := range verdicts {
		for a := Action(0); a < numActions; a++ {
			in.c[int(v)*int(numActions)+int(a)] = s.verdicts.WithLabelValues(v.String(), a.String(), routeID, serviceID)
		}
	}
	next := make(map[scope]*Instance, len(old)+1)
	for kk, vv := range old {
		next[kk] = vv
	}
	next[k] = in
	s.instances.Store(&next)
	return in
}

// Count adds one request with verdict v and action a. A nil Instance
// (metrics off) counts nothing.
func (in *Instance) Count(v verdict.Verdict, a Action) {
	if in == nil {
		return
	}
	if i := int(v)*int(numActions) + int(a); a < numActions && i < len(in.c) {
		in.c[i].Inc()
	}
}

// configFields are the names a config_errors field label may take: the
// JSON names of guardconf.Config's fields.
var configFields = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(guardconf.Config{})
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// ConfigError counts a request refused because of a configuration error;
// the field label is the guardconf.Error's field, or "other".
func (s *Set) ConfigError(field string) {
	if !configFields[field] {
		field = "other"
	}
	s.configErrors.WithLabelValues(field).Inc()
}

// MaxPDKMethods bounds the method label's values; further methods are
// counted as "other".
const MaxPDKMethods = 64

// PDKError counts a failed PDK call; method is its PDK name
// ("kong.client.get_ip"), a constant of the caller.
func (s *Set) PDKError(method string) {
	s.pdkMu.Lock()
	if !s.pdkSeen[method] {
		if len(s.pdkSeen) >= MaxPDKMethods || !strings.HasPrefix(method, "kong.") {
			method = "other"
		}
		s.pdkSeen[method] = true
	}
	s.pdkMu.Unlock()
	s.pdkErrors.WithLabelValues(method).Inc()
}
