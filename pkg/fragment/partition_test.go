package fragment

import (
	"slices"
	"strings"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

func TestPartitionedAggregateSplits(t *testing.T) {
	t.Parallel()
	d := cut(t, "q01", map[string]int{"lineitem": 4})
	var partials []*Fragment
	for _, f := range d.Fragments {
		if f.Kind == KindPartialAggregate {
			partials = append(partials, f)
		}
	}
	if len(partials) != 4 {
		t.Fatalf("%d partial aggregates, want 4:\n%s", len(partials), d)
	}
	for i, f := range partials {
		if f.Partition == nil || f.Partition.Index != i || f.Partition.Count != 4 || !slices.Equal(f.Partition.Table, []string{"LINEITEM"}) {
			t.Errorf("%s has partition %+v", f.ID, f.Partition)
		}
		var reads [][]string
		forEachRel(f.Rel, "", func(r *substraitpb.Rel, _ string) bool {
			if nt := r.GetRead().GetNamedTable(); nt != nil {
				reads = append(reads, nt.GetNames())
			}
			return true
		})
		want := []string{PartitionTable, string(rune('0' + i)), "4", "LINEITEM"}
		if len(reads) != 1 || !slices.Equal(reads[0], want) {
			t.Errorf("%s reads %v, want %v", f.ID, reads, want)
		}
		if f.Rel.GetAggregate() == nil {
			t.Errorf("%s is not an aggregate: %s", f.ID, Ops(f.Rel))
		}
	}
	final, _ := d.Fragment("q01_f1")
	if final.Kind != KindFinalAggregate || len(final.Deps) != 4 {
		t.Fatalf("final aggregate %s is %s with deps %v", final.ID, final.Kind, final.Deps)
	}
	// avg splits into sum and count: a project divides them above the final aggregate.
	if final.Rel.GetProject().GetInput().GetAggregate() == nil {
		t.Errorf("final aggregate is %s, want project(aggregate(...))", Ops(final.Rel))
	}
	// The final aggregate's output equals the unsplit aggregate's.
	unsplit, _ := cut(t, "q01", nil).Fragment("q01_f1")
	if !final.Schema.Struct.Equals(&unsplit.Schema.Struct) {
		t.Errorf("final aggregate outputs %v, the unsplit one %v", final.Schema, unsplit.Schema)
	}
}

// TestPartitionedScanWithoutAggregate: a partitioned build-side scan fans out, and
// its consumer reads the UNION ALL of the partitions.
func TestPartitionedScanWithoutAggregate(t *testing.T) {
	t.Parallel()
	d := cut(t, "q03", map[string]int{"lineitem": 2})
	agg, _ := d.Fragment("q03_f1")
	if !slices.Equal(agg.Deps, []string{"q03_f2", "q03_f3_p0", "q03_f3_p1"}) {
		t.Fatalf("aggregate depends on %v\n%s", agg.Deps, d)
	}
	if !strings.Contains(Ops(agg.Rel), "set:union_all(@q03_f3_p0, @q03_f3_p1)") {
		t.Errorf("aggregate does not read the union of the partitions: %s", Ops(agg.Rel))
	}
	for _, id := range []string{"q03_f3_p0", "q03_f3_p1"} {
		if f, _ := d.Fragment(id); f.Kind != KindPartition {
			t.Errorf("%s is %s", id, f.Kind)
		}
	}
}

// TestPartitionsDefaultToOne: without partitions, or with 0 or 1, nothing fans out.
func TestPartitionsDefaultToOne(t *testing.T) {
	t.Parallel()
	want := cut(t, "q01", nil).String()
	for _, parts := range []map[string]int{{"lineitem": 0}, {"lineitem": 1}, {"orders": 1}} {
		if got := cut(t, "q01", parts).String(); got != want {
			t.Errorf("%v changed the DAG:\n%s", parts, got)
		}
	}
}

// TestAggregateSplitRules: which aggregates above a partitioned scan split, and the
// note when they do not.
func TestAggregateSplitRules(t *testing.T) {
	t.Parallel()
	distinct := agg(fnCount, i64T(), 0)
	distinct.Measure.Invocation = substraitpb.AggregateFunction_AGGREGATION_INVOCATION_DISTINCT
	ordered := agg(fnSum, i64N(), 0)
	ordered.Measure.Sorts = []*substraitpb.SortField{{Expr: fieldRef(0), SortKind: &substraitpb.SortField_Direction{Direction: substraitpb.SortField_SORT_DIRECTION_ASC_NULLS_LAST}}}
	filtered := agg(fnSum, i64N(), 0)
	filtered.Filter = eq(0, 0)
	cases := []struct {
		name     string
		measures []*substraitpb.AggregateRel_Measure
		grouped  bool
		split    bool
		note     string
	}{
		{"sum count min", []*substraitpb.AggregateRel_Measure{agg(fnSum, i64N(), 0), agg(fnCount, i64T(), 1), agg(fnMin, i64N(), 0)}, true, true, ""},
		{"global avg of fp64", []*substraitpb.AggregateRel_Measure{agg(fnAvg, fp64Type(), 1)}, false, true, ""},
		{"measure filter", []*substraitpb.AggregateRel_Measure{filtered}, true, true, ""},
		{"count distinct", []*substraitpb.AggregateRel_Measure{distinct}, true, false, "count(DISTINCT) does not decompose"},
		{"ordered aggregate", []*substraitpb.AggregateRel_Measure{ordered}, true, false, "ordered aggregate sum"},
		{"avg of i64", []*substraitpb.AggregateRel_Measure{agg(fnAvgI64, i64N(), 0)}, true, false, "only decimal and fp64 avg"},
		{"row_number is no aggregate", []*substraitpb.AggregateRel_Measure{agg(fnRowNumber, i64T(), 0)}, true, false, `"row_number:" does not decompose`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(c.measures)
			if c.grouped {
				n++
			}
			names := make([]string, n)
			for i := range names {
				names[i] = "C" + string(rune('0'+i))
			}
			root := tSort(tAgg(tFilter(tRead("T"), eq(0, 0)), c.grouped, c.measures...))
			p := mustSynth(t, synthPlan(root, names...))
			d, err := Cut(p, Options{QueryID: "s", Partitions: map[string]int{"t": 3}})
			if err != nil {
				t.Fatal(err)
			}
			aggFrag, _ := d.Fragment("s_f1")
			if got := aggFrag.Kind == KindFinalAggregate; got != c.split {
				t.Fatalf("split %v, want %v:\n%s", got, c.split, d)
			}
			if c.note != "" && !strings.Contains(strings.Join(aggFrag.Notes, "\n"), c.note) {
				t.Errorf("notes %q do not say %q", aggFrag.Notes, c.note)
			}
			if !sameSchema(d.Root().Schema, p.Schema()) {
				t.Errorf("root schema %v, want %v", d.Root().Schema, p.Schema())
			}
			checkRunnable(t, d)
			checkPlaceholders(t, d)
		})
	}
}

// TestAggregateSplitKeepsEmit: an aggregate's output mapping survives the split.
func TestAggregateSplitKeepsEmit(t *testing.T) {
	t.Parallel()
	for _, measures := range [][]*substraitpb.AggregateRel_Measure{
		{agg(fnSum, i64N(), 0), agg(fnCount, i64T(), 1)},
		{agg(fnAvg, fp64Type(), 1), agg(fnCount, i64T(), 1)},
	} {
		a := tAgg(tFilter(tRead("T"), eq(0, 0)), true, measures...)
		a.GetAggregate().Common = &substraitpb.RelCommon{EmitKind: &substraitpb.RelCommon_Emit_{Emit: &substraitpb.RelCommon_Emit{OutputMapping: []int32{2, 0}}}}
		p := mustSynth(t, synthPlan(tSort(a), "N", "K"))
		d, err := Cut(p, Options{QueryID: "s", Partitions: map[string]int{"T": 2}})
		if err != nil {
			t.Fatal(err)
		}
		final, _ := d.Fragment("s_f1")
		if final.Kind != KindFinalAggregate || !sameSchema(d.Root().Schema, p.Schema()) {
			t.Errorf("split lost the emit: final %s, root %v want %v\n%s", final.Kind, d.Root().Schema, p.Schema(), d)
		}
		if len(final.Schema.Struct.Types) != 2 || !proto.Equal(final.Schema.ToProto().GetStruct().GetTypes()[1], i64T()) {
			t.Errorf("final aggregate outputs %v, want (count, key)", final.Schema)
		}
	}
}

// TestTableRows: the cost model's table sizes scale with TPC-H's scale factor, but for the
// fixed-size tables; unknown tables get DefaultTableRows.
func TestTableRows(t *testing.T) {
	for _, tc := range []struct {
		table string
		scale float64
		want  float64
	}{{"lineitem", 1, 6_001_215}, {"LINEITEM", 0.1, 600_121.5}, {"orders", 0.01, 15_000}, {"nation", 100, 25}, {"sales", 1, DefaultTableRows}} {
		if got := TableRows(tc.table, tc.scale); got != tc.want {
			t.Errorf("TableRows(%q, %v) = %v, want %v", tc.table, tc.scale, got, tc.want)
		}
	}
}
