package sqltext

import (
	"slices"
	"testing"
)

func TestTables(t *testing.T) {
	tests := []struct {
		sql  string
		want []string
	}{
		{"SELECT 1", nil},
		{"SELECT * FROM lineitem", []string{"tpch.tiny.lineitem"}},
		{"select * from SF1.Orders o join tiny.customer c on o.k = c.k", []string{"tpch.sf1.orders", "tpch.tiny.customer"}},
		{"SELECT * FROM other.s.t, lineitem", []string{"other.s.t", "tpch.tiny.lineitem"}},
		{`SELECT * FROM "Mixed Case"`, []string{"tpch.tiny.mixed case"}},
		{"WITH x AS (SELECT * FROM orders) SELECT * FROM x JOIN x AS y ON true", []string{"tpch.tiny.orders"}},
		{"SELECT * FROM (SELECT * FROM nation) n", []string{"tpch.tiny.nation"}},
		{"INSERT INTO t SELECT * FROM s", []string{"tpch.tiny.s", "tpch.tiny.t"}},
		{"SELECT * FROM TABLE(sequence(1, 3))", nil},
		{"SELECT 'FROM fake' -- FROM comment\n FROM real", []string{"tpch.tiny.real"}},
		{"SELECT * FROM lineitem, lineitem", []string{"tpch.tiny.lineitem"}},
	}
	for _, tt := range tests {
		if got := Tables(tt.sql, "tpch", "tiny"); !slices.Equal(got, tt.want) {
			t.Errorf("Tables(%q) = %q, want %q", tt.sql, got, tt.want)
		}
	}
	if got := Tables("SELECT * FROM t", "", ""); !slices.Equal(got, []string{"t"}) {
		t.Errorf("without a session catalog: %q", got)
	}
}

func FuzzSQLText(f *testing.F) {
	for _, s := range []string{"SELECT * FROM a.b.c", "WITH x AS (", "EXECUTE IMMEDIATE 'SELECT 1'", "FROM \"", "/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		QueryType(sql)
		Tables(sql, "c", "s")
	})
}
