package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
	"github.com/client-ip-guard/client-ip-guard/kongconf/explain"
)

func newExplainCmd() *cobra.Command {
	var (
		in        explain.Input
		conf      string
		useEnv    bool
		format    string
		recursive string
		under     string
	)
	cmd := &cobra.Command{
		Use:   "explain --peer ADDR[:PORT] [-H 'Name: value']...",
		Short: "Walk one request through nginx's realip logic, as Kong runs it",
		Long: `explain takes trusted_ips, real_ip_header and real_ip_recursive (flags, or -c
kong.conf), the connection peer, an optional PROXY protocol source and the
request's headers in order, and prints nginx's walk step by step, the resulting
$remote_addr, $remote_port, $realip_remote_addr and $realip_remote_port, and
client-ip-guard's client address, verdict and action, computed by the same
evaluation the plugin runs. Header lines are read as nginx reads them: a space
before the colon is a 400, tabs stay in values. --plugin-config judges with an
instance's own config (a drift from the node shows as config_drift). It also
says whether the plugin's fast path (fast_path: true) would serve the request:
the variable the include of kongconf generate --fast-path defines, rendered
for the request as nginx --nginx-version would, read as the plugin reads it.
Flags override values loaded from -c.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conf != "" || useEnv {
				var environ []string
				if useEnv {
					environ = os.Environ()
				}
				c, err := nodeconf.Load(conf, environ)
				if err != nil {
					return err
				}
				if !cmd.Flags().Changed("trusted-ips") {
					in.TrustedIPs = c.TrustedIPs
				}
				if !cmd.Flags().Changed("real-ip-header") {
					in.RealIPHeader = c.RealIPHeader
				}
				if !cmd.Flags().Changed("real-ip-recursive") {
					in.RealIPRecursive = c.RealIPRecursive
				}
				if !cmd.Flags().Changed("underscores-in-headers") {
					in.UnderscoresOff = strings.EqualFold(strings.TrimSpace(c.Raw["nginx_proxy_underscores_in_headers"]), "off")
				}
			}
			if cmd.Flags().Changed("underscores-in-headers") {
				switch under {
				case "on":
					in.UnderscoresOff = false
				case "off":
					in.UnderscoresOff = true
				default:
					return fmt.Errorf("--underscores-in-headers %q: want on or off", under)
				}
			}
			if cmd.Flags().Changed("real-ip-recursive") {
				switch recursive {
				case "on", "true":
					in.RealIPRecursive = true
				case "off", "false":
					in.RealIPRecursive = false
				default:
					return fmt.Errorf("--real-ip-recursive %q: want on or off", recursive)
				}
			}
			if in.Peer == "" {
				return fmt.Errorf("--peer is required (ADDR, ADDR:PORT, [V6]:PORT or unix:)")
			}
			rep, err := explain.Run(in)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			case "text":
				rep.Text(cmd.OutOrStdout())
				return nil
			}
			return fmt.Errorf("--format %q: want text or json", format)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&conf, "conf", "c", "", "kong.conf to take trusted_ips and real_ip_* from")
	f.BoolVar(&useEnv, "env", false, "apply this process's KONG_* variables over the file")
	f.StringSliceVar(&in.TrustedIPs, "trusted-ips", nil, "trusted_ips (comma-separated or repeated)")
	f.StringVar(&in.RealIPHeader, "real-ip-header", "X-Real-IP", "real_ip_header")
	f.StringVar(&recursive, "real-ip-recursive", "off", "real_ip_recursive: on or off")
	f.StringVar(&in.Peer, "peer", "", "connection peer ADDR[:PORT]")
	f.StringVar(&in.ProxyProtocol, "proxy-protocol", "", "PROXY protocol source ADDR[:PORT]")
	f.StringArrayVarP(&in.Headers, "header", "H", nil, "request header 'Name: value' as sent (repeatable; order and repeats kept; read as nginx reads it)")
	f.StringVar(&in.Plugin, "plugin-config", "", "the client-ip-guard instance's config as JSON (default: the node's trusted_ips and real_ip_* mirrored)")
	f.StringVar(&under, "underscores-in-headers", "on", "the proxy server's underscores_in_headers: on (Kong's) or off (nginx_proxy_underscores_in_headers = off, which drops header lines named with '_'); -c reads it from kong.conf")
	f.StringVar(&in.NginxVersion, "nginx-version", explain.DefaultNginx, "nginx the fast path's variable is rendered for: 1.25 (Kong 3.6+) or 1.21 (Kong 3.0-3.5)")
	f.StringVar(&format, "format", "text", "text or json")
	return cmd
}
