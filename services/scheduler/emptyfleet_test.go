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
// done at once, as an executor-proxy reports it (each fragment of a batch on its own
// goroutine, outcomes through an events.OutcomeReporter, the batch acknowledged once
// every outcome is stored), and a root also ends its query. It beats like an executor-proxy
// (heartbeats expire).
type emptyFleet struct {
	tb       testing.TB
	ctx      context.Context
	pub      *events.Publisher
	outcomes *events.OutcomeReporter
	cluster  string
	slots    int
	cons     jetstream.Consumer
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
	pub := events.NewPublisher(conn.JS, "test-executor", noop.NewTracerProvider().Tracer("test"))
	return &emptyFleet{tb: tb, ctx: ctx, pub: pub, outcomes: events.NewOutcomeReporter(pub), cluster: cluster, slots: slots, cons: cons}
}

// start pulls fragments until the returned context is stopped.
func (e *emptyFleet) start() jetstream.ConsumeContext {
	cc, err := e.cons.Consume(func(msg jetstream.Msg) {
		go e.runBatch(msg, time.Now())
	}, jetstream.PullMaxMessages(e.slots))
	if err != nil {
		e.tb.Fatal(err)
	}
	return cc
}

// runN runs batches of fragments, one after the other, until at least n fragments ran.
func (e *emptyFleet) runN(n int) {
	for n > 0 {
		msgs, err := e.cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			e.tb.Fatal(err)
		}
		for msg := range msgs.Messages() {
			n -= e.runBatch(msg, time.Now())
		}
		if msgs.Error() != nil {
			e.tb.Fatal(msgs.Error())
		}
	}
}

// runBatch runs a batch's fragments, each on its own goroutine, and acknowledges the
// batch once every outcome is stored. It returns the number of fragments.
func (e *emptyFleet) runBatch(msg jetstream.Msg, received time.Time) int {
	var b events.FragmentBatch
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeFragmentBatch, &b); err != nil {
		e.tb.Error(err)
		return 0
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, f := range b.Fragments {
		wg.Go(func() {
			if !e.run(f, received) {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	if !failed.Load() {
		_ = msg.Ack()
	}
	return len(b.Fragments)
}

// run reports one fragment done (a root: its query finished); false if that failed.
func (e *emptyFleet) run(f events.Fragment, received time.Time) bool {
	if e.onFragment != nil {
		e.onFragment(f, received)
	}
	var err error
	if f.Root {
		// As the executor-proxy does: the root's outcome goes alongside its query's end.
		go func() {
			_ = e.outcomes.Done(e.ctx, events.FragmentDone{FragmentRun: events.FragmentRun{QueryID: f.Query.ID, FragmentID: f.FragmentID, Cluster: e.cluster,
				Attempt: f.Attempt, Dispatch: f.Dispatch}, Output: events.FragmentOutput{Fragment: f.FragmentID}, StartedAt: received, EndedAt: time.Now()})
		}()
		_, err = e.pub.Publish(e.ctx, events.SubjectFinished, events.MsgIDTerminal(f.Query.ID), f.Query.ID, events.TypeQueryFinished,
			events.QueryEnded{QueryID: f.Query.ID, Cluster: e.cluster, EndedAt: time.Now().UTC()})
	} else {
		err = e.outcomes.Done(e.ctx, events.FragmentDone{FragmentRun: events.FragmentRun{QueryID: f.Query.ID, FragmentID: f.FragmentID, Cluster: e.cluster,
			Attempt: f.Attempt, Dispatch: f.Dispatch}, Output: events.FragmentOutput{Fragment: f.FragmentID, Path: "/dev/null"}, StartedAt: received, EndedAt: time.Now()})
	}
	if err != nil {
		if e.ctx.Err() == nil {
			e.tb.Error(err)
		}
		return false
	}
	e.fragments.Add(1)
	if f.Root {
		e.ended.Add(1)
	}
	return true
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
