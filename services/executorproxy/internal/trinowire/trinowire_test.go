package trinowire

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/trinodb/trino-go-client/trino"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// openDuckDB opens a fresh in-memory DuckDB database with the ENUM type the tests use.
func openDuckDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TYPE mood AS ENUM ('sad', 'happy')"); err != nil {
		t.Fatal(err)
	}
	return db
}

// jsonString marshals v the way a Trino coordinator does (no HTML escaping).
func jsonString(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// Type-signature JSON builders, spelled as Trino's ClientTypeSignature serialises.
func sig(raw string, args ...string) string {
	return `{"rawType":"` + raw + `","arguments":[` + strings.Join(args, ",") + `]}`
}
func long(n int) string   { return `{"kind":"LONG","value":` + strconv.Itoa(n) + `}` }
func typ(s string) string { return `{"kind":"TYPE","value":` + s + `}` }
func named(name, s string) string {
	b, _ := json.Marshal(name)
	return `{"kind":"NAMED_TYPE","value":{"fieldName":{"name":` + string(b) + `},"typeSignature":` + s + `}}`
}

var (
	varcharSig = `{"rawType":"varchar","arguments":[{"kind":"LONG","value":2147483647}]}`
	integerSig = sig("integer")
	dateSig    = sig("date")
)

// Row shapes for trino-go-client's NullRow.
type abRow struct {
	A int64  `trino:"a"`
	B string `trino:"b"`
}
type nullableABRow struct {
	A sql.NullInt64 `trino:"a"`
	B string        `trino:"b"`
}
type listRow struct {
	X trino.NullSlice[float64] `trino:"x"`
}
type dateRow struct {
	D time.Time `trino:"d"`
}
type unionRow struct {
	Num sql.NullInt64  `trino:"num"`
	Str sql.NullString `trino:"str"`
}

// typeCase is one result column of the all-types query: the DuckDB expression, the Trino
// type and signature Columns must give it, the JSON RowEncoder must produce, and what
// trino-go-client must decode from that JSON.
type typeCase struct {
	name  string
	expr  string
	typ   string
	sig   string
	value string
	dest  func() any // pointer for rows.Scan through trino-go-client
	want  any        // expected *dest
}

func ptr[T any]() func() any { return func() any { return new(T) } }

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

var typeCases = []typeCase{
	{"bool", "true", "boolean", `{"rawType":"boolean","arguments":[]}`, `true`, ptr[bool](), true},
	{"tiny", "-7::TINYINT", "tinyint", sig("tinyint"), `-7`, ptr[int64](), int64(-7)},
	{"small", "32000::SMALLINT", "smallint", sig("smallint"), `32000`, ptr[int64](), int64(32000)},
	{"int", "(-2147483648)::INTEGER", "integer", integerSig, `-2147483648`, ptr[int64](), int64(-2147483648)},
	{"big", "9223372036854775807::BIGINT", "bigint", `{"rawType":"bigint","arguments":[]}`, `9223372036854775807`, ptr[int64](), int64(math.MaxInt64)},
	{"huge", "'-170141183460469231731687303715884105728'::HUGEINT", "decimal(38,0)", sig("decimal", long(38), long(0)),
		`"-170141183460469231731687303715884105728"`, ptr[string](), "-170141183460469231731687303715884105728"},
	{"utiny", "255::UTINYINT", "smallint", sig("smallint"), `255`, ptr[int64](), int64(255)},
	{"usmall", "65535::USMALLINT", "integer", integerSig, `65535`, ptr[int64](), int64(65535)},
	{"uint", "4294967295::UINTEGER", "bigint", sig("bigint"), `4294967295`, ptr[int64](), int64(4294967295)},
	{"ubig", "'18446744073709551615'::UBIGINT", "decimal(20,0)", sig("decimal", long(20), long(0)),
		`"18446744073709551615"`, ptr[string](), "18446744073709551615"},
	{"uhuge", "'340282366920938463463374607431768211455'::UHUGEINT", "decimal(38,0)", sig("decimal", long(38), long(0)),
		`"340282366920938463463374607431768211455"`, ptr[string](), "340282366920938463463374607431768211455"},
	{"real", "1.1::FLOAT", "real", sig("real"), `1.1`, ptr[float64](), 1.1},
	{"real_nan", "'NaN'::FLOAT", "real", sig("real"), `"NaN"`, ptr[float64](), math.NaN()},
	{"dbl", "-0.0025::DOUBLE", "double", sig("double"), `-0.0025`, ptr[float64](), -0.0025},
	{"dbl_big", "1e300::DOUBLE", "double", sig("double"), `1e+300`, ptr[float64](), 1e300},
	{"dbl_nan", "'NaN'::DOUBLE", "double", sig("double"), `"NaN"`, ptr[float64](), math.NaN()},
	{"dbl_inf", "'Infinity'::DOUBLE", "double", sig("double"), `"Infinity"`, ptr[float64](), math.Inf(1)},
	{"dbl_ninf", "'-Infinity'::DOUBLE", "double", sig("double"), `"-Infinity"`, ptr[float64](), math.Inf(-1)},
	{"dec", "-123.45::DECIMAL(15,2)", "decimal(15,2)", `{"rawType":"decimal","arguments":[{"kind":"LONG","value":15},{"kind":"LONG","value":2}]}`,
		`"-123.45"`, ptr[string](), "-123.45"},
	{"dec_frac", "-0.05::DECIMAL(4,2)", "decimal(4,2)", sig("decimal", long(4), long(2)), `"-0.05"`, ptr[string](), "-0.05"},
	{"dec_zero", "0::DECIMAL(5,3)", "decimal(5,3)", sig("decimal", long(5), long(3)), `"0.000"`, ptr[string](), "0.000"},
	{"dec_int", "42::DECIMAL(10,0)", "decimal(10,0)", sig("decimal", long(10), long(0)), `"42"`, ptr[string](), "42"},
	{"dec_default", "1.5::DECIMAL", "decimal(18,3)", sig("decimal", long(18), long(3)), `"1.500"`, ptr[string](), "1.500"},
	{"dec_38", "'-12345678901234567890123456789.123456789'::DECIMAL(38,9)", "decimal(38,9)", sig("decimal", long(38), long(9)),
		`"-12345678901234567890123456789.123456789"`, ptr[string](), "-12345678901234567890123456789.123456789"},
	{"str", `'héllo "q" <b>'`, "varchar", varcharSig, `"héllo \"q\" <b>"`, ptr[string](), `héllo "q" <b>`},
	{"bin", `'\xAA\xBB\x00'::BLOB`, "varbinary", sig("varbinary"), `"qrsA"`, ptr[[]byte](), []byte{0xAA, 0xBB, 0x00}},
	{"dt", "DATE '1969-07-20'", "date", dateSig, `"1969-07-20"`, ptr[time.Time](), utc(1969, 7, 20, 0, 0, 0, 0)},
	{"dt_old", "DATE '0044-03-15'", "date", dateSig, `"0044-03-15"`, ptr[time.Time](), utc(44, 3, 15, 0, 0, 0, 0)},
	{"tm", "TIME '12:34:56.789'", "time(6)", sig("time", long(6)), `"12:34:56.789000"`, ptr[time.Time](), utc(0, 1, 1, 12, 34, 56, 789000000)},
	{"tmtz", "'12:00:00+05:30'::TIMETZ", "time(6) with time zone", sig("time with time zone", long(6)), `"12:00:00.000000+05:30"`,
		ptr[time.Time](), time.Date(0, 1, 1, 12, 0, 0, 0, time.FixedZone("", 5*3600+1800))},
	{"tmtz_neg", "'23:59:59.5-08:00'::TIMETZ", "time(6) with time zone", sig("time with time zone", long(6)), `"23:59:59.500000-08:00"`,
		ptr[time.Time](), time.Date(0, 1, 1, 23, 59, 59, 500000000, time.FixedZone("", -8*3600))},
	{"ts", "TIMESTAMP '1960-01-02 03:04:05.123456'", "timestamp(6)", `{"rawType":"timestamp","arguments":[{"kind":"LONG","value":6}]}`,
		`"1960-01-02 03:04:05.123456"`, ptr[time.Time](), utc(1960, 1, 2, 3, 4, 5, 123456000)},
	{"ts_s", "'2020-01-02 03:04:05'::TIMESTAMP_S", "timestamp(0)", sig("timestamp", long(0)), `"2020-01-02 03:04:05"`,
		ptr[time.Time](), utc(2020, 1, 2, 3, 4, 5, 0)},
	{"ts_ms", "'1900-01-02 03:04:05.123'::TIMESTAMP_MS", "timestamp(3)", sig("timestamp", long(3)), `"1900-01-02 03:04:05.123"`,
		ptr[time.Time](), utc(1900, 1, 2, 3, 4, 5, 123000000)},
	{"ts_ns", "'2020-01-02 03:04:05.123456789'::TIMESTAMP_NS", "timestamp(9)", sig("timestamp", long(9)), `"2020-01-02 03:04:05.123456789"`,
		ptr[time.Time](), utc(2020, 1, 2, 3, 4, 5, 123456789)},
	{"tstz", "TIMESTAMPTZ '2020-01-02 03:04:05.5+02'", "timestamp(6) with time zone", sig("timestamp with time zone", long(6)),
		`"2020-01-02 01:04:05.500000 UTC"`, ptr[time.Time](), utc(2020, 1, 2, 1, 4, 5, 500000000)},
	{"iv", "INTERVAL '1 month 2 days 3.5 seconds'", "interval day to second", sig("interval day to second"), `"32 00:00:03.500"`,
		ptr[string](), "32 00:00:03.500"},
	{"iv_neg", "-INTERVAL '90 minutes'", "interval day to second", sig("interval day to second"), `"-0 01:30:00.000"`,
		ptr[string](), "-0 01:30:00.000"},
	{"uu", "'0b3ae1d5-16e6-4c36-9e4c-5b3b3f0b5c0a'::UUID", "uuid", sig("uuid"), `"0b3ae1d5-16e6-4c36-9e4c-5b3b3f0b5c0a"`,
		ptr[string](), "0b3ae1d5-16e6-4c36-9e4c-5b3b3f0b5c0a"},
	{"uu_high", "'f0000000-0000-0000-0000-000000000001'::UUID", "uuid", sig("uuid"), `"f0000000-0000-0000-0000-000000000001"`,
		ptr[string](), "f0000000-0000-0000-0000-000000000001"},
	{"enm", "'happy'::mood", "varchar", varcharSig, `"happy"`, ptr[string](), "happy"},
	{"js", `'{"b":"x<y","a":[1,2.5,null]}'::JSON`, "json", sig("json"), `"{\"a\":[1,2.5,null],\"b\":\"x<y\"}"`,
		ptr[string](), `{"a":[1,2.5,null],"b":"x<y"}`},
	{"lst", "[1, NULL, 3]", "array(integer)", `{"rawType":"array","arguments":[{"kind":"TYPE","value":{"rawType":"integer","arguments":[]}}]}`,
		`[1,null,3]`, ptr[trino.NullSlice[sql.NullInt64]](),
		trino.NullSlice[sql.NullInt64]{Slice: []sql.NullInt64{{Int64: 1, Valid: true}, {}, {Int64: 3, Valid: true}}, Valid: true}},
	// DuckDB cannot CASE over a fixed-size ARRAY, so this expression yields row 2's NULL itself.
	{"arr", "(CASE WHEN r = 1 THEN [1, 2, 3] END)::INTEGER[3]", "array(integer)", sig("array", typ(integerSig)), `[1,2,3]`,
		ptr[trino.NullSlice[int64]](), trino.NullSlice[int64]{Slice: []int64{1, 2, 3}, Valid: true}},
	{"lst_lst", "[[1], [2, 3], NULL]", "array(array(integer))", sig("array", typ(sig("array", typ(integerSig)))), `[[1],[2,3],null]`,
		ptr[trino.NullSlice[trino.NullSlice[int64]]](), trino.NullSlice[trino.NullSlice[int64]]{Slice: []trino.NullSlice[int64]{
			{Slice: []int64{1}, Valid: true}, {Slice: []int64{2, 3}, Valid: true}, {}}, Valid: true}},
	{"lst_empty", "[]::VARCHAR[]", "array(varchar)", sig("array", typ(varcharSig)), `[]`,
		ptr[trino.NullSlice[string]](), trino.NullSlice[string]{Slice: []string{}, Valid: true}},
	{"st", "{'a': 1, 'b': 'x'}", "row(a integer, b varchar)",
		`{"rawType":"row","arguments":[{"kind":"NAMED_TYPE","value":{"fieldName":{"name":"a"},"typeSignature":{"rawType":"integer","arguments":[]}}},` +
			`{"kind":"NAMED_TYPE","value":{"fieldName":{"name":"b"},"typeSignature":{"rawType":"varchar","arguments":[{"kind":"LONG","value":2147483647}]}}}]}`,
		`[1,"x"]`, ptr[trino.NullRow[abRow]](), trino.NullRow[abRow]{Row: abRow{A: 1, B: "x"}, Valid: true}},
	{"st_null", "{'a': NULL::INTEGER, 'b': 'y'}", "row(a integer, b varchar)", sig("row", named("a", integerSig), named("b", varcharSig)),
		`[null,"y"]`, ptr[trino.NullRow[nullableABRow]](), trino.NullRow[nullableABRow]{Row: nullableABRow{B: "y"}, Valid: true}},
	{"st_lst", "{'x': [1.5::DOUBLE, 'Infinity'::DOUBLE]}", "row(x array(double))", sig("row", named("x", sig("array", typ(sig("double"))))),
		`[[1.5,"Infinity"]]`, ptr[trino.NullRow[listRow]](),
		trino.NullRow[listRow]{Row: listRow{X: trino.NullSlice[float64]{Slice: []float64{1.5, math.Inf(1)}, Valid: true}}, Valid: true}},
	{"lst_st", "[{'d': DATE '1900-01-01'}, NULL]", "array(row(d date))", sig("array", typ(sig("row", named("d", dateSig)))),
		`[["1900-01-01"],null]`, ptr[trino.NullSlice[trino.NullRow[dateRow]]](),
		trino.NullSlice[trino.NullRow[dateRow]]{Slice: []trino.NullRow[dateRow]{{Row: dateRow{D: utc(1900, 1, 1, 0, 0, 0, 0)}, Valid: true}, {}}, Valid: true}},
	{"mp", "MAP {'k': 1, 'z': NULL}", "map(varchar, integer)", `{"rawType":"map","arguments":[{"kind":"TYPE","value":` + varcharSig + `},{"kind":"TYPE","value":{"rawType":"integer","arguments":[]}}]}`,
		`{"k":1,"z":null}`, ptr[trino.NullMap[string, sql.NullInt64]](),
		trino.NullMap[string, sql.NullInt64]{Map: map[string]sql.NullInt64{"k": {Int64: 1, Valid: true}, "z": {}}, Valid: true}},
	{"mp_int", "MAP {1: [DATE '2000-01-01'], 2: []}", "map(integer, array(date))", sig("map", typ(integerSig), typ(sig("array", typ(dateSig)))),
		`{"1":["2000-01-01"],"2":[]}`, func() any { return &trino.NullMap[int64, trino.NullSlice[time.Time]]{Location: time.UTC} },
		trino.NullMap[int64, trino.NullSlice[time.Time]]{Map: map[int64]trino.NullSlice[time.Time]{
			1: {Slice: []time.Time{utc(2000, 1, 1, 0, 0, 0, 0)}, Valid: true}, 2: {Slice: []time.Time{}, Valid: true}}, Valid: true, Location: time.UTC}},
	{"mp_dec", "MAP {'a': 1.50::DECIMAL(4,2)}", "map(varchar, decimal(4,2))", sig("map", typ(varcharSig), typ(sig("decimal", long(4), long(2)))),
		`{"a":"1.50"}`, ptr[trino.NullMap[string, string]](), trino.NullMap[string, string]{Map: map[string]string{"a": "1.50"}, Valid: true}},
	{"un", "union_value(num := 2)::UNION(num INTEGER, str VARCHAR)", "row(num integer, str varchar)",
		sig("row", named("num", integerSig), named("str", varcharSig)), `[2,null]`, ptr[trino.NullRow[unionRow]](),
		trino.NullRow[unionRow]{Row: unionRow{Num: sql.NullInt64{Int64: 2, Valid: true}}, Valid: true}},
	{"st_quoted", `{'a b': 1, '"q"': 2}`, `row(a b integer, "q" integer)`, sig("row", named("a b", integerSig), named(`"q"`, integerSig)),
		`[1,2]`, ptr[trino.NullRow[struct {
			AB int64 `trino:"a b"`
			Q  int64 `trino:"\"q\""`
		}]](), trino.NullRow[struct {
			AB int64 `trino:"a b"`
			Q  int64 `trino:"\"q\""`
		}]{Row: struct {
			AB int64 `trino:"a b"`
			Q  int64 `trino:"\"q\""`
		}{1, 2}, Valid: true}},
	{"lst_js", `['{"a":1}'::JSON]`, "array(varchar)", sig("array", typ(varcharSig)), `["{\"a\":1}"]`,
		ptr[trino.NullSlice[string]](), trino.NullSlice[string]{Slice: []string{`{"a":1}`}, Valid: true}},
	{"nul", "NULL", "integer", integerSig, `null`, ptr[sql.NullInt64](), sql.NullInt64{}},
}

// allTypesQuery selects every typeCase as a column: values in row 1, NULLs in row 2.
func allTypesQuery() string {
	cols := make([]string, len(typeCases))
	for i, c := range typeCases {
		expr := c.expr
		if !strings.Contains(expr, "r = 1") {
			expr = "CASE WHEN r = 1 THEN " + expr + " END"
		}
		cols[i] = fmt.Sprintf("%s AS %q", expr, c.name)
	}
	return "SELECT " + strings.Join(cols, ",\n  ") + "\nFROM (VALUES (1), (2)) v(r) ORDER BY r"
}

func TestColumnsAndEncode(t *testing.T) {
	db := openDuckDB(t)
	rows, err := db.Query(allTypesQuery())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	cols, err := Columns(cts)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewRowEncoder(cts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(enc.Columns(), cols) {
		t.Errorf("RowEncoder.Columns() differs from Columns()")
	}
	var data [][]any
	for rows.Next() {
		if err := rows.Scan(enc.ScanTargets()...); err != nil {
			t.Fatal(err)
		}
		data = append(data, enc.Encode())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(data) != 2 || len(cols) != len(typeCases) {
		t.Fatalf("got %d rows, %d columns", len(data), len(cols))
	}

	for i, c := range typeCases {
		t.Run(c.name, func(t *testing.T) {
			col := cols[i]
			if col.Name != c.name {
				t.Errorf("name = %q, want %q", col.Name, c.name)
			}
			if col.Type != c.typ {
				t.Errorf("type = %q, want %q (DuckDB %s)", col.Type, c.typ, cts[i].DatabaseTypeName())
			}
			if got := jsonString(t, col.TypeSignature); got != c.sig {
				t.Errorf("typeSignature =\n  %s\nwant\n  %s", got, c.sig)
			}
			if got := jsonString(t, data[0][i]); got != c.value {
				t.Errorf("value = %s, want %s", got, c.value)
			}
			if data[1][i] != nil {
				t.Errorf("NULL row value = %#v, want nil", data[1][i])
			}
		})
	}

	// The whole page is a valid QueryResults document.
	page := protocol.QueryResults{ID: "q", Columns: cols, Data: data, Warnings: []protocol.Warning{}}
	var back map[string]any
	if err := json.Unmarshal([]byte(jsonString(t, page)), &back); err != nil {
		t.Fatalf("page is not valid JSON: %v", err)
	}

	// EstimateSize stays within a factor of two of the real size.
	for i, row := range data {
		actual, est := len(jsonString(t, row)), EstimateSize(row)
		if est < actual/2 || est > actual*2 {
			t.Errorf("row %d: EstimateSize = %d, JSON size %d", i, est, actual)
		}
	}
}

func TestEstimateSize(t *testing.T) {
	tests := []struct {
		row  []any
		want int
	}{
		{[]any{}, 2},
		{[]any{nil}, 6},
		{[]any{int64(-12345), "abc", true}, len(`[-12345,"abc",true]`)},
		{[]any{[]any{int32(1), nil}, map[string]any{"k": "v"}}, len(`[[1,null],{"k":"v"}]`) + 1},
	}
	for _, tt := range tests {
		if got := EstimateSize(tt.row); got != tt.want {
			t.Errorf("EstimateSize(%v) = %d, want %d", tt.row, got, tt.want)
		}
	}
}

func TestParseDuckTypeNames(t *testing.T) {
	tests := []struct {
		duck, trino string
	}{
		{"TIMESTAMP WITH TIME ZONE", "timestamp(6) with time zone"},
		{"time with time zone", "time(6) with time zone"},
		{"STRUCT(a INTEGER, b VARCHAR)", "row(a integer, b varchar)"},
		{`STRUCT("x y" INTEGER[], "q""" MAP(VARCHAR, DOUBLE))[2][]`, `array(array(row(x y array(integer), q" map(varchar, double))))`},
		{"DECIMAL(15,2)", "decimal(15,2)"},
		{"DECIMAL", "decimal(18,3)"},
		{"NUMERIC(5)", "decimal(5,0)"},
		{"ENUM('a', 'b)''')", "varchar"},
		{"VARCHAR(10)", "varchar"},
		{"MAP(INTEGER, VARCHAR[])", "map(integer, array(varchar))"},
		{"LIST(INTEGER)", "array(integer)"},
		{"UNION(num INTEGER, str VARCHAR)", "row(num integer, str varchar)"},
		{"double precision", "double"},
		{"SQLNULL", "unknown"},
		{"TIMESTAMP_NS[]", "array(timestamp(9))"},
	}
	for _, tt := range tests {
		pt, err := parseDuckType(tt.duck)
		if err != nil {
			t.Errorf("parseDuckType(%q): %v", tt.duck, err)
			continue
		}
		if got, _ := trinoType(pt); got != tt.trino {
			t.Errorf("%q → %q, want %q", tt.duck, got, tt.trino)
		}
	}
	for _, bad := range []string{"", "BIT", "BIGNUM", "VARINT", "ANY", "INVALID", "STRUCT(", "STRUCT()", "MAP(INTEGER)",
		"DECIMAL(39,2)", "DECIMAL(5,6)", "INTEGER[", "INTEGER junk", "ENUM('a'", "STRUCT(\"a INTEGER)"} {
		if _, err := parseDuckType(bad); err == nil {
			t.Errorf("parseDuckType(%q) succeeded, want an error", bad)
		}
	}
}

func TestColumnsRejectsUnsupportedTypes(t *testing.T) {
	db := openDuckDB(t)
	rows, err := db.Query("SELECT 1 AS ok, '101'::BIT AS bits")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { _, err := Columns(cts); return err },
		func() error { _, err := NewRowEncoder(cts); return err },
	} {
		err := f()
		var qe *protocol.QueryError
		if !errors.As(err, &qe) || qe.ErrorName != "NOT_SUPPORTED" || !strings.Contains(qe.Message, "'bits'") {
			t.Errorf("got %v, want a NOT_SUPPORTED QueryError naming column bits", err)
		}
		if got := ErrorFromDuckDB(err, ""); got != qe {
			t.Errorf("ErrorFromDuckDB did not pass the QueryError through")
		}
	}
}

// fakeCoordinator speaks the minimal statement protocol over real DuckDB: POST
// /v1/statement runs the query and answers QUEUED with a nextUri; the GET of that URI
// returns the columns and all data (or the error) with no nextUri. trino-go-client reads
// columns and data only from GET responses, so the results cannot ride on the POST reply.
type fakeCoordinator struct {
	db    *sql.DB
	srv   *httptest.Server
	mu    sync.Mutex
	next  int
	pages map[string]protocol.QueryResults
}

func newFakeCoordinator(t *testing.T, db *sql.DB) *fakeCoordinator {
	f := &fakeCoordinator{db: db, pages: map[string]protocol.QueryResults{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCoordinator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const executing = "/v1/statement/executing/"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/statement":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.next++
		id := fmt.Sprintf("20260101_000000_%05d_test1", f.next)
		f.mu.Unlock()
		page := f.run(r.Context(), id, string(body))
		f.mu.Lock()
		f.pages[id] = page
		f.mu.Unlock()
		writeJSON(w, protocol.QueryResults{
			ID: id, InfoURI: f.srv.URL + "/ui/" + id, NextURI: f.srv.URL + executing + id + "/y0/1",
			Stats: protocol.QueuedStats(0, 0), Warnings: []protocol.Warning{},
		})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, executing):
		id, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, executing), "/")
		f.mu.Lock()
		page, ok := f.pages[id]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, page)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// run executes query on DuckDB and renders the final QueryResults page.
func (f *fakeCoordinator) run(ctx context.Context, id, query string) protocol.QueryResults {
	res := protocol.QueryResults{ID: id, InfoURI: f.srv.URL + "/ui/" + id, Warnings: []protocol.Warning{}}
	fail := func(err error) protocol.QueryResults {
		res.Columns, res.Data = nil, nil
		res.Stats.State = protocol.StateFailed
		res.Error = ErrorFromDuckDB(err, query)
		return res
	}
	rows, err := f.db.QueryContext(ctx, query)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return fail(err)
	}
	enc, err := NewRowEncoder(cts)
	if err != nil {
		return fail(err)
	}
	res.Columns = enc.Columns()
	for rows.Next() {
		if err := rows.Scan(enc.ScanTargets()...); err != nil {
			return fail(err)
		}
		res.Data = append(res.Data, enc.Encode())
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	res.Stats.State = protocol.StateFinished
	return res
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// equalValues compares decoded values: time.Time by instant, NaN equal to NaN.
func equalValues(got, want any) bool {
	if wt, ok := want.(time.Time); ok {
		gt, ok := got.(time.Time)
		return ok && gt.Equal(wt)
	}
	if wf, ok := want.(float64); ok && math.IsNaN(wf) {
		gf, ok := got.(float64)
		return ok && math.IsNaN(gf)
	}
	return reflect.DeepEqual(got, want)
}

func TestTrinoGoClientRoundTrip(t *testing.T) {
	coord := newFakeCoordinator(t, openDuckDB(t))
	dsn := "http://user@" + coord.srv.Listener.Addr().String() + "?catalog=tpch&schema=tiny&timezone=UTC"
	client, err := sql.Open("trino", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	rows, err := client.Query(allTypesQuery())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(typeCases) {
		t.Fatalf("client sees %d columns, want %d", len(names), len(typeCases))
	}

	// Row 1: every column scanned into its typed destination.
	if !rows.Next() {
		t.Fatalf("no first row: %v", rows.Err())
	}
	dests := make([]any, len(typeCases))
	for i, c := range typeCases {
		dests[i] = c.dest()
	}
	if err := rows.Scan(dests...); err != nil {
		t.Fatalf("scan row 1: %v", err)
	}
	for i, c := range typeCases {
		t.Run(c.name, func(t *testing.T) {
			if names[i] != c.name {
				t.Errorf("column name = %q, want %q", names[i], c.name)
			}
			// trino-go-client reports the upper-cased rawType, or the whole type name for
			// arrays, maps and rows, and decimal precision and scale from the arguments.
			var s protocol.TypeSignature
			if err := json.Unmarshal([]byte(c.sig), &s); err != nil {
				t.Fatal(err)
			}
			wantName := strings.ToUpper(s.RawType)
			if s.RawType == "array" || s.RawType == "map" || s.RawType == "row" {
				wantName = strings.ToUpper(c.typ)
			}
			if got := cts[i].DatabaseTypeName(); got != wantName {
				t.Errorf("client type name = %q, want %q", got, wantName)
			}
			if s.RawType == "decimal" {
				p, sc, ok := cts[i].DecimalSize()
				if want := fmt.Sprintf("decimal(%d,%d)", p, sc); !ok || want != c.typ {
					t.Errorf("client decimal size = %d,%d, want %s", p, sc, c.typ)
				}
			}
			got := reflect.ValueOf(dests[i]).Elem().Interface()
			if !equalValues(got, c.want) {
				t.Errorf("decoded %#v, want %#v", got, c.want)
			}
		})
	}

	// Row 2: every column NULL.
	if !rows.Next() {
		t.Fatalf("no second row: %v", rows.Err())
	}
	nulls := make([]any, len(typeCases))
	ptrs := make([]any, len(typeCases))
	for i := range nulls {
		ptrs[i] = &nulls[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatalf("scan row 2: %v", err)
	}
	for i, v := range nulls {
		if v != nil {
			t.Errorf("row 2 column %s = %#v, want NULL", typeCases[i].name, v)
		}
	}
	if rows.Next() {
		t.Errorf("unexpected third row")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	// A DuckDB error reaches the client as the Trino error.
	_, err = client.Query("select * from nosuch")
	var failed *trino.ErrQueryFailed
	var reason *trino.ErrTrino
	if !errors.As(err, &failed) || !errors.As(failed.Reason, &reason) {
		t.Fatalf("got %v (%T), want trino.ErrQueryFailed with ErrTrino", err, err)
	}
	if reason.ErrorName != "TABLE_NOT_FOUND" || reason.ErrorCode != 46 || reason.ErrorType != "USER_ERROR" ||
		reason.ErrorLocation != (trino.ErrorLocation{LineNumber: 1, ColumnNumber: 15}) ||
		!strings.HasPrefix(reason.Message, "line 1:15: Table 'nosuch' does not exist") {
		t.Errorf("client error = %+v", reason)
	}
}

// queryErr runs query on DuckDB, reading all rows, and returns the first error.
func queryErr(ctx context.Context, db *sql.DB, query string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

func TestErrorFromDuckDB(t *testing.T) {
	db := openDuckDB(t)
	for _, setup := range []string{"CREATE TABLE pk(i INTEGER PRIMARY KEY)", "CREATE TABLE dup(i INTEGER)"} {
		if _, err := db.Exec(setup); err != nil {
			t.Fatal(err)
		}
	}
	longLine := "select 1,\n  " + strings.Repeat("2 + ", 40) + "3 4"

	tests := []struct {
		name      string
		sql       string
		errName   string
		msgPrefix string
		loc       *protocol.ErrorLocation
	}{
		{"syntax", "selec 1", "SYNTAX_ERROR", `line 1:1: syntax error at or near "selec"`, &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 1}},
		{"syntax at end", "select 1 +", "SYNTAX_ERROR", "line 1:11: syntax error at end of input", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 11}},
		{"syntax in a long second line", longLine, "SYNTAX_ERROR", `line 2:165: syntax error at or near "4"`, &protocol.ErrorLocation{LineNumber: 2, ColumnNumber: 165}},
		{"table", "select * from nosuch", "TABLE_NOT_FOUND", "line 1:15: Table 'nosuch' does not exist\nDid you mean", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 15}},
		{"qualified table", "SELECT * FROM memory.nosuch.t", "TABLE_NOT_FOUND", "line 1:15: Table 'memory.nosuch.t' does not exist", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 15}},
		{"table on line 3", "select\n  *\nfrom  nosuch", "TABLE_NOT_FOUND", "line 3:7: Table 'nosuch' does not exist", &protocol.ErrorLocation{LineNumber: 3, ColumnNumber: 7}},
		{"catalog", "select * from nocat.s.t", "CATALOG_NOT_FOUND", "Catalog 'nocat' does not exist", nil},
		{"schema", "create table nosuch.t(i int)", "SCHEMA_NOT_FOUND", "Schema 'nosuch' does not exist", nil},
		{"use schema", "USE nosuch", "SCHEMA_NOT_FOUND", "Schema 'nosuch' does not exist", nil},
		{"set schema", "SET schema = 'nosuch'", "SCHEMA_NOT_FOUND", "Schema 'nosuch' does not exist", nil},
		{"use catalog.schema", "USE nosuch.foo", "CATALOG_NOT_FOUND", "Catalog 'nosuch' does not exist or has no schema 'foo'", nil},
		{"column", "select nocol from (select 1 a)", "COLUMN_NOT_FOUND", "line 1:8: Column 'nocol' cannot be resolved\nCandidate bindings: \"a\"", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 8}},
		{"column of table", "select t.nosuch from (select 1 a) t", "COLUMN_NOT_FOUND", "line 1:8: Column 't.nosuch' cannot be resolved", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 8}},
		{"join column", "select * from range(3) t1 join range(3) t2 using (nosuch)", "COLUMN_NOT_FOUND", "Column 'nosuch' cannot be resolved", nil},
		{"function", "select foo(1)", "FUNCTION_NOT_FOUND", "line 1:8: Function 'foo' not registered", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 8}},
		{"table function", "select * from nosuch_fn()", "FUNCTION_NOT_FOUND", "line 1:15: Function 'nosuch_fn' not registered", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 15}},
		{"function arguments", "select abs('x', 1)", "FUNCTION_NOT_FOUND", "line 1:8: No function matches the given name and argument types 'abs(STRING_LITERAL, INTEGER_LITERAL)'", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 8}},
		{"operator types", "select 'a' + 1", "TYPE_MISMATCH", "line 1:12: Could not choose a best candidate function", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 12}},
		{"cast", "select 'x'::integer", "INVALID_CAST_ARGUMENT", "line 1:11: Could not convert string 'x' to INT32", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 11}},
		{"cast out of range", "select CAST(300 AS TINYINT)", "NUMERIC_VALUE_OUT_OF_RANGE", "line 1:8: Type INT32 with value 300 can't be cast", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 8}},
		{"impossible cast", "select 1::integer::blob", "TYPE_MISMATCH", "line 1:18: Unimplemented type for cast (INTEGER -> BLOB)", &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 18}},
		{"overflow", "select 2147483647::integer + 1", "NUMERIC_VALUE_OUT_OF_RANGE", "Overflow in addition of INT32 (2147483647 + 1)!", nil},
		// DuckDB returns NULL for x/0 (see TestDuckDBDivisionByZeroIsNull); its own
		// "Division by zero" text still maps to DIVISION_BY_ZERO.
		{"division by zero", "select error('Division by zero')", "DIVISION_BY_ZERO", "Division by zero", nil},
		{"not implemented", "select 1 as x order by x using <", "NOT_SUPPORTED", "Unimplemented order by type", nil},
		{"constraint", "insert into pk values (1), (1)", "CONSTRAINT_VIOLATION", "PRIMARY KEY or UNIQUE constraint violation", nil},
		{"subquery rows", "select (select 1 union all select 2)", "SUBQUERY_MULTIPLE_ROWS", "Scalar sub-query has returned multiple rows", nil},
		{"invalid argument", "select [1, 2, 3][0:1:0]", "INVALID_FUNCTION_ARGUMENT", "Slice step cannot be zero", nil},
		{"table exists", "create table dup(i int)", "TABLE_ALREADY_EXISTS", "Table 'dup' already exists", nil},
		{"other binder error", "select array_agg(x) over () from (select 1 x) group by all having 1", "GENERIC_USER_ERROR", "Cannot group on a window clause", nil},
		{"io error", "select * from read_csv('/nonexistent/x.csv')", "GENERIC_INTERNAL_ERROR", `line 1:15: IO Error: No files found that match the pattern "/nonexistent/x.csv"`, &protocol.ErrorLocation{LineNumber: 1, ColumnNumber: 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := queryErr(context.Background(), db, tt.sql)
			if err == nil {
				t.Fatalf("%q did not fail", tt.sql)
			}
			qe := ErrorFromDuckDB(err, tt.sql)
			checkQueryError(t, qe, tt.errName, tt.msgPrefix, tt.loc)
			if strings.Contains(qe.Message, "\nLINE ") || strings.Contains(qe.Message, "^") {
				t.Errorf("message keeps DuckDB's excerpt: %q", qe.Message)
			}
		})
	}
}

// checkQueryError asserts the code, message prefix, location and failureInfo of qe.
func checkQueryError(t *testing.T, qe *protocol.QueryError, errName, msgPrefix string, loc *protocol.ErrorLocation) {
	t.Helper()
	if qe == nil {
		t.Fatal("nil QueryError")
	}
	if qe.ErrorName != errName {
		t.Errorf("errorName = %s, want %s (message %q)", qe.ErrorName, errName, qe.Message)
	}
	if !strings.HasPrefix(qe.Message, msgPrefix) {
		t.Errorf("message = %q, want prefix %q", qe.Message, msgPrefix)
	}
	if !reflect.DeepEqual(qe.ErrorLocation, loc) {
		t.Errorf("errorLocation = %+v, want %+v", qe.ErrorLocation, loc)
	}
	fi := qe.FailureInfo
	if fi == nil || fi.Type == "" || fi.Message != qe.Message || !reflect.DeepEqual(fi.ErrorLocation, loc) || fi.Stack == nil || fi.Suppressed == nil {
		t.Errorf("failureInfo = %+v", fi)
	}
}

// TestDuckDBDivisionByZeroIsNull documents why no query of this DuckDB version raises a
// division-by-zero error: x / 0 is IEEE division, x // 0 and x % 0 are NULL.
func TestDuckDBDivisionByZeroIsNull(t *testing.T) {
	db := openDuckDB(t)
	var a, b, c sql.NullFloat64
	if err := db.QueryRow("select 1 / 0, 1 // 0, 1 % 0").Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	if !a.Valid || !math.IsInf(a.Float64, 1) || b.Valid || c.Valid {
		t.Errorf("DuckDB now returns %v %v %v for division by zero; check ErrorFromDuckDB's mapping", a, b, c)
	}
}

func TestErrorFromDuckDBContext(t *testing.T) {
	db := openDuckDB(t)
	const slow = "select count(*) from range(10000000000) a"

	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(20*time.Millisecond, cancel)
	defer timer.Stop()
	err := queryErr(ctx, db, slow)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want a cancellation", err)
	}
	checkQueryError(t, ErrorFromDuckDB(err, slow), "USER_CANCELED", "Query was canceled", nil)

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = queryErr(ctx, db, slow)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline", err)
	}
	qe := ErrorFromDuckDB(err, slow)
	checkQueryError(t, qe, "EXCEEDED_TIME_LIMIT", "Query exceeded", nil)
	if qe.ErrorType != "INSUFFICIENT_RESOURCES" {
		t.Errorf("errorType = %s", qe.ErrorType)
	}
}

func TestErrorFromDuckDBOtherErrors(t *testing.T) {
	if ErrorFromDuckDB(nil, "") != nil {
		t.Error("nil error must give nil")
	}
	qe := ErrorFromDuckDB(errors.New("boom"), "select 1")
	checkQueryError(t, qe, "GENERIC_INTERNAL_ERROR", "boom", nil)
	if qe.ErrorType != "INTERNAL_ERROR" || qe.ErrorCode != 65536 {
		t.Errorf("got %+v", qe)
	}
	// A driver-wrapped DuckDB message is still recognised.
	wrapped := fmt.Errorf("database/sql/driver: could not prepare query: %w",
		&duckdb.Error{Type: duckdb.ErrorTypeInterrupt, Msg: "INTERRUPT Error: Interrupted!"})
	checkQueryError(t, ErrorFromDuckDB(wrapped, ""), "USER_CANCELED", "Query was canceled", nil)
	own := protocol.NewError(protocol.QueryRejected, "no")
	if ErrorFromDuckDB(fmt.Errorf("x: %w", own), "") != own {
		t.Error("a wrapped QueryError must be returned as it is")
	}
}

var validErrorTypes = map[string]bool{"USER_ERROR": true, "INTERNAL_ERROR": true, "INSUFFICIENT_RESOURCES": true, "EXTERNAL": true}

func FuzzErrorFromDuckDB(f *testing.F) {
	for _, seed := range [][2]string{
		{"Parser Error: syntax error at or near \"selec\"\n\nLINE 1: selec 1\n        ^", "selec 1"},
		{"Parser Error: syntax error at end of input", "select 1 +"},
		{"Parser Error: syntax error at end of input", ""},
		{"Catalog Error: Table with name nosuch does not exist!\nDid you mean \"pg_sequences\"?\n\nLINE 1: select * from nosuch\n                      ^", "select * from nosuch"},
		{"Binder Error: Referenced column \"nocol\" not found in FROM clause!\nCandidate bindings: \"a\"\n\nLINE 1: select nocol from (select 1 a)\n               ^", "select nocol from (select 1 a)"},
		{"Parser Error: syntax error at or near \"4\"\n\nLINE 2: ...+ 2 + 2 + 3 4\n                        ^", "select 1,\n 2 + 3 4"},
		{"Catalog Error: SET schema: No catalog + schema named \"a.b\" found.", "USE a.b"},
		{"LINE 99999999999999999999: x\n^", "x"},
		{"LINE 0: \n        ^", ""},
		{"LINE 3: ...\n           ^", "a\nb"},
		{"Conversion Error: x\n\nLINE 1: \"\n        ^", "\""},
		{"", ""},
		{"Out of Range Error: ", "é"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, msg, query string) {
		for _, err := range []error{errors.New(msg), &duckdb.Error{Msg: msg}} {
			qe := ErrorFromDuckDB(err, query)
			if qe == nil || qe.ErrorName == "" || !validErrorTypes[qe.ErrorType] || qe.FailureInfo == nil {
				t.Fatalf("ErrorFromDuckDB(%q, %q) = %+v", msg, query, qe)
			}
			if l := qe.ErrorLocation; l != nil && (l.LineNumber < 1 || l.ColumnNumber < 1) {
				t.Fatalf("ErrorFromDuckDB(%q, %q): location %+v", msg, query, l)
			}
		}
	})
}
