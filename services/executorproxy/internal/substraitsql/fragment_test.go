package substraitsql

import (
	"fmt"
	"github.com/sluicehq/sluice/pkg/rowcompare"
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"path/filepath"
	"strings"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// inputs returns the input slots of a relation (not the relations inside its
// expressions), so that a subtree can be swapped out.
func inputs(r *substraitpb.Rel) []**substraitpb.Rel {
	switch k := r.GetRelType().(type) {
	case *substraitpb.Rel_Filter:
		return []**substraitpb.Rel{&k.Filter.Input}
	case *substraitpb.Rel_Project:
		return []**substraitpb.Rel{&k.Project.Input}
	case *substraitpb.Rel_Fetch:
		return []**substraitpb.Rel{&k.Fetch.Input}
	case *substraitpb.Rel_Sort:
		return []**substraitpb.Rel{&k.Sort.Input}
	case *substraitpb.Rel_Aggregate:
		return []**substraitpb.Rel{&k.Aggregate.Input}
	case *substraitpb.Rel_Cross:
		return []**substraitpb.Rel{&k.Cross.Left, &k.Cross.Right}
	case *substraitpb.Rel_Join:
		return []**substraitpb.Rel{&k.Join.Left, &k.Join.Right}
	}
	return nil
}

// cutPoints lists the slots under pipeline breakers (aggregate and sort inputs, the
// right side of cross products and joins) in the main tree of root.
func cutPoints(root **substraitpb.Rel) []**substraitpb.Rel {
	var out []**substraitpb.Rel
	var walk func(slot **substraitpb.Rel)
	walk = func(slot **substraitpb.Rel) {
		r := *slot
		ins := inputs(r)
		switch r.GetRelType().(type) {
		case *substraitpb.Rel_Aggregate, *substraitpb.Rel_Sort:
			out = append(out, ins[0])
		case *substraitpb.Rel_Cross, *substraitpb.Rel_Join:
			out = append(out, ins[1])
		}
		for _, in := range ins {
			walk(in)
		}
	}
	walk(root)
	return out
}

// TestFragmentsMatchWholePlan runs each plan in two fragments: a subtree under a pipeline
// breaker is translated alone (TranslateRel) and written to Parquet, and the rest of the
// plan reads it back through a ["__sluice_fragment", id] read. The answer must equal the
// whole plan's.
func TestFragmentsMatchWholePlan(t *testing.T) {
	db := tpchcheck.TinySQL(t)
	dir := t.TempDir()
	for _, name := range tpchcheck.Queries {
		t.Run(name, func(t *testing.T) {
			plan := loadPlan(t, name)
			whole, err := Translate(plan, Options{Table: tinyTables})
			if err != nil {
				t.Fatal(err)
			}
			want, err := rowcompare.QueryRows(t.Context(), db, whole)
			if err != nil {
				t.Fatal(err)
			}
			ext, err := NewExtensions(plan)
			if err != nil {
				t.Fatal(err)
			}
			root := plan.GetRelations()[0].GetRoot()
			n := len(cutPoints(&root.Input))
			for i := range n {
				cut := proto.Clone(plan).(*substraitpb.Plan)
				croot := cut.GetRelations()[0].GetRoot()
				slot := cutPoints(&croot.Input)[i]
				child, cols, err := TranslateRel(*slot, ext, Options{Table: tinyTables})
				if err != nil {
					t.Fatalf("cut %d: %v", i, err)
				}
				id := fmt.Sprintf("%s_%d", name, i)
				file := filepath.Join(dir, id+".parquet")
				if _, err := db.ExecContext(t.Context(), fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet)", child, file)); err != nil {
					t.Fatalf("cut %d: write child: %v\n%s", i, err, child)
				}
				names := make([]string, len(cols))
				for j := range names {
					names[j] = fmt.Sprintf("F%d", j) // the parent's names need not match the child's
				}
				*slot = &substraitpb.Rel{RelType: &substraitpb.Rel_Read{Read: &substraitpb.ReadRel{
					Common:     &substraitpb.RelCommon{EmitKind: &substraitpb.RelCommon_Direct_{Direct: &substraitpb.RelCommon_Direct{}}},
					BaseSchema: &substraitpb.NamedStruct{Names: names},
					ReadType:   &substraitpb.ReadRel_NamedTable_{NamedTable: &substraitpb.ReadRel_NamedTable{Names: []string{FragmentTable, id}}},
				}}}
				parent, err := Translate(cut, Options{Table: func(names []string) (string, error) {
					if names[0] == FragmentTable {
						return "read_parquet('" + filepath.Join(dir, names[1]+".parquet") + "')", nil
					}
					return tinyTables(names)
				}})
				if err != nil {
					t.Fatalf("cut %d: %v", i, err)
				}
				got, err := rowcompare.QueryRows(t.Context(), db, parent)
				if err != nil {
					t.Fatalf("cut %d: run parent: %v\n%s", i, err, parent)
				}
				ordered := strings.Contains(whole, "ORDER BY")
				if err := rowcompare.CompareRows(got, want, ordered); err != nil {
					t.Fatalf("cut %d: %v\nparent:\n%s", i, err, parent)
				}
			}
			t.Logf("%d cuts, each equal to the whole plan", n)
		})
	}
}
