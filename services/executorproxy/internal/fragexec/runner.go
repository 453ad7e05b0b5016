package fragexec

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
	"github.com/sluicehq/sluice/services/executorproxy/internal/substraitsql"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// Where base tables live when no WithCatalog option is given.
const (
	// DefaultCatalog is the catalog of base tables: the executor-proxy's TPC-H catalog.
	DefaultCatalog = "tpch"
	// DefaultSchema is the schema of base tables: TPC-H at scale 0.01.
	DefaultSchema = "tiny"
)

// Fragment is one fragment to run.
type Fragment struct {
	// Query is the query's ID.
	Query string
	// ID is the fragment's ID, which names its output in the Store.
	ID string
	// Plan is the fragment's complete plan (fragment.DAG.Plan).
	Plan *substraitpb.Plan
	// Root marks the fragment that computes the query result: its rows go to the
	// RowsFunc instead of the Store.
	Root bool
	// Inputs maps the ID of every child fragment the plan reads to its output's
	// Parquet path (Result.Path of the child's run).
	Inputs map[string]string
}

// Result describes a finished fragment.
type Result struct {
	// Path is the Parquet file holding a non-root fragment's output; "" for the root.
	Path string
	// Rows is the number of rows a non-root fragment wrote; 0 for the root.
	Rows int64
	// Bytes is the size of Path; 0 for the root.
	Bytes int64
	// SQL is the statement that computed the rows (without the COPY around it).
	SQL string
}

// RowsFunc consumes the root fragment's rows, e.g. encoding them for the client with
// trinowire.NewRowEncoder(rows.ColumnTypes()). It must not close rows; an error it
// returns ends the run and is returned as it is unless it comes from DuckDB (rows.Err,
// rows.Scan), which is classified like the run's own errors.
type RowsFunc func(rows *sql.Rows) error

// Option configures a Runner; it fails with ErrInvalidOption.
type Option func(*Runner) error

// WithCatalog reads base tables from schema of catalog c (as attached by engine.Open):
// a plan's LINEITEM is c.Name.schema.lineitem, and partition reads split the Parquet
// files under c.Schemas[schema]. Without it, base tables are tpch.tiny.<table> and
// partition reads fail with ErrPlan.
func WithCatalog(c engine.Catalog, schema string) Option {
	return func(r *Runner) error {
		if c.Name == "" || schema == "" {
			return fmt.Errorf("%w: catalog %q, schema %q", ErrInvalidOption, c.Name, schema)
		}
		dir, ok := c.Schemas[schema]
		if !ok || dir == "" {
			return fmt.Errorf("%w: catalog %s has no schema %q", ErrInvalidOption, c.Name, schema)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("%w: schema directory %q: %w", ErrInvalidOption, dir, err)
		}
		r.catalog, r.schema, r.dir = c.Name, schema, abs
		return nil
	}
}

// Runner runs fragments on one DuckDB database. It is safe for concurrent use.
//
// Partition reads ["__sluice_partition", i, n, TABLE] read partition i of n of the
// table's Parquet data: with at least n files (<dir>/<table>/*.parquet, sorted), files
// are dealt round-robin (i, i+n, …); with fewer (the usual single <dir>/<table>.parquet)
// partition i reads the i-th of n contiguous row ranges of each file (the row counts come
// from the files' footers, once per file), so DuckDB skips the other row groups.
type Runner struct {
	db      *sql.DB
	store   *Store
	catalog string
	schema  string
	dir     string

	mu   sync.Mutex
	rows map[string]int64 // Parquet file → row count
}

// fileRows returns a Parquet file's row count, read from its footer once.
func (r *Runner) fileRows(file string) (int64, error) {
	r.mu.Lock()
	n, ok := r.rows[file]
	r.mu.Unlock()
	if ok {
		return n, nil
	}
	if err := r.db.QueryRow("SELECT CAST(num_rows AS BIGINT) FROM parquet_file_metadata(?)", file).Scan(&n); err != nil {
		return 0, fmt.Errorf("row count of %s: %w", file, err)
	}
	r.mu.Lock()
	r.rows[file] = n
	r.mu.Unlock()
	return n, nil
}

// NewRunner returns a Runner that runs fragments on db and keeps their outputs in store.
func NewRunner(db *sql.DB, store *Store, opts ...Option) (*Runner, error) {
	if db == nil || store == nil {
		return nil, fmt.Errorf("%w: a database and a store are required", ErrInvalidOption)
	}
	r := &Runner{db: db, store: store, catalog: DefaultCatalog, schema: DefaultSchema, rows: map[string]int64{}}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// SQL translates f's plan into the DuckDB statement that computes its rows, with its
// reads mapped as described on Runner. Errors wrap ErrPlan (the plan cannot be
// translated, a table name is malformed) or ErrInput (a child's output is not among
// f.Inputs or its file is missing). The second result lists the input files read.
func (r *Runner) SQL(f Fragment) (string, []string, error) {
	if f.Plan == nil {
		return "", nil, fmt.Errorf("%w: fragment %s has no plan", ErrPlan, f.ID)
	}
	t := &tables{catalog: r.catalog, schema: r.schema, dir: r.dir, inputs: f.Inputs, rows: r.fileRows}
	q, err := substraitsql.Translate(f.Plan, substraitsql.Options{Table: t.table})
	switch {
	case errors.Is(err, ErrInput):
		return "", nil, err
	case err != nil && !errors.Is(err, ErrPlan):
		return "", nil, fmt.Errorf("%w: %w", ErrPlan, err)
	case err != nil:
		return "", nil, err
	}
	for _, p := range t.used {
		if _, err := os.Stat(p); err != nil {
			return "", nil, fmt.Errorf("%w: %w", ErrInput, err)
		}
	}
	return q, t.used, nil
}

// Run runs fragment f. A non-root fragment writes its rows to the Store's file for
// (f.Query, f.ID), replacing an earlier output, and returns its path, row count and
// size. The root fragment passes its rows to rows (required) and returns Result.SQL
// only.
//
// Errors wrap ErrPlan (not retriable: untranslatable plan, unknown table, bad IDs, SQL
// DuckDB rejects), ErrInput (retriable once the scheduler has rerun the children whose
// outputs are missing or unreadable) or ErrExec (DuckDB failed while running or writing);
// a canceled ctx gives its cause.
func (r *Runner) Run(ctx context.Context, f Fragment, rows RowsFunc) (Result, error) {
	out, err := r.store.Path(f.Query, f.ID)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrPlan, err)
	}
	q, inputs, err := r.SQL(f)
	if err != nil {
		return Result{}, err
	}
	if f.Root {
		if rows == nil {
			return Result{SQL: q}, fmt.Errorf("%w: root fragment %s without a RowsFunc", ErrPlan, f.ID)
		}
		return Result{SQL: q}, r.query(ctx, q, inputs, rows)
	}
	res, err := r.materialize(ctx, q, inputs, out)
	res.SQL = q
	return res, err
}

// query runs the root's statement and hands its rows to fn.
func (r *Runner) query(ctx context.Context, q string, inputs []string, fn RowsFunc) error {
	rs, err := r.db.QueryContext(ctx, q)
	if err != nil {
		return classify(ctx, err, inputs)
	}
	defer rs.Close()
	if err := fn(rs); err != nil {
		if rerr := rs.Err(); rerr != nil {
			return classify(ctx, rerr, inputs)
		}
		if isDuckDB(err) {
			return classify(ctx, err, inputs)
		}
		return err
	}
	if err := rs.Err(); err != nil {
		return classify(ctx, err, inputs)
	}
	if err := rs.Close(); err != nil {
		return classify(ctx, err, inputs)
	}
	return nil
}

// materialize writes q's rows to out through a temporary file in the same directory,
// so that out is either absent or complete.
func (r *Runner) materialize(ctx context.Context, q string, inputs []string, out string) (Result, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrExec, err)
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	tmp := out + "." + hex.EncodeToString(suffix[:]) + ".tmp"
	res, err := r.db.ExecContext(ctx, "COPY ("+q+") TO "+quoteString(tmp)+" (FORMAT PARQUET)")
	if err != nil {
		os.Remove(tmp)
		return Result{}, classify(ctx, err, inputs)
	}
	n, err := res.RowsAffected()
	if err != nil {
		os.Remove(tmp)
		return Result{}, fmt.Errorf("%w: row count: %w", ErrExec, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return Result{}, fmt.Errorf("%w: %w", ErrExec, err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrExec, err)
	}
	return Result{Path: out, Rows: n, Bytes: fi.Size()}, nil
}
