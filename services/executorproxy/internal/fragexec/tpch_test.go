package fragexec

import (
	"database/sql"
	"fmt"
	"github.com/sluicehq/sluice/pkg/rowcompare"
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/fragment"
)

// partitionings are the Options.Partitions TestTPCHFragmented cuts every plan under.
var partitionings = []struct {
	name  string
	parts map[string]int
}{
	{"whole", nil},
	{"partitioned", map[string]int{"lineitem": 3, "orders": 2}},
}

// runDAG runs every fragment of dag in dependency order, each child's output passed to
// its parents, and returns the root's rows.
func runDAG(t *testing.T, r *Runner, dag *fragment.DAG) [][]rowcompare.Cell {
	t.Helper()
	outputs := map[string]string{}
	var got [][]rowcompare.Cell
	for _, f := range dag.Fragments {
		p, err := dag.Plan(f.ID)
		if err != nil {
			t.Fatal(err)
		}
		inputs := map[string]string{}
		for _, d := range f.Deps {
			inputs[d] = outputs[d]
		}
		root := f == dag.Root()
		res, err := r.Run(t.Context(), Fragment{Query: dag.QueryID, ID: f.ID, Plan: p, Root: root, Inputs: inputs},
			func(rows *sql.Rows) error {
				var err error
				got, err = rowcompare.ScanRows(rows)
				return err
			})
		if err != nil {
			t.Fatalf("fragment %s (%s): %v\nSQL:\n%s", f.ID, f.Kind, err, res.SQL)
		}
		if !root {
			if res.Path == "" || res.Bytes <= 0 {
				t.Fatalf("fragment %s: result %+v", f.ID, res)
			}
			outputs[f.ID] = res.Path
		}
	}
	return got
}

// TestTPCHFragmented cuts each Isthmus TPC-H plan into fragments, with and without
// partitioned LINEITEM and ORDERS scans, runs every fragment through the Runner
// (children into Parquet, parents reading them), and compares the root's rows with
// DuckDB's answer to the query's SQL.
func TestTPCHFragmented(t *testing.T) {
	r, store := newRunner(t)
	db, _ := tpchcheck.TinyDB(t)
	var fannedOut []string // queries whose partitioned cut has partition fragments
	defer func() {
		t.Logf("partitioned scans in %d plans: %v", len(fannedOut), fannedOut)
		if !t.Failed() && len(fannedOut) < 10 {
			t.Errorf("only %d plans fan out over partitions; the partitioned runs prove little", len(fannedOut))
		}
	}()
	for _, name := range tpchcheck.Queries {
		t.Run(name, func(t *testing.T) {
			ref := tpchcheck.ReferenceSQL(t, name)
			want, err := rowcompare.QueryRows(t.Context(), db.DB(), ref)
			if err != nil {
				t.Fatalf("reference SQL: %v", err)
			}
			ordered := regexp.MustCompile(`(?i)\border\s+by\b`).MatchString(ref)
			plan, err := fragment.Parse(tpchcheck.ReadShared(t, "substrait", "isthmus", name+".json"), "application/json")
			if err != nil {
				t.Fatal(err)
			}
			for _, pt := range partitionings {
				t.Run(pt.name, func(t *testing.T) {
					query := fmt.Sprintf("%s_%s", name, pt.name)
					dag, err := fragment.Cut(plan, fragment.Options{QueryID: query, ScaleFactor: 0.01, Partitions: pt.parts})
					if err != nil {
						t.Fatal(err)
					}
					parts := 0
					for _, f := range dag.Fragments {
						if f.Partition != nil {
							parts++
						}
					}
					if parts > 0 {
						fannedOut = append(fannedOut, name)
					}
					start := time.Now()
					got := runDAG(t, r, dag)
					took := time.Since(start)
					if err := rowcompare.CompareRows(got, want, ordered); err != nil {
						t.Fatalf("%v\n%v", err, dag)
					}
					if err := store.DeleteQuery(query); err != nil {
						t.Fatal(err)
					}
					t.Logf("%d fragments (%d partitions), %d rows equal (ordered=%v) in %v", len(dag.Fragments), parts, len(got), ordered, took.Round(time.Millisecond))
				})
			}
		})
	}
}
