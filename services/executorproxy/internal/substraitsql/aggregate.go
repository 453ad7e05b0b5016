package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// aggregate groups its input by one or more grouping sets and computes the measures. The
// output is the distinct grouping expressions, then the measures, then (with more than
// one grouping set) the index of the row's grouping set.
func (t *translator) aggregate(a *substraitpb.AggregateRel, outer *scope, path string) (*query, error) {
	q, err := t.rel(a.GetInput(), outer, path+".input")
	if err != nil {
		return nil, err
	}
	if !q.open() || len(q.orderBy) > 0 {
		q = t.wrap(q)
	}
	sc := &scope{cols: q.cols, outer: outer}
	keys, sets, err := t.groupings(a, sc, path)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 && len(sets) == 0 {
		return nil, invalid(path+".grouping_expressions", "grouping expressions without a grouping set")
	}
	if len(a.GetMeasures()) == 0 && len(sets) == 0 {
		return nil, invalid(path, "aggregate without groupings or measures")
	}
	cols := append([]string(nil), keys...)
	for i, m := range a.GetMeasures() {
		s, err := t.measure(m, sc, fmt.Sprintf("%s.measures[%d]", path, i))
		if err != nil {
			return nil, err
		}
		cols = append(cols, s)
	}
	switch {
	case len(sets) == 1 && len(sets[0]) > 0:
		q.groupBy = strings.Join(keyList(keys, sets[0]), ", ")
	case len(sets) > 1:
		if len(keys) == 0 {
			return nil, unsupported(path+".groupings", "several grouping sets without grouping expressions")
		}
		list := make([]string, len(sets))
		for i, set := range sets {
			list[i] = "(" + strings.Join(keyList(keys, set), ", ") + ")"
		}
		q.groupBy = "GROUPING SETS (" + strings.Join(list, ", ") + ")"
		cols = append(cols, groupingSetIndex(keys, sets))
	}
	q.cols, q.plain, q.agg = cols, make([]bool, len(cols)), true
	return q, emit(a.GetCommon(), q, path)
}

// groupings returns the distinct grouping expressions and, per grouping set, the indexes
// of its expressions. Both the current form (AggregateRel.grouping_expressions referenced
// by Grouping.expression_references) and the deprecated one (expressions inside each
// Grouping, deduplicated in order of appearance) are read.
func (t *translator) groupings(a *substraitpb.AggregateRel, sc *scope, path string) ([]string, [][]int, error) {
	var keys []string
	var sets [][]int
	if len(a.GetGroupingExpressions()) > 0 {
		var err error
		if keys, err = t.exprs(a.GetGroupingExpressions(), sc, path+".grouping_expressions"); err != nil {
			return nil, nil, err
		}
		for i, g := range a.GetGroupings() {
			var set []int
			for j, r := range g.GetExpressionReferences() {
				if int(r) >= len(keys) {
					return nil, nil, invalid(fmt.Sprintf("%s.groupings[%d].expression_references[%d]", path, i, j), "reference %d out of range (%d grouping expressions)", r, len(keys))
				}
				set = append(set, int(r))
			}
			sets = append(sets, set)
		}
		return keys, sets, nil
	}
	var seen []*substraitpb.Expression
	for i, g := range a.GetGroupings() {
		if len(g.GetExpressionReferences()) > 0 {
			return nil, nil, invalid(fmt.Sprintf("%s.groupings[%d].expression_references", path, i), "references without grouping_expressions")
		}
		var set []int
		for j, e := range legacyGroupingExprs(g) {
			idx := -1
			for k, s := range seen {
				if proto.Equal(s, e) {
					idx = k
					break
				}
			}
			if idx < 0 {
				s, err := t.expr(e, sc, fmt.Sprintf("%s.groupings[%d].grouping_expressions[%d]", path, i, j))
				if err != nil {
					return nil, nil, err
				}
				seen = append(seen, e)
				keys = append(keys, s)
				idx = len(keys) - 1
			}
			set = append(set, idx)
		}
		sets = append(sets, set)
	}
	return keys, sets, nil
}

func keyList(keys []string, set []int) []string {
	out := make([]string, len(set))
	for i, k := range set {
		out[i] = groupKey(unparen(keys[k]))
	}
	return out
}

// groupingSetIndex maps DuckDB's GROUPING() bitmask (bit set: expression not grouped;
// the first expression is the most significant bit) to the grouping set's index. When two
// sets are equal, their rows report the first one's index.
func groupingSetIndex(keys []string, sets [][]int) string {
	args := make([]string, len(keys))
	for i, k := range keys {
		args[i] = groupKey(unparen(k))
	}
	var b strings.Builder
	b.WriteString("CASE GROUPING(" + strings.Join(args, ", ") + ")")
	done := map[uint64]bool{}
	for i, set := range sets {
		in := map[int]bool{}
		for _, k := range set {
			in[k] = true
		}
		var mask uint64
		for k := range keys {
			if !in[k] {
				mask |= 1 << uint(len(keys)-1-k)
			}
		}
		if done[mask] {
			continue
		}
		done[mask] = true
		fmt.Fprintf(&b, " WHEN %d THEN %d", mask, i)
	}
	b.WriteString(" END")
	return b.String()
}

// measure renders one aggregate function call with its DISTINCT, ORDER BY and FILTER.
func (t *translator) measure(m *substraitpb.AggregateRel_Measure, sc *scope, path string) (string, error) {
	af := m.GetMeasure()
	fp := path + ".measure"
	if af == nil {
		return "", invalid(path, "measure without a function")
	}
	fn, ok := t.ext.function(af.GetFunctionReference())
	if !ok {
		return "", invalid(fp, "function anchor %d is not declared", af.GetFunctionReference())
	}
	impl, ok := aggFuncs[fn.base]
	if !ok {
		return "", unsupported(fp, "aggregate function %q", fn.full)
	}
	c, err := t.newCall(fn, af.GetArguments(), legacyAggregateArgs(af), af.GetOptions(), af.GetOutputType(), sc, fp, fp)
	if err != nil {
		return "", err
	}
	mods := aggMods{distinct: af.GetInvocation() == substraitpb.AggregateFunction_AGGREGATION_INVOCATION_DISTINCT}
	if len(af.GetSorts()) > 0 {
		keys, err := t.sortKeys(af.GetSorts(), sc, fp+".sorts")
		if err != nil {
			return "", err
		}
		mods.orderBy = " ORDER BY " + strings.Join(keys, ", ")
	}
	if m.GetFilter() != nil {
		f, err := t.expr(m.GetFilter(), sc, path+".filter")
		if err != nil {
			return "", err
		}
		mods.filter = " FILTER (WHERE " + unparen(f) + ")"
	}
	switch af.GetPhase() {
	case substraitpb.AggregationPhase_AGGREGATION_PHASE_UNSPECIFIED, substraitpb.AggregationPhase_AGGREGATION_PHASE_INITIAL_TO_RESULT:
	case substraitpb.AggregationPhase_AGGREGATION_PHASE_INITIAL_TO_INTERMEDIATE:
		mods.partial = true
	case substraitpb.AggregationPhase_AGGREGATION_PHASE_INTERMEDIATE_TO_INTERMEDIATE, substraitpb.AggregationPhase_AGGREGATION_PHASE_INTERMEDIATE_TO_RESULT:
		mods.merge = true
		if mods.distinct {
			return "", unsupported(fp, "DISTINCT %q in phase %s", fn.full, af.GetPhase())
		}
	default:
		return "", invalid(fp+".phase", "aggregation phase %v", af.GetPhase())
	}
	return impl(c, mods)
}

// aggMods are the parts of an aggregate call besides its function and arguments.
type aggMods struct {
	distinct bool
	orderBy  string // " ORDER BY …" inside the call
	filter   string // " FILTER (WHERE …)" after it
	partial  bool   // initial to intermediate: produce a partial state
	merge    bool   // intermediate to intermediate or result: combine partial states
}

type aggImpl func(*call, aggMods) (string, error)

// aggFuncs maps the standard Substrait aggregate functions to DuckDB.
var aggFuncs = map[string]aggImpl{
	"sum":                   decomposable("sum", "sum"),
	"min":                   decomposable("min", "min"),
	"max":                   decomposable("max", "max"),
	"any_value":             decomposable("any_value", "any_value"),
	"bool_and":              decomposable("bool_and", "bool_and"),
	"bool_or":               decomposable("bool_or", "bool_or"),
	"count":                 count,
	"sum0":                  sum0,
	"avg":                   whole("avg", 1, 1),
	"product":               whole("product", 1, 1),
	"std_dev":               distribution("stddev_samp", "stddev_pop"),
	"variance":              distribution("var_samp", "var_pop"),
	"corr":                  whole("corr", 2, 2),
	"mode":                  whole("mode", 1, 1),
	"median":                whole("median", 1, 1),
	"string_agg":            whole("string_agg", 2, 2),
	"approx_count_distinct": whole("approx_count_distinct", 1, 1),
}

// aggCall renders name(DISTINCT args ORDER BY …) FILTER (WHERE …).
func aggCall(name string, args []string, m aggMods) string {
	var b strings.Builder
	b.WriteString(name + "(")
	if m.distinct {
		b.WriteString("DISTINCT ")
	}
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(unparen(a))
	}
	b.WriteString(m.orderBy + ")" + m.filter)
	return b.String()
}

// decomposable is an aggregate whose partial states merge with the merge function.
func decomposable(name, merge string) aggImpl {
	return func(c *call, m aggMods) (string, error) {
		if err := c.arity(1, 1); err != nil {
			return "", err
		}
		fn := name
		if m.merge {
			fn = merge
		}
		return aggCall(fn, c.args, m), nil
	}
}

// whole is an aggregate computed in one phase only; its DOUBLE result is cast to a
// declared decimal or integer type (DuckDB's avg of a decimal is a DOUBLE).
func whole(name string, lo, hi int) aggImpl {
	return func(c *call, m aggMods) (string, error) {
		if err := c.arity(lo, hi); err != nil {
			return "", err
		}
		if m.partial || m.merge {
			return "", unsupported(c.path, "aggregate %q in a partial phase", c.fn.full)
		}
		s := aggCall(name, c.args, m)
		if name == "string_agg" || name == "mode" || name == "median" {
			return s, nil
		}
		return castTo(s, c.out, c.path)
	}
}

// distribution picks the sample or population form from the distribution option.
func distribution(sample, population string) aggImpl {
	return func(c *call, m aggMods) (string, error) {
		name := sample
		if c.opt("distribution") == "POPULATION" {
			name = population
		}
		return whole(name, 1, 1)(c, m)
	}
}

// count is count(*) without arguments; partial counts merge by summing.
func count(c *call, m aggMods) (string, error) {
	if err := c.arity(0, 1); err != nil {
		return "", err
	}
	if m.merge {
		if len(c.args) != 1 {
			return "", invalid(c.path, "merging count without its partial counts")
		}
		return "CAST(coalesce(" + aggCall("sum", c.args, m) + ", 0) AS BIGINT)", nil
	}
	if len(c.args) == 0 {
		if m.distinct {
			return "", invalid(c.path, "count(DISTINCT) without arguments")
		}
		return "count(*)" + m.filter, nil
	}
	return aggCall("count", c.args, m), nil
}

// sum0 is a sum that gives 0 instead of NULL over no rows.
func sum0(c *call, m aggMods) (string, error) {
	if err := c.arity(1, 1); err != nil {
		return "", err
	}
	return "coalesce(" + aggCall("sum", c.args, m) + ", 0)", nil
}
