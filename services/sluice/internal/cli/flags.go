package cli

import (
	"sync"

	"github.com/spf13/cobra"
)

// Flags override environment variables: a flag's value is copied into the loaded config
// only when the flag was given on the command line.
var (
	flagMu       sync.Mutex
	flagAppliers = map[*cobra.Command][]func(){}
)

func deferFlag(cmd *cobra.Command, name, usage string, target *string) {
	v := cmd.Flags().String(name, "", usage)
	addApplier(cmd, func() {
		if cmd.Flags().Changed(name) {
			*target = *v
		}
	})
}

func deferIntFlag(cmd *cobra.Command, name, usage string, target *int) {
	v := cmd.Flags().Int(name, 0, usage)
	addApplier(cmd, func() {
		if cmd.Flags().Changed(name) {
			*target = *v
		}
	})
}

func deferFloatFlag(cmd *cobra.Command, name, usage string, target *float64) {
	v := cmd.Flags().Float64(name, 0, usage)
	addApplier(cmd, func() {
		if cmd.Flags().Changed(name) {
			*target = *v
		}
	})
}

func addApplier(cmd *cobra.Command, f func()) {
	flagMu.Lock()
	defer flagMu.Unlock()
	flagAppliers[cmd] = append(flagAppliers[cmd], f)
}

func applyFlags(cmd *cobra.Command) {
	flagMu.Lock()
	fs := flagAppliers[cmd]
	flagMu.Unlock()
	for _, f := range fs {
		f()
	}
}
