// Package tpchcheck is test support shared by the packages that run the Isthmus TPC-H
// plans on DuckDB: the vendored queries and plans, a TPC-H tiny database generated once,
// and the comparison of result rows (ordered when the query sorts, as multisets otherwise,
// decimals within the plan's scale). Only tests import it.
package tpchcheck

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

// Queries are the TPC-H queries Isthmus has plans for (all but q15).
var Queries = []string{"q01", "q02", "q03", "q04", "q05", "q06", "q07", "q08", "q09", "q10", "q11",
	"q12", "q13", "q14", "q16", "q17", "q18", "q19", "q20", "q21", "q22"}

var (
	tpchOnce sync.Once
	tpchDB   *engine.DuckDB
	tpchCat  engine.Catalog
	tpchErr  error
	tpchDir  string
)

// TinyDB is a DuckDB with catalog tpch, schema tiny (TPC-H scale 0.01 from the repo's
// generator, laid out as executorproxy.TPCHCatalogs does), shared by the package's tests.
func TinyDB(t *testing.T) (*engine.DuckDB, engine.Catalog) {
	t.Helper()
	tpchOnce.Do(func() {
		ctx := context.Background()
		if tpchDir, tpchErr = os.MkdirTemp("", "fragexec-tpch-"); tpchErr != nil {
			return
		}
		dir := filepath.Join(tpchDir, "tpch", "tiny")
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
		tpchCat = engine.Catalog{Name: "tpch", Schemas: map[string]string{"tiny": dir}}
		tpchDB, tpchErr = engine.Open(ctx, 0, []engine.Catalog{tpchCat})
	})
	if tpchErr != nil {
		t.Fatal(tpchErr)
	}
	return tpchDB, tpchCat
}

// SharedDir finds the shared test data: $SLUICE_SHARED_DIR, or a "shared" directory
// with data/tpch next to the working directory or one of its parents.
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SLUICE_SHARED_DIR"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for {
		for _, cand := range []string{filepath.Join(dir, "shared"), filepath.Join(dir, "..", "shared")} {
			if _, err := os.Stat(filepath.Join(cand, "data", "tpch")); err == nil {
				return cand
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Fatal("shared/ not found (set SLUICE_SHARED_DIR)")
	return ""
}

// ReadShared reads a file under shared/data/tpch.
func ReadShared(t testing.TB, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{SharedDir(t), "data", "tpch"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var placeholder = regexp.MustCompile(`'\{(\w+)\}'`)

// ReferenceSQL is the query's TPC-H SQL with '{table}' placeholders pointing at tpch.tiny.
func ReferenceSQL(t *testing.T, name string) string {
	return placeholder.ReplaceAllString(string(ReadShared(t, "sql", name+".sql")), "tpch.tiny.$1")
}

// Cell is one normalized result value.
type Cell struct {
	null  bool
	num   bool
	f     float64
	scale int // decimal scale, -1 for other numbers
	text  string
}

func (c Cell) String() string {
	switch {
	case c.null:
		return "NULL"
	case c.num:
		return fmt.Sprint(c.f)
	}
	return fmt.Sprintf("%q", c.text)
}

func Normalize(v any) Cell {
	switch x := v.(type) {
	case nil:
		return Cell{null: true}
	case duckdb.Decimal:
		f, _ := new(big.Rat).SetFrac(x.Value, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Scale)), nil)).Float64()
		return Cell{num: true, f: f, scale: int(x.Scale)}
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return Cell{num: true, f: f, scale: -1}
	case float64:
		return Cell{num: true, f: x, scale: -1}
	case float32:
		return Cell{num: true, f: float64(x), scale: -1}
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		var f float64
		fmt.Sscan(fmt.Sprint(x), &f)
		return Cell{num: true, f: f, scale: -1}
	case time.Time:
		return Cell{text: x.UTC().Format("2006-01-02T15:04:05.999999999")}
	case []byte:
		return Cell{text: fmt.Sprintf("%x", x)}
	}
	return Cell{text: fmt.Sprint(v)}
}

// ScanRows reads all of rows as normalized cells.
func ScanRows(rows *sql.Rows) ([][]Cell, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]Cell
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]Cell, len(vals))
		for i, v := range vals {
			row[i] = Normalize(v)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func QueryRows(ctx context.Context, db *sql.DB, q string) ([][]Cell, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return ScanRows(rows)
}

// cellsEqual compares exactly, except numbers: they agree within 1e-9 relative, or within
// half a unit of the larger decimal scale (a plan's declared decimal type may round a
// value DuckDB's SQL keeps as a DOUBLE, e.g. avg of a decimal).
func cellsEqual(a, b Cell) bool {
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

func rowsEqual(a, b []Cell) bool {
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
func textKey(r []Cell) string {
	var b strings.Builder
	for _, c := range r {
		if !c.num {
			b.WriteString(c.String())
		}
		b.WriteByte(0)
	}
	return b.String()
}

// CompareRows compares row lists in order, or as multisets when ordered is false.
func CompareRows(got, want [][]Cell, ordered bool) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d rows, want %d (first rows: got %v, want %v)", len(got), len(want), Head(got), Head(want))
	}
	if ordered {
		for i := range want {
			if !rowsEqual(got[i], want[i]) {
				return fmt.Errorf("row %d: got %v, want %v", i, got[i], want[i])
			}
		}
		return nil
	}
	buckets := map[string][][]Cell{}
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
			return fmt.Errorf("row %d of the reference, %v, is missing (candidates %v)", i, w, Head(b))
		}
		buckets[textKey(w)] = append(b[:found], b[found+1:]...)
	}
	return nil
}

func Head(rows [][]Cell) [][]Cell {
	if len(rows) > 3 {
		return rows[:3]
	}
	return rows
}

// AllNull reports whether every value of rows is NULL (a comparison of such rows proves
// nothing).
func AllNull(rows [][]Cell) bool {
	for _, r := range rows {
		for _, c := range r {
			if !c.null {
				return false
			}
		}
	}
	return true
}

// Ordered reports whether a reference query sorts its result (ORDER BY).
func Ordered(sql string) bool { return orderBy.MatchString(sql) }

var orderBy = regexp.MustCompile(`(?i)\border\s+by\b`)

// Cleanup removes the database TinyDB made; call it from TestMain after m.Run.
func Cleanup() {
	if tpchDB != nil {
		tpchDB.Close()
	}
	if tpchDir != "" {
		os.RemoveAll(tpchDir)
	}
}

// TinySQL is the database/sql handle of TinyDB.
func TinySQL(t *testing.T) *sql.DB {
	t.Helper()
	db, _ := TinyDB(t)
	return db.DB()
}
