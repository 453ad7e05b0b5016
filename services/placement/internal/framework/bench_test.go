package framework

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// benchFleet returns n clusters with a mix of states, heartbeat ages, regions, routing
// groups, engines, table lists, loads and weights, the same for every run.
func benchFleet(n int) []*Cluster {
	r := rand.New(rand.NewPCG(1, 2))
	tables := make([]string, 200)
	for i := range tables {
		tables[i] = fmt.Sprintf("hive.s%d.t%d", i%7, i)
	}
	pick := func(weights ...int) int {
		x := r.IntN(100)
		for i, w := range weights {
			if x < w {
				return i
			}
			x -= w
		}
		return len(weights) - 1
	}
	states := []State{StateReady, StateDraining, StateStarting, StateUnhealthy, StateDrained, StateDeactivated}
	groups := []string{"", "default", "etl", "adhoc"}
	engines := []string{"duckdb", "trino", "presto"}
	regions := []string{"eu-west-1", "us-east-1", "us-west-2", "ap-south-1"}
	fleet := make([]*Cluster, n)
	for i := range fleet {
		slots := 4 + r.IntN(61)
		c := &Cluster{
			Name:          fmt.Sprintf("cluster-%03d", i),
			Engine:        engines[pick(50, 30, 20)],
			State:         states[pick(80, 5, 5, 4, 3, 3)],
			Slots:         slots,
			Running:       r.IntN(slots + 1),
			Placed:        r.IntN(slots + 1),
			Queued:        r.IntN(4),
			MemoryBytes:   int64(16+r.IntN(240)) << 30,
			Region:        regions[r.IntN(len(regions))],
			RoutingGroup:  groups[pick(40, 20, 25, 15)],
			Weight:        1 + r.IntN(5),
			LastHeartbeat: t0.Add(-time.Duration(r.IntN(2000)) * time.Millisecond),
		}
		c.MemoryUsedBytes = r.Int64N(c.MemoryBytes)
		if r.IntN(20) == 0 {
			c.LastHeartbeat = t0.Add(-5 * time.Second)
		}
		if c.Engine == "duckdb" {
			c.Capabilities = Kinds(KindSQL, KindPlan)
		}
		if r.IntN(10) == 0 {
			c.MaxSlots = slots / 2
		}
		if r.IntN(2) == 0 {
			names := make([]string, 20+r.IntN(31))
			for j := range names {
				names[j] = tables[r.IntN(len(tables))]
			}
			c.Tables = NewTableSet(names...)
		}
		fleet[i] = c
	}
	return fleet
}

// benchQueries are the queries the benchmark places in turn.
var benchQueries = []*Query{
	{ID: "a", Kind: KindSQL},
	{ID: "b", Kind: KindSQL, Tables: []string{"hive.s1.t8"}, Region: "eu-west-1"},
	{ID: "c", Kind: KindSQL, RoutingGroup: "etl", Tables: []string{"hive.s0.t7", "hive.s3.t10"}, MemoryBytes: 20 << 30},
	{ID: "d", Kind: KindPlan, Region: "us-east-1", MemoryBytes: 4 << 30},
	{ID: "e", Kind: KindSQL, RoutingGroup: "adhoc", Region: "ap-south-1"},
	{ID: "f", Kind: KindSQL, Tables: []string{"hive.s2.t2", "hive.s2.t9", "hive.s5.t12", "hive.s6.t13"}},
	{ID: "g", Kind: KindSQL, Region: "us-west-2", MemoryBytes: 100 << 30},
	{ID: "h", Kind: KindSQL, RoutingGroup: "default", Tables: []string{"hive.s4.t4"}},
}

// measurePlace times calls one by one and returns their median and 99th percentile in µs.
func measurePlace(f *Framework, fleet []*Cluster, calls int) (median, p99 float64) {
	for i := range 1000 { // warm the pool and the caches
		f.Place(benchQueries[i%len(benchQueries)], fleet, t0)
	}
	samples := make([]time.Duration, calls)
	for i := range samples {
		q := benchQueries[i%len(benchQueries)]
		start := time.Now()
		f.Place(q, fleet, t0)
		samples[i] = time.Since(start)
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return us(samples[len(samples)/2]), us(samples[len(samples)*99/100])
}

// BenchmarkPlace500 places queries over 500 varied clusters with every plugin enabled.
// Besides ns/op it reports the median and 99th percentile of 20,000 timed calls.
func BenchmarkPlace500(b *testing.B) {
	f, err := New(DefaultProfile(), nil)
	if err != nil {
		b.Fatal(err)
	}
	fleet := benchFleet(500)
	// With b.Loop the function runs once per -count, so this is measured once per run.
	median, p99 := measurePlace(f, fleet, 20000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.Place(benchQueries[i%len(benchQueries)], fleet, t0)
		i++
	}
	b.ReportMetric(median, "median-µs")
	b.ReportMetric(p99, "p99-µs")
}
