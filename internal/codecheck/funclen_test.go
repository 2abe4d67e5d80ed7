package codecheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/internal/testsupport"
)

// longFuncs returns "file:line name (n lines)" for every function or
// method declaration in the non-test Go files under root longer than max.
func longFuncs(t *testing.T, root string, max int) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > max {
				rel, _ := filepath.Rel(root, path)
				out = append(out, rel+":"+strconv.Itoa(start.Line)+" "+fn.Name.Name+" ("+strconv.Itoa(n)+" lines)")
			}
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// pendingLong lists functions known to be over the limit, each with the
// change that will split it. The test fails when one of them is no longer
// long (remove it here) and on any long function not listed.
var pendingLong = map[string]string{}

// TestNoLongFunctions fails on any non-test function over MaxFuncLines lines
// anywhere in the module.
func TestNoLongFunctions(t *testing.T) {
	root, err := testsupport.ModuleRoot()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, f := range longFuncs(t, root, MaxFuncLines) {
		file, rest, _ := strings.Cut(f, ":")
		_, rest, _ = strings.Cut(rest, " ")
		name, _, _ := strings.Cut(rest, " ")
		key := file + " " + name
		if why, ok := pendingLong[key]; ok {
			seen[key] = true
			t.Logf("%s: over %d lines, pending %s", f, MaxFuncLines, why)
			continue
		}
		t.Errorf("%s: a non-test function over %d lines; split it", f, MaxFuncLines)
	}
	for key := range pendingLong {
		assert.True(t, seen[key], "%s is no longer over %d lines: remove it from pendingLong", key, MaxFuncLines)
	}
}

// TestLongFuncsFindsOne checks the walk itself on a file with one long
// function, one short one and a long one in a _test.go file.
func TestLongFuncsFindsOne(t *testing.T) {
	dir := t.TempDir()
	long := "package x\n\nfunc long() {\n" + strings.Repeat("\t_ = 1\n", 119) + "}\n\nfunc short() {}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.go"), []byte(long), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(strings.Replace(long, "long", "longTest", 1)), 0o644))
	assert.Equal(t, []string{"x.go:3 long (121 lines)"}, longFuncs(t, dir, 120))
	assert.Empty(t, longFuncs(t, dir, 121))
}
