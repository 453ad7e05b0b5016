package fragment

import (
	"math"
	"strconv"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// The cost model is deliberately simple; it gives the scheduler a size prior
// (shortest remaining work first), not an optimiser's estimate. See README.md.

// DefaultTableRows is the row count assumed for a table that is neither in TPC-H nor
// in Options.TableRows.
const DefaultTableRows = 1_000_000

// tpchRows are the TPC-H base table sizes at scale factor 1. NATION and REGION do not
// scale.
var tpchRows = map[string]float64{
	"lineitem": 6_001_215, "orders": 1_500_000, "partsupp": 800_000, "part": 200_000,
	"customer": 150_000, "supplier": 10_000, "nation": 25, "region": 5,
}

// fixedSize are the TPC-H tables whose size does not depend on the scale factor.
var fixedSize = map[string]bool{"nation": true, "region": true}

// Selectivity guesses per predicate.
const (
	selEquality    = 0.1  // column = literal
	selRange       = 0.33 // <, <=, >, >=
	selBetween     = 0.25 // between, like
	selNotEqual    = 0.9  // <>, is not null
	selIsNull      = 0.1  // is null
	selDefault     = 0.5  // anything else, subquery predicates
	groupsPerInput = 0.1  // a grouped aggregate emits 10% of its input rows
	minSelectivity = 1e-6
)

// estimator estimates fragment costs.
type estimator struct {
	opts options
	hdr  *header
	// known maps built fragment IDs to their estimated output rows.
	known map[string]float64
}

// estimate returns r's output rows and the work of every relation in r.
func (e *estimator) estimate(r *substraitpb.Rel) Cost {
	rows, work := e.rel(r)
	return Cost{Rows: rows, Work: work}
}

// rel returns the estimated output rows and the work of r's subtree, subqueries
// included (once each).
func (e *estimator) rel(r *substraitpb.Rel) (rows, work float64) {
	var inRows []float64
	children, _ := scan(r, "")
	for _, c := range children {
		cr, cw := e.rel(c.rel)
		work += cw
		if c.subquery == "" {
			inRows = append(inRows, cr)
		}
	}
	in := 0.0
	if len(inRows) > 0 {
		in = inRows[0]
	}
	switch x := r.GetRelType().(type) {
	case *substraitpb.Rel_Read:
		rows = e.readRows(x.Read)
		work += rows
		if f := x.Read.GetFilter(); f != nil {
			rows *= e.selectivity(f)
		}
	case *substraitpb.Rel_Filter:
		rows = in * e.selectivity(x.Filter.GetCondition())
		work += in
	case *substraitpb.Rel_Project:
		rows, work = in, work+in
	case *substraitpb.Rel_Aggregate:
		rows = 1
		if grouped(x.Aggregate) {
			rows = math.Max(1, in*groupsPerInput) * float64(max(1, len(x.Aggregate.GetGroupings())))
		}
		work += 2 * in
	case *substraitpb.Rel_Sort, *substraitpb.Rel_Window:
		rows, work = in, work+in*math.Max(1, math.Log2(math.Max(in, 1)))
	case *substraitpb.Rel_Fetch:
		rows, work = fetchRows(x.Fetch, in), work+in
	case *substraitpb.Rel_Exchange:
		rows, work = in, work+in
	case *substraitpb.Rel_Set:
		rows = setRows(x.Set.GetOp(), inRows)
		for _, v := range inRows {
			work += v
		}
	case *substraitpb.Rel_Cross, *substraitpb.Rel_Join, *substraitpb.Rel_HashJoin,
		*substraitpb.Rel_MergeJoin, *substraitpb.Rel_NestedLoopJoin:
		if len(inRows) == 2 {
			rows = joinRows(r, inRows[0], inRows[1])
			work += inRows[0] + inRows[1]
		}
	default:
		rows, work = in, work+in
	}
	return math.Max(rows, 1), work
}

// grouped reports whether an aggregate has grouping keys (else it emits one row).
func grouped(a *substraitpb.AggregateRel) bool {
	if len(a.GetGroupingExpressions()) > 0 {
		return true
	}
	for _, g := range a.GetGroupings() {
		if len(inlineGroupings(g)) > 0 {
			return true
		}
	}
	return false
}

// readRows is the size of a read: a placeholder's fragment estimate, a partition's
// share of its table, a virtual table's rows, or the base table's size.
func (e *estimator) readRows(r *substraitpb.ReadRel) float64 {
	if vt := r.GetVirtualTable(); vt != nil {
		return float64(virtualTableRows(vt))
	}
	names := r.GetNamedTable().GetNames()
	if len(names) == 2 && names[0] == PlaceholderTable {
		return e.known[names[1]]
	}
	parts := 1.0
	if len(names) > 3 && names[0] == PartitionTable {
		if n, err := strconv.Atoi(names[2]); err == nil && n > 0 {
			parts = float64(n)
		}
		names = names[3:]
	}
	return e.tableRows(names) / parts
}

// TableRows is the size the cost model assumes for a base table at a TPC-H scale factor
// (DefaultTableRows for a table that is not in TPC-H).
func TableRows(table string, scale float64) float64 {
	e := estimator{opts: options{scale: scale}}
	return e.tableRows([]string{table})
}

// tableRows is a base table's size: Options.TableRows, else TPC-H at the scale
// factor, else DefaultTableRows.
func (e *estimator) tableRows(names []string) float64 {
	if v, ok := lookupTable(e.opts.tableRows, names); ok {
		return v
	}
	if len(names) > 0 {
		if v, ok := tpchRows[strings.ToLower(names[len(names)-1])]; ok {
			if fixedSize[strings.ToLower(names[len(names)-1])] {
				return v
			}
			return v * e.opts.scale
		}
	}
	return DefaultTableRows
}

// fetchRows applies a constant offset and count.
func fetchRows(f *substraitpb.FetchRel, in float64) float64 {
	rows := in
	if off, ok := fetchOffset(f); ok {
		rows -= float64(off)
	}
	if cnt, ok := fetchCount(f); ok && cnt >= 0 {
		rows = math.Min(rows, float64(cnt))
	}
	return rows
}

// setRows estimates a set operation over inputs of the given sizes.
func setRows(op substraitpb.SetRel_SetOp, in []float64) float64 {
	if len(in) == 0 {
		return 0
	}
	switch op {
	case substraitpb.SetRel_SET_OP_UNION_ALL, substraitpb.SetRel_SET_OP_UNION_DISTINCT:
		var sum float64
		for _, v := range in {
			sum += v
		}
		return sum
	case substraitpb.SetRel_SET_OP_INTERSECTION_PRIMARY, substraitpb.SetRel_SET_OP_INTERSECTION_MULTISET,
		substraitpb.SetRel_SET_OP_INTERSECTION_MULTISET_ALL:
		lo := in[0]
		for _, v := range in[1:] {
			lo = math.Min(lo, v)
		}
		return lo
	}
	return in[0]
}

// joinRows estimates a join as a foreign-key join: the larger input survives. A
// CrossRel counts as a join too, since producers put the join predicate in a
// FilterRel above it (whose column = column conjuncts then count as selectivity 1).
func joinRows(r *substraitpb.Rel, l, rr float64) float64 {
	t := ""
	switch x := r.GetRelType().(type) {
	case *substraitpb.Rel_Join:
		t = x.Join.GetType().String()
	case *substraitpb.Rel_HashJoin:
		t = x.HashJoin.GetType().String()
	case *substraitpb.Rel_MergeJoin:
		t = x.MergeJoin.GetType().String()
	case *substraitpb.Rel_NestedLoopJoin:
		t = x.NestedLoopJoin.GetType().String()
	}
	switch {
	case strings.HasSuffix(t, "LEFT_SEMI"), strings.HasSuffix(t, "LEFT_ANTI"):
		return l * selDefault
	case strings.HasSuffix(t, "RIGHT_SEMI"), strings.HasSuffix(t, "RIGHT_ANTI"):
		return rr * selDefault
	case strings.HasSuffix(t, "_OUTER"):
		return l + rr
	case strings.HasSuffix(t, "LEFT"), strings.HasSuffix(t, "LEFT_SINGLE"), strings.HasSuffix(t, "LEFT_MARK"):
		return l
	case strings.HasSuffix(t, "RIGHT"), strings.HasSuffix(t, "RIGHT_SINGLE"), strings.HasSuffix(t, "RIGHT_MARK"):
		return rr
	}
	return math.Max(l, rr)
}

// selectivity guesses the fraction of rows a predicate keeps.
func (e *estimator) selectivity(x *substraitpb.Expression) float64 {
	var s float64
	switch v := x.GetRexType().(type) {
	case *substraitpb.Expression_ScalarFunction_:
		s = e.funcSelectivity(v.ScalarFunction)
	case *substraitpb.Expression_SingularOrList_:
		s = math.Min(1, selEquality*float64(len(v.SingularOrList.GetOptions())))
	case *substraitpb.Expression_Literal_:
		s = 1
		if b, ok := v.Literal.GetLiteralType().(*substraitpb.Expression_Literal_Boolean); ok && !b.Boolean {
			s = 0
		}
	default:
		s = selDefault
	}
	return math.Max(s, minSelectivity)
}

// funcSelectivity guesses a predicate function's selectivity from its name.
func (e *estimator) funcSelectivity(f *substraitpb.Expression_ScalarFunction) float64 {
	args := f.GetArguments()
	switch e.hdr.funcBase(f.GetFunctionReference()) {
	case "and":
		s := 1.0
		for _, a := range args {
			s *= e.selectivity(a.GetValue())
		}
		return s
	case "or":
		s := 0.0
		for _, a := range args {
			s += e.selectivity(a.GetValue())
		}
		return math.Min(1, s)
	case "not":
		if len(args) == 1 {
			return 1 - e.selectivity(args[0].GetValue())
		}
	case "equal":
		if len(args) == 2 && args[0].GetValue().GetSelection() != nil && args[1].GetValue().GetSelection() != nil {
			return 1 // a join predicate, already counted by joinRows
		}
		return selEquality
	case "not_equal", "is_not_null":
		return selNotEqual
	case "lt", "lte", "gt", "gte":
		return selRange
	case "between", "like":
		return selBetween
	case "is_null":
		return selIsNull
	}
	return selDefault
}
