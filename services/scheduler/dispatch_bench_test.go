package scheduler

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// BenchmarkDispatch measures the scheduler's dispatch path with empty fragments: plan
// queries (TPC-H Q1 with LINEITEM in 8 partitions: 10 fragments each) are placed on one
// cluster of 64 slots, the real scheduler releases their fragments through JetStream, and
// executors that do no work report each fragment done at once (the root ends its query).
//
// Two figures, each from its own phase:
//   - idle latency: queries placed one after the other on an idle cluster; from a
//     fragment's release (it is ready and the window has room) to an executor receiving it.
//     This is the pull loop's latency (Ballista's idle loop waits 50 ms).
//   - throughput: 400 queries placed and cut while the executors are stopped, then the
//     executors start; fragments per second until every query ended. Cutting a plan is
//     intake work and is measured on its own (cut-plans/s, all cores).
func BenchmarkDispatch(b *testing.B) {
	ns, conn := natstest.RunSluice(b)
	ctx := b.Context()
	const sequential, queries = 30, 400
	fleet := newEmptyFleet(b, conn, "bench", 64)
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
	fleet.onFragment = func(f events.Fragment, received time.Time) {
		if f.ReleasedAt.UnixNano() >= measureFrom.Load() {
			mu.Lock()
			latencies = append(latencies, received.Sub(f.ReleasedAt))
			mu.Unlock()
		}
	}
	id := func(i int) string { return fmt.Sprintf("20261121_000000_%05d_bench", i) }
	b.ResetTimer()

	// Idle latency: one query at a time.
	cc := fleet.start()
	for i := range sequential {
		fleet.place(id(i), plan)
		natstest.Eventually(b, time.Minute, "the query ended", func() bool { return fleet.ended.Load() == int64(i+1) })
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
		fleet.place(id(sequential+i), plan)
	}
	natstest.Eventually(b, 2*time.Minute, "every plan cut and queued", func() bool { return queuedQueries() == queries })
	cutElapsed := time.Since(cutStart)
	before := fleet.fragments.Load()
	start := time.Now()
	measureFrom.Store(start.UnixNano())
	cc = fleet.start()
	defer cc.Stop()
	natstest.Eventually(b, 2*time.Minute, "every query ended", func() bool { return fleet.ended.Load() == sequential+queries })
	elapsed := time.Since(start)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	loaded := slices.Sorted(slices.Values(latencies))
	n := fleet.fragments.Load() - before
	q := func(s []time.Duration, p float64) time.Duration { return s[int(float64(len(s)-1)*p)] }
	b.ReportMetric(float64(n)/elapsed.Seconds(), "fragments/s")
	b.ReportMetric(float64(q(idle, 0.5).Microseconds()), "idle-ready-to-start-p50-µs")
	b.ReportMetric(float64(q(idle, 0.99).Microseconds()), "idle-ready-to-start-p99-µs")
	b.ReportMetric(float64(queries)/cutElapsed.Seconds(), "cut-plans/s")
	b.Logf("idle: %d fragments, release → executor p50 %s, p99 %s", len(idle), q(idle, 0.5), q(idle, 0.99))
	b.Logf("throughput: %d fragments of %d queries in %s: %.0f fragments/s (release → executor under load p50 %s, p99 %s)",
		n, queries, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), q(loaded, 0.5), q(loaded, 0.99))
	b.Logf("cutting: %d plans cut and queued in %s (%.0f plans/s)", queries, cutElapsed.Round(time.Millisecond), float64(queries)/cutElapsed.Seconds())
}
