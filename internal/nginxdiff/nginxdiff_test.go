package nginxdiff

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/client-ip-guard/client-ip-guard/kongconf/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/nodeconf"
)

// shared is one nginx for the whole test binary, serving every variant.
var shared struct {
	once     sync.Once
	err      error
	skip     string
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

// setup starts nginx once. Without nginx the tests skip, except under
// CI=true, where a missing nginx is a failure.
func setup(t *testing.T) ([]*Variant, *Nginx) {
	t.Helper()
	shared.once.Do(func() {
		bin, err := FindNginx()
		if err != nil {
			shared.skip = err.Error()
			return
		}
		shared.bin = bin
		if shared.version, err = Version(bin); err != nil {
			shared.err = err
			return
		}
		if shared.dir, err = os.MkdirTemp("", "nginxdiff-"); err != nil {
			shared.err = err
			return
		}
		n := len(TrustedSets) * len(RealIPHeaders) * 2
		for attempt := 0; attempt < 3; attempt++ {
			ports, err := FreePorts(4 * n)
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
				LegacyHTTP2: !VersionAtLeast(shared.version, 1, 25, 1),
			})
			if shared.err == nil || !strings.Contains(shared.err.Error(), "Address already in use") {
				return
			}
		}
	})
	if shared.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s", shared.skip)
		}
		t.Skipf("skipping the nginx differential tests: %s", shared.skip)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Logf("%s (%s), %d variants, dir %s", shared.version, shared.bin, len(shared.variants), shared.dir)
	return shared.variants, shared.nginx
}

// runCases sends cases concurrently and reports every mismatch with a
// reproducer. It returns the number of mismatches.
func runCases(t *testing.T, cases []*Case) int {
	t.Helper()
	var (
		next       atomic.Int64
		mismatches atomic.Int64
		mu         sync.Mutex
		reports    []string
		wg         sync.WaitGroup
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
				} else if e, diff := c.Compare(ans); diff != "" {
					rep = c.Repro(ans, e, diff)
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
	return int(mismatches.Load())
}

func TestCorpus(t *testing.T) {
	vs, n := setup(t)
	cases := Corpus(vs)
	start := time.Now()
	bad := runCases(t, cases)
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
	count := 5000
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
	bad := runCases(t, cases)
	t.Logf("random: %d cases, %d mismatches, %s (rerun with NGINXDIFF_SEED=%d)", count, bad, time.Since(start).Round(time.Millisecond), seed)
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
