package substraitsql

import (
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/rowcompare"
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tpchcheck.Cleanup()
	os.Exit(code)
}

// TestTPCHMatchesDuckDB translates each Isthmus TPC-H plan, runs it, and compares the rows
// with DuckDB's answer to the query's SQL.
func TestTPCHMatchesDuckDB(t *testing.T) {
	db := tpchcheck.TinySQL(t)
	for _, name := range tpchcheck.Queries {
		t.Run(name, func(t *testing.T) {
			plan := loadPlan(t, name)
			got, err := Translate(plan, Options{Table: tinyTables})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			start := time.Now()
			gotRows, err := rowcompare.QueryRows(t.Context(), db, got)
			if err != nil {
				t.Fatalf("run translated SQL: %v\n%s", err, got)
			}
			took := time.Since(start)
			ref := tpchcheck.ReferenceSQL(t, name)
			wantRows, err := rowcompare.QueryRows(t.Context(), db, ref)
			if err != nil {
				t.Fatalf("run reference SQL: %v", err)
			}
			ordered := rowcompare.Ordered(ref)
			if err := rowcompare.CompareRows(gotRows, wantRows, ordered); err != nil {
				t.Fatalf("%v\ntranslated SQL:\n%s", err, got)
			}
			if rowcompare.AllNull(wantRows) {
				t.Errorf("the reference answer has no non-NULL value; the comparison proves nothing")
			}
			t.Logf("%d rows, equal (ordered=%v), translated query ran in %v; first row %v", len(wantRows), ordered, took.Round(time.Millisecond), wantRows[0])
		})
	}
}
