// Package cli is the sluice command line: `up`, one command per service, and `nats`.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/telemetry"
	"github.com/spf13/cobra"
)

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Sluice: one global, durable query queue in front of a fleet of SQL clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(upCommand(), natsCommand(), clustersCommand(), ingestCommand(), admissionCommand(), placementCommand(),
		schedulerCommand(), executorProxyCommand(), resourceGroupsCommand())
	return root
}

// logger returns the process logger; SLUICE_LOG_LEVEL sets its level (debug, info, warn, error).
func logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToLower(os.Getenv("SLUICE_LOG_LEVEL"))))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// addHelpEnv adds --help-env, which prints the environment variables of cfg and exits.
func addHelpEnv(cmd *cobra.Command, cfg any) {
	var help bool
	cmd.Flags().BoolVar(&help, "help-env", false, "list the SLUICE_* environment variables this command reads")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if help {
			return config.PrintUsage(c.OutOrStdout(), cfg)
		}
		return run(c, args)
	}
}

// withTelemetry sets up tracing for the process and flushes it after run.
func withTelemetry(ctx context.Context, service string, run func() error) error {
	shutdown, err := telemetry.Setup(ctx, service)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()
	return run()
}
