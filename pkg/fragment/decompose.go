package fragment

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// An aggregate directly above a partitioned scan pipeline splits into one partial
// aggregate per partition and a final aggregate over their UNION ALL, when every
// measure decomposes:
//
//	sum(x), min(x), max(x)  partial: the same;        final: the same over the partial column
//	sum0(x)                 partial: sum0(x);         final: sum0 over the partial column
//	count(x), count()       partial: the same;        final: sum0 over the partial column
//	avg(x)                  partial: sum(x), count(x); final: sum and sum0, then a project
//	                        computes cast(sum / count AS <avg's type>) (decimal and fp64 avg)
//
// Both phases are ordinary INITIAL_TO_RESULT aggregates, so any Substrait consumer
// runs them. DISTINCT or ordered measures, other functions, several grouping sets and
// aggregates whose expressions hold subqueries do not split; the aggregate fragment
// notes why.

// aggSplit is the plan of one aggregate's split.
type aggSplit struct {
	orig *substraitpb.AggregateRel
	// groups is the number of grouping expressions (the leading output columns).
	groups int
	// partials are the partial aggregate's measures.
	partials []*substraitpb.AggregateRel_Measure
	// finals are the final aggregate's measures, one per partial measure.
	finals []*substraitpb.AggregateRel_Measure
	// outputs compute each original measure over the final aggregate's columns; nil
	// when the final aggregate's measures are already the original ones (no avg).
	outputs []*substraitpb.Expression
}

// planSplit plans the split of n's aggregate, adding the functions it needs to h, or
// says why it does not split.
func planSplit(n *node, h *header) (*aggSplit, string) {
	a := n.rel.GetAggregate()
	if len(n.children) != 1 {
		return nil, "its expressions hold subqueries"
	}
	groups, why := singleGrouping(a)
	if why != "" {
		return nil, why
	}
	g := len(groups)
	trial := h.clone()
	s := &aggSplit{orig: a, groups: g}
	avg := false
	for _, m := range a.GetMeasures() {
		if why := s.add(m, trial); why != "" {
			return nil, why
		}
		avg = avg || trial.funcBase(m.GetMeasure().GetFunctionReference()) == "avg"
	}
	if !avg {
		s.outputs = nil
	}
	*h = *trial
	return s, ""
}

// singleGrouping returns the grouping expressions of an aggregate with at most one
// grouping set that lists them in order (either form: references into
// grouping_expressions, or the legacy inline expressions), or says why not.
func singleGrouping(a *substraitpb.AggregateRel) ([]*substraitpb.Expression, string) {
	switch len(a.GetGroupings()) {
	case 0:
		return a.GetGroupingExpressions(), ""
	case 1:
	default:
		return nil, "it has several grouping sets"
	}
	gr := a.GetGroupings()[0]
	if legacy := inlineGroupings(gr); len(legacy) > 0 {
		if len(a.GetGroupingExpressions()) > 0 || len(gr.GetExpressionReferences()) > 0 {
			return nil, "it mixes inline and referenced grouping expressions"
		}
		return legacy, ""
	}
	if len(gr.GetExpressionReferences()) != len(a.GetGroupingExpressions()) {
		return nil, "its grouping set does not list every grouping expression in order"
	}
	for i, r := range gr.GetExpressionReferences() {
		if int(r) != i {
			return nil, "its grouping set does not list every grouping expression in order"
		}
	}
	return a.GetGroupingExpressions(), ""
}

// add plans one measure, or says why it does not decompose.
func (s *aggSplit) add(m *substraitpb.AggregateRel_Measure, h *header) string {
	f := m.GetMeasure()
	name := h.funcName(f.GetFunctionReference())
	base := h.funcBase(f.GetFunctionReference())
	switch {
	case f.GetInvocation() == substraitpb.AggregateFunction_AGGREGATION_INVOCATION_DISTINCT:
		return fmt.Sprintf("%s(DISTINCT) does not decompose", base)
	case len(f.GetSorts()) > 0:
		return fmt.Sprintf("ordered aggregate %s does not decompose", base)
	case f.GetPhase() != substraitpb.AggregationPhase_AGGREGATION_PHASE_INITIAL_TO_RESULT &&
		f.GetPhase() != substraitpb.AggregationPhase_AGGREGATION_PHASE_UNSPECIFIED:
		return fmt.Sprintf("%s is already a partial or final phase", base)
	}
	col := int32(s.groups + len(s.partials))
	switch base {
	case "sum", "sum0", "min", "max":
		s.partials = append(s.partials, proto.CloneOf(m))
		s.finals = append(s.finals, measure(f.GetFunctionReference(), f.GetOutputType(), fieldRef(col)))
		s.outputs = append(s.outputs, fieldRef(int32(s.groups+len(s.finals)-1)))
	case "count":
		if f.GetOutputType().GetI64() == nil {
			return fmt.Sprintf("count with output type %v does not merge with sum0:i64", f.GetOutputType())
		}
		s.partials = append(s.partials, proto.CloneOf(m))
		s.finals = append(s.finals, measure(h.function(urnArithmetic, "sum0:i64"), f.GetOutputType(), fieldRef(col)))
		s.outputs = append(s.outputs, fieldRef(int32(s.groups+len(s.finals)-1)))
	case "avg":
		return s.addAvg(m, name, h)
	default:
		return fmt.Sprintf("aggregate function %q does not decompose", name)
	}
	return ""
}

// addAvg plans avg(x) as sum(x) and count(x), divided after the final aggregate.
func (s *aggSplit) addAvg(m *substraitpb.AggregateRel_Measure, name string, h *header) string {
	f := m.GetMeasure()
	out := f.GetOutputType()
	var sumType, countAs *substraitpb.Type
	var sumFn, divFn uint32
	var divName, divURN string
	switch {
	case strings.HasSuffix(name, ":dec") && out.GetDecimal() != nil:
		sumType = decimalType(38, out.GetDecimal().GetScale())
		countAs = decimalType(19, 0)
		sumFn = h.function(urnArithmeticDecimal, "sum:dec")
		divURN, divName = urnArithmeticDecimal, "divide:dec_dec"
	case strings.HasSuffix(name, ":fp64"):
		sumType = fp64Type()
		countAs = fp64Type()
		sumFn = h.function(urnArithmetic, "sum:fp64")
		divURN, divName = urnArithmetic, "divide:fp64_fp64"
	default:
		return fmt.Sprintf("%s: only decimal and fp64 avg split into sum/count", name)
	}
	divType, err := resolveScalar(divURN, divName, sumType, countAs)
	if err != nil {
		return fmt.Sprintf("%s: cannot type %s: %v", name, divName, err)
	}
	divFn = h.function(divURN, divName)
	countFn := h.function(urnAggregateGeneric, "count:any")
	sum := proto.CloneOf(m)
	sum.Measure.FunctionReference, sum.Measure.OutputType = sumFn, proto.CloneOf(sumType)
	count := proto.CloneOf(m)
	count.Measure.FunctionReference, count.Measure.OutputType = countFn, i64Type()
	sumCol := int32(s.groups + len(s.partials))
	s.partials = append(s.partials, sum, count)
	s.finals = append(s.finals,
		measure(sumFn, sumType, fieldRef(sumCol)),
		measure(h.function(urnArithmetic, "sum0:i64"), i64Type(), fieldRef(sumCol+1)))
	ratio := scalarFunc(divFn, divType, fieldRef(sumCol), castTo(fieldRef(sumCol+1), countAs))
	s.outputs = append(s.outputs, castTo(ratio, out))
	return ""
}

// partialRel is the partial aggregate over one partition's pipeline.
func (s *aggSplit) partialRel(input *substraitpb.Rel) *substraitpb.Rel {
	a := &substraitpb.AggregateRel{
		Common:              directCommon(),
		Input:               input,
		Measures:            cloneAll(s.partials),
		GroupingExpressions: cloneAll(s.orig.GetGroupingExpressions()),
		Groupings:           cloneAll(s.orig.GetGroupings()),
	}
	return &substraitpb.Rel{RelType: &substraitpb.Rel_Aggregate{Aggregate: a}}
}

// finalRel merges the partial aggregates read by input into the original
// aggregate's output.
func (s *aggSplit) finalRel(input *substraitpb.Rel) *substraitpb.Rel {
	a := &substraitpb.AggregateRel{
		Common:   directCommon(),
		Input:    input,
		Measures: cloneAll(s.finals),
	}
	if ext := s.orig.GetAdvancedExtension(); ext != nil {
		a.AdvancedExtension = proto.CloneOf(ext)
	}
	for i := 0; i < s.groups; i++ {
		a.GroupingExpressions = append(a.GroupingExpressions, fieldRef(int32(i)))
	}
	if len(s.orig.GetGroupings()) > 0 {
		g := &substraitpb.AggregateRel_Grouping{}
		for i := 0; i < s.groups; i++ {
			g.ExpressionReferences = append(g.ExpressionReferences, uint32(i))
		}
		a.Groupings = []*substraitpb.AggregateRel_Grouping{g}
	}
	agg := &substraitpb.Rel{RelType: &substraitpb.Rel_Aggregate{Aggregate: a}}
	if s.outputs == nil {
		a.Common = proto.CloneOf(s.orig.GetCommon())
		if a.Common == nil {
			a.Common = directCommon()
		}
		return agg
	}
	width := int32(s.groups + len(s.finals))
	var mapping []int32
	for i := 0; i < s.groups; i++ {
		mapping = append(mapping, int32(i))
	}
	for j := range s.outputs {
		mapping = append(mapping, width+int32(j))
	}
	if emit := s.orig.GetCommon().GetEmit(); emit != nil {
		direct := mapping
		mapping = nil
		for _, e := range emit.GetOutputMapping() {
			if e >= 0 && int(e) < len(direct) {
				mapping = append(mapping, direct[e])
			}
		}
	}
	return &substraitpb.Rel{RelType: &substraitpb.Rel_Project{Project: &substraitpb.ProjectRel{
		Common:      &substraitpb.RelCommon{EmitKind: &substraitpb.RelCommon_Emit_{Emit: &substraitpb.RelCommon_Emit{OutputMapping: mapping}}},
		Input:       agg,
		Expressions: cloneAll(s.outputs),
	}}}
}

// resolveScalar derives a standard scalar function's return type for argument types.
func resolveScalar(urn, compound string, args ...*substraitpb.Type) (*substraitpb.Type, error) {
	coll, err := extensions.GetDefaultCollection()
	if err != nil {
		return nil, err
	}
	v, ok := coll.GetScalarFunc(extensions.ID{URN: urn, Name: compound})
	if !ok {
		return nil, fmt.Errorf("function %s not in %s", compound, urn)
	}
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = types.TypeFromProto(a)
	}
	t, err := v.ResolveType(ts, extensions.NewSet())
	if err != nil {
		return nil, err
	}
	return types.TypeToProto(t), nil
}

// measure is the aggregate fn(args) with the given output type.
func measure(fn uint32, out *substraitpb.Type, args ...*substraitpb.Expression) *substraitpb.AggregateRel_Measure {
	return &substraitpb.AggregateRel_Measure{Measure: &substraitpb.AggregateFunction{
		FunctionReference: fn,
		Arguments:         valueArgs(args),
		OutputType:        proto.CloneOf(out),
		Phase:             substraitpb.AggregationPhase_AGGREGATION_PHASE_INITIAL_TO_RESULT,
		Invocation:        substraitpb.AggregateFunction_AGGREGATION_INVOCATION_ALL,
	}}
}

// scalarFunc is the scalar function fn(args) with the given output type.
func scalarFunc(fn uint32, out *substraitpb.Type, args ...*substraitpb.Expression) *substraitpb.Expression {
	return &substraitpb.Expression{RexType: &substraitpb.Expression_ScalarFunction_{ScalarFunction: &substraitpb.Expression_ScalarFunction{
		FunctionReference: fn, Arguments: valueArgs(args), OutputType: out,
	}}}
}

// valueArgs wraps expressions as function arguments.
func valueArgs(args []*substraitpb.Expression) []*substraitpb.FunctionArgument {
	out := make([]*substraitpb.FunctionArgument, len(args))
	for i, a := range args {
		out[i] = &substraitpb.FunctionArgument{ArgType: &substraitpb.FunctionArgument_Value{Value: a}}
	}
	return out
}

// fieldRef references top-level input column i.
func fieldRef(i int32) *substraitpb.Expression {
	return &substraitpb.Expression{RexType: &substraitpb.Expression_Selection{Selection: &substraitpb.Expression_FieldReference{
		ReferenceType: &substraitpb.Expression_FieldReference_DirectReference{DirectReference: &substraitpb.Expression_ReferenceSegment{
			ReferenceType: &substraitpb.Expression_ReferenceSegment_StructField_{StructField: &substraitpb.Expression_ReferenceSegment_StructField{Field: i}},
		}},
		RootType: &substraitpb.Expression_FieldReference_RootReference_{RootReference: &substraitpb.Expression_FieldReference_RootReference{}},
	}}}
}

// castTo casts e to t.
func castTo(e *substraitpb.Expression, t *substraitpb.Type) *substraitpb.Expression {
	return &substraitpb.Expression{RexType: &substraitpb.Expression_Cast_{Cast: &substraitpb.Expression_Cast{Type: proto.CloneOf(t), Input: e}}}
}

// decimalType is a nullable decimal<precision, scale>.
func decimalType(precision, scale int32) *substraitpb.Type {
	return &substraitpb.Type{Kind: &substraitpb.Type_Decimal_{Decimal: &substraitpb.Type_Decimal{
		Precision: precision, Scale: scale, Nullability: substraitpb.Type_NULLABILITY_NULLABLE,
	}}}
}

// fp64Type is a nullable fp64.
func fp64Type() *substraitpb.Type {
	return &substraitpb.Type{Kind: &substraitpb.Type_Fp64{Fp64: &substraitpb.Type_FP64{Nullability: substraitpb.Type_NULLABILITY_NULLABLE}}}
}

// i64Type is a required i64 (a count).
func i64Type() *substraitpb.Type {
	return &substraitpb.Type{Kind: &substraitpb.Type_I64_{I64: &substraitpb.Type_I64{Nullability: substraitpb.Type_NULLABILITY_REQUIRED}}}
}

// directCommon emits a relation's output as is.
func directCommon() *substraitpb.RelCommon {
	return &substraitpb.RelCommon{EmitKind: &substraitpb.RelCommon_Direct_{Direct: &substraitpb.RelCommon_Direct{}}}
}

// cloneAll deep-copies a slice of messages.
func cloneAll[M proto.Message](in []M) []M {
	if in == nil {
		return nil
	}
	out := make([]M, len(in))
	for i, m := range in {
		out[i] = proto.CloneOf(m)
	}
	return out
}
