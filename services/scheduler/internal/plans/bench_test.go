package plans

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
)

// BenchmarkEngineDispatch measures the scheduler's own work per fragment, without I/O:
// 400 TPC-H Q1 plans (10 fragments each, LINEITEM in 8 partitions) on one cluster of 64
// slots; every released fragment is reported done at once, which releases the next. It
// reports fragments/s through the engine on one core: the ceiling the engine puts on
// dispatch, to compare with BenchmarkDispatch's end-to-end figure.
func BenchmarkEngineDispatch(b *testing.B) {
	const queries = 400
	d := dag(b, "q01", "q1", map[string]int{"lineitem": 8})
	plans := map[string][]byte{}
	for _, f := range d.Fragments {
		p, err := EncodePlan(d, f.ID)
		if err != nil {
			b.Fatal(err)
		}
		plans[f.ID] = p
	}
	var fragments int
	start := time.Now()
	for b.Loop() {
		e, _ := New(Config{})
		now := t0
		e.SetCluster("c1", 64, "", now)
		var pending []Release
		for i := range queries {
			// One DAG for every query: the engine does not change it.
			a, err := e.Add(Query{ID: fmt.Sprintf("q%05d", i), Cluster: "c1", DAG: d, Plans: plans, PlacedAt: now, Arrival: now}, now)
			if err != nil {
				b.Fatal(err)
			}
			pending = append(pending, a.Releases...)
		}
		for len(pending) > 0 {
			r := pending[0]
			pending = pending[1:]
			fragments++
			now = now.Add(time.Microsecond)
			if r.Root {
				_, a := e.Ended(r.Query, now)
				pending = append(pending, a.Releases...)
				continue
			}
			a := e.Done(events.FragmentDone{FragmentRun: events.FragmentRun{QueryID: r.Query, FragmentID: r.Fragment, Cluster: r.Cluster, Attempt: r.Attempt, Dispatch: r.Dispatch},
				Output: events.FragmentOutput{Fragment: r.Fragment, Cluster: r.Cluster, Path: "/dev/null"}, StartedAt: now, EndedAt: now}, now)
			pending = append(pending, a.Releases...)
		}
		if e.Load().Queries != 0 {
			b.Fatalf("%d queries left", e.Load().Queries)
		}
	}
	b.ReportMetric(float64(fragments)/time.Since(start).Seconds(), "fragments/s")
}
