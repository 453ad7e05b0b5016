package scheduler

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"
)

// emptyFleet is one cluster whose executors do no work: each plan fragment is reported
// done at once, as an executor-proxy reports it, and a root ends its query. It beats like
// an executor-proxy (heartbeats expire).
type emptyFleet struct {
	tb      testing.TB
	ctx     context.Context
	pub     *events.Publisher
	cluster string
	slots   int
	cons    jetstream.Consumer
	// onFragment, when set, sees every fragment received (before it is reported).
	onFragment func(f events.Fragment, received time.Time)

	fragments atomic.Int64 // fragments run
	ended     atomic.Int64 // queries finished
}

func newEmptyFleet(tb testing.TB, conn *natsutil.Conn, cluster string, slots int) *emptyFleet {
	ctx := tb.Context()
	hb, _ := json.Marshal(events.ClusterHeartbeat{Name: cluster, Engine: "duckdb", State: events.ClusterReady, Slots: slots, At: time.Now().UTC()})
	kv, err := conn.JS.KeyValue(ctx, events.BucketClusters)
	if err == nil {
		_, err = kv.Put(ctx, cluster, hb)
	}
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = kv.Put(ctx, cluster, hb)
			}
		}
	}()
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamPlanFragments, events.PlanExecutorConsumerConfig(cluster, slots, 30*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	return &emptyFleet{tb: tb, ctx: ctx, pub: events.NewPublisher(conn.JS, "test-executor", noop.NewTracerProvider().Tracer("test")),
		cluster: cluster, slots: slots, cons: cons}
}

// start pulls fragments until the returned context is stopped.
func (e *emptyFleet) start() jetstream.ConsumeContext {
	cc, err := e.cons.Consume(func(msg jetstream.Msg) {
		go e.run(msg, time.Now())
	}, jetstream.PullMaxMessages(e.slots))
	if err != nil {
		e.tb.Fatal(err)
	}
	return cc
}

// runN runs the next n fragments, one after the other.
func (e *emptyFleet) runN(n int) {
	for n > 0 {
		batch, err := e.cons.Fetch(n, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			e.tb.Fatal(err)
		}
		for msg := range batch.Messages() {
			e.run(msg, time.Now())
			n--
		}
		if batch.Error() != nil {
			e.tb.Fatal(batch.Error())
		}
	}
}

func (e *emptyFleet) run(msg jetstream.Msg, received time.Time) {
	var f events.Fragment
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeFragment, &f); err != nil {
		e.tb.Error(err)
		return
	}
	if e.onFragment != nil {
		e.onFragment(f, received)
	}
	var err error
	if f.Root {
		_, err = e.pub.Publish(e.ctx, events.SubjectFinished, events.MsgIDTerminal(f.Query.ID), f.Query.ID, events.TypeQueryFinished,
			events.QueryEnded{QueryID: f.Query.ID, Cluster: e.cluster, EndedAt: time.Now().UTC()})
	} else {
		_, err = e.pub.Publish(e.ctx, events.SubjectFragmentDone, events.MsgIDFragmentStatus(f.Query.ID, f.FragmentID, f.Attempt, f.Dispatch), f.Query.ID,
			events.TypeFragmentDone, events.FragmentDone{FragmentRun: events.FragmentRun{QueryID: f.Query.ID, FragmentID: f.FragmentID, Cluster: e.cluster, Attempt: f.Attempt,
				Dispatch: f.Dispatch}, Output: events.FragmentOutput{Fragment: f.FragmentID, Path: "/dev/null"}, StartedAt: received, EndedAt: time.Now()})
	}
	if err != nil && e.ctx.Err() == nil {
		e.tb.Error(err)
		return
	}
	e.fragments.Add(1)
	if f.Root {
		e.ended.Add(1)
	}
	_ = msg.Ack()
}

// place publishes a placed event of a plan query on the fleet's cluster.
func (e *emptyFleet) place(id string, plan []byte) {
	if _, err := e.pub.Publish(e.ctx, events.SubjectPlaced, events.MsgIDPlaced(id, 0), id, events.TypeQueryPlaced,
		events.QueryPlaced{Query: events.QuerySpec{ID: id, Kind: events.KindPlan, Plan: plan, SubmittedAt: time.Now().UTC()}, Cluster: e.cluster, PlacedAt: time.Now().UTC()}); err != nil {
		e.tb.Fatal(err)
	}
}

// q01Plan is TPC-H Q1's Isthmus plan, binary protobuf (LINEITEM partitioned: 10
// fragments on a cluster of 8 slots or more).
func q01Plan(tb testing.TB) []byte {
	p, err := fragment.Parse(shareddata.IsthmusPlan(tb, "q01"), "application/json")
	if err != nil {
		tb.Fatal(err)
	}
	b, err := proto.Marshal(p.Proto())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// startScheduler runs the scheduler against ns until the returned stop is called (stop
// waits for Run to return).
func startScheduler(tb testing.TB, ns *server.Server) (stop func()) {
	return startSchedulerWith(tb, ns, Config{MaxPartitions: 8})
}

// startSchedulerWith is startScheduler with cfg (its server, logger and ack wait are set
// here).
func startSchedulerWith(tb testing.TB, ns *server.Server, cfg Config) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Server, cfg.AckWait, cfg.Logger = ns, 30*time.Second, slog.New(slog.DiscardHandler)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := Run(ctx, cfg); err != nil {
			tb.Error(err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	tb.Cleanup(stop)
	return stop
}
