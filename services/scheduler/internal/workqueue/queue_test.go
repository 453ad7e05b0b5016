package workqueue

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newQueue(t *testing.T, cfg Config) *Queue {
	t.Helper()
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func push(t *testing.T, q *Queue, f Fragment, at time.Duration) {
	t.Helper()
	if err := q.Push(f, t0.Add(at)); err != nil {
		t.Fatalf("push %s/%s: %v", f.Query, f.ID, err)
	}
}

// drain pops everything an executor of region gets at now, in order.
func drain(q *Queue, region string, now time.Time) []string {
	var out []string
	for {
		f, ok, _ := q.Pop(region, now)
		if !ok {
			return out
		}
		out = append(out, f.Query+"/"+f.ID)
	}
}

func TestOrderWithinALevel(t *testing.T) {
	tests := []struct {
		name  string
		frags []Fragment
		at    []time.Duration
		want  []string
	}{
		{"FIFO among equals",
			[]Fragment{{Query: "a", ID: "1"}, {Query: "b", ID: "1"}, {Query: "c", ID: "1"}},
			[]time.Duration{0, time.Millisecond, 2 * time.Millisecond}, []string{"a/1", "b/1", "c/1"}},
		{"higher priority first",
			[]Fragment{{Query: "low", ID: "1", Priority: 1}, {Query: "high", ID: "1", Priority: 3}},
			[]time.Duration{0, 100 * time.Millisecond}, []string{"high/1", "low/1"}},
		{"aging: a fragment that waited longer than its priority handicap goes first",
			[]Fragment{{Query: "low", ID: "1", Priority: 1}, {Query: "high", ID: "1", Priority: 3}},
			[]time.Duration{0, 2*time.Second + time.Millisecond}, []string{"low/1", "high/1"}},
		{"smaller remaining cost first",
			[]Fragment{{Query: "big", ID: "1", RemainingCost: time.Hour}, {Query: "small", ID: "1", RemainingCost: 10 * time.Millisecond}},
			[]time.Duration{0, time.Millisecond}, []string{"small/1", "big/1"}},
		{"the cost handicap is bounded too",
			[]Fragment{{Query: "big", ID: "1", RemainingCost: time.Hour}, {Query: "small", ID: "1", RemainingCost: 10 * time.Millisecond}},
			[]time.Duration{0, 3 * time.Second}, []string{"big/1", "small/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(t, Config{})
			for i, f := range tt.frags {
				push(t, q, f, tt.at[i])
			}
			if got := drain(q, "", t0.Add(time.Minute)); !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLeastAttainedServiceDecays: a query that ran longer sinks a level, so a new query's
// fragments overtake it at the next fragment boundary.
func TestLeastAttainedServiceDecays(t *testing.T) {
	q := newQueue(t, Config{})
	push(t, q, Fragment{Query: "long", ID: "1"}, 0)
	q.Charge("long", 2*time.Second) // now level 1
	push(t, q, Fragment{Query: "long", ID: "2"}, time.Millisecond)
	push(t, q, Fragment{Query: "short", ID: "1", Priority: 0}, 2*time.Second)
	if att, lv := q.Attained("long"); att != 2*time.Second || lv != 1 {
		t.Fatalf("long attained %s at level %d", att, lv)
	}
	got := drain(q, "", t0.Add(3*time.Second))
	if want := []string{"short/1", "long/1", "long/2"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestLevelShares: with both levels busy, level 0 gets twice the executor time of level 1,
// so the long query still progresses.
func TestLevelShares(t *testing.T) {
	q := newQueue(t, Config{Levels: []time.Duration{0, time.Second}})
	q.Charge("long", 2*time.Second)
	q.Charge("short", 0)
	now := t0
	for i := range 300 {
		push(t, q, Fragment{Query: "long", ID: fmt.Sprint("l", i)}, 0)
		push(t, q, Fragment{Query: "short", ID: fmt.Sprint("s", i)}, 0)
	}
	// Keep "short" in level 0 whatever it runs: a fresh query per pop would do the same.
	ran := map[int]time.Duration{}
	for range 300 {
		f, ok, _ := q.Pop("", now)
		if !ok {
			t.Fatal("queue ran dry")
		}
		_, lv := q.Attained(f.Query)
		ran[lv] += 100 * time.Millisecond
		if f.Query == "long" {
			q.Charge("long", 100*time.Millisecond)
		} else {
			q.levels[0].scheduled += 0.1 // charge level 0 without sinking the query
		}
	}
	ratio := float64(ran[0]) / float64(ran[1])
	if ratio < 1.8 || ratio > 2.2 {
		t.Fatalf("level 0 ran %s, level 1 %s: ratio %.2f, want about 2", ran[0], ran[1], ratio)
	}
}

// TestIdleLevelDoesNotBurst: a level that was empty while another ran starts from the
// other's position instead of zero.
func TestIdleLevelDoesNotBurst(t *testing.T) {
	q := newQueue(t, Config{})
	q.Charge("long", 2*time.Second)
	for i := range 100 {
		push(t, q, Fragment{Query: "long", ID: fmt.Sprint(i)}, 0)
	}
	for range 50 { // level 1 alone runs 50 s
		f, _, _ := q.Pop("", t0)
		q.Charge(f.Query, time.Second)
	}
	for i := range 10 {
		push(t, q, Fragment{Query: fmt.Sprint("new", i), ID: "1"}, time.Second)
	}
	// Level 0 starts level with level 1: the new queries and the old one share the
	// executors 2:1 instead of level 0 taking 50 s of credit.
	var got []string
	for range 30 {
		f, _, _ := q.Pop("", t0.Add(2*time.Second))
		got = append(got, f.Query)
		q.Charge(f.Query, time.Second)
	}
	if got[0] != "new0" {
		t.Fatalf("first after the new queries arrived: %s", got[0])
	}
	if n := slices.Index(got, "long"); n < 0 || n > 3 {
		t.Fatalf("the long query waited %d pops after the new ones arrived: %v", n, got)
	}
}

// TestLocalityWaitIsBounded: an executor of another region passes over a fragment held for
// its region until LocalityWait, learns how long to wait, and takes it after.
func TestLocalityWaitIsBounded(t *testing.T) {
	q := newQueue(t, Config{LocalityWait: 100 * time.Millisecond})
	push(t, q, Fragment{Query: "a", ID: "eu", Region: "eu"}, 0)
	push(t, q, Fragment{Query: "b", ID: "any"}, 10*time.Millisecond)
	f, ok, _ := q.Pop("us", t0.Add(20*time.Millisecond))
	if !ok || f.ID != "any" {
		t.Fatalf("us executor got %+v %v, want the fragment without a region", f, ok)
	}
	_, ok, retry := q.Pop("us", t0.Add(30*time.Millisecond))
	if ok || retry != 70*time.Millisecond {
		t.Fatalf("us executor: ok=%v retry=%s, want nothing for 70ms", ok, retry)
	}
	if f, ok, _ := q.Pop("us", t0.Add(100*time.Millisecond)); !ok || f.ID != "eu" {
		t.Fatalf("after the locality wait the us executor got %+v %v", f, ok)
	}
	push(t, q, Fragment{Query: "c", ID: "eu2", Region: "eu"}, 200*time.Millisecond)
	if f, ok, _ := q.Pop("eu", t0.Add(200*time.Millisecond)); !ok || f.ID != "eu2" {
		t.Fatalf("eu executor got %+v %v", f, ok)
	}
}

// TestStealRespectsPinsAndLocality: an executor of another cluster takes fragments in the
// queue's order, never a pinned one (a root), at once in the fragment's region, and from
// another region only after the locality wait.
func TestStealRespectsPinsAndLocality(t *testing.T) {
	q := newQueue(t, Config{LocalityWait: 100 * time.Millisecond})
	push(t, q, Fragment{Query: "a", ID: "root", Region: "eu", Pinned: true}, 0)
	push(t, q, Fragment{Query: "a", ID: "scan-eu", Region: "eu"}, 10*time.Millisecond)
	push(t, q, Fragment{Query: "b", ID: "scan-us", Region: "us"}, 20*time.Millisecond)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if f, ok := q.Steal("us", at(30*time.Millisecond)); !ok || f.ID != "scan-us" {
		t.Fatalf("a us thief got %+v %v, want the us scan (its region) before the older eu one", f, ok)
	}
	if f, ok := q.Steal("us", at(50*time.Millisecond)); ok {
		t.Fatalf("a us thief got %+v before the eu scan's locality wait ended", f)
	}
	if f, ok := q.Steal("us", at(110*time.Millisecond)); !ok || f.ID != "scan-eu" {
		t.Fatalf("after the locality wait a us thief got %+v %v, want the eu scan", f, ok)
	}
	if f, ok := q.Steal("eu", at(time.Hour)); ok {
		t.Fatalf("a thief took the pinned root %+v", f)
	}
	if f, ok, _ := q.Pop("eu", at(time.Hour)); !ok || f.ID != "root" || q.Len() != 0 {
		t.Fatalf("the queue's own executor got %+v %v (left %d), want the root", f, ok, q.Len())
	}
}

func TestLimitsAndRemoval(t *testing.T) {
	q := newQueue(t, Config{MaxQueued: 2})
	push(t, q, Fragment{Query: "a", ID: "1"}, 0)
	if err := q.Push(Fragment{Query: "a", ID: "1"}, t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate push: %v", err)
	}
	push(t, q, Fragment{Query: "a", ID: "2"}, 0)
	if err := q.Push(Fragment{Query: "b", ID: "1"}, t0); !errors.Is(err, ErrFull) {
		t.Fatalf("push beyond MaxQueued: %v", err)
	}
	if got := q.RemoveQuery("a"); len(got) != 2 || q.Len() != 0 {
		t.Fatalf("RemoveQuery = %v, Len %d", got, q.Len())
	}
	if _, ok, retry := q.Pop("", t0); ok || retry != 0 {
		t.Fatal("popped from an empty queue")
	}
	if _, err := New(Config{Levels: []time.Duration{time.Second}}); err == nil {
		t.Fatal("levels not starting at 0 accepted")
	}
}

// TestNothingStarves: high-priority fragments arrive exactly as fast as they are served,
// so strict priority would never run the low-priority one; aging runs it once it has waited
// its handicap (4 priority units × AgingStep, plus its cost handicap).
func TestNothingStarves(t *testing.T) {
	q := newQueue(t, Config{})
	push(t, q, Fragment{Query: "low", ID: "1", Priority: 0, RemainingCost: time.Hour}, 0)
	handicap := 4*time.Second + time.Duration(float64(100*time.Millisecond)*math.Log2(1+3_600_000))
	for i := 1; ; i++ {
		now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if err := q.Push(Fragment{Query: fmt.Sprint("high", i), ID: "1", Priority: 4, RemainingCost: time.Millisecond}, now); err != nil {
			t.Fatal(err)
		}
		f, ok, _ := q.Pop("", now)
		if !ok {
			t.Fatal("queue ran dry")
		}
		if f.Query == "low" {
			if waited := now.Sub(t0); waited > handicap+20*time.Millisecond {
				t.Fatalf("the low-priority fragment ran after %s, want within its handicap %s", waited, handicap)
			}
			return
		}
		if now.Sub(t0) > time.Minute {
			t.Fatal("the low-priority fragment starved for a minute")
		}
	}
}

// TestBaselinePolicies: FIFO serves queries in arrival order whatever their priority or
// service; fair share serves the query with the least attained service.
func TestBaselinePolicies(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	push := func(q *Queue, query, id string, prio int, arrival, now time.Time) {
		t.Helper()
		if err := q.Push(Fragment{Query: query, ID: id, Priority: prio, Arrival: arrival}, now); err != nil {
			t.Fatal(err)
		}
	}
	pop := func(q *Queue, now time.Time) string {
		t.Helper()
		f, ok, _ := q.Pop("", now)
		if !ok {
			t.Fatal("empty queue")
		}
		return f.ID
	}

	fifo, _ := New(Config{Policy: PolicyFIFO})
	push(fifo, "late", "late-1", 10, t0.Add(time.Second), t0)
	push(fifo, "early", "early-1", 0, t0, t0.Add(time.Second))
	fifo.Charge("early", time.Hour)
	if got := pop(fifo, t0.Add(2*time.Second)); got != "early-1" {
		t.Errorf("FIFO popped %s first, want the earlier query's fragment", got)
	}

	fair, _ := New(Config{Policy: PolicyFair})
	push(fair, "a", "a-1", 0, t0, t0)
	push(fair, "a", "a-2", 0, t0, t0)
	push(fair, "b", "b-1", 0, t0, t0.Add(time.Millisecond))
	if got := pop(fair, t0); got != "a-1" {
		t.Fatalf("fair popped %s first, want a-1 (no service yet; enqueued first)", got)
	}
	fair.Charge("a", time.Second)
	if got := pop(fair, t0); got != "b-1" {
		t.Errorf("fair popped %s after a ran 1 s, want b-1", got)
	}
	if _, err := New(Config{Policy: "lottery"}); err == nil {
		t.Error("an unknown policy was accepted")
	}
}

// TestNextStageKeepsItsQuerysAge: in the decay order a query's fragments share its
// arrival, so its next stage is not queued behind queries that arrived while its
// previous stage ran.
func TestNextStageKeepsItsQuerysAge(t *testing.T) {
	q := newQueue(t, Config{})
	push(t, q, Fragment{Query: "later", ID: "scan", Arrival: t0.Add(5 * time.Second)}, 5*time.Second)
	push(t, q, Fragment{Query: "earlier", ID: "join", Arrival: t0}, 10*time.Second)
	if got := drain(q, "", t0.Add(10*time.Second)); !slices.Equal(got, []string{"earlier/join", "later/scan"}) {
		t.Errorf("order %v; want the earlier query's next stage first", got)
	}
}

// TestLongFragmentIsChargedAcrossLevels: executor time that carries a query across level
// thresholds is charged to each level up to its width, the rest to the level reached.
func TestLongFragmentIsChargedAcrossLevels(t *testing.T) {
	q := newQueue(t, Config{Levels: []time.Duration{0, time.Second, 10 * time.Second}})
	q.Charge("long", 15*time.Second)
	want := []float64{1, 9, 5}
	for i, w := range want {
		if got := q.levels[i].scheduled; math.Abs(got-w) > 1e-9 {
			t.Errorf("level %d charged %.3fs, want %.0fs", i, got, w)
		}
	}
	if _, lv := q.Attained("long"); lv != 2 {
		t.Errorf("query at level %d, want 2", lv)
	}
	q.Charge("short", 300*time.Millisecond)
	if got := q.levels[0].scheduled; math.Abs(got-1.3) > 1e-9 {
		t.Errorf("level 0 charged %.3fs after a short fragment, want 1.3s", got)
	}
}

// TestDeclaredSizeSetsTheStartLevel: a query that declares a long size starts in the level
// of that size, so it does not overtake the long query that arrived before it, while a
// short query still overtakes both. Without a declared size, or with one too small to
// leave level 0, the newer long query's first fragment runs before the older query's
// (level 0, in arrival order). A size declared too small gains nothing: the query sinks
// by attained service as any other.
func TestDeclaredSizeSetsTheStartLevel(t *testing.T) {
	levels := []time.Duration{0, 100 * time.Millisecond, 10 * time.Second}
	for _, tt := range []struct {
		name     string
		newer    time.Duration // the newer long query's declared size
		want     []string
		newerLvl int
	}{
		{"declared", 500 * time.Millisecond, []string{"short/1", "older/2", "newer/1"}, 1},
		{"not declared", 0, []string{"newer/1", "short/1", "older/2"}, 0},
		{"declared too small", 20 * time.Millisecond, []string{"newer/1", "short/1", "older/2"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(t, Config{Levels: levels})
			arrival := func(d time.Duration) time.Time { return t0.Add(d) }
			push(t, q, Fragment{Query: "older", ID: "1", Size: 500 * time.Millisecond, Arrival: arrival(0)}, 0)
			if _, lv := q.Attained("older"); lv != 1 {
				t.Fatalf("older query at level %d, want 1 (its declared size)", lv)
			}
			q.Pop("", t0)
			q.Charge("older", 60*time.Millisecond)
			push(t, q, Fragment{Query: "older", ID: "2", Size: 500 * time.Millisecond, Arrival: arrival(0)}, 70*time.Millisecond)
			push(t, q, Fragment{Query: "newer", ID: "1", Size: tt.newer, Arrival: arrival(50 * time.Millisecond)}, 50*time.Millisecond)
			push(t, q, Fragment{Query: "short", ID: "1", Size: 10 * time.Millisecond, Arrival: arrival(60 * time.Millisecond)}, 60*time.Millisecond)
			if _, lv := q.Attained("newer"); lv != tt.newerLvl {
				t.Errorf("newer query at level %d, want %d", lv, tt.newerLvl)
			}
			if got := drain(q, "", t0.Add(time.Second)); !slices.Equal(got, tt.want) {
				t.Errorf("order %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("charged from its size", func(t *testing.T) {
		q := newQueue(t, Config{Levels: levels})
		push(t, q, Fragment{Query: "long", ID: "1", Size: 500 * time.Millisecond}, 0)
		q.Charge("long", 60*time.Millisecond)
		if l0, l1 := q.levels[0].scheduled, q.levels[1].scheduled; l0 != 0 || math.Abs(l1-0.06) > 1e-9 {
			t.Errorf("levels charged %.3fs and %.3fs, want 0 and 0.060s", l0, l1)
		}
	})
	t.Run("too small sinks by attained service", func(t *testing.T) {
		q := newQueue(t, Config{Levels: levels})
		push(t, q, Fragment{Query: "under", ID: "1", Size: 20 * time.Millisecond}, 0)
		q.Charge("under", 150*time.Millisecond)
		if _, lv := q.Attained("under"); lv != 1 {
			t.Errorf("query at level %d after 150ms of service, want 1", lv)
		}
	})
	t.Run("baselines ignore it", func(t *testing.T) {
		q := newQueue(t, Config{Policy: PolicyFIFO})
		push(t, q, Fragment{Query: "long", ID: "1", Size: time.Hour}, 0)
		if _, lv := q.Attained("long"); lv != 0 {
			t.Errorf("FIFO put the query at level %d", lv)
		}
	})
}
