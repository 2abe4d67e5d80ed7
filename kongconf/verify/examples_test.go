package verify_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/kongconf/lint"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/verify"
)

var update = flag.Bool("update", false, "rewrite examples/ and the root kong.yml from their topology files")

const examplesDir = "../../examples"

// TestExamples regenerates every examples/<name>/ from its topology.yaml and
// fails on any difference; each bundle must also lint without errors.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(examplesDir, "*", "topology.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs, "no examples found")
	for _, topo := range dirs {
		dir := filepath.Dir(topo)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			tp, err := topology.LoadFile(topo)
			require.NoError(t, err)
			r, err := topology.Resolve(tp)
			require.NoError(t, err)
			var files map[string]string
			if name == "demo" {
				files, err = generate.Bundle(r, "kong.yml")
				require.NoError(t, err)
				checkGolden(t, filepath.Join(examplesDir, "..", "kong.yml"), files["kong.yml"])
			} else {
				files, err = generate.Bundle(r)
				require.NoError(t, err)
				for fn, content := range files {
					checkGolden(t, filepath.Join(dir, fn), content)
				}
				// No stale files next to the generated ones.
				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				for _, e := range entries {
					if _, ok := files[e.Name()]; !ok && e.Name() != "topology.yaml" {
						t.Errorf("%s: stale file %s (not generated from topology.yaml)", dir, e.Name())
					}
				}
			}
			rep := verify.Bundle(files)
			for _, f := range rep.Findings {
				if f.Severity == lint.Error {
					t.Errorf("%s: %s %s: %s", f.Location(), f.Severity, f.Rule, f.Message)
				}
			}
		})
	}
}

func checkGolden(t *testing.T, path, content string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v (run go test ./kongconf/verify -run TestExamples -update)", path, err)
		return
	}
	if string(b) != content {
		t.Errorf("%s differs from what its topology generates (run go test ./kongconf/verify -run TestExamples -update):\n%s", path, firstDiff(string(b), content))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  checked in: " + x + "\n  generated:  " + y
		}
	}
	return ""
}

func itoa(i int) string {
	s := []byte{}
	for i > 0 || len(s) == 0 {
		s = append([]byte{byte('0' + i%10)}, s...)
		i /= 10
	}
	return string(s)
}
