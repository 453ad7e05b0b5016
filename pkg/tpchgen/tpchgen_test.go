package tpchgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/sluicehq/sluice/pkg/rowcompare"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func generate(t *testing.T, db *sql.DB, scale float64) (string, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	if err := Generate(context.Background(), db, dir, scale); err != nil {
		t.Fatalf("Generate(%v): %v", scale, err)
	}
	return dir, time.Since(start)
}

// createViews makes one view per table over the Parquet files in dir.
func createViews(t *testing.T, db *sql.DB, dir string) {
	t.Helper()
	for _, tb := range Tables() {
		q := fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet(%s)", tb, sqlString(filepath.Join(dir, tb+".parquet")))
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

func queryInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tableChecksum is an order-sensitive digest of every value of a table
// file: its row count and the MD5 of all rows rendered as text (plain
// column casts, so it does not depend on DuckDB's hash() or struct format).
func tableChecksum(t *testing.T, db *sql.DB, path string) string {
	t.Helper()
	src := fmt.Sprintf("read_parquet(%s, file_row_number = true)", sqlString(path))
	rows, err := db.Query("SELECT column_name FROM (DESCRIBE SELECT * FROM " + src + ") WHERE column_name <> 'file_row_number'")
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, "CAST("+c+" AS VARCHAR)")
	}
	rows.Close()
	var n int64
	var sum string
	q := fmt.Sprintf("SELECT count(*), md5(string_agg(concat_ws('|', %s), chr(10) ORDER BY file_row_number)) FROM %s",
		strings.Join(cols, ", "), src)
	if err := db.QueryRow(q).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%s", n, sum)
}

func TestTiny(t *testing.T) {
	db := openDB(t)
	dir, took := generate(t, db, 0.01)
	t.Logf("scale 0.01 generated in %v", took)
	if took > 30*time.Second {
		t.Errorf("scale 0.01 took %v", took)
	}
	if !Exists(dir) {
		t.Fatal("Exists = false after Generate")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for _, tb := range Tables() {
		want = append(want, tb+".parquet")
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("dir holds %v, want exactly %v (no temporary files)", names, want)
	}
	createViews(t, db, dir)

	t.Run("RowCounts", func(t *testing.T) { testRowCounts(t, db) })
	t.Run("Schema", func(t *testing.T) { testSchema(t, db) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, db) })
	t.Run("Domains", func(t *testing.T) { testDomains(t, db) })
	t.Run("Queries", func(t *testing.T) { testQueries(t, db) })
	t.Run("Deterministic", func(t *testing.T) { testDeterministic(t, db, dir) })
}

func testRowCounts(t *testing.T, db *sql.DB) {
	for tb, want := range map[string]int64{
		"region": 5, "nation": 25, "supplier": 100, "customer": 1500,
		"part": 2000, "partsupp": 8000, "orders": 15000,
	} {
		if got := queryInt(t, db, "SELECT count(*) FROM "+tb); got != want {
			t.Errorf("%s: %d rows, want %d", tb, got, want)
		}
	}
	n := queryInt(t, db, "SELECT count(*) FROM lineitem")
	// 1..7 lines per order, 4 on average.
	if n < 15000*35/10 || n > 15000*45/10 {
		t.Errorf("lineitem: %d rows, want about 60000", n)
	}
	t.Logf("lineitem rows: %d", n)
	// Every order has lines 1..n with 1 <= n <= 7.
	if bad := queryInt(t, db, `SELECT count(*) FROM (
		SELECT l_orderkey, count(*) AS n, min(l_linenumber) AS lo, max(l_linenumber) AS hi
		FROM lineitem GROUP BY l_orderkey) WHERE n < 1 OR n > 7 OR lo <> 1 OR hi <> n`); bad != 0 {
		t.Errorf("%d orders with a bad set of line numbers", bad)
	}
	for ln := 1; ln <= 7; ln++ {
		if c := queryInt(t, db, fmt.Sprintf("SELECT count(*) FROM (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING count(*) = %d)", ln)); c == 0 {
			t.Errorf("no order has %d lines", ln)
		}
	}
}

func testSchema(t *testing.T, db *sql.DB) {
	want := map[string][]string{
		"region":   {"r_regionkey BIGINT", "r_name VARCHAR", "r_comment VARCHAR"},
		"nation":   {"n_nationkey BIGINT", "n_name VARCHAR", "n_regionkey BIGINT", "n_comment VARCHAR"},
		"supplier": {"s_suppkey BIGINT", "s_name VARCHAR", "s_address VARCHAR", "s_nationkey BIGINT", "s_phone VARCHAR", "s_acctbal DECIMAL(15,2)", "s_comment VARCHAR"},
		"customer": {"c_custkey BIGINT", "c_name VARCHAR", "c_address VARCHAR", "c_nationkey BIGINT", "c_phone VARCHAR", "c_acctbal DECIMAL(15,2)", "c_mktsegment VARCHAR", "c_comment VARCHAR"},
		"part":     {"p_partkey BIGINT", "p_name VARCHAR", "p_mfgr VARCHAR", "p_brand VARCHAR", "p_type VARCHAR", "p_size INTEGER", "p_container VARCHAR", "p_retailprice DECIMAL(15,2)", "p_comment VARCHAR"},
		"partsupp": {"ps_partkey BIGINT", "ps_suppkey BIGINT", "ps_availqty INTEGER", "ps_supplycost DECIMAL(15,2)", "ps_comment VARCHAR"},
		"orders":   {"o_orderkey BIGINT", "o_custkey BIGINT", "o_orderstatus VARCHAR", "o_totalprice DECIMAL(15,2)", "o_orderdate DATE", "o_orderpriority VARCHAR", "o_clerk VARCHAR", "o_shippriority INTEGER", "o_comment VARCHAR"},
		"lineitem": {"l_orderkey BIGINT", "l_partkey BIGINT", "l_suppkey BIGINT", "l_linenumber INTEGER", "l_quantity DECIMAL(15,2)", "l_extendedprice DECIMAL(15,2)", "l_discount DECIMAL(15,2)", "l_tax DECIMAL(15,2)", "l_returnflag VARCHAR", "l_linestatus VARCHAR", "l_shipdate DATE", "l_commitdate DATE", "l_receiptdate DATE", "l_shipinstruct VARCHAR", "l_shipmode VARCHAR", "l_comment VARCHAR"},
	}
	for _, tb := range Tables() {
		rows, err := db.Query("SELECT column_name || ' ' || column_type FROM (DESCRIBE " + tb + ")")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		rows.Close()
		if !slices.Equal(got, want[tb]) {
			t.Errorf("%s columns:\n got %v\nwant %v", tb, got, want[tb])
		}
	}
}

// zero lists named SQL counts that must be 0.
func zero(t *testing.T, db *sql.DB, checks map[string]string) {
	t.Helper()
	for name, q := range checks {
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%s: %d violations (%s)", name, n, q)
		}
	}
}

func testKeys(t *testing.T, db *sql.DB) {
	zero(t, db, map[string]string{
		// primary keys
		"region pk":   "SELECT count(*) - count(DISTINCT r_regionkey) FROM region",
		"nation pk":   "SELECT count(*) - count(DISTINCT n_nationkey) FROM nation",
		"supplier pk": "SELECT count(*) - count(DISTINCT s_suppkey) FROM supplier",
		"customer pk": "SELECT count(*) - count(DISTINCT c_custkey) FROM customer",
		"part pk":     "SELECT count(*) - count(DISTINCT p_partkey) FROM part",
		"partsupp pk": "SELECT count(*) - count(DISTINCT (ps_partkey, ps_suppkey)) FROM partsupp",
		"orders pk":   "SELECT count(*) - count(DISTINCT o_orderkey) FROM orders",
		"lineitem pk": "SELECT count(*) - count(DISTINCT (l_orderkey, l_linenumber)) FROM lineitem",
		// foreign keys
		"nation->region":       "SELECT count(*) FROM nation WHERE n_regionkey NOT IN (SELECT r_regionkey FROM region)",
		"supplier->nation":     "SELECT count(*) FROM supplier WHERE s_nationkey NOT IN (SELECT n_nationkey FROM nation)",
		"customer->nation":     "SELECT count(*) FROM customer WHERE c_nationkey NOT IN (SELECT n_nationkey FROM nation)",
		"partsupp->part":       "SELECT count(*) FROM partsupp WHERE ps_partkey NOT IN (SELECT p_partkey FROM part)",
		"partsupp->supplier":   "SELECT count(*) FROM partsupp WHERE ps_suppkey NOT IN (SELECT s_suppkey FROM supplier)",
		"orders->customer":     "SELECT count(*) FROM orders WHERE o_custkey NOT IN (SELECT c_custkey FROM customer)",
		"lineitem->orders":     "SELECT count(*) FROM lineitem WHERE l_orderkey NOT IN (SELECT o_orderkey FROM orders)",
		"lineitem->part":       "SELECT count(*) FROM lineitem WHERE l_partkey NOT IN (SELECT p_partkey FROM part)",
		"lineitem->supplier":   "SELECT count(*) FROM lineitem WHERE l_suppkey NOT IN (SELECT s_suppkey FROM supplier)",
		"lineitem->partsupp":   "SELECT count(*) FROM lineitem l ANTI JOIN partsupp ps ON l.l_partkey = ps.ps_partkey AND l.l_suppkey = ps.ps_suppkey",
		"orders without lines": "SELECT count(*) FROM orders WHERE o_orderkey NOT IN (SELECT l_orderkey FROM lineitem)",
		"parts with 4 supps":   "SELECT count(*) FROM (SELECT ps_partkey FROM partsupp GROUP BY ps_partkey HAVING count(DISTINCT ps_suppkey) <> 4)",
		// dense keys
		"supplier keys dense": "SELECT count(*) FROM supplier WHERE s_suppkey NOT BETWEEN 1 AND 100",
		"customer keys dense": "SELECT count(*) FROM customer WHERE c_custkey NOT BETWEEN 1 AND 1500",
		"part keys dense":     "SELECT count(*) FROM part WHERE p_partkey NOT BETWEEN 1 AND 2000",
		// dbgen's sparse order keys: 8 of every 32
		"sparse order keys": "SELECT count(*) FROM orders WHERE o_orderkey % 32 NOT BETWEEN 1 AND 7 AND o_orderkey % 32 <> 0 OR (o_orderkey % 32 = 0 AND o_orderkey = 0)",
	})
	if n := queryInt(t, db, "SELECT max(o_orderkey) FROM orders"); n != 15000/8*32 {
		t.Errorf("max(o_orderkey) = %d, want %d", n, 15000/8*32)
	}
}

func testDomains(t *testing.T, db *sql.DB) {
	zero(t, db, map[string]string{
		"nation names": `SELECT count(*) FROM nation n JOIN region r ON n_regionkey = r_regionkey WHERE
			(n_name, r_name) NOT IN (('ALGERIA','AFRICA'),('ARGENTINA','AMERICA'),('BRAZIL','AMERICA'),('CANADA','AMERICA'),
			('EGYPT','MIDDLE EAST'),('ETHIOPIA','AFRICA'),('FRANCE','EUROPE'),('GERMANY','EUROPE'),('INDIA','ASIA'),
			('INDONESIA','ASIA'),('IRAN','MIDDLE EAST'),('IRAQ','MIDDLE EAST'),('JAPAN','ASIA'),('JORDAN','MIDDLE EAST'),
			('KENYA','AFRICA'),('MOROCCO','AFRICA'),('MOZAMBIQUE','AFRICA'),('PERU','AMERICA'),('CHINA','ASIA'),
			('ROMANIA','EUROPE'),('SAUDI ARABIA','MIDDLE EAST'),('VIETNAM','ASIA'),('RUSSIA','EUROPE'),
			('UNITED KINGDOM','EUROPE'),('UNITED STATES','AMERICA'))`,
		"order dates": "SELECT count(*) FROM orders WHERE o_orderdate NOT BETWEEN DATE '1992-01-01' AND DATE '1998-08-02'",
		"ship dates": `SELECT count(*) FROM lineitem JOIN orders ON l_orderkey = o_orderkey WHERE
			l_shipdate - o_orderdate NOT BETWEEN 1 AND 121 OR l_commitdate - o_orderdate NOT BETWEEN 30 AND 90 OR
			l_receiptdate - l_shipdate NOT BETWEEN 1 AND 30 OR l_receiptdate > DATE '1998-12-31'`,
		"return flag": `SELECT count(*) FROM lineitem WHERE NOT (CASE WHEN l_receiptdate <= DATE '1995-06-17'
			THEN l_returnflag IN ('R', 'A') ELSE l_returnflag = 'N' END)`,
		"line status": `SELECT count(*) FROM lineitem WHERE l_linestatus <> CASE WHEN l_shipdate > DATE '1995-06-17' THEN 'O' ELSE 'F' END`,
		"order status": `SELECT count(*) FROM orders JOIN (SELECT l_orderkey, bool_and(l_linestatus = 'F') AS f,
			bool_and(l_linestatus = 'O') AS o FROM lineitem GROUP BY l_orderkey) ON l_orderkey = o_orderkey
			WHERE o_orderstatus <> CASE WHEN f THEN 'F' WHEN o THEN 'O' ELSE 'P' END`,
		// dbgen truncates to cents twice per line: at most ~2 cents off per line.
		"total price": `SELECT count(*) FROM orders JOIN (SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS s,
			count(*) AS n FROM lineitem GROUP BY l_orderkey) ON l_orderkey = o_orderkey WHERE o_totalprice > s OR s - o_totalprice > 0.03 * n`,
		"extended price": "SELECT count(*) FROM lineitem JOIN part ON l_partkey = p_partkey WHERE l_extendedprice <> l_quantity * p_retailprice",
		"retail price":   "SELECT count(*) FROM part WHERE p_retailprice * 100 <> 90000 + ((p_partkey // 10) % 20001) + 100 * (p_partkey % 1000)",
		"numbers": `SELECT count(*) FROM lineitem WHERE l_quantity NOT BETWEEN 1 AND 50 OR l_quantity <> round(l_quantity)
			OR l_discount NOT BETWEEN 0 AND 0.10 OR l_tax NOT BETWEEN 0 AND 0.08`,
		"ship modes":                    "SELECT count(*) FROM lineitem WHERE l_shipmode NOT IN ('REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB')",
		"instructions":                  "SELECT count(*) FROM lineitem WHERE l_shipinstruct NOT IN ('DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN')",
		"priorities":                    "SELECT count(*) FROM orders WHERE o_orderpriority NOT IN ('1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW') OR o_shippriority <> 0",
		"clerks":                        "SELECT count(*) FROM orders WHERE NOT regexp_full_match(o_clerk, 'Clerk#0000000(0[1-9]|10)')",
		"segments":                      "SELECT count(*) FROM customer WHERE c_mktsegment NOT IN ('AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD')",
		"no orders for custkey % 3 = 0": "SELECT count(*) FROM orders WHERE o_custkey % 3 = 0",
		"acctbal": `SELECT count(*) FROM (SELECT c_acctbal AS b FROM customer UNION ALL SELECT s_acctbal FROM supplier)
			WHERE b NOT BETWEEN -999.99 AND 9999.99`,
		"phones": `SELECT count(*) FROM (SELECT c_phone AS ph, c_nationkey AS nk FROM customer UNION ALL SELECT s_phone, s_nationkey FROM supplier)
			WHERE NOT regexp_full_match(ph, '[0-9]{2}-[1-9][0-9]{2}-[1-9][0-9]{2}-[1-9][0-9]{3}') OR CAST(substr(ph, 1, 2) AS INTEGER) <> nk + 10`,
		"names": `SELECT count(*) FROM customer JOIN supplier ON c_custkey = s_suppkey WHERE
			c_name <> 'Customer#' || lpad(CAST(c_custkey AS VARCHAR), 9, '0') OR s_name <> 'Supplier#' || lpad(CAST(s_suppkey AS VARCHAR), 9, '0')`,
		"addresses": `SELECT count(*) FROM (SELECT c_address AS a FROM customer UNION ALL SELECT s_address FROM supplier)
			WHERE length(a) NOT BETWEEN 10 AND 40 OR NOT regexp_full_match(a, '[0-9a-zA-Z ,]+')`,
		"part types": `SELECT count(*) FROM part WHERE NOT regexp_full_match(p_type,
			'(STANDARD|SMALL|MEDIUM|LARGE|ECONOMY|PROMO) (ANODIZED|BURNISHED|PLATED|POLISHED|BRUSHED) (TIN|NICKEL|BRASS|STEEL|COPPER)')`,
		"containers": `SELECT count(*) FROM part WHERE NOT regexp_full_match(p_container,
			'(SM|LG|MED|JUMBO|WRAP) (CASE|BOX|BAG|JAR|PKG|PACK|CAN|DRUM)')`,
		"brands": `SELECT count(*) FROM part WHERE NOT regexp_full_match(p_brand, 'Brand#[1-5][1-5]')
			OR p_mfgr <> 'Manufacturer#' || substr(p_brand, 7, 1) OR p_size NOT BETWEEN 1 AND 50`,
		"part names": `SELECT count(*) FROM part WHERE len(list_distinct(string_split(p_name, ' '))) <> 5
			OR len(string_split(p_name, ' ')) <> 5`,
		"availqty/supplycost": "SELECT count(*) FROM partsupp WHERE ps_availqty NOT BETWEEN 1 AND 9999 OR ps_supplycost NOT BETWEEN 1 AND 1000",
		"comment lengths": `SELECT count(*) FROM (
			SELECT length(r_comment) NOT BETWEEN 31 AND 115 AS bad FROM region
			UNION ALL SELECT length(n_comment) NOT BETWEEN 31 AND 114 FROM nation
			UNION ALL SELECT length(s_comment) NOT BETWEEN 25 AND 100 FROM supplier
			UNION ALL SELECT length(c_comment) NOT BETWEEN 29 AND 116 FROM customer
			UNION ALL SELECT length(p_comment) NOT BETWEEN 5 AND 22 FROM part
			UNION ALL SELECT length(ps_comment) NOT BETWEEN 49 AND 198 FROM partsupp
			UNION ALL SELECT length(o_comment) NOT BETWEEN 19 AND 78 FROM orders
			UNION ALL SELECT length(l_comment) NOT BETWEEN 10 AND 43 FROM lineitem) WHERE bad`,
	})
	// Values the 22 queries' predicates and dbgen's distributions rely on.
	nonzero := map[string]string{
		"customers without orders":  "SELECT count(*) FROM customer WHERE c_custkey NOT IN (SELECT o_custkey FROM orders)",
		"order status P":            "SELECT count(*) FROM orders WHERE o_orderstatus = 'P'",
		"special requests comments": "SELECT count(*) FROM orders WHERE o_comment LIKE '%special%requests%'",
		"green parts":               "SELECT count(*) FROM part WHERE p_name LIKE '%green%'",
		"forest parts":              "SELECT count(*) FROM part WHERE p_name LIKE 'forest%'",
		"chocolate parts":           "SELECT count(*) FROM part WHERE p_name LIKE '%chocolate%'",
		"return flag R":             "SELECT count(*) FROM lineitem WHERE l_returnflag = 'R'",
		"1998 order":                "SELECT count(*) FROM orders WHERE year(o_orderdate) = 1998",
	}
	for name, q := range nonzero {
		if n := queryInt(t, db, q); n == 0 {
			t.Errorf("%s: none (%s)", name, q)
		}
	}
	// Each of the small domains is fully used.
	for q, want := range map[string]int64{
		"SELECT count(DISTINCT p_type) FROM part":                           150,
		"SELECT count(DISTINCT p_container) FROM part":                      40,
		"SELECT count(DISTINCT p_brand) FROM part":                          25,
		"SELECT count(DISTINCT p_size) FROM part":                           50,
		"SELECT count(DISTINCT l_shipmode) FROM lineitem":                   7,
		"SELECT count(DISTINCT l_discount) FROM lineitem":                   11,
		"SELECT count(DISTINCT l_tax) FROM lineitem":                        9,
		"SELECT count(DISTINCT l_quantity) FROM lineitem":                   50,
		"SELECT count(DISTINCT c_nationkey) FROM customer":                  25,
		"SELECT count(DISTINCT (l_returnflag, l_linestatus)) FROM lineitem": 4,
	} {
		if n := queryInt(t, db, q); n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
}

// sqlDir finds the shared TPC-H query files.
func sqlDir(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("TPCH_SQL_DIR"), "../../../shared/data/tpch/sql", "/work/shared/data/tpch/sql"}
	for _, d := range cands {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "q01.sql")); err == nil {
			return d
		}
	}
	t.Skipf("TPC-H query files not found in %v", cands)
	return ""
}

var placeholder = regexp.MustCompile(`'\{([a-z]+)\}'`)

func testQueries(t *testing.T, db *sql.DB) {
	dir := sqlDir(t)
	for q := 1; q <= 22; q++ {
		name := fmt.Sprintf("q%02d", q)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			// The files name tables as '{lineitem}' (a path template);
			// point them at the views instead.
			text := placeholder.ReplaceAllStringFunc(string(b), func(m string) string {
				tb := placeholder.FindStringSubmatch(m)[1]
				if !slices.Contains(Tables(), tb) {
					t.Fatalf("unknown table placeholder %s", m)
				}
				return tb
			})
			rows, err := db.Query(text)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			defer rows.Close()
			vals, err := rowcompare.ScanValues(rows)
			if err != nil {
				t.Fatal(err)
			}
			n, nonNull := len(vals), false
			for _, row := range vals {
				for _, v := range row {
					nonNull = nonNull || v != nil
				}
			}
			if n == 0 {
				t.Fatalf("%s returned no rows", name)
			}
			// Aggregates without GROUP BY always return one row: make sure
			// it is not all NULL (i.e. something matched).
			if !nonNull {
				t.Fatalf("%s returned only NULLs", name)
			}
			t.Logf("%s: %d rows", name, n)
		})
	}
}

// goldenTiny pins the scale 0.01 data: a change means the generated data
// changed (a generator change, or a DuckDB change in integer arithmetic).
var goldenTiny = map[string]string{
	"region":   "5:ae6f8f2b8b02dcf67e5c03b452091d7d",
	"nation":   "25:85a9e1173a41b22631882d0647c449b2",
	"supplier": "100:e60be8ecc34a2add3d57ac1212d848ca",
	"customer": "1500:3219c6055ecb1bf2f4b6efde0b00307e",
	"part":     "2000:9c60a125bf056d03acb7bb078eccb35f",
	"partsupp": "8000:be7140b9a4e84d4821cdfcdf12308343",
	"orders":   "15000:a623a1ed558a985ad0890653dd8a2144",
	"lineitem": "59759:7db330ebe0f126ce86b5877ea71d01cb",
}

func testDeterministic(t *testing.T, db *sql.DB, dir1 string) {
	// A second, independent database and directory.
	db2 := openDB(t)
	dir2, _ := generate(t, db2, 0.01)
	for _, tb := range Tables() {
		p1 := filepath.Join(dir1, tb+".parquet")
		p2 := filepath.Join(dir2, tb+".parquet")
		c1, c2 := tableChecksum(t, db, p1), tableChecksum(t, db, p2)
		if c1 != c2 {
			t.Errorf("%s differs between runs: %s vs %s", tb, c1, c2)
		}
		if g := goldenTiny[tb]; g != c1 {
			t.Errorf("%s checksum %s, golden %s", tb, c1, g)
		}
		t.Logf("%s checksum %s", tb, c1)
	}
}

func TestSchemaName(t *testing.T) {
	for scale, want := range map[float64]string{
		0.01: "tiny", 1: "sf1", 10: "sf10", 100: "sf100", 1000: "sf1000", 0.1: "sf0_1", 0.5: "sf0_5", 2.5: "sf2_5",
	} {
		if got := SchemaName(scale); got != want {
			t.Errorf("SchemaName(%v) = %q, want %q", scale, got, want)
		}
		if got, ok := ScaleFromSchema(want); !ok || got != scale {
			t.Errorf("ScaleFromSchema(%q) = %v, %v, want %v", want, got, ok, scale)
		}
	}
	for _, bad := range []string{"", "sf", "sf0", "sf-1", "sf1.5", "sf01", "SF1", "tpch", "sf1_", "sfinf", "sfNaN"} {
		if got, ok := ScaleFromSchema(bad); ok {
			t.Errorf("ScaleFromSchema(%q) = %v, true; want false", bad, got)
		}
	}
}

func TestTables(t *testing.T) {
	want := []string{"region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"}
	got := Tables()
	if !slices.Equal(got, want) {
		t.Fatalf("Tables() = %v", got)
	}
	got[0] = "changed"
	if Tables()[0] != "region" {
		t.Fatal("Tables() exposes internal state")
	}
}

func TestExists(t *testing.T) {
	dir := t.TempDir()
	if Exists(dir) || Exists(filepath.Join(dir, "missing")) {
		t.Fatal("Exists on empty dir")
	}
	for _, tb := range Tables()[:7] {
		if err := os.WriteFile(filepath.Join(dir, tb+".parquet"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if Exists(dir) {
		t.Fatal("Exists with lineitem missing")
	}
	if err := os.Mkdir(filepath.Join(dir, "lineitem.parquet"), 0o755); err != nil {
		t.Fatal(err)
	}
	if Exists(dir) {
		t.Fatal("Exists with lineitem a directory")
	}
}

func TestGenerateBadScale(t *testing.T) {
	db := openDB(t)
	for _, s := range []float64{0, -1, 0.001, 0.009} {
		dir := t.TempDir()
		if err := Generate(context.Background(), db, dir, s); err == nil {
			t.Errorf("Generate(%v) succeeded", s)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("Generate(%v) left %d files", s, len(entries))
		}
	}
	// dbgen's partsupp formula repeats a supplier of a part for S = 120.
	if _, err := sizesFor(0.012); err == nil {
		t.Error("scale 0.012 accepted")
	}
	for _, s := range []float64{0.01, 0.1, 0.5, 1, 10, 100} {
		if _, err := sizesFor(s); err != nil {
			t.Errorf("scale %v: %v", s, err)
		}
	}
}

func TestGenerateCanceled(t *testing.T) {
	db := openDB(t)
	db.SetMaxOpenConns(1) // later queries see Generate's connection
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Generate(ctx, db, dir, 0.01)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with canceled context: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("canceled Generate left %d files", len(entries))
	}
	// The database stays usable and holds none of the generator's tables.
	if n := queryInt(t, db, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_tpchgen%'"); n != 0 {
		t.Errorf("%d generator tables left behind", n)
	}
}

// tmpFiles lists the temporary files Generate may have left in dir.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGenerateDeadline(t *testing.T) {
	db := openDB(t)
	db.SetMaxOpenConns(1) // later queries see Generate's connection
	dir := t.TempDir()
	// Generating takes several hundred milliseconds: the deadline passes
	// while a table is being written.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Generate(ctx, db, dir, 0.01); err == nil {
		t.Fatal("Generate beat a 50ms deadline")
	}
	if m := tmpFiles(t, dir); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	if Exists(dir) {
		t.Error("Exists after an interrupted Generate")
	}
	if n := queryInt(t, db, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_tpchgen%'"); n != 0 {
		t.Errorf("%d generator tables left behind", n)
	}
}

func TestGenerateRenameFailure(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	// An old, complete-looking set of files whose orders.parquet cannot be
	// replaced (a non-empty directory).
	for _, tb := range Tables() {
		if err := os.WriteFile(filepath.Join(dir, tb+".parquet"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orders := filepath.Join(dir, "orders.parquet")
	if err := os.Remove(orders); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(orders, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Generate(context.Background(), db, dir, 0.01); err == nil {
		t.Fatal("Generate succeeded")
	}
	if Exists(dir) {
		t.Error("a failed Generate left a complete-looking directory")
	}
	if m := tmpFiles(t, dir); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// TestScale1 measures scale factor 1; it runs only with TPCHGEN_SF1=1.
func TestScale1(t *testing.T) {
	if os.Getenv("TPCHGEN_SF1") == "" {
		t.Skip("set TPCHGEN_SF1=1 to generate scale factor 1")
	}
	db := openDB(t)
	dir, took := generate(t, db, 1)
	t.Logf("scale 1 generated in %v", took)
	createViews(t, db, dir)
	for tb, want := range map[string]int64{"supplier": 10000, "customer": 150000, "part": 200000, "partsupp": 800000, "orders": 1500000} {
		if got := queryInt(t, db, "SELECT count(*) FROM "+tb); got != want {
			t.Errorf("%s: %d rows, want %d", tb, got, want)
		}
	}
	t.Logf("lineitem rows: %d", queryInt(t, db, "SELECT count(*) FROM lineitem"))
	start := time.Now()
	t.Run("Queries", func(t *testing.T) { testQueries(t, db) })
	t.Logf("22 queries in %v", time.Since(start))
	var sizes []string
	for _, tb := range Tables() {
		fi, err := os.Stat(filepath.Join(dir, tb+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, fmt.Sprintf("%s=%dMB", tb, fi.Size()>>20))
	}
	t.Log(strings.Join(sizes, " "))
}
