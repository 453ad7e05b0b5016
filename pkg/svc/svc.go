// Package svc is the start-up every Sluice service shares: its logger, its NATS connection
// (in-process or by URL, retried until NATS answers) and the streams and buckets of the
// topology, created idempotently.
package svc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/natsutil"
)

// Options names a service's connection settings; nil and empty fields take defaults.
type Options struct {
	// Name of the service, e.g. "ingest"; used for the logger and the connection name.
	Name string
	// NatsURL is used when Server is nil.
	NatsURL string
	// Server is an in-process NATS server.
	Server *server.Server
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology
}

// topologyEnv is the part of the topology set by the environment.
type topologyEnv struct {
	Replicas int `envconfig:"STREAM_REPLICAS" default:"1" desc:"replicas of every stream and bucket (3 on a NATS cluster)"`
}

// Start connects to NATS, waits for JetStream and ensures the topology. The caller closes
// the connection.
func Start(ctx context.Context, o Options) (*natsutil.Conn, *slog.Logger, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", o.Name)
	topo := events.DefaultTopology()
	if o.Topology != nil {
		topo = *o.Topology
	} else {
		var env topologyEnv
		if err := config.Load(&env); err != nil {
			return nil, nil, err
		}
		if env.Replicas < 1 {
			return nil, nil, fmt.Errorf("SLUICE_STREAM_REPLICAS must be >= 1, got %d", env.Replicas)
		}
		topo.Replicas = env.Replicas
	}
	conn, err := natsutil.Connect(ctx, o.NatsURL, o.Server, "sluice-"+o.Name)
	if err != nil {
		return nil, nil, err
	}
	if err := events.WaitReady(ctx, conn.JS); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := topo.Ensure(ctx, conn.JS); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, log, nil
}
