package groups

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// TestPropertyRandomFleets drives random configurations through random submissions,
// completions, dispatches and leader kills (a new tree rebuilt from the decisions alone, as
// a new leader folds the log). After every step it asserts the limits and bookkeeping
// (CheckInvariants), that every submitted query is in exactly one of queued, running,
// finished or rejected, and the order each policy promises for the query it started.
func TestPropertyRandomFleets(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runProperty(t, uint64(seed)) })
	}
}

// decision is one fold operation, as the admission log records it.
type decision struct {
	kind     string // queued, admitted, ended
	id, path string
	priority int64
	memory   int64
}

type propWorld struct {
	t        *testing.T
	rng      *rand.Rand
	cfg      *rgspec.Config
	tree     *Tree
	leaves   []string
	log      []decision
	status   map[string]string // queued, running, finished, rejected
	arrival  map[string]int
	now      time.Time
	nextID   int
	priority map[string]int64
}

func runProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	config, leaves := randomConfig(rng)
	cfg, err := rgspec.Parse(config)
	if err != nil {
		t.Fatalf("generated config invalid: %v\n%s", err, config)
	}
	w := &propWorld{t: t, rng: rng, cfg: cfg, tree: New(cfg, Options{Seed: seed}), leaves: leaves,
		status: map[string]string{}, arrival: map[string]int{}, now: t0, priority: map[string]int64{}}
	w.tree.Refresh(w.now, 1<<40)
	for step := 0; step < 400; step++ {
		switch r := rng.IntN(100); {
		case r < 50:
			w.submit()
		case r < 85:
			w.finishOne()
		case r < 97:
			w.dispatch()
		default:
			w.killLeader()
		}
		if err := w.tree.CheckInvariants(); err != nil {
			t.Fatalf("seed %d step %d: %v\nconfig %s", seed, step, err, config)
		}
		w.checkAccounting(step)
	}
}

// randomConfig builds a tree of depth 1–3 with random limits, policies and weights.
func randomConfig(rng *rand.Rand) ([]byte, []string) {
	policies := []string{"fair", "weighted", "weighted_fair", "query_priority"}
	var leaves []string
	var build func(name, path string, depth int) map[string]any
	build = func(name, path string, depth int) map[string]any {
		hard := rng.IntN(4) + rng.IntN(2)
		g := map[string]any{"name": name, "maxQueued": rng.IntN(12), "hardConcurrencyLimit": hard,
			"schedulingPolicy": policies[rng.IntN(len(policies))], "schedulingWeight": 1 + rng.IntN(5)}
		if rng.IntN(3) == 0 {
			g["softConcurrencyLimit"] = rng.IntN(hard + 1)
		}
		if rng.IntN(4) == 0 {
			g["softMemoryLimit"] = fmt.Sprintf("%dMB", 100+rng.IntN(400))
		}
		if depth < 3 && rng.IntN(3) > 0 {
			var subs []any
			for i := 0; i < 1+rng.IntN(3); i++ {
				subs = append(subs, build(fmt.Sprintf("g%d", i), path+"."+fmt.Sprintf("g%d", i), depth+1))
			}
			g["subGroups"] = subs
		} else {
			leaves = append(leaves, path)
		}
		return g
	}
	root := build("root", "root", 1)
	fixPriority(root, false)
	var selectors []any
	for _, l := range leaves {
		selectors = append(selectors, map[string]any{"group": l})
	}
	b, _ := json.Marshal(map[string]any{"rootGroups": []any{root}, "selectors": selectors})
	return b, leaves
}

// fixPriority makes every descendant of a query_priority group query_priority too (the
// file format requires it).
func fixPriority(g map[string]any, inherited bool) {
	if inherited {
		g["schedulingPolicy"] = "query_priority"
	}
	qp := g["schedulingPolicy"] == "query_priority"
	if subs, ok := g["subGroups"].([]any); ok {
		for _, s := range subs {
			fixPriority(s.(map[string]any), qp)
		}
	}
}

func (w *propWorld) submit() {
	id := fmt.Sprintf("q%d", w.nextID)
	w.nextID++
	path := w.leaves[w.rng.IntN(len(w.leaves))]
	prio := int64(1 + w.rng.IntN(5))
	mem := int64(w.rng.IntN(3)) * 100 << 20
	w.now = w.now.Add(time.Millisecond)
	w.arrival[id] = w.nextID
	w.priority[id] = prio
	leaf := w.tree.Leaf(selection(w.t, w.cfg, path))
	v, _ := w.tree.Decide(leaf)
	q := &Query{ID: id, Priority: prio, Memory: mem, QueuedAt: w.now}
	switch v {
	case VerdictStart:
		w.tree.Start(q, leaf)
		w.status[id] = "running"
		w.log = append(w.log, decision{"admitted", id, path, prio, mem})
	case VerdictQueue:
		w.tree.Enqueue(q, leaf)
		w.status[id] = "queued"
		w.log = append(w.log, decision{"queued", id, path, prio, mem})
	case VerdictQueueFull:
		w.status[id] = "rejected"
	default:
		w.t.Fatalf("unexpected verdict %v", v)
	}
}

func (w *propWorld) finishOne() {
	var running, queued []string
	for id, s := range w.status {
		switch s {
		case "running":
			running = append(running, id)
		case "queued":
			queued = append(queued, id)
		}
	}
	slices.Sort(running)
	slices.Sort(queued)
	if len(queued) > 0 && (len(running) == 0 || w.rng.IntN(10) == 0) {
		running = queued // a queued query is canceled
	}
	if len(running) == 0 {
		return
	}
	id := running[w.rng.IntN(len(running))]
	if err := w.tree.Finish(id, 0); err != nil {
		w.t.Fatalf("finish %s: %v", id, err)
	}
	w.status[id] = "finished"
	w.log = append(w.log, decision{kind: "ended", id: id})
	w.dispatch()
}

// dispatch starts queries and checks each start against its policy's promise.
func (w *propWorld) dispatch() {
	for {
		expect := w.expectations()
		q, ok := w.tree.Next(w.now)
		if !ok {
			if len(expect.runnable) > 0 {
				w.t.Fatalf("nothing started although %v could run", expect.runnable)
			}
			return
		}
		w.checkOrder(q, expect)
		w.status[q.ID] = "running"
		w.log = append(w.log, decision{"admitted", q.ID, q.Group(), q.Priority, q.Memory})
	}
}

type expectation struct {
	runnable []string          // queued queries whose whole path can run more
	headOf   map[*Group]*Query // per FIFO leaf: its oldest queued query
	bestOf   map[*Group]*Query // per priority-ordered leaf: its best queued query
	maxPrio  int64             // highest priority among runnable queries (query_priority root)
}

func (w *propWorld) expectations() expectation {
	e := expectation{headOf: map[*Group]*Query{}, bestOf: map[*Group]*Query{}}
	for _, q := range w.tree.queries {
		if q.running {
			continue
		}
		ok := true
		for g := q.leaf; g != nil; g = g.parent {
			ok = ok && g.canRunMore()
		}
		if ok {
			e.runnable = append(e.runnable, q.ID)
			e.maxPrio = max(e.maxPrio, q.Priority)
		}
		switch q.leaf.queued.(type) {
		case *fifo[*Query]:
			if h := e.headOf[q.leaf]; h == nil || w.arrival[q.ID] < w.arrival[h.ID] {
				e.headOf[q.leaf] = q
			}
		case *indexedPQ[*Query]:
			if b := e.bestOf[q.leaf]; b == nil || q.Priority > b.Priority || (q.Priority == b.Priority && w.arrival[q.ID] < w.arrival[b.ID]) {
				e.bestOf[q.leaf] = q
			}
		}
	}
	return e
}

func (w *propWorld) checkOrder(q *Query, e expectation) {
	if !slices.Contains(e.runnable, q.ID) {
		w.t.Fatalf("started %s although a group on its path could not run more", q.ID)
	}
	if h, ok := e.headOf[q.leaf]; ok && h != q {
		w.t.Fatalf("FIFO leaf %s started %s before the older %s", q.leaf.ID(), q.ID, h.ID)
	}
	if b, ok := e.bestOf[q.leaf]; ok && b != q && b.Priority > q.Priority {
		w.t.Fatalf("leaf %s started %s (priority %d) before %s (priority %d)", q.leaf.ID(), q.ID, q.Priority, b.ID, b.Priority)
	}
	root := q.leaf
	for root.parent != nil {
		root = root.parent
	}
	if root.policy == rgspec.PolicyQueryPriority && q.Priority < e.maxPrio {
		w.t.Fatalf("query_priority tree started %s (priority %d) while a runnable query had priority %d", q.ID, q.Priority, e.maxPrio)
	}
}

// killLeader replaces the tree by one rebuilt from the decisions, as a new leader does,
// and checks that it holds the same queries in the same groups.
func (w *propWorld) killLeader() {
	fresh := New(w.cfg, Options{Seed: w.rng.Uint64()})
	fresh.Refresh(w.now, 1<<40)
	paths := map[string]string{}
	for _, d := range w.log {
		switch d.kind {
		case "queued":
			paths[d.id] = d.path
			fresh.Enqueue(&Query{ID: d.id, Priority: d.priority, Memory: d.memory}, fresh.Leaf(selection(w.t, w.cfg, d.path)))
		case "admitted":
			fresh.Start(&Query{ID: d.id, Priority: d.priority, Memory: d.memory}, fresh.Leaf(selection(w.t, w.cfg, d.path)))
		case "ended":
			if err := fresh.Finish(d.id, 0); err != nil {
				w.t.Fatalf("rebuild: finish %s: %v", d.id, err)
			}
		}
	}
	if got, want := describe(fresh), describe(w.tree); got != want {
		w.t.Fatalf("rebuilt state differs:\n got %s\nwant %s", got, want)
	}
	w.tree = fresh
}

// describe lists each non-empty group's running set and queued list (FIFO order where it
// matters), sorted by group.
func describe(t *Tree) string {
	var lines []string
	t.walk(func(g *Group) {
		if len(g.running) == 0 && g.queued.len() == 0 {
			return
		}
		var run, queued []string
		for q := range g.running {
			run = append(run, q.ID)
		}
		slices.Sort(run)
		g.queued.each(func(q *Query) bool { queued = append(queued, q.ID); return true })
		if _, fifo := g.queued.(*fifo[*Query]); !fifo {
			slices.Sort(queued)
		}
		lines = append(lines, fmt.Sprintf("%s run=%v queued=%v", g.ID(), run, queued))
	})
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

func (w *propWorld) checkAccounting(step int) {
	running, queued := 0, 0
	for id, s := range w.status {
		q, inTree := w.tree.Lookup(id)
		switch s {
		case "running":
			running++
			if !inTree || !q.running {
				w.t.Fatalf("step %d: %s should run", step, id)
			}
		case "queued":
			queued++
			if !inTree || q.running {
				w.t.Fatalf("step %d: %s should be queued", step, id)
			}
		default:
			if inTree {
				w.t.Fatalf("step %d: %s is %s but still in the tree", step, id, s)
			}
		}
	}
	if r, q := w.tree.Counts(); r != running || q != queued {
		w.t.Fatalf("step %d: tree counts %d/%d, expected %d/%d", step, r, q, running, queued)
	}
}
