package lint

import (
	"bufio"
	_ "embed"
	"strings"
)

//go:embed kongkeys.txt
var kongKeysTxt string

//go:embed kongkeys_ee.txt
var kongKeysEETxt string

// knownKeys holds Kong's OSS properties and the Kong Gateway Enterprise ones:
// both are valid settings, so neither may be reported or "corrected".
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, txt := range []string{kongKeysTxt, kongKeysEETxt} {
		sc := bufio.NewScanner(strings.NewReader(txt))
		for sc.Scan() {
			t := strings.TrimSpace(sc.Text())
			if t != "" && !strings.HasPrefix(t, "#") {
				m[t] = true
			}
		}
	}
	return m
}()

// KnownKey reports whether key is a Kong property (OSS or Enterprise, see
// kongkeys.txt and kongkeys_ee.txt, or one of the dynamic families nginx_*,
// vault_*, pluginserver_<name>_*).
func KnownKey(key string) bool {
	if knownKeys[key] {
		return true
	}
	for _, p := range []string{"nginx_", "vault_"} {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			return true
		}
	}
	if strings.HasPrefix(key, "pluginserver_") {
		for _, s := range []string{"_socket", "_start_cmd", "_query_cmd"} {
			if strings.HasSuffix(key, s) && len(key) > len("pluginserver_")+len(s) {
				return true
			}
		}
	}
	return false
}

// Suggest returns the known key closest to key when the two are a likely
// typo of each other ("" when nothing is close).
func Suggest(key string) string {
	if strings.HasPrefix(key, "pluginserver_") && key != "pluginserver_names" {
		// pluginserver_<name>_<suffix>: suggest the suffix.
		for _, s := range []string{"_socket", "_start_cmd", "_query_cmd"} {
			i := strings.LastIndex(key, "_")
			for i > len("pluginserver_") {
				if d := levenshtein(key[i:], s); d > 0 && d <= 3 && strings.Count(key[i:], "_") <= 2 {
					return key[:i] + s
				}
				i = strings.LastIndex(key[:i], "_")
			}
		}
		if levenshtein(key, "pluginserver_names") <= 2 {
			return "pluginserver_names"
		}
		return ""
	}
	best, bestD := "", 1<<30
	for k := range knownKeys {
		d := levenshtein(key, k)
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	limit := 2
	if len(key) <= 6 {
		limit = 1
	}
	if strings.ReplaceAll(key, "_", "") == strings.ReplaceAll(best, "_", "") {
		return best
	}
	if bestD <= limit && !otherWord(key, best) {
		return best
	}
	return ""
}

// keyWords holds every word (between underscores) of the known keys.
var keyWords = func() map[string]bool {
	m := map[string]bool{}
	for k := range knownKeys {
		for _, w := range strings.Split(k, "_") {
			m[w] = true
		}
	}
	return m
}()

// otherWord reports whether key differs from a known key by one whole
// word that is itself a word of Kong's keys (portal_gui_url against
// portal_api_url): another setting, not a typo, so no rename is suggested.
func otherWord(key, known string) bool {
	a, b := strings.Split(key, "_"), strings.Split(known, "_")
	if len(a) != len(b) {
		return false
	}
	diff := -1
	for i := range a {
		if a[i] != b[i] {
			if diff >= 0 {
				return false
			}
			diff = i
		}
	}
	return diff >= 0 && keyWords[a[diff]] && levenshtein(a[diff], b[diff]) >= 2
}

func levenshtein(a, b string) int {
	if a == b {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// imageEnvKey reports whether a KONG_* variable is read by Kong's Docker
// image rather than by Kong (Kong/docker-kong at d1ed165bfe):
// docker-entrypoint.sh:33-41 fills KONG_<property> from KONG_<property>_FILE
// for every property in kong_defaults.lua, and KONG_PASSWORD from
// KONG_PASSWORD_FILE; Dockerfile.deb:5-6 sets ENV KONG_VERSION.
func imageEnvKey(key string) bool {
	if key == "version" {
		return true
	}
	base, ok := strings.CutSuffix(key, "_file")
	return ok && (knownKeys[base] || base == "password")
}
