// Package codecheck holds tests that enforce the project's code rules over
// the whole module: no non-test function longer than MaxFuncLines, and the
// README keeps naming what the fast path cannot see (fastpath.Blind).
package codecheck

// MaxFuncLines is the longest a non-test function may be, from its func
// line to its closing brace.
const MaxFuncLines = 120
