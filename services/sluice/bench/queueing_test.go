package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// The workload of BenchmarkGlobalVsPerClusterQueueing.
const (
	queueClusters    = 4                     // local DuckDB clusters
	queueSlots       = 1                     // slots of each cluster; the fleet-wide limit is their sum
	queueQueries     = 200                   // queries in the arrival schedule
	queueLoad        = 0.85                  // arrival rate as a share of the measured fleet capacity
	queueLongShare   = 0.15                  // share of long queries
	queueLongFactor  = 15                    // a long query does this many times a short one's work
	queueShortTarget = 20 * time.Millisecond // run time of a short query alone on an idle fleet
	queueSeed        = 4                     // seed of the arrival schedule (issue 4)
	queueCapacityRun = 60                    // queries of the closed-loop capacity measurement
)

// queueJob is one query of the arrival schedule.
type queueJob struct {
	at       time.Duration // submission time, from the start of the schedule
	long     bool          // long (queueLongFactor times the work) or short
	priority int           // query_priority session property: 1 (low) .. 3 (high)
}

// queueOutcome is one query's timeline in microseconds since the Unix epoch: submit and done
// on the client's clock, start on the engine's (DuckDB's transaction start, after the slot
// wait), both the machine's wall clock.
type queueOutcome struct {
	submit, start, done int64
}

// queueStats summarizes one system's run of the schedule.
type queueStats struct {
	mean, p99  time.Duration
	byPriority map[int]time.Duration // mean queue time per priority
	inversions int
	span       time.Duration // first submission to last completion
	// backlog is the time during which at least one query waited; runningWhileWaiting the
	// mean number of queries running then, and idleWhileWaiting the part of it with none
	// running. A query counts as running from its engine start to its client's last page.
	backlog, idleWhileWaiting time.Duration
	runningWhileWaiting       float64
}

// BenchmarkGlobalVsPerClusterQueueing: 4 DuckDB clusters of 1 slot each and one seeded,
// open-loop schedule of skewed queries (15% do 15 times the work of the others) with three
// priorities, played twice in the same run: through Sluice (one global queue, resource
// group with query_priority scheduling, fleet-wide limit = total slots) and straight to the
// clusters' own endpoints, round-robin, each cluster queueing alone in arrival order. It
// reports mean and p99 queue time (engine start − client submit) and priority inversions.
func BenchmarkGlobalVsPerClusterQueueing(b *testing.B) {
	rg := filepath.Join(b.TempDir(), "resource-groups.json")
	limit := queueClusters * queueSlots
	spec := fmt.Sprintf(`{"rootGroups": [{"name": "fleet", "hardConcurrencyLimit": %d, "maxQueued": 10000,
  "schedulingPolicy": "query_priority"}], "selectors": [{"group": "fleet"}]}`, limit)
	if err := os.WriteFile(rg, []byte(spec), 0o644); err != nil {
		b.Fatal(err)
	}
	sluice, byName := upFleet(b, cli.UpConfig{Clusters: queueClusters, Slots: queueSlots, MaxRunning: limit, ResourceGroups: rg})
	var clusters []string
	for i := 1; i <= queueClusters; i++ {
		u, ok := byName["local-"+strconv.Itoa(i)]
		if !ok {
			b.Fatalf("no URL for local-%d", i)
		}
		clusters = append(clusters, u)
	}
	for i := 0; i < 8; i++ { // warm up connections and DuckDB on every path
		for _, u := range append([]string{sluice}, clusters...) {
			if _, err := statement(u, workSQL(1000), nil); err != nil {
				b.Fatalf("warm-up on %s: %v", u, err)
			}
		}
	}
	shortRows, short, long := calibrateWork(b, clusters[0])
	checkEngineStart(b, clusters[0], shortRows)
	capacity := measureCapacity(b, clusters, shortRows)
	rate := queueLoad * capacity
	jobs := queueSchedule(rand.New(rand.NewPCG(queueSeed, queueSeed)), queueQueries, rate)
	sqlOf := func(j queueJob) string {
		if j.long {
			return workSQL(shortRows * queueLongFactor)
		}
		return workSQL(shortRows)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		local := queueSummary(jobs, playSchedule(b, jobs, sqlOf, func(i int) string { return clusters[i%len(clusters)] }))
		global := queueSummary(jobs, playSchedule(b, jobs, sqlOf, func(int) string { return sluice }))
		report("queueing %d clusters x %d slot, n=%d, short %.1f ms / long %.1f ms alone (%.0f%% long), capacity %.1f queries/s, arrivals %.1f/s (%.0f%%): "+
			"global (sluice) queue mean %.1f ms p99 %.1f ms, inversions %d, span %.1f s | per-cluster round-robin queue mean %.1f ms p99 %.1f ms, inversions %d, span %.1f s | "+
			"per-cluster/global: mean %.2fx p99 %.2fx inversions %s",
			queueClusters, queueSlots, len(jobs), ms(short), ms(long), 100*queueLongShare, capacity, rate, 100*queueLoad,
			ms(global.mean), ms(global.p99), global.inversions, global.span.Seconds(),
			ms(local.mean), ms(local.p99), local.inversions, local.span.Seconds(),
			float64(local.mean)/float64(global.mean), float64(local.p99)/float64(global.p99), ratioText(local.inversions, global.inversions))
		report("queueing mean queue time by priority 3/2/1: global %.1f / %.1f / %.1f ms | per-cluster %.1f / %.1f / %.1f ms; "+
			"while a query waited (global %.1f s, per-cluster %.1f s): mean running %.2f vs %.2f of %d slots, none running %.2f s vs %.2f s",
			ms(global.byPriority[3]), ms(global.byPriority[2]), ms(global.byPriority[1]),
			ms(local.byPriority[3]), ms(local.byPriority[2]), ms(local.byPriority[1]),
			global.backlog.Seconds(), local.backlog.Seconds(), global.runningWhileWaiting, local.runningWhileWaiting, limit,
			global.idleWhileWaiting.Seconds(), local.idleWhileWaiting.Seconds())
		b.ReportMetric(ms(global.mean), "global-mean-ms")
		b.ReportMetric(ms(global.p99), "global-p99-ms")
		b.ReportMetric(float64(global.inversions), "global-inversions")
		b.ReportMetric(ms(local.mean), "percluster-mean-ms")
		b.ReportMetric(ms(local.p99), "percluster-p99-ms")
		b.ReportMetric(float64(local.inversions), "percluster-inversions")
	}
}

// workSQL is a query whose run time is DuckDB work proportional to rows. Its first column
// is the engine's start time: DuckDB's get_current_timestamp() is the start of the
// statement's transaction, which begins only once the query holds a slot.
func workSQL(rows int64) string {
	return fmt.Sprintf("SELECT epoch_us(get_current_timestamp()) AS started, count(*) AS hits FROM range(%d) t(i) WHERE hash(i) %% 7 = 0", rows)
}

// timedQuery runs sql on base with the given query_priority and returns its timeline.
func timedQuery(base, sql string, priority int) (queueOutcome, error) {
	hdr := http.Header{"X-Trino-Session": {"query_priority=" + strconv.Itoa(priority)}}
	submit := time.Now()
	rows, err := statement(base, sql, hdr)
	done := time.Now()
	if err != nil {
		return queueOutcome{}, err
	}
	if len(rows) != 1 || len(rows[0]) != 2 {
		return queueOutcome{}, fmt.Errorf("want one row of two columns, got %v", rows)
	}
	n, ok := rows[0][0].(json.Number)
	if !ok {
		return queueOutcome{}, fmt.Errorf("start time %v (%T) is not a number", rows[0][0], rows[0][0])
	}
	start, err := n.Int64()
	if err != nil {
		return queueOutcome{}, fmt.Errorf("start time %v: %w", n, err)
	}
	o := queueOutcome{submit: submit.UnixMicro(), start: start, done: done.UnixMicro()}
	if o.start < o.submit || o.start > o.done {
		return o, fmt.Errorf("engine start %d outside the client's submit..done %d..%d", o.start, o.submit, o.done)
	}
	return o, nil
}

// elapsed runs sql on base and returns its client-side latency.
func elapsed(b *testing.B, base, sql string) time.Duration {
	b.Helper()
	t0 := time.Now()
	if _, err := statement(base, sql, nil); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
	return time.Since(t0)
}

// medianElapsed runs sql n times on base, one after the other, and returns the median latency.
func medianElapsed(b *testing.B, base, sql string, n int) time.Duration {
	b.Helper()
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = elapsed(b, base, sql)
	}
	slices.Sort(d)
	return d[n/2]
}

// calibrateWork finds the number of rows a short query scans so that it runs about
// queueShortTarget alone on an idle cluster, and measures a short and a long query alone.
func calibrateWork(b *testing.B, cluster string) (rows int64, short, long time.Duration) {
	b.Helper()
	const probe = 4_000_000
	t := medianElapsed(b, cluster, workSQL(probe), 3)
	rows = max(1000, int64(float64(probe)*float64(queueShortTarget)/float64(t)))
	short = medianElapsed(b, cluster, workSQL(rows), 5)
	long = medianElapsed(b, cluster, workSQL(rows*queueLongFactor), 3)
	return rows, short, long
}

// checkEngineStart proves that the reported start is taken after the slot wait: a long and a
// short query sent together to one cluster of one slot run one after the other, so the one
// that starts second must report a start at least (nearly) the first one's run time later.
func checkEngineStart(b *testing.B, cluster string, shortRows int64) {
	b.Helper()
	if queueSlots != 1 {
		return
	}
	var wg sync.WaitGroup
	var outs [2]queueOutcome
	var errs [2]error
	for i, rows := range []int64{shortRows * queueLongFactor, shortRows} {
		wg.Go(func() { outs[i], errs[i] = timedQuery(cluster, workSQL(rows), 1) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	first, second := outs[0], outs[1]
	if second.start < first.start {
		first, second = second, first
	}
	// The first query's engine start to its client's done is its run plus the last page's
	// round trip; the second one cannot start before at least half of that has passed.
	if gap, run := second.start-first.start, (first.done-first.start)/2; gap < run {
		b.Fatalf("engine start times %d and %d are %d µs apart, less than half the first query's run (%d µs): the start is not after the slot wait",
			first.start, second.start, gap, run)
	}
}

// measureCapacity runs queueCapacityRun queries of the workload's mix in a closed loop,
// every slot of every cluster kept busy from one shared list, and returns queries per second.
// The clusters share this machine's cores, so the capacity is what they complete together.
func measureCapacity(b *testing.B, clusters []string, shortRows int64) float64 {
	b.Helper()
	long := int(math.Round(queueCapacityRun * queueLongShare))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	t0 := time.Now()
	for w := 0; w < len(clusters)*queueSlots; w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= queueCapacityRun {
					return
				}
				rows := shortRows
				if i%(queueCapacityRun/long) == 0 && i/(queueCapacityRun/long) < long {
					rows *= queueLongFactor
				}
				if _, err := statement(clusters[w%len(clusters)], workSQL(rows), nil); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatalf("capacity run: %v", err)
	}
	return queueCapacityRun / time.Since(t0).Seconds()
}

// queueSchedule draws n queries arriving as a Poisson process of rate per second; each is
// long with probability queueLongShare and has priority 3, 2 or 1 with probability 0.2, 0.3
// and 0.5, independently of its length.
func queueSchedule(rng *rand.Rand, n int, rate float64) []queueJob {
	jobs := make([]queueJob, n)
	var at float64
	for i := range jobs {
		at += rng.ExpFloat64() / rate
		p := 1
		switch u := rng.Float64(); {
		case u < 0.2:
			p = 3
		case u < 0.5:
			p = 2
		}
		jobs[i] = queueJob{at: time.Duration(at * float64(time.Second)), long: rng.Float64() < queueLongShare, priority: p}
	}
	return jobs
}

// playSchedule submits every job at its arrival time (open loop: an arrival never waits for
// earlier queries) to target(i), each from its own goroutine, and returns their timelines
// once all have finished.
func playSchedule(b *testing.B, jobs []queueJob, sqlOf func(queueJob) string, target func(i int) string) []queueOutcome {
	b.Helper()
	outs := make([]queueOutcome, len(jobs))
	errs := make([]error, len(jobs))
	at := make([]time.Duration, len(jobs))
	for i, j := range jobs {
		at[i] = j.at
	}
	playOpenLoop(at, func(i int) { outs[i], errs[i] = timedQuery(target(i), sqlOf(jobs[i]), jobs[i].priority) })
	for i, err := range errs {
		if err != nil {
			b.Fatalf("query %d on %s: %v", i, target(i), err)
		}
	}
	return outs
}

// queueSummary computes queue times (engine start − client submit) and priority inversions.
// An inversion is a pair (L, H) where H has a higher priority than L, was submitted before
// L started, and started after L started: L took a slot while H waited.
func queueSummary(jobs []queueJob, outs []queueOutcome) queueStats {
	waits := make([]time.Duration, len(outs))
	sum := map[int]time.Duration{}
	count := map[int]int{}
	var total time.Duration
	first, last := outs[0].submit, outs[0].done
	for i, o := range outs {
		w := time.Duration(o.start-o.submit) * time.Microsecond
		waits[i] = w
		total += w
		sum[jobs[i].priority] += w
		count[jobs[i].priority]++
		first, last = min(first, o.submit), max(last, o.done)
	}
	st := queueStats{mean: total / time.Duration(len(outs)), byPriority: map[int]time.Duration{},
		span: time.Duration(last-first) * time.Microsecond}
	for p, s := range sum {
		st.byPriority[p] = s / time.Duration(count[p])
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	st.p99 = percentile(waits, 0.99)
	st.backlog, st.idleWhileWaiting, st.runningWhileWaiting = occupancy(outs)
	for l, lo := range outs {
		for h, ho := range outs {
			if jobs[h].priority > jobs[l].priority && ho.submit < lo.start && ho.start > lo.start {
				st.inversions++
			}
		}
	}
	return st
}

// occupancy sweeps the queries' timelines and returns how long at least one query waited
// (submitted, not started), how long of that no query ran, and the time-average number of
// running queries (engine start to the client's last page) while one waited.
func occupancy(outs []queueOutcome) (backlog, idle time.Duration, running float64) {
	type change struct {
		at               int64
		waiting, running int
	}
	var cs []change
	for _, o := range outs {
		cs = append(cs, change{o.submit, +1, 0}, change{o.start, -1, +1}, change{o.done, 0, -1})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].at < cs[j].at })
	var waiting, run int
	var waitUS, idleUS, area int64
	for i, c := range cs {
		if i > 0 && waiting > 0 {
			dt := c.at - cs[i-1].at
			waitUS += dt
			area += dt * int64(run)
			if run == 0 {
				idleUS += dt
			}
		}
		waiting += c.waiting
		run += c.running
	}
	if waitUS > 0 {
		running = float64(area) / float64(waitUS)
	}
	return time.Duration(waitUS) * time.Microsecond, time.Duration(idleUS) * time.Microsecond, running
}

// ratioText is a/b with two decimals, or "∞" when b is 0 and a is not.
func ratioText(a, b int) string {
	switch {
	case b != 0:
		return strconv.FormatFloat(float64(a)/float64(b), 'f', 2, 64) + "x"
	case a == 0:
		return "1.00x"
	}
	return "∞"
}
