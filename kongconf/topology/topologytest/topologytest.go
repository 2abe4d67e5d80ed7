// Package topologytest completes topologies for tests that enumerate
// providers: it adds the inputs a provider requires (image, load balancer
// certificate, location) with example values, so a test exercises the
// provider rather than its refusal.
package topologytest

import "github.com/client-ip-guard/client-ip-guard/kongconf/topology"

// Example inputs.
const (
	Image       = "registry.example.com/kong-client-ip-guard:3.9.1"
	Certificate = "arn:aws:acm:us-east-1:111122223333:certificate/example"
	Location    = "fsn1"
)

// Complete returns t with an image, and with a certificate and a location
// where the provider asks for them and t has none.
func Complete(t topology.Topology) topology.Topology {
	if t.Image == "" {
		t.Image = Image
	}
	p, ok := topology.LookupProvider(t.Provider)
	if !ok {
		return t
	}
	m := t.Method
	if m == "" {
		m = p.DefaultMethod
	}
	prof := p.Methods[m]
	lbTLS := t.TLS == topology.TLSLB || t.TLS == "" && prof.TLSAtLB
	if lbTLS && t.LBCertificate == "" && prof.LBTLS != nil && prof.LBTLS.Cert != "" {
		t.LBCertificate = Certificate
	}
	if p.Location != nil && t.LBLocation == "" {
		t.LBLocation = Location
	}
	return t
}
