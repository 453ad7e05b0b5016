package framework

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spy is a filter and score plugin for tests: it fails the clusters named in fail, scores
// from score (0 for others), and counts its Filter calls.
type spy struct {
	name  string
	fail  map[string]string
	score map[string]int64
	calls atomic.Int64
}

func (s *spy) Name() string { return s.name }

func (s *spy) Filter(_ *CycleState, _ *Query, c *Cluster) *Status {
	s.calls.Add(1)
	if r, ok := s.fail[c.Name]; ok {
		return NewStatus(Unschedulable, r)
	}
	return nil
}

func (s *spy) Score(_ *Query, c *Cluster) int64 { return s.score[c.Name] }

// registryWith returns the default registry plus the given plugins.
func registryWith(t *testing.T, plugins ...Plugin) Registry {
	t.Helper()
	reg := DefaultRegistry()
	for _, p := range plugins {
		if err := reg.Register(p.Name(), func(json.RawMessage) (Plugin, error) { return p, nil }); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

func mustNew(t *testing.T, p Profile, reg Registry) *Framework {
	t.Helper()
	f, err := New(p, reg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPlaceFirstFailingFilterIsRecorded(t *testing.T) {
	t.Parallel()
	// "both" fails both filters; the reason recorded is the first filter's, in profile
	// order, and the second filter never sees it.
	clusters := []*Cluster{
		ready("both", func(c *Cluster) { c.State = StateDraining; c.RoutingGroup = "etl" }),
		ready("group", func(c *Cluster) { c.RoutingGroup = "etl" }),
		ready("ok"),
	}
	tests := []struct {
		filters []string
		want    []FilterResult
	}{
		{[]string{NameNotDraining, NameRoutingGroup}, []FilterResult{
			{Cluster: "both", Plugin: NameNotDraining, Code: Unschedulable, Reason: "state draining"},
			{Cluster: "group", Plugin: NameRoutingGroup, Code: Unschedulable, Reason: "routing group etl != default"},
		}},
		{[]string{NameRoutingGroup, NameNotDraining}, []FilterResult{
			{Cluster: "both", Plugin: NameRoutingGroup, Code: Unschedulable, Reason: "routing group etl != default"},
			{Cluster: "group", Plugin: NameRoutingGroup, Code: Unschedulable, Reason: "routing group etl != default"},
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.filters), func(t *testing.T) {
			t.Parallel()
			sp := &spy{name: "Spy"}
			reg := registryWith(t, sp)
			f := mustNew(t, Profile{Name: "p", Filters: append(slices.Clone(tt.filters), "Spy")}, reg)
			d := f.Place(sqlQuery(), clusters, t0)
			if d.Chosen != "ok" {
				t.Errorf("Chosen = %q, want ok", d.Chosen)
			}
			if !slices.Equal(d.Filtered, tt.want) {
				t.Errorf("Filtered = %+v\nwant       %+v", d.Filtered, tt.want)
			}
			if n := sp.calls.Load(); n != 1 {
				t.Errorf("the last filter ran %d times, want once (only for the cluster that passed the others)", n)
			}
		})
	}
}

func TestPlaceAppliesWeights(t *testing.T) {
	t.Parallel()
	// near: in the query's region, 6 of 8 slots busy (LeastLoaded 25).
	// idle: another region, idle (LeastLoaded 100).
	clusters := []*Cluster{
		ready("idle", func(c *Cluster) { c.Region = "us" }),
		ready("near", func(c *Cluster) { c.Region = "eu"; c.Running = 6 }),
	}
	q := sqlQuery(func(q *Query) { q.Region = "eu" })
	tests := []struct {
		name       string
		scores     []WeightedPlugin
		wantChosen string
		wantTotals map[string]int64
	}{
		{"load weighs more", []WeightedPlugin{{NameLeastLoaded, 2}, {NameRegionAffinity, 1}}, "idle",
			map[string]int64{"idle": 200, "near": 150}},
		{"region weighs more", []WeightedPlugin{{NameLeastLoaded, 1}, {NameRegionAffinity, 3}}, "near",
			map[string]int64{"idle": 100, "near": 325}},
		{"no score plugins: tie broken by name", nil, "idle", map[string]int64{"idle": 0, "near": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, Profile{Name: "p", Scores: tt.scores}, nil)
			d := f.Place(q, clusters, t0)
			if d.Chosen != tt.wantChosen {
				t.Errorf("Chosen = %q, want %q (%s)", d.Chosen, tt.wantChosen, d)
			}
			for name, want := range tt.wantTotals {
				s, ok := d.Score(name)
				if !ok || s.Total != want {
					t.Errorf("total of %s = %d (found %v), want %d", name, s.Total, ok, want)
				}
			}
		})
	}
}

func TestPlaceScoresByPlugin(t *testing.T) {
	t.Parallel()
	f := mustNew(t, Profile{Name: "p", Scores: []WeightedPlugin{{NameLeastLoaded, 3}, {NameWeight, 2}}}, nil)
	d := f.Place(sqlQuery(), []*Cluster{
		ready("a", func(c *Cluster) { c.Running = 2; c.Weight = 1 }),
		ready("b", func(c *Cluster) { c.Running = 4; c.Weight = 4 }),
	}, t0)
	want := []ScoreResult{
		{Cluster: "a", Total: 75*3 + 25*2, ByPlugin: []int64{75, 25}},
		{Cluster: "b", Total: 50*3 + 100*2, ByPlugin: []int64{50, 100}},
	}
	if len(d.Scores) != len(want) {
		t.Fatalf("Scores = %+v", d.Scores)
	}
	for i, w := range want {
		g := d.Scores[i]
		if g.Cluster != w.Cluster || g.Total != w.Total || !slices.Equal(g.ByPlugin, w.ByPlugin) {
			t.Errorf("Scores[%d] = %+v, want %+v", i, g, w)
		}
	}
	if d.Chosen != "b" {
		t.Errorf("Chosen = %q, want b", d.Chosen)
	}
	if !slices.Equal(d.Plugins, []WeightedPlugin{{NameLeastLoaded, 3}, {NameWeight, 2}}) {
		t.Errorf("Plugins = %v", d.Plugins)
	}
}

func TestPlaceClampsScores(t *testing.T) {
	t.Parallel()
	sp := &spy{name: "Spy", score: map[string]int64{"high": 250, "low": -40}}
	f := mustNew(t, Profile{Name: "p", Scores: []WeightedPlugin{{"Spy", 2}}}, registryWith(t, sp))
	d := f.Place(sqlQuery(), []*Cluster{ready("high"), ready("low")}, t0)
	if s, _ := d.Score("high"); s.Total != 200 || s.ByPlugin[0] != 100 {
		t.Errorf("high = %+v, want total 200, score 100", s)
	}
	if s, _ := d.Score("low"); s.Total != 0 || s.ByPlugin[0] != 0 {
		t.Errorf("low = %+v, want total 0, score 0", s)
	}
}

func TestPlaceTieBreak(t *testing.T) {
	t.Parallel()
	// LeastLoaded counts max(Running, Placed): every cluster below is equally loaded.
	tests := []struct {
		name     string
		clusters []*Cluster
		want     string
	}{
		{"fewer placed wins", []*Cluster{
			ready("a", func(c *Cluster) { c.Running = 2; c.Placed = 2 }),
			ready("b", func(c *Cluster) { c.Running = 2; c.Placed = 1 }),
			ready("c", func(c *Cluster) { c.Running = 2; c.Placed = 2 }),
		}, "b"},
		{"a higher total beats fewer placed", []*Cluster{
			ready("a", func(c *Cluster) { c.Running = 5 }),
			ready("b", func(c *Cluster) { c.Placed = 3 }),
		}, "b"},
	}
	f := mustNew(t, Profile{Name: "p", Scores: []WeightedPlugin{{NameLeastLoaded, 1}}}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Every rotation of the input gives the same answer.
			for r := range tt.clusters {
				in := append(slices.Clone(tt.clusters[r:]), tt.clusters[:r]...)
				if got := f.Place(sqlQuery(), in, t0).Chosen; got != tt.want {
					t.Errorf("rotation %d: Chosen = %q, want %q", r, got, tt.want)
				}
			}
		})
	}
}

// TestPlaceTiesTakeTurns: candidates equal on total and placed queries win in turn, in name
// order whatever the input order, so that an idle fleet is not all sent to one cluster.
func TestPlaceTiesTakeTurns(t *testing.T) {
	t.Parallel()
	f := mustNew(t, Profile{Name: "p", Scores: []WeightedPlugin{{NameLeastLoaded, 1}}}, nil)
	clusters := []*Cluster{
		ready("m", func(c *Cluster) { c.Running = 2 }),
		ready("k", func(c *Cluster) { c.Running = 2 }),
		ready("busy", func(c *Cluster) { c.Running = 3 }),
		ready("z", func(c *Cluster) { c.Running = 2 }),
	}
	var got []string
	for r := range 6 {
		in := append(slices.Clone(clusters[r%4:]), clusters[:r%4]...)
		got = append(got, f.Place(sqlQuery(), in, t0).Chosen)
	}
	if want := []string{"k", "m", "z", "k", "m", "z"}; !slices.Equal(got, want) {
		t.Fatalf("winners %v, want %v", got, want)
	}
}

func TestPlaceNoCluster(t *testing.T) {
	t.Parallel()
	f := mustNew(t, DefaultProfile(), nil)
	clusters := []*Cluster{
		ready("a", func(c *Cluster) { c.State = StateStarting }),
		ready("b", func(c *Cluster) { c.LastHeartbeat = t0.Add(-10 * time.Second) }),
		nil,
		ready("c", func(c *Cluster) { c.Running = 8 }),
		ready("d", func(c *Cluster) { c.Tables = NewTableSet("x.y.z") }),
	}
	q := sqlQuery(func(q *Query) { q.Tables = []string{"tpch.sf1.lineitem"} })
	d := f.Place(q, clusters, t0)
	if d.Chosen != "" || len(d.Scores) != 0 {
		t.Fatalf("Chosen = %q, Scores = %v; want none", d.Chosen, d.Scores)
	}
	want := []FilterResult{
		{"a", NameHealthy, Unschedulable, "state starting"},
		{"b", NameHealthy, Unschedulable, "heartbeat 10s old (timeout 3s)"},
		{"c", NameCapacity, Unschedulable, "no free slot: 8/8 running"},
		{"d", NameDataLocality, Unschedulable, "missing tables tpch.sf1.lineitem"},
	}
	if !slices.Equal(d.Filtered, want) {
		t.Errorf("Filtered = %+v\nwant       %+v", d.Filtered, want)
	}
	const explain = "no cluster chosen; a filtered by Healthy: state starting; b filtered by Healthy: heartbeat 10s old (timeout 3s); " +
		"c filtered by Capacity: no free slot: 8/8 running; d filtered by DataLocality: missing tables tpch.sf1.lineitem"
	if got := d.String(); got != explain {
		t.Errorf("String() =\n%s\nwant\n%s", got, explain)
	}
	if got := f.Place(q, nil, t0).String(); got != "no cluster chosen: no clusters" {
		t.Errorf("no clusters: String() = %q", got)
	}
}

func TestPlaceExplanation(t *testing.T) {
	t.Parallel()
	f := mustNew(t, DefaultProfile(), nil)
	clusters := []*Cluster{
		ready("local-1", func(c *Cluster) { c.State = StateDraining }),
		ready("local-2", func(c *Cluster) { c.Running = 2; c.MemoryUsedBytes = 2 << 30; c.Weight = 2 }),
		ready("local-3", func(c *Cluster) { c.Running = 6; c.Weight = 2 }),
		ready("local-4", func(c *Cluster) { c.Placed = 4; c.MemoryUsedBytes = 6 << 30 }),
	}
	d := f.Place(sqlQuery(), clusters, t0)
	// local-2: LeastLoaded 75×3 + DataLocality 100×2 + RegionAffinity 100×2 + MemoryHeadroom 75 + Weight 100 = 800
	// local-3: 25×3 + 200 + 200 + 100 + 100 = 675
	// local-4: 50×3 + 200 + 200 + 25 + 50 = 625
	const want = "local-2 chosen (total 800: LeastLoaded 75×3, DataLocality 100×2, RegionAffinity 100×2, MemoryHeadroom 75×1, Weight 100×1); " +
		"local-3 total 675; local-4 total 625; local-1 filtered by NotDraining: state draining"
	if got := d.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	const limited = "local-2 chosen (total 800: LeastLoaded 75×3, DataLocality 100×2, RegionAffinity 100×2, MemoryHeadroom 75×1, Weight 100×1); " +
		"local-3 total 675; … 2 more"
	if got := d.Explain(1); got != limited {
		t.Errorf("Explain(1) =\n%s\nwant\n%s", got, limited)
	}
}

func TestPlaceErrorStatus(t *testing.T) {
	t.Parallel()
	f := mustNew(t, DefaultProfile(), nil)
	d := f.Place(nil, []*Cluster{ready("a")}, t0)
	want := "no cluster chosen; a filtered by EngineCapability (error): query kind unspecified"
	if got := d.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if len(d.Filtered) != 1 || d.Filtered[0].Code != Error {
		t.Errorf("Filtered = %+v, want one Error", d.Filtered)
	}
}

func TestPlaceDecisionsDoNotShareBuffers(t *testing.T) {
	t.Parallel()
	f := mustNew(t, DefaultProfile(), nil)
	first := f.Place(sqlQuery(), []*Cluster{ready("a"), ready("b", func(c *Cluster) { c.State = StateDrained })}, t0)
	want := first.String()
	for range 10 {
		f.Place(sqlQuery(), []*Cluster{ready("x", func(c *Cluster) { c.State = StateUnhealthy }), ready("y")}, t0)
	}
	if got := first.String(); got != want {
		t.Errorf("an earlier decision changed: %q, was %q", got, want)
	}
}

func TestPlaceConcurrent(t *testing.T) {
	t.Parallel()
	f := mustNew(t, DefaultProfile(), nil)
	fleet := benchFleet(60)
	want := make([]string, len(benchQueries))
	for i, q := range benchQueries {
		want[i] = f.Place(q, fleet, t0).Explain(0)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(benchQueries)
				if got := f.Place(benchQueries[k], fleet, t0).Explain(0); got != want[k] {
					errs <- fmt.Sprintf("query %d: %s\nwant %s", k, got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
