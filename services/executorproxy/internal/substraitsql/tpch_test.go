package substraitsql

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/sluicehq/sluice/pkg/tpchgen"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
)

var (
	tpchOnce sync.Once
	tpchDB   *engine.DuckDB
	tpchErr  error
	tpchDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tpchDB != nil {
		tpchDB.Close()
	}
	if tpchDir != "" {
		os.RemoveAll(tpchDir)
	}
	os.Exit(code)
}

// tinyDB is a DuckDB with catalog tpch, schema tiny: TPC-H scale 0.01 from the repo's
// generator, shared by the tests of this package.
func tinyDB(t *testing.T) *engine.DuckDB {
	t.Helper()
	tpchOnce.Do(func() {
		ctx := context.Background()
		if tpchDir, tpchErr = os.MkdirTemp("", "substraitsql-tpch-"); tpchErr != nil {
			return
		}
		dir := filepath.Join(tpchDir, "tiny")
		gen, err := engine.Open(ctx, 0, nil)
		if err != nil {
			tpchErr = err
			return
		}
		tpchErr = tpchgen.Generate(ctx, gen.DB(), dir, 0.01)
		gen.Close()
		if tpchErr != nil {
			return
		}
		tpchDB, tpchErr = engine.Open(ctx, 0, []engine.Catalog{{Name: "tpch", Schemas: map[string]string{"tiny": dir}}})
	})
	if tpchErr != nil {
		t.Fatal(tpchErr)
	}
	return tpchDB
}

var placeholder = regexp.MustCompile(`'\{(\w+)\}'`)

// referenceSQL is the query's TPC-H SQL with '{table}' placeholders pointing at tpch.tiny.
func referenceSQL(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "data", "tpch", "sql", name+".sql"))
	if err != nil {
		t.Fatal(err)
	}
	return placeholder.ReplaceAllString(string(data), "tpch.tiny.$1")
}

// TestTPCHMatchesDuckDB translates each Isthmus TPC-H plan, runs it, and compares the rows
// with DuckDB's answer to the query's SQL.
func TestTPCHMatchesDuckDB(t *testing.T) {
	db := tinyDB(t).DB()
	for _, name := range tpchQueries {
		t.Run(name, func(t *testing.T) {
			plan := loadPlan(t, name)
			got, err := Translate(plan, Options{Table: tinyTables})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			start := time.Now()
			gotRows, err := queryRows(t.Context(), db, got)
			if err != nil {
				t.Fatalf("run translated SQL: %v\n%s", err, got)
			}
			took := time.Since(start)
			ref := referenceSQL(t, name)
			wantRows, err := queryRows(t.Context(), db, ref)
			if err != nil {
				t.Fatalf("run reference SQL: %v", err)
			}
			ordered := regexp.MustCompile(`(?i)\border\s+by\b`).MatchString(ref)
			if err := compareRows(gotRows, wantRows, ordered); err != nil {
				t.Fatalf("%v\ntranslated SQL:\n%s", err, got)
			}
			if allNull(wantRows) {
				t.Errorf("the reference answer has no non-NULL value; the comparison proves nothing")
			}
			t.Logf("%d rows, equal (ordered=%v), translated query ran in %v; first row %v", len(wantRows), ordered, took.Round(time.Millisecond), wantRows[0])
		})
	}
}

// cell is one normalized result value.
type cell struct {
	null  bool
	num   bool
	f     float64
	scale int // decimal scale, -1 for other numbers
	text  string
}

func (c cell) String() string {
	switch {
	case c.null:
		return "NULL"
	case c.num:
		return fmt.Sprint(c.f)
	}
	return fmt.Sprintf("%q", c.text)
}

func normalize(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{null: true}
	case duckdb.Decimal:
		f, _ := new(big.Rat).SetFrac(x.Value, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Scale)), nil)).Float64()
		return cell{num: true, f: f, scale: int(x.Scale)}
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return cell{num: true, f: f, scale: -1}
	case float64:
		return cell{num: true, f: x, scale: -1}
	case float32:
		return cell{num: true, f: float64(x), scale: -1}
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		var f float64
		fmt.Sscan(fmt.Sprint(x), &f)
		return cell{num: true, f: f, scale: -1}
	case time.Time:
		return cell{text: x.UTC().Format("2006-01-02T15:04:05.999999999")}
	case []byte:
		return cell{text: fmt.Sprintf("%x", x)}
	}
	return cell{text: fmt.Sprint(v)}
}

func queryRows(ctx context.Context, db *sql.DB, q string) ([][]cell, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]cell
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]cell, len(vals))
		for i, v := range vals {
			row[i] = normalize(v)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// cellsEqual compares exactly, except numbers: they agree within 1e-9 relative, or within
// half a unit of the larger decimal scale (a plan's declared decimal type may round a
// value DuckDB's SQL keeps as a DOUBLE, e.g. avg of a decimal).
func cellsEqual(a, b cell) bool {
	if a.null || b.null {
		return a.null == b.null
	}
	if a.num != b.num {
		return false
	}
	if !a.num {
		return a.text == b.text
	}
	tol := 1e-9 * math.Max(1, math.Max(math.Abs(a.f), math.Abs(b.f)))
	if s := max(a.scale, b.scale); s >= 0 && (a.scale < 0 || b.scale < 0 || a.scale != b.scale) {
		tol = math.Max(tol, 0.5*math.Pow(10, -float64(s))*(1+1e-9))
	}
	return math.Abs(a.f-b.f) <= tol
}

func rowsEqual(a, b []cell) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !cellsEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// textKey is a row's non-numeric cells, for bucketing rows before tolerant matching.
func textKey(r []cell) string {
	var b strings.Builder
	for _, c := range r {
		if !c.num {
			b.WriteString(c.String())
		}
		b.WriteByte(0)
	}
	return b.String()
}

// compareRows compares row lists in order, or as multisets when ordered is false.
func compareRows(got, want [][]cell, ordered bool) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d rows, want %d (first rows: got %v, want %v)", len(got), len(want), head(got), head(want))
	}
	if ordered {
		for i := range want {
			if !rowsEqual(got[i], want[i]) {
				return fmt.Errorf("row %d: got %v, want %v", i, got[i], want[i])
			}
		}
		return nil
	}
	buckets := map[string][][]cell{}
	for _, r := range got {
		buckets[textKey(r)] = append(buckets[textKey(r)], r)
	}
	for i, w := range want {
		b := buckets[textKey(w)]
		found := -1
		for j, g := range b {
			if rowsEqual(g, w) {
				found = j
				break
			}
		}
		if found < 0 {
			return fmt.Errorf("row %d of the reference, %v, is missing (candidates %v)", i, w, head(b))
		}
		buckets[textKey(w)] = append(b[:found], b[found+1:]...)
	}
	return nil
}

func allNull(rows [][]cell) bool {
	for _, r := range rows {
		for _, c := range r {
			if !c.null {
				return false
			}
		}
	}
	return true
}

func head(rows [][]cell) [][]cell {
	if len(rows) > 3 {
		return rows[:3]
	}
	return rows
}
