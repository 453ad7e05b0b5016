package fragment

import (
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	extpb "github.com/substrait-io/substrait-protobuf/go/substraitpb/extensions"
	"google.golang.org/protobuf/proto"
)

// Builders for small synthetic plans over tables with columns (A i64, B fp64).

// Function anchors of synthPlan's extension declarations.
const (
	fnEqual     = 1 // equal:any_any
	fnSum       = 2 // sum:i64
	fnCount     = 3 // count:any
	fnAvg       = 4 // avg:fp64
	fnRowNumber = 5 // row_number:
	fnMin       = 6 // min:i64
	fnAvgI64    = 7 // avg:i64
)

func i64T() *substraitpb.Type {
	return &substraitpb.Type{Kind: &substraitpb.Type_I64_{I64: &substraitpb.Type_I64{Nullability: substraitpb.Type_NULLABILITY_REQUIRED}}}
}

func i64N() *substraitpb.Type {
	return &substraitpb.Type{Kind: &substraitpb.Type_I64_{I64: &substraitpb.Type_I64{Nullability: substraitpb.Type_NULLABILITY_NULLABLE}}}
}

func boolT() *substraitpb.Type {
	return &substraitpb.Type{Kind: &substraitpb.Type_Bool{Bool: &substraitpb.Type_Boolean{Nullability: substraitpb.Type_NULLABILITY_NULLABLE}}}
}

func rel(r any) *substraitpb.Rel {
	switch x := r.(type) {
	case *substraitpb.ReadRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Read{Read: x}}
	case *substraitpb.FilterRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Filter{Filter: x}}
	case *substraitpb.ProjectRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Project{Project: x}}
	case *substraitpb.AggregateRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Aggregate{Aggregate: x}}
	case *substraitpb.SortRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Sort{Sort: x}}
	case *substraitpb.FetchRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Fetch{Fetch: x}}
	case *substraitpb.CrossRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Cross{Cross: x}}
	case *substraitpb.JoinRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Join{Join: x}}
	case *substraitpb.HashJoinRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_HashJoin{HashJoin: x}}
	case *substraitpb.MergeJoinRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_MergeJoin{MergeJoin: x}}
	case *substraitpb.NestedLoopJoinRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_NestedLoopJoin{NestedLoopJoin: x}}
	case *substraitpb.SetRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Set{Set: x}}
	case *substraitpb.ExchangeRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Exchange{Exchange: x}}
	case *substraitpb.ConsistentPartitionWindowRel:
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Window{Window: x}}
	}
	panic("unknown relation")
}

// tRead reads table name with columns A i64 and B fp64.
func tRead(name string) *substraitpb.Rel {
	return rel(&substraitpb.ReadRel{
		Common: directCommon(),
		BaseSchema: &substraitpb.NamedStruct{Names: []string{"A", "B"}, Struct: &substraitpb.Type_Struct{
			Types: []*substraitpb.Type{i64T(), fp64Type()}, Nullability: substraitpb.Type_NULLABILITY_REQUIRED,
		}},
		ReadType: &substraitpb.ReadRel_NamedTable_{NamedTable: &substraitpb.ReadRel_NamedTable{Names: []string{name}}},
	})
}

// eq is column a = column b.
func eq(a, b int32) *substraitpb.Expression {
	return scalarFunc(fnEqual, boolT(), fieldRef(a), fieldRef(b))
}

func tFilter(in *substraitpb.Rel, cond *substraitpb.Expression) *substraitpb.Rel {
	return rel(&substraitpb.FilterRel{Common: directCommon(), Input: in, Condition: cond})
}

func tProject(in *substraitpb.Rel, exprs ...*substraitpb.Expression) *substraitpb.Rel {
	return rel(&substraitpb.ProjectRel{Common: directCommon(), Input: in, Expressions: exprs})
}

func tCross(l, r *substraitpb.Rel) *substraitpb.Rel {
	return rel(&substraitpb.CrossRel{Common: directCommon(), Left: l, Right: r})
}

// tAgg groups by column 0 (when grouped) and applies measures.
func tAgg(in *substraitpb.Rel, grouped bool, ms ...*substraitpb.AggregateRel_Measure) *substraitpb.Rel {
	a := &substraitpb.AggregateRel{Common: directCommon(), Input: in, Measures: ms}
	if grouped {
		a.GroupingExpressions = []*substraitpb.Expression{fieldRef(0)}
		a.Groupings = []*substraitpb.AggregateRel_Grouping{{ExpressionReferences: []uint32{0}}}
	}
	return rel(a)
}

func tSort(in *substraitpb.Rel) *substraitpb.Rel {
	return rel(&substraitpb.SortRel{Common: directCommon(), Input: in, Sorts: []*substraitpb.SortField{{
		Expr: fieldRef(0), SortKind: &substraitpb.SortField_Direction{Direction: substraitpb.SortField_SORT_DIRECTION_ASC_NULLS_LAST},
	}}})
}

func tFetch(in *substraitpb.Rel, n int64) *substraitpb.Rel {
	return rel(&substraitpb.FetchRel{Common: directCommon(), Input: in,
		CountMode: &substraitpb.FetchRel_CountExpr{CountExpr: &substraitpb.Expression{RexType: &substraitpb.Expression_Literal_{
			Literal: &substraitpb.Expression_Literal{LiteralType: &substraitpb.Expression_Literal_I64{I64: n}},
		}}}})
}

// synthPlan wraps root in a plan declaring the builder functions.
func synthPlan(root *substraitpb.Rel, names ...string) *substraitpb.Plan {
	urn := func(a uint32, name string) *extpb.SimpleExtensionURN {
		return extensionURN(a, "extension:io.substrait:"+name)
	}
	fn := func(urnRef, anchor uint32, name string) *extpb.SimpleExtensionDeclaration {
		return &extpb.SimpleExtensionDeclaration{MappingType: &extpb.SimpleExtensionDeclaration_ExtensionFunction_{
			ExtensionFunction: &extpb.SimpleExtensionDeclaration_ExtensionFunction{ExtensionUrnReference: urnRef, FunctionAnchor: anchor, Name: name},
		}}
	}
	return &substraitpb.Plan{
		ExtensionUrns: []*extpb.SimpleExtensionURN{urn(1, "functions_comparison"), urn(2, "functions_arithmetic"), urn(3, "functions_aggregate_generic")},
		Extensions: []*extpb.SimpleExtensionDeclaration{
			fn(1, fnEqual, "equal:any_any"), fn(2, fnSum, "sum:i64"), fn(3, fnCount, "count:any"),
			fn(2, fnAvg, "avg:fp64"), fn(2, fnRowNumber, "row_number:"), fn(2, fnMin, "min:i64"), fn(2, fnAvgI64, "avg:i64"),
		},
		Relations: []*substraitpb.PlanRel{{RelType: &substraitpb.PlanRel_Root{Root: &substraitpb.RelRoot{Input: root, Names: names}}}},
	}
}

// parseSynth encodes a synthetic plan in binary and parses it.
func parseSynth(t testing.TB, p *substraitpb.Plan) (*Plan, error) {
	t.Helper()
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(b, ContentTypeProtobuf)
}

// mustSynth parses a synthetic plan and fails the test on error.
func mustSynth(t testing.TB, p *substraitpb.Plan) *Plan {
	t.Helper()
	plan, err := parseSynth(t, p)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// agg is the measure fn(col) with an output type.
func agg(fn uint32, out *substraitpb.Type, col int32) *substraitpb.AggregateRel_Measure {
	return measure(fn, out, fieldRef(col))
}
