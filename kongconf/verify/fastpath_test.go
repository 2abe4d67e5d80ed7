package verify_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology/topologytest"
	"github.com/client-ip-guard/client-ip-guard/kongconf/verify"
)

// TestFastPathBundles: every provider × method × chart generated with
// --fast-path lints clean of the fast path's rules (KC021, KC211-KC213)
// and of "unrecognised file" for the include, which lint reads through
// the nodes that load it.
func TestFastPathBundles(t *testing.T) {
	fastRules := map[string]bool{"KC021": true, "KC211": true, "KC212": true, "KC213": true}
	n := 0
	for _, pn := range topology.ProviderNames() {
		for _, m := range topology.Methods {
			for _, ch := range []string{chart.Kong, chart.Ingress} {
				r, err := topology.Resolve(topologytest.Complete(topology.Topology{Provider: pn, Method: m, Chart: ch,
					TrustedCIDRs: []string{"10.0.0.0/16"}, FastPath: true}))
				if err != nil {
					continue // refused for reasons of its own (TestEveryCombination)
				}
				n++
				name := fmt.Sprintf("%s/%s/%s", pn, m, ch)
				files, err := generate.Bundle(r)
				require.NoError(t, err, name)
				require.Contains(t, files, generate.IncludeFile, name)
				rep := verify.Bundle(files)
				assert.False(t, rep.HasErrors(), "%s: %+v", name, rep.Findings)
				for _, f := range rep.Findings {
					assert.False(t, fastRules[f.Rule], "%s: %s %s", name, f.Rule, f.Message)
					assert.False(t, f.Rule == "KC902" && f.File == generate.IncludeFile, "%s: %s", name, f.Message)
				}
			}
		}
	}
	assert.Greater(t, n, 40)
}
