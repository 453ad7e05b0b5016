package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// subquery translates scalar, IN, EXISTS/UNIQUE and ANY/ALL subqueries. The subquery's
// relations see the current record as their outer record (outer references with
// steps_out 1), and SQL's correlation does the rest: every table alias is unique in the
// statement.
func (t *translator) subquery(s *substraitpb.Expression_Subquery, sc *scope, path string) (string, error) {
	switch k := s.GetSubqueryType().(type) {
	case *substraitpb.Expression_Subquery_Scalar_:
		q, err := t.rel(k.Scalar.GetInput(), sc, path+".scalar.input")
		if err != nil {
			return "", err
		}
		if len(q.cols) != 1 {
			return "", invalid(path+".scalar", "scalar subquery with %d columns", len(q.cols))
		}
		return subqueryText(q), nil
	case *substraitpb.Expression_Subquery_InPredicate_:
		p := path + ".in_predicate"
		needles, err := t.exprs(k.InPredicate.GetNeedles(), sc, p+".needles")
		if err != nil {
			return "", err
		}
		q, err := t.rel(k.InPredicate.GetHaystack(), sc, p+".haystack")
		if err != nil {
			return "", err
		}
		if len(needles) == 0 || len(q.cols) != len(needles) {
			return "", invalid(p, "%d needles for a haystack of %d columns", len(needles), len(q.cols))
		}
		left := needles[0]
		if len(needles) > 1 {
			left = "(" + strings.Join(needles, ", ") + ")"
		}
		return "(" + left + " IN " + subqueryText(q) + ")", nil
	case *substraitpb.Expression_Subquery_SetPredicate_:
		p := path + ".set_predicate"
		q, err := t.rel(k.SetPredicate.GetTuples(), sc, p+".tuples")
		if err != nil {
			return "", err
		}
		switch k.SetPredicate.GetPredicateOp() {
		case substraitpb.Expression_Subquery_SetPredicate_PREDICATE_OP_EXISTS:
			if !q.agg && q.limit == "" && q.offset == "" {
				q.cols = []string{"1"} // only whether a row exists matters
			}
			return "EXISTS " + subqueryText(q), nil
		case substraitpb.Expression_Subquery_SetPredicate_PREDICATE_OP_UNIQUE:
			return t.unique(q), nil
		default:
			return "", invalid(p+".predicate_op", "set predicate %v", k.SetPredicate.GetPredicateOp())
		}
	case *substraitpb.Expression_Subquery_SetComparison_:
		return t.setComparison(k.SetComparison, sc, path+".set_comparison")
	default:
		return "", invalid(path, "subquery without a type")
	}
}

// subqueryText renders q in parentheses, columns named c0, c1, ….
func subqueryText(q *query) string {
	return "(\n" + indent(q.sql(colNames(len(q.cols)))) + "\n)"
}

// unique is SQL's UNIQUE predicate, which DuckDB lacks: no two rows without NULLs are
// equal.
func (t *translator) unique(q *query) string {
	from, cols := t.derived(q)
	notNull := make([]string, len(cols))
	for i, c := range cols {
		notNull[i] = c + " IS NOT NULL"
	}
	dup := &query{cols: []string{"1"}, from: from, where: notNull, groupBy: strings.Join(cols, ", ")}
	return "(NOT EXISTS (\n" + indent(dup.sql([]string{"c0"})+"\nHAVING count(*) > 1") + "\n))"
}

var comparisonOps = map[substraitpb.Expression_Subquery_SetComparison_ComparisonOp]string{
	substraitpb.Expression_Subquery_SetComparison_COMPARISON_OP_EQ: "=",
	substraitpb.Expression_Subquery_SetComparison_COMPARISON_OP_NE: "<>",
	substraitpb.Expression_Subquery_SetComparison_COMPARISON_OP_LT: "<",
	substraitpb.Expression_Subquery_SetComparison_COMPARISON_OP_GT: ">",
	substraitpb.Expression_Subquery_SetComparison_COMPARISON_OP_LE: "<=",
	substraitpb.Expression_Subquery_SetComparison_COMPARISON_OP_GE: ">=",
}

// setComparison is "left op ANY (subquery)" or "left op ALL (subquery)".
func (t *translator) setComparison(s *substraitpb.Expression_Subquery_SetComparison, sc *scope, path string) (string, error) {
	op, ok := comparisonOps[s.GetComparisonOp()]
	if !ok {
		return "", invalid(path+".comparison_op", "comparison %v", s.GetComparisonOp())
	}
	var red string
	switch s.GetReductionOp() {
	case substraitpb.Expression_Subquery_SetComparison_REDUCTION_OP_ANY:
		red = "ANY"
	case substraitpb.Expression_Subquery_SetComparison_REDUCTION_OP_ALL:
		red = "ALL"
	default:
		return "", invalid(path+".reduction_op", "reduction %v", s.GetReductionOp())
	}
	left, err := t.expr(s.GetLeft(), sc, path+".left")
	if err != nil {
		return "", err
	}
	q, err := t.rel(s.GetRight(), sc, path+".right")
	if err != nil {
		return "", err
	}
	if len(q.cols) != 1 {
		return "", invalid(path+".right", "comparison subquery with %d columns", len(q.cols))
	}
	return fmt.Sprintf("(%s %s %s %s)", left, op, red, subqueryText(q)), nil
}
