package groups

import (
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/services/admission/rgspec"
)

// Group is one materialized resource group: a node of the configured tree, or an instance
// of a templated node (one per user, source, …). It mirrors Trino's InternalResourceGroup:
// own queued and running queries (leaves only), counts of its descendants', and the queue of
// sub-groups that are eligible to start a query, ordered by the group's policy.
type Group struct {
	id       []string
	name     string
	parent   *Group
	spec     *rgspec.GroupSpec
	policy   rgspec.Policy
	disabled bool // no longer in the configuration; drains what it holds

	children   map[string]*Group
	childOrder []*Group

	queued  set[*Query]
	running map[*Query]struct{}

	descRunning, descQueued int
	eligible                set[*Group]

	memoryUsage int64         // declared peak memory of running queries in the subtree
	cpuUsage    time.Duration // CPU charged by completed queries, regenerating over time
	tree        *Tree
}

// set is the common face of the four queue kinds.
type set[T comparable] interface {
	remove(T) bool
	poll() (T, bool)
	peek() (T, bool)
	contains(T) bool
	len() int
	each(func(T) bool)
}

func (t *Tree) newGroup(parent *Group, name string, spec *rgspec.GroupSpec, disabled bool) *Group {
	g := &Group{name: name, parent: parent, spec: spec, disabled: disabled, tree: t,
		children: map[string]*Group{}, running: map[*Query]struct{}{}}
	if parent != nil {
		g.id = append(append([]string{}, parent.id...), name)
	} else {
		g.id = []string{name}
	}
	g.policy = spec.SchedulingPolicy
	if g.policy == "" {
		g.policy = rgspec.PolicyFair
	}
	// query_priority is forced onto every descendant, as in Trino.
	if parent != nil && parent.policy == rgspec.PolicyQueryPriority {
		g.policy = rgspec.PolicyQueryPriority
	}
	switch g.policy {
	case rgspec.PolicyWeighted:
		g.queued = newLottery[*Query](t.rng)
		g.eligible = newLottery[*Group](t.rng)
	case rgspec.PolicyWeightedFair:
		g.queued = newIndexedPQ[*Query]()
		g.eligible = newWeightedFair[*Group]()
	case rgspec.PolicyQueryPriority:
		g.queued = newIndexedPQ[*Query]()
		g.eligible = newIndexedPQ[*Group]()
	default:
		g.queued = newFIFO[*Query]()
		g.eligible = newFIFO[*Group]()
	}
	return g
}

// ID is the group's path, e.g. "global.adhoc.alice".
func (g *Group) ID() string { return strings.Join(g.id, ".") }

// Path is the group's ID as segments (a segment expanded from a user name may hold dots).
func (g *Group) Path() []string { return append([]string(nil), g.id...) }

// Template is the group's path with the configured names, templates unexpanded (e.g.
// global, adhoc, ${USER}); events record it so that a fold can find the configuration.
func (g *Group) Template() []string { return templatePath(g) }

// runningTotal is the running queries of the subtree.
func (g *Group) runningTotal() int { return len(g.running) + g.descRunning }

// queuedTotal is the queued queries of the subtree.
func (g *Group) queuedTotal() int { return g.queued.len() + g.descQueued }

func (g *Group) canQueueMore() bool { return g.queuedTotal() < g.spec.MaxQueued }

// effectiveHardConcurrency applies the CPU quota penalty: between softCpuLimit and
// hardCpuLimit the limit shrinks linearly, by at least one and never below one.
func (g *Group) effectiveHardConcurrency() int {
	hard := g.spec.HardConcurrencyLimit
	soft, hardCPU := g.spec.SoftCPULimit, g.spec.HardCPULimit
	if soft <= 0 || hardCPU <= soft || g.cpuUsage < soft {
		return hard
	}
	penalty := float64(g.cpuUsage-soft) / float64(hardCPU-soft)
	eff := int(math.Floor(float64(hard) * (1 - penalty)))
	eff = min(eff, hard-1)
	return max(eff, 1)
}

func (g *Group) softMemoryLimit() int64 { return g.spec.SoftMemoryLimit.Resolve(g.tree.fleetMemory) }

// blocked names the first condition that stops the group from starting a query ("" when it
// can run more), in the order Trino checks them.
func (g *Group) blocked() blockReason {
	if g.spec.HardCPULimit > 0 && g.cpuUsage >= g.spec.HardCPULimit {
		return blockedCPU
	}
	if g.runningTotal() >= g.effectiveHardConcurrency() {
		return blockedConcurrency
	}
	if g.memoryUsage > g.softMemoryLimit() {
		return blockedMemory
	}
	return notBlocked
}

func (g *Group) canRunMore() bool { return g.blocked() == notBlocked }

type blockReason int

const (
	notBlocked blockReason = iota
	blockedCPU
	blockedConcurrency
	blockedMemory
)

func (g *Group) isEligibleToStartNext() bool {
	return g.canRunMore() && (g.queued.len() > 0 || g.eligible.len() > 0)
}

// highestQueuedPriority is the priority a query_priority parent orders this group by: the
// highest query_priority queued anywhere in its subtree.
func (g *Group) highestQueuedPriority() int64 {
	if q, ok := g.queued.(*indexedPQ[*Query]); ok && q.len() > 0 {
		return q.peekPriority()
	}
	if e, ok := g.eligible.(*indexedPQ[*Group]); ok && e.len() > 0 {
		return e.peekPriority()
	}
	return 0
}

// schedulingTickets is the weight a weighted parent draws this group with: a group below
// its softConcurrencyLimit gets MaxInt32 times its weight, so it nearly always wins.
func (g *Group) schedulingTickets() int64 {
	w := int64(g.spec.SchedulingWeight)
	if g.runningTotal() >= g.spec.SoftConcurrencyLimit {
		return w
	}
	return math.MaxInt32 * w
}

// addOrUpdateSubGroup (re)inserts child into g's eligible queue with the key g's policy uses.
func (g *Group) addOrUpdateSubGroup(child *Group) {
	switch e := g.eligible.(type) {
	case *weightedFair[*Group]:
		e.addOrUpdateUsage(child, int64(child.spec.SchedulingWeight), int64(child.runningTotal()))
	case *indexedPQ[*Group]:
		e.addOrUpdate(child, child.highestQueuedPriority())
	case *lottery[*Group]:
		e.addOrUpdate(child, child.schedulingTickets())
	case *fifo[*Group]:
		e.addOrUpdate(child, 0)
	}
}

// enqueueLocal adds q to this leaf's own queue with the key the policy uses.
func (g *Group) enqueueLocal(q *Query) {
	switch e := g.queued.(type) {
	case *indexedPQ[*Query]:
		e.addOrUpdate(q, q.Priority)
	case *lottery[*Query]:
		e.addOrUpdate(q, q.Priority)
	case *fifo[*Query]:
		e.addOrUpdate(q, 0)
	}
}

// updateEligibility keeps the parent's eligible queue in step with this group, up to the root.
func (g *Group) updateEligibility() {
	for c := g; c.parent != nil; c = c.parent {
		if c.isEligibleToStartNext() {
			c.parent.addOrUpdateSubGroup(c)
		} else {
			c.parent.eligible.remove(c)
		}
	}
}

// enqueue puts q in this leaf's queue (Trino enqueueQuery).
func (g *Group) enqueue(q *Query) {
	g.enqueueLocal(q)
	for p := g.parent; p != nil; p = p.parent {
		p.descQueued++
	}
	g.updateEligibility()
}

// start records q as running in this leaf (Trino startInBackground).
func (g *Group) start(q *Query) {
	g.running[q] = struct{}{}
	for c := g; c != nil; c = c.parent {
		if c != g {
			c.descRunning++
		}
		c.memoryUsage += q.Memory
	}
	g.updateEligibility()
}

// dequeue removes a queued q from this leaf, outside the dispatch loop (cancel, starvation
// guard, a decision folded from the log).
func (g *Group) dequeue(q *Query) bool {
	if !g.queued.remove(q) {
		return false
	}
	for p := g.parent; p != nil; p = p.parent {
		p.descQueued--
	}
	g.updateEligibility()
	return true
}

// finish frees q's slot and charges its CPU to the subtree's quota.
func (g *Group) finish(q *Query, cpu time.Duration) {
	delete(g.running, q)
	for c := g; c != nil; c = c.parent {
		if c != g {
			c.descRunning--
		}
		c.memoryUsage -= q.Memory
		c.cpuUsage += cpu
	}
	g.updateEligibility()
}

// startNext starts one query from the subtree if its policy and limits allow (Trino
// internalStartNext). A polled sub-group that is still eligible goes back into the queue,
// which for fair scheduling means to the back: round-robin.
func (g *Group) startNext() (*Query, bool) {
	if !g.canRunMore() {
		return nil, false
	}
	if q, ok := g.queued.poll(); ok {
		for p := g.parent; p != nil; p = p.parent {
			p.descQueued--
		}
		g.start(q)
		return q, true
	}
	sub, ok := g.eligible.poll()
	if !ok {
		return nil, false
	}
	q, ok := sub.startNext()
	if !ok {
		// Cannot happen while the eligibility bookkeeping is right; recover by rechecking.
		sub.updateEligibility()
		return nil, false
	}
	if sub.isEligibleToStartNext() {
		g.addOrUpdateSubGroup(sub)
	}
	return q, true
}
