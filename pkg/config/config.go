// Package config loads a service's configuration from SLUICE_* environment variables with
// envconfig and prints the variables a Config understands (--help-env).
package config

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// Prefix of every Sluice environment variable.
const Prefix = "SLUICE"

// Load fills cfg (a pointer to a struct with envconfig tags) from the environment.
func Load(cfg any) error {
	if err := envconfig.Process(Prefix, cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// PrintUsage writes one line per variable of cfg: name, type, default and description.
func PrintUsage(w io.Writer, cfg any) error {
	tw := tabwriter.NewWriter(w, 1, 0, 4, ' ', 0)
	if err := envconfig.Usagef(Prefix, cfg, tw, envconfig.DefaultTableFormat); err != nil {
		return err
	}
	return tw.Flush()
}
