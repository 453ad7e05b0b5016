package plans

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/services/scheduler/internal/workqueue"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// dag cuts the Isthmus plan of a TPC-H query for query ID id.
func dag(t testing.TB, tpch, id string, partitions map[string]int) *fragment.DAG {
	t.Helper()
	p, err := fragment.Parse(shareddata.IsthmusPlan(t, tpch), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := fragment.Cut(p, fragment.Options{QueryID: id, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ids(rs []Release) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Fragment)
	}
	return out
}

// finished reports r finished after busy of executor time at now.
func finished(e *Engine, r Release, busy time.Duration, now time.Time) Actions {
	return e.Done(events.FragmentDone{FragmentRun: events.FragmentRun{QueryID: r.Query, FragmentID: r.Fragment, Cluster: r.Cluster, Attempt: r.Attempt, Dispatch: r.Dispatch},
		Output:    events.FragmentOutput{Fragment: r.Fragment, Cluster: r.Cluster, Path: "/results/" + r.Fragment + ".parquet"},
		StartedAt: now.Add(-busy), EndedAt: now}, now)
}

// failedRun reports r failed at t0 with info (retriable or not, naming missing inputs).
func failedRun(e *Engine, r Release, info events.QueryErrorInfo, retriable bool, missing ...string) Actions {
	return e.Failed(events.FragmentFailed{FragmentRun: events.FragmentRun{QueryID: r.Query, FragmentID: r.Fragment, Cluster: r.Cluster, Attempt: r.Attempt, Dispatch: r.Dispatch},
		Error: &info, Retriable: retriable, MissingInputs: missing, EndedAt: t0}, t0)
}

func TestDAGRunsChildrenFirstWithinTheWindow(t *testing.T) {
	e := newEngine(t, Config{Prefetch: 1})
	e.SetCluster("c1", 1, "", t0)
	a, err := e.Add(Query{ID: "q3", Cluster: "c1", DAG: dag(t, "q03", "q3", nil), PlacedAt: t0}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// q03: f2 (ORDERS) and f3 (LINEITEM) are leaves; f1 needs both; f0 (root) needs f1.
	if len(a.Releases) != 1 {
		t.Fatalf("1 slot × prefetch 1 released %v", ids(a.Releases))
	}
	first := a.Releases[0]
	if first.Fragment != "q3_f2" && first.Fragment != "q3_f3" {
		t.Fatalf("first release %s is not a leaf", first.Fragment)
	}
	if len(first.Plan) == 0 || first.Root || first.ReleasedAt != t0 || first.Dispatch != 1 {
		t.Fatalf("release %+v", first)
	}
	now := t0.Add(time.Second)
	a = finished(e, first, time.Second, now)
	if len(a.Releases) != 1 || a.Releases[0].Fragment == first.Fragment || a.Releases[0].Fragment == "q3_f1" {
		t.Fatalf("after the first leaf: %v, want the other leaf", ids(a.Releases))
	}
	second := a.Releases[0]
	a = finished(e, second, time.Second, now)
	if got := ids(a.Releases); !slices.Equal(got, []string{"q3_f1"}) {
		t.Fatalf("after both leaves: %v, want q3_f1", got)
	}
	agg := a.Releases[0]
	if in := agg.Inputs; len(in) != 2 || in[0].Fragment != "q3_f2" || in[1].Fragment != "q3_f3" || in[0].Path == "" {
		t.Fatalf("q3_f1 inputs %+v", in)
	}
	a = finished(e, agg, time.Second, now)
	if len(a.Releases) != 1 || !a.Releases[0].Root || a.Releases[0].Fragment != "q3_f0" || a.Releases[0].Inputs[0].Fragment != "q3_f1" {
		t.Fatalf("root release %+v", a.Releases)
	}
	if l := e.Load(); l.Queued != 0 || l.Released != 1 || l.Queries != 1 {
		t.Fatalf("load while the root runs: %+v", l)
	}
	outs, _ := e.Ended("q3", now)
	if len(outs) != 3 {
		t.Fatalf("outputs to delete: %+v", outs)
	}
	if l := e.Load(); l != (Load{}) {
		t.Fatalf("load after the end: %+v", l)
	}
}

func TestPrefetchWindowBoundsReleases(t *testing.T) {
	e := newEngine(t, Config{Prefetch: 2})
	a, _ := e.Add(Query{ID: "q1", Cluster: "c1", DAG: dag(t, "q01", "q1", map[string]int{"lineitem": 8})}, t0)
	if len(a.Releases) != 0 {
		t.Fatalf("released %v to a cluster without a heartbeat", ids(a.Releases))
	}
	a = e.SetCluster("c1", 3, "", t0)
	if len(a.Releases) != 6 {
		t.Fatalf("3 slots × prefetch 2 released %d: %v", len(a.Releases), ids(a.Releases))
	}
	if l := e.Load(); l.Queued != 2 || l.Released != 6 {
		t.Fatalf("8 partitions: load %+v, want 2 queued and 6 released", l)
	}
	a = finished(e, a.Releases[0], time.Millisecond, t0)
	if len(a.Releases) != 1 {
		t.Fatalf("a finished fragment freed %d releases, want 1", len(a.Releases))
	}
	if a = e.SetCluster("c1", 0, "", t0); len(a.Releases) != 0 {
		t.Fatal("a cluster with no slots got a release")
	}
}

// TestShortQueryOvertakesLongOne: a long query that has used executor time sinks a level,
// so a short query arriving later runs at the next fragment boundary.
func TestShortQueryOvertakesLongOne(t *testing.T) {
	e := newEngine(t, Config{Prefetch: 1})
	e.SetCluster("c1", 1, "", t0)
	a, _ := e.Add(Query{ID: "long", Cluster: "c1", DAG: dag(t, "q01", "long", map[string]int{"lineitem": 8})}, t0)
	now := t0
	for range 3 { // the long query runs 3 partitions of 2 s each
		now = now.Add(2 * time.Second)
		r := a.Releases[0]
		a = finished(e, r, 2*time.Second, now)
	}
	if _, lv := e.Attained("long"); lv == 0 {
		t.Fatal("6 s of executor time left the long query in level 0")
	}
	b, _ := e.Add(Query{ID: "short", Cluster: "c1", DAG: dag(t, "q06", "short", nil)}, now)
	if len(b.Releases) != 0 {
		t.Fatal("the window was full")
	}
	now = now.Add(2 * time.Second)
	a = finished(e, a.Releases[0], 2*time.Second, now)
	if len(a.Releases) != 1 || a.Releases[0].Query != "short" {
		t.Fatalf("next release after the short query arrived: %+v, want short's", a.Releases)
	}
}

// TestDeclaredCostSetsTheStartLevel: a query's declared cost estimate is its size in the
// work queue: a query declared long starts below the short queries' level, one declared
// short in it, and an absurd estimate saturates instead of overflowing.
func TestDeclaredCostSetsTheStartLevel(t *testing.T) {
	e := newEngine(t, Config{})
	for _, q := range []struct {
		id   string
		cost float64
		lv   int
	}{{"undeclared", 0, 0}, {"short", 0.5, 0}, {"long", 30, 2}, {"absurd", 1e300, 4}} {
		e.Add(Query{ID: q.id, Cluster: "c1", CostEstimate: q.cost, DAG: dag(t, "q06", q.id, nil)}, t0)
		if _, lv := e.Attained(q.id); lv != q.lv {
			t.Errorf("query %s declaring %gs at level %d, want %d", q.id, q.cost, lv, q.lv)
		}
	}
}

// TestHigherPriorityGoesFirst: the declared priority orders queries of one level.
func TestHigherPriorityGoesFirst(t *testing.T) {
	e := newEngine(t, Config{})
	e.Add(Query{ID: "low", Cluster: "c1", Priority: 0, DAG: dag(t, "q06", "low", nil)}, t0)
	e.Add(Query{ID: "high", Cluster: "c1", Priority: 5, DAG: dag(t, "q06", "high", nil)}, t0.Add(time.Second))
	a := e.SetCluster("c1", 1, "", t0.Add(2*time.Second))
	if len(a.Releases) != 1 || a.Releases[0].Query != "high" {
		t.Fatalf("released %+v, want high's fragment", a.Releases)
	}
}

func TestRetriableFailureRerunsThenGivesUp(t *testing.T) {
	e := newEngine(t, Config{MaxDispatches: 2})
	e.SetCluster("c1", 1, "", t0)
	a, _ := e.Add(Query{ID: "q6", Cluster: "c1", DAG: dag(t, "q06", "q6", nil)}, t0)
	r := a.Releases[0]
	fail := func(r Release, retriable bool) Actions {
		return failedRun(e, r, events.QueryErrorInfo{Message: "disk gone", ErrorName: "GENERIC_INTERNAL_ERROR"}, retriable)
	}
	a = fail(r, true)
	if len(a.Releases) != 1 || a.Releases[0].Fragment != r.Fragment || a.Releases[0].Dispatch != 2 || len(a.Ends) != 0 {
		t.Fatalf("after a retriable failure: %+v", a)
	}
	if stale := fail(r, false); len(stale.Ends) != 0 {
		t.Fatal("an outcome of an earlier dispatch failed the query")
	}
	a = fail(a.Releases[0], true)
	if len(a.Ends) != 1 || a.Ends[0].Subject != events.SubjectFailed || !strings.Contains(a.Ends[0].Error.Message, "failed 2 times; last error: disk gone") {
		t.Fatalf("after MaxDispatches: %+v", a.Ends)
	}
}

func TestNonRetriableFailurePassesTheExecutorsError(t *testing.T) {
	e := newEngine(t, Config{})
	e.SetCluster("c1", 4, "", t0)
	a, _ := e.Add(Query{ID: "q3", Cluster: "c1", DAG: dag(t, "q03", "q3", nil)}, t0)
	r := a.Releases[0]
	a = failedRun(e, r, events.QueryErrorInfo{Message: "Division by zero", ErrorCode: 8, ErrorName: "DIVISION_BY_ZERO", ErrorType: "USER_ERROR"}, false)
	if len(a.Ends) != 1 || a.Ends[0].Error.ErrorName != "DIVISION_BY_ZERO" || a.Ends[0].Error.Message != "Division by zero" {
		t.Fatalf("ends %+v", a.Ends)
	}
	other := a.Releases
	if len(other) != 0 {
		t.Fatalf("released %v for a failing query", ids(other))
	}
}

// TestMissingInputRerunsTheChild: a parent that finds a child's output gone (its
// executor's disk was lost) makes the child run again, then runs itself.
func TestMissingInputRerunsTheChild(t *testing.T) {
	e := newEngine(t, Config{})
	e.SetCluster("c1", 1, "", t0)
	a, _ := e.Add(Query{ID: "q6", Cluster: "c1", DAG: dag(t, "q06", "q6", map[string]int{"lineitem": 2})}, t0)
	for a.Releases[0].Root == false {
		a = finished(e, a.Releases[0], time.Millisecond, t0)
	}
	root := a.Releases[0]
	lost := root.Inputs[0].Fragment
	// The root finds the output of one partition's partial aggregate gone.
	a = failedRun(e, root, events.QueryErrorInfo{Message: "input missing"}, true, lost)
	if got := ids(a.Releases); !slices.Equal(got, []string{lost}) {
		t.Fatalf("after a missing input: %v, want the child %s rerun", got, lost)
	}
	a = finished(e, a.Releases[0], time.Millisecond, t0)
	if len(a.Releases) != 1 || a.Releases[0].Fragment != root.Fragment || a.Releases[0].Dispatch != 2 {
		t.Fatalf("after the child reran: %+v", a.Releases)
	}
}

// TestRootOutcomeFreesItsPlace: the outcome of a finished root frees its place in the
// window and charges its executor time before its query's end arrives, and the end that
// follows changes nothing more.
func TestRootOutcomeFreesItsPlace(t *testing.T) {
	e := newEngine(t, Config{})
	e.SetCluster("c1", 1, "", t0)
	a, _ := e.Add(Query{ID: "a", Cluster: "c1", DAG: dag(t, "q06", "a", nil)}, t0)
	e.Add(Query{ID: "b", Cluster: "c1", DAG: dag(t, "q06", "b", nil)}, t0.Add(time.Millisecond))
	for !a.Releases[0].Root {
		a = finished(e, a.Releases[0], time.Millisecond, t0)
	}
	before, _ := e.Attained("a")
	a = finished(e, a.Releases[0], 5*time.Millisecond, t0)
	if len(a.Releases) != 1 || a.Releases[0].Query != "b" {
		t.Fatalf("after a's root finished: %+v, want b's first fragment in the freed place", a.Releases)
	}
	if after, _ := e.Attained("a"); after-before != 5*time.Millisecond {
		t.Errorf("a's root charged %s, want 5ms", after-before)
	}
	if _, a = e.Ended("a", t0); len(a.Releases) != 0 {
		t.Errorf("a's end released %+v into a full window", a.Releases)
	}
}

func TestCancelDropsQueuedFragmentsAndEndFreesTheWindow(t *testing.T) {
	e := newEngine(t, Config{})
	e.SetCluster("c1", 1, "", t0)
	e.Add(Query{ID: "a", Cluster: "c1", DAG: dag(t, "q01", "a", map[string]int{"lineitem": 4})}, t0)
	e.Add(Query{ID: "b", Cluster: "c1", DAG: dag(t, "q06", "b", nil)}, t0.Add(time.Millisecond))
	a := e.Cancel("a", t0)
	if len(a.Ends) != 1 || a.Ends[0].Subject != events.SubjectCanceled || a.Ends[0].Error.ErrorName != protocol.UserCanceled.Name {
		t.Fatalf("cancel: %+v", a.Ends)
	}
	if l := e.Load(); l.Queued != 1 || l.Released != 1 {
		t.Fatalf("after cancel: %+v, want b's leaf queued behind a's running one", l)
	}
	_, a = e.Ended("a", t0)
	if len(a.Releases) != 1 || a.Releases[0].Query != "b" {
		t.Fatalf("after a's terminal event: %+v", a.Releases)
	}
}

func TestTimeout(t *testing.T) {
	e := newEngine(t, Config{QueryTimeout: time.Minute})
	e.SetCluster("c1", 1, "", t0)
	e.Add(Query{ID: "q6", Cluster: "c1", DAG: dag(t, "q06", "q6", nil), PlacedAt: t0}, t0)
	if a := e.Tick(t0.Add(59 * time.Second)); len(a.Ends) != 0 {
		t.Fatal("ended before its timeout")
	}
	a := e.Tick(t0.Add(time.Minute))
	if len(a.Ends) != 1 || a.Ends[0].Error.ErrorName != protocol.ExceededTimeLimit.Name {
		t.Fatalf("at the timeout: %+v", a.Ends)
	}
	if a := e.Tick(t0.Add(2 * time.Minute)); len(a.Ends) != 0 {
		t.Fatal("a query was ended twice")
	}
}

// TestMoveRequeuesOnTheNewCluster: a query placed again elsewhere keeps its finished
// fragments and runs the rest on the new cluster; outcomes from the old one are ignored
// unless they are finished outputs.
func TestMoveRequeuesOnTheNewCluster(t *testing.T) {
	e := newEngine(t, Config{})
	e.SetCluster("c1", 1, "", t0)
	e.SetCluster("c2", 1, "", t0)
	a, _ := e.Add(Query{ID: "q3", Cluster: "c1", DAG: dag(t, "q03", "q3", nil)}, t0)
	first := a.Releases[0]
	a = finished(e, first, time.Millisecond, t0)
	running := a.Releases[0] // the other leaf, on c1, which is then lost
	a = e.Move("q3", "c2", 1, t0)
	if len(a.Releases) != 1 || a.Releases[0].Cluster != "c2" || a.Releases[0].Fragment != running.Fragment || a.Releases[0].Attempt != 1 {
		t.Fatalf("after the move: %+v", a.Releases)
	}
	stale := failedRun(e, running, events.QueryErrorInfo{Message: "killed"}, false)
	if len(stale.Ends) != 0 {
		t.Fatal("a failure on the old cluster failed the moved query")
	}
	a = finished(e, a.Releases[0], time.Millisecond, t0)
	if len(a.Releases) != 1 || a.Releases[0].Fragment != "q3_f1" || a.Releases[0].Cluster != "c2" {
		t.Fatalf("after the leaf on c2: %+v", a.Releases)
	}
}

// TestReissueAfterLostOutcome: a fragment whose outcome was lost with the soft state is
// reissued under a new dispatch number; InFlight lists it as released; the reissue does
// not use up the retries, and the lost release's outcome, should it arrive, still counts.
func TestReissueAfterLostOutcome(t *testing.T) {
	e := newEngine(t, Config{MaxDispatches: 2})
	e.SetCluster("c1", 1, "", t0)
	a, _ := e.Add(Query{ID: "q6", Cluster: "c1", DAG: dag(t, "q06", "q6", nil)}, t0)
	first := a.Releases[0]
	inflight, err := e.InFlight()
	if err != nil || len(inflight) != 1 || inflight[0].Fragment != first.Fragment || inflight[0].Dispatch != 1 || !inflight[0].ReleasedAt.Equal(t0) {
		t.Fatalf("InFlight = %+v, %v; want the first release", inflight, err)
	}
	re, ok, err := e.Reissue("q6", first.Fragment, t0.Add(time.Second))
	if err != nil || !ok || re.Dispatch != 2 || !bytes.Equal(re.Plan, first.Plan) {
		t.Fatalf("Reissue = %+v, %v, %v; want dispatch 2 with the same plan", re, ok, err)
	}
	if _, ok, _ := e.Reissue("q6", "no-such-fragment", t0); ok {
		t.Error("reissued a fragment that does not exist")
	}
	// A retriable failure of the reissue is retried: it is the first failure, and
	// MaxDispatches 2 counts releases that were not reissues.
	a = failedRun(e, re, events.QueryErrorInfo{Message: "disk gone"}, true)
	if len(a.Ends) != 0 || len(a.Releases) != 1 || a.Releases[0].Dispatch != 3 {
		t.Fatalf("the reissue's first failure: %+v, want it released again", a)
	}
	// The lost first release's outcome arrives late: it counts.
	finished(e, first, time.Millisecond, t0)
	if _, ok, _ := e.Reissue("q6", first.Fragment, t0); ok {
		t.Error("reissued a fragment that is done")
	}
}

// TestStealingIsDelayScheduling: with StealLeaves, a cluster with free slots takes
// partition scans queued on a busy cluster: at once in the same region, after the
// locality wait from another region; fragments with inputs and the root stay home. The
// thief's releases name the query's home cluster (whose claim allows them).
func TestStealingIsDelayScheduling(t *testing.T) {
	for _, tc := range []struct {
		name, thiefRegion string
		stealsAt          time.Duration
	}{{"same region", "eu", 0}, {"other region", "us", 50 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Config{Steal: StealLeaves, Queue: workqueue.Config{LocalityWait: 50 * time.Millisecond}})
			e.SetCluster("home", 1, "eu", t0)
			e.SetCluster("thief", 2, tc.thiefRegion, t0)
			a, err := e.Add(Query{ID: "q6", Cluster: "home", DAG: dag(t, "q06", "q6", map[string]int{"lineitem": 4}), PlacedAt: t0}, t0)
			if err != nil || len(a.Releases) != 1 || a.Releases[0].Cluster != "home" {
				t.Fatalf("Add released %+v, %v; want one partition at home", a.Releases, err)
			}
			first := a.Releases[0]
			if tc.stealsAt > 0 {
				if a := e.Tick(t0.Add(tc.stealsAt - time.Millisecond)); len(a.Releases) != 0 {
					t.Fatalf("stolen before the locality wait: %+v", ids(a.Releases))
				}
			}
			a = e.Tick(t0.Add(tc.stealsAt))
			if len(a.Releases) != 2 {
				t.Fatalf("the thief took %v, want 2 partitions (its slots)", ids(a.Releases))
			}
			for _, r := range a.Releases {
				if r.Cluster != "thief" || r.Home != "home" || r.Region != "eu" || !strings.Contains(r.Fragment, "_p") {
					t.Errorf("stolen release %+v: want a partition run by the thief for home, hinted eu", r)
				}
			}
			// Finish every partition (the thief's and home's): the final aggregate and the
			// root are pinned home even though the thief is idle.
			pending := append([]Release{first}, a.Releases...)
			now := t0.Add(time.Second)
			home := 0
			for len(pending) > 0 {
				r := pending[0]
				pending = pending[1:]
				done := finished(e, r, time.Millisecond, now)
				done.Merge(e.Tick(now))
				for _, n := range done.Releases {
					if !strings.Contains(n.Fragment, "_p") && n.Cluster != "home" {
						t.Errorf("fragment %s with inputs ran on %s", n.Fragment, n.Cluster)
					}
					if n.Root {
						home++
						continue
					}
					pending = append(pending, n)
				}
			}
			if home != 1 {
				t.Errorf("the root was released %d times at home, want once", home)
			}
		})
	}
}

// TestStolenFragmentsOfALostThiefGoHome: a cluster that stops taking fragments (its
// heartbeat is gone) gives back what it took from other clusters: they are released again
// at home (a new dispatch), and the old release's late outcome still counts.
func TestStolenFragmentsOfALostThiefGoHome(t *testing.T) {
	e := newEngine(t, Config{Steal: StealLeaves})
	e.SetCluster("home", 1, "", t0)
	e.SetCluster("thief", 1, "", t0)
	a, _ := e.Add(Query{ID: "q6", Cluster: "home", DAG: dag(t, "q06", "q6", map[string]int{"lineitem": 2}), PlacedAt: t0}, t0)
	homeRun := a.Releases[0]
	a = e.Tick(t0)
	if len(a.Releases) != 1 || a.Releases[0].Cluster != "thief" {
		t.Fatalf("the thief took %+v, want one partition", a.Releases)
	}
	stolen := a.Releases[0]
	if a := e.SetCluster("thief", 0, "", t0); len(a.Releases) != 0 {
		t.Fatalf("released %+v while home's window is full", a.Releases)
	}
	a = finished(e, homeRun, time.Millisecond, t0)
	if len(a.Releases) != 1 || a.Releases[0].Fragment != stolen.Fragment || a.Releases[0].Cluster != "home" || a.Releases[0].Dispatch != stolen.Dispatch+1 {
		t.Fatalf("after home's partition: %+v; want the thief's partition again at home", a.Releases)
	}
	// The thief's run finishes late: it counts, and the fragment is not run a third time.
	a = finished(e, stolen, time.Millisecond, t0)
	for _, r := range a.Releases {
		if r.Fragment == stolen.Fragment {
			t.Errorf("released %s again after its late outcome", r.Fragment)
		}
	}
}
