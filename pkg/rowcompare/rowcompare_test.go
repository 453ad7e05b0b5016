package rowcompare

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestCompareRows: numbers agree within rounding (a decimal of scale s within half a unit
// of s), text and NULLs exactly; unordered comparison is a multiset match.
func TestCompareRows(t *testing.T) {
	dec := func(s string, scale int) Cell { return FromWire(fmt.Sprintf("decimal(15,%d)", scale), json.Number(s)) }
	row := func(cs ...Cell) []Cell { return cs }
	a := Normalize("a")
	for _, tc := range []struct {
		name      string
		got, want [][]Cell
		ordered   bool
		ok        bool
	}{
		{"equal doubles", [][]Cell{row(a, Normalize(1.0))}, [][]Cell{row(a, Normalize(1.0+1e-12))}, true, true},
		{"different doubles", [][]Cell{row(a, Normalize(1.0))}, [][]Cell{row(a, Normalize(1.001))}, true, false},
		{"decimal rounds a double", [][]Cell{row(dec("2.35", 2))}, [][]Cell{row(Normalize(2.3549))}, true, true},
		{"decimal off by a unit", [][]Cell{row(dec("2.36", 2))}, [][]Cell{row(Normalize(2.3449))}, true, false},
		{"null is not zero", [][]Cell{row(Normalize(nil))}, [][]Cell{row(Normalize(0.0))}, true, false},
		{"text exactly", [][]Cell{row(Normalize("x"))}, [][]Cell{row(Normalize("X"))}, true, false},
		{"multiset in another order", [][]Cell{row(Normalize("x")), row(Normalize("y"))}, [][]Cell{row(Normalize("y")), row(Normalize("x"))}, false, true},
		{"order matters when ordered", [][]Cell{row(Normalize("x")), row(Normalize("y"))}, [][]Cell{row(Normalize("y")), row(Normalize("x"))}, true, false},
		{"a row missing", [][]Cell{row(Normalize("x"))}, [][]Cell{row(Normalize("x")), row(Normalize("x"))}, false, false},
		{"duplicates count", [][]Cell{row(Normalize("x")), row(Normalize("y"))}, [][]Cell{row(Normalize("x")), row(Normalize("x"))}, false, false},
	} {
		if err := CompareRows(tc.got, tc.want, tc.ordered); (err == nil) != tc.ok {
			t.Errorf("%s: CompareRows = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestQueryRowsAgainstTheWire: DuckDB's native values and the same values as a Trino
// result page carries them compare equal.
func TestQueryRowsAgainstTheWire(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	direct, err := QueryRows(context.Background(), db, "SELECT 12.50::DECIMAL(15,2), 7::BIGINT, DATE '1998-09-02', 'R', NULL")
	if err != nil {
		t.Fatal(err)
	}
	wire := [][]Cell{{FromWire("decimal(15,2)", json.Number("12.50")), FromWire("bigint", json.Number("7")), FromWire("date", "1998-09-02"), FromWire("varchar", "R"), FromWire("varchar", nil)}}
	if err := CompareRows(wire, direct, true); err != nil {
		t.Error(err)
	}
}
