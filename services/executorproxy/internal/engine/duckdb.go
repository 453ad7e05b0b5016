// Package engine runs SQL on an in-process DuckDB whose catalogs are Parquet files, and
// streams the results, encoded for the Trino wire, into a result sink.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/executorproxy/internal/trinowire"
)

// Catalog is a named catalog of schemas; each schema is a directory of <table>.parquet files.
type Catalog struct {
	Name    string
	Schemas map[string]string
}

// Sink receives a query's results.
type Sink interface {
	SetColumns([]protocol.Column)
	Append(ctx context.Context, row []any, size int) error
}

// DuckDB is one cluster's DuckDB instance.
type DuckDB struct {
	db *sql.DB
	// applied remembers the session (catalog, schema, time zone) last set on each pooled
	// DuckDB connection, so that USE and SET run only when a query needs other settings.
	applied sync.Map // driver connection → string
	tables  []string // catalog.schema.table of every attached table
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open starts an in-memory DuckDB with threads worker threads and attaches the catalogs as
// views over their Parquet files.
func Open(ctx context.Context, threads int, catalogs []Catalog) (*DuckDB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("engine: open duckdb: %w", err)
	}
	e := &DuckDB{db: db}
	if threads > 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads TO %d", threads)); err != nil {
			db.Close()
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	for _, c := range catalogs {
		if err := e.attach(ctx, c); err != nil {
			db.Close()
			return nil, err
		}
	}
	return e, nil
}

// MemoryLimit is DuckDB's memory_limit setting in bytes.
func (e *DuckDB) MemoryLimit(ctx context.Context) (int64, error) {
	var v string
	if err := e.db.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&v); err != nil {
		return 0, fmt.Errorf("engine: memory_limit: %w", err)
	}
	return parseDuckDBSize(v)
}

// parseDuckDBSize reads DuckDB's size strings: "19.2 GiB", "512.0 MiB", "1.5GB", "100 bytes".
// Tables lists the tables of the attached catalogs as catalog.schema.table.
func (e *DuckDB) Tables() []string { return slices.Clone(e.tables) }

// MemoryUsage is the memory DuckDB's buffer manager holds now, over every tag.
func (e *DuckDB) MemoryUsage(ctx context.Context) (int64, error) {
	var used int64
	err := e.db.QueryRowContext(ctx, "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()").Scan(&used)
	return used, err
}

func parseDuckDBSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("engine: size %q", v)
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("engine: size %q: %w", v, err)
	}
	units := map[string]float64{"": 1, "b": 1, "bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
	mult, ok := units[strings.ToLower(strings.TrimSpace(v[i:]))]
	if !ok {
		return 0, fmt.Errorf("engine: size %q: unknown unit", v)
	}
	return int64(n * mult), nil
}

func (e *DuckDB) attach(ctx context.Context, c Catalog) error {
	if !ident.MatchString(c.Name) {
		return fmt.Errorf("engine: bad catalog name %q", c.Name)
	}
	if _, err := e.db.ExecContext(ctx, fmt.Sprintf("ATTACH ':memory:' AS %s", c.Name)); err != nil {
		return fmt.Errorf("engine: attach %s: %w", c.Name, err)
	}
	names := make([]string, 0, len(c.Schemas))
	for s := range c.Schemas {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, schema := range names {
		dir := c.Schemas[schema]
		if !ident.MatchString(schema) {
			return fmt.Errorf("engine: bad schema name %q", schema)
		}
		if _, err := e.db.ExecContext(ctx, fmt.Sprintf("CREATE SCHEMA %s.%s", c.Name, schema)); err != nil {
			return fmt.Errorf("engine: schema %s.%s: %w", c.Name, schema, err)
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
		if err != nil {
			return err
		}
		for _, f := range files {
			table := strings.TrimSuffix(filepath.Base(f), ".parquet")
			if !ident.MatchString(table) {
				continue
			}
			abs, _ := filepath.Abs(f)
			q := fmt.Sprintf("CREATE VIEW %s.%s.%s AS SELECT * FROM read_parquet('%s')", c.Name, schema, table, strings.ReplaceAll(abs, "'", "''"))
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("engine: table %s.%s.%s: %w", c.Name, schema, table, err)
			}
			e.tables = append(e.tables, c.Name+"."+schema+"."+table)
		}
	}
	return nil
}

// Close releases DuckDB.
func (e *DuckDB) Close() error { return e.db.Close() }

// DB exposes the database for data generation and tests.
func (e *DuckDB) DB() *sql.DB { return e.db }

// Run executes query (whose session supplies the default catalog, schema and time zone)
// and streams its rows into sink. It returns the protocol error of a failure, or nil.
func (e *DuckDB) Run(ctx context.Context, spec events.QuerySpec, query string, sink Sink) *protocol.QueryError {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return e.failure(ctx, err, query)
	}
	defer conn.Close()
	if qe := e.useSession(ctx, conn, spec); qe != nil {
		return qe
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return e.failure(ctx, err, query)
	}
	defer rows.Close()
	if err := StreamRows(ctx, rows, sink); err != nil {
		var qe *protocol.QueryError
		if errors.As(err, &qe) {
			return qe
		}
		return e.failure(ctx, err, query)
	}
	return nil
}

// StreamRows encodes rows for the Trino wire into sink. An error is a *protocol.QueryError
// when a column type cannot be encoded, else DuckDB's (or the sink's) error as it is.
func StreamRows(ctx context.Context, rows *sql.Rows, sink Sink) error {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	enc, err := trinowire.NewRowEncoder(cts)
	if err != nil {
		return protocol.NewError(protocol.NotSupported, "%v", err)
	}
	sink.SetColumns(enc.Columns())
	targets := enc.ScanTargets()
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return err
		}
		row := enc.Encode()
		if err := sink.Append(ctx, row, trinowire.EstimateSize(row)); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (e *DuckDB) failure(ctx context.Context, err error, query string) *protocol.QueryError {
	if cause := context.Cause(ctx); cause != nil {
		var qe *protocol.QueryError
		if errors.As(cause, &qe) {
			return qe
		}
	}
	return trinowire.ErrorFromDuckDB(err, query)
}

// useSession resets the connection to the session's catalog and schema (DuckDB's default
// database when the session names none) and time zone.
func (e *DuckDB) useSession(ctx context.Context, conn *sql.Conn, spec events.QuerySpec) *protocol.QueryError {
	var key any
	_ = conn.Raw(func(dc any) error { key = dc; return nil })
	want := spec.Catalog + "\x00" + spec.Schema + "\x00" + spec.TimeZone
	if key != nil {
		if prev, ok := e.applied.Load(key); ok && prev == want {
			return nil
		}
		e.applied.Delete(key)
	}
	target := "memory.main"
	switch {
	case spec.Catalog != "" && spec.Schema != "":
		target = quoteIdent(spec.Catalog) + "." + quoteIdent(spec.Schema)
	case spec.Catalog != "":
		target = quoteIdent(spec.Catalog)
	}
	if _, err := conn.ExecContext(ctx, "USE "+target); err != nil {
		if ctx.Err() != nil { // canceled: the catalog lookup below would fail too
			return e.failure(ctx, err, "USE "+target)
		}
		if spec.Catalog != "" && !e.catalogExists(ctx, conn, spec.Catalog) {
			return protocol.NewError(protocol.CatalogNotFound, "Catalog '%s' not found", spec.Catalog)
		}
		if spec.Schema != "" {
			return protocol.NewError(protocol.SchemaNotFound, "Schema '%s' does not exist", spec.Schema)
		}
		return trinowire.ErrorFromDuckDB(err, "USE "+target)
	}
	tz := spec.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if _, err := conn.ExecContext(ctx, "SET TimeZone = '"+strings.ReplaceAll(tz, "'", "''")+"'"); err != nil {
		if ctx.Err() != nil {
			return e.failure(ctx, err, "SET TimeZone")
		}
		return protocol.NewError(protocol.InvalidSessionProp, "Time zone not supported: %s", tz)
	}
	if key != nil {
		e.applied.Store(key, want)
	}
	return nil
}

func (e *DuckDB) catalogExists(ctx context.Context, conn *sql.Conn, name string) bool {
	var n int
	err := conn.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", name).Scan(&n)
	return err == nil && n > 0
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
