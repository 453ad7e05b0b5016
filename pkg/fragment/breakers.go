package fragment

import (
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// A pipeline breaker consumes its whole input before it emits a row. Cut makes a
// relation the root of its own fragment when
//
//   - it materialises its output: an aggregate, a sort, a fetch over a sort (top-N),
//     a set operation other than UNION ALL, window functions, an exchange; or
//   - it is the build side of a binary relation: the right input of a CrossRel or
//     JoinRel, the build input of a HashJoinRel (right unless it says left), the
//     inner (right) input of a NestedLoopJoinRel, a secondary input of MINUS or
//     INTERSECT; or
//   - it is the relation of a subquery expression (scalar, IN, EXISTS/UNIQUE,
//     ANY/ALL).
//
// MergeJoinRel streams both sorted inputs and UNION ALL streams every input, so
// neither cuts. A candidate whose subtree refers to an outer query (a correlated
// subquery, or a breaker inside one) is not cut: it cannot run on its own.

// breaker returns the kind of fragment n roots and why, or KindUnspecified.
func breaker(n *node) (Kind, string) {
	kind, why := materializes(n)
	var reasons []string
	if why != "" {
		reasons = append(reasons, why)
	}
	if side := buildSide(n); side != "" {
		if kind == KindUnspecified {
			kind = KindBuild
		}
		reasons = append(reasons, side)
	}
	if n.edge.subquery != "" {
		if kind == KindUnspecified {
			kind = KindSubquery
		}
		reasons = append(reasons, n.edge.subquery+" subquery")
	}
	return kind, strings.Join(reasons, "; ")
}

// materializes classifies relations whose output is a pipeline boundary.
func materializes(n *node) (Kind, string) {
	switch x := n.rel.GetRelType().(type) {
	case *substraitpb.Rel_Aggregate:
		return KindAggregate, "aggregate"
	case *substraitpb.Rel_Sort:
		if n.parent != nil && n.parent.rel.GetFetch() != nil && n.edge.field == "input" {
			return KindUnspecified, "" // the fetch above makes it a top-N
		}
		return KindSort, "sort"
	case *substraitpb.Rel_Fetch:
		if x.Fetch.GetInput().GetSort() != nil {
			return KindTopN, "fetch over sort (top-N)"
		}
	case *substraitpb.Rel_Set:
		if op := x.Set.GetOp(); op != substraitpb.SetRel_SET_OP_UNION_ALL {
			return KindSetOp, "set operation " + strings.ToLower(strings.TrimPrefix(op.String(), "SET_OP_"))
		}
	case *substraitpb.Rel_Window:
		return KindWindow, "window"
	case *substraitpb.Rel_Project:
		if n.facts.window {
			return KindWindow, "window functions"
		}
	case *substraitpb.Rel_Exchange:
		return KindExchange, "exchange"
	}
	return KindUnspecified, ""
}

// buildSide says which build input n is to its parent, or "".
func buildSide(n *node) string {
	p := n.parent
	if p == nil || n.edge.field == "" {
		return ""
	}
	switch x := p.rel.GetRelType().(type) {
	case *substraitpb.Rel_Cross:
		if n.edge.field == "right" {
			return "cross product side of CrossRel"
		}
	case *substraitpb.Rel_Join:
		if n.edge.field == "right" {
			return "build side of JoinRel"
		}
	case *substraitpb.Rel_HashJoin:
		build := "right"
		if x.HashJoin.GetBuildInput() == substraitpb.HashJoinRel_BUILD_INPUT_LEFT {
			build = "left"
		}
		if n.edge.field == build {
			return "build side of HashJoinRel"
		}
	case *substraitpb.Rel_NestedLoopJoin:
		if n.edge.field == "right" {
			return "inner side of NestedLoopJoinRel"
		}
	case *substraitpb.Rel_Set:
		switch x.Set.GetOp() {
		case substraitpb.SetRel_SET_OP_UNION_ALL, substraitpb.SetRel_SET_OP_UNION_DISTINCT, substraitpb.SetRel_SET_OP_UNSPECIFIED:
		default:
			if n.edge.field != "inputs[0]" {
				return "secondary input of SetRel"
			}
		}
	}
	return ""
}
