package fragment

import (
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// substrait-go v8 returns ErrNotImplemented for ExchangeRel, NestedLoopJoinRel and
// ConsistentPartitionWindowRel. To type and validate plans that use them, lower
// rewrites each into a relation substrait-go knows with the same output schema:
//
//	ExchangeRel(input)                    → FilterRel(input, true)
//	NestedLoopJoinRel(left, right, expr)  → JoinRel(left, right, expr or true, same type)
//	ConsistentPartitionWindowRel(input)   → ProjectRel(input, window function expressions)
//
// It also gives FetchRels with literal or unset offset and count expressions the
// constant form substrait-go requires.
//
// The lowered tree is only ever typed; fragments keep the original relations.

// needsLowering reports whether r's subtree has a relation lower rewrites (typing the
// others needs no copy).
func needsLowering(r *substraitpb.Rel) bool {
	found := false
	forEachRel(r, "", func(r *substraitpb.Rel, _ string) bool {
		switch r.GetRelType().(type) {
		case *substraitpb.Rel_Fetch, *substraitpb.Rel_Exchange, *substraitpb.Rel_NestedLoopJoin, *substraitpb.Rel_Window:
			found = true
		}
		return !found
	})
	return found
}

// lower rewrites r and its subtree in place (r must be a private copy) and returns the
// new root.
func lower(r *substraitpb.Rel) *substraitpb.Rel {
	children, _ := scan(r, "")
	for _, c := range children {
		c.set(lower(c.rel))
	}
	switch x := r.GetRelType().(type) {
	case *substraitpb.Rel_Fetch:
		constantFetch(x.Fetch)
	case *substraitpb.Rel_Exchange:
		e := x.Exchange
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Filter{Filter: &substraitpb.FilterRel{
			Common: e.GetCommon(), Input: e.GetInput(), Condition: literalTrue(),
		}}}
	case *substraitpb.Rel_NestedLoopJoin:
		j := x.NestedLoopJoin
		cond := j.GetExpression()
		if cond == nil {
			cond = literalTrue()
		}
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Join{Join: &substraitpb.JoinRel{
			Common: j.GetCommon(), Left: j.GetLeft(), Right: j.GetRight(), Expression: cond,
			Type: joinTypeByName(j.GetType().String()),
		}}}
	case *substraitpb.Rel_Window:
		w := x.Window
		exprs := make([]*substraitpb.Expression, 0, len(w.GetWindowFunctions()))
		for _, f := range w.GetWindowFunctions() {
			exprs = append(exprs, &substraitpb.Expression{RexType: &substraitpb.Expression_WindowFunction_{
				WindowFunction: &substraitpb.Expression_WindowFunction{
					FunctionReference: f.GetFunctionReference(),
					Arguments:         f.GetArguments(),
					Options:           f.GetOptions(),
					OutputType:        f.GetOutputType(),
					Phase:             f.GetPhase(),
					Sorts:             w.GetSorts(),
					Invocation:        f.GetInvocation(),
					Partitions:        w.GetPartitionExpressions(),
					BoundsType:        f.GetBoundsType(),
					LowerBound:        f.GetLowerBound(),
					UpperBound:        f.GetUpperBound(),
				},
			}})
		}
		return &substraitpb.Rel{RelType: &substraitpb.Rel_Project{Project: &substraitpb.ProjectRel{
			Common: w.GetCommon(), Input: w.GetInput(), Expressions: exprs,
		}}}
	}
	return r
}

// joinTypeByName maps a join type of any join relation to JoinRel's enum by name
// (the enums share names but not numbers); unknown names map to unspecified.
func joinTypeByName(name string) substraitpb.JoinRel_JoinType {
	return substraitpb.JoinRel_JoinType(substraitpb.JoinRel_JoinType_value[name])
}

// literalTrue is the boolean literal true.
func literalTrue() *substraitpb.Expression {
	return &substraitpb.Expression{RexType: &substraitpb.Expression_Literal_{
		Literal: &substraitpb.Expression_Literal{LiteralType: &substraitpb.Expression_Literal_Boolean{Boolean: true}},
	}}
}
