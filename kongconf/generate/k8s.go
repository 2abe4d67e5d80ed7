package generate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
	configurationv1 "github.com/kong/kubernetes-configuration/api/configuration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// ProxyService builds Kong's proxy Service as the chart renders it for the
// topology's release (name, selector, ports), with the provider's annotations
// and traffic policy. Applied on its own it replaces the chart's Service
// (proxy.enabled: false); next to values.yaml it shows what Helm creates.
func ProxyService(r *topology.Resolved) *corev1.Service {
	t, pl := r.Topology, r.Platform
	typ := corev1.ServiceTypeLoadBalancer
	if r.Profile.ServiceType != "" {
		typ = corev1.ServiceType(r.Profile.ServiceType)
	}
	svc := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      t.ServiceName,
			Namespace: t.Namespace,
			Labels: map[string]string{chart.LabelName: pl.Chart.AppName, chart.LabelInstance: pl.Release,
				"app.kubernetes.io/managed-by": "kongconf"},
		},
		Spec: corev1.ServiceSpec{Type: typ, Selector: pl.Chart.Selector(pl.Release)},
	}
	for _, p := range pl.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Port: p.Port, TargetPort: intstr.FromInt32(p.Target), Protocol: corev1.ProtocolTCP,
		})
	}
	if len(pl.Annotations) > 0 {
		svc.Annotations = map[string]string{}
		for k, v := range pl.Annotations {
			svc.Annotations[k] = v
		}
	}
	if typ != corev1.ServiceTypeClusterIP && r.Profile.ExternalTrafficPolicy != "" {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(r.Profile.ExternalTrafficPolicy)
	}
	return svc
}

// KongPlugin builds the namespaced KongPlugin for client-ip-guard. Attach it
// with the konghq.com/plugins annotation on a backend Service, Ingress or HTTPRoute.
func KongPlugin(r *topology.Resolved) (*configurationv1.KongPlugin, error) {
	raw, err := json.Marshal(PluginConfig(r))
	if err != nil {
		return nil, err
	}
	return &configurationv1.KongPlugin{
		TypeMeta:   metav1.TypeMeta{APIVersion: "configuration.konghq.com/v1", Kind: "KongPlugin"},
		ObjectMeta: metav1.ObjectMeta{Name: topology.PluginName, Namespace: r.Topology.Namespace},
		PluginName: topology.PluginName,
		Config:     apiextensionsv1.JSON{Raw: raw},
		Protocols:  []configurationv1.KongProtocol{"http", "https"},
	}, nil
}

// KongClusterPlugin builds the global KongClusterPlugin: label global: "true"
// makes KIC apply it to every request; the ingress class annotation makes KIC
// pick it up under exact class matching.
func KongClusterPlugin(r *topology.Resolved) (*configurationv1.KongClusterPlugin, error) {
	raw, err := json.Marshal(PluginConfig(r))
	if err != nil {
		return nil, err
	}
	return &configurationv1.KongClusterPlugin{
		TypeMeta: metav1.TypeMeta{APIVersion: "configuration.konghq.com/v1", Kind: "KongClusterPlugin"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        topology.PluginName + "-global",
			Labels:      map[string]string{"global": "true"},
			Annotations: map[string]string{"kubernetes.io/ingress.class": r.Topology.IngressClass},
		},
		PluginName: topology.PluginName,
		Config:     apiextensionsv1.JSON{Raw: raw},
		Protocols:  []configurationv1.KongProtocol{"http", "https"},
	}, nil
}

// objectYAML marshals a Kubernetes object without the server-side noise
// (status, creationTimestamp) that typed structs always carry.
func objectYAML(obj any) (string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	y, err := yamljson.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(y), nil
}

// ServiceYAML renders ProxyService as a manifest with a comment header.
func ServiceYAML(r *topology.Resolved) (string, error) {
	y, err := objectYAML(ProxyService(r))
	if err != nil {
		return "", err
	}
	return header(r, "Kong proxy Service", "#") +
		fmt.Sprintf("# The Service the %s chart renders for release %s (same name, selector and ports); apply it yourself only with %s: false.\n",
			r.Platform.Chart.Name, r.Platform.Release, r.Platform.Chart.ValuesPath("proxy.enabled")) +
		notes(r) + y, nil
}

// KongPluginYAML renders KongPlugin as a manifest.
func KongPluginYAML(r *topology.Resolved) (string, error) {
	kp, err := KongPlugin(r)
	if err != nil {
		return "", err
	}
	y, err := objectYAML(kp)
	if err != nil {
		return "", err
	}
	return header(r, "KongPlugin", "#") + fmt.Sprintf("# Attach with the annotation konghq.com/plugins: %s on a backend Service, Ingress or HTTPRoute in namespace %s.\n", topology.PluginName, r.Topology.Namespace) + y, nil
}

// KongClusterPluginYAML renders KongClusterPlugin as a manifest.
func KongClusterPluginYAML(r *topology.Resolved) (string, error) {
	kcp, err := KongClusterPlugin(r)
	if err != nil {
		return "", err
	}
	y, err := objectYAML(kcp)
	if err != nil {
		return "", err
	}
	return header(r, "KongClusterPlugin (global)", "#") + y, nil
}

func notes(r *topology.Resolved) string {
	var b strings.Builder
	for _, n := range r.Platform.Notes {
		fmt.Fprintf(&b, "# note: %s\n", n)
	}
	return b.String()
}
