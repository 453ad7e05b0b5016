package framework

import "testing"

func TestRoutingGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		query, target string
		want          string
	}{
		{"same group", "etl", "etl", ""},
		{"other group", "adhoc", "etl", "Unschedulable: routing group etl != adhoc"},
		{"no group to no group", "", "", ""},
		{"no group to default", "", "default", ""},
		{"default to no group", "default", "", ""},
		{"no group to a named group", "", "etl", "Unschedulable: routing group etl != default"},
		{"named group to the default cluster", "etl", "", "Unschedulable: routing group default != etl"},
		{"case matters", "ETL", "etl", "Unschedulable: routing group etl != ETL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := sqlQuery(func(q *Query) { q.RoutingGroup = tt.query })
			c := ready("a", func(c *Cluster) { c.RoutingGroup = tt.target })
			if got := statusReason(RoutingGroup{}.Filter(&CycleState{Now: t0}, q, c)); got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}
