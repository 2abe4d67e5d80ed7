package lint

import (
	"strconv"

	"go.yaml.in/yaml/v3"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
)

// helmInfo reads the chart layout and the image from Helm values: the kong
// chart reads image.*, the ingress chart gateway.image.* (Kong/charts
// charts/kong/values.yaml:149-151, nested under the gateway alias).
func helmInfo(root, gw *yaml.Node, ingress bool) *HelmInfo {
	h := &HelmInfo{Chart: chart.Kong, ImageLine: root.Line}
	if ingress {
		h.Chart = chart.Ingress
		if k, _ := mapGet(root, "image"); k != nil {
			h.StrayImage = k.Line
		}
	}
	h.RendersProxy = scalar(mapPath(gw, "proxy", "enabled")) != "false"
	h.NameOverride = scalar(mapPath(gw, "proxy", "nameOverride"))
	h.Keys = map[string]int{}
	for key, path := range map[string][]string{chart.KeyPreInstalled: {"plugins", "preInstalled"}, chart.KeyNameOverride: {"proxy", "nameOverride"}} {
		if k, v := mapGet(mapPath(gw, path[0]), path[1]); v != nil && scalar(v) != "" {
			h.Keys[key] = k.Line
		}
	}
	if k, img := mapGet(gw, "image"); img != nil {
		h.ImageLine = k.Line
		h.ImageRepo = scalar(mapPath(img, "repository"))
	}
	return h
}

func loadIngress(set *Set, s *sink, file string, root *yaml.Node) {
	var ing networkingv1.Ingress
	if err := strictDecode(root, &ing); err != nil {
		s.add(ruleBadStrict, file, root.Line, "Ingress", "Ingress: "+err.Error())
		return
	}
	out := &Ingress{File: file, Line: root.Line, Name: ing.Name, Annotations: ing.Annotations, HasTLS: len(ing.Spec.TLS) > 0}
	if ing.Spec.IngressClassName != nil {
		out.Class = *ing.Spec.IngressClassName
	} else {
		out.Class = ing.Annotations["kubernetes.io/ingress.class"]
	}
	line := root.Line
	if k, _ := mapGet(root, "spec"); k != nil {
		line = k.Line
	}
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out.Backends = append(out.Backends, Backend{Service: b.Service.Name, Line: line})
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil {
				out.Backends = append(out.Backends, Backend{Service: p.Backend.Service.Name, Line: line})
			}
		}
	}
	set.Ingresses = append(set.Ingresses, out)
}

// loadChartFile records the kong and ingress dependencies of an umbrella
// chart's Chart.yaml, whose versions decide which values keys are read.
// A Chart.yaml without either is reported once (KC902), not passed silently.
func loadChartFile(set *Set, s *sink, file string, root *yaml.Node) {
	found := false
	for _, d := range seqItems(mapPath(root, "dependencies")) {
		name := scalar(mapPath(d, "name"))
		if name != chart.Kong && name != chart.Ingress {
			continue
		}
		found = true
		set.ChartDeps = append(set.ChartDeps, &ChartDep{File: file, Line: d.Line, Chart: name, Version: scalar(mapPath(d, "version"))})
	}
	if !found {
		s.add(ruleUnknownFile, file, root.Line, "dependencies", "Chart.yaml without a kong or ingress chart dependency, nothing to check")
	}
}

// loadBackendConfig reads a GKE BackendConfig's health check; GKE's types
// are not a dependency, so only the fields lint needs are read.
func loadBackendConfig(set *Set, file string, root *yaml.Node) {
	hc := mapPath(root, "spec", "healthCheck")
	port, _ := strconv.Atoi(scalar(mapPath(hc, "port")))
	set.BackendConfigs = append(set.BackendConfigs, &BackendConfig{File: file, Line: root.Line,
		Name: scalar(mapPath(root, "metadata", "name")), Path: scalar(mapPath(hc, "requestPath")), Port: port})
}
