package lint

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/plugin/guardconf"
)

func toStrings(v any) []string {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}

func checkPlugin(s *sink, p *PluginUse) {
	known := map[string]bool{}
	for _, k := range generate.PluginSchemaKeys() {
		known[k] = true
	}
	keys := make([]string, 0, len(p.Config))
	for k := range p.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if known[k] {
			continue
		}
		best, bestD := "", 1<<30
		for _, c := range generate.PluginSchemaKeys() {
			if d := levenshtein(k, c); d < bestD {
				best, bestD = c, d
			}
		}
		msg := fmt.Sprintf("%s: config.%s is not a client-ip-guard field", p.Where, k)
		if bestD <= 3 {
			msg += fmt.Sprintf("; did you mean %s?", best)
		}
		s.add(rulePluginUnknownKey, p.File, p.line(k), "config."+k, msg)
	}
	bad := func(k, why string) {
		s.add(rulePluginBadValue, p.File, p.line(k), "config."+k, fmt.Sprintf("%s: config.%s %s", p.Where, k, why))
	}
	// The plugin's own decoder and Compile are the authority on values.
	raw, err := json.Marshal(p.Config)
	if err == nil {
		var c guardconf.Config
		if err := json.Unmarshal(raw, &c); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				bad(te.Field, fmt.Sprintf("has the wrong type: %s", te.Type.String()+" expected, got "+te.Value))
			} else {
				bad("", err.Error())
			}
		} else if pol, err := c.Policy(); err != nil {
			var ge *guardconf.Error
			if errors.As(err, &ge) {
				bad(ge.Field, fmt.Sprintf("= %q: %s", ge.Value, ge.Why))
			} else {
				bad("", err.Error())
			}
		} else {
			checkFastPathServes(s, p, pol)
		}
	}
	h, _ := p.Config["real_ip_header"].(string)
	if isTrustAll(toStrings(p.Config["trusted_ips"])) && !strings.EqualFold(h, "proxy_protocol") {
		s.add(rulePluginTrustAll, p.File, p.line("trusted_ips"), "config.trusted_ips", fmt.Sprintf("%s: trusted_ips covers everything and real_ip_header is %q", p.Where, h))
	}
}

// checkNodePlugin compares the plugin's realip view with the node's.
func checkNodePlugin(s *sink, n *Node, p *PluginUse) {
	if p.AllowDrift {
		return
	}
	nh, _ := n.RealIPHeader()
	nr, _ := n.RealIPRecursive()
	nt, _ := n.TrustedIPs()

	ph := "X-Real-IP"
	if v, ok := p.Config["real_ip_header"].(string); ok && v != "" {
		ph = v
	}
	pr := false
	if v, ok := p.Config["real_ip_recursive"].(bool); ok {
		pr = v
	}
	pt := toStrings(p.Config["trusted_ips"])

	var diffs []string
	if !strings.EqualFold(ph, nh) && !strings.EqualFold(ph, "Forwarded") {
		diffs = append(diffs, fmt.Sprintf("real_ip_header %q vs %q", ph, nh))
	}
	if pr != (nr == "on") {
		diffs = append(diffs, fmt.Sprintf("real_ip_recursive %v vs %s", pr, nr))
	}
	if !sameSet(pt, nt) {
		diffs = append(diffs, fmt.Sprintf("trusted_ips [%s] vs [%s]", strings.Join(pt, ","), strings.Join(nt, ",")))
	}
	if len(diffs) > 0 {
		s.add(rulePluginDrift, p.File, p.Line, "config", fmt.Sprintf("%s vs %s: %s", p.Where, nodeName(n), strings.Join(diffs, "; ")))
	}
}

func sameSet(a, b []string) bool {
	norm := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range l {
			m[strings.ToLower(strings.TrimSpace(x))] = true
		}
		return m
	}
	ma, mb := norm(a), norm(b)
	if len(ma) != len(mb) {
		return false
	}
	for k := range ma {
		if !mb[k] {
			return false
		}
	}
	return true
}
