// Package follow replays a stream from its first message and keeps following it, so that a
// service can rebuild its state as a fold of the log (DESIGN invariant 4) and know when it
// has caught up with everything written before it started.
package follow

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Handler applies one message to the follower's state. It is called from one goroutine at
// a time, in stream order.
type Handler func(msg jetstream.Msg)

// Follower consumes a stream through an ordered (ephemeral, flow-controlled) consumer.
type Follower struct {
	cc       jetstream.ConsumeContext
	caughtUp chan struct{}
	once     sync.Once
}

// Start replays stream (restricted to subjects) from the first message and then follows
// new messages. CaughtUp is closed once every message that existed at start was handled.
func Start(ctx context.Context, js jetstream.JetStream, stream string, subjects []string, h Handler) (*Follower, error) {
	return StartAt(ctx, js, stream, subjects, 0, h)
}

// StartAt is Start from stream sequence seq (0 or 1: the first message). A service that
// restored its state from a snapshot folded up to sequence n starts at n+1.
func StartAt(ctx context.Context, js jetstream.JetStream, stream string, subjects []string, seq uint64, h Handler) (*Follower, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverAllPolicy}
	if seq > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", stream, err)
	}
	f := &Follower{caughtUp: make(chan struct{})}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", stream, err)
	}
	if info.NumPending == 0 {
		f.markCaughtUp()
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		h(msg)
		if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
			f.markCaughtUp()
		}
	}, jetstream.PullMaxMessages(8192))
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", stream, err)
	}
	f.cc = cc
	return f, nil
}

func (f *Follower) markCaughtUp() { f.once.Do(func() { close(f.caughtUp) }) }

// CaughtUp is closed once the replay reached the end of the log as it was at start.
func (f *Follower) CaughtUp() <-chan struct{} { return f.caughtUp }

// Stop ends following.
func (f *Follower) Stop() {
	if f.cc != nil {
		f.cc.Stop()
	}
}
