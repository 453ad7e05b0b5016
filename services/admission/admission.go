// Package admission decides which queued query runs next, for the whole fleet at once.
// Replicas elect one leader through a KV lease; every replica folds the QUERIES log into the
// same state (standbys stay hot); only the leader publishes decisions, each one fenced by the
// expected last sequence of the admitted subject, so two leaders can never both admit.
//
// Consumes (replay + follow): sluice.query.submitted, .cancel-requested, .admitted and the
// terminal events. Publishes: sluice.query.admitted, sluice.query.canceled (for queued
// queries whose cancel was requested).
//
// This is the fleet-wide FIFO with one concurrency limit; resource groups replace the policy
// in a later step.
package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/lease"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/svc"
	"github.com/sluicehq/sluice/services/admission/internal/queue"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Config of the admission service (environment variables SLUICE_*).
type Config struct {
	NatsURL    string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL"`
	MaxRunning int           `envconfig:"MAX_RUNNING" default:"8" desc:"fleet-wide limit of running queries"`
	LeaseRenew time.Duration `envconfig:"LEASE_RENEW" default:"250ms" desc:"leader lease renewal interval (a lease not renewed for 2s expires)"`
	Identity   string        `envconfig:"ADMISSION_ID" desc:"replica identity in the lease (default host:pid)"`

	// Server, when set, is an in-process NATS server to connect to instead of NatsURL.
	Server *server.Server `ignored:"true"`
	// Logger defaults to slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Topology defaults to events.DefaultTopology().
	Topology *events.Topology `ignored:"true"`
}

// leaseKey is the lease of the admission leader in events.BucketLeases.
const leaseKey = "admission"

type service struct {
	cfg    Config
	log    *slog.Logger
	pub    *events.Publisher
	tracer trace.Tracer

	mu    sync.Mutex
	state *queue.State
	wake  chan struct{}
}

// Run folds the log and, while leader, admits queries until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.MaxRunning < 0 {
		return fmt.Errorf("admission: MaxRunning must be >= 0, got %d", cfg.MaxRunning)
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	conn, log, err := svc.Start(ctx, svc.Options{Name: "admission", NatsURL: cfg.NatsURL, Server: cfg.Server, Logger: cfg.Logger, Topology: cfg.Topology})
	if err != nil {
		return err
	}
	defer conn.Close()
	tracer := otel.Tracer("sluice/admission")
	s := &service{cfg: cfg, log: log, tracer: tracer, state: queue.New(), wake: make(chan struct{}, 1),
		pub: events.NewPublisher(conn.JS, "sluice/admission", tracer)}
	f, err := follow.Start(ctx, conn.JS, events.StreamQueries, []string{
		events.SubjectSubmitted, events.SubjectCancelRequested, events.SubjectAdmitted,
		events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected,
	}, s.apply)
	if err != nil {
		return err
	}
	defer f.Stop()
	select {
	case <-f.CaughtUp():
	case <-ctx.Done():
		return nil
	}
	kv, err := conn.JS.KeyValue(ctx, events.BucketLeases)
	if err != nil {
		return err
	}
	log.Info("admission ready", "maxRunning", cfg.MaxRunning, "identity", cfg.Identity)
	_ = lease.Campaign(ctx, kv, leaseKey, cfg.Identity, cfg.LeaseRenew, s.lead)
	return nil
}

func (s *service) apply(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	s.mu.Lock()
	err = s.state.Apply(msg.Subject(), md.Sequence.Stream, msg.Headers(), msg.Data())
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("skipping malformed event", "subject", msg.Subject(), "seq", md.Sequence.Stream, "err", err)
	}
	s.poke()
}

func (s *service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// lead decides while this replica holds the lease.
func (s *service) lead(ctx context.Context, term lease.Term) {
	s.log.Info("admission leader", "revision", term.Revision)
	tick := time.NewTicker(time.Second) // reconciliation only; decisions are event-driven
	defer tick.Stop()
	for {
		if err := s.decide(ctx, term); err != nil && ctx.Err() == nil {
			s.log.Warn("admission decision failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			s.log.Info("admission leadership ended", "cause", context.Cause(ctx))
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// decide ends canceled queued queries and admits from the head of the queue while the
// fleet-wide limit allows.
func (s *service) decide(ctx context.Context, term lease.Term) error {
	s.mu.Lock()
	canceled := s.state.Canceled()
	cancelFence := s.state.LastAdmittedSeq
	s.mu.Unlock()
	for _, e := range canceled {
		code := protocol.UserCanceled
		if e.CancelReason == "abandoned" {
			code = protocol.AbandonedQuery
		}
		qe := protocol.NewError(code, "Query was canceled while queued")
		ctx := events.ExtractTrace(ctx, e.Trace)
		if _, err := s.pub.Publish(ctx, events.SubjectCanceled, events.MsgIDTerminal(e.Spec.ID), e.Spec.ID, events.TypeQueryCanceled,
			events.QueryEnded{QueryID: e.Spec.ID, EndedAt: time.Now().UTC(), By: "admission",
				Error: &events.QueryErrorInfo{Message: qe.Message, ErrorCode: qe.ErrorCode, ErrorName: qe.ErrorName, ErrorType: qe.ErrorType}},
			// Fenced like an admission: if another leader admitted anything since our
			// view, this cancel is refused and decided again after the fold catches up.
			jetstream.WithExpectLastSequenceForSubject(cancelFence, events.SubjectAdmitted)); err != nil {
			if isWrongLastSequence(err) {
				return s.waitForFold(ctx, cancelFence)
			}
			return err
		}
		s.mu.Lock()
		s.state.MarkEnded(e.Spec.ID)
		s.mu.Unlock()
	}
	for ctx.Err() == nil {
		s.mu.Lock()
		if s.state.Running() >= s.cfg.MaxRunning {
			s.mu.Unlock()
			return nil
		}
		e, ok := s.state.Head()
		fence := s.state.LastAdmittedSeq
		s.mu.Unlock()
		if !ok {
			return nil
		}
		pctx, span := events.StartProcessSpan(ctx, s.tracer, e.Trace, events.SubjectSubmitted, "admission", 0)
		ack, err := s.pub.Publish(pctx, events.SubjectAdmitted, events.MsgIDAdmitted(e.Spec.ID), e.Spec.ID, events.TypeQueryAdmitted,
			events.QueryAdmitted{Query: e.Spec, Group: "global", LeaseRevision: term.Revision, AdmittedAt: time.Now().UTC()},
			jetstream.WithExpectLastSequencePerSubject(fence))
		span.End()
		if err != nil {
			if isWrongLastSequence(err) {
				// Another decision landed first (a second leader, or our own duplicate):
				// wait for the fold to catch up before deciding again.
				return s.waitForFold(ctx, fence)
			}
			return err
		}
		s.mu.Lock()
		if ack.Duplicate {
			// Already admitted earlier (a crash between publish and fold); the log has it.
			s.state.MarkAdmitted(e.Spec.ID, 0)
		} else {
			s.state.MarkAdmitted(e.Spec.ID, ack.Sequence)
		}
		s.mu.Unlock()
	}
	return nil
}

// waitForFold waits until the fold has moved past fence (bounded).
func (s *service) waitForFold(ctx context.Context, fence uint64) error {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		moved := s.state.LastAdmittedSeq > fence
		s.mu.Unlock()
		if moved {
			return nil
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
	return errors.New("admission: fold did not catch up with the admitted subject")
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164)
}
