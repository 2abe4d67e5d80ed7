package generate

import (
	"fmt"

	operatorv1beta1 "github.com/kong/kubernetes-configuration/api/gateway-operator/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// OperatorContainer is the data plane container Kong Gateway Operator
// merges a GatewayConfiguration's pod template into, by name; the CRD's CEL
// rules read containers[0] as "proxy" too (kubernetes-configuration v1.4.0,
// api/gateway-operator/v1beta1/dataplane_types.go:44).
const OperatorContainer = "proxy"

// GatewayConfiguration builds the Kong Gateway Operator object that carries
// the same node settings as kong.env (as the proxy container's env), the
// image with the plugin, and the proxy Service's type, annotations and
// externalTrafficPolicy. The operator's Service has fixed ports (80 to 8000,
// 443 to 8443), so TLS ending on a load balancer that needs 443 aimed at 8000
// is refused.
func GatewayConfiguration(r *topology.Resolved) (*operatorv1beta1.GatewayConfiguration, error) {
	if err := operatorNeeds(r); err != nil {
		return nil, err
	}
	t, pl := r.Topology, r.Platform
	var env []corev1.EnvVar
	for _, s := range append(ClientIPSettings(r), PluginServerSettings(t.Prefix, r.Metrics)...) {
		env = append(env, corev1.EnvVar{Name: EnvName(s.Key), Value: s.Value})
	}
	svc := &operatorv1beta1.GatewayConfigServiceOptions{}
	svc.Type = corev1.ServiceTypeLoadBalancer
	if r.Profile.ServiceType != "" {
		svc.Type = corev1.ServiceType(r.Profile.ServiceType)
	}
	name := t.ServiceName
	svc.Name = &name
	if len(pl.Annotations) > 0 {
		svc.Annotations = pl.Annotations
	}
	// The CRD refuses externalTrafficPolicy on a ClusterIP Service (CEL rule
	// on ServiceOptions, dataplane_types.go:266).
	if svc.Type != corev1.ServiceTypeClusterIP && r.Profile.ExternalTrafficPolicy != "" {
		svc.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(r.Profile.ExternalTrafficPolicy)
	}
	gc := &operatorv1beta1.GatewayConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway-operator.konghq.com/v1beta1", Kind: "GatewayConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace},
		Spec: operatorv1beta1.GatewayConfigurationSpec{DataPlaneOptions: &operatorv1beta1.GatewayConfigDataPlaneOptions{
			Deployment: operatorv1beta1.DataPlaneDeploymentOptions{DeploymentOptions: operatorv1beta1.DeploymentOptions{
				PodTemplateSpec: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  OperatorContainer,
					Image: pl.ImageRepo + imageSep(pl.ImageTag) + pl.ImageTag,
					Env:   env,
				}}}},
			}},
			Network: operatorv1beta1.GatewayConfigDataPlaneNetworkOptions{Services: &operatorv1beta1.GatewayConfigDataPlaneServices{Ingress: svc}},
		}},
	}
	return gc, nil
}

func imageSep(tag string) string {
	if len(tag) > 0 && tag[0] == '@' {
		return ""
	}
	return ":"
}

// operatorNeeds refuses what a GatewayConfiguration cannot express.
func operatorNeeds(r *topology.Resolved) error {
	if r.FastPath {
		return fmt.Errorf("the GatewayConfiguration output does not mount the fast path's nginx include (%s); use the Helm values, or generate without --fast-path", IncludeFile)
	}
	if r.Platform.ImageRepo == "" {
		return fmt.Errorf("the GatewayConfiguration runs %s in the data plane, whose default image has no %s: add --image REPO:TAG", topology.PluginName, topology.PluginBinary)
	}
	for _, p := range r.Platform.Ports {
		if p.Port == 443 && p.Target != 8443 || p.Port == 80 && p.Target != 8000 {
			return fmt.Errorf("the operator's proxy Service maps 80 to 8000 and 443 to 8443, but TLS ending on the %s load balancer needs 443 aimed at 8000; use --tls kong, or Helm", r.Provider.Name)
		}
	}
	return nil
}

// GatewayConfigurationYAML renders GatewayConfiguration. Asked for by name,
// a refusal is an error; in an all-kinds bundle it is left out.
func GatewayConfigurationYAML(r *topology.Resolved) (string, error) {
	gc, err := GatewayConfiguration(r)
	if err != nil {
		return "", err
	}
	y, err := objectYAML(gc)
	if err != nil {
		return "", err
	}
	return header(r, "Kong Gateway Operator GatewayConfiguration", "#") +
		"# Reference it from a GatewayClass (spec.parametersRef). The env repeats kong.env; the Service options repeat service.yaml.\n" +
		fmt.Sprintf("# Kong's prefix is assumed to be %s; if the data plane sets another KONG_PREFIX, pass --prefix.\n", r.Topology.Prefix) +
		notes(r) + y, nil
}
