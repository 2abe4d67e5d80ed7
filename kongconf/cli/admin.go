package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/client-ip-guard/client-ip-guard/kongconf/admin"
	"github.com/client-ip-guard/client-ip-guard/kongconf/generate"
)

func newDoctorCmd() *cobra.Command {
	var url, format, topo string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor --admin-url URL",
		Short: "Check a running Kong: realip settings, listeners, plugin loaded, plugin configs",
		Long: `doctor reads GET / (trusted_ips, real_ip_header, real_ip_recursive,
proxy_listeners, plugins.available_on_server) and every client-ip-guard instance,
validates their configs with POST /schemas/plugins/validate and reports the same
findings as lint. With --topology it also validates the config generate would
produce. Exit status as for lint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c, err := admin.NewClient(url, nil)
			if err != nil {
				return err
			}
			var extra map[string]any
			if topo != "" {
				f := genFlags{topologyFile: topo}
				r, err := resolveTopology(cmd, &f)
				if err != nil {
					return err
				}
				extra = generate.PluginConfig(r)
			}
			rep, info, err := admin.Doctor(ctx, c, url, extra)
			if err != nil {
				return err
			}
			if format == "json" {
				err = rep.WriteJSON(cmd.OutOrStdout())
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Kong %s (database %s): trusted_ips=%v real_ip_header=%s real_ip_recursive=%s plugin loaded=%v\n",
					info.Version, info.Database, info.TrustedIPs, info.RealIPHeader, info.RealIPRecursive, info.Available)
				err = rep.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if rep.HasErrors() {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "admin-url", "http://localhost:8001", "Kong Admin API URL")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().StringVarP(&topo, "topology", "t", "", "also validate the plugin config generated from this topology")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "overall timeout")
	return cmd
}

func newApplyCmd() *cobra.Command {
	var f genFlags
	var url string
	var replace bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply --admin-url URL --topology FILE",
		Short: "Push the generated client-ip-guard config to a running Kong",
		Long: `apply generates the plugin config from the topology and pushes it: in DB-less
mode as the whole generated kong.yml through POST /config (needs --replace,
because it replaces the node's configuration), otherwise by updating the global
client-ip-guard plugin or creating it. Node settings (kong.conf/env) cannot be
changed through the Admin API; apply them with your deployment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := resolveTopology(cmd, &f)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c, err := admin.NewClient(url, nil)
			if err != nil {
				return err
			}
			res, err := admin.Apply(ctx, c, r, replace)
			if err != nil {
				return err
			}
			if res.Action == "config" {
				fmt.Fprintln(cmd.OutOrStdout(), "loaded the generated kong.yml with POST /config")
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s global plugin client-ip-guard %s\n", res.Action, res.ID)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "admin-url", "http://localhost:8001", "Kong Admin API URL")
	fl.BoolVar(&replace, "replace", false, "DB-less: allow replacing the whole configuration via POST /config")
	fl.DurationVar(&timeout, "timeout", 15*time.Second, "overall timeout")
	fl.StringVarP(&f.topologyFile, "topology", "t", "", "topology YAML file")
	fl.StringVar(&f.provider, "provider", "", "provider (instead of --topology)")
	fl.StringVar(&f.method, "method", "", "method")
	fl.StringSliceVar(&f.cidrs, "trusted-cidr", nil, "trusted CIDR (repeatable)")
	fl.StringSliceVar(&f.presets, "preset", nil, "trusted preset (repeatable)")
	fl.StringVar(&f.mode, "mode", "", "plugin mode")
	return cmd
}
