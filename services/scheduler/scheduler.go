// Package scheduler is Sluice's fragment-scheduling service. It turns every placed query into
// fragments and publishes them on the chosen cluster's fragment subject. A SQL query is one
// fragment (the whole statement); Substrait plans are cut into fragment DAGs in a later step.
//
// Consumes: sluice.query.placed (durable consumer "scheduler"). Publishes:
// sluice.fragment.<cluster> (FRAGMENTS stream).
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/svc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Config of the fragment-scheduling service (environment variables SLUICE_*).
type Config struct {
	NatsURL string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	AckWait time.Duration `envconfig:"SCHEDULER_ACK_WAIT" default:"30s" desc:"redelivery timeout of a placed query being dispatched"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

// RootFragment is the ID of the single fragment of a SQL query.
const RootFragment = "0"

type service struct {
	log    *slog.Logger
	pub    *events.Publisher
	tracer trace.Tracer
}

// Run dispatches fragments until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	conn, log, err := svc.Start(ctx, svc.Options{Name: "scheduler", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	tracer := otel.Tracer("sluice/scheduler")
	s := &service{log: log, tracer: tracer, pub: events.NewPublisher(conn.JS, "sluice/scheduler", tracer)}
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamQueries, events.SchedulerConsumer(cfg.AckWait))
	if err != nil {
		return fmt.Errorf("scheduler: consumer: %w", err)
	}
	cc, err := cons.Consume(s.handle, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("scheduler: consume: %w", err)
	}
	log.Info("scheduler ready")
	<-ctx.Done()
	cc.Stop()
	return nil
}

// handle publishes the fragment of one placed query, then acknowledges it. A crash in
// between redelivers the placement; the fragment's deterministic ID drops the duplicate.
func (s *service) handle(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, span := events.StartProcessSpan(ctx, s.tracer, msg.Headers(), msg.Subject(), events.ConsumerScheduler, len(msg.Data()))
	defer span.End()
	var p events.QueryPlaced
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryPlaced, &p); err != nil {
		s.log.Warn("dropping malformed placed event", "err", err)
		_ = msg.Term()
		return
	}
	if err := events.ValidateClusterName(p.Cluster); err != nil {
		s.log.Warn("dropping placed event with bad cluster", "err", err)
		_ = msg.Term()
		return
	}
	id := p.Query.ID
	span.SetAttributes(events.AttrQueryID.String(id))
	frag := events.Fragment{Query: p.Query, FragmentID: RootFragment, Cluster: p.Cluster, Attempt: p.Attempt, SQL: p.Query.SQL}
	if _, err := s.pub.Publish(ctx, events.FragmentSubject(p.Cluster), events.MsgIDFragment(id, RootFragment, p.Attempt), id, events.TypeFragment, frag); err != nil {
		s.log.Warn("publish fragment failed", "query", id, "err", err)
		_ = msg.NakWithDelay(100 * time.Millisecond)
		return
	}
	_ = msg.Ack()
}
