package cli

import (
	"fmt"
	"net"
	"strconv"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/spf13/cobra"
)

// NatsConfig configures `sluice nats`, a standalone embedded NATS server for running the
// services as separate processes.
type NatsConfig struct {
	StoreDir string `envconfig:"NATS_STORE_DIR" default:".sluice/nats" desc:"JetStream file store directory"`
	Listen   string `envconfig:"NATS_LISTEN" default:"127.0.0.1:4222" desc:"listen address (port 0: any free port)"`
}

func natsCommand() *cobra.Command {
	cfg := &NatsConfig{}
	cmd := &cobra.Command{Use: "nats", Short: "Run a standalone NATS server with JetStream (file storage, every write synced)", Args: cobra.NoArgs}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := config.Load(cfg); err != nil {
			return err
		}
		applyFlags(c)
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen address: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("listen address: %w", err)
		}
		if p == 0 {
			p = -1
		}
		ns, err := natsutil.StartServer(natsutil.ServerOptions{StoreDir: cfg.StoreDir, Host: host, Port: p, Name: "sluice-nats"})
		if err != nil {
			return err
		}
		fmt.Fprintln(c.OutOrStdout(), "nats ready", ns.ClientURL())
		<-c.Context().Done()
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil
	}
	deferFlag(cmd, "store-dir", "JetStream store directory (SLUICE_NATS_STORE_DIR)", &cfg.StoreDir)
	deferFlag(cmd, "listen", "listen address (SLUICE_NATS_LISTEN)", &cfg.Listen)
	addHelpEnv(cmd, cfg)
	return cmd
}
