package scheduler

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"
)

// BenchmarkDispatch measures the scheduler's dispatch path with empty fragments: 150 plan
// queries (TPC-H Q1 with LINEITEM in 8 partitions: 10 fragments each) are placed on one
// cluster of 64 slots, the real scheduler releases their fragments through JetStream, and
// executors that do no work report each fragment done at once (the root ends its query).
// It reports fragments per second end to end and the latency from a fragment's release
// ("ready", the window has room) to the executor receiving it.
func BenchmarkDispatch(b *testing.B) {
	ns, conn := natstest.RunSluice(b)
	ctx := b.Context()
	const cluster, slots, queries = "bench", 64, 150
	hb, _ := json.Marshal(events.ClusterHeartbeat{Name: cluster, Engine: "duckdb", State: events.ClusterReady, Slots: slots, At: time.Now().UTC()})
	kv, _ := conn.JS.KeyValue(ctx, events.BucketClusters)
	if _, err := kv.Put(ctx, cluster, hb); err != nil {
		b.Fatal(err)
	}
	p, err := fragment.Parse(shareddata.IsthmusPlan(b, "q01"), "application/json")
	if err != nil {
		b.Fatal(err)
	}
	plan, _ := proto.Marshal(p.Proto())
	go func() {
		_ = Run(ctx, Config{Server: ns, AckWait: 30 * time.Second, Logger: slog.New(slog.DiscardHandler), MaxPartitions: 8, Tick: 20 * time.Millisecond})
	}()

	pub := events.NewPublisher(conn.JS, "bench", noop.NewTracerProvider().Tracer("bench"))
	var (
		mu        sync.Mutex
		latencies []time.Duration
		fragments atomic.Int64
		ended     atomic.Int64
	)
	// runEmpty is one executor slot running an empty fragment: it reports it done (the
	// root: its query finished) at once.
	var runEmpty func(msg jetstream.Msg, received time.Time)
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamFragments, events.ExecutorConsumerConfig(cluster, slots, 30*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		go runEmpty(msg, time.Now())
	}, jetstream.PullMaxMessages(slots))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	runEmpty = func(msg jetstream.Msg, received time.Time) {
		var f events.Fragment
		if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeFragment, &f); err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		latencies = append(latencies, received.Sub(f.ReleasedAt))
		mu.Unlock()
		fragments.Add(1)
		if f.Root {
			_, err = pub.Publish(ctx, events.SubjectFinished, events.MsgIDTerminal(f.Query.ID), f.Query.ID, events.TypeQueryFinished,
				events.QueryEnded{QueryID: f.Query.ID, Cluster: cluster, EndedAt: time.Now().UTC()})
			ended.Add(1)
		} else {
			_, err = pub.Publish(ctx, events.SubjectFragmentDone, events.MsgIDFragmentStatus(f.Query.ID, f.FragmentID, f.Attempt, f.Dispatch), f.Query.ID,
				events.TypeFragmentDone, events.FragmentDone{FragmentRun: events.FragmentRun{QueryID: f.Query.ID, FragmentID: f.FragmentID, Cluster: cluster, Attempt: f.Attempt,
					Dispatch: f.Dispatch}, Output: events.FragmentOutput{Fragment: f.FragmentID, Path: "/dev/null"}, StartedAt: received, EndedAt: time.Now()})
		}
		if err != nil {
			b.Error(err)
		}
		_ = msg.Ack()
	}

	b.ResetTimer()
	start := time.Now()
	for i := range queries {
		id := fmt.Sprintf("20261121_000000_%05d_bench", i)
		if _, err := pub.Publish(ctx, events.SubjectPlaced, events.MsgIDPlaced(id, 0), id, events.TypeQueryPlaced,
			events.QueryPlaced{Query: events.QuerySpec{ID: id, Kind: events.KindPlan, Plan: plan}, Cluster: cluster, PlacedAt: time.Now().UTC()}); err != nil {
			b.Fatal(err)
		}
	}
	natstest.Eventually(b, 2*time.Minute, "every query ended", func() bool { return ended.Load() == queries })
	elapsed := time.Since(start)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	n := fragments.Load()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "fragments/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "ready-to-start-p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "ready-to-start-p99-µs")
	b.Logf("%d fragments of %d queries in %s: %.0f fragments/s; release → executor p50 %s, p99 %s",
		n, queries, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), latencies[len(latencies)/2], latencies[len(latencies)*99/100])
}
