package fragexec

import (
	"database/sql"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protopath"
	"google.golang.org/protobuf/reflect/protorange"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// cut parses an Isthmus TPC-H plan and cuts it.
func cut(t *testing.T, name, query string, parts map[string]int) *fragment.DAG {
	t.Helper()
	plan, err := fragment.Parse(tpchcheck.ReadShared(t, "substrait", "isthmus", name+".json"), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	dag, err := fragment.Cut(plan, fragment.Options{QueryID: query, ScaleFactor: 0.01, Partitions: parts})
	if err != nil {
		t.Fatal(err)
	}
	return dag
}

func fragPlan(t *testing.T, dag *fragment.DAG, id string) *substraitpb.Plan {
	t.Helper()
	p, err := dag.Plan(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// renameTables returns p with every named table's names replaced by rename(names).
func renameTables(p *substraitpb.Plan, rename func([]string) []string) *substraitpb.Plan {
	p = proto.CloneOf(p)
	_ = protorange.Range(p.ProtoReflect(), func(v protopath.Values) error {
		if nt, ok := message(v).(*substraitpb.ReadRel_NamedTable); ok {
			nt.Names = rename(nt.GetNames())
		}
		return nil
	})
	return p
}

// message is the message protorange visits, or nil for a scalar.
func message(v protopath.Values) proto.Message {
	if m, ok := v.Index(-1).Value.Interface().(protoreflect.Message); ok {
		return m.Interface()
	}
	return nil
}

// renameTable renames the table old to new.
func renameTable(p *substraitpb.Plan, old, new string) *substraitpb.Plan {
	return renameTables(p, func(names []string) []string {
		if len(names) == 1 && names[0] == old {
			return []string{new}
		}
		return names
	})
}

// undeclaredFunction points every scalar function at an undeclared anchor.
func undeclaredFunction(p *substraitpb.Plan) *substraitpb.Plan {
	p = proto.CloneOf(p)
	_ = protorange.Range(p.ProtoReflect(), func(v protopath.Values) error {
		if f, ok := message(v).(*substraitpb.Expression_ScalarFunction); ok {
			f.FunctionReference = 991
		}
		return nil
	})
	return p
}

func discard(rows *sql.Rows) error {
	for rows.Next() {
	}
	return rows.Err()
}

// runChildren runs every fragment but the root and returns the root's inputs.
func runChildren(t *testing.T, r *Runner, dag *fragment.DAG) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range dag.Fragments[:len(dag.Fragments)-1] {
		in := map[string]string{}
		for _, d := range f.Deps {
			in[d] = out[d]
		}
		res, err := r.Run(t.Context(), Fragment{Query: dag.QueryID, ID: f.ID, Plan: fragPlan(t, dag, f.ID), Inputs: in}, nil)
		if err != nil {
			t.Fatalf("%s: %v", f.ID, err)
		}
		out[f.ID] = res.Path
	}
	in := map[string]string{}
	for _, d := range dag.Root().Deps {
		in[d] = out[d]
	}
	return in
}

// TestResultCounts: a non-root fragment reports its file, its rows and its size.
func TestResultCounts(t *testing.T) {
	r, store := newRunner(t)
	db, _ := tpchcheck.TinyDB(t)
	dag := cut(t, "q01", "counts", nil)
	f := dag.Fragments[0]
	res, err := r.Run(t.Context(), Fragment{Query: "counts", ID: f.ID, Plan: fragPlan(t, dag, f.ID)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := store.Path("counts", f.ID); res.Path != want {
		t.Errorf("Path = %q, want %q", res.Path, want)
	}
	var n int64
	if err := db.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM read_parquet("+quoteString(res.Path)+")").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if res.Rows != n || n == 0 {
		t.Errorf("Rows = %d, the file holds %d", res.Rows, n)
	}
	fi, err := os.Stat(res.Path)
	if err != nil || fi.Size() != res.Bytes {
		t.Errorf("Bytes = %d, file: %v %v", res.Bytes, fi, err)
	}
	if total, err := store.Bytes(); err != nil || total != res.Bytes {
		t.Errorf("store Bytes = %d, %v; want %d", total, err, res.Bytes)
	}
	matches, _ := filepath.Glob(filepath.Join(store.Root(), "counts", "*.tmp"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	// A rerun replaces the output.
	again, err := r.Run(t.Context(), Fragment{Query: "counts", ID: f.ID, Plan: fragPlan(t, dag, f.ID)}, nil)
	if err != nil || again.Rows != res.Rows || again.Path != res.Path {
		t.Errorf("rerun: %+v, %v", again, err)
	}
	if err := store.DeleteQuery("counts"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output survived DeleteQuery: %v", err)
	}
}

// TestMissingInput: an input that is not passed, deleted or corrupt gives ErrInput.
func TestMissingInput(t *testing.T) {
	r, _ := newRunner(t)
	dag := cut(t, "q03", "missing", nil)
	root := dag.Root()
	plan := fragPlan(t, dag, root.ID)
	if len(root.Deps) == 0 {
		t.Fatal("q03's root reads no fragment")
	}
	dep := root.Deps[0]
	for name, mutate := range map[string]func(in map[string]string){
		"not passed": func(in map[string]string) { delete(in, dep) },
		"deleted":    func(in map[string]string) { os.Remove(in[dep]) },
		"corrupt":    func(in map[string]string) { os.WriteFile(in[dep], []byte("not parquet"), 0o644) },
		"truncated": func(in map[string]string) {
			data, _ := os.ReadFile(in[dep])
			os.WriteFile(in[dep], data[:len(data)/2], 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := runChildren(t, r, dag)
			mutate(in)
			_, err := r.Run(t.Context(), Fragment{Query: "missing", ID: root.ID, Plan: plan, Root: true, Inputs: in}, discard)
			if !errors.Is(err, ErrInput) || errors.Is(err, ErrPlan) || errors.Is(err, ErrExec) {
				t.Fatalf("got %v, want ErrInput", err)
			}
			t.Log(err)
		})
	}
	t.Run("non-root", func(t *testing.T) {
		pdag := cut(t, "q01", "missing_p", map[string]int{"lineitem": 2})
		f := pdag.Root()
		for _, g := range pdag.Fragments {
			if len(g.Deps) > 0 && g != pdag.Root() {
				f = g
				break
			}
		}
		if f == pdag.Root() {
			t.Fatal("no non-root fragment with inputs")
		}
		in := map[string]string{}
		for _, d := range f.Deps {
			in[d] = filepath.Join(t.TempDir(), d+".parquet")
		}
		_, err := r.Run(t.Context(), Fragment{Query: "missing_p", ID: f.ID, Plan: fragPlan(t, pdag, f.ID), Inputs: in}, nil)
		if !errors.Is(err, ErrInput) {
			t.Fatalf("got %v, want ErrInput", err)
		}
	})
}

// TestBadPlan: plans that cannot run give ErrPlan.
func TestBadPlan(t *testing.T) {
	r, _ := newRunner(t)
	q06 := cut(t, "q06", "bad", nil)
	whole := fragPlan(t, q06, q06.Root().ID)
	parted := cut(t, "q06", "bad_p", map[string]int{"lineitem": 2})
	part := fragPlan(t, parted, parted.Fragments[0].ID)
	for name, f := range map[string]Fragment{
		"no plan":          {Query: "bad", ID: "bad_f0", Root: true},
		"empty plan":       {Query: "bad", ID: "bad_f0", Root: true, Plan: &substraitpb.Plan{}},
		"unknown table":    {Query: "bad", ID: "bad_f0", Root: true, Plan: renameTable(whole, "LINEITEM", "NOSUCH")},
		"table name":       {Query: "bad", ID: "bad_f0", Root: true, Plan: renameTable(whole, "LINEITEM", "LINE ITEM")},
		"reserved name":    {Query: "bad", ID: "bad_f0", Root: true, Plan: renameTable(whole, "LINEITEM", "__sluice_other")},
		"unknown function": {Query: "bad", ID: "bad_f0", Root: true, Plan: undeclaredFunction(whole)},
		"partition index": {Query: "bad_p", ID: "bad_p_f1_p0", Plan: renameTables(part, func(n []string) []string {
			return append([]string{n[0], "2"}, n[2:]...)
		})},
		"bad query ID":      {Query: "../x", ID: "bad_f0", Root: true, Plan: whole},
		"bad fragment ID":   {Query: "bad", ID: "a/b", Plan: whole},
		"root without sink": {Query: "bad", ID: "bad_f0", Root: true, Plan: whole},
	} {
		t.Run(name, func(t *testing.T) {
			rows := RowsFunc(discard)
			if name == "root without sink" {
				rows = nil
			}
			_, err := r.Run(t.Context(), f, rows)
			if !errors.Is(err, ErrPlan) || errors.Is(err, ErrInput) {
				t.Fatalf("got %v, want ErrPlan", err)
			}
			t.Log(err)
		})
	}
}

// TestPartitionReads: the partitions of a table, single file or several, hold each of
// its rows exactly once.
func TestPartitionReads(t *testing.T) {
	db, cat := tpchcheck.TinyDB(t)
	dir := t.TempDir()
	src := filepath.Join(cat.Schemas["tiny"], "orders.parquet")
	// orders as one file, and as three files.
	if err := os.MkdirAll(filepath.Join(dir, "split"), 0o755); err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := db.DB().ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s)) TO %s (FORMAT PARQUET)", quoteString(src), quoteString(filepath.Join(dir, "single.parquet"))))
	for i := range 3 {
		exec(fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s) WHERE o_orderkey %% 3 = %d) TO %s (FORMAT PARQUET)",
			quoteString(src), i, quoteString(filepath.Join(dir, "split", fmt.Sprintf("part%d.parquet", i)))))
	}
	rows := func(file string) (n int64, err error) {
		err = db.DB().QueryRowContext(t.Context(), "SELECT CAST(num_rows AS BIGINT) FROM parquet_file_metadata(?)", file).Scan(&n)
		return n, err
	}
	modulo, ranges := &tables{catalog: "tpch", schema: "tiny", dir: dir}, &tables{catalog: "tpch", schema: "tiny", dir: dir, rows: rows}
	var total int
	if err := db.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM read_parquet("+quoteString(src)+")").Scan(&total); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table string
		n     int
		tb    *tables
	}{{"SINGLE", 1, ranges}, {"SINGLE", 4, ranges}, {"SINGLE", 4, modulo}, {"SPLIT", 2, ranges}, {"SPLIT", 3, ranges}, {"SPLIT", 5, ranges}, {"SPLIT", 5, modulo}} {
		tb := tc.tb
		t.Run(fmt.Sprintf("%s/%d/ranges=%v", tc.table, tc.n, tb.rows != nil), func(t *testing.T) {
			var parts []string
			for i := range tc.n {
				expr, err := tb.table([]string{fragment.PartitionTable, fmt.Sprint(i), fmt.Sprint(tc.n), tc.table})
				if err != nil {
					t.Fatal(err)
				}
				if ranged := strings.Contains(expr, "file_row_number >="); tc.table == "SINGLE" && tc.n > 1 && ranged != (tb.rows != nil) {
					t.Errorf("partition %d reads %s; want a row range exactly when row counts are known", i, expr)
				}
				parts = append(parts, "SELECT * FROM "+expr+" AS p")
			}
			q := "SELECT count(*), count(DISTINCT o_orderkey) FROM (" + strings.Join(parts, " UNION ALL ") + ")"
			var rows, keys int
			if err := db.DB().QueryRowContext(t.Context(), q).Scan(&rows, &keys); err != nil {
				t.Fatal(err)
			}
			if rows != total || keys != total {
				t.Errorf("%d rows, %d distinct keys; want %d each", rows, keys, total)
			}
			// Only the table's columns.
			var cols int
			if err := db.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM (DESCRIBE "+parts[0]+")").Scan(&cols); err != nil {
				t.Fatal(err)
			}
			if cols != 9 {
				t.Errorf("%d columns, want orders' 9", cols)
			}
		})
	}
}

// TestOptions: options validate.
func TestOptions(t *testing.T) {
	db, cat := tpchcheck.TinyDB(t)
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRunner(nil, store); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("nil db: %v", err)
	}
	if _, err := NewRunner(db.DB(), nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("nil store: %v", err)
	}
	for _, o := range []Option{WithCatalog(cat, "sf1"), WithCatalog(engine.Catalog{}, "tiny"), WithCatalog(cat, "")} {
		if _, err := NewRunner(db.DB(), store, o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("bad option: %v", err)
		}
	}
	// Without WithCatalog, base tables are tpch.tiny and partition reads fail.
	r, err := NewRunner(db.DB(), store)
	if err != nil {
		t.Fatal(err)
	}
	dag := cut(t, "q06", "opts", nil)
	if _, err := r.Run(t.Context(), Fragment{Query: "opts", ID: dag.Root().ID, Plan: fragPlan(t, dag, dag.Root().ID), Root: true}, discard); err != nil {
		t.Errorf("default catalog: %v", err)
	}
	pdag := cut(t, "q06", "opts_p", map[string]int{"lineitem": 2})
	f := pdag.Fragments[0]
	if _, err := r.Run(t.Context(), Fragment{Query: "opts_p", ID: f.ID, Plan: fragPlan(t, pdag, f.ID)}, nil); !errors.Is(err, ErrPlan) {
		t.Errorf("partition read without a directory: %v, want ErrPlan", err)
	}
}

// TestRowsFuncError: the RowsFunc's own error comes back as it is.
func TestRowsFuncError(t *testing.T) {
	r, _ := newRunner(t)
	dag := cut(t, "q06", "sinkerr", nil)
	boom := errors.New("client went away")
	_, err := r.Run(t.Context(), Fragment{Query: "sinkerr", ID: dag.Root().ID, Plan: fragPlan(t, dag, dag.Root().ID), Root: true},
		func(*sql.Rows) error { return boom })
	if err != boom {
		t.Errorf("got %v, want %v", err, boom)
	}
}
