package framework

// The statuses of filters that rule a cluster out for its state. They are shared: callers
// must not modify a returned *Status.
var (
	statusStarting    = NewStatus(Unschedulable, "state starting")
	statusUnhealthy   = NewStatus(Unschedulable, "state unhealthy")
	statusDraining    = NewStatus(Unschedulable, "state draining")
	statusDrained     = NewStatus(Unschedulable, "state drained")
	statusDeactivated = NewStatus(Unschedulable, "state deactivated")
	statusNoState     = NewStatus(Unschedulable, "no state reported")
)

// stateStatus returns the status "state <s>" for a cluster that is in state s.
func stateStatus(s State) *Status {
	switch s {
	case StateStarting:
		return statusStarting
	case StateUnhealthy:
		return statusUnhealthy
	case StateDraining:
		return statusDraining
	case StateDrained:
		return statusDrained
	case StateDeactivated:
		return statusDeactivated
	case "":
		return statusNoState
	}
	return NewStatus(Unschedulable, "state "+string(s))
}
