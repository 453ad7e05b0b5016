package framework

import "testing"

func TestDataLocality(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		query     []string
		served    []string // nil: serves every table
		want      string
		wantScore int64
	}{
		{"no tables, serves all", nil, nil, "", 100},
		{"no tables, explicit list", nil, []string{"a.b.c"}, "", 100},
		{"serves all", []string{"tpch.sf1.lineitem"}, nil, "", 50},
		{"explicit list has it", []string{"tpch.sf1.lineitem"}, []string{"tpch.sf1.lineitem", "tpch.sf1.orders"}, "", 100},
		{"explicit list lacks it", []string{"tpch.sf1.lineitem"}, []string{"tpch.sf1.orders"},
			"Unschedulable: missing tables tpch.sf1.lineitem", 0},
		{"lacks some", []string{"a.s.t1", "a.s.t2", "a.s.t3"}, []string{"a.s.t2"},
			"Unschedulable: missing tables a.s.t1, a.s.t3", 0},
		{"three missing", []string{"a.s.t1", "a.s.t2", "a.s.t3"}, []string{"x.y.z"},
			"Unschedulable: missing tables a.s.t1, a.s.t2, a.s.t3", 0},
		{"more than three missing", []string{"a.s.t1", "a.s.t2", "a.s.t3", "a.s.t4", "a.s.t5"}, []string{"a.s.t3"},
			"Unschedulable: missing tables a.s.t1, a.s.t2, a.s.t4, …", 0},
		{"list built from mixed case", []string{"tpch.sf1.lineitem"}, []string{"TPCH.sf1.LineItem"}, "", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := sqlQuery(func(q *Query) { q.Tables = tt.query })
			c := ready("a")
			if tt.served != nil {
				c.Tables = NewTableSet(tt.served...)
			}
			if got := statusReason(DataLocality{}.Filter(&CycleState{Now: t0}, q, c)); got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
			if got := (DataLocality{}).Score(q, c); got != tt.wantScore {
				t.Errorf("Score = %d, want %d", got, tt.wantScore)
			}
		})
	}
}
