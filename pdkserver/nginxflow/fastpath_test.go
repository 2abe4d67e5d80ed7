package nginxflow

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/internal/loopback"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxdiff"
	"github.com/client-ip-guard/client-ip-guard/internal/nginxvar"
	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/plugin/evaluate"
	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// factsReturn is every test server's answer: the fast path's variable.
const factsReturn = `return 200 "$` + fastpath.Variable + `";`

// fastNginx is one nginx running the servers of the variants whose
// real_ip_header gives one include text (fastpath.Include).
type fastNginx struct {
	maps  []nginxvar.Map
	nginx *testsupport.Nginx
}

// TestFastPathAgainstNginx sends the nginxdiff corpus, rows of its own and
// random cases to a real nginx that loads fastpath.Include's map and
// answers $client_ip_guard_facts. It checks that nginxvar renders the same
// bytes, then that the fast path's evaluation (guard rule: an anomaly is
// judged again from the full path) equals the full path's for the same
// request but for what fastpath.Blind lists, where the fast path must see
// exactly the request as Blind describes it.
func TestFastPathAgainstNginx(t *testing.T) {
	bin := testsupport.NginxBin(t)
	line, err := testsupport.NginxVersion(bin)
	require.NoError(t, err)
	version, versionText := parseNginxVersion(t, line)
	variants, includes := startFastNginx(t, bin)
	cases := nginxdiff.Corpus(variants)
	cases = append(cases, fastRows(variants)...)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("NGINXDIFF_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	n := 3000
	if s := os.Getenv("NGINXDIFF_CASES"); s != "" {
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	gen := nginxdiff.NewGen(seed, variants)
	for i := 0; i < n; i++ {
		cases = append(cases, gen.Next())
	}
	t.Logf("%s; %d random cases (NGINXDIFF_CASES) from NGINXDIFF_SEED=%d", line, n, seed)

	var tally diffTally
	for i, c := range cases {
		name := fmt.Sprintf("%d %s %s %s", i, c.Variant.Name, listenerName(c.Listener), c.Name)
		inc := includes[includeFor(c.Variant.Conf.RealIPHeader)]
		raw, closed, err := sendFacts(c)
		require.NoError(t, err, "%s (%d bytes sent); nginx error log:\n%s", name, len(c.Bytes()), tail(inc.nginx.ErrorLog(), 3000))
		want := nginxdiff.ExpectProxy(c.Bytes())
		if closed {
			require.False(t, IsAccepted(c, want), "%s: nginx closed the connection", name)
			tally.closed++
			continue
		}
		rendered := render(t, c, inc.maps[0], version, versionText, want)
		if !assert.Equal(t, string(rendered), string(raw), "%s: nginx's $%s vs nginxvar's", name, fastpath.Variable) {
			continue
		}
		res := compareFast(t, name, c, raw, want)
		tally.add(res)
		if version.Major == 1 && version.Minor < 23 {
			assert.Equal(t, fastpath.Unavailable, res.status, "%s: nginx %s", name, versionText)
		}
		// Kong's nginx (1.25.3) joins the lines of every $http_ variable:
		// the same request through nginxvar's model of it. Where 1.22 and
		// 1.25 agree, these are real nginx's bytes with another version.
		model := render(t, c, inc.maps[0], nginxvar.V1_25, nginxvar.V1_25.String(), want)
		if bytes.Equal(model, bytes.Replace(raw, []byte("\n"+versionText+"\n"), []byte("\n"+nginxvar.V1_25.String()+"\n"), 1)) {
			tally.modelIsReal++
		}
		res = compareFast(t, name+" (nginx 1.25 model)", c, model, want)
		tally.addModel(res)
		if len(res.blind) > 0 {
			t.Logf("%s (nginx 1.25 model): differs as fastpath.Blind says: %s", name, strings.Join(classNames(res.blind), ", "))
		}
	}
	t.Logf("%d requests: %s", len(cases), tally.String())
}

// IsAccepted reports whether nginx should have answered c.
func IsAccepted(c *nginxdiff.Case, e nginxdiff.ProxyExpect) bool {
	return !nginxdiff.IsProxy(c.Listener) || e.Accept
}

func parseNginxVersion(t *testing.T, line string) (nginxvar.Version, string) {
	_, v, ok := strings.Cut(line, "nginx/")
	require.True(t, ok, line)
	v, _, _ = strings.Cut(v, " ")
	var major, minor int
	_, err := fmt.Sscanf(v, "%d.%d", &major, &minor)
	require.NoError(t, err, line)
	return nginxvar.Version{Major: major, Minor: minor}, v
}

func listenerName(i int) string {
	return [...]string{"v4", "v4+proxy", "v6", "v6+proxy", "mapped", "mapped+proxy"}[i]
}

// includeFor is the fastpath.Include source a variant's include is
// generated for: the fixed fields serve every built-in source.
func includeFor(header string) string {
	if strings.EqualFold(header, "CF-Connecting-IP") {
		return "CF-Connecting-IP"
	}
	return ""
}

// startFastNginx starts one nginx per include text, each with the servers
// of the nginxdiff variants it serves.
func startFastNginx(t *testing.T, bin string) ([]*nginxdiff.Variant, map[string]*fastNginx) {
	n := len(nginxdiff.TrustedSets) * len(nginxdiff.RealIPHeaders) * 2
	for attempt := 0; ; attempt++ {
		ports, err := nginxdiff.FreePorts(nginxdiff.NumListeners * n)
		require.NoError(t, err)
		variants, err := nginxdiff.BuildVariants(ports)
		require.NoError(t, err)
		includes, err := startIncludes(t, bin, variants)
		if err == nil {
			return variants, includes
		}
		if attempt == 2 || !strings.Contains(err.Error(), "Address already in use") {
			require.NoError(t, err)
		}
	}
}

func startIncludes(t *testing.T, bin string, variants []*nginxdiff.Variant) (map[string]*fastNginx, error) {
	out := map[string]*fastNginx{}
	for _, source := range []string{"", "CF-Connecting-IP"} {
		text, err := fastpath.Include(source)
		require.NoError(t, err)
		dir := t.TempDir()
		path := filepath.Join(dir, "client-ip-guard-fastpath.conf")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		maps, err := nginxvar.ParseMaps(path, []byte(text), knownVar)
		require.NoError(t, err)
		var confs []*nodeconf.Conf
		var addrs []string
		for _, v := range variants {
			if includeFor(v.Conf.RealIPHeader) != source {
				continue
			}
			confs = append(confs, v.Conf)
			for _, l := range v.Listeners {
				addrs = append(addrs, l.String())
			}
		}
		conf := nginxconf.Config(nginxconf.Options{Dir: dir, HTTPInclude: path, Return: factsReturn, HTTPDirectives: maxHeaders(t, bin)}, confs...)
		ngx, err := testsupport.StartNginx(bin, dir, conf, addrs)
		if err != nil {
			return nil, err
		}
		t.Cleanup(ngx.Stop)
		out[source] = &fastNginx{maps: maps, nginx: ngx}
	}
	return out, nil
}

// maxHeaders lifts the cap on header lines of an nginx that has one:
// Debian 12's nginx 1.22.1-9+deb12u8 and later backport upstream's
// max_headers (default 1000: a request with more lines gets 400, "client
// sent too many header lines"). Kong 3.9.3's nginx 1.25.3 has no such cap,
// and the fast path's line-count blindness is tested beyond 1000 lines.
func maxHeaders(t *testing.T, bin string) []string {
	d := []string{"max_headers 10000"}
	conf := nginxconf.Config(nginxconf.Options{Dir: t.TempDir(), HTTPDirectives: d})
	if testsupport.CheckNginxConf(bin, t.TempDir(), conf) != nil {
		return nil
	}
	return d
}

// sendFacts sends c and returns the response body, or closed when nginx
// answered nothing (a PROXY header it refused).
func sendFacts(c *nginxdiff.Case) (body []byte, closed bool, err error) {
	target := c.Variant.Listeners[c.Listener]
	conn, err := loopback.Dialer(c.Source.AsSlice(), 5*time.Second).Dial("tcp", target.String())
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write(c.Bytes())
	raw, _ := io.ReadAll(conn)
	if len(raw) == 0 {
		return nil, true, nil
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
		return nil, false, fmt.Errorf("nginx answered %q", raw)
	}
	return body, false, nil
}

// nginxLines are the header lines nginx keeps for c, in order: Host, the
// case's, Connection (nginxdiff.Case.Bytes), values without the spaces
// nginx trims.
func nginxLines(c *nginxdiff.Case) []nginxvar.Header {
	hs := []nginxvar.Header{{Name: "Host", Value: "kong"}}
	for _, h := range c.Headers {
		hs = append(hs, nginxvar.Header{Name: h.Name, Value: strings.Trim(h.Value, " ")})
	}
	return append(hs, nginxvar.Header{Name: "Connection", Value: "close"})
}

// addrVars are $remote_addr, $realip_remote_addr, $proxy_protocol_addr and
// _port as the resolver predicts them (nginxdiff checks those against
// nginx).
func addrVars(c *nginxdiff.Case, want nginxdiff.ProxyExpect) map[string]string {
	var ans nginxdiff.Answer
	ans.Local = netip.AddrPortFrom(c.Source, 1)
	if want.Proxy != nil {
		ans.Vars[4], ans.Vars[5] = want.Proxy.SrcAddr, portText(want.Proxy.SrcPort)
	}
	e := c.Expect(ans)
	return map[string]string{"remote_addr": e.Vars[0], "realip_remote_addr": e.Vars[2], "proxy_protocol_addr": e.Vars[4], "proxy_protocol_port": e.Vars[5]}
}

func portText(p uint16) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(int(p))
}

// knownVar reports whether render serves $name.
func knownVar(name string) bool {
	switch name {
	case "nginx_version", "remote_addr", "realip_remote_addr", "proxy_protocol_addr", "proxy_protocol_port":
		return true
	}
	return strings.HasPrefix(name, "http_") && len(name) > len("http_")
}

// render is nginxvar's $client_ip_guard_facts for c under nginx v.
func render(t *testing.T, c *nginxdiff.Case, m nginxvar.Map, v nginxvar.Version, versionText string, want nginxdiff.ProxyExpect) []byte {
	vars := addrVars(c, want)
	vars["nginx_version"] = versionText
	lines := nginxLines(c)
	out, err := m.Value(func(name string) (string, bool) {
		if x, ok := vars[name]; ok {
			return x, true
		}
		if h, ok := strings.CutPrefix(name, "http_"); ok {
			x, _ := nginxvar.HTTP(lines, h, v)
			return x, true
		}
		return "", false
	})
	require.NoError(t, err)
	return []byte(out)
}

// policy is the plugin configuration that matches c's Kong node, with every
// output the comparison covers switched on.
func policy(t *testing.T, c *nginxdiff.Case) *guardconf.Policy {
	conf := &guardconf.Config{
		TrustedIPs:               c.Variant.Conf.TrustedIPs,
		RealIPHeader:             c.Variant.Conf.RealIPHeader,
		RealIPRecursive:          c.Variant.Conf.RealIPRecursive,
		StripUntrustedForwarding: true,
		UpstreamHeader:           "X-Client-IP",
		LogWhen:                  "all",
		FastPath:                 true,
	}
	pol, err := conf.Policy()
	require.NoError(t, err, c.Variant.Name)
	return pol
}

// judged is what the guard does with a request, minus the record's time.
type judged struct {
	Verdict  string
	Reasons  []string
	Action   string
	Strip    []string
	Upstream string
	Clear    bool
	Record   string
}

func judge(pol *guardconf.Policy, f *evaluate.Facts) (judged, evaluate.Evaluation) {
	ev := evaluate.Evaluate(pol, f, nil)
	up, clear, _ := ev.Upstream(pol)
	rec := ev.Record(pol, f, guardconf.Scope{}, "-")
	return judged{
		Verdict: ev.Outcome.Verdict.String(), Reasons: ev.Outcome.Reasons.Names(), Action: ev.Action,
		Strip: slices.Clone(ev.Strip(pol, f)), Upstream: up, Clear: clear, Record: string(rec.JSON()),
	}, ev
}

// fullFacts are the facts the three PDK calls give: kong.client.get_ip
// ($realip_remote_addr), kong.request.get_headers(1000) (the first 1000
// lines, names lower-cased), kong.client.get_forwarded_ip ($remote_addr),
// and for proxy_protocol $proxy_protocol_addr/_port.
func fullFacts(t *testing.T, pol *guardconf.Policy, vars map[string]string, lines []nginxvar.Header) *evaluate.Facts {
	f := new(evaluate.Facts)
	require.NoError(t, f.SetPeer(vars["realip_remote_addr"]))
	f.SetKong(vars["remote_addr"])
	source := pol.Resolver.HeaderName()
	for i, h := range lines {
		if i == evaluate.MaxHeaders {
			break
		}
		f.AddHeader(source, []byte(strings.ToLower(h.Name)), []byte(h.Value))
	}
	if pol.Resolver.Kind() == realip.KindProxyProtocol && vars["proxy_protocol_addr"] != "" {
		p, _ := strconv.ParseUint(vars["proxy_protocol_port"], 10, 16)
		f.SetProxy(vars["proxy_protocol_addr"], uint16(p))
	}
	return f
}

// The fastpath.Blind entries, by index.
const (
	blindUnderscore = iota
	blindLineCount
	blindEmpty
)

var blindNames = [...]string{"underscore names", ">= 1000 lines", "empty forwarding headers"}

// blindLines is the request as fastpath.Blind says the fast path sees it,
// and the Blind entries that apply:
//   - a line spelled with '_' for '-' is not in $http_x_forwarded_for
//     (nginx's own variable, matched by its exact name), and is in the
//     other $http_ variables as if spelled with '-';
//   - the variable has every line and no count: only the forwarding lines
//     are kept, so that no line cap applies;
//   - a forwarding header sent as one empty line is no header: its
//     variable is empty, as for a header not sent (two empty lines join
//     into ", ", which shows).
func blindLines(lines []nginxvar.Header, source string) ([]nginxvar.Header, []int) {
	var classes []int
	mark := func(c int) {
		if !slices.Contains(classes, c) {
			classes = append(classes, c)
		}
	}
	if len(lines) >= evaluate.MaxHeaders {
		mark(blindLineCount)
	}
	forwarding := []string{"x-forwarded-for", "x-real-ip", "forwarded"}
	if source != "" && !strings.Contains(source, "_") {
		forwarding = append(forwarding, source)
	}
	var seen []nginxvar.Header
	perName := map[string]int{}
	for _, h := range lines {
		name := strings.ToLower(h.Name)
		dash := strings.ReplaceAll(name, "_", "-")
		if !slices.Contains(forwarding, dash) {
			continue
		}
		if dash != name {
			mark(blindUnderscore)
			if dash == "x-forwarded-for" {
				continue
			}
		}
		seen = append(seen, nginxvar.Header{Name: dash, Value: h.Value})
		perName[dash]++
	}
	var out []nginxvar.Header
	for _, h := range seen {
		if h.Value == "" && perName[h.Name] == 1 {
			mark(blindEmpty)
			continue
		}
		out = append(out, h)
	}
	return out, classes
}

// fastResult is what the guard's fast path made of one request.
type fastResult struct {
	status  fastpath.Status
	why     string
	anomaly bool  // OK, but judged again from the full path
	blind   []int // OK, no anomaly, and a verdict other than the full path's
}

// compareFast checks one request's fast path against its full path.
func compareFast(t *testing.T, name string, c *nginxdiff.Case, raw []byte, want nginxdiff.ProxyExpect) fastResult {
	t.Helper()
	pol := policy(t, c)
	vars := addrVars(c, want)
	lines := nginxLines(c)
	full, _ := judge(pol, fullFacts(t, pol, vars, lines))
	var ff evaluate.Facts
	status, why := fastpath.Fill(&ff, raw, pol.Resolver.Kind(), pol.Resolver.HeaderName())
	res := fastResult{status: status, why: why}
	if status != fastpath.OK {
		return res // the guard reads this request with the three calls
	}
	fast, ev := judge(pol, &ff)
	bl, classes := blindLines(lines, pol.Resolver.HeaderName())
	seen, _ := judge(pol, fullFacts(t, pol, vars, bl))
	assert.Equal(t, seen, fast, "%s: the fast path must see the request as fastpath.Blind says (Blind entries that apply: %v)\nvariable %q", name, classNames(classes), raw)
	if ev.Anomaly(pol) {
		res.anomaly = true
		return res
	}
	if !assert.ObjectsAreEqual(fast, full) {
		res.blind = classes
		assert.NotEmpty(t, classes, "%s: the fast path's judgement differs from the full path's, and fastpath.Blind does not list why\nfast %+v\nfull %+v\nvariable %q", name, fast, full, raw)
	}
	return res
}

func classNames(cs []int) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = blindNames[c]
	}
	return out
}

// diffTally counts the outcomes, on real nginx and on the 1.25 model.
type diffTally struct {
	closed      int
	modelIsReal int // model bytes equal to real nginx's, version aside
	real, model map[string]int
}

func (d *diffTally) add(r fastResult)      { d.real = count(d.real, r) }
func (d *diffTally) addModel(r fastResult) { d.model = count(d.model, r) }

func count(m map[string]int, r fastResult) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	switch {
	case r.status == fastpath.Unavailable:
		m["unavailable: "+r.why]++
	case r.status == fastpath.Ineligible:
		m["ineligible (three calls)"]++
	case r.anomaly:
		m["fast, anomaly judged again"]++
	case len(r.blind) > 0:
		m["fast, differs as Blind says: "+strings.Join(classNames(r.blind), ", ")]++
	default:
		m["fast, same judgement"]++
	}
	return m
}

func (d *diffTally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d PROXY headers refused", d.closed)
	for _, part := range []struct {
		label string
		m     map[string]int
	}{{"real nginx", d.real}, {fmt.Sprintf("nginx 1.25 model (%d of them real nginx's bytes, version aside)", d.modelIsReal), d.model}} {
		keys := make([]string, 0, len(part.m))
		for k := range part.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "\n%s:", part.label)
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %5d %s", part.m[k], k)
		}
	}
	return b.String()
}

func pads(n int) []realip.Header {
	hs := make([]realip.Header, n)
	for i := range hs {
		hs[i] = realip.Header{Name: "X-Pad", Value: strconv.Itoa(i)}
	}
	return hs
}

// fastRows are requests the nginxdiff corpus lacks: tabs, non-UTF-8 bytes,
// empty values, underscore spellings beside the standard ones, 1000 lines
// and more, PROXY data with forwarding headers, untrusted peers.
func fastRows(vs []*nginxdiff.Variant) []*nginxdiff.Case {
	lo, untrusted := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.8")
	pp := []byte("PROXY TCP4 203.0.113.9 10.0.0.1 5555 443\r\n")
	var out []*nginxdiff.Case
	add := func(name, variant string, listener int, src netip.Addr, proxy []byte, hs []realip.Header) {
		out = append(out, &nginxdiff.Case{Name: name, Variant: nginxdiff.FindVariant(vs, variant), Listener: listener, Source: src, Proxy: proxy, Headers: hs})
	}
	for _, rec := range []string{"off", "on"} {
		x, r, cf, p := "mixed/X-Forwarded-For/recursive-"+rec, "mixed/X-Real-IP/recursive-"+rec, "mixed/CF-Connecting-IP/recursive-"+rec, "mixed/proxy_protocol/recursive-"+rec
		v4, v4p := nginxdiff.ListenV4, nginxdiff.ListenV4Proxy
		for _, v := range []string{x, r, cf} {
			add("tab inside", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "1.2.3.4,\t10.0.0.1", "X-Real-IP", "1.2.3.4\t", "CF-Connecting-IP", "\t1.2.3.4"))
			add("non-UTF-8", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "1.2.3.4, \xff\xfe", "X-Real-IP", "\xc3\x28", "CF-Connecting-IP", "\x80"))
			add("three lines each", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "2.2.2.2, 10.0.0.1", "x-forwarded-for", "10.0.0.2",
				"X-Real-IP", "3.3.3.3", "x-real-ip", "4.4.4.4", "CF-Connecting-IP", "5.5.5.5", "cf-connecting-ip", "6.6.6.6"))
			add("one clean line each", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1, 10.0.0.1", "X-Real-IP", "3.3.3.3", "CF-Connecting-IP", "5.5.5.5", "Forwarded", "for=1.1.1.1"))
			add("one line each, untrusted peer", v, v4, untrusted, nil, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3", "CF-Connecting-IP", "5.5.5.5"))
			add("underscore spellings only", v, v4, lo, nil, nginxdiff.Headers("X_Forwarded_For", "1.1.1.1", "X_Real_IP", "3.3.3.3", "CF_Connecting_IP", "5.5.5.5"))
			add("underscore beside dash", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X_Forwarded_For", "9.9.9.9", "X-Real-IP", "3.3.3.3", "X_Real_IP", "9.9.9.9",
				"CF-Connecting-IP", "5.5.5.5", "cf_connecting_ip", "9.9.9.9"))
			add("underscore first", v, v4, lo, nil, nginxdiff.Headers("X_Real_IP", "9.9.9.9", "X-Real-IP", "3.3.3.3", "CF_Connecting_IP", "9.9.9.9", "CF-Connecting-IP", "5.5.5.5"))
			add("mixed spelling", v, v4, untrusted, nil, nginxdiff.Headers("X-Forwarded_For", "1.1.1.1", "X_Real-IP", "3.3.3.3"))
			add("empty values", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "", "X-Real-IP", "", "CF-Connecting-IP", "", "Forwarded", ""))
			add("spaces only", v, v4, untrusted, nil, nginxdiff.Headers("X-Forwarded-For", "   ", "X-Real-IP", " ", "CF-Connecting-IP", "  "))
			add("empty line beside a value", v, v4, lo, nil, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "", "X-Real-IP", "", "X-Real-IP", "3.3.3.3",
				"CF-Connecting-IP", "5.5.5.5", "CF-Connecting-IP", ""))
			add("999 pads, then the headers", v, v4, lo, nil, append(pads(996), nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3", "CF-Connecting-IP", "5.5.5.5")...))
			add("headers, then 1100 pads", v, v4, lo, nil, append(nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3", "CF-Connecting-IP", "5.5.5.5"), pads(1100)...))
			add("1100 pads, then the headers", v, v4, lo, nil, append(pads(1100), nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3", "CF-Connecting-IP", "5.5.5.5")...))
			add("994 pads: 999 lines", v, v4, lo, nil, append(pads(994), nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3", "CF-Connecting-IP", "5.5.5.5")...))
			add("PROXY listener with headers", v, v4p, lo, pp, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3"))
		}
		add("PROXY v1 and XFF", p, v4p, lo, pp, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1"))
		add("PROXY v1 and X_Forwarded_For", p, v4p, lo, pp, nginxdiff.Headers("X_Forwarded_For", "1.1.1.1"))
		add("PROXY v1 and empty X-Real-IP", p, v4p, lo, pp, nginxdiff.Headers("X-Real-IP", ""))
		add("PROXY v1, untrusted peer, headers", p, v4p, untrusted, pp, nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Real-IP", "3.3.3.3", "Forwarded", "for=1.1.1.1"))
		add("PROXY v2 and XFF lines", p, v4p, lo, nginxdiff.ProxyV2(0x21, 0x11, netip.MustParseAddrPort("203.0.113.9:5555"), netip.MustParseAddrPort("10.0.0.1:443"), nil),
			nginxdiff.Headers("X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "2.2.2.2"))
		add("PROXY v2 TCP6 and X-Real-IP", p, nginxdiff.ListenV6Proxy, netip.IPv6Loopback(),
			nginxdiff.ProxyV2(0x21, 0x21, netip.MustParseAddrPort("[2001:db8::9]:7"), netip.MustParseAddrPort("[::1]:443"), nil), nginxdiff.Headers("X-Real-IP", "3.3.3.3"))
		add("PROXY v2 LOCAL and XFF", p, v4p, lo, nginxdiff.ProxyV2(0x20, 0x11, netip.MustParseAddrPort("203.0.113.9:5555"), netip.MustParseAddrPort("10.0.0.1:443"), nil),
			nginxdiff.Headers("X-Forwarded-For", "1.1.1.1"))
		add("PROXY 1000+ lines", p, v4p, lo, pp, append(pads(1001), nginxdiff.Headers("X-Forwarded-For", "1.1.1.1")...))
	}
	return out
}
