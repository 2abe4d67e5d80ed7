package lint

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

// readExpect reads a case's expect file: one "RULE FILE[:LINE]" per line,
// '#' comments, in report order.
func readExpect(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "expect"))
	require.NoError(t, err)
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return out
}

// got renders a report as expect lines, files relative to dir.
func gotLines(t *testing.T, dir string, rep *Report) []string {
	var out []string
	for _, f := range rep.Findings {
		rel, err := filepath.Rel(dir, f.File)
		require.NoError(t, err)
		loc := rel
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", rel, f.Line)
		}
		out = append(out, f.Rule+" "+loc)
		assert.NotEmpty(t, f.Message, f.Rule)
		assert.NotEmpty(t, f.Fix, f.Rule)
	}
	return out
}

// TestCorpus lints every testdata/cases/<case>/ directory (one input kind
// or one topology rule, positive and negative) and requires exactly the
// findings its expect file lists: no more, no fewer, same file and line.
func TestCorpus(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) {
			want := readExpect(t, d)
			rep := Files([]string{d})
			assert.Equal(t, want, gotLines(t, d, rep))
			errs := false
			for _, w := range want {
				r, ok := lookupRule(strings.Fields(w)[0])
				require.True(t, ok, w)
				errs = errs || r.Severity == Error
			}
			assert.Equal(t, errs, rep.HasErrors(), "exit status")
		})
	}
}

// TestValidConfigs: valid Enterprise and OSS configurations (every kind of
// key, nginx and logrotate files beside kong.conf) give no error, no
// KC006/KC007 and no KC018.
func TestValidConfigs(t *testing.T) {
	for _, d := range []string{"testdata/valid/enterprise", "testdata/valid/oss"} {
		rep := Files([]string{d})
		require.NotEmpty(t, rep.Files)
		assert.False(t, rep.HasErrors(), "%s: %v", d, rep.Findings)
		for _, f := range rep.Findings {
			assert.NotContains(t, []string{"KC006", "KC007", "KC018"}, f.Rule, "%s: %v", d, f)
		}
	}
}

// TestKnownKeysAreQuiet sets every OSS and Enterprise key at once: none may
// be reported as unknown or "corrected" to another key.
func TestKnownKeysAreQuiet(t *testing.T) {
	var b strings.Builder
	n := 0
	for k := range knownKeys {
		fmt.Fprintf(&b, "%s = x\n", k)
		n++
	}
	require.Greater(t, n, 380, "OSS and Enterprise lists loaded")
	for _, k := range []string{"admin_gui_auth", "vitals", "portal_gui_host", "enforce_rbac", "smtp_mock", "admin_gui_url",
		"untrusted_lua_sandbox_requires", "openresty_path", "request_debug_token", "keyring_enabled", "license_data"} {
		assert.True(t, KnownKey(k), k)
	}
	set := &Set{}
	Load(set, "kong.conf", []byte(b.String()))
	for _, f := range Check(set) {
		assert.NotContains(t, []string{"KC006", "KC007"}, f.Rule, "%v", f)
	}
}

func TestDockerfileForms(t *testing.T) {
	n, f := ParseDockerfile([]byte("FROM kong\nENV KONG_A=1 KONG_B=\"two words\" \\\n  KONG_C='3'\nENV KONG_D four  five\nENV KONG_E=a\\ b\nENV KONG_F \"x y\"\n"), "Dockerfile")
	require.Empty(t, f)
	require.NotNil(t, n)
	got := map[string]string{}
	lines := map[string]int{}
	for _, v := range n.Order {
		got[v.Orig], lines[v.Orig] = v.Value, v.Line
	}
	assert.Equal(t, map[string]string{"KONG_A": "1", "KONG_B": "two words", "KONG_C": "3", "KONG_D": "four  five", "KONG_E": "a b", "KONG_F": "x y"}, got)
	assert.Equal(t, 3, lines["KONG_C"])
	assert.Equal(t, 4, lines["KONG_D"])
	_, f = ParseDockerfile([]byte("FROM kong\nENV KONG_A=\"open\n"), "Dockerfile")
	require.Len(t, f, 1)
	assert.Equal(t, "KC901", f[0].Rule)
}

func TestNotKongConf(t *testing.T) {
	assert.Equal(t, "", notKongConf([]byte("# c\ntrusted_ips = 10.0.0.0/8\nreal_ip_header=X-Forwarded-For\n")))
	assert.NotEqual(t, "", notKongConf([]byte("server {\n listen 80;\n}\n")))
	assert.NotEqual(t, "", notKongConf([]byte("/var/log/*.log {\n daily\n}\n")))
	assert.NotEqual(t, "", notKongConf([]byte("just words here\nmore words\n")))
}

func TestTemplated(t *testing.T) {
	for _, v := range []string{"{{ .Values.x }}", "<%= @x %>", "${X}", "$(X)", "$X"} {
		assert.True(t, templated(v), v)
	}
	for _, v := range []string{"10.0.0.0/8", "X-Forwarded-For", "on", "a$"} {
		assert.False(t, templated(v), v)
	}
}

// TestFilesGivenFormOneDeployment: files named on the command line are one
// deployment even from different directories; two directories are two.
func TestFilesGivenFormOneDeployment(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	conf := filepath.Join(a, "kong.conf")
	svc := filepath.Join(b, "service.yaml")
	require.NoError(t, os.WriteFile(conf, []byte("trusted_ips = 10.0.0.0/8\nreal_ip_header = X-Forwarded-For\nreal_ip_recursive = on\n"), 0o644))
	src, err := os.ReadFile("testdata/cases/topo-trusted-nodes/service.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(svc, src, 0o644))
	rules := func(rep *Report) []string {
		var out []string
		for _, f := range rep.Findings {
			out = append(out, f.Rule)
		}
		return out
	}
	assert.Equal(t, []string{"KC127"}, rules(Files([]string{conf, svc})))
	assert.Equal(t, []string{"KC108"}, rules(Files([]string{a, b})))
}

func TestMergeKeysAndEmbeddedLines(t *testing.T) {
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("base: &b\n  a: 1\n  b: 2\nover:\n  <<: *b\n  b: 3\nvals: |\n  env:\n    x: y\n"), &doc))
	got := map[string]string{}
	for _, kv := range mapPairs(mapPath(doc.Content[0], "over")) {
		got[kv[0].Value] = kv[1].Value
	}
	assert.Equal(t, map[string]string{"a": "1", "b": "3"}, got, "explicit keys win over merged ones")
	inner, err := embeddedYAML(mapPath(doc.Content[0], "vals"))
	require.NoError(t, err)
	k, _ := mapGet(mapPath(inner, "env"), "x")
	require.NotNil(t, k)
	assert.Equal(t, 9, k.Line, "lines point into the outer file")
}

// TestOperatorServiceName: the operator's ingress Service carries the name
// the object gives it, else one naming the object; it maps 443 to Kong's TLS
// listener.
func TestOperatorServiceName(t *testing.T) {
	doc := "apiVersion: gateway-operator.konghq.com/v1beta1\nkind: GatewayConfiguration\nmetadata:\n  name: gc\nspec:\n  dataPlaneOptions:\n    network:\n      services:\n        ingress:\n%s          type: LoadBalancer\n"
	for named, want := range map[string]string{"          name: edge-kong-proxy\n": "edge-kong-proxy", "": "GatewayConfiguration gc ingress"} {
		set := &Set{}
		assert.Empty(t, Load(set, "gc.yaml", []byte(fmt.Sprintf(doc, named))))
		require.Len(t, set.Services, 1)
		assert.Equal(t, want, set.Services[0].Name)
		assert.True(t, set.Services[0].TargetsTLS)
	}
}
