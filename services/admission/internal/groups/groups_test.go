package groups

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// harness drives a Tree the way the admission leader does: a verdict for each submission
// (Trino's run), then the dispatch loop (processQueuedQueries) after every change.
type harness struct {
	t       *testing.T
	cfg     *rgspec.Config
	tree    *Tree
	now     time.Time
	started []string
}

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, config string, opts Options) *harness {
	t.Helper()
	cfg, err := rgspec.Parse([]byte(config))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return &harness{t: t, cfg: cfg, tree: New(cfg, opts), now: t0}
}

// selection resolves a dotted path of literal group names.
func selection(t *testing.T, cfg *rgspec.Config, path string) rgspec.Selection {
	t.Helper()
	var sel rgspec.Selection
	level := cfg.RootGroups
	for _, name := range strings.Split(path, ".") {
		var found *rgspec.GroupSpec
		for _, g := range level {
			if g.Name == name {
				found = g
			}
		}
		if found == nil {
			t.Fatalf("no group %q in %s", name, path)
		}
		sel.ID = append(sel.ID, name)
		sel.Specs = append(sel.Specs, found)
		level = found.SubGroups
	}
	return sel
}

// submit gives a new query its verdict and applies it.
func (h *harness) submit(id, path string, priority, memory int64) Verdict {
	h.t.Helper()
	h.now = h.now.Add(time.Millisecond)
	leaf := h.tree.Leaf(selection(h.t, h.cfg, path))
	v, _ := h.tree.Decide(leaf)
	q := &Query{ID: id, Priority: priority, Memory: memory, QueuedAt: h.now}
	switch v {
	case VerdictStart:
		h.tree.Start(q, leaf)
		h.started = append(h.started, id)
	case VerdictQueue:
		h.tree.Enqueue(q, leaf)
	}
	h.check()
	return v
}

// dispatch starts queries while any can start and returns them in order.
func (h *harness) dispatch() []string {
	h.t.Helper()
	var out []string
	for {
		q, ok := h.tree.Next(h.now)
		if !ok {
			break
		}
		out = append(out, q.ID)
		h.check()
	}
	h.started = append(h.started, out...)
	return out
}

func (h *harness) finish(id string, cpu time.Duration) {
	h.t.Helper()
	if err := h.tree.Finish(id, cpu); err != nil {
		h.t.Fatalf("finish %s: %v", id, err)
	}
	h.check()
}

// check asserts the tree's invariants: counts match the queries, and no group runs more
// than its hard limit or queues more than maxQueued.
func (h *harness) check() {
	h.t.Helper()
	if err := h.tree.CheckInvariants(); err != nil {
		h.t.Fatal(err)
	}
}

func TestFairRoundRobinAcrossSiblings(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"root","maxQueued":100,"hardConcurrencyLimit":1,"schedulingPolicy":"fair",
		"subGroups":[{"name":"a","maxQueued":100,"hardConcurrencyLimit":10},{"name":"b","maxQueued":100,"hardConcurrencyLimit":10}]}],
		"selectors":[{"group":"root.a"}]}`, Options{})
	if v := h.submit("a1", "root.a", 1, 0); v != VerdictStart {
		t.Fatalf("first query: verdict %v, want start", v)
	}
	for _, id := range []string{"a2", "a3", "a4"} {
		h.submit(id, "root.a", 1, 0)
	}
	for _, id := range []string{"b1", "b2"} {
		h.submit(id, "root.b", 1, 0)
	}
	var order []string
	running := "a1"
	for i := 0; i < 5; i++ {
		h.finish(running, 0)
		next := h.dispatch()
		if len(next) != 1 {
			t.Fatalf("step %d: started %v, want exactly one (root limit 1)", i, next)
		}
		running = next[0]
		order = append(order, running)
	}
	// a was polled first (it became eligible first); then round-robin, FIFO inside each leaf.
	want := []string{"a2", "b1", "a3", "b2", "a4"}
	if !slices.Equal(order, want) {
		t.Fatalf("start order %v, want %v", order, want)
	}
}

func TestNewQueryNeverOvertakesQueuedOne(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"g","maxQueued":10,"hardConcurrencyLimit":1}],"selectors":[{"group":"g"}]}`, Options{})
	h.submit("q1", "g", 1, 0)
	if v := h.submit("q2", "g", 1, 0); v != VerdictQueue {
		t.Fatalf("q2: %v, want queue", v)
	}
	h.finish("q1", 0)
	// A slot is free but q2 waits in the leaf: q3 must queue behind it, not start.
	if v := h.submit("q3", "g", 1, 0); v != VerdictQueue {
		t.Fatalf("q3 with q2 queued: %v, want queue", v)
	}
	if got := h.dispatch(); !slices.Equal(got, []string{"q2"}) {
		t.Fatalf("dispatch = %v, want [q2]", got)
	}
}

func TestLimitsApplyOnEveryAncestor(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"global","maxQueued":3,"hardConcurrencyLimit":2,
		"subGroups":[{"name":"x","maxQueued":10,"hardConcurrencyLimit":5},{"name":"y","maxQueued":10,"hardConcurrencyLimit":5}]}],
		"selectors":[{"group":"global.x"}]}`, Options{})
	verdicts := []Verdict{
		h.submit("x1", "global.x", 1, 0), h.submit("y1", "global.y", 1, 0), // run: global 2/2
		h.submit("x2", "global.x", 1, 0), h.submit("y2", "global.y", 1, 0), h.submit("x3", "global.x", 1, 0), // queue: 3/3
		h.submit("y3", "global.y", 1, 0), // global cannot run and cannot queue: full
	}
	want := []Verdict{VerdictStart, VerdictStart, VerdictQueue, VerdictQueue, VerdictQueue, VerdictQueueFull}
	if !slices.Equal(verdicts, want) {
		t.Fatalf("verdicts %v, want %v", verdicts, want)
	}
	leaf := h.tree.Leaf(selection(t, h.cfg, "global.y"))
	if _, full := h.tree.Decide(leaf); full == nil || full.ID() != "global" {
		t.Fatalf("full group = %v, want global", full)
	}
	if got := h.dispatch(); len(got) != 0 {
		t.Fatalf("started %v over the root's hard limit", got)
	}
	h.finish("x1", 0)
	if got := h.dispatch(); len(got) != 1 {
		t.Fatalf("after one finish started %v, want one", got)
	}
}

func TestQueueFullOnlyWhenItCannotRunEither(t *testing.T) {
	// maxQueued 0: Trino still starts a query that can run at once.
	h := newHarness(t, `{"rootGroups":[{"name":"g","maxQueued":0,"hardConcurrencyLimit":1}],"selectors":[{"group":"g"}]}`, Options{})
	if v := h.submit("q1", "g", 1, 0); v != VerdictStart {
		t.Fatalf("q1: %v, want start", v)
	}
	if v := h.submit("q2", "g", 1, 0); v != VerdictQueueFull {
		t.Fatalf("q2: %v, want queue full", v)
	}
}

func TestQueryPriorityIsStrictAcrossTheSubtree(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"root","maxQueued":100,"hardConcurrencyLimit":1,"schedulingPolicy":"query_priority",
		"subGroups":[{"name":"a","maxQueued":100,"hardConcurrencyLimit":5},
		             {"name":"b","maxQueued":100,"hardConcurrencyLimit":5,"subGroups":[{"name":"c","maxQueued":100,"hardConcurrencyLimit":5}]}]}],
		"selectors":[{"group":"root.a"}]}`, Options{})
	h.submit("blocker", "root.a", 1, 0)
	h.submit("a-p1", "root.a", 1, 0)
	h.submit("c-p5", "root.b.c", 5, 0)
	h.submit("a-p9", "root.a", 9, 0)
	h.submit("c-p9", "root.b.c", 9, 0) // same priority as a-p9, later: after it
	h.submit("a-p5", "root.a", 5, 0)
	var order []string
	running := "blocker"
	for i := 0; i < 5; i++ {
		h.finish(running, 0)
		got := h.dispatch()
		if len(got) != 1 {
			t.Fatalf("step %d started %v", i, got)
		}
		running = got[0]
		order = append(order, running)
	}
	// Equal priorities in different sub-groups go to the sub-group that re-entered the
	// parent's queue first (Trino's generation order), not to the older query.
	want := []string{"a-p9", "c-p9", "a-p5", "c-p5", "a-p1"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	// the policy is forced onto descendants
	if g, _ := h.tree.Group([]string{"root", "b", "c"}); g.policy != rgspec.PolicyQueryPriority {
		t.Fatalf("root.b.c policy %s, want query_priority", g.policy)
	}
}

func TestWeightedFairConvergesToWeights(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"root","maxQueued":1000,"hardConcurrencyLimit":6,"schedulingPolicy":"weighted_fair",
		"subGroups":[{"name":"light","maxQueued":1000,"hardConcurrencyLimit":100,"schedulingWeight":1},
		             {"name":"heavy","maxQueued":1000,"hardConcurrencyLimit":100,"schedulingWeight":2}]}],
		"selectors":[{"group":"root.light"}]}`, Options{})
	for i := 0; i < 6; i++ { // hold every slot while the queues build
		h.submit(fmt.Sprintf("fill%d", i), "root.light", 1, 0)
	}
	for i := 0; i < 40; i++ {
		h.submit(fmt.Sprintf("l%d", i), "root.light", 1, 0)
		h.submit(fmt.Sprintf("h%d", i), "root.heavy", 1, 0)
	}
	for i := 0; i < 6; i++ {
		h.finish(fmt.Sprintf("fill%d", i), 0)
		if got := h.dispatch(); len(got) != 1 {
			t.Fatalf("finish %d started %v", i, got)
		}
	}
	light, _ := h.tree.Group([]string{"root", "light"})
	heavy, _ := h.tree.Group([]string{"root", "heavy"})
	if light.runningTotal() != 2 || heavy.runningTotal() != 4 {
		t.Fatalf("running light=%d heavy=%d, want 2 and 4 (weights 1:2 of 6)", light.runningTotal(), heavy.runningTotal())
	}
	// Steady state: each finish is replaced by the group furthest below its share.
	for i := 0; i < 30; i++ {
		var victim string
		for q := range heavy.running {
			victim = q.ID
			break
		}
		h.finish(victim, 0)
		h.dispatch()
		if heavy.runningTotal() != 4 {
			t.Fatalf("step %d: heavy runs %d, want 4", i, heavy.runningTotal())
		}
	}
}

func TestWeightedLotteryFollowsWeightsAndSoftLimit(t *testing.T) {
	// Both groups above their soft limit (0): chances proportional to weight, 1:3.
	h := newHarness(t, `{"rootGroups":[{"name":"root","maxQueued":100000,"hardConcurrencyLimit":1,"schedulingPolicy":"weighted",
		"subGroups":[{"name":"a","maxQueued":100000,"hardConcurrencyLimit":1000,"softConcurrencyLimit":0,"schedulingWeight":1},
		             {"name":"b","maxQueued":100000,"hardConcurrencyLimit":1000,"softConcurrencyLimit":0,"schedulingWeight":3}]}],
		"selectors":[{"group":"root.a"}]}`, Options{Seed: 7})
	h.submit("fill", "root.a", 1, 0)
	const n = 4000
	for i := 0; i < n; i++ {
		h.submit(fmt.Sprintf("a%d", i), "root.a", 1, 0)
		h.submit(fmt.Sprintf("b%d", i), "root.b", 1, 0)
	}
	counts := map[byte]int{}
	running := "fill"
	for i := 0; i < n; i++ {
		h.finish(running, 0)
		got := h.dispatch()
		running = got[0]
		counts[running[0]]++
	}
	ratio := float64(counts['b']) / float64(counts['a'])
	if ratio < 2.6 || ratio > 3.4 {
		t.Fatalf("b/a = %d/%d = %.2f, want about 3 (weights 3:1)", counts['b'], counts['a'], ratio)
	}

	// A group under its soft limit gets MaxInt32 × weight tickets: it wins every draw.
	h2 := newHarness(t, `{"rootGroups":[{"name":"root","maxQueued":100,"hardConcurrencyLimit":1,"schedulingPolicy":"weighted",
		"subGroups":[{"name":"under","maxQueued":100,"hardConcurrencyLimit":10,"softConcurrencyLimit":5,"schedulingWeight":1},
		             {"name":"over","maxQueued":100,"hardConcurrencyLimit":10,"softConcurrencyLimit":0,"schedulingWeight":100}]}],
		"selectors":[{"group":"root.under"}]}`, Options{Seed: 1})
	h2.submit("fill", "root.over", 1, 0)
	for i := 0; i < 20; i++ {
		h2.submit(fmt.Sprintf("u%d", i), "root.under", 1, 0)
		h2.submit(fmt.Sprintf("o%d", i), "root.over", 1, 0)
	}
	running = "fill"
	for i := 0; i < 20; i++ {
		h2.finish(running, 0)
		running = h2.dispatch()[0]
		if running[0] != 'u' {
			t.Fatalf("draw %d picked %s over a group under its soft limit", i, running)
		}
	}
}

func TestCPUQuotaShrinksConcurrency(t *testing.T) {
	h := newHarness(t, `{"cpuQuotaPeriod":"1h","rootGroups":[{"name":"g","maxQueued":100,"hardConcurrencyLimit":10,
		"softCpuLimit":"1h","hardCpuLimit":"2h"}],"selectors":[{"group":"g"}]}`, Options{})
	g, _ := func() (*Group, bool) { h.submit("warm", "g", 1, 0); return h.tree.Group([]string{"g"}) }()
	h.finish("warm", 90*time.Minute) // usage 1.5h: half way from soft to hard
	if eff := g.effectiveHardConcurrency(); eff != 5 {
		t.Fatalf("effective limit at 1.5h = %d, want 5", eff)
	}
	g.cpuUsage = 61 * time.Minute // just over soft: at least one less
	if eff := g.effectiveHardConcurrency(); eff != 9 {
		t.Fatalf("effective limit at 61m = %d, want 9", eff)
	}
	g.cpuUsage = 119 * time.Minute // near hard: never below 1
	if eff := g.effectiveHardConcurrency(); eff != 1 {
		t.Fatalf("effective limit at 119m = %d, want 1", eff)
	}
	g.cpuUsage = 2 * time.Hour
	if v := h.submit("q", "g", 1, 0); v != VerdictQueue {
		t.Fatalf("at hardCpuLimit: %v, want queue", v)
	}
	if r := h.tree.Reason("q", h.now); !strings.Contains(r, "hardCpuLimit") {
		t.Fatalf("reason %q does not name hardCpuLimit", r)
	}
	// The quota regenerates at hardCpuLimit per period: 2h per hour, so 30 minutes later
	// usage is 1h, below the soft limit.
	h.tree.Refresh(h.now, 0)
	h.now = h.now.Add(30 * time.Minute)
	h.tree.Refresh(h.now, 0)
	if g.cpuUsage != time.Hour {
		t.Fatalf("usage after 30m = %s, want 1h", g.cpuUsage)
	}
	if got := h.dispatch(); !slices.Equal(got, []string{"q"}) {
		t.Fatalf("dispatch after regeneration = %v", got)
	}
}

func TestSoftMemoryLimit(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"g","maxQueued":100,"hardConcurrencyLimit":10,"softMemoryLimit":"50%"}],"selectors":[{"group":"g"}]}`, Options{})
	h.tree.Refresh(h.now, 2<<30) // fleet of 2GB: limit 1GB
	const mb = 1 << 20
	got := []Verdict{h.submit("q1", "g", 1, 600*mb), h.submit("q2", "g", 1, 600*mb), h.submit("q3", "g", 1, 100*mb)}
	// q2 starts at 600MB used (<= 1GB); q3 waits at 1.2GB used.
	if want := []Verdict{VerdictStart, VerdictStart, VerdictQueue}; !slices.Equal(got, want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
	if r := h.tree.Reason("q3", h.now); !strings.Contains(r, "softMemoryLimit 1GB") {
		t.Fatalf("reason %q", r)
	}
	h.tree.Refresh(h.now, 4<<30) // the fleet grew: limit 2GB
	if got := h.dispatch(); !slices.Equal(got, []string{"q3"}) {
		t.Fatalf("dispatch after the fleet grew = %v", got)
	}
}

// TestReportedMemoryReplacesTheEstimate: the memory a cluster reports for a running query
// counts against the soft limit in place of its declared estimate, both ways.
func TestReportedMemoryReplacesTheEstimate(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"g","maxQueued":100,"hardConcurrencyLimit":10,"softMemoryLimit":"1GB"}],"selectors":[{"group":"g"}]}`, Options{})
	const mb = 1 << 20
	if v := h.submit("big", "g", 1, 0); v != VerdictStart {
		t.Fatalf("big: %v", v)
	}
	if !h.tree.SetMemory("big", 1500*mb) { // no estimate, but the coordinator says 1.5GB
		t.Fatal("SetMemory of a running query reported false")
	}
	h.check()
	if v := h.submit("next", "g", 1, 0); v != VerdictQueue {
		t.Fatalf("next started while the group holds 1.5GB of a 1GB soft limit: %v", v)
	}
	if h.tree.SetMemory("next", 1) {
		t.Fatal("SetMemory of a queued query reported true")
	}
	h.tree.SetMemory("big", 200*mb) // the reservation shrank
	h.check()
	if got := h.dispatch(); !slices.Equal(got, []string{"next"}) {
		t.Fatalf("dispatch after the reservation shrank = %v", got)
	}
	h.finish("big", 0)
	h.check()
}

func TestStarvationGuard(t *testing.T) {
	// "under" stays below its soft limit and always wins the weighted draw; "over" holds a
	// query that only the starvation guard can start.
	cfg := `{"rootGroups":[{"name":"root","maxQueued":1000,"hardConcurrencyLimit":1,"schedulingPolicy":"weighted",
		"subGroups":[{"name":"under","maxQueued":1000,"hardConcurrencyLimit":100,"softConcurrencyLimit":100},
		             {"name":"over","maxQueued":1000,"hardConcurrencyLimit":100,"softConcurrencyLimit":0}]}],
		"selectors":[{"group":"root.under"}]}`
	run := func(age time.Duration) (startedAt int) {
		h := newHarness(t, cfg, Options{StarvationAge: age, Seed: 3})
		h.submit("fill", "root.under", 1, 0)
		h.submit("victim", "root.over", 1, 0)
		running := "fill"
		for i := 0; i < 200; i++ {
			h.submit(fmt.Sprintf("u%d", i), "root.under", 1, 0)
			h.now = h.now.Add(time.Second)
			h.finish(running, 0)
			running = h.dispatch()[0]
			if running == "victim" {
				return i
			}
		}
		return -1
	}
	if at := run(0); at != -1 {
		t.Fatalf("without the guard the victim started at step %d; the test cannot show the guard", at)
	}
	at := run(time.Minute)
	if at < 55 || at > 65 {
		t.Fatalf("with a 1m guard the victim started at step %d, want about 60 (one per second)", at)
	}
}

func TestReasonNamesTheBlockingGroup(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"global","maxQueued":100,"hardConcurrencyLimit":100,
		"subGroups":[{"name":"adhoc","maxQueued":100,"hardConcurrencyLimit":100,"subGroups":[{"name":"alice","maxQueued":10,"hardConcurrencyLimit":3}]}]}],
		"selectors":[{"group":"global.adhoc.alice"}]}`, Options{})
	for i := 0; i < 5; i++ {
		h.submit(fmt.Sprintf("q%d", i), "global.adhoc.alice", 1, 0)
	}
	if r, want := h.tree.Reason("q3", h.now), "global.adhoc.alice: 3/3 running (hardConcurrencyLimit)"; r != want {
		t.Fatalf("reason %q, want %q", r, want)
	}
	h.finish("q0", 0)
	h.dispatch()
	if r := h.tree.Reason("q4", h.now); r != "global.adhoc.alice: 3/3 running (hardConcurrencyLimit)" {
		t.Fatalf("reason %q", r)
	}
	g, _ := h.tree.Group([]string{"global", "adhoc"})
	info := h.tree.Info(g, h.now)
	if info.NumRunningQueries != 3 || info.NumQueuedQueries != 1 || len(info.SubGroups) != 1 || info.State != "CAN_RUN" {
		t.Fatalf("info %+v", info)
	}
	leafInfo := h.tree.Info(g.children["alice"], h.now)
	if leafInfo.State != "CAN_QUEUE" || len(leafInfo.RunningQueries) != 3 {
		t.Fatalf("leaf info %+v", leafInfo)
	}
}

func TestReconfigureKeepsQueries(t *testing.T) {
	h := newHarness(t, `{"rootGroups":[{"name":"g","maxQueued":100,"hardConcurrencyLimit":1,
		"subGroups":[{"name":"a","maxQueued":100,"hardConcurrencyLimit":1},{"name":"old","maxQueued":100,"hardConcurrencyLimit":1}]}],"selectors":[{"group":"g.a"}]}`, Options{})
	h.submit("r1", "g.a", 1, 0)
	h.submit("q1", "g.a", 1, 0)
	h.submit("q2", "g.old", 1, 0)
	next, err := rgspec.Parse([]byte(`{"rootGroups":[{"name":"g","maxQueued":100,"hardConcurrencyLimit":3,
		"subGroups":[{"name":"a","maxQueued":100,"hardConcurrencyLimit":3}]}],"selectors":[{"group":"g.a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	h.tree.Reconfigure(next)
	h.cfg = next
	h.check()
	if r, q := h.tree.Counts(); r != 1 || q != 2 {
		t.Fatalf("after reconfigure running=%d queued=%d, want 1 and 2", r, q)
	}
	got := h.dispatch()
	slices.Sort(got)
	if !slices.Equal(got, []string{"q1", "q2"}) {
		t.Fatalf("dispatch under the raised limits = %v", got)
	}
	old, _ := h.tree.Group([]string{"g", "old"})
	if !old.disabled {
		t.Fatal("a group that left the configuration is not disabled")
	}
	if v, _ := h.tree.Decide(old); v != VerdictDisabled {
		t.Fatalf("new query for a removed group: %v", v)
	}
}
