package statusview

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
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
	shards []chan jetstream.Msg
	wg     sync.WaitGroup
	done   chan struct{}
}

// projectorShards is the number of workers; events of one query always go to the same
// worker, so each query's events are applied in log order while different queries' KV
// writes are pipelined.
const projectorShards = 16

// StartProjector starts consuming. Stop it with Stop.
func StartProjector(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, tracer trace.Tracer, log *slog.Logger) (*Projector, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamQueries, events.StatusViewConsumer())
	if err != nil {
		return nil, fmt.Errorf("statusview: consumer: %w", err)
	}
	p := &Projector{kv: kv, tracer: tracer, log: log, done: make(chan struct{})}
	for i := 0; i < projectorShards; i++ {
		ch := make(chan jetstream.Msg, 64)
		p.shards = append(p.shards, ch)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case msg := <-ch:
					p.handle(msg)
				case <-p.done:
					return
				}
			}
		}()
	}
	cc, err := cons.Consume(p.dispatch, jetstream.PullMaxMessages(512))
	if err != nil {
		return nil, fmt.Errorf("statusview: consume: %w", err)
	}
	p.cc = cc
	return p, nil
}

// Stop stops consuming and waits for the workers.
func (p *Projector) Stop() {
	p.cc.Stop()
	close(p.done)
	p.wg.Wait()
}

// dispatch routes a message to the worker of its query (the CloudEvent subject).
func (p *Projector) dispatch(msg jetstream.Msg) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(msg.Headers().Get("ce-subject")))
	select {
	case p.shards[h.Sum32()%projectorShards] <- msg:
	case <-p.done:
		// Not acknowledged: redelivered to the next projector.
	}
}

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
