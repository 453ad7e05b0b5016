package framework

import "testing"

func TestNotDraining(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state State
		want  string
	}{
		{StateReady, ""},
		{StateStarting, ""},
		{StateUnhealthy, ""},
		{StateDraining, "Unschedulable: state draining"},
		{StateDrained, "Unschedulable: state drained"},
		{StateDeactivated, "Unschedulable: state deactivated"},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			t.Parallel()
			c := ready("a", func(c *Cluster) { c.State = tt.state })
			if got := statusReason(NotDraining{}.Filter(&CycleState{Now: t0}, sqlQuery(), c)); got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}
