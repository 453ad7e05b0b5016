package executorproxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestBatchSettlesByItsFragments: a PLAN_FRAGMENTS message carrying several fragments is
// acknowledged only once every fragment is settled; it is redelivered, after the longest
// delay asked, when any fragment asked for redelivery; and it is left alone (to its other
// delivery or AckWait) when a fragment settled nothing.
func TestBatchSettlesByItsFragments(t *testing.T) {
	_, conn := natstest.RunSluice(t)
	ctx := t.Context()
	const cluster = "batch"
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamPlanFragments, events.PlanExecutorConsumerConfig(cluster, 8, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(conn.JS, "test", noop.NewTracerProvider().Tracer("test"))
	nonce, n := events.NewNonce(), uint64(0)
	// next publishes a batch of three fragments and receives it.
	next := func(want uint64) *batchMsg {
		t.Helper()
		n++
		b := events.FragmentBatch{}
		for i := range 3 {
			b.Fragments = append(b.Fragments, events.Fragment{Query: events.QuerySpec{ID: fmt.Sprintf("q%d", n)}, FragmentID: fmt.Sprintf("f%d", i)})
		}
		if _, err := pub.Publish(ctx, events.PlanFragmentSubject(cluster), events.MsgIDFragmentBatch(nonce, n), "q", events.TypeFragmentBatch, b); err != nil {
			t.Fatal(err)
		}
		return receive(t, cons, want)
	}
	items := func(b *batchMsg) []*batchItem {
		return []*batchItem{{batch: b}, {batch: b}, {batch: b}}
	}
	unacked := func() int {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.NumAckPending + int(info.NumPending)
	}

	// Every fragment acked (one terminated, one acked twice): the batch is acked.
	b := next(1)
	it := items(b)
	_ = it[0].Ack()
	_ = it[1].Term()
	_ = it[2].Ack()
	_ = it[2].NakWithDelay(time.Hour) // settled already: ignored
	b.settle()
	natstest.Eventually(t, 5*time.Second, "the batch acknowledged", func() bool { return unacked() == 0 })

	// One fragment asks for redelivery: the whole batch comes back, after the longest
	// delay asked, and no sooner.
	b = next(1)
	it = items(b)
	_ = it[0].NakWithDelay(100 * time.Millisecond)
	_ = it[1].Ack()
	_ = it[2].NakWithDelay(700 * time.Millisecond)
	naked := time.Now()
	b.settle()
	again := receive(t, cons, 2)
	if waited := time.Since(naked); waited < 600*time.Millisecond {
		t.Errorf("redelivered after %s, want the longest delay asked (700ms)", waited)
	}
	it = items(again)
	for _, i := range it {
		_ = i.Ack()
	}
	again.settle()
	natstest.Eventually(t, 5*time.Second, "the redelivered batch acknowledged", func() bool { return unacked() == 0 })

	// A fragment that settled nothing leaves the message pending (not acked, not naked).
	b = next(1)
	it = items(b)
	_ = it[0].Ack()
	_ = it[1].Ack()
	b.settle()
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 {
		t.Errorf("%d messages pending ack, want the batch whose fragment settled nothing", info.NumAckPending)
	}
}

// receive fetches the next message of cons as a batchMsg of 3 fragments and checks that it
// is its want-th delivery.
func receive(t *testing.T, cons jetstream.Consumer, want uint64) *batchMsg {
	t.Helper()
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg, ok := <-msgs.Messages()
	if !ok {
		t.Fatalf("no batch delivered: %v", msgs.Error())
	}
	md, err := msg.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if md.NumDelivered != want {
		t.Errorf("delivery %d, want %d", md.NumDelivered, want)
	}
	return &batchMsg{msg: msg, unsettled: 3}
}
