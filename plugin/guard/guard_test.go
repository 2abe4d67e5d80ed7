package guard_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/guard"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/record"
	"github.com/client-ip-guard/client-ip-guard/plugin/sink"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

var fixed = time.Date(2026, 3, 4, 5, 6, 7, 89_000_000, time.UTC)

func TestMain(m *testing.M) {
	guard.Now = func() time.Time { return fixed }
	os.Exit(m.Run())
}

const (
	lb     = "10.0.0.1"
	client = "198.51.100.7"
	direct = "203.0.113.9"
)

type hs = map[string][]string

// rec is the record every test starts from: monitor mode, allowed.
func rec(mod func(r *record.Record)) record.Record {
	r := record.Record{
		Time:      "2026-03-04T05:06:07.089Z",
		Source:    "socket",
		Chain:     []string{},
		Reasons:   []string{},
		Action:    record.ActionAllowed,
		Mode:      guardconf.ModeMonitor,
		ServiceID: testService,
	}
	mod(&r)
	return r
}

type accessCase struct {
	name  string
	conf  string
	steps []step
}

func runCases(t *testing.T, cases []accessCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run(t, config(t, tc.conf), tc.steps...)
		})
	}
}

const (
	confXFFRec = `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"X-Forwarded-For","real_ip_recursive":true`
	confXFF    = `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"X-Forwarded-For"`
	confXRIP   = `{"trusted_ips":["10.0.0.0/8"]`
	confPP     = `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"proxy_protocol"`
)

func TestAccessResolution(t *testing.T) {
	runCases(t, []accessCase{
		{"default config, direct client", `{}`,
			gather(direct, hs{"user-agent": {"curl"}}, direct)},
		{"default config, direct client logged with log_when=all", `{"log_when":"all"}`,
			steps(gather(direct, hs{}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Verdict, r.Reasons = "direct", []string{verdict.ReasonPeerUntrusted}
			})))},
		{"default config, forged X-Forwarded-For", `{}`,
			steps(gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
			})))},
		{"default config, forged X-Real-IP shows in the chain", `{}`,
			steps(gather(direct, hs{"x-real-ip": {"1.2.3.4"}}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Chain = []string{"1.2.3.4"}
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
			})))},
		{"trusted LB, recursive X-Forwarded-For", confXFFRec + `}`,
			gather(lb, hs{"x-forwarded-for": {"203.0.113.50, " + client + ", 10.0.0.2"}}, client)},
		{"trusted LB, recursive X-Forwarded-For, logged", confXFFRec + `,"log_when":"all"}`,
			steps(gather(lb, hs{"x-forwarded-for": {"203.0.113.50, " + client, "10.0.0.2"}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
				r.Source = "X-Forwarded-For"
				r.Chain = []string{"203.0.113.50", client, "10.0.0.2"}
				r.Verdict = "ok"
			})))},
		// nginx passes bytes from 0x80 up in header values and Kong sends
		// them as they are; go-pdk's GetHeaders would fail the request.
		{"trusted LB, non-UTF-8 bytes before the client", confXFFRec + `,"log_when":"all"}`,
			steps(getIP(lb), step{method: "kong.request.get_headers", raw: rawHeader("x-forwarded-for", "\xc3\x28\xff, "+client)}, getForwardedIP(client),
				notice(rec(func(r *record.Record) {
					r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
					r.Source = "X-Forwarded-For"
					r.Chain = []string{"\ufffd(\ufffd", client}
					r.Verdict = "ok"
				})))},
		{"trusted LB, non-UTF-8 bytes as the client", confXFFRec + `,"log_when":"all"}`,
			steps(getIP(lb), step{method: "kong.request.get_headers", raw: rawHeader("x-forwarded-for", client+", \xff\xfe")}, getForwardedIP(lb),
				notice(rec(func(r *record.Record) {
					r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
					r.Chain = []string{client, "\ufffd"}
					r.Verdict, r.Reasons = "malformed", []string{verdict.ReasonSourceMalformed}
					r.Action = record.ActionWouldReject
				})))},
		{"trusted LB, X-Real-IP with a port", confXRIP + `,"log_when":"all"}`,
			steps(gather(lb, hs{"x-real-ip": {client + ":4711"}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.ClientPort, r.PeerIP, r.KongIP = client, 4711, lb, client
				r.Source = "X-Real-IP"
				r.Chain = []string{client + ":4711"}
				r.Verdict = "ok"
			})))},
		{"trusted LB over IPv4-mapped IPv6", confXRIP + `}`,
			gather("::ffff:10.0.0.1", hs{"x-real-ip": {client}}, client)},
		{"trusted unix socket peer", `{"trusted_ips":["unix:"],"log_when":"all"}`,
			steps(gather("unix:", hs{"x-real-ip": {client}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, "unix:", client
				r.Source = "X-Real-IP"
				r.Chain = []string{client}
				r.Verdict = "ok"
			})))},
		{"untrusted unix socket peer", `{"log_when":"all"}`,
			steps(gather("unix:", hs{}, "unix:"), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = "unix:", "unix:", "unix:"
				r.Verdict, r.Reasons = "direct", []string{verdict.ReasonPeerUntrusted}
			})))},
		{"PROXY protocol from the LB", confPP + `,"log_when":"all"}`,
			steps(gather(lb, hs{"x-forwarded-for": {"1.1.1.1"}}, client),
				getVar("proxy_protocol_addr", client), getVar("proxy_protocol_port", "5555"),
				notice(rec(func(r *record.Record) {
					r.ClientIP, r.ClientPort, r.PeerIP, r.KongIP = client, 5555, lb, client
					r.Source = "proxy_protocol"
					r.Chain = []string{client + ":5555"}
					// An L4 load balancer adds no header: the client sent it.
					r.Verdict, r.Reasons = "spoof_attempt", []string{verdict.ReasonBesideProxyProtocol}
				})))},
		{"PROXY protocol IPv6 source is bracketed in the chain", confPP + `,"log_when":"all"}`,
			steps(gather(lb, hs{}, "2001:db8::1"), getVar("proxy_protocol_addr", "2001:db8::1"), getVar("proxy_protocol_port", "5555"),
				notice(rec(func(r *record.Record) {
					r.ClientIP, r.ClientPort, r.PeerIP, r.KongIP = "2001:db8::1", 5555, lb, "2001:db8::1"
					r.Source = "proxy_protocol"
					r.Chain = []string{"[2001:db8::1]:5555"}
					r.Verdict = "ok"
				})))},
		{"PROXY protocol, ok costs five calls", confPP + `}`,
			steps(gather(lb, hs{}, client), getVar("proxy_protocol_addr", client), getVar("proxy_protocol_port", "5555"))},
		{"PROXY protocol expected but absent", confPP + `}`,
			steps(gather(lb, hs{}, lb), getVar("proxy_protocol_addr", ""), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonSourceMissing}
			})))},
		{"PROXY protocol from an untrusted peer", confPP + `}`,
			steps(gather(direct, hs{}, direct), getVar("proxy_protocol_addr", client), getVar("proxy_protocol_port", "5555"),
				notice(rec(func(r *record.Record) {
					r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
					r.Chain = []string{client + ":5555"}
					r.Verdict = "spoof_attempt"
					r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonProxyFromUntrusted}
				})))},
		{"Forwarded, which Kong cannot read: no drift", `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"Forwarded","real_ip_recursive":true,"log_when":"all"}`,
			steps(gather(lb, hs{"forwarded": {`for=198.51.100.7;proto=https, for="10.0.0.2:8080"`}}, lb), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, lb
				r.Source = "Forwarded"
				r.Chain = []string{client, `"10.0.0.2:8080"`}
				r.Verdict = "ok"
			})))},
		{"Forwarded from an untrusted peer", `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"Forwarded"}`,
			steps(gather(direct, hs{"forwarded": {"for=1.2.3.4"}}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Chain = []string{"1.2.3.4"}
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
			})))},
		{"custom header", `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"CF-Connecting-IP","log_when":"all"}`,
			steps(gather(lb, hs{"cf-connecting-ip": {client, "1.1.1.1"}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
				r.Source = "cf-connecting-ip"
				r.Chain = []string{client}
				r.Verdict, r.Reasons = "smuggled", []string{verdict.ReasonMultipleLines}
				r.Action = record.ActionWouldReject
			})))},
		{"headers cut at Kong's maximum", confXRIP + `,"log_when":"all"}`,
			steps(gather(lb, hs{"x-real-ip": {client}, "x-junk": make([]string, guard.MaxHeaders-1)}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
				r.Source = "X-Real-IP"
				r.Chain = []string{client}
				r.Verdict, r.Reasons = "malformed", []string{verdict.ReasonHeadersTruncated}
				r.Action = record.ActionWouldReject
			})))},
		{"scope keys reach the record", `{"route_id":"r-1","service_id":"s-1","plugin_instance_name":"edge"}`,
			steps(gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
				r.RouteID, r.ServiceID, r.Instance = "r-1", "s-1", "edge"
			})))},
	})
}

func TestAccessAnomalies(t *testing.T) {
	runCases(t, []accessCase{
		{"config drift: Kong does not trust the LB", confXFF + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}}, lb), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, lb
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client}
				r.Verdict, r.Reasons = "config_drift", []string{verdict.ReasonKongDiffers}
				r.Action = record.ActionWouldReject
			})))},
		{"config drift: Kong trusts a peer the plugin does not", `{}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, client
				r.Verdict = "config_drift"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust, verdict.ReasonKongDiffers}
				r.Action = record.ActionWouldReject
			})))},
		{"config drift: Kong walks recursively, the plugin does not", confXFF + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {client + ", 10.0.0.2"}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = "10.0.0.2", lb, client
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client, "10.0.0.2"}
				r.Verdict = "config_drift"
				r.Reasons = []string{verdict.ReasonResolvedTrusted, verdict.ReasonKongDiffers}
				r.Action = record.ActionWouldReject
			})))},
		{"lb_ip_leak: trusted peer, no header", confXRIP + `}`,
			steps(gather(lb, hs{}, lb), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonSourceMissing}
			})))},
		{"lb_ip_leak: non-recursive chain ends on a trusted hop", confXFF + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {client + ", 10.0.0.2"}}, "10.0.0.2"), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = "10.0.0.2", lb, "10.0.0.2"
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client, "10.0.0.2"}
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonResolvedTrusted}
			})))},
		{"malformed entry", confXFF + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {"garbage"}}, lb), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
				r.Chain = []string{"garbage"}
				r.Verdict, r.Reasons = "malformed", []string{verdict.ReasonSourceMalformed}
				r.Action = record.ActionWouldReject
			})))},
		{"malformed entry stops a recursive walk on a proxy", confXFFRec + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {client + ":0, 10.0.0.2"}}, "10.0.0.2"), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = "10.0.0.2", lb, "10.0.0.2"
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client + ":0", "10.0.0.2"}
				r.Verdict, r.Reasons = "malformed", []string{verdict.ReasonSourceMalformed, verdict.ReasonWalkStopped}
				r.Action = record.ActionWouldReject
			})))},
	})
}

func TestAccessEnforcement(t *testing.T) {
	denyConf := confXFF + `,"deny":["198.51.100.0/24"]`
	runCases(t, []accessCase{
		{"denied in monitor: would_reject, no exit", denyConf + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client}
				r.Verdict, r.Reasons = "denied", []string{verdict.ReasonDenyListed}
				r.Action = record.ActionWouldReject
			})))},
		{"denied in enforce: exit is the last call", denyConf + `,"mode":"enforce","status":451,"message":"go away"}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}}, client), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client}
				r.Verdict, r.Reasons = "denied", []string{verdict.ReasonDenyListed}
				r.Action, r.Mode = record.ActionRejected, guardconf.ModeEnforce
			})), exit(451, "go away"))},
		{"not on the allow list, logging off: exit only", confXFF + `,"allow":["192.0.2.0/24"],"mode":"enforce","log_when":"off"}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}}, client), exit(403, guardconf.DefaultMessage))},
		{"on the allow list", confXFF + `,"allow":["198.51.100.0/24"],"mode":"enforce"}`,
			gather(lb, hs{"x-forwarded-for": {client}}, client)},
		{"a message that is not valid JSON text stays valid JSON", denyConf + ",\"mode\":\"enforce\",\"log_when\":\"off\",\"message\":\"bell\\u0007 \\\"q\\\" \\\\ </x>\"}",
			steps(gather(lb, hs{"x-forwarded-for": {client}}, client), exit(403, "bell\a \"q\" \\ </x>"))},
		{"spoof rejected in enforce with require_trusted_peer", `{"mode":"enforce","require_trusted_peer":true}`,
			steps(gather(direct, hs{"x-real-ip": {"1.2.3.4"}}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Chain = []string{"1.2.3.4"}
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
				r.Action, r.Mode = record.ActionRejected, guardconf.ModeEnforce
			})), exit(403, guardconf.DefaultMessage))},
		{"lb_ip_leak is not rejected by default", confXRIP + `,"mode":"enforce"}`,
			steps(gather(lb, hs{}, lb), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonSourceMissing}
				r.Mode = guardconf.ModeEnforce
			})))},
		{"require_trusted_peer rejects direct clients", `{"require_trusted_peer":true,"mode":"enforce"}`,
			steps(gather(direct, hs{}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Verdict, r.Reasons = "direct", []string{verdict.ReasonPeerUntrusted}
				r.Action, r.Mode = record.ActionRejected, guardconf.ModeEnforce
			})), exit(403, guardconf.DefaultMessage))},
		{"require_trusted_peer in monitor logs the direct client", `{"require_trusted_peer":true}`,
			steps(gather(direct, hs{}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Verdict, r.Reasons = "direct", []string{verdict.ReasonPeerUntrusted}
				r.Action = record.ActionWouldReject
			})))},
		{"require_trusted_peer lets the LB through", confXRIP + `,"require_trusted_peer":true,"mode":"enforce"}`,
			gather(lb, hs{"x-real-ip": {client}}, client)},
		{"custom reject list: lb_ip_leak rejected", confXRIP + `,"mode":"enforce","reject":["lb_ip_leak"]}`,
			steps(gather(lb, hs{}, lb), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonSourceMissing}
				r.Action, r.Mode = record.ActionRejected, guardconf.ModeEnforce
			})), exit(403, guardconf.DefaultMessage))},
		{"custom reject list: spoof only logged", confXRIP + `,"mode":"enforce","reject":["lb_ip_leak"]}`,
			steps(gather(direct, hs{"x-real-ip": {"1.2.3.4"}}, direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Chain = []string{"1.2.3.4"}
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
				r.Mode = guardconf.ModeEnforce
			})))},
	})
}

func TestAccessUpstreamHeader(t *testing.T) {
	conf := confXFFRec + `,"upstream_header":"X-Client-IP"`
	runCases(t, []accessCase{
		{"verified client is set", conf + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}, "x-client-ip": {"6.6.6.6"}}, client), setHeader("X-Client-IP", client))},
		{"direct client is the peer", conf + `}`,
			steps(gather(direct, hs{}, direct), setHeader("X-Client-IP", direct))},
		{"spoofing client gets its own address", conf + `}`,
			steps(gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct), setHeader("X-Client-IP", direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Chain = []string{"1.2.3.4"}
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
			})))},
		{"cleared when the LB sent nothing", conf + `}`,
			steps(gather(lb, hs{"x-client-ip": {"6.6.6.6"}}, lb), clearHeader("X-Client-IP"), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = lb, lb, lb
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonSourceMissing}
			})))},
		{"cleared when the chain is all proxies", conf + `}`,
			steps(gather(lb, hs{"x-forwarded-for": {"10.0.0.3, 10.0.0.2"}}, "10.0.0.3"), clearHeader("X-Client-IP"), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = "10.0.0.3", lb, "10.0.0.3"
				r.Source = "X-Forwarded-For"
				r.Chain = []string{"10.0.0.3", "10.0.0.2"}
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonResolvedTrusted}
			})))},
		{"cleared for a unix peer", `{"trusted_ips":["unix:"],"upstream_header":"X-Client-IP"}`,
			steps(gather("unix:", hs{}, "unix:"), clearHeader("X-Client-IP"), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = "unix:", "unix:", "unix:"
				r.Verdict, r.Reasons = "lb_ip_leak", []string{verdict.ReasonSourceMissing}
			})))},
		{"untouched when the request is rejected", conf + `,"mode":"enforce","require_trusted_peer":true,"log_when":"off"}`,
			steps(gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct), exit(403, guardconf.DefaultMessage))},
	})
}

func TestAccessStrip(t *testing.T) {
	conf := `{"trusted_ips":["10.0.0.0/8"],"real_ip_header":"CF-Connecting-IP","strip_untrusted_forwarding":true,"log_when":"off"`
	forged := hs{"forwarded": {"for=1.1.1.1"}, "x-real-ip": {"2.2.2.2"}, "cf-connecting-ip": {"3.3.3.3"}, "x-forwarded-for": {"4.4.4.4", "5.5.5.5"}, "accept": {"*/*"}}
	runCases(t, []accessCase{
		{"every forwarding header of an untrusted peer, once each, in a fixed order", conf + `}`,
			steps(gather(direct, forged, direct),
				clearHeader("x-forwarded-for"), clearHeader("x-real-ip"), clearHeader("forwarded"), clearHeader("cf-connecting-ip"))},
		{"only the headers present", conf + `}`,
			steps(gather(direct, hs{"x-real-ip": {"2.2.2.2"}}, direct), clearHeader("x-real-ip"))},
		{"nothing to strip", conf + `}`,
			gather(direct, hs{"accept": {"*/*"}}, direct)},
		{"a trusted peer's headers are kept", conf + `}`,
			gather(lb, forged, "3.3.3.3")},
		{"strip before the upstream header", conf + `,"upstream_header":"X-Client-IP"}`,
			steps(gather(direct, hs{"x-real-ip": {"2.2.2.2"}}, direct), clearHeader("x-real-ip"), setHeader("X-Client-IP", direct))},
		{"nothing stripped from a rejected request", conf + `,"mode":"enforce","require_trusted_peer":true}`,
			steps(gather(direct, forged, direct), exit(403, guardconf.DefaultMessage))},
	})
}

func spoofRecord(mod func(r *record.Record)) record.Record {
	return rec(func(r *record.Record) {
		r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
		r.Verdict = "spoof_attempt"
		r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
		if mod != nil {
			mod(r)
		}
	})
}

func TestAccessLogging(t *testing.T) {
	spoof := gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct)
	runCases(t, []accessCase{
		{"kong sink", `{"log_sink":"kong"}`, steps(spoof, notice(spoofRecord(nil)))},
		{"serializer sink", `{"log_sink":"serializer"}`, steps(spoof, serialized(spoofRecord(nil)))},
		{"serializer sink, ok request with log_when=all", confXFFRec + `,"log_sink":"serializer","log_when":"all"}`,
			steps(gather(lb, hs{"x-forwarded-for": {client}}, client), serialized(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = client, lb, client
				r.Source = "X-Forwarded-For"
				r.Chain = []string{client}
				r.Verdict = "ok"
			})))},
		{"log_when=off", `{"log_when":"off"}`, spoof},
		{"log_when=anomalies skips ok", confXFFRec + `,"log_when":"anomalies"}`, gather(lb, hs{"x-forwarded-for": {client}}, client)},
		{"log_when=anomalies skips direct", `{}`, gather(direct, hs{}, direct)},
		{"log_ports", `{"log_ports":true}`,
			steps(spoof, getPort(40123), notice(spoofRecord(func(r *record.Record) { r.PeerPort, r.ClientPort = 40123, 40123 })))},
		{"log_ports keeps the forwarded port", confXRIP + `,"log_ports":true,"log_when":"all"}`,
			steps(gather(lb, hs{"x-real-ip": {client + ":4711"}}, client), getPort(40123), notice(rec(func(r *record.Record) {
				r.ClientIP, r.ClientPort, r.PeerIP, r.PeerPort, r.KongIP = client, 4711, lb, 40123, client
				r.Source = "X-Real-IP"
				r.Chain = []string{client + ":4711"}
				r.Verdict = "ok"
			})))},
		{"log_ports without a record costs nothing", `{"log_ports":true}`, gather(direct, hs{}, direct)},
	})
}

func TestAccessFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard.log")
	cfg := config(t, fmt.Sprintf(`{"log_sink":"file","log_path":%q}`, path))
	n := run(t, cfg, gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct)...)
	assert.Equal(t, 3, n, "the file sink costs no PDK call")
	n = run(t, cfg, gather(direct, hs{"x-real-ip": {"5.6.7.8"}}, direct)...)
	assert.Equal(t, 3, n)

	var lines []string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(lines) == 2
	}, 5*time.Second, 10*time.Millisecond, "two lines reach the file")
	got, ok := decodeRecord(t, []byte(lines[0]))
	require.True(t, ok)
	assert.Equal(t, spoofRecord(nil), got)
	got, ok = decodeRecord(t, []byte(lines[1]))
	require.True(t, ok)
	assert.Equal(t, spoofRecord(func(r *record.Record) { r.Chain = []string{"5.6.7.8"} }), got)
}

// stdoutLines captures what the process-wide stdout writer prints: the
// writer takes os.Stdout when first opened, so it is opened once, on a pipe.
var stdoutLines = sync.OnceValues(func() (*bufio.Reader, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()
	if _, err := sink.Open("-"); err != nil {
		return nil, err
	}
	return bufio.NewReader(r), nil
})

// TestAccessStdoutSink: the stdout sink costs no PDK call and writes the
// record as one line on the plugin process's stdout.
func TestAccessStdoutSink(t *testing.T) {
	out, err := stdoutLines()
	require.NoError(t, err)

	cfg := config(t, `{"log_sink":"stdout"}`)
	n := run(t, cfg, gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct)...)
	assert.Equal(t, 3, n, "the stdout sink costs no PDK call")

	line := make(chan string, 1)
	go func() {
		l, _ := out.ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		got, ok := decodeRecord(t, []byte(l))
		require.True(t, ok)
		assert.Equal(t, spoofRecord(nil), got)
	case <-time.After(5 * time.Second):
		t.Fatal("no record on stdout")
	}
}

func TestAccessFileSinkUnwritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "guard.log")
	cfg := config(t, fmt.Sprintf(`{"log_sink":"file","log_path":%q}`, path))
	run(t, cfg, steps(gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct), logErr("log_path", path))...)
}

// TestCallBudget pins the PDK call counts the handler's contract states.
func TestCallBudget(t *testing.T) {
	cases := []struct {
		name  string
		conf  string
		steps []step
		calls int
	}{
		{"default, ok", confXRIP + `}`, gather(lb, hs{"x-real-ip": {client}}, client), 3},
		{"default, direct", `{}`, gather(direct, hs{}, direct), 3},
		{"default, anomaly: one more for the record", `{}`, steps(gather(direct, hs{"x-real-ip": {"1.2.3.4"}}, direct), notice(spoofRecord(func(r *record.Record) { r.Chain = []string{"1.2.3.4"} }))), 4},
		{"default, anomaly with serializer", `{"log_sink":"serializer"}`, steps(gather(direct, hs{"x-real-ip": {"1.2.3.4"}}, direct), serialized(spoofRecord(func(r *record.Record) { r.Chain = []string{"1.2.3.4"} }))), 4},
		{"proxy_protocol, ok", confPP + `}`, steps(gather(lb, hs{}, client), getVar("proxy_protocol_addr", client), getVar("proxy_protocol_port", "1")), 5},
		{"enforce, rejected: record and exit", `{"mode":"enforce","require_trusted_peer":true}`, steps(gather(direct, hs{"x-real-ip": {"1.2.3.4"}}, direct), notice(spoofRecord(func(r *record.Record) {
			r.Chain = []string{"1.2.3.4"}
			r.Action, r.Mode = record.ActionRejected, guardconf.ModeEnforce
		})), exit(403, guardconf.DefaultMessage)), 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.calls, run(t, config(t, tc.conf), tc.steps...))
		})
	}
}

func TestAccessInvalidConfig(t *testing.T) {
	cases := []struct {
		name, conf, field, value string
	}{
		{"bad CIDR", `"trusted_ips":["10.0.0.0/33"]`, "trusted_ips", "10.0.0.0/33"},
		{"status 700", `"status":700`, "status", "700"},
		{"bad log_sink", `"log_sink":"syslog"`, "log_sink", "syslog"},
		{"file sink without path", `"log_sink":"file"`, "log_path", ""},
		{"bad reject entry", `"reject":["spoof"]`, "reject", "spoof"},
		{"bad deny entry", `"deny":["1.2.3.4/99"]`, "deny", "1.2.3.4/99"},
		{"upstream_header Kong overrides", `"upstream_header":"X-Forwarded-For"`, "upstream_header", "X-Forwarded-For"},
	}
	good := config(t, confXRIP+`}`)
	for _, tc := range cases {
		t.Run(tc.name+", enforce fails closed", func(t *testing.T) {
			bad := config(t, `{"mode":"enforce",`+tc.conf+`}`)
			_, err := (*guardconf.Config)(bad).Policy()
			require.Error(t, err)
			n := run(t, bad, logErr(tc.field, fmt.Sprintf("%q", tc.value)), exit(500, "An unexpected error occurred"))
			assert.Equal(t, 2, n, "the request is failed without reading it")
			// The same instance keeps failing closed.
			run(t, bad, logErr(tc.field), exit(500, "An unexpected error occurred"))
			// Other instances are unaffected.
			run(t, good, gather(lb, hs{"x-real-ip": {client}}, client)...)
		})
		t.Run(tc.name+", monitor lets traffic through", func(t *testing.T) {
			bad := config(t, `{`+tc.conf+`}`)
			n := run(t, bad, logErr(tc.field, fmt.Sprintf("%q", tc.value), "monitor mode"))
			assert.Equal(t, 1, n, "the error is logged and the request passes")
			// Within the minute the error is not logged again.
			assert.Equal(t, 0, run(t, bad))
			run(t, good, gather(lb, hs{"x-real-ip": {client}}, client)...)
		})
	}
	// A mode that is neither monitor nor enforce fails closed: it may be a
	// misspelt enforce.
	bad := config(t, `{"mode":"block"}`)
	run(t, bad, logErr("mode", `"block"`), exit(500, "An unexpected error occurred"))
}

func TestAccessPanicRecovered(t *testing.T) {
	saved := guard.Now
	t.Cleanup(func() { guard.Now = saved })
	guard.Now = func() time.Time { panic("clock broke") }
	cfg := config(t, `{"log_when":"all","mode":"enforce"}`)
	run(t, cfg, steps(gather(direct, hs{}, direct), logErr("internal error", "clock broke"), exit(500, "An unexpected error occurred"))...)

	guard.Now = func() time.Time { panic(fmt.Errorf("wrapped: %w", os.ErrClosed)) }
	run(t, cfg, steps(gather(direct, hs{}, direct), logErr("internal error", "wrapped: file already closed"), exit(500, "An unexpected error occurred"))...)

	// In monitor mode the request passes; the error is logged once a minute.
	mon := config(t, `{"log_when":"all"}`)
	run(t, mon, steps(gather(direct, hs{}, direct), logErr("internal error", "wrapped: file already closed", "monitor mode"))...)
	run(t, mon, gather(direct, hs{}, direct)...)
}

// TestAccessKongGone: when Kong drops the connection mid-event the guard
// tries to fail closed, and nothing panics out of the handler.
func TestAccessKongGone(t *testing.T) {
	for _, tc := range []struct {
		conf  string
		calls []string
	}{
		// enforce: log.err and exit, which cannot be delivered.
		{`{"mode":"enforce"}`, []string{"kong.client.get_ip", "kong.request.get_headers", "kong.log.err", "kong.response.exit"}},
		// monitor: log.err only; the request would pass.
		{`{}`, []string{"kong.client.get_ip", "kong.request.get_headers", "kong.log.err"}},
	} {
		cfg := config(t, tc.conf)
		c := script(getIP(direct), step{method: "kong.request.get_headers", noReply: true})
		assert.NotPanics(t, func() { cfg.Access(c.pdk()) })
		_ = c.plugin.Close()
		<-c.done
		assert.Empty(t, c.errs.msg)
		got := c.plugin.Attempted()
		require.Len(t, got, len(tc.calls), "%s: %v", tc.conf, got)
		assert.Equal(t, tc.calls[:2], got[:2])
	}
}

func TestAccessConcurrent(t *testing.T) {
	cfg := config(t, confXFFRec+`,"deny":["192.0.2.0/24"],"upstream_header":"X-Client-IP"}`)
	p0, err := (*guardconf.Config)(cfg).Policy()
	require.NoError(t, err)

	const n = 64
	var wg sync.WaitGroup
	convs := make([]*conversation, n)
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("198.51.100.%d", i)
		var st []step
		switch i % 3 {
		case 0: // ok
			st = steps(gather(lb, hs{"x-forwarded-for": {ip + ", 10.0.0.2"}}, ip), setHeader("X-Client-IP", ip))
		case 1: // denied
			ip = fmt.Sprintf("192.0.2.%d", i)
			st = steps(gather(lb, hs{"x-forwarded-for": {ip}}, ip), setHeader("X-Client-IP", ip), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = ip, lb, ip
				r.Source = "X-Forwarded-For"
				r.Chain = []string{ip}
				r.Verdict, r.Reasons = "denied", []string{verdict.ReasonDenyListed}
				r.Action = record.ActionWouldReject
			})))
		default: // spoof
			st = steps(gather(direct, hs{"x-forwarded-for": {ip}}, direct), setHeader("X-Client-IP", direct), notice(rec(func(r *record.Record) {
				r.ClientIP, r.PeerIP, r.KongIP = direct, direct, direct
				r.Chain = []string{ip}
				r.Verdict = "spoof_attempt"
				r.Reasons = []string{verdict.ReasonPeerUntrusted, verdict.ReasonForwardingFromUntrust}
			})))
		}
		convs[i] = script(st...)
	}
	policies := make([]*guardconf.Policy, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg.Access(convs[i].pdk())
			policies[i], _ = (*guardconf.Config)(cfg).Policy()
		}()
	}
	wg.Wait()
	for i, c := range convs {
		c.finish(t)
		assert.Same(t, p0, policies[i], "compiled once, shared by every event")
	}
}

// TestPhases: Kong runs the rewrite phase for global instances only, and
// access for every instance that applies (kong/init.lua:1169 and 1203 at
// 3.9.3). A global instance judges in rewrite, before Kong copies the
// request's X-Forwarded-For upstream, so strip can remove a forged one;
// its access event then makes no call. A scoped instance judges in access.
func TestPhases(t *testing.T) {
	conf := `{"strip_untrusted_forwarding":true,"log_when":"off"}`
	forged := steps(gather(direct, hs{"x-forwarded-for": {"1.2.3.4"}}, direct), clearHeader("x-forwarded-for"))

	global := globalConfig(t, conf)
	c := script(forged...)
	global.Rewrite(c.pdk())
	assert.Equal(t, 4, c.finish(t), "a global instance judges in rewrite")
	c = script()
	global.Access(c.pdk())
	assert.Equal(t, 0, c.finish(t), "and does nothing in access")

	scoped := config(t, conf)
	c = script()
	scoped.Rewrite(c.pdk())
	assert.Equal(t, 0, c.finish(t), "Kong never runs rewrite for a scoped instance; if asked, it does nothing")
	assert.Equal(t, 4, run(t, scoped, forged...), "a scoped instance judges in access")
}

// TestUnderscoreStrip: an underscore spelling is cleared under the name
// Kong's get_headers gave, behind a trusted peer too.
func TestUnderscoreStrip(t *testing.T) {
	conf := confXFF + `,"strip_untrusted_forwarding":true,"log_when":"off"}`
	run(t, config(t, conf), steps(
		gather(lb, hs{"x_forwarded_for": {"6.6.6.6"}, "x-forwarded-for": {client}}, client),
		clearHeader("x_forwarded_for"))...)
}
