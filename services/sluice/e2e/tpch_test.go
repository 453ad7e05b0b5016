package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/sluicehq/sluice/pkg/rowcompare"
	_ "github.com/trinodb/trino-go-client/trino" // registers the "trino" driver
)

// TestTPCHThroughTrinoClient runs TPC-H queries with trino-go-client through all five
// services and compares the rows with DuckDB running the same SQL on the same files.
func TestTPCHThroughTrinoClient(t *testing.T) {
	url := upInProcess(t, nil)
	client, err := sql.Open("trino", strings.Replace(url, "http://", "http://analyst@", 1)+"?catalog=tpch&schema=tiny&source=e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	direct := openDirect(t)
	for _, n := range []int{1, 3, 6, 13} {
		t.Run(fmt.Sprintf("q%02d", n), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			got := queryRows(t, ctx, client, tpchSQL(t, n, "tpch.tiny."))
			want := queryRows(t, ctx, direct, tpchSQL(t, n, "tpch.tiny."))
			if len(want) == 0 {
				t.Fatalf("q%02d: DuckDB returned no rows; the test data is too thin", n)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("q%02d through Sluice differs from DuckDB direct\n got: %v\nwant: %v", n, head(got), head(want))
			}
		})
	}
	t.Run("unqualified tables use the session catalog and schema", func(t *testing.T) {
		rows := queryRows(t, context.Background(), client, "SELECT count(*) FROM nation")
		if len(rows) != 1 || rows[0][0] != "25" {
			t.Fatalf("count(*) FROM nation = %v, want 25", rows)
		}
	})
}

// openDirect opens DuckDB on the same Parquet files, with the same tpch.tiny names.
func openDirect(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mustExec := func(q string) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec("ATTACH ':memory:' AS tpch")
	mustExec("CREATE SCHEMA tpch.tiny")
	for _, table := range []string{"region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"} {
		mustExec(fmt.Sprintf("CREATE VIEW tpch.tiny.%s AS SELECT * FROM read_parquet('%s')", table,
			filepath.Join(sharedTPCH, "tpch", "tiny", table+".parquet")))
	}
	return db
}

// queryRows runs q and normalises every value to a string, so that the Trino wire types
// (decimals as strings, dates as time.Time) and DuckDB's native types compare equal.
func queryRows(t *testing.T, ctx context.Context, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	vals, err := rowcompare.ScanValues(rows)
	if err != nil {
		t.Fatalf("rows: %v", err)
	}
	out := make([][]string, len(vals))
	for r, vs := range vals {
		out[r] = make([]string, len(vs))
		for i, v := range vs {
			out[r][i] = normalize(v)
		}
	}
	return out
}

func normalize(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return strconv.FormatFloat(x, 'g', 12, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', 6, 32)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format("2006-01-02 15:04:05.000000")
	case duckdb.Decimal:
		return decimalString(x.Value, int(x.Scale))
	case *big.Int:
		return x.String()
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

func decimalString(v *big.Int, scale int) string {
	s := new(big.Int).Abs(v).String()
	for len(s) <= scale {
		s = "0" + s
	}
	if scale > 0 {
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if v.Sign() < 0 {
		s = "-" + s
	}
	return s
}

func head(rows [][]string) [][]string {
	if len(rows) > 5 {
		return rows[:5]
	}
	return rows
}
