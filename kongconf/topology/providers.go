package topology

// Method names how the client address reaches Kong.
const (
	// MethodLocal keeps the client as the TCP peer (externalTrafficPolicy: Local,
	// direct-to-pod or source-preserving L4 load balancers).
	MethodLocal = "local"
	// MethodProxyProtocol has the load balancer prepend a PROXY protocol header.
	MethodProxyProtocol = "proxy-protocol"
	// MethodHeaders has an L7 proxy put the client in an HTTP header.
	MethodHeaders = "headers"
)

// Methods lists every method in a stable order.
var Methods = []string{MethodLocal, MethodProxyProtocol, MethodHeaders}

// MethodProfile is what one provider needs for one method.
type MethodProfile struct {
	// Annotations go on Kong's proxy Service.
	Annotations map[string]string
	// ExternalTrafficPolicy is "Local" or "Cluster" ("" leaves the Kubernetes default).
	ExternalTrafficPolicy string
	// ServiceType is the proxy Service type (LoadBalancer unless an L7 proxy
	// in front talks to the pods).
	ServiceType string
	// PPVersion documents the PROXY protocol version the LB sends ("v1", "v2", "v1/v2").
	PPVersion string
	// Header is the default real_ip_header for the headers method.
	Header string
	// Recursive is the default real_ip_recursive for the headers method.
	Recursive bool
	// TLSAtLB reports whether TLS normally terminates on the load balancer.
	TLSAtLB bool
	// Presets are added to trusted_ips by default.
	Presets []string
	// NeedsCIDRs reports whether the user must name the LB/VPC ranges
	// (false when presets alone identify the peer).
	NeedsCIDRs bool
	// Notes are emitted as comments next to the generated files.
	Notes []string
}

// Provider describes one load-balancer environment.
type Provider struct {
	// Name is the identifier used in flags and topology files.
	Name string
	// Description is a one-line summary.
	Description string
	// DefaultMethod is used when the topology names no method.
	DefaultMethod string
	// Methods holds the supported methods; others are rejected with Unsupported's reason.
	Methods map[string]MethodProfile
	// Unsupported explains, per method, why the provider cannot do it.
	Unsupported map[string]string
}

const (
	awsLBType      = "service.beta.kubernetes.io/aws-load-balancer-type"
	awsTargetType  = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	awsScheme      = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	awsPP          = "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"
	awsBackendProt = "service.beta.kubernetes.io/aws-load-balancer-backend-protocol"
	awsHCProtocol  = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol"
)

var providers = map[string]Provider{
	"eks-nlb": {
		Name:          "eks-nlb",
		Description:   "AWS Network Load Balancer provisioned by the AWS Load Balancer Controller",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations: map[string]string{
					awsLBType:     "external",
					awsTargetType: "ip",
					awsScheme:     "internet-facing",
					awsPP:         "*",
					awsHCProtocol: "tcp",
				},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v2",
				NeedsCIDRs:            true,
				Notes: []string{
					"aws-load-balancer-type: external is read only when the Service is created; recreate the Service to switch.",
					"IP targets do not preserve the client address, so PROXY v2 carries it; trust the VPC CIDR the NLB's ENIs live in.",
					"NLB health checks do not send a PROXY header; TCP checks pass but log 'broken header' lines.",
				},
			},
			MethodLocal: {
				Annotations: map[string]string{
					awsLBType:     "external",
					awsTargetType: "instance",
					awsScheme:     "internet-facing",
				},
				ExternalTrafficPolicy: "Local",
				Notes: []string{
					"Instance targets preserve the client address; Local stops kube-proxy from SNATing it.",
				},
			},
		},
		Unsupported: map[string]string{MethodHeaders: "an NLB is layer 4 and adds no headers; use eks-alb"},
	},
	"eks-nlb-intree": {
		Name:          "eks-nlb-intree",
		Description:   "AWS NLB created by the in-tree cloud provider (aws-load-balancer-type: nlb)",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			MethodLocal: {
				Annotations:           map[string]string{awsLBType: "nlb"},
				ExternalTrafficPolicy: "Local",
				Notes:                 []string{"The in-tree NLB uses instance targets, which keep the client address; Local avoids the kube-proxy SNAT."},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "the in-tree controller has no PROXY annotation for NLBs; use eks-nlb (AWS Load Balancer Controller)",
			MethodHeaders:       "an NLB is layer 4 and adds no headers; use eks-alb",
		},
	},
	"eks-clb": {
		Name:          "eks-clb",
		Description:   "AWS Classic Load Balancer from the in-tree cloud provider",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{awsPP: "*", awsBackendProt: "tcp"},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v1",
				NeedsCIDRs:            true,
				Notes:                 []string{"A Classic ELB in TCP mode sends PROXY v1 on every backend port when proxy-protocol is \"*\"."},
			},
			MethodHeaders: {
				Annotations:           map[string]string{awsBackendProt: "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				NeedsCIDRs:            true,
				Notes:                 []string{"In HTTP mode the Classic ELB appends the client to X-Forwarded-For and terminates TLS itself."},
			},
		},
		Unsupported: map[string]string{MethodLocal: "a Classic ELB always proxies the connection, so the peer is the ELB"},
	},
	"eks-alb": {
		Name:          "eks-alb",
		Description:   "AWS Application Load Balancer (AWS Load Balancer Controller Ingress) in front of Kong",
		DefaultMethod: MethodHeaders,
		Methods: map[string]MethodProfile{
			MethodHeaders: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "",
				ServiceType:           "ClusterIP",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				NeedsCIDRs:            true,
				Notes: []string{
					"Point an Ingress with alb.ingress.kubernetes.io/target-type: ip at this ClusterIP Service; the ALB appends the client to X-Forwarded-For.",
					"Trust the VPC CIDR (the ALB's addresses), not 0.0.0.0/0.",
				},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "ALB does not send PROXY protocol; use eks-nlb",
			MethodLocal:         "ALB terminates connections, so the peer is always the ALB",
		},
	},
	"gke": {
		Name:          "gke",
		Description:   "GKE passthrough Network Load Balancer (Service type LoadBalancer)",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			MethodLocal: {
				Annotations:           map[string]string{"cloud.google.com/l4-rbs": "enabled"},
				ExternalTrafficPolicy: "Local",
				Notes:                 []string{"The passthrough NLB keeps the client address; Local stops kube-proxy from SNATing it. l4-rbs needs GKE 1.25.5+."},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "the GKE passthrough NLB does not send PROXY protocol",
			MethodHeaders:       "the passthrough NLB adds no headers; use gke-l7",
		},
	},
	"gke-l7": {
		Name:          "gke-l7",
		Description:   "GKE Ingress / external Application Load Balancer (Google front ends) in front of Kong",
		DefaultMethod: MethodHeaders,
		Methods: map[string]MethodProfile{
			MethodHeaders: {
				Annotations: map[string]string{"cloud.google.com/neg": `{"ingress": true}`},
				ServiceType: "ClusterIP",
				Header:      "X-Forwarded-For",
				Recursive:   true,
				TLSAtLB:     true,
				Presets:     []string{"gcp-lb"},
				NeedsCIDRs:  false,
				Notes: []string{
					"The Google front end appends '<client>, <load balancer IP>' to X-Forwarded-For and connects from 35.191.0.0/16 and 130.211.0.0/22.",
					"Add the load balancer's own IP to the trusted list (--trusted-cidr) so the recursive walk skips it.",
				},
			},
		},
		Unsupported: map[string]string{
			MethodLocal:         "the Application Load Balancer terminates connections; use gke for a passthrough NLB",
			MethodProxyProtocol: "use a GCP proxy NLB with generic, or gke-l7 with headers",
		},
	},
	"aks": {
		Name:          "aks",
		Description:   "Azure Standard Load Balancer (AKS Service type LoadBalancer)",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			MethodLocal: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "Local",
				Notes:                 []string{"The Azure LB is pass-through; Local keeps the client address."},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "the Azure Standard LB does not send PROXY protocol; use aks-pls for Private Link",
			MethodHeaders:       "the Azure Standard LB adds no headers; put Application Gateway in front and use generic with headers",
		},
	},
	"aks-pls": {
		Name:          "aks-pls",
		Description:   "Azure Private Link Service in front of an internal AKS load balancer",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations: map[string]string{
					"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
					"service.beta.kubernetes.io/azure-pls-create":             "true",
					"service.beta.kubernetes.io/azure-pls-proxy-protocol":     "true",
				},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v2",
				NeedsCIDRs:            true,
				Notes: []string{
					"Keep externalTrafficPolicy: Cluster: with Local the LB probes the healthCheckNodePort, which does not speak PROXY, and every node fails.",
					"Private Link NATs the consumer; the PROXY v2 header carries its address. Trust the PLS NAT subnet.",
				},
			},
		},
		Unsupported: map[string]string{
			MethodLocal:   "Private Link always NATs; use aks",
			MethodHeaders: "Private Link is layer 4",
		},
	},
	"tke": {
		Name:          "tke",
		Description:   "Tencent Cloud CLB (layer 4) in front of TKE nodes",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			MethodLocal: {
				Annotations:           map[string]string{"service.kubernetes.io/local-svc-only-bind-node-with-pod": "true"},
				ExternalTrafficPolicy: "Local",
				Notes:                 []string{"A layer-4 CLB keeps the client address; Local plus binding only nodes with pods avoids SNAT and dead backends."},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "CLB PROXY v2 must be enabled outside Kubernetes and needs downtime; prefer tke-direct",
			MethodHeaders:       "layer-4 CLB adds no headers",
		},
	},
	"tke-direct": {
		Name:          "tke-direct",
		Description:   "Tencent CLB bound directly to pod ENIs (direct-access; VPC-CNI or GlobalRouter direct access)",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			MethodLocal: {
				Annotations:           map[string]string{"service.cloud.tencent.com/direct-access": "true"},
				ExternalTrafficPolicy: "Cluster",
				Notes:                 []string{"The CLB sends to pod IPs directly, so kube-proxy never SNATs and Local is not needed."},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "not needed: direct access already preserves the client",
			MethodHeaders:       "layer-4 CLB adds no headers",
		},
	},
	"ibm-vpc": {
		Name:          "ibm-vpc",
		Description:   "IBM Cloud VPC load balancer (ALB by default, NLB with enable-features: nlb)",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{"service.kubernetes.io/ibm-load-balancer-cloud-provider-enable-features": "proxy-protocol"},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v1",
				NeedsCIDRs:            true,
				Notes: []string{
					"enable-features is read only when the load balancer is created; recreate the Service to change it.",
					"Trust the VPC subnets the load balancer lives in.",
				},
			},
			MethodLocal: {
				Annotations:           map[string]string{"service.kubernetes.io/ibm-load-balancer-cloud-provider-enable-features": "nlb"},
				ExternalTrafficPolicy: "Local",
				Notes:                 []string{"The VPC NLB uses direct server return and keeps the client address."},
			},
		},
		Unsupported: map[string]string{MethodHeaders: "the VPC load balancer for Services is layer 4"},
	},
	"digitalocean": {
		Name:          "digitalocean",
		Description:   "DigitalOcean Load Balancer",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{"service.beta.kubernetes.io/do-loadbalancer-enable-proxy-protocol": "true"},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v1",
				NeedsCIDRs:            true,
				Notes: []string{
					"In-cluster clients that resolve the LB address are short-circuited by kube-proxy and arrive without a PROXY header; set do-loadbalancer-hostname to avoid that.",
				},
			},
			MethodHeaders: {
				Annotations:           map[string]string{"service.beta.kubernetes.io/do-loadbalancer-protocol": "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				NeedsCIDRs:            true,
			},
		},
		Unsupported: map[string]string{MethodLocal: "the DigitalOcean LB proxies connections; use proxy-protocol"},
	},
	"oci": {
		Name:          "oci",
		Description:   "Oracle Cloud Infrastructure load balancer / network load balancer",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{"service.beta.kubernetes.io/oci-load-balancer-connection-proxy-protocol-version": "2"},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v2",
				NeedsCIDRs:            true,
				Notes:                 []string{"PROXY applies to TCP listeners of the OCI flexible load balancer."},
			},
			MethodLocal: {
				Annotations: map[string]string{
					"oci.oraclecloud.com/load-balancer-type":                       "nlb",
					"oci-network-load-balancer.oraclecloud.com/is-preserve-source": "true",
				},
				ExternalTrafficPolicy: "Local",
				Notes:                 []string{"is-preserve-source is only valid with externalTrafficPolicy: Local."},
			},
		},
		Unsupported: map[string]string{MethodHeaders: "use an OCI HTTP listener with generic and headers"},
	},
	"hetzner": {
		Name:          "hetzner",
		Description:   "Hetzner Cloud Load Balancer",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{"load-balancer.hetzner.cloud/uses-proxyprotocol": "true"},
				ExternalTrafficPolicy: "Cluster",
				NeedsCIDRs:            true,
				Notes:                 []string{"PROXY is switched on for every port of the load balancer."},
			},
			MethodHeaders: {
				Annotations:           map[string]string{"load-balancer.hetzner.cloud/protocol": "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				NeedsCIDRs:            true,
			},
		},
		Unsupported: map[string]string{MethodLocal: "the Hetzner LB proxies connections; use proxy-protocol"},
	},
	"linode": {
		Name:          "linode",
		Description:   "Linode / Akamai NodeBalancer",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{"service.beta.kubernetes.io/linode-loadbalancer-default-proxy-protocol": "v2"},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v2",
				NeedsCIDRs:            true,
			},
			MethodHeaders: {
				Annotations:           map[string]string{"service.beta.kubernetes.io/linode-loadbalancer-default-protocol": "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				NeedsCIDRs:            true,
			},
		},
		Unsupported: map[string]string{MethodLocal: "the NodeBalancer proxies connections; use proxy-protocol"},
	},
	"cloudflare": {
		Name:          "cloudflare",
		Description:   "Cloudflare proxy in front of Kong (Kong exposed through a source-preserving L4 load balancer)",
		DefaultMethod: MethodHeaders,
		Methods: map[string]MethodProfile{
			MethodHeaders: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "Local",
				Header:                "CF-Connecting-IP",
				Recursive:             false,
				Presets:               []string{"cloudflare"},
				NeedsCIDRs:            false,
				Notes: []string{
					"Kong must see Cloudflare's address as the peer, so keep the L4 path source-preserving (externalTrafficPolicy: Local).",
					"Firewall the origin to Cloudflare's ranges; anyone else can send CF-Connecting-IP, though Kong ignores it from untrusted peers.",
				},
			},
		},
		Unsupported: map[string]string{
			MethodLocal:         "Cloudflare proxies every request; the peer is always Cloudflare",
			MethodProxyProtocol: "PROXY from Cloudflare needs Spectrum; use generic with proxy-protocol for that",
		},
	},
	"generic": {
		Name:          "generic",
		Description:   "Any load balancer or proxy; you supply its addresses",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			MethodLocal: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "Local",
			},
			MethodProxyProtocol: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "Cluster",
				NeedsCIDRs:            true,
				Notes:                 []string{"Enable PROXY protocol on the load balancer at the same time as on Kong; one side alone breaks every request."},
			},
			MethodHeaders: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				NeedsCIDRs:            true,
			},
		},
	},
}

// ProviderNames returns every known provider in a stable order.
func ProviderNames() []string {
	return []string{"eks-nlb", "eks-nlb-intree", "eks-clb", "eks-alb", "gke", "gke-l7", "aks", "aks-pls",
		"tke", "tke-direct", "ibm-vpc", "digitalocean", "oci", "hetzner", "linode", "cloudflare", "generic"}
}

// LookupProvider returns the provider called name.
func LookupProvider(name string) (Provider, bool) {
	p, ok := providers[name]
	return p, ok
}
