package generate

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// FrontIngress builds the Ingress that puts the provider's L7 load balancer
// in front of Kong's proxy Service (eks-alb, gke-l7), pointing at the Service
// name the chart renders. It returns nil for providers without one.
func FrontIngress(r *topology.Resolved) *networkingv1.Ingress {
	f := r.Platform.Front
	if f == nil {
		return nil
	}
	t := r.Topology
	var class *string
	if f.Class != "" {
		c := f.Class
		class = &c
	}
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: t.ServiceName + "-front", Namespace: t.Namespace, Annotations: f.Annotations},
		Spec: networkingv1.IngressSpec{
			IngressClassName: class,
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: t.ServiceName, Port: networkingv1.ServiceBackendPort{Number: chart.HTTPPort},
			}},
		},
	}
}

// IngressYAML renders FrontIngress ("" when the provider has none).
func IngressYAML(r *topology.Resolved) (string, error) {
	ing := FrontIngress(r)
	if ing == nil {
		return "", nil
	}
	y, err := objectYAML(ing)
	if err != nil {
		return "", err
	}
	return header(r, "Ingress for the L7 load balancer in front of Kong", "#") +
		"# TLS from clients terminates here with the certificate named below; the LB appends the client to X-Forwarded-For.\n" + y, nil
}

// BackendConfig builds GKE's BackendConfig for the proxy Service: the load
// balancer health-checks Kong's status listener (/status/ready on 8100, as
// the chart's readinessProbe does) instead of GET / on the serving port.
// GKE's BackendConfig type is not a dependency, so the object is a map; the
// field names follow cloud.google.com/v1 BackendConfigSpec.healthCheck. With
// container-native load balancing (the Service's NEG annotation) the port is
// the Pod's containerPort, here the chart's status port, which the proxy
// Service does not expose.
func BackendConfig(r *topology.Resolved) map[string]any {
	if r.Platform.BackendConfig == "" {
		return nil
	}
	return map[string]any{
		"apiVersion": "cloud.google.com/v1",
		"kind":       "BackendConfig",
		"metadata":   map[string]any{"name": r.Platform.BackendConfig, "namespace": r.Topology.Namespace},
		"spec": map[string]any{"healthCheck": map[string]any{
			"type":        "HTTP",
			"requestPath": chart.ReadyPath,
			"port":        chart.StatusPort,
		}},
	}
}

// BackendConfigYAML renders BackendConfig ("" when the provider has none).
func BackendConfigYAML(r *topology.Resolved) (string, error) {
	bc := BackendConfig(r)
	if bc == nil {
		return "", nil
	}
	y, err := objectYAML(bc)
	if err != nil {
		return "", err
	}
	return header(r, "GKE BackendConfig (health check on Kong's status listener)", "#") +
		"# The proxy Service names it in " + topology.BackendConfigAnnotation + ".\n" + y, nil
}
