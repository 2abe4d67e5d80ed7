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
	// TLSAtLB reports that the load balancer speaks HTTP to Kong, so TLS
	// from clients can only terminate on the load balancer (tls: lb).
	TLSAtLB bool
	// LBTLS is how the load balancer terminates TLS with tls: lb; nil
	// refuses tls: lb with NoLBTLS as the reason.
	LBTLS *LBTLS
	// NoLBTLS says why the load balancer cannot terminate TLS.
	NoLBTLS string
	// Front is the Ingress that puts an L7 load balancer in front of a
	// ClusterIP proxy Service (eks-alb, gke-l7); nil for Service load balancers.
	Front *FrontIngress
	// BackendConfig asks for a GKE BackendConfig that health-checks Kong's
	// status listener (GKE Ingress backends).
	BackendConfig bool
	// NeedsLBAddress, when set, refuses a topology that trusts only presets:
	// the load balancer adds its own address to the header.
	NeedsLBAddress string
	// Presets are added to trusted_ips by default.
	Presets []string
	// NeedsCIDRs reports whether the user must name the LB/VPC ranges
	// (false when presets alone identify the peer).
	NeedsCIDRs bool
	// Notes are emitted as comments next to the generated files.
	Notes []string
}

// CertToken in an annotation value is replaced by the topology's lbCertificate.
const CertToken = "{certificate}"

// LBTLS describes how one load balancer terminates TLS for Kong.
type LBTLS struct {
	// Annotations go on the proxy Service (values may contain CertToken).
	Annotations map[string]string
	// Cert says what lbCertificate names.
	Cert string
	// HTTPSOnly exposes port 443 alone: the load balancer's protocol
	// annotation applies to every port of the Service.
	HTTPSOnly bool
}

// FrontIngress is the Ingress of an L7 load balancer in front of Kong.
type FrontIngress struct {
	// Class is spec.ingressClassName ("" leaves it unset).
	Class string
	// Annotations go on the Ingress (values may contain CertToken).
	Annotations map[string]string
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
	// Location, when set, requires the topology's lbLocation.
	Location *Location
}

// Location is a provider's placement annotation.
type Location struct {
	// Key takes a location (fsn1), ZoneKey a network zone (eu-central).
	Key, ZoneKey string
	// Zones are the network zones; any other value is a location.
	Zones []string
	// Why a topology without one is refused.
	Why string
}

// ALB Ingress annotations lint checks by name.
const (
	albHealthPort  = "alb.ingress.kubernetes.io/healthcheck-port"
	albHealthPath  = "alb.ingress.kubernetes.io/healthcheck-path"
	albCertificate = "alb.ingress.kubernetes.io/certificate-arn"
	albListenPorts = "alb.ingress.kubernetes.io/listen-ports"
)

const (
	awsLBType      = "service.beta.kubernetes.io/aws-load-balancer-type"
	awsTargetType  = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	awsScheme      = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	awsPP          = "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"
	awsBackendProt = "service.beta.kubernetes.io/aws-load-balancer-backend-protocol"
	awsHCProtocol  = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol"
	awsSSLCert     = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
	awsSSLPorts    = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"
	acmCert        = "an ACM certificate ARN"
)

// awsTLS terminates TLS on port 443 of an NLB or Classic ELB with an ACM certificate.
var awsTLS = &LBTLS{Annotations: map[string]string{awsSSLCert: CertToken, awsSSLPorts: "443"}, Cert: acmCert}

// ppNoTLS refuses tls: lb where the load balancer forwards TCP with PROXY.
func ppNoTLS(lb string) string {
	return "kongconf keeps TLS on Kong when " + lb + " forwards TCP with PROXY protocol; use --tls kong, or --method headers with --tls lb"
}

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
				LBTLS:                 awsTLS,
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
				LBTLS:                 awsTLS,
				Notes:                 []string{"A Classic ELB in TCP mode sends PROXY v1 on every backend port when proxy-protocol is \"*\"."},
			},
			MethodHeaders: {
				Annotations:           map[string]string{awsBackendProt: "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				LBTLS:                 awsTLS,
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
				LBTLS:                 &LBTLS{Cert: acmCert},
				NeedsCIDRs:            true,
				// Health checks go to Kong's status listener (Kong/charts
				// charts/kong/values.yaml:235-240, readiness path :962-964);
				// the ALB's default is GET / on the traffic port, which Kong
				// answers 404 when no route matches.
				Front: &FrontIngress{Class: "alb", Annotations: map[string]string{
					"alb.ingress.kubernetes.io/scheme":           "internet-facing",
					"alb.ingress.kubernetes.io/target-type":      "ip",
					albHealthPort:                                "8100",
					albHealthPath:                                "/status/ready",
					"alb.ingress.kubernetes.io/success-codes":    "200",
					albCertificate:                               CertToken,
					albListenPorts:                               `[{"HTTP": 80}, {"HTTPS": 443}]`,
					"alb.ingress.kubernetes.io/backend-protocol": "HTTP",
				}},
				Notes: []string{
					"The Ingress (ingress.yaml) sends the ALB to this ClusterIP Service's pods (target-type: ip); the ALB appends the client to X-Forwarded-For.",
					"Trust the VPC CIDR (the ALB's addresses), not 0.0.0.0/0.",
					"The ALB health-checks each pod on Kong's status port 8100 (/status/ready); the pods' security group must admit the ALB on 8100 as well as 8000.",
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
				LBTLS:       &LBTLS{Cert: "the name of a Google Cloud SSL certificate resource (pre-shared certificate)"},
				Front: &FrontIngress{Annotations: map[string]string{
					"kubernetes.io/ingress.class":               "gce",
					"ingress.gcp.kubernetes.io/pre-shared-cert": CertToken,
				}},
				BackendConfig:  true,
				NeedsLBAddress: "the Google front end appends '<client>, <load balancer IP>' to X-Forwarded-For, so with only its ranges trusted every client resolves to the load balancer's address; add the load balancer's IP with --trusted-cidr (reserve a static address and name it in the Ingress)",
				Notes: []string{
					"The Google front end appends '<client>, <load balancer IP>' to X-Forwarded-For and connects from 35.191.0.0/16 and 130.211.0.0/22.",
					"The BackendConfig (backendconfig.yaml) points GKE's health check at Kong's status port 8100 (/status/ready); without it GKE checks GET / on the serving port and Kong answers 404.",
					"The health checks come from 35.191.0.0/16 and 130.211.0.0/22 to port 8100 on the pods; where firewall rules are managed by hand, admit them there as well as on 8000.",
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
				NoLBTLS:               "Azure's Standard Load Balancer is layer 4 and cannot terminate TLS; keep --tls kong",
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
				NoLBTLS:               "Azure's internal Load Balancer and Private Link are layer 4 and cannot terminate TLS; keep --tls kong",
				Notes: []string{
					"Keep externalTrafficPolicy: Cluster: with Local the LB probes the healthCheckNodePort, which does not speak PROXY, and every node fails.",
					"Private Link NATs the consumer; the PROXY v2 header carries its address.",
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
	"tke-toa": {
		Name:          "tke-toa",
		Description:   "Tencent CLB passing the client address in a TCP option (TOA), restored by the toa kernel module on the nodes",
		DefaultMethod: MethodLocal,
		Methods: map[string]MethodProfile{
			// TOA is not a PROXY header: the CLB writes the client address
			// into a TCP option of the SYN and the toa module makes the
			// kernel report it as the socket's peer, so Kong and the plugin
			// see the client exactly as with method local. kongconf
			// cannot check the CLB listener or the module; the notes say so.
			MethodLocal: {
				Annotations:           map[string]string{},
				ExternalTrafficPolicy: "Local",
				NoLBTLS:               "a TOA listener forwards TCP; keep --tls kong",
				Notes: []string{
					"TOA: the CLB carries the client address in a TCP option and the toa kernel module on each node restores it as the peer, so Kong needs no trusted ranges and the plugin's verdict is direct, the expected one here.",
					"Turn TOA on for the CLB listener (Tencent console or API) and load toa.ko on every node that runs Kong before relying on it; without the module Kong sees the CLB's address, and kongconf cannot check either.",
					"Local keeps kube-proxy from forwarding the connection through another node.",
				},
			},
		},
		Unsupported: map[string]string{
			MethodProxyProtocol: "TOA replaces PROXY here; use tke-direct or tke for the other ways",
			MethodHeaders:       "a layer-4 CLB adds no headers",
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
				NoLBTLS:               "the IBM Cloud VPC load balancer for Services forwards TCP; keep --tls kong",
				Notes: []string{
					"enable-features is read only when the load balancer is created; recreate the Service to change it.",
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
				NoLBTLS:               ppNoTLS("the DigitalOcean load balancer"),
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
				LBTLS: &LBTLS{Annotations: map[string]string{
					"service.beta.kubernetes.io/do-loadbalancer-certificate-id": CertToken,
					"service.beta.kubernetes.io/do-loadbalancer-tls-ports":      "443",
				}, Cert: "a DigitalOcean certificate ID"},
				NeedsCIDRs: true,
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
				NoLBTLS:               "kongconf does not generate the OCI load balancer's TLS secret (oci-load-balancer-tls-secret); keep --tls kong",
				Notes: []string{
					"PROXY applies to TCP listeners of the OCI flexible load balancer.",
					"Once PROXY is enabled on a classic OCI load balancer's listener it cannot be turned off: removing the annotation later leaves the LB sending PROXY while Kong no longer expects it, and every request fails. Roll back by recreating the Service.",
					"For an OCI network load balancer use provider oci-nlb (is-ppv2-enabled).",
				},
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
	"oci-nlb": {
		Name:          "oci-nlb",
		Description:   "Oracle Cloud Infrastructure network load balancer (load-balancer-type: nlb) sending PROXY v2",
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations: map[string]string{
					"oci.oraclecloud.com/load-balancer-type":                    "nlb",
					"oci-network-load-balancer.oraclecloud.com/is-ppv2-enabled": "true",
				},
				ExternalTrafficPolicy: "Cluster",
				PPVersion:             "v2",
				NeedsCIDRs:            true,
				NoLBTLS:               "an OCI network load balancer is layer 4 and cannot terminate TLS; keep --tls kong",
				Notes:                 []string{"is-ppv2-enabled makes the network load balancer send PROXY v2 on every listener."},
			},
		},
		Unsupported: map[string]string{
			MethodLocal:   "use provider oci with method local (is-preserve-source)",
			MethodHeaders: "a network load balancer adds no headers",
		},
	},
	"hetzner": {
		Name:        "hetzner",
		Description: "Hetzner Cloud Load Balancer",
		Location: &Location{Key: "load-balancer.hetzner.cloud/location", ZoneKey: "load-balancer.hetzner.cloud/network-zone",
			Zones: []string{"eu-central", "us-east", "us-west", "ap-southeast"},
			Why:   "the Hetzner cloud controller refuses to create a load balancer without a location or network zone unless the cluster sets HCLOUD_LOAD_BALANCERS_LOCATION or HCLOUD_LOAD_BALANCERS_NETWORK_ZONE"},
		DefaultMethod: MethodProxyProtocol,
		Methods: map[string]MethodProfile{
			MethodProxyProtocol: {
				Annotations:           map[string]string{"load-balancer.hetzner.cloud/uses-proxyprotocol": "true"},
				ExternalTrafficPolicy: "Cluster",
				NeedsCIDRs:            true,
				NoLBTLS:               ppNoTLS("the Hetzner load balancer"),
				Notes:                 []string{"PROXY is switched on for every port of the load balancer."},
			},
			MethodHeaders: {
				Annotations:           map[string]string{"load-balancer.hetzner.cloud/protocol": "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				// protocol applies to every port, so HTTPS serves 443 alone
				// and port 80 redirects to it.
				LBTLS: &LBTLS{Annotations: map[string]string{
					"load-balancer.hetzner.cloud/protocol":           "https",
					"load-balancer.hetzner.cloud/http-certificates":  CertToken,
					"load-balancer.hetzner.cloud/http-redirect-http": "true",
				}, Cert: "Hetzner certificate IDs or names, comma-separated", HTTPSOnly: true},
				NeedsCIDRs: true,
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
				NoLBTLS:               ppNoTLS("the NodeBalancer"),
			},
			MethodHeaders: {
				Annotations:           map[string]string{"service.beta.kubernetes.io/linode-loadbalancer-default-protocol": "http"},
				ExternalTrafficPolicy: "Cluster",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				TLSAtLB:               true,
				LBTLS: &LBTLS{Annotations: map[string]string{
					"service.beta.kubernetes.io/linode-loadbalancer-port-443": `{"protocol": "https", "tls-secret-name": "` + CertToken + `"}`,
				}, Cert: "the name of a kubernetes.io/tls Secret in the Service's namespace"},
				NeedsCIDRs: true,
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
				// Cloudflare terminates the client's TLS at its edge; nothing
				// on the Service changes.
				LBTLS: &LBTLS{},
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
				LBTLS:                 &LBTLS{},
				Notes:                 []string{"Enable PROXY protocol on the load balancer at the same time as on Kong; one side alone breaks every request."},
			},
			MethodHeaders: {
				Annotations: map[string]string{},
				// Local: with Cluster, kube-proxy would SNAT the proxy's
				// connection to a node address that trusted_ips (the
				// proxy's ranges) does not cover, and every client would
				// resolve to the node.
				ExternalTrafficPolicy: "Local",
				Header:                "X-Forwarded-For",
				Recursive:             true,
				NeedsCIDRs:            true,
				LBTLS:                 &LBTLS{},
				Notes:                 []string{"Kong must see the proxy in front as the TCP peer, so the Service keeps externalTrafficPolicy: Local."},
			},
		},
	},
}

// MethodNames lists the provider's methods in the order of Methods.
func (p Provider) MethodNames() []string {
	var out []string
	for _, m := range Methods {
		if _, ok := p.Methods[m]; ok {
			out = append(out, m)
		}
	}
	return out
}

// ProviderNames returns every known provider in a stable order.
func ProviderNames() []string {
	return []string{"eks-nlb", "eks-nlb-intree", "eks-clb", "eks-alb", "gke", "gke-l7", "aks", "aks-pls",
		"tke", "tke-direct", "tke-toa", "ibm-vpc", "digitalocean", "oci", "oci-nlb", "hetzner", "linode", "cloudflare", "generic"}
}

// LookupProvider returns the provider called name.
func LookupProvider(name string) (Provider, bool) {
	p, ok := providers[name]
	return p, ok
}
