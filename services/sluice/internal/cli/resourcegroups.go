package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/sluicehq/sluice/services/admission/rgspec"
	"github.com/spf13/cobra"
)

// resourceGroupsCommand checks resource-group files and publishes them to a running fleet.
func resourceGroupsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "resource-groups", Short: "Validate or apply a resource-group file (Trino/Presto JSON)"}
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a resource-group file; print every problem with its path and exit 1 if there is any",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := readResourceGroups(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: valid (%d root groups, %d selectors)\n", args[0], len(cfg.RootGroups), len(cfg.Selectors))
			return nil
		},
	}
	var natsURL string
	apply := &cobra.Command{
		Use:   "apply FILE",
		Short: "Validate a resource-group file and put it in force on a running fleet (every admission replica applies it live)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if _, err := readResourceGroups(args[0]); err != nil {
				return err
			}
			data, _ := os.ReadFile(args[0])
			conn, err := natsutil.Connect(c.Context(), natsURL, nil, "sluice-resource-groups")
			if err != nil {
				return err
			}
			defer conn.Close()
			kv, err := conn.JS.KeyValue(c.Context(), events.BucketConfig)
			if err != nil {
				return fmt.Errorf("the fleet's configuration bucket: %w", err)
			}
			rev, err := kv.Put(c.Context(), events.KeyResourceGroups, data)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: applied (revision %d)\n", args[0], rev)
			return nil
		},
	}
	apply.Flags().StringVar(&natsURL, "nats-url", envOr("SLUICE_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (SLUICE_NATS_URL)")
	cmd.AddCommand(validate, apply)
	return cmd
}

func readResourceGroups(path string) (*rgspec.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := rgspec.Parse(data)
	var verr *rgspec.ValidationError
	if errors.As(err, &verr) {
		msg := fmt.Sprintf("%s: %d problem(s):", path, len(verr.Errors))
		for _, fe := range verr.Errors {
			msg += "\n  " + fe.Error()
		}
		return nil, errors.New(msg)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
