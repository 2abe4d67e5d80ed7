// Package cli wires kongconf's cobra commands.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// ExitError carries a process exit code without printing anything more.
type ExitError struct {
	// Code is the process exit status.
	Code int
}

// Error reports the exit status.
func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// NewRoot builds the kongconf root command with all subcommands.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "kongconf",
		Short: "Generate, lint and check Kong's client-IP configuration for client-ip-guard",
		Long: `kongconf generates Kong node settings, Helm values, Kubernetes objects and decK
files that preserve the client IP (externalTrafficPolicy Local, PROXY protocol or
HTTP headers) and configure the client-ip-guard plugin to match; lints existing
files for the usual footguns; and checks a running Kong through its Admin API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newGenerateCmd(), newLintCmd(), newRulesCmd(), newPresetsCmd(), newProvidersCmd(),
		newRenderNginxCmd(), newDoctorCmd(), newApplyCmd(), newExplainCmd(), newReportCmd())
	return root
}

// Execute runs kongconf with args and returns the process exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintln(stderr, "kongconf:", err)
	return 2
}

// Main is the binary's entry point.
func Main() { os.Exit(Execute(os.Args[1:], os.Stdout, os.Stderr)) }
