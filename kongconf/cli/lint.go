package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/client-ip-guard/client-ip-guard/kongconf/lint"
	"github.com/client-ip-guard/client-ip-guard/kongconf/presets"
	"github.com/client-ip-guard/client-ip-guard/kongconf/topology"
)

func newLintCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "lint FILE|DIR...",
		Short: "Find client-IP footguns in kong.conf, env files, Helm values, Services, kong.yml and KongPlugins",
		Long: `lint reads every file (directories: their .conf, .env, .yaml, .yml, .json files),
recognises what each is, and checks them alone and together (PROXY protocol on
the load balancer vs Kong's listeners, plugin config vs Kong's realip settings).
Exit status: 0 clean or warnings only, 1 errors, 2 usage problems.
See "kongconf rules" for every rule ID.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q must be text or json", format)
			}
			rep := lint.Files(args)
			var err error
			if format == "json" {
				err = rep.WriteJSON(cmd.OutOrStdout())
			} else {
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
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func newRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "List lint rules with their IDs, severities and fixes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, r := range lint.Rules() {
				fmt.Fprintf(w, "%s\t%s\t%s\n\t\twhy: %s\n\t\tfix: %s\n", r.ID, r.Severity, r.Title, r.Why, r.Fix)
			}
			return w.Flush()
		},
	}
}

func newPresetsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "presets [NAME]",
		Short: "List the embedded trusted-range presets, or print one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				p, err := presets.Get(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "# %s: %s\n# source: %s\n# as-of: %s\n", p.Name, p.Description, p.Source, p.AsOf)
				for _, c := range p.CIDRs {
					fmt.Fprintln(out, c)
				}
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tRANGES\tAS-OF\tSOURCE")
			for _, n := range presets.Names() {
				p, err := presets.Get(n)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", p.Name, len(p.CIDRs), p.AsOf, p.Source)
			}
			return w.Flush()
		},
	}
}

func newProvidersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "providers",
		Short: "List providers, their methods and default method",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROVIDER\tDEFAULT\tMETHODS\tDESCRIPTION")
			for _, n := range topology.ProviderNames() {
				p, _ := topology.LookupProvider(n)
				var ms []string
				for _, m := range topology.Methods {
					if _, ok := p.Methods[m]; ok {
						ms = append(ms, m)
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n, p.DefaultMethod, join(ms), p.Description)
			}
			return w.Flush()
		},
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
