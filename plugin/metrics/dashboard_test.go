package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/verdict"
)

const dashboardPath = "../../examples/grafana/client-ip-guard.json"

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValues  = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true}
)

// metricNames returns the metric names a PromQL expression (or a Grafana
// label_values query) selects: identifiers that are not functions,
// aggregations, keywords, label names, Grafana variables or numbers.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		expr = m[1] // label_values(METRIC{...}, LABEL): the metric only
	}
	expr = promString.ReplaceAllString(expr, `""`)
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promRange.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(expr, -1) {
		id := expr[loc[0]:loc[1]]
		rest := strings.TrimLeft(expr[loc[1]:], " \t\n")
		switch {
		case id[0] == '$', promKeywords[id], strings.HasPrefix(rest, "("):
			continue
		case loc[0] > 0 && strings.ContainsAny(expr[loc[0]-1:loc[0]], "0123456789."):
			continue // the exponent of 1e3
		}
		out = append(out, id)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	tests := map[string][]string{
		`sum by (route_id, verdict) (rate(client_ip_guard_verdicts_total{job=~"$job", action="a{b}"}[$__rate_interval]))`: {"client_ip_guard_verdicts_total"},
		`sum(rate(a_total[5m])) / sum(rate(b_total[5m])) > 1e3 and on (x) c`:                                              {"a_total", "b_total", "c"},
		`label_values(client_ip_guard_verdicts_total{job=~"$job"}, route_id)`:                                             {"client_ip_guard_verdicts_total"},
		`histogram_quantile(0.9, sum without (le) (rate(go_gc_duration_seconds_bucket[1m])))`:                             {"go_gc_duration_seconds_bucket"},
	}
	for expr, want := range tests {
		assert.Equal(t, want, metricNames(expr), expr)
	}
}

// dashboardQueries returns every PromQL string in the dashboard: panel
// targets' expr and the templating variables' queries.
func dashboardQueries(t *testing.T) []string {
	b, err := os.ReadFile(dashboardPath)
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(b, &doc))
	var out []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				walk(vv, k)
			}
		case []any:
			for _, vv := range x {
				walk(vv, key)
			}
		case string:
			if key == "expr" || (key == "query" && strings.HasPrefix(x, "label_values(")) {
				out = append(out, x)
			}
		}
	}
	walk(doc, "")
	return out
}

// exported lists the names the plugin's registry exposes, with the
// _bucket, _sum and _count series of histograms and summaries.
func exported(t *testing.T) map[string]bool {
	s := NewSet()
	s.Instance("r", "s").Count(verdict.OK, Allowed) // vectors expose nothing until they have a child
	s.ConfigError("mode")
	s.PDKError("kong.client.get_ip")
	fams, err := s.Registry().Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+suf] = true
			}
		}
	}
	return names
}

// TestDashboardQueriesExportedMetrics: every metric the Grafana dashboard
// queries is one the plugin exports, and the dashboard covers the
// plugin's own three metrics.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	names := exported(t)
	queries := dashboardQueries(t)
	require.NotEmpty(t, queries)
	used := map[string]bool{}
	for _, q := range queries {
		ms := metricNames(q)
		assert.NotEmpty(t, ms, "no metric found in %q", q)
		for _, m := range ms {
			used[m] = true
			assert.True(t, names[m], "the dashboard queries %s, which the plugin does not export (query %q)", m, q)
		}
	}
	for _, m := range []string{VerdictsName, ConfigErrorsName, PDKErrorsName} {
		assert.True(t, used[m], "the dashboard does not show %s", m)
	}
	var list []string
	for m := range used {
		list = append(list, m)
	}
	sort.Strings(list)
	t.Logf("%d queries over %v", len(queries), list)
}
