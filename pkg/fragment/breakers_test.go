package fragment

import (
	"strings"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// TestBreakerRules cuts small plans over the relation types the TPC-H plans do not
// use and checks each fragment's operators and kind.
func TestBreakerRules(t *testing.T) {
	t.Parallel()
	windowExpr := &substraitpb.Expression{RexType: &substraitpb.Expression_WindowFunction_{WindowFunction: &substraitpb.Expression_WindowFunction{
		FunctionReference: fnRowNumber, OutputType: i64T(),
		Phase:      substraitpb.AggregationPhase_AGGREGATION_PHASE_INITIAL_TO_RESULT,
		Partitions: []*substraitpb.Expression{fieldRef(0)},
	}}}
	set := func(op substraitpb.SetRel_SetOp, ins ...*substraitpb.Rel) *substraitpb.Rel {
		return rel(&substraitpb.SetRel{Common: directCommon(), Op: op, Inputs: ins})
	}
	filtered := func(name string) *substraitpb.Rel { return tFilter(tRead(name), eq(0, 0)) }
	cases := []struct {
		name  string
		root  *substraitpb.Rel
		names []string
		want  []string // "kind ops" per fragment, in DAG order
	}{
		{
			name:  "fetch without sort streams",
			root:  tFetch(filtered("T"), 5),
			names: []string{"A", "B"},
			want:  []string{"root fetch[5](filter(T))"},
		},
		{
			name:  "sort under project is its own fragment",
			root:  tProject(tSort(filtered("T")), fieldRef(0)),
			names: []string{"A", "B", "A2"},
			want:  []string{"sort sort(filter(T))", "root project(@s_f1)"},
		},
		{
			name: "exchange",
			root: tProject(rel(&substraitpb.ExchangeRel{Common: directCommon(), Input: filtered("T"), PartitionCount: 4,
				ExchangeKind: &substraitpb.ExchangeRel_RoundRobin_{RoundRobin: &substraitpb.ExchangeRel_RoundRobin{}}}), fieldRef(1)),
			names: []string{"A", "B", "B2"},
			want:  []string{"exchange exchange(filter(T))", "root project(@s_f1)"},
		},
		{
			name: "window relation",
			root: tFilter(rel(&substraitpb.ConsistentPartitionWindowRel{Common: directCommon(), Input: filtered("T"),
				PartitionExpressions: []*substraitpb.Expression{fieldRef(0)},
				WindowFunctions: []*substraitpb.ConsistentPartitionWindowRel_WindowRelFunction{{
					FunctionReference: fnRowNumber, OutputType: i64T(),
					Phase: substraitpb.AggregationPhase_AGGREGATION_PHASE_INITIAL_TO_RESULT,
				}}}), eq(0, 2)),
			names: []string{"A", "B", "RN"},
			want:  []string{"window window(filter(T))", "root filter(@s_f1)"},
		},
		{
			name:  "window function in a project",
			root:  tFilter(tProject(filtered("T"), windowExpr), eq(0, 2)),
			names: []string{"A", "B", "RN"},
			want:  []string{"window project(filter(T))", "root filter(@s_f1)"},
		},
		{
			name: "nested loop join cuts its right input",
			root: rel(&substraitpb.NestedLoopJoinRel{Common: directCommon(), Left: filtered("L"), Right: filtered("R"),
				Type: substraitpb.NestedLoopJoinRel_JOIN_TYPE_LEFT_SEMI}),
			names: []string{"A", "B"},
			want:  []string{"build filter(R)", "root nestedLoopJoin(filter(L), @s_f1)"},
		},
		{
			name: "hash join builds its left input when told",
			root: rel(&substraitpb.HashJoinRel{Common: directCommon(), Left: filtered("L"), Right: filtered("R"),
				Type: substraitpb.HashJoinRel_JOIN_TYPE_INNER, BuildInput: substraitpb.HashJoinRel_BUILD_INPUT_LEFT}),
			names: []string{"A", "B", "A2", "B2"},
			want:  []string{"build filter(L)", "root hashJoin(@s_f1, filter(R))"},
		},
		{
			name: "hash join builds right by default",
			root: rel(&substraitpb.HashJoinRel{Common: directCommon(), Left: filtered("L"), Right: filtered("R"),
				Type: substraitpb.HashJoinRel_JOIN_TYPE_INNER}),
			names: []string{"A", "B", "A2", "B2"},
			want:  []string{"build filter(R)", "root hashJoin(filter(L), @s_f1)"},
		},
		{
			name: "merge join streams both inputs",
			root: rel(&substraitpb.MergeJoinRel{Common: directCommon(), Left: tSort(tRead("L")), Right: tSort(tRead("R")),
				Type: substraitpb.MergeJoinRel_JOIN_TYPE_INNER}),
			names: []string{"A", "B", "A2", "B2"},
			want:  []string{"sort sort(L)", "sort sort(R)", "root mergeJoin(@s_f1, @s_f2)"},
		},
		{
			name:  "union all streams",
			root:  set(substraitpb.SetRel_SET_OP_UNION_ALL, filtered("L"), filtered("R")),
			names: []string{"A", "B"},
			want:  []string{"root set:union_all(filter(L), filter(R))"},
		},
		{
			name:  "union distinct materialises",
			root:  tFetch(set(substraitpb.SetRel_SET_OP_UNION_DISTINCT, filtered("L"), filtered("R")), 3),
			names: []string{"A", "B"},
			want:  []string{"set-op set:union_distinct(filter(L), filter(R))", "root fetch[3](@s_f1)"},
		},
		{
			name:  "minus builds its secondary inputs",
			root:  tFetch(set(substraitpb.SetRel_SET_OP_MINUS_PRIMARY, filtered("L"), filtered("R"), filtered("S")), 3),
			names: []string{"A", "B"},
			want:  []string{"build filter(R)", "build filter(S)", "set-op set:minus_primary(filter(L), @s_f2, @s_f3)", "root fetch[3](@s_f1)"},
		},
		{
			name:  "aggregate on a build side keeps its kind",
			root:  tCross(filtered("L"), tAgg(tRead("R"), true, agg(fnSum, i64N(), 0))),
			names: []string{"A", "B", "K", "S"},
			want:  []string{"aggregate aggregate(R)", "root cross(filter(L), @s_f1)"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustSynth(t, synthPlan(c.root, c.names...))
			d, err := Cut(p, Options{QueryID: "s"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Fragments {
				got = append(got, f.Kind.String()+" "+Ops(f.Rel))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if !sameSchema(d.Root().Schema, p.Schema()) {
				t.Errorf("root schema %v, want %v", d.Root().Schema, p.Schema())
			}
			checkRunnable(t, d)
			checkPlaceholders(t, d)
			checkExactlyOnce(t, p, d)
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	if KindTopN.String() != "top-n" || Kind(99).String() != "kind(99)" || KindUnspecified.String() != "unspecified" {
		t.Errorf("kind names: %s %s %s", KindTopN, Kind(99), KindUnspecified)
	}
}
