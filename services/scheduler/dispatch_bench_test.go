package scheduler

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/sluicehq/sluice/services/scheduler/internal/plans"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkDispatch measures the scheduler's dispatch path with empty fragments: plan
// queries (TPC-H Q1 with LINEITEM in 8 partitions: 10 fragments each) are placed on a
// fleet of 4 clusters of 64 slots each (prefetch 1: 256 fragments in flight at most), the
// real scheduler releases their fragments through JetStream, and executors that do no
// work report each fragment done at once (the root ends its query).
//
// Two figures, each from its own phase:
//   - idle latency: queries placed one after the other on an idle cluster; from a
//     fragment's release (it is ready and the window has room) to an executor receiving it.
//     This is the pull loop's latency (Ballista's idle loop waits 50 ms).
//   - throughput: 4,000 queries placed and cut while the executors are stopped, then the
//     executors start; fragments per second until every query ended. Cutting a plan is
//     intake work and is measured on its own (cut-plans/s, all cores).
func BenchmarkDispatch(b *testing.B) {
	ns, conn := natstest.RunSluice(b)
	ctx := b.Context()
	const sequential, queries, clusters, slots = 30, 4000, 4, 64
	var fleet []*emptyFleet
	for c := range clusters {
		fleet = append(fleet, newEmptyFleet(b, conn, fmt.Sprintf("bench-%d", c), slots))
	}
	plan := q01Plan(b)
	startScheduler(b, ns)
	load, _ := conn.JS.KeyValue(ctx, events.BucketScheduler)
	queuedQueries := func() int {
		e, err := load.Get(ctx, events.SchedulerLoadKey)
		if err != nil {
			return -1
		}
		var l events.SchedulerLoad
		if json.Unmarshal(e.Value(), &l) != nil {
			return -1
		}
		return l.Queries
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		// measureFrom: fragments released before it (the first window of the throughput
		// phase, released while the executors were stopped) have no latency to measure.
		measureFrom atomic.Int64
	)
	for _, f := range fleet {
		f.onFragment = func(f events.Fragment, received time.Time) {
			if f.ReleasedAt.UnixNano() >= measureFrom.Load() {
				mu.Lock()
				latencies = append(latencies, received.Sub(f.ReleasedAt))
				mu.Unlock()
			}
		}
	}
	total := func(count func(*emptyFleet) int64) (n int64) {
		for _, f := range fleet {
			n += count(f)
		}
		return n
	}
	ended := func() int64 { return total(func(f *emptyFleet) int64 { return f.ended.Load() }) }
	fragments := func() int64 { return total(func(f *emptyFleet) int64 { return f.fragments.Load() }) }
	id := func(i int) string { return fmt.Sprintf("20261121_000000_%05d_bench", i) }
	b.ResetTimer()

	// Idle latency: one query at a time, on one cluster.
	cc := fleet[0].start()
	for i := range sequential {
		fleet[0].place(id(i), plan)
		natstest.Eventually(b, time.Minute, "the query ended", func() bool { return ended() == int64(i+1) })
	}
	cc.Stop()
	mu.Lock()
	idle := slices.Sorted(slices.Values(latencies))
	latencies = nil
	mu.Unlock()
	natstest.Eventually(b, time.Minute, "the scheduler forgot the sequential queries", func() bool { return queuedQueries() == 0 })

	// Throughput: every plan cut and queued first, then the executors start.
	cutStart := time.Now()
	for i := range queries {
		fleet[i%clusters].place(id(sequential+i), plan)
	}
	natstest.Eventually(b, 2*time.Minute, "every plan cut and queued", func() bool { return queuedQueries() == queries })
	cutElapsed := time.Since(cutStart)
	before := fragments()
	batchesBefore, reportsBefore, logBefore := lastSeqOf(b, conn, events.StreamPlanFragments), lastSeq(b, conn), lastSeqOf(b, conn, events.StreamQueries)
	start := time.Now()
	measureFrom.Store(start.UnixNano())
	stopProfile := profileCPU(b, os.Getenv("SLUICE_BENCH_CPUPROFILE"))
	for _, f := range fleet {
		cc := f.start()
		defer cc.Stop()
	}
	natstest.Eventually(b, 2*time.Minute, "every query ended", func() bool { return ended() == sequential+queries })
	elapsed := time.Since(start)
	stopProfile()
	batches, reports, logged := lastSeqOf(b, conn, events.StreamPlanFragments)-batchesBefore, lastSeq(b, conn)-reportsBefore, lastSeqOf(b, conn, events.StreamQueries)-logBefore
	n := fragments() - before
	baseline := relayBaseline(b, conn, plan, clusters, slots, int(n))
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	loaded := slices.Sorted(slices.Values(latencies))
	q := func(s []time.Duration, p float64) time.Duration { return s[int(float64(len(s)-1)*p)] }
	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "fragments/s")
	b.ReportMetric(baseline, "relay-baseline-fragments/s")
	b.ReportMetric(rate/baseline, "ratio-to-relay")
	b.ReportMetric(float64(q(idle, 0.5).Microseconds()), "idle-ready-to-start-p50-µs")
	b.ReportMetric(float64(q(idle, 0.99).Microseconds()), "idle-ready-to-start-p99-µs")
	b.ReportMetric(float64(queries)/cutElapsed.Seconds(), "cut-plans/s")
	b.Logf("idle: %d fragments, release → executor p50 %s, p99 %s", len(idle), q(idle, 0.5), q(idle, 0.99))
	b.Logf("throughput: %d fragments of %d queries on %d clusters × %d slots in %s: %.0f fragments/s (release → executor under load p50 %s, p99 %s)",
		n, queries, clusters, slots, elapsed.Round(time.Millisecond), rate, q(loaded, 0.5), q(loaded, 0.99))
	b.Logf("messages: %d batches of fragments (%.1f fragments each), %d reports of outcomes (%.1f each), %d QUERIES events (a query's end): %.3f messages per fragment",
		batches, float64(n)/float64(batches), reports, float64(n)/float64(reports), logged, float64(batches+reports+logged)/float64(n))
	b.Logf("baseline: a relay that publishes the next fragments on each report of outcomes, the same windows and executors, no scheduling: %.0f fragments/s (Sluice %.2fx of it)", baseline, rate/baseline)
	b.Logf("cutting: %d plans cut and queued in %s (%.0f plans/s)", queries, cutElapsed.Round(time.Millisecond), float64(queries)/cutElapsed.Seconds())
}

// profileCPU writes a CPU profile to path until the returned stop is called (path "":
// none). BenchmarkDispatch profiles its throughput phase only (SLUICE_BENCH_CPUPROFILE):
// go test's -cpuprofile would mostly show the cutting before it.
func profileCPU(b *testing.B, path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Clean(path))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

// relayBaseline is the message path without scheduling, measured in the same run: a relay
// keeps slots fragments in flight to each of clusters clusters of executors that do no
// work (as BenchmarkDispatch's), and for each report of k outcomes it reads from a
// cluster publishes the next k pre-built fragments to it in one batch, through the same
// streams, events and connections. It returns fragments per second for n fragments.
func relayBaseline(b *testing.B, conn *natsutil.Conn, plan []byte, clusters, slots, n int) float64 {
	ctx := b.Context()
	var fleet []*emptyFleet
	for c := range clusters {
		fleet = append(fleet, newEmptyFleet(b, conn, fmt.Sprintf("relay-%d", c), slots))
	}
	pub := events.NewPublisher(conn.JS, "relay", noop.NewTracerProvider().Tracer("relay"))
	// Every relayed fragment carries the plan of Q1's first LINEITEM partition, as the
	// scheduler's do.
	p, err := fragment.Parse(plan, "application/x-protobuf")
	if err != nil {
		b.Fatal(err)
	}
	dag, err := fragment.Cut(p, fragment.Options{QueryID: "relay", Partitions: map[string]int{"lineitem": 8}})
	if err != nil {
		b.Fatal(err)
	}
	leaf := dag.Fragments[0].ID
	for _, fr := range dag.Fragments {
		if len(fr.Deps) == 0 {
			leaf = fr.ID
			break
		}
	}
	leafPlan, err := plans.EncodePlan(dag, leaf)
	if err != nil {
		b.Fatal(err)
	}
	var sent, batches atomic.Int64
	nonce := events.NewNonce()
	// send publishes the next k fragments to cluster in one batch, as the scheduler
	// batches the fragments it releases at once.
	send := func(cluster string, k int) {
		var batch events.FragmentBatch
		for range k {
			i := sent.Add(1)
			if i > int64(n) {
				break
			}
			id := fmt.Sprintf("20261121_000000_%05d_relay", i)
			batch.Fragments = append(batch.Fragments, events.Fragment{Query: events.QuerySpec{ID: id, Kind: events.KindPlan}, FragmentID: leaf,
				Cluster: cluster, Plan: leafPlan, Dispatch: 1, ReleasedAt: time.Now()})
		}
		if len(batch.Fragments) == 0 {
			return
		}
		if _, err := pub.PublishAsync(ctx, events.PlanFragmentSubject(cluster), events.MsgIDFragmentBatch(nonce, uint64(batches.Add(1))), batch.Fragments[0].Query.ID, events.TypeFragmentBatch, batch); err != nil {
			b.Error(err)
		}
	}
	var outcomes atomic.Int64
	start := time.Now()
	f, err := follow.StartAt(ctx, conn.JS, events.StreamFragmentStatus, []string{events.SubjectFragmentOutcomes}, lastSeq(b, conn)+1, func(m jetstream.Msg) {
		var o events.FragmentOutcomes
		if _, err := events.Decode(m.Headers(), m.Data(), events.TypeFragmentOutcomes, &o); err != nil || len(o.Done) == 0 {
			b.Error("undecodable outcomes", err)
			return
		}
		outcomes.Add(int64(o.Len()))
		send(o.Done[0].Cluster, o.Len())
	})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Stop()
	for _, e := range fleet {
		for range slots {
			send(e.cluster, 1)
		}
		cc := e.start()
		defer cc.Stop()
	}
	natstest.Eventually(b, 2*time.Minute, "the relay's fragments done", func() bool { return outcomes.Load() >= int64(n) })
	return float64(n) / time.Since(start).Seconds()
}

// lastSeq is FRAGMENT_STATUS's last sequence, so that the relay reads only its outcomes.
func lastSeq(b *testing.B, conn *natsutil.Conn) uint64 {
	return lastSeqOf(b, conn, events.StreamFragmentStatus)
}

// lastSeqOf is a stream's last sequence.
func lastSeqOf(b *testing.B, conn *natsutil.Conn, stream string) uint64 {
	s, err := conn.JS.Stream(b.Context(), stream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.LastSeq
}
