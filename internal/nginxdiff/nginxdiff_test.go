package nginxdiff

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
	"github.com/client-ip-guard/client-ip-guard/plugin/realip"
)

// shared is one nginx for the whole test binary, serving every variant.
var shared struct {
	once     sync.Once
	err      error
	bin      string
	version  string
	nginx    *Nginx
	variants []*Variant
	dir      string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.nginx != nil {
		shared.nginx.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup starts nginx once. Under -short, and without nginx, the tests skip,
// except under CI=true, where a missing nginx is a failure.
func setup(t *testing.T) ([]*Variant, *Nginx) {
	t.Helper()
	bin := testsupport.NginxBin(t)
	shared.once.Do(func() {
		var err error
		shared.bin = bin
		if shared.version, err = testsupport.NginxVersion(bin); err != nil {
			shared.err = err
			return
		}
		if shared.dir, err = os.MkdirTemp("", "nginxdiff-"); err != nil {
			shared.err = err
			return
		}
		n := len(TrustedSets) * len(RealIPHeaders) * 2
		for attempt := 0; attempt < 3; attempt++ {
			ports, err := FreePorts(NumListeners * n)
			if err != nil {
				shared.err = err
				return
			}
			if shared.variants, err = BuildVariants(ports); err != nil {
				shared.err = err
				return
			}
			confs := make([]*nodeconf.Conf, len(shared.variants))
			for i, v := range shared.variants {
				confs[i] = v.Conf
			}
			shared.nginx, shared.err = Start(bin, shared.dir, confs, nginxconf.Options{
				LegacyHTTP2: !testsupport.NginxVersionAtLeast(shared.version, 1, 25, 1),
			})
			if shared.err == nil || !strings.Contains(shared.err.Error(), "Address already in use") {
				return
			}
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Logf("%s (%s), %d variants, dir %s", shared.version, shared.bin, len(shared.variants), shared.dir)
	return shared.variants, shared.nginx
}

// runCases sends cases concurrently and reports every mismatch with a
// reproducer. It returns the number of mismatches and how many cases hit
// each coverage bucket (see coverage).
func runCases(t *testing.T, cases []*Case) (int, map[string]int) {
	t.Helper()
	var (
		next       atomic.Int64
		mismatches atomic.Int64
		mu         sync.Mutex
		reports    []string
		wg         sync.WaitGroup
		cover      = map[string]int{}
	)
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cases) {
					return
				}
				c := cases[i]
				ans, err := c.Run(10 * time.Second)
				var rep string
				if err != nil {
					rep = "ERROR " + c.Name + ": " + err.Error() + "\n" + c.Repro(ans, c.Expect(ans), err.Error())
				} else {
					e, diff := c.Compare(ans)
					if diff != "" {
						rep = c.Repro(ans, e, diff)
						if small, sans, se, sdiff := c.Shrink(10 * time.Second); small != c {
							rep = small.Repro(sans, se, sdiff) + "(shrunk from " + strconv.Itoa(len(c.Bytes())) + " bytes)\n"
						}
					}
					mu.Lock()
					for _, b := range coverage(c, ans, e) {
						cover[b]++
					}
					mu.Unlock()
				}
				if rep != "" {
					mismatches.Add(1)
					mu.Lock()
					reports = append(reports, rep)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	const maxShown = 25
	for i, r := range reports {
		if i == maxShown {
			t.Errorf("... and %d more mismatches", len(reports)-maxShown)
			break
		}
		t.Error(r)
	}
	return int(mismatches.Load()), cover
}

// coverage names the interesting situations a case reached, so a
// generator that stopped producing one of them is noticed.
func coverage(c *Case, ans Answer, e Expected) []string {
	var out []string
	if !e.Proxy.Accept {
		return []string{"proxy header rejected"}
	}
	out = append(out, "kind "+c.Variant.Resolver.Kind().String(), fmt.Sprintf("status %d", e.Result.Status))
	if e.Result.Replaced() {
		if e.Result.Addr.Is6() {
			out = append(out, "replaced by IPv6")
		}
		if e.Result.Port != 0 {
			out = append(out, "replaced with port")
		}
		if e.Result.Taken > 1 {
			out = append(out, "recursive walk took >1")
		}
		if e.Result.Taken > 40 {
			out = append(out, "recursive walk took >40")
		}
	}
	if e.Result.Malformed != "" {
		out = append(out, "malformed token")
	}
	if ans.Local.Addr().Is6() {
		out = append(out, "IPv6 peer")
	}
	if IsMapped(c.Listener) {
		out = append(out, "IPv4-mapped peer")
	}
	if e.Proxy.Proxy != nil {
		out = append(out, "PROXY source stored")
	} else if IsProxy(c.Listener) {
		out = append(out, "PROXY header skipped")
	}
	name := c.Variant.Resolver.HeaderName()
	lines := 0
	for _, h := range c.Headers {
		if strings.EqualFold(h.Name, name) {
			lines++
		}
	}
	if lines > 1 {
		out = append(out, "repeated header line")
	}
	return out
}

func TestCorpus(t *testing.T) {
	vs, n := setup(t)
	cases := Corpus(vs)
	start := time.Now()
	bad, _ := runCases(t, cases)
	t.Logf("fixed corpus: %d cases, %d mismatches, %s", len(cases), bad, time.Since(start).Round(time.Millisecond))
	if bad > 0 {
		t.Logf("nginx error log tail:\n%s", tail(n.ErrorLog(), 20))
	}
}

func TestRandom(t *testing.T) {
	vs, n := setup(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("NGINXDIFF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("NGINXDIFF_SEED=%q: not an unsigned integer", s)
		}
		seed = v
	}
	count := 10000
	if s := os.Getenv("NGINXDIFF_CASES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("NGINXDIFF_CASES=%q: not a positive integer", s)
		}
		count = v
	}
	t.Logf("NGINXDIFF_SEED=%d NGINXDIFF_CASES=%d", seed, count)
	g := NewGen(seed, vs)
	cases := make([]*Case, count)
	for i := range cases {
		cases[i] = g.Next()
	}
	start := time.Now()
	bad, cover := runCases(t, cases)
	t.Logf("random: %d cases, %d mismatches, %s (rerun with NGINXDIFF_SEED=%d)", count, bad, time.Since(start).Round(time.Millisecond), seed)
	keys := make([]string, 0, len(cover))
	for k := range cover {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "  %-28s %d\n", k, cover[k])
	}
	t.Logf("coverage:\n%s", sb.String())
	if count >= 2000 {
		for _, k := range []string{"proxy header rejected", "kind x-real-ip", "kind x-forwarded-for", "kind proxy_protocol", "kind custom",
			"status 0", "status 1", "status 2", "replaced by IPv6", "replaced with port", "recursive walk took >1", "recursive walk took >40",
			"malformed token", "IPv6 peer", "IPv4-mapped peer", "PROXY source stored", "PROXY header skipped", "repeated header line"} {
			if cover[k] == 0 {
				t.Errorf("no random case reached %q; the generator has lost coverage", k)
			}
		}
	}
	if bad > 0 {
		t.Logf("nginx error log tail:\n%s", tail(n.ErrorLog(), 20))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestProxyVerdicts(t *testing.T) {
	setup(t) // skip or fail as the other tests do when nginx is missing
	got, err := ProxyVerdicts(shared.bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, pc := range ProxyCases() {
		v, ok := got[pc.Name]
		if !ok {
			t.Errorf("%s: no verdict recorded", pc.Name)
			continue
		}
		if v {
			accepted++
		}
		if v != pc.Accept {
			t.Errorf("%s: nginx accept=%v, table says %v; bytes %q", pc.Name, v, pc.Accept, pc.Bytes())
		}
		// The byte-level model must agree whenever the header arrives in
		// one piece.
		if !pc.Slow() {
			if m := ExpectProxy(pc.Bytes()).Accept; m != v {
				t.Errorf("%s: ExpectProxy accept=%v, nginx %v; bytes %q", pc.Name, m, v, pc.Bytes())
			}
		}
	}
	t.Logf("PROXY reader table: %d cases, %d accepted, %d rejected", len(got), accepted, len(got)-accepted)
}

// TestKnownAnswers pins nginx's own answers for a few cases, so a harness
// that compared nothing (or compared the resolver with itself) would fail.
func TestKnownAnswers(t *testing.T) {
	vs, _ := setup(t)
	lo := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		variant  string
		listener int
		proxy    string
		headers  []string
		want     [6]string // "*" matches anything (ephemeral ports)
	}{
		{"mixed/X-Forwarded-For/recursive-on", ListenV4, "", []string{"X-Forwarded-For", "9.9.9.9", "X-Forwarded-For", "127.0.0.1"}, [6]string{"9.9.9.9", "", "127.0.0.1", "*", "", ""}},
		{"mixed/X-Forwarded-For/recursive-off", ListenV4, "", []string{"X-Forwarded-For", "9.9.9.9", "X-Forwarded-For", "127.0.0.1"}, [6]string{"127.0.0.1", "", "127.0.0.1", "*", "", ""}},
		{"mixed/X-Real-IP/recursive-off", ListenV4, "", []string{"X-Real-IP", ",1.2.3.4"}, [6]string{"127.0.0.1", "*", "127.0.0.1", "*", "", ""}},
		{"all/X-Real-IP/recursive-off", ListenV4, "", []string{"X-Real-IP", "[::1]:80"}, [6]string{"::1", "80", "127.0.0.1", "*", "", ""}},
		{"all/X-Real-IP/recursive-off", ListenV4, "", []string{"X-Real-IP", "010.1.1.1:080"}, [6]string{"10.1.1.1", "80", "127.0.0.1", "*", "", ""}},
		{"all/CF-Connecting-IP/recursive-off", ListenV4, "", []string{"X-Real-IP", "8.8.8.8", "CF-Connecting-IP", "::203"}, [6]string{"::0.0.2.3", "", "127.0.0.1", "*", "", ""}},
		{"mixed/X-Real-IP/recursive-off", ListenMapped, "", []string{"X-Real-IP", "1.1.1.1"}, [6]string{"1.1.1.1", "", "::ffff:127.0.0.1", "*", "", ""}},
		{"narrow/X-Real-IP/recursive-off", ListenMapped, "", []string{"X-Real-IP", "1.1.1.1"}, [6]string{"::ffff:127.0.0.1", "*", "::ffff:127.0.0.1", "*", "", ""}},
		{"mixed/proxy_protocol/recursive-off", ListenV4Proxy, "PROXY TCP4 010.1.1.1 10.0.0.1 05555 443\r\n", nil, [6]string{"10.1.1.1", "5555", "127.0.0.1", "*", "010.1.1.1", "5555"}},
		{"mixed/proxy_protocol/recursive-off", ListenV4Proxy, string(ProxyV2(0x21, 0x21, netip.MustParseAddrPort("[::ffff:1.2.3.4]:7"), netip.MustParseAddrPort("[::1]:1"), nil)), nil, [6]string{"::ffff:1.2.3.4", "7", "127.0.0.1", "*", "::ffff:1.2.3.4", "7"}},
	}
	for _, tt := range tests {
		c := &Case{Name: "known", Variant: FindVariant(vs, tt.variant), Listener: tt.listener, Source: lo, Headers: Headers(tt.headers...)}
		if tt.proxy != "" {
			c.Proxy = []byte(tt.proxy)
		}
		ans, err := c.Run(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range tt.want {
			if w != "*" && ans.Vars[i] != w {
				t.Errorf("%s %q: nginx says %q, want %q", tt.variant, c.Bytes(), ans, strings.Join(tt.want[:], " "))
				break
			}
		}
		if _, diff := c.Compare(ans); diff != "" {
			t.Errorf("%s %q: resolver disagrees: %s", tt.variant, c.Bytes(), diff)
		}
	}
}

// TestMismatchDetectedAndShrunk plants a wrong resolver (recursion off
// where nginx has it on) and checks that the comparison flags it and that
// Shrink cuts the case down to the part that matters.
func TestMismatchDetectedAndShrunk(t *testing.T) {
	vs, _ := setup(t)
	good := FindVariant(vs, "mixed/X-Forwarded-For/recursive-on")
	bad := *good
	bad.Resolver = realip.NewResolver(good.Resolver.Trusted(), "X-Forwarded-For", false)
	c := &Case{Variant: &bad, Listener: ListenV4, Source: netip.MustParseAddr("127.0.0.1"),
		Headers: Headers("X-Other", "junk", "X-Forwarded-For", "9.9.9.9, 8.8.8.8, 127.0.0.1", "X-Real-IP", "1.1.1.1")}
	ans, err := c.Run(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, diff := c.Compare(ans); !strings.Contains(diff, `$remote_addr: nginx "8.8.8.8", expected "127.0.0.1"`) {
		t.Fatalf("planted mismatch not reported as expected; diff %q, nginx %s", diff, ans)
	}
	small, sans, se, diff := c.Shrink(10 * time.Second)
	if diff == "" || len(small.Headers) != 1 || strings.TrimSpace(small.Headers[0].Value) != "8.8.8.8, 127.0.0.1" {
		t.Fatalf("Shrink gave %+v (diff %q)", small.Headers, diff)
	}
	rep := small.Repro(sans, se, diff)
	for _, want := range []string{"real_ip_recursive = on", "peer 127.0.0.1:", `X-Forwarded-For:  8.8.8.8, 127.0.0.1\r\n`, "--- nginx:    8.8.8.8", "--- resolver: 127.0.0.1"} {
		if !strings.Contains(rep, want) {
			t.Errorf("reproducer lacks %q:\n%s", want, rep)
		}
	}
}
