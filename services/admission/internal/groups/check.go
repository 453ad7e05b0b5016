package groups

import "fmt"

// CheckInvariants recomputes the bookkeeping from scratch and reports the first
// inconsistency: subtree counts and memory, eligibility in the parent's queue, the query
// index, and the limits (running <= hardConcurrencyLimit and queued <= maxQueued on every
// group). Tests call it after every step; it is O(size of the tree).
func (t *Tree) CheckInvariants() error {
	seen := 0
	var err error
	var visit func(g *Group) (running, queued int, memory int64)
	visit = func(g *Group) (running, queued int, memory int64) {
		var descR, descQ int
		var descM int64
		for _, c := range g.childOrder {
			r, q, m := visit(c)
			descR, descQ, descM = descR+r, descQ+q, descM+m
		}
		var own int64
		for q := range g.running {
			own += q.Memory
			if tq := t.queries[q.ID]; tq != q || !q.running || q.leaf != g {
				err = fmt.Errorf("group %s runs %s, which the index does not record there", g.ID(), q.ID)
			}
		}
		g.queued.each(func(q *Query) bool {
			if tq := t.queries[q.ID]; tq != q || q.running || q.leaf != g || !t.arrivals.contains(q) {
				err = fmt.Errorf("group %s queues %s, which the index does not record there", g.ID(), q.ID)
			}
			return true
		})
		seen += len(g.running) + g.queued.len()
		switch {
		case err != nil:
		case g.descRunning != descR || g.descQueued != descQ:
			err = fmt.Errorf("group %s: descendants running/queued %d/%d, counted %d/%d", g.ID(), g.descRunning, g.descQueued, descR, descQ)
		case g.memoryUsage != own+descM:
			err = fmt.Errorf("group %s: memory %d, counted %d", g.ID(), g.memoryUsage, own+descM)
		case g.parent != nil && g.parent.eligible.contains(g) != g.isEligibleToStartNext():
			err = fmt.Errorf("group %s: in parent's eligible queue = %v, eligible = %v", g.ID(), g.parent.eligible.contains(g), g.isEligibleToStartNext())
		case !g.disabled && g.runningTotal() > g.spec.HardConcurrencyLimit:
			err = fmt.Errorf("group %s: %d running over hardConcurrencyLimit %d", g.ID(), g.runningTotal(), g.spec.HardConcurrencyLimit)
		case !g.disabled && g.queuedTotal() > g.spec.MaxQueued:
			err = fmt.Errorf("group %s: %d queued over maxQueued %d", g.ID(), g.queuedTotal(), g.spec.MaxQueued)
		}
		return len(g.running) + descR, g.queued.len() + descQ, own + descM
	}
	for _, r := range t.rootOrder {
		visit(r)
		if err != nil {
			return err
		}
	}
	if seen != len(t.queries) {
		return fmt.Errorf("the index holds %d queries, the groups %d", len(t.queries), seen)
	}
	return nil
}
