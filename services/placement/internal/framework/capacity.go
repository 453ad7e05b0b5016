package framework

// Capacity filters out clusters with no free slot. The slots in use are Cluster.Busy
// (the larger of Running and Placed, so a query is not counted twice), and the slots are
// Cluster.EffectiveSlots; a cluster is full when busy >= slots. Queries waiting in the
// cluster's own queue are not counted here (LeastLoaded does). A cluster whose slots are
// unknown (0) is never filtered. Plan queries are not filtered either: their fragments wait
// in the fragment scheduler's work queue of the cluster, which orders them across queries
// (priority with decay) and is bounded by its own limit.
type Capacity struct{}

var _ FilterPlugin = Capacity{}

// Name returns "Capacity".
func (Capacity) Name() string { return NameCapacity }

// Filter rules c out when all its slots are taken.
func (Capacity) Filter(_ *CycleState, q *Query, c *Cluster) *Status {
	slots := c.EffectiveSlots()
	if slots <= 0 || q.Kind == KindPlan {
		return nil
	}
	busy := c.Busy()
	if busy < slots {
		return nil
	}
	return capacityStatuses.get(fullKey{busy, slots, c.Placed > c.Running}, newCapacityStatus)
}

type fullKey struct {
	busy, slots int
	placed      bool // busy counts placed queries, not running ones
}

var capacityStatuses statusCache[fullKey]

func newCapacityStatus(k fullKey) *Status {
	what := " running"
	if k.placed {
		what = " placed"
	}
	return NewStatus(Unschedulable, "no free slot: "+itoa(int64(k.busy))+"/"+itoa(int64(k.slots))+what)
}
