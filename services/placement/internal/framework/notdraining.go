package framework

// NotDraining filters out clusters that are leaving the fleet: draining, drained or
// deactivated. Their running queries finish; they get no new ones.
type NotDraining struct{}

var _ FilterPlugin = NotDraining{}

// Name returns "NotDraining".
func (NotDraining) Name() string { return NameNotDraining }

// Filter rules c out when it is draining, drained or deactivated.
func (NotDraining) Filter(_ *CycleState, _ *Query, c *Cluster) *Status {
	switch c.State {
	case StateDraining, StateDrained, StateDeactivated:
		return stateStatus(c.State)
	}
	return nil
}
