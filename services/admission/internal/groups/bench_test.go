package groups

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// BenchmarkDecision measures one admission decision (Next: pick and start the next query)
// with 100,000 queued queries in 10,000 groups templated per user, for each policy of the
// parent of the user groups. Each iteration frees one slot (not timed), decides (timed),
// and submits a new query for a random user (its verdict timed separately), so the queue
// stays at 100,000. Reported: median and p99 per decision and per verdict, and heap bytes
// per queued query.
func BenchmarkDecision(b *testing.B) {
	for _, policy := range []string{"fair", "weighted", "weighted_fair", "query_priority"} {
		b.Run(policy, func(b *testing.B) { benchDecision(b, policy) })
	}
}

func benchDecision(b *testing.B, policy string) {
	const users, perUser, running = 10000, 10, 2000
	cfg, err := rgspec.Parse(fmt.Appendf(nil, `{"rootGroups":[{"name":"global","maxQueued":1000000,"hardConcurrencyLimit":%d,
		"subGroups":[{"name":"adhoc","maxQueued":1000000,"hardConcurrencyLimit":%d,"schedulingPolicy":%q,
		  "subGroups":[{"name":"${USER}","maxQueued":100,"hardConcurrencyLimit":3,"softConcurrencyLimit":1}]}]}],
		"selectors":[{"group":"global.adhoc.${USER}"}]}`, running, running, policy))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tree := New(cfg, Options{StarvationAge: 5 * time.Minute, Seed: 1})
	now := time.Unix(1_800_000_000, 0)
	leaves := make([]*Group, users)
	for u := range leaves {
		sel, ok := cfg.Select(rgspec.Input{User: fmt.Sprintf("user%05d", u)})
		if !ok {
			b.Fatal("no selection")
		}
		leaves[u] = tree.Leaf(sel)
	}
	n := 0
	submit := func(u int) {
		q := &Query{ID: fmt.Sprintf("q%d", n), Priority: int64(1 + n%5), QueuedAt: now}
		n++
		switch v, _ := tree.Decide(leaves[u]); v {
		case VerdictStart:
			tree.Start(q, leaves[u])
		case VerdictQueue:
			tree.Enqueue(q, leaves[u])
		default:
			b.Fatalf("verdict %v", v)
		}
	}
	for i := 0; i < perUser; i++ {
		for u := 0; u < users; u++ {
			submit(u)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	r, q := tree.Counts()
	if r != running || q != users*perUser-running {
		b.Fatalf("running %d queued %d", r, q)
	}
	perQueued := float64(after.HeapAlloc-before.HeapAlloc) / float64(r+q)
	run := make([]string, 0, running)
	for id, qq := range tree.queries {
		if qq.running {
			run = append(run, id)
		}
	}
	slices.Sort(run)
	decisions := make([]time.Duration, 0, b.N)
	verdicts := make([]time.Duration, 0, b.N)
	iters := max(b.N, 20000)
	b.ResetTimer()
	for i := 0; i < iters; i++ {
		k := rng.IntN(len(run))
		if err := tree.Finish(run[k], 0); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		started, ok := tree.Next(now)
		decisions = append(decisions, time.Since(start))
		if !ok {
			b.Fatal("no decision after a slot freed")
		}
		run[k] = started.ID
		start = time.Now()
		submit(rng.IntN(users))
		verdicts = append(verdicts, time.Since(start))
	}
	b.StopTimer()
	p := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[int(q*float64(len(d)-1))].Nanoseconds()) / 1000
	}
	b.ReportMetric(p(decisions, 0.5), "decision-p50-µs")
	b.ReportMetric(p(decisions, 0.99), "decision-p99-µs")
	b.ReportMetric(p(verdicts, 0.5), "verdict-p50-µs")
	b.ReportMetric(p(verdicts, 0.99), "verdict-p99-µs")
	b.ReportMetric(perQueued, "heap-B/query")
	b.ReportMetric(0, "ns/op")
}
