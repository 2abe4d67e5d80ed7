package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// Rules about the platform around Kong: the chart's names and image, the
// load balancer's health checks, TLS and placement. The facts come from
// kongconf/chart and kongconf/topology, the same ones generate writes.
var (
	ruleGFEOnly = rule("KC114", Error, "GKE L7: only the Google front-end ranges are trusted",
		"the Google front end appends '<client>, <load balancer IP>' to X-Forwarded-For; with the load balancer's own IP untrusted the recursive walk stops there and every client resolves to the load balancer",
		"add the load balancer's IP (the Ingress's static address) to trusted_ips (kongconf generate --provider gke-l7 --trusted-cidr IP)")
	ruleGKEHealth = rule("KC115", Error, "GKE L7 backend without a health check on Kong's status listener",
		"without a BackendConfig health check GKE probes GET / on the serving port; Kong answers 404 there and every backend is marked unhealthy",
		fmt.Sprintf("add a BackendConfig with healthCheck type HTTP, requestPath %s, port %d, and name it in the Service's %s annotation (kongconf generate -o backendconfig)", chart.ReadyPath, chart.StatusPort, topology.BackendConfigAnnotation))
	ruleALBHealth = rule("KC116", Error, "ALB health check not on Kong's status listener",
		"the ALB checks GET / on the traffic port by default; Kong answers 404 without a matching route and the targets go unhealthy",
		fmt.Sprintf("annotate the Ingress with alb.ingress.kubernetes.io/healthcheck-port: \"%d\" and alb.ingress.kubernetes.io/healthcheck-path: %s", chart.StatusPort, chart.ReadyPath))
	ruleNoLBCert = rule("KC117", Warning, "the load balancer terminates no TLS",
		"the load balancer speaks HTTP to Kong but holds no certificate, so HTTPS clients have nothing to connect to",
		"add the provider's certificate annotation ("+strings.Join(topology.CertificateAnnotations(), ", ")+"), with the ALB also listen-ports with HTTPS; kongconf generate --tls lb --lb-certificate writes them")
	ruleHetznerLocation = rule("KC118", Warning, "Hetzner load balancer without a location or network zone",
		"the Hetzner cloud controller refuses to create the load balancer unless the cluster sets a default location or network zone",
		"annotate load-balancer.hetzner.cloud/location (e.g. fsn1) or load-balancer.hetzner.cloud/network-zone (e.g. eu-central)")
	ruleHelmImage = rule("KC119", Error, "Helm values load client-ip-guard without an image that contains it",
		fmt.Sprintf("the chart's image (%s:%s) has no %s while KONG_PLUGINS names the plugin, so Kong fails to start", chart.DefaultRepo, chart.DefaultTag, topology.PluginBinary),
		"set image.repository/tag (kong chart) or gateway.image.repository/tag (ingress chart) to an image that contains "+topology.PluginBinary+" (kongconf generate --image)")
	ruleSelector = rule("KC120", Error, "proxy Service selector does not match the chart's gateway pods",
		"the kong chart labels its pods app.kubernetes.io/name: kong, the ingress chart's gateway pods gateway; a Service selecting the other name matches no pod",
		"select app.kubernetes.io/name: kong for the kong chart or gateway for the ingress chart, with app.kubernetes.io/component: app and app.kubernetes.io/instance: <release> (kongconf generate --chart --release)")
	ruleSelectorInstance = rule("KC123", Warning, "proxy Service selector without app.kubernetes.io/instance",
		"the charts label gateway pods app.kubernetes.io/instance: <release>; without it the Service selects the gateway pods of every release in the namespace",
		"add app.kubernetes.io/instance: <release> to the selector (kongconf generate --release)")
	ruleIngressBackend = rule("KC121", Error, "Ingress backend is not the chart's proxy Service",
		"the kong chart names the proxy Service <release>-kong-proxy and the ingress chart <release>-gateway-proxy; a backend naming another Service routes nowhere",
		"point the backend at <release>-kong-proxy (kong chart) or <release>-gateway-proxy (ingress chart), or at the Service defined next to it (kongconf generate --release)")
	ruleOCIPPOneWay = rule("KC122", Info, "PROXY on a classic OCI load balancer cannot be turned off",
		"once a listener of a classic OCI load balancer has PROXY enabled, removing the annotation leaves it sending PROXY while Kong stops expecting it, and every request fails",
		"plan a rollback as recreating the Service, or use the network load balancer (oci-network-load-balancer.oraclecloud.com/is-ppv2-enabled)")
)

var ruleChartTooOld = rule("KC125", Error, "chart version too old for the values",
	"plugins.preInstalled is read from kong chart "+chart.MinPreInstalled+" (ingress chart 0.18.0) and proxy.nameOverride from "+chart.MinNameOverride+" (ingress 0.19.0); older charts ignore them silently, so Kong never loads the plugin or the Service keeps the chart's name",
	"raise the kong or ingress dependency in Chart.yaml to a version that reads the keys (kong "+chart.MinNameOverride+" or ingress 0.19.0 read both)")

// checkChartVersions: every version-dependent key the values use must be
// read by the lowest chart version the Chart.yaml dependency admits.
func checkChartVersions(s *sink, deps []*ChartDep, helm *HelmInfo) {
	if helm == nil {
		return
	}
	for _, d := range deps {
		low := chart.LowestAllowed(d.Version)
		for key := range helm.Keys {
			if min := chart.MinVersion(d.Chart, key); min != "" && chart.OlderThan(low, min) {
				s.add(ruleChartTooOld, d.File, d.Line, "dependencies."+d.Chart, fmt.Sprintf("the %s chart dependency allows %s, but the values use %s, read from %s", d.Chart, low, key, min))
			}
		}
	}
}

var ruleHeaderTimeout = rule("KC124", Warning, "PROXY listener keeps nginx's 60s client_header_timeout",
	"nginx reads the PROXY header under client_header_timeout (ngx_http_wait_request_handler), 60s unless set, so a client that connects and sends nothing holds a connection that long",
	"set "+topology.HeaderTimeoutKey+" (e.g. 5s, as IBM Cloud's load balancer waits for its header; kongconf generate --proxy-header-timeout)")

// checkHeaderTimeout: a node with a PROXY listener should bound the wait
// for the header.
func checkHeaderTimeout(s *sink, n *Node) {
	if !n.UsesPP() || n.Format == "admin" {
		return
	}
	for _, k := range []string{topology.HeaderTimeoutKey, "nginx_proxy_client_header_timeout"} {
		if v, _, ok := n.Get(k); ok && strings.TrimSpace(v) != "" && strings.TrimSpace(v) != topology.DefaultHeaderTimeout {
			return
		}
	}
	s.add(ruleHeaderTimeout, n.ListenFile(), n.ListenLine, "proxy_listen", fmt.Sprintf("%s reads PROXY headers with client_header_timeout %s", nodeName(n), topology.DefaultHeaderTimeout))
}

// checkPlatform runs the platform rules over one directory's files.
func checkPlatform(s *sink, g *Set) {
	var helm *HelmInfo
	for _, n := range g.Nodes {
		checkHeaderTimeout(s, n)
		if n.Helm != nil {
			checkHelmImage(s, n)
			helm = n.Helm
		}
	}
	for _, sv := range g.Services {
		checkServicePlatform(s, sv, helm)
		checkGKEHealth(s, sv, g.BackendConfigs)
	}
	for _, ing := range g.Ingresses {
		checkIngress(s, ing, g.Services, helm)
	}
	checkChartVersions(s, g.ChartDeps, helm)
}

// checkHelmImage: Helm values that load the plugin must name an image that
// has it, under the chart's own key.
func checkHelmImage(s *sink, n *Node) {
	plugins, _, _ := n.Get("plugins")
	if !contains(splitList(plugins), pluginName) {
		return
	}
	h := n.Helm
	spec, _ := chart.Lookup(h.Chart)
	key := spec.ValuesPath("image.repository")
	switch {
	case h.StrayImage > 0 && h.ImageRepo == "":
		s.add(ruleHelmImage, n.File, h.StrayImage, "image", fmt.Sprintf("image: is at the top level, but the ingress chart reads %s", key))
	case h.ImageRepo == "":
		s.add(ruleHelmImage, n.File, h.ImageLine, key, fmt.Sprintf("%s is unset, so the chart deploys %s:%s", key, chart.DefaultRepo, chart.DefaultTag))
	case chart.IsChartDefault(h.ImageRepo):
		s.add(ruleHelmImage, n.File, h.ImageLine, key, fmt.Sprintf("%s is %s, Kong's stock image", key, h.ImageRepo))
	}
}

func checkServicePlatform(s *sink, sv *Service, helm *HelmInfo) {
	if loc := topology.LocationRequirement(sv.Annotations); loc != nil {
		_, a := sv.ann(loc.Key)
		_, b := sv.ann(loc.ZoneKey)
		if !a && !b {
			s.add(ruleHetznerLocation, sv.File, sv.Line, loc.Key, fmt.Sprintf("Service %s has neither %s nor %s", sv.Name, loc.Key, loc.ZoneKey))
		}
	}
	if v, ok := sv.ann(annOCIPP); ok && v != "" {
		s.add(ruleOCIPPOneWay, sv.File, sv.annLine(annOCIPP), annOCIPP, "")
	}
	if l7 := l7Annotation(sv); l7 != "" && gkeL7(sv) == "" && !hasAny(sv.Annotations, topology.CertificateAnnotations()) {
		s.add(ruleNoLBCert, sv.File, sv.annLine(l7), l7, fmt.Sprintf("Service %s speaks HTTP to Kong (%s) and names no certificate", sv.Name, l7))
	}
	if sv.FromHelm || sv.Selector == nil {
		return
	}
	app, ok := sv.Selector[chart.LabelName]
	if !ok || app != "kong" && app != "gateway" {
		return // not a Service for the charts' gateway pods
	}
	line := lineOr(sv.SelectorLine, sv.Line)
	if helm != nil {
		spec, _ := chart.Lookup(helm.Chart)
		if app != spec.AppName {
			s.add(ruleSelector, sv.File, line, "spec.selector", fmt.Sprintf("Service %s selects %s: %s, but the %s chart's gateway pods carry %s", sv.Name, chart.LabelName, app, spec.Name, spec.AppName))
			return
		}
	}
	if _, ok := sv.Selector[chart.LabelInstance]; !ok {
		s.add(ruleSelectorInstance, sv.File, line, "spec.selector", fmt.Sprintf("Service %s selects every release's pods (no %s)", sv.Name, chart.LabelInstance))
	}
}

// checkGKEHealth: a Service behind the GKE L7 load balancer needs a
// BackendConfig whose health check is Kong's readiness endpoint.
func checkGKEHealth(s *sink, sv *Service, bcs []*BackendConfig) {
	if v, ok := sv.ann(annGKENEG); !ok || !strings.Contains(strings.ReplaceAll(v, " ", ""), `"ingress":true`) {
		return
	}
	ref, ok := sv.ann(topology.BackendConfigAnnotation)
	if !ok {
		s.add(ruleGKEHealth, sv.File, sv.annLine(annGKENEG), topology.BackendConfigAnnotation, fmt.Sprintf("Service %s has no %s", sv.Name, topology.BackendConfigAnnotation))
		return
	}
	for _, bc := range bcs {
		if !strings.Contains(ref, `"`+bc.Name+`"`) {
			continue
		}
		if bc.Path != chart.ReadyPath || bc.Port != chart.StatusPort {
			s.add(ruleGKEHealth, bc.File, bc.Line, "spec.healthCheck", fmt.Sprintf("BackendConfig %s checks %q on port %d", bc.Name, bc.Path, bc.Port))
		}
	}
}

func checkIngress(s *sink, ing *Ingress, svcs []*Service, helm *HelmInfo) {
	if ing.Class == "alb" {
		for k, want := range topology.ALBHealthCheck() {
			if ing.Annotations[k] != want {
				s.add(ruleALBHealth, ing.File, ing.Line, k, fmt.Sprintf("Ingress %s: %s is %q", ing.Name, k, ing.Annotations[k]))
			}
		}
		cert, ports := topology.ALBTLSAnnotations()
		if ing.Annotations[cert] == "" || !strings.Contains(ing.Annotations[ports], "HTTPS") {
			s.add(ruleNoLBCert, ing.File, ing.Line, cert, fmt.Sprintf("Ingress %s: the ALB needs %s and an HTTPS entry in %s", ing.Name, cert, ports))
		}
	} else if ing.Class == "gce" && !ing.HasTLS && !hasAny(ing.Annotations, topology.CertificateAnnotations()) {
		s.add(ruleNoLBCert, ing.File, ing.Line, "spec.tls", fmt.Sprintf("Ingress %s names no certificate", ing.Name))
	}
	specs := []string{chart.Kong, chart.Ingress}
	if helm != nil {
		specs = []string{helm.Chart}
	}
	// Helm values that render the proxy Service decide its name: the
	// chart's form, or proxy.nameOverride. A manifest of another name
	// next to them would be a second Service, not the chart's.
	chartOwns := helm != nil && helm.RendersProxy
	for _, b := range ing.Backends {
		if chartOwns && b.Service == helm.NameOverride || !chartOwns && serviceIn(b.Service, svcs) {
			continue
		}
		ok := false
		for _, c := range specs {
			spec, _ := chart.Lookup(c)
			_, match := spec.ReleaseOf(b.Service)
			ok = ok || match
		}
		switch {
		case ok:
		case chartOwns:
			spec, _ := chart.Lookup(helm.Chart)
			s.add(ruleIngressBackend, ing.File, b.Line, "backend.service.name", fmt.Sprintf("Ingress %s routes to Service %s, but the %s chart's values here render %s (no proxy.nameOverride)", ing.Name, b.Service, spec.Name, spec.ProxyService("<release>")))
		default:
			s.add(ruleIngressBackend, ing.File, b.Line, "backend.service.name", fmt.Sprintf("Ingress %s routes to Service %s, which neither the %s chart renders nor this directory defines", ing.Name, b.Service, strings.Join(specs, " or ")))
		}
	}
}

// serviceIn reports whether a manifest in svcs (Helm values do not name
// their Service) is called name.
func serviceIn(name string, svcs []*Service) bool {
	for _, sv := range svcs {
		if !sv.FromHelm && sv.Name == name {
			return true
		}
	}
	return false
}

func hasAny(m map[string]string, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// groupDeployments splits set into one Set per deployment (see
// Set.group), in name order. nodes are the nodes Kong runs (deployments),
// each judged with the Services, plugins and platform objects beside it.
func groupDeployments(set *Set, nodes []*Node) []*Set {
	groups := map[string]*Set{}
	group := func(file string) *Set {
		d := set.group(file)
		if groups[d] == nil {
			groups[d] = &Set{}
		}
		return groups[d]
	}
	for _, n := range nodes {
		g := group(n.File)
		g.Nodes = append(g.Nodes, n)
	}
	for _, sv := range set.Services {
		g := group(sv.File)
		g.Services = append(g.Services, sv)
	}
	for _, p := range set.Plugins {
		g := group(p.File)
		g.Plugins = append(g.Plugins, p)
	}
	for _, i := range set.Ingresses {
		g := group(i.File)
		g.Ingresses = append(g.Ingresses, i)
	}
	for _, b := range set.BackendConfigs {
		g := group(b.File)
		g.BackendConfigs = append(g.BackendConfigs, b)
	}
	for _, d := range set.ChartDeps {
		g := group(d.File)
		g.ChartDeps = append(g.ChartDeps, d)
	}
	for _, i := range set.Includes {
		g := group(i.File)
		g.Includes = append(g.Includes, i)
	}
	dirs := make([]string, 0, len(groups))
	for d := range groups {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	out := make([]*Set, len(dirs))
	for i, d := range dirs {
		out[i] = groups[d]
	}
	return out
}
