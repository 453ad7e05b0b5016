// Package placement picks the cluster for every admitted query: a healthy cluster (fresh
// heartbeat, state ready) with free capacity, the least loaded first. When no cluster can
// take the query it stays queued (its message is redelivered later); it never fails.
//
// Consumes: sluice.query.admitted (durable consumer "placement"); folds sluice.query.placed,
// the terminal events and cancel requests; watches the SLUICE_CLUSTERS heartbeats.
// Publishes: sluice.query.placed, sluice.query.canceled (canceled before placement).
package placement

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/services/placement/internal/registry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Config of the placement service (environment variables SLUICE_*).
type Config struct {
	NatsURL          string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	HeartbeatTimeout time.Duration `envconfig:"HEARTBEAT_TIMEOUT" default:"3s" desc:"a cluster without a heartbeat for this long gets no new queries"`
	AckWait          time.Duration `envconfig:"PLACEMENT_ACK_WAIT" default:"30s" desc:"redelivery timeout of an admitted query being placed"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

type service struct {
	log    *slog.Logger
	reg    *registry.Registry
	pub    *events.Publisher
	tracer trace.Tracer

	mu       sync.Mutex
	canceled map[string]string
}

// Run places admitted queries until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	conn, log, err := svc.Start(ctx, svc.Options{Name: "placement", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	tracer := otel.Tracer("sluice/placement")
	s := &service{log: log, reg: registry.New(cfg.HeartbeatTimeout), tracer: tracer, canceled: map[string]string{},
		pub: events.NewPublisher(conn.JS, "sluice/placement", tracer)}
	kv, err := conn.JS.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		return err
	}
	if err := s.reg.WatchHeartbeats(ctx, kv); err != nil {
		return err
	}
	f, err := follow.Start(ctx, conn.JS, events.StreamQueries, append([]string{events.SubjectPlaced, events.SubjectCancelRequested}, events.TerminalSubjects...), s.fold)
	if err != nil {
		return err
	}
	defer f.Stop()
	select {
	case <-f.CaughtUp():
	case <-ctx.Done():
		return nil
	}
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamQueries, events.PlacementConsumer(cfg.AckWait))
	if err != nil {
		return fmt.Errorf("placement: consumer: %w", err)
	}
	cc, err := cons.Consume(s.handle, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("placement: consume: %w", err)
	}
	log.Info("placement ready")
	<-ctx.Done()
	cc.Stop()
	return nil
}

func (s *service) fold(msg jetstream.Msg) {
	if msg.Subject() == events.SubjectCancelRequested {
		var p events.QueryCancelRequested
		if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryCancelRequested, &p); err == nil {
			s.mu.Lock()
			s.canceled[p.QueryID] = p.Reason
			s.mu.Unlock()
		}
		return
	}
	if err := s.reg.Apply(msg.Subject(), msg.Headers(), msg.Data()); err != nil {
		s.log.Warn("skipping malformed event", "subject", msg.Subject(), "err", err)
	}
}

// handle places one admitted query, or asks for redelivery when no cluster can take it.
func (s *service) handle(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, span := events.StartProcessSpan(ctx, s.tracer, msg.Headers(), msg.Subject(), events.ConsumerPlacement, len(msg.Data()))
	defer span.End()
	var p events.QueryAdmitted
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryAdmitted, &p); err != nil {
		s.log.Warn("dropping malformed admitted event", "err", err)
		_ = msg.Term()
		return
	}
	id := p.Query.ID
	span.SetAttributes(events.AttrQueryID.String(id))
	if s.reg.Ended(id) {
		_ = msg.Ack()
		return
	}
	s.mu.Lock()
	_, canceled := s.canceled[id]
	s.mu.Unlock()
	if canceled {
		qe := protocol.NewError(protocol.UserCanceled, "Query was canceled before it was placed")
		if _, err := s.pub.Publish(ctx, events.SubjectCanceled, events.MsgIDTerminal(id), id, events.TypeQueryCanceled,
			events.QueryEnded{QueryID: id, EndedAt: time.Now().UTC(), By: "placement",
				Error: &events.QueryErrorInfo{Message: qe.Message, ErrorCode: qe.ErrorCode, ErrorName: qe.ErrorName, ErrorType: qe.ErrorType}}); err != nil {
			_ = msg.NakWithDelay(100 * time.Millisecond)
			return
		}
		_ = msg.Ack()
		return
	}
	if _, ok := s.reg.PlacedOn(id); ok {
		// Redelivered after a crash between publish and ack: the placement stands.
		_ = msg.Ack()
		return
	}
	cands := s.reg.Snapshot(time.Now())
	best := -1
	for i, c := range cands {
		if c.Reason != "" {
			continue
		}
		if best < 0 || load(c) < load(cands[best]) {
			best = i
		}
	}
	if best < 0 {
		md, _ := msg.Metadata()
		delay := 50 * time.Millisecond
		if md != nil {
			delay = min(time.Duration(md.NumDelivered)*50*time.Millisecond, time.Second)
		}
		_ = msg.NakWithDelay(delay)
		return
	}
	cluster := cands[best].Heartbeat.Name
	attempt := 0
	if _, err := s.pub.Publish(ctx, events.SubjectPlaced, events.MsgIDPlaced(id, attempt), id, events.TypeQueryPlaced,
		events.QueryPlaced{Query: p.Query, Cluster: cluster, Attempt: attempt, PlacedAt: time.Now().UTC(), Reason: explain(cands, best)}); err != nil {
		s.log.Warn("publish placed failed", "query", id, "err", err)
		_ = msg.NakWithDelay(100 * time.Millisecond)
		return
	}
	s.reg.MarkPlaced(id, cluster)
	_ = msg.Ack()
}

// load is the fraction of a cluster's slots in use: lower is better.
func load(c registry.Candidate) float64 {
	if c.Heartbeat.Slots <= 0 {
		return float64(c.Load)
	}
	return float64(c.Load) / float64(c.Heartbeat.Slots)
}

func explain(cands []registry.Candidate, chosen int) string {
	var b strings.Builder
	for i, c := range cands {
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case i == chosen:
			fmt.Fprintf(&b, "%s chosen (load %d/%d)", c.Heartbeat.Name, c.Load, c.Heartbeat.Slots)
		case c.Reason != "":
			fmt.Fprintf(&b, "%s filtered: %s", c.Heartbeat.Name, c.Reason)
		default:
			fmt.Fprintf(&b, "%s (load %d/%d)", c.Heartbeat.Name, c.Load, c.Heartbeat.Slots)
		}
	}
	return b.String()
}
