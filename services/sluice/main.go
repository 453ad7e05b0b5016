// Command sluice runs Sluice: every service at once with an embedded NATS server and local
// DuckDB clusters (`sluice up`), or any one service against an external NATS server.
package main

import (
	"os"

	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
