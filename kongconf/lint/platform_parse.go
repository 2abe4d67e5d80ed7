package lint

import (
	"strconv"
	"strings"

	operatorv1beta1 "github.com/kong/kubernetes-configuration/api/gateway-operator/v1beta1"
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
func loadChartFile(set *Set, file string, root *yaml.Node) {
	deps := mapPath(root, "dependencies")
	if deps == nil || deps.Kind != yaml.SequenceNode {
		return
	}
	for _, d := range deps.Content {
		name := scalar(mapPath(d, "name"))
		if name != chart.Kong && name != chart.Ingress {
			continue
		}
		set.ChartDeps = append(set.ChartDeps, &ChartDep{File: file, Line: d.Line, Chart: name, Version: scalar(mapPath(d, "version"))})
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

// loadGatewayConfiguration reads a Kong Gateway Operator GatewayConfiguration
// as a node (the proxy container's KONG_* env) and a proxy Service (the
// data plane's ingress Service options), so every node and Service rule
// applies to it. The operator's Service maps 443 to Kong's 8443.
func loadGatewayConfiguration(set *Set, s *sink, file string, root *yaml.Node) {
	var gc operatorv1beta1.GatewayConfiguration
	if err := strictDecode(root, &gc); err != nil {
		s.add(ruleBadStrict, file, root.Line, "GatewayConfiguration", "GatewayConfiguration: "+err.Error())
		return
	}
	dp := gc.Spec.DataPlaneOptions
	if dp == nil {
		return
	}
	if pt := dp.Deployment.PodTemplateSpec; pt != nil {
		for _, c := range pt.Spec.Containers {
			if c.Name != "proxy" {
				continue
			}
			n := NewNode(file, "env")
			for _, e := range c.Env {
				if !strings.HasPrefix(strings.ToUpper(e.Name), "KONG_") {
					continue
				}
				n.Set(&Value{Key: strings.ToLower(e.Name[len("KONG_"):]), Orig: e.Name, Value: e.Value, Line: root.Line, Skip: e.ValueFrom != nil})
			}
			n.finishListeners()
			set.Nodes = append(set.Nodes, n)
		}
	}
	if dp.Network.Services == nil || dp.Network.Services.Ingress == nil {
		return
	}
	in := dp.Network.Services.Ingress
	sv := &Service{File: file, Line: root.Line, Name: gc.Name, Type: string(in.Type), ExternalTrafficPolicy: string(in.ExternalTrafficPolicy),
		Annotations: in.Annotations, AnnLines: map[string]int{}, TargetsTLS: true, TLSLine: root.Line, FromHelm: true}
	if in.Name != nil {
		sv.Name = *in.Name
	}
	if sv.Type == "" {
		sv.Type = "LoadBalancer"
	}
	if sv.Annotations == nil {
		sv.Annotations = map[string]string{}
	}
	set.Services = append(set.Services, sv)
}
