package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
	"github.com/client-ip-guard/client-ip-guard/kongconf/presets"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
	"github.com/client-ip-guard/client-ip-guard/kongconf/verify"
)

type genFlags struct {
	topologyFile string
	provider     string
	method       string
	cidrs        []string
	presets      []string
	trustAll     bool
	trustedFrom  []string
	awsServices  []string
	awsRegions   []string
	header       string
	recursive    string
	tls          string
	chart        string
	release      string
	image        string
	lbCert       string
	lbLocation   string
	headerTO     string
	metrics      string
	namespace    string
	prefix       string
	mode         string
	upstreamHdr  string
	fastPath     bool
	outputs      []string
	outDir       string
	noCheck      bool
}

func newGenerateCmd() *cobra.Command {
	var f genFlags
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate kong.conf, env, Helm values, Service, kong.yml and KIC plugins from a topology",
		Long: `generate reads a topology (flags, or --topology FILE with flags overriding it)
and prints or writes every configuration surface, all agreeing with each other:
the plugin's trusted_ips/real_ip_header/real_ip_recursive equal Kong's.

Outputs (-o, repeatable; default all but gatewayconfiguration, which replaces
the Helm values for Kong Gateway Operator users): ` + strings.Join(generate.KindNames(), ", ") + `.
The result is linted before it is written; errors abort (--no-check skips this).`,
		Example: `  kongconf generate --provider eks-nlb --method proxy-protocol --trusted-cidr 10.0.0.0/16 \
      --release kong --image registry.example.com/kong-cig:3.9 -o helm
  kongconf generate --provider gke-l7 --trusted-cidr 203.0.113.10 --release edge --chart ingress \
      --image registry.example.com/kong-cig:3.9 --lb-certificate edge-cert --out-dir ./gke
  kongconf generate --provider cloudflare -o kong.conf
  kongconf generate --provider eks-nlb --method proxy-protocol --trusted-cidr 10.0.0.0/16 \
      --image registry.example.com/kong-cig:3.9 --fast-path --out-dir ./kong
  kongconf generate --provider generic --method headers --trusted-from ip-ranges.json --aws-service CLOUDFRONT`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := resolveTopology(cmd, &f)
			if err != nil {
				return err
			}
			files, err := generate.Bundle(r, f.outputs...)
			if err != nil {
				return err
			}
			for _, w := range r.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if !f.noCheck {
				all, err := generate.CheckBundle(r)
				if err != nil {
					return err
				}
				for n, c := range files {
					all[n] = c // kinds rendered on request only are checked too
				}
				rep := verify.Bundle(all)
				if rep.HasErrors() {
					_ = rep.WriteText(cmd.ErrOrStderr())
					return fmt.Errorf("generated configuration fails lint; this is a kongconf bug or an impossible topology")
				}
			}
			return writeBundle(cmd, files, f.outDir)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.topologyFile, "topology", "t", "", "topology YAML file (flags override its fields)")
	fl.StringVar(&f.provider, "provider", "", "load balancer: "+strings.Join(topology.ProviderNames(), ", "))
	fl.StringVar(&f.method, "method", "", "local, proxy-protocol or headers (default: the provider's)")
	fl.StringSliceVar(&f.cidrs, "trusted-cidr", nil, "load balancer / VPC address or CIDR to trust (repeatable, comma-separated)")
	fl.StringSliceVar(&f.presets, "preset", nil, "embedded range list to trust: "+strings.Join(presets.Names(), ", "))
	fl.BoolVar(&f.trustAll, "trust-all", false, "trust 0.0.0.0/0 and ::/0 (PROXY protocol only, and only if the LB is the sole way in)")
	fl.StringSliceVar(&f.trustedFrom, "trusted-from", nil, "file with ranges to trust: AWS ip-ranges.json or one CIDR per line")
	fl.StringSliceVar(&f.awsServices, "aws-service", nil, "with an ip-ranges.json --trusted-from: keep these services (e.g. CLOUDFRONT)")
	fl.StringSliceVar(&f.awsRegions, "aws-region", nil, "with an ip-ranges.json --trusted-from: keep these regions (e.g. us-east-1, GLOBAL)")
	fl.StringVar(&f.header, "header", "", "real_ip_header for method headers (default: the provider's, usually X-Forwarded-For)")
	fl.StringVar(&f.recursive, "recursive", "", "real_ip_recursive for method headers: on or off")
	fl.StringVar(&f.tls, "tls", "", "where TLS terminates: kong or lb")
	fl.StringVar(&f.chart, "chart", "", "Helm chart layout: kong or ingress (keys under gateway:)")
	fl.StringVar(&f.release, "release", "", "Helm release name; Service, selector, Ingress backend and BackendConfig follow the chart's naming for it (default kong)")
	fl.StringVar(&f.image, "image", "", "REPO:TAG of a Kong image containing "+topology.PluginBinary+" (required by the Helm outputs)")
	fl.StringVar(&f.lbCert, "lb-certificate", "", "with --tls lb: the load balancer's certificate (ACM ARN, DigitalOcean certificate ID, Hetzner certificate names, Linode TLS Secret, GCP pre-shared certificate)")
	fl.StringVar(&f.lbLocation, "lb-location", "", "Hetzner: load balancer location (fsn1) or network zone (eu-central)")
	fl.StringVar(&f.metrics, "metrics", "", "HOST:PORT where the plugin server serves Prometheus metrics (client-ip-guard -metrics-listen; e.g. 0.0.0.0:9542), with scrape annotations in the Helm values")
	fl.StringVar(&f.headerTO, "proxy-header-timeout", "", "with proxy-protocol: nginx client_header_timeout, how long Kong waits for the PROXY header (nginx default 60s; e.g. 5s)")
	fl.StringVar(&f.namespace, "namespace", "", "namespace for Kubernetes objects (default kong)")
	fl.StringVar(&f.prefix, "prefix", "", "Kong prefix for the plugin socket outside Helm (default /usr/local/kong)")
	fl.StringVar(&f.mode, "mode", "", "plugin mode: monitor or enforce (default monitor)")
	fl.StringVar(&f.upstreamHdr, "upstream-header", "", "plugin upstream_header carrying the verified client IP (e.g. X-Client-IP)")
	fl.BoolVar(&f.fastPath, "fast-path", false, "the plugin's one-call fast path: write the nginx include ("+generate.IncludeFile+"), the lines that load it (nginx_http_include, and nginx_proxy_underscores_in_headers = off with its trade-off) and fast_path: true")
	fl.StringSliceVarP(&f.outputs, "output", "o", nil, "outputs to produce (default all)")
	fl.StringVar(&f.outDir, "out-dir", "", "write files into this directory instead of stdout")
	fl.BoolVar(&f.noCheck, "no-check", false, "skip linting the generated files")
	return cmd
}

func resolveTopology(cmd *cobra.Command, f *genFlags) (*topology.Resolved, error) {
	var t topology.Topology
	if f.topologyFile != "" {
		var err error
		if t, err = topology.LoadFile(f.topologyFile); err != nil {
			return nil, err
		}
	}
	ch := cmd.Flags().Changed
	if ch("provider") {
		t.Provider = f.provider
	}
	if ch("method") {
		t.Method = f.method
	}
	if ch("trusted-cidr") {
		t.TrustedCIDRs = append(t.TrustedCIDRs, f.cidrs...)
	}
	if ch("preset") {
		t.Presets = append(t.Presets, f.presets...)
	}
	if ch("trust-all") {
		t.TrustAll = f.trustAll
	}
	if ch("header") {
		t.RealIPHeader = f.header
	}
	if ch("recursive") {
		switch strings.ToLower(f.recursive) {
		case "on", "true":
			b := true
			t.Recursive = &b
		case "off", "false":
			b := false
			t.Recursive = &b
		default:
			return nil, fmt.Errorf("--recursive %q must be on or off", f.recursive)
		}
	}
	if ch("tls") {
		t.TLS = f.tls
	}
	if ch("chart") {
		t.Chart = f.chart
	}
	if ch("release") {
		t.Release = f.release
	}
	if ch("image") {
		t.Image = f.image
	}
	if ch("lb-certificate") {
		t.LBCertificate = f.lbCert
	}
	if ch("lb-location") {
		t.LBLocation = f.lbLocation
	}
	if ch("proxy-header-timeout") {
		t.ProxyHeaderTimeout = f.headerTO
	}
	if ch("metrics") {
		t.Metrics = f.metrics
	}
	if ch("namespace") {
		t.Namespace = f.namespace
	}
	if ch("prefix") {
		t.Prefix = f.prefix
	}
	if ch("mode") {
		t.Plugin.Mode = f.mode
	}
	if ch("upstream-header") {
		t.Plugin.UpstreamHeader = f.upstreamHdr
	}
	if ch("fast-path") {
		t.FastPath = f.fastPath
	}
	if f.topologyFile == "" && !ch("provider") {
		return nil, fmt.Errorf("give --provider (%s) or --topology FILE", strings.Join(topology.ProviderNames(), ", "))
	}
	if (len(f.awsServices) > 0 || len(f.awsRegions) > 0) && len(f.trustedFrom) == 0 {
		return nil, fmt.Errorf("--aws-service/--aws-region filter an ip-ranges.json given with --trusted-from")
	}
	var extra []string
	for _, p := range f.trustedFrom {
		fh, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		c, err := presets.ReadTrustedFrom(fh, p, presets.AWSFilter{Services: f.awsServices, Regions: f.awsRegions})
		fh.Close()
		if err != nil {
			return nil, err
		}
		extra = append(extra, c...)
	}
	return topology.Resolve(t, extra...)
}

func writeBundle(cmd *cobra.Command, files map[string]string, dir string) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	// Keep bundle order for stdout.
	order := map[string]int{}
	for i, k := range generate.Kinds {
		order[k.File] = i
	}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	if dir == "" {
		for i, n := range names {
			if len(names) > 1 {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				fmt.Fprintf(cmd.OutOrStdout(), "# ---- %s ----\n", n)
			}
			fmt.Fprint(cmd.OutOrStdout(), files[n])
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "wrote", p)
	}
	return nil
}
