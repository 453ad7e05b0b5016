package framework

// DefaultRoutingGroup is the name that stands for the default routing group; a group
// written "" means the same.
const DefaultRoutingGroup = "default"

// RoutingGroup filters out clusters of another routing group than the query's. The
// groups "" and "default" are the same group, on both sides: a query with no routing
// group goes to clusters whose group is "" or "default", and so does a query routed to
// "default". Names are compared exactly (case matters).
type RoutingGroup struct{}

var _ FilterPlugin = RoutingGroup{}

// Name returns "RoutingGroup".
func (RoutingGroup) Name() string { return NameRoutingGroup }

// Filter rules c out when its routing group is not the query's.
func (RoutingGroup) Filter(cs *CycleState, q *Query, c *Cluster) *Status {
	cg, qg := groupName(c.RoutingGroup), groupName(q.RoutingGroup)
	if cg == qg {
		return nil
	}
	if cs == nil {
		return routingGroupStatuses.get([2]string{cg, qg}, newRoutingGroupStatus)
	}
	for i := range cs.groupN {
		if cs.groupMemo[i].group == cg {
			return cs.groupMemo[i].status
		}
	}
	st := routingGroupStatuses.get([2]string{cg, qg}, newRoutingGroupStatus)
	if cs.groupN < len(cs.groupMemo) {
		cs.groupMemo[cs.groupN] = groupStatus{cg, st}
		cs.groupN++
	}
	return st
}

var routingGroupStatuses statusCache[[2]string]

func newRoutingGroupStatus(k [2]string) *Status {
	return NewStatus(Unschedulable, "routing group "+k[0]+" != "+k[1])
}

func groupName(g string) string {
	if g == "" {
		return DefaultRoutingGroup
	}
	return g
}
