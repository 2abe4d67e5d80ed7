package generate

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// FrontIngress builds the Ingress that puts the provider's L7 load balancer
// in front of Kong's proxy Service (eks-alb, gke-l7). It returns nil for
// providers without one.
func FrontIngress(r *topology.Resolved) *networkingv1.Ingress {
	var ann map[string]string
	var class *string
	switch r.Provider.Name {
	case "eks-alb":
		alb := "alb"
		class = &alb
		ann = map[string]string{
			"alb.ingress.kubernetes.io/scheme":      "internet-facing",
			"alb.ingress.kubernetes.io/target-type": "ip",
		}
	case "gke-l7":
		ann = map[string]string{"kubernetes.io/ingress.class": "gce"}
	default:
		return nil
	}
	t := r.Topology
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Name: t.ServiceName + "-front", Namespace: t.Namespace, Annotations: ann},
		Spec: networkingv1.IngressSpec{
			IngressClassName: class,
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: t.ServiceName, Port: networkingv1.ServiceBackendPort{Number: 80},
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
		"# TLS terminates here (add the certificate to the load balancer); the LB appends the client to X-Forwarded-For.\n" + y, nil
}
