package framework

import "testing"

func TestEngineCapability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   Kind
		engine string
		caps   KindSet
		want   string
	}{
		{"SQL on duckdb", KindSQL, "duckdb", 0, ""},
		{"SQL on trino", KindSQL, "trino", 0, ""},
		{"SQL on presto", KindSQL, "presto", 0, ""},
		{"SQL on an unknown engine", KindSQL, "spark", 0, "Unschedulable: engine spark cannot run SQL queries"},
		{"SQL on an unknown engine that declares SQL", KindSQL, "spark", Kinds(KindSQL), ""},
		{"SQL without an engine", KindSQL, "", 0, "Unschedulable: engine (none) cannot run SQL queries"},
		{"plan where declared", KindPlan, "duckdb", Kinds(KindSQL, KindPlan), ""},
		{"plan on duckdb without the capability", KindPlan, "duckdb", 0, "Unschedulable: engine duckdb cannot run plan queries"},
		{"plan on trino", KindPlan, "trino", Kinds(KindSQL), "Unschedulable: engine trino cannot run plan queries"},
		{"unspecified kind", KindUnspecified, "duckdb", Kinds(KindSQL, KindPlan), "Error: query kind unspecified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := sqlQuery(func(q *Query) { q.Kind = tt.kind })
			c := ready("a", func(c *Cluster) { c.Engine = tt.engine; c.Capabilities = tt.caps })
			if got := statusReason(EngineCapability{}.Filter(&CycleState{Now: t0}, q, c)); got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKindSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set       KindSet
		sql, plan bool
	}{
		{0, false, false},
		{Kinds(KindSQL), true, false},
		{Kinds(KindPlan), false, true},
		{Kinds(KindSQL, KindPlan, KindUnspecified), true, true},
	}
	for _, tt := range tests {
		if tt.set.Has(KindSQL) != tt.sql || tt.set.Has(KindPlan) != tt.plan || tt.set.Has(KindUnspecified) {
			t.Errorf("%08b: Has(SQL)=%v Has(Plan)=%v, want %v %v", tt.set, tt.set.Has(KindSQL), tt.set.Has(KindPlan), tt.sql, tt.plan)
		}
	}
}
