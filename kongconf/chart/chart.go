// Package chart holds the facts kongconf relies on about the Kong/charts Helm
// charts: the names they give the proxy Service, the labels on the gateway
// pods, where the image is set, the status listener and the chart versions
// that introduced the keys generate writes. generate and lint both read them
// here, so a generated name and the rule that checks a hand-written one agree.
//
// Sources (github.com/Kong/charts, tags kong-3.4.1 and ingress-0.24.0):
//   - charts/kong/templates/_helpers.tpl:15-17 kong.name = nameOverride or .Chart.Name
//   - charts/kong/templates/_helpers.tpl:19-22 kong.fullname = fullnameOverride or "<release>-<name>"
//   - charts/kong/templates/_helpers.tpl:40-44 selector labels: name, component: app, instance: <release>
//   - charts/kong/templates/_helpers.tpl:176 Service name = proxy.nameOverride or "<fullname>-proxy"
//   - charts/kong/templates/_helpers.tpl:224,238-240 ports kong-proxy and kong-proxy-tls;
//     the TLS port targets tls.overrideServiceTargetPort when set
//   - charts/kong/values.yaml:149-151 image.repository: kong, image.tag: "3.9"
//   - charts/kong/values.yaml:235-240 status listener, HTTP on containerPort 8100
//   - charts/kong/values.yaml:962-964 readinessProbe GET /status/ready on port "status"
//   - charts/kong/values.yaml:313 proxy.nameOverride
//   - charts/kong/CHANGELOG.md "2.47.0": plugins.preInstalled (#1214);
//     "2.48.0": proxy.nameOverride renames the proxy Service (#1266)
//   - charts/ingress/Chart.yaml: the kong chart (=3.2.0) as subchart alias "gateway",
//     so .Chart.Name, and with it the pod label and the fullname, is "gateway"
//   - charts/ingress/values.yaml:7 controller.proxy.nameOverride "{{ .Release.Name }}-gateway-proxy"
//   - charts/kong/values.yaml:1397 extraConfigMaps [{name, mountPath, subPath}]: each becomes a
//     volume (templates/_helpers.tpl:735-739, in kong.volumes) and a volumeMount
//     (_helpers.tpl:834-841, in kong.volumeMounts), which deployment.yaml:292 gives the
//     "proxy" container (deployment.yaml:148); since 1.11 (commit 79aeb8b2, #208)
//   - charts/kong/values.yaml:1409 extraObjects: rendered as manifests of the release through
//     tpl (templates/extraManifests.yaml:1-3); CHANGELOG.md "2.12.0" (#652)
package chart

import (
	"fmt"
	"regexp"
	"strings"
)

// Chart names accepted by --chart.
const (
	// Kong is the Kong/charts "kong" chart (keys at the top level).
	Kong = "kong"
	// Ingress is the Kong/charts "ingress" chart (gateway keys under "gateway:").
	Ingress = "ingress"
)

// Label keys the chart puts on the gateway pods (_helpers.tpl:40-44).
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
)

// Status listener and readiness path (values.yaml:235-240, 962-964).
const (
	StatusPort  = 8100
	ReadyPath   = "/status/ready"
	ProxyPort   = 8000
	ProxyTLS    = 8443
	HTTPPort    = 80
	HTTPSPort   = 443
	DefaultRepo = "kong"
	DefaultTag  = "3.9"
)

// Port names the chart gives the proxy Service (kong-{{ .serviceName }} and
// kong-{{ .serviceName }}-tls, _helpers.tpl:224,238).
const (
	PortHTTP = "kong-proxy"
	PortTLS  = "kong-proxy-tls"
)

// Minimum chart versions for the keys generate writes.
const (
	// MinPreInstalled is the kong chart that added plugins.preInstalled;
	// older charts ignore the key and Kong never loads the plugin.
	MinPreInstalled = "2.47.0"
	// MinNameOverride is the kong chart from which proxy.nameOverride renames
	// the proxy Service.
	MinNameOverride = "2.48.0"
	// IngressGatewayChart is the kong chart the ingress chart 0.24.0 embeds.
	IngressGatewayChart = "3.2.0"
)

// Values keys whose support depends on the chart version.
const (
	KeyPreInstalled = "plugins.preInstalled"
	KeyNameOverride = "proxy.nameOverride"
)

// Values keys the fast path's include uses; both predate
// MinPreInstalled, so they add no minimum of their own. The ingress
// chart's kong 3.2.0 has both (gateway.extraConfigMaps, gateway.extraObjects).
const (
	// KeyExtraConfigMaps mounts existing ConfigMaps into the proxy container.
	KeyExtraConfigMaps = "extraConfigMaps"
	// KeyExtraObjects creates extra objects with the release; its items go
	// through Helm's tpl, so they must hold no "{{".
	KeyExtraObjects = "extraObjects"
)

// minVersions: the first chart version that reads each key. The ingress
// chart pins one kong chart per release (charts/ingress/Chart.yaml at each
// tag): 0.18.0 embeds kong 2.47.0, 0.19.0 embeds 2.48.0.
var minVersions = map[string]map[string]string{
	Kong:    {KeyPreInstalled: MinPreInstalled, KeyNameOverride: MinNameOverride},
	Ingress: {KeyPreInstalled: "0.18.0", KeyNameOverride: "0.19.0"},
}

// MinVersion returns the first version of chart that reads key ("" when
// any version does).
func MinVersion(chart, key string) string { return minVersions[chart][key] }

// OlderThan reports whether version v is below min (both MAJOR.MINOR.PATCH,
// an optional leading "v"; missing parts count as 0). A v that does not
// parse is not older.
func OlderThan(v, min string) bool {
	a, ok1 := semver(v)
	b, ok2 := semver(min)
	if !ok1 || !ok2 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func semver(s string) ([3]int, bool) {
	var out [3]int
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n := 0
		if p == "" || p == "x" || p == "*" {
			if i == 0 {
				return out, false
			}
			break
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return out, false
			}
			n = n*10 + int(c-'0')
		}
		out[i] = n
	}
	return out, true
}

// LowestAllowed returns the lowest version a Helm dependency constraint
// admits ("=2.46.0", "2.46.0", "~2.46.0", "^2.46", ">=2.40.0", ">= 2.40, < 3"),
// or "" when it has no lower bound kongconf can read.
func LowestAllowed(constraint string) string {
	for _, part := range strings.Split(constraint, ",") {
		p := strings.TrimSpace(part)
		if strings.HasPrefix(p, "<") || strings.HasPrefix(p, "!=") {
			continue
		}
		p = strings.TrimLeft(p, "=~^>v ")
		if _, ok := semver(p); ok {
			return p
		}
	}
	return ""
}

// Spec is one chart's naming.
type Spec struct {
	// Name is the --chart value.
	Name string
	// AppName is the gateway's .Chart.Name: the pod label and the fullname suffix.
	AppName string
	// Root is the values key the gateway settings live under ("" = top level).
	Root string
}

// Lookup returns the chart called name.
func Lookup(name string) (Spec, error) {
	switch name {
	case Kong, "":
		return Spec{Name: Kong, AppName: "kong"}, nil
	case Ingress:
		return Spec{Name: Ingress, AppName: "gateway", Root: "gateway"}, nil
	}
	return Spec{}, fmt.Errorf("chart %q must be kong or ingress", name)
}

// Fullname is kong.fullname for release (_helpers.tpl:19-22), truncated to 63
// characters as Helm does.
func (s Spec) Fullname(release string) string {
	return trunc63(release + "-" + s.AppName)
}

// ProxyService is the proxy Service's name the chart renders for release.
func (s Spec) ProxyService(release string) string {
	return s.Fullname(release) + "-proxy"
}

// ReleaseOf returns the release whose proxy Service the chart names svc, and
// whether svc has the chart's form at all.
func (s Spec) ReleaseOf(svc string) (string, bool) {
	suffix := "-" + s.AppName + "-proxy"
	if !strings.HasSuffix(svc, suffix) || len(svc) == len(suffix) {
		return "", false
	}
	return strings.TrimSuffix(svc, suffix), true
}

// Selector is the proxy Service's selector the chart renders for release.
func (s Spec) Selector(release string) map[string]string {
	return map[string]string{LabelName: s.AppName, LabelComponent: "app", LabelInstance: release}
}

// ValuesPath prefixes a values key with the chart's root ("image" becomes
// "gateway.image" for the ingress chart).
func (s Spec) ValuesPath(key string) string {
	if s.Root == "" {
		return key
	}
	return s.Root + "." + key
}

func trunc63(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimSuffix(s, "-")
}

// releaseRE is Helm's release-name rule (DNS-1123 label, at most 53 characters).
var releaseRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// CheckRelease reports why name is not a valid Helm release name.
func CheckRelease(name string) error {
	if len(name) > 53 || !releaseRE.MatchString(name) {
		return fmt.Errorf("release %q is not a Helm release name (lower-case letters, digits and '-', at most 53 characters)", name)
	}
	return nil
}

// ParseImage splits REPO:TAG (the tag is required; a digest REPO@sha256:... is accepted as the tag).
func ParseImage(s string) (repo, tag string, err error) {
	if i := strings.Index(s, "@"); i > 0 {
		return s[:i], s[i:], nil
	}
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 || strings.Contains(s[i:], "/") {
		return "", "", fmt.Errorf("image %q must be REPO:TAG (an image that contains the client-ip-guard binary)", s)
	}
	return s[:i], s[i+1:], nil
}

// IsChartDefault reports whether repo is the chart's stock Kong image, which
// has no client-ip-guard binary.
func IsChartDefault(repo string) bool {
	switch strings.TrimPrefix(strings.TrimPrefix(repo, "docker.io/"), "library/") {
	case "kong", "kong/kong", "kong/kong-gateway", "":
		return true
	}
	return false
}
