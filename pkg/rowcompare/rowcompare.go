// Package rowcompare compares query results from different engines and wires: values are
// normalized into cells (numbers as float64 with their decimal scale, everything else as
// text), rows are compared in order when the query sorts and as multisets otherwise, and
// numbers agree within a relative 1e-9 or half a unit of the larger decimal scale. The
// fragment runner's, the translator's and the end-to-end tests compare plan results with
// DuckDB's SQL through it.
package rowcompare

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// Cell is one normalized result value.
type Cell struct {
	null  bool
	num   bool
	f     float64
	scale int // decimal scale, -1 for other numbers
	text  string
}

// String shows the cell in messages.
func (c Cell) String() string {
	switch {
	case c.null:
		return "NULL"
	case c.num:
		return fmt.Sprint(c.f)
	}
	return fmt.Sprintf("%q", c.text)
}

// Normalize turns a value scanned from database/sql into a cell.
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
	vals, err := ScanValues(rows)
	out := make([][]Cell, len(vals))
	for r, vs := range vals {
		out[r] = make([]Cell, len(vs))
		for i, v := range vs {
			out[r][i] = Normalize(v)
		}
	}
	return out, err
}

// ScanValues reads all of rows as the driver's values.
func ScanValues(rows *sql.Rows) ([][]any, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// QueryRows runs q on db and returns its rows as cells.
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

// Head is the first rows, for messages.
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

var decimalType = regexp.MustCompile(`^decimal\(\d+,\s*(\d+)\)$`)

// FromWire turns a value of a Trino client protocol result page (decoded with
// json.Decoder.UseNumber) into a cell; typ is its column's type ("decimal(15,2)",
// "bigint", "double", "date", "varchar", …).
func FromWire(typ string, v any) Cell {
	if v == nil {
		return Cell{null: true}
	}
	text := fmt.Sprint(v)
	switch {
	case decimalType.MatchString(typ):
		var scale int
		fmt.Sscan(decimalType.FindStringSubmatch(typ)[1], &scale)
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			return Cell{text: text}
		}
		f, _ := r.Float64()
		return Cell{num: true, f: f, scale: scale}
	case typ == "bigint" || typ == "integer" || typ == "smallint" || typ == "tinyint" || typ == "double" || typ == "real":
		var f float64
		if _, err := fmt.Sscan(text, &f); err != nil {
			return Cell{text: text}
		}
		return Cell{num: true, f: f, scale: -1}
	case typ == "date":
		if d, err := time.Parse("2006-01-02", text); err == nil {
			return Normalize(d)
		}
	}
	return Cell{text: text}
}
