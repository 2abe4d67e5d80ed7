package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// Check runs every rule over set and returns the findings.
func Check(set *Set) []Finding {
	var s sink
	set.resolveValuesFrom(&s)
	s.findings = append(s.findings, set.resolveWorkloads()...)
	set.linkLayers()
	for _, n := range set.Nodes {
		checkSource(&s, n)
	}
	// The node rules judge what Kong runs: each source over the sources it
	// reads (kong.conf under the environment, an image under a container).
	deploy := set.deployments()
	for _, n := range deploy {
		if !n.realIPUnknown() {
			checkRealIP(&s, n)
		}
		checkPluginServer(&s, n, hasPluginInGroup(set, n.File))
	}
	for _, sv := range set.Services {
		checkService(&s, sv, snatPossible(set, deploy, sv))
	}
	for _, p := range set.Plugins {
		checkPlugin(&s, p)
	}
	// The files of one deployment (one directory, or the files named on the
	// command line) form one node; cross-file rules compare within it.
	for _, g := range groupDeployments(set, deploy) {
		hasIngress := len(g.Ingresses) > 0
		for _, n := range crossNodes(g.Nodes) {
			if n.realIPUnknown() {
				continue // a placeholder or reference hides the client-IP settings
			}
			for _, sv := range g.Services {
				checkNodeService(&s, n, sv)
				checkTopology(&s, n, sv, hasIngress)
			}
			for _, p := range g.Plugins {
				checkNodePlugin(&s, n, p)
				checkFastPath(&s, g, n, p)
			}
		}
		for _, sv := range g.Services {
			for _, p := range g.Plugins {
				checkServicePlugin(&s, sv, p)
			}
		}
		checkPlatform(&s, g)
	}
	return dedupe(s.findings)
}

// group names the deployment a file belongs to: the directory given on the
// command line, all files named on it, or else the file's directory.
func (set *Set) group(file string) string {
	if g, ok := set.groupOf[file]; ok {
		return g
	}
	return filepath.Dir(file)
}

func hasPluginInGroup(set *Set, file string) bool {
	for _, p := range set.Plugins {
		if set.group(p.File) == set.group(file) {
			return true
		}
	}
	return false
}

// crossNodes returns the nodes that say something about client addresses
// (realip keys or listeners). Fragments such as a pluginserver-only env file
// are left out of cross-file checks unless nothing else is there.
func crossNodes(nodes []*Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n.HasRealIP() {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nodes
	}
	return out
}

func dedupe(in []Finding) []Finding {
	seen := map[string]bool{}
	var out []Finding
	for _, f := range in {
		k := fmt.Sprintf("%s|%s|%d|%s|%s", f.Rule, f.File, f.Line, f.Key, f.Message)
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// Files lints the named files (directories are expanded to their .conf,
// .env, .yaml, .yml and .json files) and returns the report. A file that
// cannot be read is reported as a KC901 finding, not an error.
func Files(paths []string) *Report {
	set := &Set{groupOf: map[string]string{}}
	var parse []Finding
	for _, in := range expand(paths) {
		p := in.path
		set.groupOf[p] = in.group
		b, err := os.ReadFile(p)
		if err != nil {
			var s sink
			if errors.Is(err, fs.ErrNotExist) {
				s.addFix(ruleUnreadable, p, 0, "", "no such file", "check the path (relative paths start from the current directory) or drop the argument")
			} else {
				s.add(ruleUnreadable, p, 0, "", err.Error())
			}
			set.Files = append(set.Files, p)
			parse = append(parse, s.findings...)
			continue
		}
		parse = append(parse, Load(set, p, b)...)
	}
	r := &Report{Files: set.Files, Findings: append(parse, Check(set)...)}
	r.Findings = dedupe(r.Findings)
	r.Sort()
	return r
}

// input is one file to read and the deployment it belongs to.
type input struct{ path, group string }

// expand lists the files to read: a directory's Kong files (its own group)
// and the files named directly (one group together).
func expand(paths []string) []input {
	var out []input
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, input{p, "(files given)"})
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			out = append(out, input{p, filepath.Clean(p)})
			continue
		}
		var files []string
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".conf", ".env", ".yaml", ".yml", ".json":
				if e.Name() != "topology.yaml" {
					files = append(files, filepath.Join(p, e.Name()))
				}
			default:
				if isDockerfile(e.Name()) {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		sort.Strings(files)
		for _, f := range files {
			out = append(out, input{f, filepath.Clean(p)})
		}
	}
	return out
}

// checkSource runs the rules on one source's own lines: keys, variable
// names, listener syntax, env-file comments and trusted_ips entries.
func checkSource(s *sink, n *Node) {
	checkKeys(s, n)
	checkHTTPUnderscores(s, n)
	if n.Format == "env" {
		for _, v := range n.Order {
			if rest := v.Orig[len("KONG_"):]; rest != strings.ToUpper(rest) {
				s.add(ruleLowerEnv, v.File, v.Line, v.Orig, fmt.Sprintf("%s is never read; Kong reads KONG_%s", v.Orig, strings.ToUpper(rest)))
			}
		}
	}
	if lv, v, ok := n.Get("proxy_listen"); ok {
		if _, err := nodeconf.ParseListen(lv); err != nil {
			s.add(ruleBadListen, v.File, v.Line, v.Orig, err.Error())
		}
		for _, l := range ParseListeners(lv) {
			if l.SSL && l.ProxyProtocol && !strings.Contains(" "+l.Raw+" ", " http2 ") {
				s.add(ruleTLSParamsDropHTTP2, v.File, v.Line, v.Orig, fmt.Sprintf("TLS listener %q has proxy_protocol but no http2 (Kong's default TLS listener has it)", l.Raw))
			}
		}
	}
	for _, v := range n.Order {
		if v.InlineComment != "" {
			s.add(ruleInlineComment, v.File, v.Line, v.Orig, fmt.Sprintf("%s = %q: %q is part of the value", v.Orig, v.Value, v.InlineComment))
		}
	}
	trusted, tv := n.TrustedIPs()
	for _, e := range trusted {
		if !validTrustedEntry(e) {
			msg := fmt.Sprintf("trusted_ips entry %q", e)
			if tv.InlineComment != "" {
				msg += " (the env file's inline # comment became part of the value)"
			}
			s.add(ruleBadTrustedIP, tv.file(n.File), tv.line(), "trusted_ips", msg)
		}
	}
}

// checkKeys reports misspelled, unknown, double-prefixed and pluginserver
// keys, and unquoted YAML booleans.
func checkKeys(s *sink, n *Node) {
	for _, v := range n.Order {
		upper := strings.ToUpper(v.Orig)
		if strings.HasPrefix(upper, "KONG_KONG_") ||
			n.Format == "helm" && strings.HasPrefix(strings.ToLower(v.Key), "kong_") {
			s.add(ruleDoublePrefix, v.File, v.Line, v.Orig, fmt.Sprintf("%s becomes KONG_KONG_%s", v.Orig, strings.ToUpper(strings.TrimPrefix(v.Key, "kong_"))))
			continue
		}
		if v.Key == "" || KnownKey(v.Key) || n.Format != "kong.conf" && imageEnvKey(v.Key) {
			checkYAMLBool(s, v)
			continue
		}
		if sug := Suggest(v.Key); sug != "" {
			s.add(ruleNearMissKey, v.File, v.Line, v.Orig, fmt.Sprintf("%s is not a Kong property; did you mean %s?", v.Orig, sug))
		} else {
			s.add(ruleUnknownKey, v.File, v.Line, v.Orig, fmt.Sprintf("%s is not a Kong property", v.Orig))
		}
	}
	// pluginserver_<name>_* keys must use underscores.
	for _, v := range n.Order {
		if strings.HasPrefix(v.Key, "pluginserver_") && strings.Contains(v.Key, "-") {
			s.add(ruleNearMissKey, v.File, v.Line, v.Orig, fmt.Sprintf("%s is never read; Kong looks for %s, with underscores", v.Orig, strings.ReplaceAll(v.Key, "-", "_")))
		}
	}
}

// checkYAMLBool reports an unquoted YAML 1.1 boolean in Helm values. Helm
// renders it as true/false: nginx directives (real_ip_recursive and the
// nginx_* keys) then fail, as do enums such as database (off) and
// enforce_rbac (on). An unquoted true/false reaches Kong unchanged, and
// Kong's boolean properties accept it, so only on/off/yes/no are reported
// for other keys.
func checkYAMLBool(s *sink, v *Value) {
	if !v.YAMLBool {
		return
	}
	rendered := "false"
	if l := strings.ToLower(v.Value); l == "on" || l == "yes" || l == "y" || l == "true" {
		rendered = "true"
	}
	if v.Key == "real_ip_recursive" || strings.HasPrefix(v.Key, "nginx_") {
		s.addSev(ruleYAMLBool, Error, v.File, v.Line, v.Orig, fmt.Sprintf("%s: %s is unquoted; Helm renders %s, which nginx rejects (it takes on/off)", v.Orig, v.Value, rendered))
		return
	}
	if strings.EqualFold(v.Value, rendered) {
		return
	}
	s.addSev(ruleYAMLBool, Warning, v.File, v.Line, v.Orig, fmt.Sprintf("%s: %s is unquoted; Helm renders %s (fine for Kong's boolean properties, wrong for enums such as database or enforce_rbac)", v.Orig, v.Value, rendered))
}

// checkRealIP runs the rules on trusted_ips, real_ip_header,
// real_ip_recursive and the proxy listeners.
func checkRealIP(s *sink, n *Node) {
	trusted, tv := n.TrustedIPs()
	header, hv := n.RealIPHeader()
	rec, rv := n.RealIPRecursive()
	if rv != nil && rec != "on" && rec != "off" && !rv.YAMLBool {
		s.add(ruleBadBoolean, rv.file(n.File), rv.line(), rv.Orig, fmt.Sprintf("%s = %q", rv.Orig, rec))
	}
	isPP := strings.EqualFold(header, "proxy_protocol")
	if isPP && !n.UsesPP() {
		line := hv.line()
		s.add(ruleListenFlagMissing, hv.file(n.File), line, hv.origOr("real_ip_header"), "real_ip_header is proxy_protocol but no proxy listener has the proxy_protocol flag")
	}
	if !isPP && n.UsesPP() {
		if len(trusted) > 0 && hv != nil {
			// The header still applies for trusted peers; only the PROXY address is lost.
			s.addFix(ruleListenFlagUnused, n.ListenFile(), n.ListenLine, "proxy_listen", "", "set real_ip_header = proxy_protocol if the load balancer in front is L4; keep "+header+" only if a proxy behind the PROXY hop sets it")
			s.findings[len(s.findings)-1].Message = fmt.Sprintf("proxy listeners accept PROXY protocol but real_ip_header is %s: the address in the PROXY header is dropped, and the client address comes from %s sent by peers in trusted_ips", header, header)
		} else {
			s.add(ruleListenFlagUnused, n.ListenFile(), n.ListenLine, "proxy_listen", fmt.Sprintf("proxy listeners accept PROXY protocol but real_ip_header is %s", header))
		}
	}
	if len(trusted) > 0 && hv == nil && !n.UsesPP() && n.Format != "admin" && !isTrustAll(trusted) {
		s.add(ruleDefaultHeader, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"), fmt.Sprintf("trusted_ips = %s but real_ip_header is not set (default %s)", strings.Join(trusted, ","), nodeconf.DefaultRealIPHeader))
	}
	if isTrustAll(trusted) {
		if isPP {
			s.add(ruleTrustAllPP, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"), "trusted_ips covers 0.0.0.0/0 or ::/0")
		} else {
			s.add(ruleTrustAllHeaders, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"), fmt.Sprintf("trusted_ips covers 0.0.0.0/0 or ::/0 and real_ip_header is %s", header))
		}
	}
	if len(trusted) == 0 && (hv != nil && !strings.EqualFold(header, "X-Real-IP") || rec == "on") {
		v := hv
		if v == nil {
			v = rv
		}
		s.add(ruleNoTrusted, v.file(n.File), v.line(), v.origOr("real_ip_header"), fmt.Sprintf("real_ip_header = %s, real_ip_recursive = %s, trusted_ips unset", header, rec))
	}
	if strings.EqualFold(header, "Forwarded") {
		s.add(ruleForwardedHeader, hv.file(n.File), hv.line(), hv.origOr("real_ip_header"), "")
	}
	if rec == "on" && !isPP && (strings.EqualFold(header, "X-Real-IP") || strings.EqualFold(header, "CF-Connecting-IP") || strings.EqualFold(header, "True-Client-IP")) && rv != nil {
		s.add(ruleRecursiveSingle, rv.file(n.File), rv.line(), rv.Orig, fmt.Sprintf("real_ip_recursive = on with %s", header))
	}
	if strings.EqualFold(header, "X-Forwarded-For") && rec != "on" && len(trusted) > 1 {
		s.add(ruleXFFNotRecursive, hv.file(n.File), hv.line(), hv.origOr("real_ip_header"), "real_ip_header = X-Forwarded-For, real_ip_recursive = off")
	}
}

func (v *Value) origOr(def string) string {
	if v == nil {
		return def
	}
	return v.Orig
}

func checkPluginServer(s *sink, n *Node, setHasPlugin bool) {
	ps := "pluginserver_client_ip_guard_"
	mentions := setHasPlugin
	for _, v := range n.Order {
		if strings.HasPrefix(v.Key, ps) || strings.Contains(v.Value, pluginName) {
			mentions = true
		}
	}
	if !mentions || n.Format == "admin" {
		return
	}
	hidden := func(v *Value) bool { return v != nil && v.Skip } // a placeholder: not judged
	plugins, pv, _ := n.Get("plugins")
	if !contains(splitList(plugins), pluginName) && !hidden(pv) {
		msg := "plugins does not list client-ip-guard"
		if pv == nil {
			msg = "plugins is unset (defaults to bundled)"
		}
		s.add(rulePluginNotLoaded, pv.file(n.File), pv.line(), pv.origOr("plugins"), msg)
	}
	names, nv, _ := n.Get("pluginserver_names")
	if !contains(splitList(names), pluginName) && !hidden(nv) {
		s.add(rulePluginServerMissing, nv.file(n.File), nv.line(), nv.origOr("pluginserver_names"), "pluginserver_names does not list client-ip-guard")
	}
	if hidden(n.Values["prefix"]) || hidden(n.Values[ps+"socket"]) || hidden(n.Values[ps+"start_cmd"]) {
		return
	}
	prefix := n.Prefix()
	socket, sv, ok := n.Get(ps + "socket")
	if !ok {
		socket = prefix + "/" + pluginName + ".socket"
	}
	start, stv, hasStart := n.Get(ps + "start_cmd")
	kp := "/usr/local/kong"
	if hasStart {
		f := strings.Fields(start)
		for i := 0; i < len(f); i++ {
			if (f[i] == "-kong-prefix" || f[i] == "--kong-prefix") && i+1 < len(f) {
				kp = f[i+1]
			} else if strings.HasPrefix(f[i], "-kong-prefix=") || strings.HasPrefix(f[i], "--kong-prefix=") {
				kp = f[i][strings.Index(f[i], "=")+1:]
			}
		}
	}
	want := strings.TrimRight(kp, "/") + "/" + pluginName + ".socket"
	if filepath.Clean(want) != filepath.Clean(socket) {
		v := stv
		if v == nil {
			v = sv
		}
		msg := fmt.Sprintf("Kong dials %s but the plugin listens on %s", socket, want)
		if !hasStart {
			msg += " (no start_cmd, so -kong-prefix defaults to /usr/local/kong)"
		}
		s.add(rulePrefixMismatch, v.file(n.File), v.line(), v.origOr(ps+"start_cmd"), msg)
	}
	if q, qv, ok := n.Get(ps + "query_cmd"); ok && !strings.Contains(q, "-dump") {
		s.add(ruleQueryCmd, qv.file(n.File), qv.line(), qv.Orig, fmt.Sprintf("query_cmd %q", q))
	}
}

// Service annotation helpers.

const (
	annAWSType    = "service.beta.kubernetes.io/aws-load-balancer-type"
	annAWSTarget  = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	annAWSPP      = "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"
	annAWSTGAttrs = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
	annAWSBackend = "service.beta.kubernetes.io/aws-load-balancer-backend-protocol"
	annAWSHCProto = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol"
	annAWSHCPort  = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"
	annPLSPP      = "service.beta.kubernetes.io/azure-pls-proxy-protocol"
	annDOPP       = "service.beta.kubernetes.io/do-loadbalancer-enable-proxy-protocol"
	annDOProto    = "service.beta.kubernetes.io/do-loadbalancer-protocol"
	annDOHCProto  = "service.beta.kubernetes.io/do-loadbalancer-healthcheck-protocol"
	annOCIPP      = "service.beta.kubernetes.io/oci-load-balancer-connection-proxy-protocol-version"
	annOCINLBPP   = "oci-network-load-balancer.oraclecloud.com/is-ppv2-enabled"
	annHetznerPP  = "load-balancer.hetzner.cloud/uses-proxyprotocol"
	annHetznerPr  = "load-balancer.hetzner.cloud/protocol"
	annHetznerHC  = "load-balancer.hetzner.cloud/health-check-protocol"
	annLinodePP   = "service.beta.kubernetes.io/linode-loadbalancer-default-proxy-protocol"
	annLinodePr   = "service.beta.kubernetes.io/linode-loadbalancer-default-protocol"
	annIBMFeat    = "service.kubernetes.io/ibm-load-balancer-cloud-provider-enable-features"
	annGKENEG     = "cloud.google.com/neg"
	annGKEBackend = "cloud.google.com/backend-config"
	annTKEDirect  = "service.cloud.tencent.com/direct-access"
)

// ppAnnotation returns the annotation that turns PROXY protocol on, if any.
func ppAnnotation(sv *Service) string {
	if _, ok := sv.ann(annAWSPP); ok {
		return annAWSPP
	}
	if v, ok := sv.ann(annAWSTGAttrs); ok && strings.Contains(strings.ReplaceAll(v, " ", ""), "proxy_protocol_v2.enabled=true") {
		return annAWSTGAttrs
	}
	for _, k := range []string{annPLSPP, annDOPP, annOCINLBPP, annHetznerPP} {
		if v, ok := sv.ann(k); ok && strings.EqualFold(v, "true") {
			return k
		}
	}
	if v, ok := sv.ann(annOCIPP); ok && (v == "1" || v == "2") {
		return annOCIPP
	}
	if v, ok := sv.ann(annLinodePP); ok && (v == "v1" || v == "v2") {
		return annLinodePP
	}
	for k, v := range sv.Annotations {
		if strings.HasPrefix(k, "service.beta.kubernetes.io/linode-loadbalancer-port-") && strings.Contains(v, "proxy-protocol") && !strings.Contains(v, `"none"`) {
			return k
		}
	}
	if v, ok := sv.ann(annIBMFeat); ok && strings.Contains(v, "proxy-protocol") {
		return annIBMFeat
	}
	return ""
}

// knownCloud reports whether the Service carries annotations of a cloud
// whose PROXY switch lint knows, so a missing PROXY annotation is meaningful.
func knownCloud(sv *Service) bool {
	for k := range sv.Annotations {
		for _, p := range []string{"service.beta.kubernetes.io/aws-load-balancer-", "service.beta.kubernetes.io/azure-",
			"service.beta.kubernetes.io/do-loadbalancer-", "service.beta.kubernetes.io/oci-", "oci.oraclecloud.com/",
			"oci-network-load-balancer.oraclecloud.com/", "load-balancer.hetzner.cloud/", "service.beta.kubernetes.io/linode-",
			"service.kubernetes.io/ibm-load-balancer-", "cloud.google.com/"} {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
	}
	return false
}

// l7Annotation returns the annotation that makes the load balancer speak HTTP.
func l7Annotation(sv *Service) string {
	if v, ok := sv.ann(annAWSBackend); ok && (strings.EqualFold(v, "http") || strings.EqualFold(v, "https")) {
		return annAWSBackend
	}
	if v, ok := sv.ann(annDOProto); ok && strings.HasPrefix(strings.ToLower(v), "http") {
		return annDOProto
	}
	if v, ok := sv.ann(annHetznerPr); ok && strings.HasPrefix(strings.ToLower(v), "http") {
		return annHetznerPr
	}
	if v, ok := sv.ann(annLinodePr); ok && strings.HasPrefix(strings.ToLower(v), "http") {
		return annLinodePr
	}
	if gkeL7(sv) != "" {
		return gkeL7(sv)
	}
	return ""
}

func gkeL7(sv *Service) string {
	if v, ok := sv.ann(annGKENEG); ok && strings.Contains(strings.ReplaceAll(v, " ", ""), `"ingress":true`) {
		return annGKENEG
	}
	if _, ok := sv.ann(annGKEBackend); ok {
		return annGKEBackend
	}
	return ""
}

// snatPossible reports whether the nodes configured next to sv (same
// deployment) would still lose the client behind a Cluster-policy Service:
// true when there are none, or when none reads PROXY protocol or a header
// from trusted peers. A node that reads a header is judged by
// checkTopology, which knows whether trusted_ips covers the nodes.
func snatPossible(set *Set, deploy []*Node, sv *Service) bool {
	var nodes []*Node
	for _, n := range deploy {
		if set.group(n.File) == set.group(sv.File) {
			nodes = append(nodes, n)
		}
	}
	for _, n := range crossNodes(nodes) {
		if n.realIPUnknown() {
			return false
		}
		h, _ := n.RealIPHeader()
		t, _ := n.TrustedIPs()
		if n.UsesPP() || len(t) > 0 && (!strings.EqualFold(h, nodeconf.DefaultRealIPHeader) || trustedNodeNetwork(t) != "") {
			return false // checkTopology reports the header method behind SNAT
		}
	}
	return true
}

func checkService(s *sink, sv *Service, snat bool) {
	pp := ppAnnotation(sv)
	if v, ok := sv.ann(annAWSPP); ok && v != "*" {
		s.add(ruleAWSPPValue, sv.File, sv.annLine(annAWSPP), annAWSPP, fmt.Sprintf("value %q", v))
	}
	if pp == annDOPP {
		if _, ok := sv.ann("service.beta.kubernetes.io/do-loadbalancer-hostname"); !ok {
			s.add(ruleDOHairpin, sv.File, sv.annLine(annDOPP), annDOPP, "")
		}
	}
	if v, ok := sv.ann(annPLSPP); ok && strings.EqualFold(v, "true") && sv.ExternalTrafficPolicy == "Local" {
		s.add(rulePLSLocal, sv.File, lineOr(sv.ETPLine, sv.Line), "externalTrafficPolicy", "")
	}
	if sv.ExternalTrafficPolicy != "" && sv.Type == "ClusterIP" {
		s.add(ruleLocalOnClusterIP, sv.File, lineOr(sv.ETPLine, sv.Line), "externalTrafficPolicy", "")
	}
	if pp != "" {
		hcKey, hc := "", ""
		for _, k := range []string{annAWSHCProto, annDOHCProto, annHetznerHC} {
			if v, ok := sv.ann(k); ok {
				hcKey, hc = k, strings.ToLower(v)
			}
		}
		port, _ := sv.ann(annAWSHCPort)
		onTraffic := port == "" || port == "traffic-port"
		switch {
		case (hc == "http" || hc == "https") && onTraffic:
			s.add(ruleHealthCheckPP, sv.File, sv.annLine(hcKey), hcKey, fmt.Sprintf("%s: %s with PROXY protocol on the traffic port", hcKey, hc))
		case (hc == "tcp" || hc == "") && onTraffic && strings.HasPrefix(pp, "service.beta.kubernetes.io/aws-"):
			s.add(ruleHealthCheckTCPNoise, sv.File, sv.annLine(pp), pp, "")
		}
	}
	if classicELB(sv) {
		s.add(ruleClassicELBLocal, sv.File, lineOr(sv.ETPLine, sv.Line), "externalTrafficPolicy", fmt.Sprintf("Service %s: Classic ELB (no aws-load-balancer-type), backend protocol %s, externalTrafficPolicy Local, no PROXY annotation", sv.Name, orDefault(sv.Annotations[annAWSBackend], "tcp (default)")))
	}
	awsIP := false
	if t, _ := sv.ann(annAWSType); t == "nlb-ip" {
		awsIP = true
	} else if t == "external" {
		if tt, _ := sv.ann(annAWSTarget); tt == "ip" {
			awsIP = true
		}
	}
	tgAttrs, _ := sv.ann(annAWSTGAttrs)
	if awsIP && pp == "" && !strings.Contains(strings.ReplaceAll(tgAttrs, " ", ""), "preserve_client_ip.enabled=true") {
		s.add(ruleNLBIP, sv.File, sv.annLine(annAWSTarget), annAWSTarget, "")
		return
	}
	if snat && topology.SNATs(sv.Type, sv.ExternalTrafficPolicy) && sv.Type == "LoadBalancer" && pp == "" && l7Annotation(sv) == "" {
		if v, _ := sv.ann(annTKEDirect); strings.EqualFold(v, "true") {
			return
		}
		if strings.Contains(strings.ReplaceAll(tgAttrs, " ", ""), "preserve_client_ip.enabled=true") && awsIP {
			return
		}
		s.add(ruleSNAT, sv.File, lineOr(sv.ETPLine, sv.Line), "externalTrafficPolicy", fmt.Sprintf("Service %s: type LoadBalancer, externalTrafficPolicy %s", sv.Name, orDefault(sv.ExternalTrafficPolicy, "Cluster (default)")))
	}
}

func lineOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func checkNodeService(s *sink, n *Node, sv *Service) {
	pp := ppAnnotation(sv)
	header, _ := n.RealIPHeader()
	switch {
	case pp != "" && !n.UsesPP():
		s.add(rulePPOneSided, sv.File, sv.annLine(pp), pp, fmt.Sprintf("the load balancer sends PROXY (%s) but %s has no proxy_protocol listener", pp, nodeName(n)))
	case pp == "" && n.UsesPP() && sv.Type == "LoadBalancer" && (knownCloud(sv) || l7Annotation(sv) != ""):
		s.add(rulePPOneSided, n.ListenFile(), n.ListenLine, "proxy_listen", fmt.Sprintf("%s expects PROXY protocol but Service %s (%s) has no PROXY annotation", nodeName(n), sv.Name, sv.File))
	}
	if l7 := gkeL7(sv); l7 != "" && !strings.EqualFold(header, "proxy_protocol") {
		trusted, tv := n.TrustedIPs()
		if !covers(trusted, "35.191.0.0/16") || !covers(trusted, "130.211.0.0/22") {
			s.add(ruleGFENotTrusted, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"), fmt.Sprintf("Service %s is behind the GKE L7 load balancer (%s) but trusted_ips is %q", sv.Name, l7, strings.Join(trusted, ",")))
		} else if topology.OnlyPresets(trusted, gfePresets) {
			s.add(ruleGFEOnly, tv.file(n.File), tv.line(), tv.origOr("trusted_ips"), fmt.Sprintf("Service %s is behind the GKE L7 load balancer and trusted_ips holds only Google front-end ranges", sv.Name))
		}
	}
	if l7 := l7Annotation(sv); l7 != "" {
		_, cv, hasCert := n.Get("ssl_cert")
		switch {
		case sv.TargetsTLS:
			s.add(ruleTLSBehindL7, sv.File, lineOr(sv.TLSLine, sv.Line), "tls", fmt.Sprintf("Service %s speaks HTTP to Kong (%s) but still exposes Kong's TLS port", sv.Name, l7))
		case hasCert:
			s.add(ruleTLSBehindL7, cv.File, cv.Line, cv.Orig, fmt.Sprintf("ssl_cert is set although %s terminates TLS on the load balancer", l7))
		}
	}
}

func nodeName(n *Node) string {
	switch {
	case n.File == "":
		return "Kong"
	case n.Where != "":
		return n.File + " (" + n.Where + ")"
	}
	return n.File
}

// covers reports whether any entry of list contains the whole prefix want.
func covers(list []string, want string) bool {
	w, err := netip.ParsePrefix(want)
	if err != nil {
		return false
	}
	for _, c := range list {
		if p, err := netip.ParsePrefix(c); err == nil && p.Bits() <= w.Bits() && p.Contains(w.Addr()) {
			return true
		}
	}
	return false
}

// gfePresets are the Google front-end ranges gke-l7 trusts by default.
var gfePresets = []string{"gcp-lb"}

func checkServicePlugin(s *sink, sv *Service, p *PluginUse) {
	l7 := gkeL7(sv)
	if l7 == "" {
		return
	}
	h, _ := p.Config["real_ip_header"].(string)
	if strings.EqualFold(h, "proxy_protocol") {
		return
	}
	list := toStrings(p.Config["trusted_ips"])
	if !covers(list, "35.191.0.0/16") || !covers(list, "130.211.0.0/22") {
		s.add(ruleGFENotTrusted, p.File, p.line("trusted_ips"), "config.trusted_ips", fmt.Sprintf("%s: plugin trusted_ips lacks the Google front-end ranges", p.Where))
	} else if topology.OnlyPresets(list, gfePresets) {
		s.add(ruleGFEOnly, p.File, p.line("trusted_ips"), "config.trusted_ips", fmt.Sprintf("%s: plugin trusted_ips holds only Google front-end ranges", p.Where))
	}
}
