package generate

import (
	"fmt"
	"strings"

	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

// Kind is one output format.
type Kind struct {
	// Name is the value of --output.
	Name string
	// File is the file name used when writing a bundle to a directory.
	File string
	// Render produces the file content.
	Render func(r *topology.Resolved) (string, error)
	// OnRequest kinds are rendered only when asked for by name: they
	// replace others (the operator's GatewayConfiguration replaces Helm).
	OnRequest bool
	// Needs names the option an output that renders empty without it
	// requires ("" when it depends on the provider).
	Needs string
}

// Kinds lists every output in bundle order.
var Kinds = []Kind{
	{Name: "kong.conf", File: "kong.conf", Render: func(r *topology.Resolved) (string, error) { return KongConf(r), nil }},
	{Name: "env", File: "kong.env", Render: func(r *topology.Resolved) (string, error) { return Env(r), nil }},
	{Name: "helm", File: "values.yaml", Render: HelmYAML},
	{Name: "service", File: "service.yaml", Render: ServiceYAML},
	{Name: "ingress", File: "ingress.yaml", Render: IngressYAML},
	{Name: "fastpath-include", File: IncludeFile, Render: FastPathInclude, Needs: "--fast-path"},
	{Name: "kong.yml", File: "kong.yml", Render: DeckYAML},
	{Name: "kongplugin", File: "kongplugin.yaml", Render: KongPluginYAML},
	{Name: "kongclusterplugin", File: "kongclusterplugin.yaml", Render: KongClusterPluginYAML},
	{Name: "pluginserver-env", File: "pluginserver.env", Render: func(r *topology.Resolved) (string, error) {
		return PluginServerEnv(r.Topology.Prefix, r.Metrics), nil
	}},
	{Name: "pluginserver-helm", File: "pluginserver-values.yaml", Render: PluginServerHelmYAML},
	{Name: "backendconfig", File: "backendconfig.yaml", Render: BackendConfigYAML},
	{Name: "gatewayconfiguration", File: "gatewayconfiguration.yaml", Render: GatewayConfigurationYAML, OnRequest: true},
}

// KindNames returns the --output vocabulary.
func KindNames() []string {
	var n []string
	for _, k := range Kinds {
		n = append(n, k.Name)
	}
	return n
}

// LookupKind finds a Kind by name.
func LookupKind(name string) (Kind, error) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, nil
		}
	}
	return Kind{}, fmt.Errorf("unknown output %q (known: %s)", name, strings.Join(KindNames(), ", "))
}

// CheckBundle renders what a partial bundle is checked against: every kind
// that applies, less the Helm values when the topology has no image (they
// are refused then, and were not asked for).
func CheckBundle(r *topology.Resolved) (map[string]string, error) {
	var names []string
	for _, k := range Kinds {
		if k.OnRequest || r.Platform.ImageRepo == "" && (k.Name == "helm" || k.Name == "pluginserver-helm") {
			continue
		}
		names = append(names, k.Name)
	}
	return render(r, names, true)
}

// Bundle renders the named kinds (all when names is empty) keyed by file
// name. Outputs that do not apply to the provider (an Ingress without an L7
// load balancer) are left out of an all-kinds bundle and are an error when
// asked for by name.
func Bundle(r *topology.Resolved, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		for _, k := range Kinds {
			if !k.OnRequest {
				names = append(names, k.Name)
			}
		}
		return render(r, names, true)
	}
	return render(r, names, false)
}

func render(r *topology.Resolved, names []string, skipEmpty bool) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		k, err := LookupKind(n)
		if err != nil {
			return nil, err
		}
		s, err := k.Render(r)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", n, err)
		}
		if s == "" {
			if skipEmpty {
				continue
			}
			if k.Needs != "" {
				return nil, fmt.Errorf("output %s needs %s", n, k.Needs)
			}
			return nil, fmt.Errorf("output %s does not apply to provider %s", n, r.Provider.Name)
		}
		out[k.File] = s
	}
	return out, nil
}
