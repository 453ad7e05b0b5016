package executorproxy

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
)

// handleBatch runs the plan fragments of one PLAN_FRAGMENTS message, each on its own
// goroutine (they wait for slots like every fragment), and settles the message once each
// fragment is settled (see batchMsg).
func (p *planExecutor) handleBatch(ctx context.Context, msg jetstream.Msg) {
	x := p.x
	stop := make(chan struct{})
	defer close(stop)
	go x.keepAlive(msg, stop)

	var b events.FragmentBatch
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeFragmentBatch, &b); err != nil || len(b.Fragments) == 0 {
		x.log.Warn("dropping a malformed batch of plan fragments", "err", err, "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	batch := &batchMsg{msg: msg, unsettled: len(b.Fragments)}
	var wg sync.WaitGroup
	for _, frag := range b.Fragments {
		item := &batchItem{batch: batch}
		wg.Go(func() {
			fctx, span := events.StartItemSpan(context.WithoutCancel(ctx), x.tracer, frag.Trace, msg.Subject(), events.PlanExecutorConsumer(x.cfg.Cluster),
				events.MsgIDPlanFragment(frag.Query.ID, frag.FragmentID, frag.Attempt, frag.Dispatch))
			span.SetAttributes(events.AttrQueryID.String(frag.Query.ID))
			defer span.End()
			p.handle(fctx, item, frag)
		})
	}
	wg.Wait()
	batch.settle()
}

// batchMsg settles a message that carries several fragments by what each fragment asked
// for: redelivery (after the longest delay asked) when any fragment asked for it; else an
// ack when every fragment was settled. A fragment that settled nothing (a duplicate of a
// root still running here: its first delivery settles the message) leaves the message to
// the other delivery or to AckWait.
type batchMsg struct {
	msg jetstream.Msg

	mu        sync.Mutex
	nak       bool
	delay     time.Duration
	unsettled int
}

// settle carries out the decision once every fragment's handler returned.
func (b *batchMsg) settle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.nak:
		_ = b.msg.NakWithDelay(b.delay)
	case b.unsettled == 0:
		_ = b.msg.Ack()
	}
}

// batchItem is one fragment's place in a batchMsg: its settler.
type batchItem struct {
	batch   *batchMsg
	settled bool
}

func (i *batchItem) decide(nak bool, delay time.Duration) {
	b := i.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	if i.settled {
		return
	}
	i.settled = true
	b.unsettled--
	if nak {
		b.nak, b.delay = true, max(b.delay, delay)
	}
}

// Ack settles the fragment as done.
func (i *batchItem) Ack() error { i.decide(false, 0); return nil }

// Term settles the fragment as never to be delivered again.
func (i *batchItem) Term() error { i.decide(false, 0); return nil }

// NakWithDelay asks for the fragment's redelivery (the whole message's).
func (i *batchItem) NakWithDelay(delay time.Duration) error { i.decide(true, delay); return nil }

// InProgress is a no-op: handleBatch keeps the whole message alive.
func (i *batchItem) InProgress() error { return nil }
