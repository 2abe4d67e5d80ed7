package verify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	operatorv1beta1 "github.com/kong/kubernetes-configuration/api/gateway-operator/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
	"github.com/client-ip-guard/client-ip-guard/kongconf/chart"
	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology/topologytest"
	"github.com/client-ip-guard/client-ip-guard/kongconf/verify"
)

// strict decodes a YAML manifest into out, refusing unknown fields, as the
// API server's strict field validation does.
func strict(t *testing.T, y string, out any) {
	t.Helper()
	j, err := yamljson.ToJSON([]byte(y))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(out))
}

// advice is what a refusal must contain: something to add, use or keep.
var advice = regexp.MustCompile(`\b(add|use|keep|give|set|name|drop|build)\b`)

// TestEveryCombination enumerates provider × method × chart × tls. Each
// either resolves to a bundle whose names, selectors, ports, health checks
// and TLS agree with what the chart renders, or is refused with a reason
// that says what to do instead.
func TestEveryCombination(t *testing.T) {
	var generated, refused int
	for _, pn := range topology.ProviderNames() {
		for _, m := range topology.Methods {
			for _, ch := range []string{chart.Kong, chart.Ingress} {
				for _, tls := range []string{topology.TLSKong, topology.TLSLB} {
					name := fmt.Sprintf("%s/%s/%s/tls-%s", pn, m, ch, tls)
					in := topologytest.Complete(topology.Topology{Provider: pn, Method: m, Chart: ch, TLS: tls, Release: "edge",
						TrustedCIDRs: []string{"10.0.0.0/16"}})
					r, err := topology.Resolve(in)
					if err != nil {
						refused++
						assert.Regexp(t, advice, err.Error(), "%s: a refusal says what to do", name)
						continue
					}
					generated++
					t.Run(name, func(t *testing.T) { checkBundle(t, r) })
				}
			}
		}
	}
	t.Logf("%d combinations generated, %d refused", generated, refused)
	assert.Greater(t, generated, 40)
}

func checkBundle(t *testing.T, r *topology.Resolved) {
	files, err := generate.Bundle(r)
	require.NoError(t, err)
	rep := verify.Bundle(files)
	require.False(t, rep.HasErrors(), "%+v", rep.Findings)

	spec, err := chart.Lookup(r.Topology.Chart)
	require.NoError(t, err)
	want := spec.ProxyService("edge")
	var svc corev1.Service
	strict(t, files["service.yaml"], &svc)
	assert.Equal(t, want, svc.Name, "the chart's proxy Service name")
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": spec.AppName, "app.kubernetes.io/component": "app",
		"app.kubernetes.io/instance": "edge"}, svc.Spec.Selector)

	ports := map[int32]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Port] = p.TargetPort.IntVal
	}
	certAnn := false
	for _, k := range topology.CertificateAnnotations() {
		if _, ok := svc.Annotations[k]; ok {
			certAnn = true
		}
	}
	switch {
	case r.TLS == topology.TLSKong:
		assert.Equal(t, map[int32]int32{80: 8000, 443: 8443}, ports)
		assert.False(t, certAnn, "no load balancer certificate with TLS on Kong")
	case r.Platform.Front != nil || len(r.Profile.LBTLS.Annotations) == 0:
		assert.Equal(t, map[int32]int32{80: 8000}, ports, "TLS ends in front of the Service")
	default:
		assert.Equal(t, int32(8000), ports[443], "HTTPS on the load balancer reaches Kong's HTTP listener")
		assert.True(t, certAnn, "the load balancer has a certificate: %v", svc.Annotations)
	}
	if r.Profile.ExternalTrafficPolicy == "Local" && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		assert.Equal(t, corev1.ServiceExternalTrafficPolicyLocal, svc.Spec.ExternalTrafficPolicy)
	}
	if r.Method == topology.MethodHeaders && !r.Profile.TLSAtLB && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		assert.Equal(t, corev1.ServiceExternalTrafficPolicyLocal, svc.Spec.ExternalTrafficPolicy,
			"a header from a proxy outside the cluster needs the proxy as Kong's peer")
	}

	// Helm values: image under the chart's key, and the same Service.
	var values map[string]any
	strict(t, files["values.yaml"], &values)
	gw := values
	if spec.Root != "" {
		gw = values[spec.Root].(map[string]any)
		assert.NotContains(t, values, "image")
	}
	assert.Equal(t, map[string]any{"repository": "registry.example.com/kong-client-ip-guard", "tag": "3.9.1"}, gw["image"])
	proxy := gw["proxy"].(map[string]any)
	if len(svc.Annotations) > 0 {
		ann := map[string]string{}
		for k, v := range proxy["annotations"].(map[string]any) {
			ann[k] = v.(string)
		}
		assert.Equal(t, svc.Annotations, ann)
	}
	assert.NotContains(t, proxy, "nameOverride", "the chart's own name needs no override")

	if ing, ok := files["ingress.yaml"]; ok {
		var in networkingv1.Ingress
		strict(t, ing, &in)
		b := in.Spec.DefaultBackend.Service
		assert.Equal(t, want, b.Name, "the Ingress reaches the chart's Service")
		assert.Contains(t, ports, b.Port.Number)
		if r.Provider.Name == "eks-alb" {
			assert.Equal(t, "8100", in.Annotations["alb.ingress.kubernetes.io/healthcheck-port"])
			assert.Equal(t, "/status/ready", in.Annotations["alb.ingress.kubernetes.io/healthcheck-path"])
			assert.Equal(t, topologytest.Certificate, in.Annotations["alb.ingress.kubernetes.io/certificate-arn"])
			assert.Contains(t, in.Annotations["alb.ingress.kubernetes.io/listen-ports"], `"HTTPS": 443`)
		}
	}
	if r.Provider.Name == "gke-l7" {
		var bc struct {
			APIVersion, Kind string
			Metadata         struct{ Name, Namespace string }
			Spec             struct {
				HealthCheck struct {
					Type, RequestPath string
					Port              int
				} `json:"healthCheck"`
			}
		}
		require.NoError(t, json.Unmarshal(mustJSON(t, files["backendconfig.yaml"]), &bc))
		assert.Equal(t, "BackendConfig", bc.Kind)
		assert.Equal(t, "/status/ready", bc.Spec.HealthCheck.RequestPath)
		assert.Equal(t, 8100, bc.Spec.HealthCheck.Port)
		assert.Equal(t, fmt.Sprintf(`{"default": %q}`, bc.Metadata.Name), svc.Annotations["cloud.google.com/backend-config"])
	}
	if r.Provider.Location != nil {
		assert.Equal(t, topologytest.Location, svc.Annotations[r.Provider.Location.Key])
	}
	checkGatewayConfiguration(t, r, want, svc)
	for _, n := range r.Platform.Notes {
		assert.False(t, strings.Contains(n, "Trust the PLS NAT subnet"), "the NAT subnet alone is not enough with Cluster")
	}
}

func mustJSON(t *testing.T, y string) []byte {
	t.Helper()
	j, err := yamljson.ToJSON([]byte(y))
	require.NoError(t, err)
	return j
}

var gcSchema *apiextensionsv1.JSONSchemaProps

// checkGatewayConfiguration renders -o gatewayconfiguration: it is refused
// with advice, or it decodes strictly into the operator's type, fits the
// operator CRD's schema, lints clean next to nothing else, and carries the
// image, the Service settings and the same env as kong.env.
func checkGatewayConfiguration(t *testing.T, r *topology.Resolved, svcName string, svc corev1.Service) {
	files, err := generate.Bundle(r, "gatewayconfiguration")
	if err != nil {
		assert.Regexp(t, advice, err.Error())
		assert.Equal(t, topology.TLSLB, r.TLS, "only TLS on the load balancer is refused: %v", err)
		return
	}
	y := files["gatewayconfiguration.yaml"]
	var gc operatorv1beta1.GatewayConfiguration
	strict(t, y, &gc)
	if gcSchema == nil {
		gcSchema = crdSchema(t, "config/crd/gateway-operator/gateway-operator.konghq.com_gatewayconfigurations.yaml", "v1beta1")
	}
	var v any
	require.NoError(t, json.Unmarshal(mustJSON(t, y), &v))
	assert.Empty(t, schemaErrors("", v, gcSchema))
	rep := verify.Bundle(map[string]string{"gatewayconfiguration.yaml": y})
	assert.False(t, rep.HasErrors(), "%+v", rep.Findings)

	c := gc.Spec.DataPlaneOptions.Deployment.PodTemplateSpec.Spec.Containers[0]
	assert.Equal(t, "proxy", c.Name)
	assert.Equal(t, topologytest.Image, c.Image)
	env, err := generate.Bundle(r, "env")
	require.NoError(t, err)
	for _, e := range c.Env {
		assert.Contains(t, env["kong.env"], e.Name+"="+e.Value+"\n")
	}
	in := gc.Spec.DataPlaneOptions.Network.Services.Ingress
	assert.Equal(t, svcName, *in.Name)
	assert.Equal(t, svc.Spec.Type, in.Type)
	assert.Equal(t, svc.Spec.ExternalTrafficPolicy, in.ExternalTrafficPolicy)
	assert.Equal(t, svc.Annotations, in.Annotations)
	if in.Type == corev1.ServiceTypeClusterIP {
		assert.Empty(t, in.ExternalTrafficPolicy, "the CRD's CEL rule refuses externalTrafficPolicy on ClusterIP")
	}
}
