package statusview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"go.opentelemetry.io/otel/trace"
)

// Projector folds the lifecycle log into the status bucket through a durable consumer. Any
// number of ingest replicas may run it: they share the consumer, and every write is a
// compare-and-swap of an idempotent fold.
type Projector struct {
	kv     jetstream.KeyValue
	cc     jetstream.ConsumeContext
	tracer trace.Tracer
	log    *slog.Logger
}

// StartProjector starts consuming. Stop it with Stop.
func StartProjector(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, tracer trace.Tracer, log *slog.Logger) (*Projector, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamQueries, events.StatusViewConsumer())
	if err != nil {
		return nil, fmt.Errorf("statusview: consumer: %w", err)
	}
	p := &Projector{kv: kv, tracer: tracer, log: log}
	cc, err := cons.Consume(p.handle, jetstream.PullMaxMessages(256))
	if err != nil {
		return nil, fmt.Errorf("statusview: consume: %w", err)
	}
	p.cc = cc
	return p, nil
}

// Stop stops consuming.
func (p *Projector) Stop() { p.cc.Stop() }

func (p *Projector) handle(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, span := events.StartProcessSpan(ctx, p.tracer, msg.Headers(), msg.Subject(), events.ConsumerStatusView, len(msg.Data()))
	defer span.End()
	if err := p.apply(ctx, msg, md.Sequence.Stream); err != nil {
		if errors.Is(err, events.ErrNotCloudEvent) || errors.Is(err, events.ErrUnknownType) {
			p.log.Warn("status view: dropping malformed event", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			return
		}
		p.log.Warn("status view: retrying event", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(200 * time.Millisecond)
		return
	}
	_ = msg.Ack()
}

func (p *Projector) apply(ctx context.Context, msg jetstream.Msg, seq uint64) error {
	subject := msg.Subject()
	for attempt := 0; attempt < 20; attempt++ {
		var cur *events.QueryStatus
		var rev uint64
		probe, err := Apply(nil, subject, seq, msg.Headers(), msg.Data())
		if err != nil {
			return err
		}
		key := probe.Query.ID
		if key == "" {
			return fmt.Errorf("%w: event without query id", events.ErrNotCloudEvent)
		}
		entry, err := p.kv.Get(ctx, key)
		switch {
		case err == nil:
			rev = entry.Revision()
			if cur, err = decode(entry.Value()); err != nil {
				cur = nil
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return err
		}
		next, err := Apply(cur, subject, seq, msg.Headers(), msg.Data())
		if err != nil {
			return err
		}
		if cur != nil && next.Seq == cur.Seq {
			return nil // already applied
		}
		b, err := encode(next)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = p.kv.Create(ctx, key, b)
		} else {
			_, err = p.kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSeq(err) {
			return err
		}
	}
	return fmt.Errorf("statusview: too many conflicts")
}

func isWrongSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164)
}
