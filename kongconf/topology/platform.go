package topology

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/presets"
)

// Port is one port of the proxy Service.
type Port struct {
	// Name is the chart's port name (kong-proxy, kong-proxy-tls).
	Name string
	// Port is the Service port; Target is Kong's listener.
	Port, Target int32
}

// Platform is what the chart and the load balancer need beyond Kong's own
// settings: names, image, the Service's annotations and ports, the front
// Ingress and notes. It is filled in by Resolve.
type Platform struct {
	// Chart is the Helm chart's naming.
	Chart chart.Spec
	// Release is the Helm release name.
	Release string
	// NameOverride is set when the Service name is not the chart's own
	// (the topology's serviceName), so Helm values set proxy.nameOverride.
	NameOverride bool
	// ImageRepo and ImageTag come from the topology's image ("" when unset).
	ImageRepo, ImageTag string
	// Annotations are the proxy Service's final annotations.
	Annotations map[string]string
	// Ports are the proxy Service's ports.
	Ports []Port
	// Front is the Ingress of an L7 load balancer (nil when none), with the
	// certificate filled in.
	Front *FrontIngress
	// BackendConfig names the GKE BackendConfig ("" when none).
	BackendConfig string
	// Notes are the profile's notes plus those that follow from the choices.
	Notes []string
}

// BackendConfigAnnotation ties a GKE Service to its BackendConfig.
const BackendConfigAnnotation = "cloud.google.com/backend-config"

// resolvePlatform fills r.Platform from t (completing t's chart, release and
// Service name) and records refusals with fail.
func resolvePlatform(t *Topology, r *Resolved, fail func(string, ...any)) {
	p, prof := r.Provider, r.Profile
	spec, err := chart.Lookup(t.Chart)
	if err != nil {
		fail("%v", err)
	}
	t.Chart = spec.Name
	if t.Release == "" {
		t.Release = "kong"
	}
	if err := chart.CheckRelease(t.Release); err != nil {
		fail("%v", err)
	}
	pl := Platform{Chart: spec, Release: t.Release, Annotations: map[string]string{}}
	if t.ServiceName == "" {
		t.ServiceName = spec.ProxyService(t.Release)
	}
	pl.NameOverride = t.ServiceName != spec.ProxyService(t.Release)
	if t.Image != "" {
		pl.ImageRepo, pl.ImageTag, err = chart.ParseImage(t.Image)
		if err != nil {
			fail("%v", err)
		} else if chart.IsChartDefault(pl.ImageRepo) {
			fail("image %s is Kong's stock image, which has no %s; build one FROM it that adds the binary and pass that", t.Image, PluginBinary)
		}
	}
	for k, v := range prof.Annotations {
		pl.Annotations[k] = v
	}
	pl.Notes = append(pl.Notes, prof.Notes...)

	resolveTLS(t, r, &pl, fail)
	resolveHeaderTimeout(t, r, &pl, fail)
	resolveMetrics(t, r, fail)
	resolveLocation(t, p, &pl, fail)
	if prof.NeedsLBAddress != "" && OnlyPresets(r.TrustedIPs, prof.Presets) {
		fail("provider %s: %s", p.Name, prof.NeedsLBAddress)
	}
	if prof.BackendConfig {
		pl.BackendConfig = t.ServiceName
		pl.Annotations[BackendConfigAnnotation] = fmt.Sprintf(`{"default": %q}`, pl.BackendConfig)
	}
	if SNATs(serviceType(prof), prof.ExternalTrafficPolicy) && r.Method != MethodLocal && !t.TrustAll {
		pl.Notes = append(pl.Notes, "externalTrafficPolicy: Cluster: kube-proxy SNATs the load balancer's connection to a node address, so Kong's peer is a node: trusted_ips must cover the node subnet as well as the load balancer's addresses.")
	}
	r.Platform = pl
}

// resolveTLS decides the Service ports and the TLS annotations, refusing
// what no load balancer of the provider can do.
func resolveTLS(t *Topology, r *Resolved, pl *Platform, fail func(string, ...any)) {
	p, prof := r.Provider, r.Profile
	http := Port{Name: chart.PortHTTP, Port: chart.HTTPPort, Target: chart.ProxyPort}
	switch {
	case r.TLS == TLSKong && prof.TLSAtLB:
		fail("provider %s with method %s speaks HTTP to Kong and terminates the client's TLS itself; use --tls lb with --lb-certificate (%s)", p.Name, r.Method, certWhat(prof))
		return
	case r.TLS == TLSKong:
		pl.Ports = []Port{http, {Name: chart.PortTLS, Port: chart.HTTPSPort, Target: chart.ProxyTLS}}
		if t.LBCertificate != "" {
			fail("lbCertificate is only used with --tls lb")
		}
		return
	case r.Method == MethodLocal:
		fail("tls lb with method local: the load balancer passes TCP through so Kong sees the client as its peer, and such a load balancer cannot terminate TLS; use --tls kong, or a PROXY or header method with --tls lb")
		return
	case prof.LBTLS == nil:
		reason := prof.NoLBTLS
		if reason == "" {
			reason = "kongconf knows no way to terminate TLS on this load balancer; keep --tls kong"
		}
		fail("tls lb on provider %s: %s", p.Name, reason)
		return
	case prof.LBTLS.Cert != "" && t.LBCertificate == "":
		fail("tls lb on provider %s: add --lb-certificate (%s) so the load balancer can terminate TLS", p.Name, prof.LBTLS.Cert)
		return
	case prof.LBTLS.Cert == "" && t.LBCertificate != "":
		fail("lbCertificate: provider %s takes no certificate (TLS terminates outside Kubernetes)", p.Name)
		return
	}
	for k, v := range prof.LBTLS.Annotations {
		pl.Annotations[k] = strings.ReplaceAll(v, CertToken, t.LBCertificate)
	}
	if prof.Front != nil {
		f := &FrontIngress{Class: prof.Front.Class, Annotations: map[string]string{}}
		for k, v := range prof.Front.Annotations {
			f.Annotations[k] = strings.ReplaceAll(v, CertToken, t.LBCertificate)
		}
		pl.Front = f
	}
	// HTTPS on the load balancer, plain HTTP to Kong's 8000 listener.
	https := Port{Name: chart.PortTLS, Port: chart.HTTPSPort, Target: chart.ProxyPort}
	switch {
	case len(prof.LBTLS.Annotations) == 0:
		pl.Ports = []Port{http} // TLS ends in front of the Service (Ingress, CDN, the user's proxy)
	case prof.LBTLS.HTTPSOnly:
		pl.Ports = []Port{https}
	default:
		pl.Ports = []Port{http, https}
	}
}

// HeaderTimeoutKey is the Kong property that sets nginx's
// client_header_timeout for every server in the http block (Kong 3.9.3
// kong.conf.default:1046 injects nginx_http_<directive> into http {};
// kong/templates/nginx_kong.lua:41-42; the templates set no
// client_header_timeout, so nginx's default applies).
const HeaderTimeoutKey = "nginx_http_client_header_timeout"

// DefaultHeaderTimeout is nginx's client_header_timeout default
// (nginx 1.25.3 src/http/ngx_http_core_module.c:3489-3490, 60000 ms).
const DefaultHeaderTimeout = "60s"

// nginxTime is nginx's time syntax as client_header_timeout takes it.
var nginxTime = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d)?)+$`)

// resolveHeaderTimeout sets HeaderTimeout. On a PROXY listener nginx reads
// the PROXY header in ngx_http_wait_request_handler under the timer
// ngx_http_init_connection armed with client_header_timeout (nginx 1.25.3
// src/http/ngx_http_request.c:355, 366-471; the TLS path re-arms it in
// ngx_http_ssl_handshake, :709, before reading PROXY at :729). A client that
// connects and sends nothing therefore holds the connection for the whole
// timeout, 60s by default, where a load balancer gives up far sooner (IBM
// Cloud's --header-timeout defaults to 5s).
func resolveHeaderTimeout(t *Topology, r *Resolved, pl *Platform, fail func(string, ...any)) {
	if t.ProxyHeaderTimeout == "" {
		if r.ProxyProtocol {
			pl.Notes = append(pl.Notes, "Kong reads the PROXY header under nginx's client_header_timeout ("+DefaultHeaderTimeout+" by default), so a silent connection is held that long; --proxy-header-timeout lowers it.")
		}
		return
	}
	switch {
	case !r.ProxyProtocol:
		fail("proxyHeaderTimeout bounds the wait for a PROXY header; it needs method proxy-protocol (drop it, or use --method proxy-protocol)")
	case !nginxTime.MatchString(t.ProxyHeaderTimeout):
		fail("proxyHeaderTimeout %q is not an nginx time (use e.g. 5s or 500ms)", t.ProxyHeaderTimeout)
	default:
		r.HeaderTimeout = t.ProxyHeaderTimeout
	}
}

// resolveMetrics checks the -metrics-listen address: the plugin binary
// refuses anything net.Listen cannot bind, so generate refuses it first.
func resolveMetrics(t *Topology, r *Resolved, fail func(string, ...any)) {
	if t.Metrics == "" {
		return
	}
	host, port, err := net.SplitHostPort(t.Metrics)
	p, perr := strconv.Atoi(port)
	switch {
	case err != nil:
		fail("metrics %q: want HOST:PORT (e.g. 0.0.0.0:9542): %v", t.Metrics, err)
	case perr != nil || p < 1 || p > 65535:
		fail("metrics %q: the port must be a number from 1 to 65535", t.Metrics)
	case host != "" && net.ParseIP(host) == nil:
		fail("metrics %q: the host must be an IP address or empty (all addresses)", t.Metrics)
	default:
		r.Metrics, r.MetricsPort = t.Metrics, p
	}
}

func certWhat(prof MethodProfile) string {
	if prof.LBTLS != nil && prof.LBTLS.Cert != "" {
		return prof.LBTLS.Cert
	}
	return "the load balancer's certificate"
}

func resolveLocation(t *Topology, p Provider, pl *Platform, fail func(string, ...any)) {
	if p.Location == nil {
		if t.LBLocation != "" {
			fail("lbLocation is only used by hetzner")
		}
		return
	}
	if t.LBLocation == "" {
		fail("provider %s: add --lb-location (a location such as fsn1, or a network zone such as %s): %s", p.Name, p.Location.Zones[0], p.Location.Why)
		return
	}
	if contains(p.Location.Zones, t.LBLocation) {
		pl.Annotations[p.Location.ZoneKey] = t.LBLocation
	} else {
		pl.Annotations[p.Location.Key] = t.LBLocation
	}
}

func serviceType(prof MethodProfile) string {
	if prof.ServiceType != "" {
		return prof.ServiceType
	}
	return "LoadBalancer"
}

// SNATs reports whether kube-proxy rewrites the source of connections that
// reach a Service of this type and externalTrafficPolicy: a LoadBalancer or
// NodePort Service with the Cluster policy (the default) forwards through any
// node and masquerades as that node.
func SNATs(serviceType, externalTrafficPolicy string) bool {
	return (serviceType == "LoadBalancer" || serviceType == "NodePort") && externalTrafficPolicy != "Local"
}

// OnlyPresets reports whether every trusted range lies inside the named
// presets, i.e. nothing identifies the load balancer itself. An empty list
// of presets or of ranges is false.
func OnlyPresets(trusted []string, names []string) bool {
	if len(trusted) == 0 || len(names) == 0 {
		return false
	}
	var ranges []string
	for _, n := range names {
		ps, err := presets.Get(n)
		if err != nil {
			return false
		}
		ranges = append(ranges, ps.CIDRs...)
	}
	for _, c := range trusted {
		if !presets.Covered(c, ranges) {
			return false
		}
	}
	return true
}

// CertificateAnnotations lists every annotation key (Service or Ingress)
// through which some provider's load balancer gets its TLS certificate, sorted.
func CertificateAnnotations() []string {
	seen := map[string]bool{}
	for _, p := range providers {
		for _, prof := range p.Methods {
			var anns []map[string]string
			if prof.LBTLS != nil {
				anns = append(anns, prof.LBTLS.Annotations)
			}
			if prof.Front != nil {
				anns = append(anns, prof.Front.Annotations)
			}
			for _, a := range anns {
				for k, v := range a {
					if strings.Contains(v, CertToken) {
						seen[k] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LocationRequirement returns the placement annotation rule of the provider
// whose Service annotations start with prefix-bearing keys in ann, or nil.
func LocationRequirement(ann map[string]string) *Location {
	for _, p := range providers {
		if p.Location == nil {
			continue
		}
		pre := p.Location.Key[:strings.Index(p.Location.Key, "/")+1]
		for k := range ann {
			if strings.HasPrefix(k, pre) {
				return p.Location
			}
		}
	}
	return nil
}

// ALBHealthCheck returns the ALB Ingress annotations that point the health
// check at Kong's status listener.
func ALBHealthCheck() map[string]string {
	a := providers["eks-alb"].Methods[MethodHeaders].Front.Annotations
	return map[string]string{albHealthPort: a[albHealthPort], albHealthPath: a[albHealthPath]}
}

// ALBTLSAnnotations names the ALB Ingress annotations for TLS: the
// certificate and the listener ports.
func ALBTLSAnnotations() (certificate, listenPorts string) { return albCertificate, albListenPorts }
