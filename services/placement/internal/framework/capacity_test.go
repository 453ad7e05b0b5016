package framework

import "testing"

func TestCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                             string
		slots, maxSlots, running, placed int
		want                             string
	}{
		{"idle", 8, 0, 0, 0, ""},
		{"one slot left", 8, 0, 7, 3, ""},
		{"full by running", 8, 0, 8, 2, "Unschedulable: no free slot: 8/8 running"},
		{"full by placed", 8, 0, 3, 8, "Unschedulable: no free slot: 8/8 placed"},
		{"over full", 8, 0, 9, 1, "Unschedulable: no free slot: 9/8 running"},
		{"running and placed are not added", 8, 0, 4, 4, ""},
		{"max slots caps", 8, 4, 4, 0, "Unschedulable: no free slot: 4/4 running"},
		{"max slots above slots changes nothing", 8, 16, 7, 0, ""},
		{"unknown slots", 0, 0, 100, 100, ""},
		{"negative slots are unknown", -1, 0, 100, 0, ""},
		{"max slots stand in for unknown slots", 0, 2, 0, 2, "Unschedulable: no free slot: 2/2 placed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ready("a", func(c *Cluster) {
				c.Slots, c.MaxSlots, c.Running, c.Placed = tt.slots, tt.maxSlots, tt.running, tt.placed
			})
			if got := statusReason(Capacity{}.Filter(&CycleState{Now: t0}, sqlQuery(), c)); got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCapacityLetsPlansQueue: plan queries queue their fragments in the scheduler, so a
// full cluster still takes them.
func TestCapacityLetsPlansQueue(t *testing.T) {
	t.Parallel()
	c := ready("a", func(c *Cluster) { c.Slots, c.Running, c.Placed = 2, 2, 5 })
	if got := statusReason(Capacity{}.Filter(&CycleState{Now: t0}, &Query{ID: "p", Kind: KindPlan}, c)); got != "" {
		t.Errorf("a plan query on a full cluster: %q, want no filter", got)
	}
	if got := statusReason(Capacity{}.Filter(&CycleState{Now: t0}, sqlQuery(), c)); got == "" {
		t.Error("a SQL query passed a full cluster")
	}
}
