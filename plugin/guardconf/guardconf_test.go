package guardconf_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

func TestDefaults(t *testing.T) {
	p, err := guardconf.Compile(&guardconf.Config{})
	require.NoError(t, err)
	assert.Equal(t, realip.KindXRealIP, p.Resolver.Kind())
	assert.False(t, p.Resolver.Recursive())
	assert.True(t, p.Resolver.Trusted().Empty())
	assert.False(t, p.Enforce)
	assert.False(t, p.RequirePeer)
	assert.Equal(t, 403, p.Status)
	assert.Equal(t, guardconf.DefaultMessage, p.Message)
	assert.Equal(t, verdict.NewSet(verdict.Smuggled, verdict.Malformed, verdict.ConfigDrift, verdict.Denied), p.Reject)
	assert.False(t, p.Reject.Has(verdict.SpoofAttempt), "clients behind forward proxies send X-Forwarded-For")
	assert.False(t, p.Reject.Has(verdict.LBIPLeak), "health checks from the LB are not rejected by default")
	assert.False(t, p.Reject.Has(verdict.Direct))
	assert.Empty(t, p.UpstreamHdr)
	assert.False(t, p.Strip)
	assert.Equal(t, guardconf.LogAnomalies, p.LogWhen)
	assert.Equal(t, guardconf.SinkKong, p.Sink)
	assert.Empty(t, p.LogPath)
	assert.False(t, p.LogPorts)
	assert.Empty(t, p.Warnings)
	assert.False(t, p.TrustAllWarns)
	assert.False(t, p.HasAllowDeny())
	denied, reason := p.AllowDeny(netip.MustParseAddr("1.2.3.4"))
	assert.False(t, denied)
	assert.Empty(t, reason)
}

func TestCompileValid(t *testing.T) {
	cases := []struct {
		name  string
		cfg   *guardconf.Config
		check func(t *testing.T, p *guardconf.Policy)
	}{
		{"X-Forwarded-For recursive", &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, realip.KindXForwardedFor, p.Resolver.Kind())
				assert.True(t, p.Resolver.Recursive())
				assert.True(t, p.Resolver.Trusted().Contains(netip.MustParseAddr("10.9.9.9")))
			}},
		{"header trimmed", &guardconf.Config{RealIPHeader: "  X-Forwarded-For "},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, realip.KindXForwardedFor, p.Resolver.Kind()) }},
		{"header name is case-sensitive as in nginx", &guardconf.Config{RealIPHeader: "x-forwarded-for"},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, realip.KindCustom, p.Resolver.Kind())
				assert.Equal(t, "x-forwarded-for", p.Resolver.HeaderName())
			}},
		{"proxy_protocol", &guardconf.Config{RealIPHeader: "proxy_protocol"},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, realip.KindProxyProtocol, p.Resolver.Kind()) }},
		{"custom header", &guardconf.Config{RealIPHeader: "CF-Connecting-IP"},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, realip.KindCustom, p.Resolver.Kind())
				assert.Equal(t, "cf-connecting-ip", p.Resolver.HeaderName())
			}},
		{"Forwarded in any case", &guardconf.Config{RealIPHeader: "fOrWaRdEd", RealIPRecursive: true},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, realip.KindForwarded, p.Resolver.Kind())
				assert.True(t, p.Resolver.Recursive())
			}},
		{"enforce, case and space tolerant", &guardconf.Config{Mode: " Enforce "},
			func(t *testing.T, p *guardconf.Policy) { assert.True(t, p.Enforce) }},
		{"monitor spelled out", &guardconf.Config{Mode: "monitor"},
			func(t *testing.T, p *guardconf.Policy) { assert.False(t, p.Enforce) }},
		{"status and message", &guardconf.Config{Status: 451, Message: "go away"},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, 451, p.Status)
				assert.Equal(t, "go away", p.Message)
			}},
		{"status bounds", &guardconf.Config{Status: 100},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, 100, p.Status) }},
		{"status upper bound", &guardconf.Config{Status: 599},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, 599, p.Status) }},
		{"custom reject list replaces the default", &guardconf.Config{Reject: []string{"lb_ip_leak", " direct "}},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, verdict.NewSet(verdict.LBIPLeak, verdict.Direct), p.Reject)
			}},
		{"empty reject list rejects nothing", &guardconf.Config{Reject: []string{}},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, verdict.NewSet(), p.Reject) }},
		{"require_trusted_peer adds direct", &guardconf.Config{RequireTrustedPeer: true},
			func(t *testing.T, p *guardconf.Policy) {
				assert.True(t, p.RequirePeer)
				assert.True(t, p.Reject.Has(verdict.Direct))
			}},
		{"require_trusted_peer with a custom list", &guardconf.Config{RequireTrustedPeer: true, Reject: []string{"denied"}},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, verdict.NewSet(verdict.Denied, verdict.Direct), p.Reject)
			}},
		{"upstream header and strip", &guardconf.Config{UpstreamHeader: " X-Client-IP ", StripUntrustedForwarding: true},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, "X-Client-IP", p.UpstreamHdr)
				assert.True(t, p.Strip)
			}},
		{"log_when all", &guardconf.Config{LogWhen: "ALL"},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, guardconf.LogAll, p.LogWhen) }},
		{"log_when off", &guardconf.Config{LogWhen: "off"},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, guardconf.LogOff, p.LogWhen) }},
		{"serializer sink", &guardconf.Config{LogSink: "Serializer"},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, guardconf.SinkSerializer, p.Sink) }},
		{"stdout sink", &guardconf.Config{LogSink: "stdout"},
			func(t *testing.T, p *guardconf.Policy) { assert.Equal(t, guardconf.SinkStdout, p.Sink) }},
		{"file sink", &guardconf.Config{LogSink: "file", LogPath: " /var/log/guard.log "},
			func(t *testing.T, p *guardconf.Policy) {
				assert.Equal(t, guardconf.SinkFile, p.Sink)
				assert.Equal(t, "/var/log/guard.log", p.LogPath)
			}},
		{"log_path ignored for other sinks", &guardconf.Config{LogPath: "/tmp/x"},
			func(t *testing.T, p *guardconf.Policy) { assert.Empty(t, p.LogPath) }},
		{"log_ports", &guardconf.Config{LogPorts: true},
			func(t *testing.T, p *guardconf.Policy) { assert.True(t, p.LogPorts) }},
		{"blank list entries are skipped", &guardconf.Config{TrustedIPs: []string{"", " "}, Allow: []string{" "}, Deny: []string{""}},
			func(t *testing.T, p *guardconf.Policy) {
				assert.True(t, p.Resolver.Trusted().Empty())
				assert.False(t, p.HasAllowDeny())
			}},
		{"unix trusted", &guardconf.Config{TrustedIPs: []string{"unix:"}},
			func(t *testing.T, p *guardconf.Policy) { assert.True(t, p.Resolver.Trusted().ContainsUnix()) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := guardconf.Compile(tc.cfg)
			require.NoError(t, err)
			require.NotNil(t, p)
			tc.check(t, p)
		})
	}
}

func TestCompileInvalid(t *testing.T) {
	cases := []struct {
		name  string
		cfg   *guardconf.Config
		field string
		value string
	}{
		{"bad CIDR", &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8", "10.0.0.0/33"}}, "trusted_ips", "10.0.0.0/8,10.0.0.0/33"},
		{"hostname trusted", &guardconf.Config{TrustedIPs: []string{"lb.example.com"}}, "trusted_ips", "lb.example.com"},
		{"zone trusted", &guardconf.Config{TrustedIPs: []string{"fe80::1%eth0"}}, "trusted_ips", "fe80::1%eth0"},
		{"header with a space", &guardconf.Config{RealIPHeader: "X Real IP"}, "real_ip_header", "X Real IP"},
		{"header with a colon", &guardconf.Config{RealIPHeader: "X-Real-IP:"}, "real_ip_header", "X-Real-IP:"},
		{"unknown mode", &guardconf.Config{Mode: "block"}, "mode", "block"},
		{"bad allow", &guardconf.Config{Allow: []string{"1.2.3.4", "nope"}}, "allow", "nope"},
		{"bad allow CIDR", &guardconf.Config{Allow: []string{"1.2.3.4/40"}}, "allow", "1.2.3.4/40"},
		{"zone allow", &guardconf.Config{Allow: []string{"fe80::1%1"}}, "allow", "fe80::1%1"},
		{"bad deny", &guardconf.Config{Deny: []string{"1.2.3"}}, "deny", "1.2.3"},
		{"zone deny CIDR", &guardconf.Config{Deny: []string{"fe80::%1/64"}}, "deny", "fe80::%1/64"},
		{"status 700", &guardconf.Config{Status: 700}, "status", "700"},
		{"status 99", &guardconf.Config{Status: 99}, "status", "99"},
		{"negative status", &guardconf.Config{Status: -1}, "status", "-1"},
		{"bad reject entry", &guardconf.Config{Reject: []string{"denied", "evil"}}, "reject", "evil"},
		{"ok cannot be rejected", &guardconf.Config{Reject: []string{"ok"}}, "reject", "ok"},
		{"reject is case-sensitive", &guardconf.Config{Reject: []string{"Denied"}}, "reject", "Denied"},
		{"bad upstream header", &guardconf.Config{UpstreamHeader: "X-Client IP"}, "upstream_header", "X-Client IP"},
		{"bad log_when", &guardconf.Config{LogWhen: "sometimes"}, "log_when", "sometimes"},
		{"bad log_sink", &guardconf.Config{LogSink: "syslog"}, "log_sink", "syslog"},
		{"file sink without path", &guardconf.Config{LogSink: "file"}, "log_path", ""},
		{"file sink with blank path", &guardconf.Config{LogSink: "file", LogPath: "  "}, "log_path", "  "},
		{"upstream_header Kong sets itself", &guardconf.Config{UpstreamHeader: "x-real-ip"}, "upstream_header", "x-real-ip"},
		{"upstream_header X-Forwarded-For", &guardconf.Config{UpstreamHeader: "X-Forwarded-For"}, "upstream_header", "X-Forwarded-For"},
		{"upstream_header Host", &guardconf.Config{UpstreamHeader: "Host"}, "upstream_header", "Host"},
		{"allow/deny that can never reject", &guardconf.Config{Mode: "enforce", Allow: []string{"10.0.0.0/8"}, Reject: []string{}}, "reject", ""},
		{"deny without denied in reject", &guardconf.Config{Mode: "enforce", Deny: []string{"10.0.0.0/8"}, Reject: []string{"malformed"}}, "reject", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := guardconf.Compile(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, p)
			var ce *guardconf.Error
			require.True(t, errors.As(err, &ce), "a *guardconf.Error, got %T", err)
			assert.Equal(t, tc.field, ce.Field)
			assert.Equal(t, tc.value, ce.Value)
			assert.NotEmpty(t, ce.Why)
			msg := err.Error()
			assert.Contains(t, msg, tc.field)
			assert.Contains(t, msg, `"`+tc.value+`"`, "the message quotes the value")
			assert.Contains(t, msg, "client-ip-guard config")
		})
	}
}

// TestMappedCIDRs: a v4-mapped CIDR in allow/deny means the IPv4 range,
// which is how addresses are matched (ngx_cidr_match unmaps too).
func TestMappedCIDRs(t *testing.T) {
	p, err := guardconf.Compile(&guardconf.Config{Deny: []string{"::ffff:192.0.2.0/120", "::ffff:198.51.100.7"}})
	require.NoError(t, err)
	for _, a := range []string{"192.0.2.1", "::ffff:192.0.2.255", "198.51.100.7"} {
		denied, reason := p.AllowDeny(netip.MustParseAddr(a))
		assert.True(t, denied, a)
		assert.Equal(t, verdict.ReasonDenyListed, reason)
	}
	denied, _ := p.AllowDeny(netip.MustParseAddr("192.0.3.1"))
	assert.False(t, denied)
}

func TestFailOpenAndScope(t *testing.T) {
	for mode, open := range map[string]bool{"": true, "monitor": true, " Monitor ": true, "enforce": false, "enforcee": false, "block": false} {
		assert.Equal(t, open, (&guardconf.Config{Mode: mode}).FailOpen(), "%q", mode)
	}
	assert.True(t, guardconf.Scope{PluginID: "p"}.Global())
	assert.False(t, guardconf.Scope{RouteID: "r"}.Global())
	assert.False(t, guardconf.Scope{ServiceID: "s"}.Global())
	assert.False(t, guardconf.Scope{ConsumerID: "c"}.Global())
}

func TestErrorReportDue(t *testing.T) {
	c := &guardconf.Config{}
	t0 := time.Unix(1000, 0)
	assert.True(t, c.ErrorReportDue(t0, time.Minute))
	assert.False(t, c.ErrorReportDue(t0.Add(59*time.Second), time.Minute))
	assert.True(t, c.ErrorReportDue(t0.Add(61*time.Second), time.Minute))
}

func TestWarnings(t *testing.T) {
	cases := []struct {
		name     string
		cfg      *guardconf.Config
		warnings []string
		trustAll bool
	}{
		{"clean", &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}}, nil, false},
		{"host bits", &guardconf.Config{TrustedIPs: []string{"10.1.2.3/8", "192.0.2.1/32"}},
			[]string{"trusted_ips entry 10.1.2.3/8: low address bits are meaningless; matches 10.0.0.0/8"}, false},
		{"trust all v4", &guardconf.Config{TrustedIPs: []string{"0.0.0.0/0"}},
			[]string{"trusted_ips trusts every address with a header source: any client can forge its address"}, true},
		{"trust all v6 via halves", &guardconf.Config{TrustedIPs: []string{"::/1", "8000::/1"}, RealIPHeader: "X-Forwarded-For"},
			[]string{"trusted_ips trusts every address with a header source: any client can forge its address"}, true},
		{"trust all is fine with PROXY protocol", &guardconf.Config{TrustedIPs: []string{"0.0.0.0/0", "::/0"}, RealIPHeader: "proxy_protocol"},
			nil, true},
		{"both", &guardconf.Config{TrustedIPs: []string{"1.2.3.4/0"}},
			[]string{
				"trusted_ips entry 1.2.3.4/0: low address bits are meaningless; matches 0.0.0.0/0",
				"trusted_ips trusts every address with a header source: any client can forge its address",
			}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := guardconf.Compile(tc.cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.warnings, p.Warnings)
			assert.Equal(t, tc.trustAll, p.TrustAllWarns)
		})
	}
}

func TestAllowDeny(t *testing.T) {
	cases := []struct {
		name        string
		allow, deny []string
		addr        string
		denied      bool
		reason      string
	}{
		{"no lists", nil, nil, "1.2.3.4", false, ""},
		{"deny hit", nil, []string{"1.2.3.0/24"}, "1.2.3.4", true, verdict.ReasonDenyListed},
		{"deny miss", nil, []string{"1.2.3.0/24"}, "1.2.4.4", false, ""},
		{"allow hit", []string{"192.0.2.0/24"}, nil, "192.0.2.9", false, ""},
		{"allow miss", []string{"192.0.2.0/24"}, nil, "192.0.3.9", true, verdict.ReasonNotAllowListed},
		{"deny before allow", []string{"192.0.2.0/24"}, []string{"192.0.2.9"}, "192.0.2.9", true, verdict.ReasonDenyListed},
		{"allowed neighbour of a denied address", []string{"192.0.2.0/24"}, []string{"192.0.2.9"}, "192.0.2.10", false, ""},
		{"mapped address matches v4 deny", nil, []string{"1.2.3.4"}, "::ffff:1.2.3.4", true, verdict.ReasonDenyListed},
		{"mapped address matches v4 allow", []string{"1.2.3.0/24"}, nil, "::ffff:1.2.3.4", false, ""},
		{"mapped entry matches plain v4", nil, []string{"::ffff:1.2.3.4"}, "1.2.3.4", true, verdict.ReasonDenyListed},
		{"v6 deny", nil, []string{"2001:db8::/32"}, "2001:db8::1", true, verdict.ReasonDenyListed},
		{"v6 not allowed by v4 list", []string{"0.0.0.0/0"}, nil, "2001:db8::1", true, verdict.ReasonNotAllowListed},
		{"compat form is v6", []string{"1.2.3.4"}, nil, "::1.2.3.4", true, verdict.ReasonNotAllowListed},
		{"host bits masked", nil, []string{"10.1.2.3/8"}, "10.200.0.1", true, verdict.ReasonDenyListed},
		{"blank allow means no allow list", []string{" "}, nil, "8.8.8.8", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := guardconf.Compile(&guardconf.Config{Allow: tc.allow, Deny: tc.deny})
			require.NoError(t, err)
			denied, reason := p.AllowDeny(netip.MustParseAddr(tc.addr))
			assert.Equal(t, tc.denied, denied)
			assert.Equal(t, tc.reason, reason)
			assert.Equal(t, len(tc.allow)+len(tc.deny) > 0 && tc.name != "blank allow means no allow list", p.HasAllowDeny())
		})
	}
}

func TestUnmarshalJSON(t *testing.T) {
	raw := `{
		"trusted_ips": ["10.0.0.0/8"], "real_ip_header": "X-Forwarded-For", "real_ip_recursive": true,
		"mode": "enforce", "status": 429, "reject": ["denied"], "log_when": "all",
		"route_id": "r-1", "service_id": "s-1", "consumer_id": null, "plugin_instance_name": "edge",
		"__plugin_id": "p-1", "__seq__": 7, "__key__": "plugins:client-ip-guard:r-1"
	}`
	var c guardconf.Config
	require.NoError(t, json.Unmarshal([]byte(raw), &c))
	assert.Equal(t, guardconf.Scope{PluginID: "p-1", RouteID: "r-1", ServiceID: "s-1", InstanceName: "edge"}, c.Scope())
	p1, err := c.Policy()
	require.NoError(t, err)
	assert.True(t, p1.Resolver.Trusted().Contains(netip.MustParseAddr("10.1.2.3")))
	assert.False(t, p1.Resolver.Trusted().Contains(netip.MustParseAddr("11.1.2.3")))
	assert.True(t, p1.Enforce)
	assert.Equal(t, 429, p1.Status)
	assert.Equal(t, realip.KindXForwardedFor, p1.Resolver.Kind())
	p2, _ := c.Policy()
	assert.Same(t, p1, p2, "compiled once")

	// The lists, compiled, are released; compiling the decoded config
	// again is refused rather than done on empty lists.
	assert.Nil(t, c.TrustedIPs)
	_, err = guardconf.Compile(&c)
	var released *guardconf.Error
	require.ErrorAs(t, err, &released)
	assert.Equal(t, "trusted_ips", released.Field)

	var lists guardconf.Config
	require.NoError(t, json.Unmarshal([]byte(`{"allow":["10.0.0.0/8"],"deny":["10.9.0.0/16"]}`), &lists))
	assert.Nil(t, lists.Allow)
	assert.Nil(t, lists.Deny)
	pl, err := lists.Policy()
	require.NoError(t, err)
	assert.True(t, pl.HasAllowDeny())
	for addr, want := range map[string]string{"10.1.2.3": "", "10.9.0.1": verdict.ReasonDenyListed, "11.0.0.1": verdict.ReasonNotAllowListed} {
		_, reason := pl.AllowDeny(netip.MustParseAddr(addr))
		assert.Equal(t, want, reason, addr)
	}

	// Kong sends non-string scope values sometimes; the config still loads.
	var odd guardconf.Config
	require.NoError(t, json.Unmarshal([]byte(`{"mode":"monitor","route_id":{"id":"x"},"service_id":"s"}`), &odd))
	assert.Equal(t, "s", odd.Scope().ServiceID)
	_, err = odd.Policy()
	assert.NoError(t, err)

	// A semantic error is kept for the handler, not returned to go-pdk.
	var bad guardconf.Config
	require.NoError(t, json.Unmarshal([]byte(`{"trusted_ips":["nope"],"mode":"enforce"}`), &bad))
	p, err := bad.Policy()
	assert.Nil(t, p)
	var ce *guardconf.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "trusted_ips", ce.Field)
	assert.Equal(t, "nope", ce.Value)

	// A type mismatch is a decoding error.
	var typed guardconf.Config
	assert.Error(t, json.Unmarshal([]byte(`{"status":"403"}`), &typed))
}

func TestPolicyConcurrent(t *testing.T) {
	c := &guardconf.Config{TrustedIPs: []string{"10.0.0.0/8"}}
	var wg sync.WaitGroup
	got := make([]*guardconf.Policy, 32)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = c.Policy()
		}()
	}
	wg.Wait()
	require.NotNil(t, got[0])
	for _, p := range got {
		assert.Same(t, got[0], p)
	}
}

// TestSchemaDump builds the plugin server and checks what Kong reads from
// its -dump: the protocol, the plugin's name and phases, and a schema with
// one plain field per Config json tag.
func TestSchemaDump(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	dir := t.TempDir()
	require.NoError(t, testsupport.Build(dir, "github.com/client-ip-guard/client-ip-guard/plugin/cmd/client-ip-guard"))
	bin := filepath.Join(dir, "client-ip-guard")

	dump := exec.Command(bin, "-dump")
	var stdout bytes.Buffer
	dump.Stdout = &stdout
	dump.Stderr = io.Discard
	require.NoError(t, dump.Run())

	var info struct {
		Protocol string
		Plugins  []struct {
			Name     string
			Phases   []string
			Version  string
			Priority int
			Schema   struct {
				Name   string `json:"name"`
				Fields []map[string]struct {
					Type   string                       `json:"type"`
					Fields []map[string]json.RawMessage `json:"fields"`
				} `json:"fields"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &info), "dump: %s", stdout.String())
	assert.Equal(t, "ProtoBuf:1", info.Protocol)
	require.Len(t, info.Plugins, 1)
	pl := info.Plugins[0]
	assert.Equal(t, "client-ip-guard", pl.Name)
	assert.Equal(t, "client-ip-guard", pl.Schema.Name)
	assert.Equal(t, []string{"rewrite", "access"}, pl.Phases)
	assert.Equal(t, 1000, pl.Priority)
	assert.NotEmpty(t, pl.Version)

	var config []map[string]json.RawMessage
	for _, f := range pl.Schema.Fields {
		if c, ok := f["config"]; ok {
			assert.Equal(t, "record", c.Type)
			config = c.Fields
		}
	}
	require.NotEmpty(t, config, "schema has a config record")
	got := map[string]bool{}
	for _, f := range config {
		for name := range f {
			got[name] = true
		}
	}

	var want []string
	typ := reflect.TypeOf(guardconf.Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		require.NotEmpty(t, tag, "field %s has a json tag", f.Name)
		assert.NotContains(t, tag, ",", "field %s: go-pdk takes the whole tag as the name", f.Name)
		want = append(want, tag)
		assert.True(t, got[tag], "schema lacks %q", tag)
	}
	assert.Len(t, got, len(want), "schema has exactly the Config fields: %v", got)
}

// TestAllowDenyHotPathAllocs: the handler asks HasAllowDeny and AllowDeny
// on every request; neither may allocate.
func TestAllowDenyHotPathAllocs(t *testing.T) {
	for _, c := range []*guardconf.Config{
		{Allow: []string{"10.0.0.0/8", "2001:db8::/32"}, Deny: []string{"10.1.0.0/16", "192.0.2.1"}},
		{Deny: []string{"10.1.0.0/16", "192.0.2.1"}},
		{},
	} {
		p, err := guardconf.Compile(c)
		require.NoError(t, err)
		a := netip.MustParseAddr("::ffff:10.2.3.4")
		allocs := testing.AllocsPerRun(100, func() {
			if p.HasAllowDeny() {
				_, _ = p.AllowDeny(a)
			}
		})
		assert.Zero(t, allocs, "allow %v deny %v", c.Allow, c.Deny)
	}
}
