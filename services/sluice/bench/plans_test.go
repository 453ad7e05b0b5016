package bench

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/pkg/tpchgen"
	"github.com/sluicehq/sluice/services/executorproxy"
	"github.com/sluicehq/sluice/services/sluice/internal/cli"
)

// The workload of BenchmarkPlanFairness.
const (
	fairScale       = 0.1    // TPC-H scale of the long plans' schema
	fairShortSchema = "tiny" // the short plans' schema
	fairSlots       = 1      // executor slots of the one local cluster (its DuckDB has a thread per core)
	fairQueries     = 600    // plans in the arrival schedule (60 long: their mean is stable enough to compare)
	fairLongShare   = 0.1    // share of long plans (exactly, at seeded random positions)
	fairLoad        = 0.8    // arrival rate as a share of the capacity measured in the same run
	fairSeed        = 5      // seed of the arrival schedule (issue 5)
	fairCapacityRun = 120    // plans of the closed-loop capacity measurement (same mix)
	fairLevelMult   = 8      // decay: executor time share of a level relative to the next
)

// fairLongSchema is the long plans' schema, sf0_1.
var fairLongSchema = tpchgen.SchemaName(fairScale)

// fairShort and fairLong are the short plans (run on tpch.tiny) and the long ones (on
// tpch.sf0_1) of BenchmarkPlanFairness, drawn round-robin.
var (
	fairShort = []string{"q06", "q14"}
	fairLong  = []string{"q09", "q18", "q21"}
)

// fairLevels are the decay policy's attained-service thresholds for this workload: Trino's
// 0/1s/10s/60s/300s with the first boundary lowered to 100 ms, so that the long plans
// (about half a second of executor time here, declared as their cost estimate) start in
// level 1, below the short plans (about 20 ms each), and all share that level.
var fairLevels = []time.Duration{0, 100 * time.Millisecond, 10 * time.Second, 60 * time.Second, 300 * time.Second}

// planJob is one plan of an arrival schedule.
type planJob struct {
	at   time.Duration // submission time, from the start of the schedule
	plan string        // "q09"
	long bool
}

// schema is the TPC-H schema a job's plan reads.
func (j planJob) schema() string {
	if j.long {
		return fairLongSchema
	}
	return fairShortSchema
}

// fairStats summarizes one policy's run of the schedule.
type fairStats struct {
	shortMean, shortP50, shortP99, shortMax time.Duration
	longMean, longMax                       time.Duration
	longSlowdown                            float64 // mean of latency / the plan's latency alone
	span                                    time.Duration
}

// BenchmarkPlanFairness: one local DuckDB cluster of fairSlots executor slot and a seeded,
// open-loop Poisson schedule of fairQueries TPC-H Substrait plans, 90% short (Q6, Q14 on
// tpch.tiny) and 10% long (Q9, Q18, Q21 on tpch.sf0_1, each some 20 times a short one's
// run time), arriving at fairLoad of the fleet's capacity. The capacity (a closed-loop run
// of the same mix) and every plan's latency alone are measured first, in the same run, on
// a fleet of their own; then the same schedule is played on a fresh fleet each time, in
// fairOrder: under the scheduler's queue policies fifo and decay twice each (first and
// last), fair once, and once under decay with plans that declare no cost (for reference:
// attained service alone). It reports per policy, over its plays, the mean, median and
// p99 latency (POST to last page) of the short plans and the mean latency and slowdown
// (latency over the plan's latency alone) of the long ones, and the ratios short p99
// FIFO/decay (target >= 5x) and long mean decay/FIFO (target <= 1.5x).
// To show where a long plan's time goes under each policy, it records the executors'
// fragment spans and splits the long plans' mean latency by what the slot ran meanwhile.
//
// One slot makes the fleet one non-preemptive server: plans wait only in the scheduler's
// work queue (admission lets every plan run: MaxRunning is far above the backlog), so the
// policy alone decides the order. Knobs set for this workload: decay's levels are
// fairLevels and its level multiplier fairLevelMult (8 instead of Trino's 2: the short
// plans' level gets nearly all executor time while it has work, the long plans still 1/9);
// aging step (1s), cost weight (100ms) and prefetch (1) are the defaults. Every plan
// declares its latency alone as X-Sluice-Cost-Estimate (an accurate optimizer's estimate:
// decay starts a plan in the level of its estimate and orders by it within a level; fifo
// and fair ignore it).
func BenchmarkPlanFairness(b *testing.B) {
	data := tpchData(b, fairScale)
	recorded := recordFragmentSpans(b)
	plans := loadPlans(b, append(slices.Clone(fairShort), fairLong...))
	up := func(policy string) (string, func()) {
		u, _, stop := startFleet(b, cli.UpConfig{DataDir: fleetDataDir(b, data), TPCHScale: fairScale, Clusters: 1, Slots: fairSlots,
			MaxRunning: 10 * fairQueries, QueuePolicy: policy, QueueLevels: fairLevels, QueueLevelMultiplier: fairLevelMult})
		for _, q := range fairShort { // warm up connections, DuckDB and its Parquet reads
			runPlan(b, u, plans[q], fairShortSchema)
		}
		for _, q := range fairLong {
			runPlan(b, u, plans[q], fairLongSchema)
		}
		return u, stop
	}

	u, stop := up("decay")
	alone := map[string]time.Duration{}
	var shortAlone, longAlone time.Duration
	for _, q := range fairShort {
		alone[q] = medianPlan(b, u, plans[q], fairShortSchema, 5)
		shortAlone += alone[q] / time.Duration(len(fairShort))
	}
	for _, q := range fairLong {
		alone[q] = medianPlan(b, u, plans[q], fairLongSchema, 3)
		longAlone += alone[q] / time.Duration(len(fairLong))
	}
	hdr := func(j planJob) http.Header {
		return http.Header{"X-Sluice-Cost-Estimate": {strconv.FormatFloat(alone[j.plan].Seconds(), 'f', 3, 64)}}
	}
	capacity := planCapacity(b, u, plans, fairSchedule(rand.New(rand.NewPCG(fairSeed, 1)), fairCapacityRun, 0), hdr)
	stop()
	rate := fairLoad * capacity
	jobs := fairSchedule(rand.New(rand.NewPCG(fairSeed, fairSeed)), fairQueries, rate)

	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		// "decay-undeclared" is decay with plans that declare no cost: attained service
		// alone sorts them into levels (for reference; the targets are decay's).
		policies := []string{"fifo", "fair", "decay", "decay-undeclared"}
		played, outs, spans := map[string][]planJob{}, map[string][]planOutcome{}, map[string][]time.Duration{}
		split := map[string][]longTime{}
		for _, p := range fairOrder {
			u, stop := up(strings.TrimSuffix(p, "-undeclared"))
			recorded.take() // the warm-up's
			h := hdr
			if strings.HasSuffix(p, "-undeclared") {
				h = func(planJob) http.Header { return nil }
			}
			o := playPlans(b, u, plans, jobs, h)
			played[p], outs[p] = append(played[p], jobs...), append(outs[p], o...)
			split[p] = append(split[p], splitLongTime(jobs, o, recorded.take()))
			spans[p] = append(spans[p], playSpan(o))
			stop()
		}
		stats := map[string]fairStats{}
		for _, p := range policies {
			st := fairSummary(played[p], alone, outs[p])
			st.span = mean(spans[p])
			stats[p] = st
		}
		fifo, fair, decay, undeclared := stats["fifo"], stats["fair"], stats["decay"], stats["decay-undeclared"]
		report("plan fairness: 1 cluster x %d slot, n=%d (%d long), short %s on %s %.1f ms alone, long %s on %s %.1f ms alone, capacity %.2f plans/s, arrivals %.2f/s (%.0f%%)",
			fairSlots, len(jobs), countLong(jobs), strings.Join(fairShort, "/"), fairShortSchema, ms(shortAlone),
			strings.Join(fairLong, "/"), fairLongSchema, ms(longAlone), capacity, rate, 100*fairLoad)
		for _, p := range policies {
			s := stats[p]
			report("plan fairness %-16s: short mean %7.1f ms p50 %7.1f ms p99 %7.1f ms max %7.1f ms | long mean %7.1f ms max %7.1f ms slowdown %5.2fx | span %.1f s",
				p, ms(s.shortMean), ms(s.shortP50), ms(s.shortP99), ms(s.shortMax), ms(s.longMean), ms(s.longMax), s.longSlowdown, s.span.Seconds())
		}
		for _, p := range policies {
			t := meanLongTime(split[p])
			report("plan fairness %-16s: a long plan's latency, mean, by what its executor slot ran: its own fragments %5.0f ms, short plans' %5.0f ms, earlier long plans' %5.0f ms, later long plans' %5.0f ms, other (idle, dispatch) %5.0f ms",
				p, ms(t.own), ms(t.short), ms(t.earlierLong), ms(t.laterLong), ms(t.other))
		}
		p99Ratio := float64(fifo.shortP99) / float64(decay.shortP99)
		longRatio := float64(decay.longMean) / float64(fifo.longMean)
		report("plan fairness ratios: short p99 FIFO/decay %.2fx (target >= 5x: %s), long mean decay/FIFO %.2fx (target <= 1.5x: %s) | fair: short p99 FIFO/fair %.2fx, long mean fair/FIFO %.2fx | decay without declared costs: short p99 FIFO/decay %.2fx, long mean decay/FIFO %.2fx",
			p99Ratio, verdict(p99Ratio >= 5), longRatio, verdict(longRatio <= 1.5),
			float64(fifo.shortP99)/float64(fair.shortP99), float64(fair.longMean)/float64(fifo.longMean),
			float64(fifo.shortP99)/float64(undeclared.shortP99), float64(undeclared.longMean)/float64(fifo.longMean))
		for _, p := range policies {
			b.ReportMetric(ms(stats[p].shortP99), p+"-short-p99-ms")
			b.ReportMetric(ms(stats[p].longMean), p+"-long-mean-ms")
		}
		b.ReportMetric(p99Ratio, "short-p99-fifo/decay")
		b.ReportMetric(longRatio, "long-mean-decay/fifo")
	}
}

// fairOrder is the order BenchmarkPlanFairness plays the schedule in: FIFO and decay
// (whose ratios are the targets) twice, first and last, so that a drift of the shared
// machine's speed during the run weighs on both alike; at 80% load a few percent slower
// service moves every wait a lot.
var fairOrder = []string{"fifo", "decay", "fair", "decay-undeclared", "decay", "fifo"}

// verdict is "met" or "NOT met".
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// fairSchedule draws n plans arriving as a Poisson process of rate per second (rate 0:
// all at 0), exactly round(n × fairLongShare) of them long at random positions; short and
// long plans are taken round-robin from fairShort and fairLong.
func fairSchedule(rng *rand.Rand, n int, rate float64) []planJob {
	long := make([]bool, n)
	for i := range int(float64(n)*fairLongShare + 0.5) {
		long[i] = true
	}
	rng.Shuffle(n, func(i, j int) { long[i], long[j] = long[j], long[i] })
	jobs := make([]planJob, n)
	var at float64
	var shorts, longs int
	for i := range jobs {
		if rate > 0 {
			at += rng.ExpFloat64() / rate
		}
		j := planJob{at: time.Duration(at * float64(time.Second)), long: long[i]}
		if j.long {
			j.plan = fairLong[longs%len(fairLong)]
			longs++
		} else {
			j.plan = fairShort[shorts%len(fairShort)]
			shorts++
		}
		jobs[i] = j
	}
	return jobs
}

// countLong is the number of long jobs.
func countLong(jobs []planJob) int {
	n := 0
	for _, j := range jobs {
		if j.long {
			n++
		}
	}
	return n
}

// planCapacity runs jobs (their times ignored) with the headers hdr(job) in a closed loop,
// 2×fairSlots+2 clients taking the next job from one shared list, so the cluster's slots
// never wait for a submission, and returns plans completed per second.
func planCapacity(b *testing.B, base string, plans map[string][]byte, jobs []planJob, hdr func(planJob) http.Header) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 2*fairSlots+2)
	t0 := time.Now()
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				if _, _, err := planQuery(base, plans[jobs[i].plan], jobs[i].schema(), hdr(jobs[i])); err != nil {
					errs[w] = fmt.Errorf("%s on %s: %w", jobs[i].plan, jobs[i].schema(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errorsJoin(errs); err != nil {
		b.Fatalf("capacity run: %v", err)
	}
	return float64(len(jobs)) / time.Since(t0).Seconds()
}

// planOutcome is one played plan: its query ID and its client's submit and done times.
type planOutcome struct {
	id           string
	submit, done time.Time
}

// playPlans submits every job at its arrival time (open loop: an arrival never waits for
// earlier plans) to base with the headers hdr(job), each from its own goroutine, and
// returns their outcomes once all have finished.
func playPlans(b *testing.B, base string, plans map[string][]byte, jobs []planJob, hdr func(planJob) http.Header) []planOutcome {
	b.Helper()
	outs := make([]planOutcome, len(jobs))
	errs := make([]error, len(jobs))
	at := make([]time.Duration, len(jobs))
	for i, j := range jobs {
		at[i] = j.at
	}
	playOpenLoop(at, func(i int) {
		j := jobs[i]
		o := planOutcome{submit: time.Now()}
		var err error
		if o.id, _, err = planQuery(base, plans[j.plan], j.schema(), hdr(j)); err != nil {
			errs[i] = fmt.Errorf("job %d (%s on %s): %w", i, j.plan, j.schema(), err)
		}
		o.done = time.Now()
		outs[i] = o
	})
	if err := errorsJoin(errs); err != nil {
		b.Fatal(err)
	}
	return outs
}

// fairSummary computes the short and long plans' latency figures of one or more plays
// (jobs[i] was played as outs[i]); the span is the caller's (see playSpan).
func fairSummary(jobs []planJob, alone map[string]time.Duration, outs []planOutcome) fairStats {
	var short, long []time.Duration
	var slow float64
	for i, j := range jobs {
		o := outs[i]
		lat := o.done.Sub(o.submit)
		if j.long {
			long = append(long, lat)
			slow += float64(lat) / float64(alone[j.plan])
		} else {
			short = append(short, lat)
		}
	}
	slices.Sort(short)
	slices.Sort(long)
	return fairStats{shortMean: mean(short), shortP50: percentile(short, 0.5), shortP99: percentile(short, 0.99), shortMax: short[len(short)-1],
		longMean: mean(long), longMax: long[len(long)-1], longSlowdown: slow / float64(len(long))}
}

// playSpan is how long one play took, from its first submission to its last answer.
func playSpan(outs []planOutcome) time.Duration {
	first, last := outs[0].submit, outs[0].done
	for _, o := range outs {
		first, last = minTime(first, o.submit), maxTime(last, o.done)
	}
	return last.Sub(first)
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// maxTime is the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// mean is the arithmetic mean of d (0 when empty).
func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// errorsJoin returns the first non-nil error of errs and how many there were.
func errorsJoin(errs []error) error {
	var first error
	n := 0
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more)", first, n-1)
	}
	return first
}

// The runs of BenchmarkPlanSpeedup.
const (
	speedupScale = 0.5 // TPC-H scale of the data (schema sf0_5)
	speedupRuns  = 3   // runs of each plan per fleet; the median is reported
)

// speedupQueries are the plans of BenchmarkPlanSpeedup.
var speedupQueries = []string{"q01", "q03", "q09", "q18"}

// speedupFleet is one fleet of BenchmarkPlanSpeedup: one local cluster of slots executor
// slots whose DuckDB has threads worker threads (0: one per core).
type speedupFleet struct {
	slots, threads int
}

// BenchmarkPlanSpeedup: TPC-H Q1, Q3, Q9 and Q18 as Substrait plans on tpch.sf0_5, one at
// a time, on one local cluster of 1, 2 and 4 executor slots (a fresh fleet each). The
// scheduler splits the LINEITEM and ORDERS scans into one partition per slot, so the
// partitions run in parallel on the slots. The cluster's DuckDB has one worker thread
// (UpConfig DuckDBThreads 1): a running fragment computes on its own connection's thread
// only, so an executor slot is one thread of work and the speed-up is the fragment
// scheduler's, not DuckDB's own parallelism. It reports each plan's median latency (POST
// to last page) per executor count and the speed-up over 1 executor, and for reference 1
// executor whose DuckDB uses every core (its own intra-query parallelism). This machine
// has 2 cores: 4 executors cannot beat 2.
func BenchmarkPlanSpeedup(b *testing.B) {
	data := tpchData(b, speedupScale)
	schema := tpchgen.SchemaName(speedupScale)
	plans := loadPlans(b, speedupQueries)
	fleets := []speedupFleet{{1, 1}, {2, 1}, {4, 1}, {1, 0}}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		median := map[speedupFleet]map[string]time.Duration{}
		for _, f := range fleets {
			u, _, stop := startFleet(b, cli.UpConfig{DataDir: fleetDataDir(b, data), TPCHScale: speedupScale, Clusters: 1, Slots: f.slots,
				MaxRunning: 8, DuckDBThreads: f.threads})
			median[f] = map[string]time.Duration{}
			for _, q := range speedupQueries {
				median[f][q] = medianPlan(b, u, plans[q], schema, speedupRuns)
			}
			stop()
		}
		report("plan speed-up on tpch.%s, one plan at a time, median of %d runs; executors = slots of one cluster whose DuckDB has 1 thread; this machine has %d cores",
			schema, speedupRuns, runtime.NumCPU())
		for _, q := range speedupQueries {
			var line strings.Builder
			one := median[fleets[0]][q]
			fmt.Fprintf(&line, "plan speed-up %s:", q)
			for _, f := range fleets[:3] {
				s := float64(one) / float64(median[f][q])
				fmt.Fprintf(&line, " | %d executor(s) %7.0f ms %5.2fx", f.slots, ms(median[f][q]), s)
				b.ReportMetric(s, fmt.Sprintf("%s-speedup-%d", q, f.slots))
			}
			ref := median[fleets[3]][q]
			fmt.Fprintf(&line, " | reference: 1 executor, DuckDB on all cores %7.0f ms %5.2fx", ms(ref), float64(one)/float64(ref))
			report("%s", line.String())
		}
	}
}

// loadPlans reads the Isthmus Substrait JSON plans of queries.
func loadPlans(b *testing.B, queries []string) map[string][]byte {
	b.Helper()
	plans := map[string][]byte{}
	for _, q := range queries {
		plans[q] = shareddata.IsthmusPlan(b, q)
	}
	return plans
}

// runPlan runs plan on base with schema and returns its latency (POST to the last page).
func runPlan(b *testing.B, base string, plan []byte, schema string) time.Duration {
	b.Helper()
	t0 := time.Now()
	if _, _, err := planQuery(base, plan, schema, nil); err != nil {
		b.Fatalf("plan on %s: %v", schema, err)
	}
	return time.Since(t0)
}

// medianPlan runs plan n times on base, one after the other, and returns the median latency.
func medianPlan(b *testing.B, base string, plan []byte, schema string, n int) time.Duration {
	b.Helper()
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = runPlan(b, base, plan, schema)
	}
	slices.Sort(d)
	return d[n/2]
}

// tpchData generates the TPC-H Parquet files of tiny and scale once for b, in a directory
// whose tpch/ every fleet of b shares (see fleetDataDir), and returns that directory.
func tpchData(b *testing.B, scale float64) string {
	b.Helper()
	dir := b.TempDir()
	t0 := time.Now()
	if err := executorproxy.EnsureTPCH(b.Context(), dir, scale, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		b.Fatal(err)
	}
	b.Logf("TPC-H tiny and scale %g generated in %s", scale, time.Since(t0).Round(time.Millisecond))
	return dir
}

// fleetDataDir returns a fresh data directory for one fleet whose TPC-H files are data's
// (a symbolic link): every fleet has its own JetStream store and intermediate results.
func fleetDataDir(b *testing.B, data string) string {
	b.Helper()
	dir := b.TempDir()
	if err := os.Symlink(filepath.Join(data, "tpch"), filepath.Join(dir, "tpch")); err != nil {
		b.Fatal(err)
	}
	return dir
}

// planQuery posts a Substrait JSON plan to base's /v1/plan as user "bench" with catalog
// tpch and schema, plus the extra headers hdr, follows nextUri to the end like a Trino
// client, and returns the number of rows.
func planQuery(base string, plan []byte, schema string, hdr http.Header) (string, int, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/plan", bytes.NewReader(plan))
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Trino-Catalog", "tpch")
	req.Header.Set("X-Trino-Schema", schema)
	id, rows, err := followQuery(req)
	return id, len(rows), err
}
