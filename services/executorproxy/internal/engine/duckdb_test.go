package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// sink collects a query's results.
type sink struct {
	mu      sync.Mutex
	columns []protocol.Column
	rows    [][]any
	// onAppend, when set, runs before each row is stored and may fail the append.
	onAppend func(n int) error
}

func (s *sink) SetColumns(c []protocol.Column) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.columns = c
}

func (s *sink) Append(_ context.Context, row []any, size int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size <= 0 {
		return errors.New("row without a size estimate")
	}
	if s.onAppend != nil {
		if err := s.onAppend(len(s.rows)); err != nil {
			return err
		}
	}
	s.rows = append(s.rows, row)
	return nil
}

// json renders the rows as the wire does.
func (s *sink) json(t *testing.T) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *sink) columnNames() string {
	var names []string
	for _, c := range s.columns {
		names = append(names, c.Name+":"+c.Type)
	}
	return strings.Join(names, ",")
}

// writeParquet writes one Parquet file per table with DuckDB's COPY.
func writeParquet(t *testing.T, dir string, tables map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, query := range tables {
		path := filepath.Join(dir, name+".parquet")
		if _, err := db.ExecContext(t.Context(), "COPY ("+query+") TO '"+path+"' (FORMAT parquet)"); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}
}

// open builds two catalogs over Parquet files in temp directories:
// tpch.tiny (nation: 5 rows, region: 2 rows), tpch.big (nation: 25 rows) and lake.raw.
func open(t *testing.T) *DuckDB {
	t.Helper()
	root := t.TempDir()
	tiny, big, raw := filepath.Join(root, "tiny"), filepath.Join(root, "big"), filepath.Join(root, "raw")
	writeParquet(t, tiny, map[string]string{
		"nation": "SELECT i::BIGINT AS id, 'tiny-' || i AS name FROM range(5) t(i)",
		"region": "SELECT * FROM (VALUES (0, 'AFRICA'), (1, 'AMERICA')) v(id, name)",
	})
	writeParquet(t, big, map[string]string{
		"nation": "SELECT i::BIGINT AS id, 'big-' || i AS name FROM range(25) t(i)",
	})
	writeParquet(t, raw, map[string]string{
		"events":    "SELECT TIMESTAMPTZ '2026-01-01 12:00:00+00' AS ts",
		"not-ident": "SELECT 1 AS x", // not an identifier: not exposed as a table
	})
	e, err := Open(t.Context(), 2, []Catalog{
		{Name: "tpch", Schemas: map[string]string{"tiny": tiny, "big": big}},
		{Name: "lake", Schemas: map[string]string{"raw": raw}},
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func session(catalog, schema string) events.QuerySpec {
	return events.QuerySpec{ID: "q", Catalog: catalog, Schema: schema}
}

func TestRunQueries(t *testing.T) {
	t.Parallel()
	e := open(t)
	cases := []struct {
		name     string
		spec     events.QuerySpec
		sql      string
		wantCols string
		wantRows string
	}{
		{"session catalog and schema", session("tpch", "tiny"), "SELECT count(*) AS n, sum(id) AS s FROM nation",
			"n:bigint,s:decimal(38,0)", `[[5,"10"]]`},
		{"other schema of the same catalog", session("tpch", "big"), "SELECT count(*) AS n FROM nation", "n:bigint", `[[25]]`},
		{"rows in order", session("tpch", "tiny"), "SELECT id, name FROM nation ORDER BY id DESC LIMIT 2",
			"id:bigint,name:varchar", `[[4,"tiny-4"],[3,"tiny-3"]]`},
		{"fully qualified names need no session", events.QuerySpec{ID: "q"}, "SELECT count(*) AS n FROM tpch.tiny.region", "n:bigint", `[[2]]`},
		{"catalog only", session("tpch", ""), "SELECT count(*) AS n FROM tiny.nation", "n:bigint", `[[5]]`},
		{"no session", events.QuerySpec{ID: "q"}, "SELECT 1 AS x", "x:integer", `[[1]]`},
		{"second catalog", session("lake", "raw"), "SELECT count(*) AS n FROM events", "n:bigint", `[[1]]`},
		{"empty result keeps its columns", session("tpch", "tiny"), "SELECT name FROM nation WHERE id < 0", "name:varchar", `null`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s sink
			if qe := e.Run(t.Context(), tc.spec, tc.sql, &s); qe != nil {
				t.Fatalf("Run: %v", qe)
			}
			if got := s.columnNames(); got != tc.wantCols {
				t.Errorf("columns %s, want %s", got, tc.wantCols)
			}
			if got := s.json(t); got != tc.wantRows {
				t.Errorf("rows %s, want %s", got, tc.wantRows)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	e := open(t)
	cases := []struct {
		name string
		spec events.QuerySpec
		sql  string
		want protocol.ErrorCode
	}{
		{"unknown catalog", session("nope", "tiny"), "SELECT 1", protocol.CatalogNotFound},
		{"unknown catalog without schema", session("nope", ""), "SELECT 1", protocol.CatalogNotFound},
		{"unknown schema", session("tpch", "huge"), "SELECT 1", protocol.SchemaNotFound},
		{"unknown table", session("tpch", "tiny"), "SELECT * FROM planets", protocol.TableNotFound},
		{"file that is not an identifier is not a table", session("lake", "raw"), `SELECT * FROM "not-ident"`, protocol.TableNotFound},
		{"syntax error", session("tpch", "tiny"), "SELEC 1", protocol.SyntaxError},
		{"unknown column", session("tpch", "tiny"), "SELECT population FROM nation", protocol.ColumnNotFound},
		{"bad time zone", events.QuerySpec{ID: "q", TimeZone: "Mars/Olympus"}, "SELECT 1", protocol.InvalidSessionProp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s sink
			qe := e.Run(t.Context(), tc.spec, tc.sql, &s)
			if qe == nil {
				t.Fatalf("Run succeeded with rows %s, want %s", s.json(t), tc.want.Name)
			}
			if qe.ErrorName != tc.want.Name || qe.ErrorCode != tc.want.Code || qe.ErrorType != string(tc.want.Type) {
				t.Fatalf("error %s (%d, %s): %s; want %s", qe.ErrorName, qe.ErrorCode, qe.ErrorType, qe.Message, tc.want.Name)
			}
		})
	}
}

// With one pooled connection, every query still runs in its own session: the cached
// session of the connection is reset whenever the next query needs another one.
func TestSessionIsResetPerQuery(t *testing.T) {
	t.Parallel()
	e := open(t)
	e.DB().SetMaxOpenConns(1)
	steps := []struct {
		spec events.QuerySpec
		sql  string
		want string
		err  string
	}{
		{spec: session("tpch", "tiny"), sql: "SELECT count(*) FROM nation", want: `[[5]]`},
		{spec: session("tpch", "big"), sql: "SELECT count(*) FROM nation", want: `[[25]]`},
		{spec: session("tpch", "tiny"), sql: "SELECT count(*) FROM nation", want: `[[5]]`},
		{spec: session("nope", "x"), sql: "SELECT 1", err: protocol.CatalogNotFound.Name},
		{spec: session("tpch", "tiny"), sql: "SELECT count(*) FROM nation", want: `[[5]]`},
		{spec: events.QuerySpec{ID: "q", Catalog: "lake", Schema: "raw", TimeZone: "Asia/Tokyo"}, sql: "SELECT current_setting('TimeZone')", want: `[["Asia/Tokyo"]]`},
		{spec: events.QuerySpec{ID: "q", Catalog: "lake", Schema: "raw", TimeZone: "Asia/Tokyo"}, sql: "SELECT strftime(ts, '%H') FROM events", want: `[["21"]]`},
		{spec: session("lake", "raw"), sql: "SELECT current_setting('TimeZone')", want: `[["UTC"]]`},
		{spec: events.QuerySpec{ID: "q"}, sql: "SELECT current_database(), current_schema()", want: `[["memory","main"]]`},
		{spec: session("tpch", "tiny"), sql: "SELECT current_database(), current_schema()", want: `[["tpch","tiny"]]`},
	}
	for i, st := range steps {
		var s sink
		qe := e.Run(t.Context(), st.spec, st.sql, &s)
		switch {
		case st.err != "":
			if qe == nil || qe.ErrorName != st.err {
				t.Fatalf("step %d: error %v, want %s", i, qe, st.err)
			}
		case qe != nil:
			t.Fatalf("step %d (%s.%s): %v", i, st.spec.Catalog, st.spec.Schema, qe)
		default:
			if got := s.json(t); got != st.want {
				t.Fatalf("step %d (%s.%s tz %q): %s, want %s", i, st.spec.Catalog, st.spec.Schema, st.spec.TimeZone, got, st.want)
			}
		}
	}
}

// Canceling the query's context with a protocol error as its cause makes Run report that
// error, whatever DuckDB said when it was interrupted.
func TestCancellationReportsTheCause(t *testing.T) {
	t.Parallel()
	e := open(t)
	abandoned := protocol.NewError(protocol.AbandonedQuery, "Query was abandoned by its client")

	t.Run("while streaming rows", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		s := sink{onAppend: func(n int) error {
			if n == 10 {
				cancel(abandoned)
			}
			return nil
		}}
		qe := e.Run(ctx, session("tpch", "tiny"), "SELECT i FROM range(1000000) t(i)", &s)
		if qe != abandoned {
			t.Fatalf("Run = %v, want the cancel cause %v", qe, abandoned)
		}
		if n := len(s.rows); n < 10 || n >= 1_000_000 {
			t.Fatalf("%d rows arrived; want the stream stopped soon after the cancel", n)
		}
	})

	t.Run("sink refuses rows", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		s := sink{onAppend: func(n int) error {
			if n == 3 {
				cancel(abandoned)
				return errors.New("results: query canceled")
			}
			return nil
		}}
		if qe := e.Run(ctx, session("tpch", "tiny"), "SELECT i FROM range(1000) t(i)", &s); qe != abandoned {
			t.Fatalf("Run = %v, want the cancel cause", qe)
		}
	})

	t.Run("while computing", func(t *testing.T) {
		t.Parallel()
		timeout := protocol.NewError(protocol.ExceededTimeLimit, "Query exceeded the maximum run time")
		ctx, cancel := context.WithTimeoutCause(t.Context(), 300*time.Millisecond, timeout)
		defer cancel()
		start := time.Now()
		var s sink
		qe := e.Run(ctx, session("tpch", "tiny"), "SELECT sum(hash(i)) FROM range(100000000000) t(i)", &s)
		if qe != timeout {
			t.Fatalf("Run = %v, want the deadline cause %v", qe, timeout)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Fatalf("interrupt took %s", el)
		}
	})

	t.Run("canceled before it started", func(t *testing.T) {
		t.Parallel()
		for _, spec := range []events.QuerySpec{session("tpch", "tiny"), {ID: "q"}} {
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(abandoned)
			var s sink
			if qe := e.Run(ctx, spec, "SELECT 1", &s); qe != abandoned {
				t.Fatalf("session %q.%q: Run = %v, want the cancel cause %v", spec.Catalog, spec.Schema, qe, abandoned)
			}
		}
	})

	t.Run("canceled while the session is set", func(t *testing.T) {
		t.Parallel()
		e := open(t) // a fresh connection: no session cached on it
		conn, err := e.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(abandoned)
		for _, spec := range []events.QuerySpec{session("tpch", "tiny"), session("tpch", ""), {ID: "q", TimeZone: "Asia/Tokyo"}} {
			if qe := e.useSession(ctx, conn, spec); qe != abandoned {
				t.Fatalf("session %q.%q tz %q: useSession = %v, want the cancel cause", spec.Catalog, spec.Schema, spec.TimeZone, qe)
			}
		}
	})

	t.Run("plain cancel is a user cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		s := sink{onAppend: func(n int) error {
			if n == 1 {
				cancel()
			}
			return nil
		}}
		qe := e.Run(ctx, session("tpch", "tiny"), "SELECT i FROM range(1000000) t(i)", &s)
		if qe == nil || qe.ErrorName != protocol.UserCanceled.Name {
			t.Fatalf("Run = %v, want USER_CANCELED", qe)
		}
	})
}

func TestOpenRejectsBadNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name string
		cat  Catalog
	}{
		{"catalog name with a quote", Catalog{Name: `x"; DROP`, Schemas: map[string]string{"s": dir}}},
		{"catalog name with a dash", Catalog{Name: "my-cat", Schemas: map[string]string{"s": dir}}},
		{"schema name with a space", Catalog{Name: "ok", Schemas: map[string]string{"bad name": dir}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := Open(t.Context(), 1, []Catalog{tc.cat})
			if err == nil {
				_ = e.Close()
				t.Fatal("Open accepted a bad name")
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	e := open(t)
	if _, err := e.db.ExecContext(t.Context(), "SET memory_limit = '1.5GB'"); err != nil {
		t.Fatal(err)
	}
	got, err := e.MemoryLimit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// DuckDB reports the setting in its own units (e.g. "1.3 GiB"): allow rounding.
	if got < 1_300_000_000 || got > 1_600_000_000 {
		t.Fatalf("memory limit %d bytes, want about 1.5e9", got)
	}
	for _, bad := range []string{"", "GiB", "12 parsecs"} {
		if _, err := parseDuckDBSize(bad); err == nil {
			t.Errorf("parseDuckDBSize(%q) accepted", bad)
		}
	}
}
