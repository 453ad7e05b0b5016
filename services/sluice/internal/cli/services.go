package cli

import (
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/services/admission"
	"github.com/sluicehq/sluice/services/executorproxy"
	"github.com/sluicehq/sluice/services/ingest"
	"github.com/sluicehq/sluice/services/placement"
	"github.com/sluicehq/sluice/services/scheduler"
	"github.com/spf13/cobra"
)

// serviceCommand builds the command that runs one service alone against an external NATS.
func serviceCommand[C any](use, short string, run func(cmd *cobra.Command, cfg *C) error, flags func(cmd *cobra.Command, cfg *C)) *cobra.Command {
	cfg := new(C)
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := config.Load(cfg); err != nil {
			return err
		}
		applyFlags(c)
		return run(c, cfg)
	}
	if flags != nil {
		flags(cmd, cfg)
	}
	addHelpEnv(cmd, cfg)
	return cmd
}

func ingestCommand() *cobra.Command {
	return serviceCommand("ingest", "Run the ingest service (client protocol front door)",
		func(c *cobra.Command, cfg *ingest.Config) error {
			cfg.Logger = logger(c.ErrOrStderr())
			return withTelemetry(c.Context(), "sluice-ingest", func() error { return ingest.Run(c.Context(), *cfg) })
		},
		func(c *cobra.Command, cfg *ingest.Config) {
			deferFlag(c, "nats-url", "NATS server URL (SLUICE_NATS_URL)", &cfg.NatsURL)
			deferFlag(c, "http-addr", "listen address (SLUICE_HTTP_ADDR)", &cfg.HTTPAddr)
			deferFlag(c, "grpc-addr", "gRPC plan service listen address, empty: off (SLUICE_GRPC_ADDR)", &cfg.GRPCAddr)
		})
}

func admissionCommand() *cobra.Command {
	return serviceCommand("admission", "Run an admission replica (leader-elected)",
		func(c *cobra.Command, cfg *admission.Config) error {
			cfg.Logger = logger(c.ErrOrStderr())
			return withTelemetry(c.Context(), "sluice-admission", func() error { return admission.Run(c.Context(), *cfg) })
		},
		func(c *cobra.Command, cfg *admission.Config) {
			deferFlag(c, "nats-url", "NATS server URL (SLUICE_NATS_URL)", &cfg.NatsURL)
			deferIntFlag(c, "max-running", "fleet-wide limit of running queries without a resource-group file (SLUICE_MAX_RUNNING)", &cfg.MaxRunning)
			deferFlag(c, "resource-groups", "resource-group file, Trino/Presto JSON (SLUICE_RESOURCE_GROUPS)", &cfg.ResourceGroupsFile)
			deferFlag(c, "user-groups", "user-group mapping file (SLUICE_USER_GROUPS)", &cfg.UserGroupsFile)
		})
}

func placementCommand() *cobra.Command {
	return serviceCommand("placement", "Run the placement service",
		func(c *cobra.Command, cfg *placement.Config) error {
			cfg.Logger = logger(c.ErrOrStderr())
			return withTelemetry(c.Context(), "sluice-placement", func() error { return placement.Run(c.Context(), *cfg) })
		},
		func(c *cobra.Command, cfg *placement.Config) {
			deferFlag(c, "nats-url", "NATS server URL (SLUICE_NATS_URL)", &cfg.NatsURL)
		})
}

func schedulerCommand() *cobra.Command {
	return serviceCommand("scheduler", "Run the fragment-scheduling service",
		func(c *cobra.Command, cfg *scheduler.Config) error {
			cfg.Logger = logger(c.ErrOrStderr())
			return withTelemetry(c.Context(), "sluice-scheduler", func() error { return scheduler.Run(c.Context(), *cfg) })
		},
		func(c *cobra.Command, cfg *scheduler.Config) {
			deferFlag(c, "nats-url", "NATS server URL (SLUICE_NATS_URL)", &cfg.NatsURL)
		})
}

func executorProxyCommand() *cobra.Command {
	return serviceCommand("executor-proxy", "Run one cluster's executor-proxy (DuckDB backend)",
		func(c *cobra.Command, cfg *executorproxy.Config) error {
			cfg.Logger = logger(c.ErrOrStderr())
			return withTelemetry(c.Context(), "sluice-executor-proxy", func() error { return executorproxy.Run(c.Context(), *cfg) })
		},
		func(c *cobra.Command, cfg *executorproxy.Config) {
			deferFlag(c, "nats-url", "NATS server URL (SLUICE_NATS_URL)", &cfg.NatsURL)
			deferFlag(c, "cluster", "cluster name (SLUICE_CLUSTER)", &cfg.Cluster)
			deferFlag(c, "http-addr", "listen address (SLUICE_EXECUTOR_HTTP_ADDR)", &cfg.HTTPAddr)
			deferFlag(c, "data-dir", "data directory (SLUICE_DATA_DIR)", &cfg.DataDir)
			deferIntFlag(c, "slots", "concurrent queries (SLUICE_SLOTS)", &cfg.Slots)
		})
}
