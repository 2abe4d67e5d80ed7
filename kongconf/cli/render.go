package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/client-ip-guard/client-ip-guard/internal/kong/nginxconf"
	"github.com/client-ip-guard/client-ip-guard/internal/kong/nodeconf"
)

func newRenderNginxCmd() *cobra.Command {
	var conf string
	var useEnv bool
	cmd := &cobra.Command{
		Use:   "render-nginx -c kong.conf",
		Short: "Print the nginx directives Kong renders for the proxy listeners and realip",
		Long: `render-nginx loads kong.conf (and, with --env, the KONG_* variables of this
process, as Kong does) and prints the listen, set_real_ip_from, real_ip_header
and real_ip_recursive lines Kong would put into nginx-kong.conf.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conf == "" && !useEnv {
				return fmt.Errorf("give -c kong.conf and/or --env")
			}
			var environ []string
			if useEnv {
				environ = os.Environ()
			}
			c, err := nodeconf.Load(conf, environ)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), nginxconf.Render(c))
			return nil
		},
	}
	cmd.Flags().StringVarP(&conf, "conf", "c", "", "kong.conf to load")
	cmd.Flags().BoolVar(&useEnv, "env", false, "apply this process's KONG_* variables over the file")
	return cmd
}
