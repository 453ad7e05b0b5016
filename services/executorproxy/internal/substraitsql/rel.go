package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// maxReferences bounds how many ReferenceRels one translation expands.
const maxReferences = 64

// rel translates one relation. outer is the record of the relation that holds the
// subquery rel belongs to (nil outside subqueries), for outer references.
func (t *translator) rel(r *substraitpb.Rel, outer *scope, path string) (*query, error) {
	leave, err := t.enter(path)
	if err != nil {
		return nil, err
	}
	defer leave()
	var q *query
	switch k := r.GetRelType().(type) {
	case *substraitpb.Rel_Read:
		q, err = t.read(k.Read, outer, path+".read")
	case *substraitpb.Rel_Filter:
		q, err = t.filter(k.Filter, outer, path+".filter")
	case *substraitpb.Rel_Project:
		q, err = t.project(k.Project, outer, path+".project")
	case *substraitpb.Rel_Fetch:
		q, err = t.fetch(k.Fetch, outer, path+".fetch")
	case *substraitpb.Rel_Sort:
		q, err = t.sort(k.Sort, outer, path+".sort")
	case *substraitpb.Rel_Aggregate:
		q, err = t.aggregate(k.Aggregate, outer, path+".aggregate")
	case *substraitpb.Rel_Cross:
		q, err = t.cross(k.Cross, outer, path+".cross")
	case *substraitpb.Rel_Join:
		q, err = t.join(k.Join, outer, path+".join")
	case *substraitpb.Rel_HashJoin:
		q, err = t.hashJoin(k.HashJoin, outer, path+".hash_join")
	case *substraitpb.Rel_MergeJoin:
		q, err = t.mergeJoin(k.MergeJoin, outer, path+".merge_join")
	case *substraitpb.Rel_NestedLoopJoin:
		q, err = t.nestedLoopJoin(k.NestedLoopJoin, outer, path+".nested_loop_join")
	case *substraitpb.Rel_Set:
		q, err = t.set(k.Set, outer, path+".set")
	case *substraitpb.Rel_Reference:
		q, err = t.reference(k.Reference, path+".reference")
	case nil:
		return nil, invalid(path, "missing relation")
	default:
		return nil, unsupported(path, "%s relation", oneofName(r, "rel_type"))
	}
	if err != nil {
		return nil, err
	}
	if len(q.cols) == 0 {
		return nil, unsupported(path, "relation without output columns")
	}
	if q.size() > maxSQLBytes {
		return nil, unsupported(path, "relation whose SQL exceeds %d bytes", maxSQLBytes)
	}
	return q, nil
}

// emit applies RelCommon.emit: the relation outputs the listed fields of its natural
// output, in that order.
func emit(common *substraitpb.RelCommon, q *query, path string) error {
	m := common.GetEmit()
	if m == nil {
		return nil
	}
	cols := make([]string, len(m.GetOutputMapping()))
	plain := make([]bool, len(cols))
	for i, idx := range m.GetOutputMapping() {
		if idx < 0 || int(idx) >= len(q.cols) {
			return invalid(path+".common.emit", "output_mapping[%d] = %d is out of range (%d fields)", i, idx, len(q.cols))
		}
		cols[i], plain[i] = q.cols[idx], q.plain[idx]
	}
	q.cols, q.plain = cols, plain
	return nil
}

// filter adds the condition to its input's block when the block only reads and filters.
func (t *translator) filter(f *substraitpb.FilterRel, outer *scope, path string) (*query, error) {
	q, err := t.rel(f.GetInput(), outer, path+".input")
	if err != nil {
		return nil, err
	}
	if !q.open() {
		q = t.wrap(q)
	}
	if f.GetCondition() == nil {
		return nil, invalid(path+".condition", "missing condition")
	}
	conds, err := t.conjuncts(f.GetCondition(), &scope{cols: q.cols, outer: outer}, path+".condition")
	if err != nil {
		return nil, err
	}
	q.where = append(q.where, conds...)
	return q, emit(f.GetCommon(), q, path)
}

// project appends its expressions to the input's fields. An expression may also refer to
// the expressions before it (fields past the input's).
func (t *translator) project(p *substraitpb.ProjectRel, outer *scope, path string) (*query, error) {
	q, err := t.rel(p.GetInput(), outer, path+".input")
	if err != nil {
		return nil, err
	}
	if !q.open() {
		q = t.wrap(q)
	}
	sc := &scope{cols: append([]string(nil), q.cols...), outer: outer}
	plain := append([]bool(nil), q.plain...)
	for i, e := range p.GetExpressions() {
		s, err := t.expr(e, sc, fmt.Sprintf("%s.expressions[%d]", path, i))
		if err != nil {
			return nil, err
		}
		isPlain := false
		if idx, ok := directField(e); ok && idx < len(plain) {
			isPlain = plain[idx]
		}
		sc.cols = append(sc.cols, s)
		plain = append(plain, isPlain)
	}
	q.cols, q.plain = sc.cols, plain
	return q, emit(p.GetCommon(), q, path)
}

// fetch sets LIMIT and OFFSET on its input's block, unless that block has them already.
func (t *translator) fetch(f *substraitpb.FetchRel, outer *scope, path string) (*query, error) {
	q, err := t.rel(f.GetInput(), outer, path+".input")
	if err != nil {
		return nil, err
	}
	if q.limit != "" || q.offset != "" {
		q = t.wrap(q)
	}
	none := &scope{outer: outer}
	if n, ok := legacyFetchOffset(f); ok {
		if n < 0 {
			return nil, invalid(path+".offset", "negative offset %d", n)
		}
		if n > 0 {
			q.offset = fmt.Sprint(n)
		}
	} else if e := f.GetOffsetExpr(); e != nil {
		if q.offset, err = t.expr(e, none, path+".offset_expr"); err != nil {
			return nil, err
		}
	}
	if n, ok := legacyFetchCount(f); ok {
		switch {
		case n < -1:
			return nil, invalid(path+".count", "count %d", n)
		case n >= 0: // -1 is the old form of "all"
			q.limit = fmt.Sprint(n)
		}
	} else if e := f.GetCountExpr(); e != nil {
		if q.limit, err = t.expr(e, none, path+".count_expr"); err != nil {
			return nil, err
		}
	}
	return q, emit(f.GetCommon(), q, path)
}

// sort orders its input's block, unless that block is already ordered or aggregated.
func (t *translator) sort(s *substraitpb.SortRel, outer *scope, path string) (*query, error) {
	q, err := t.rel(s.GetInput(), outer, path+".input")
	if err != nil {
		return nil, err
	}
	if !q.open() || len(q.orderBy) > 0 {
		q = t.wrap(q)
	}
	keys, err := t.sortKeys(s.GetSorts(), &scope{cols: q.cols, outer: outer}, path+".sorts")
	if err != nil {
		return nil, err
	}
	q.orderBy = keys
	return q, emit(s.GetCommon(), q, path)
}

// sortKeys renders sort fields as ORDER BY items.
func (t *translator) sortKeys(sorts []*substraitpb.SortField, sc *scope, path string) ([]string, error) {
	keys := make([]string, len(sorts))
	for i, sf := range sorts {
		p := fmt.Sprintf("%s[%d]", path, i)
		e, err := t.expr(sf.GetExpr(), sc, p+".expr")
		if err != nil {
			return nil, err
		}
		var dir string
		switch d := sf.GetSortKind().(type) {
		case *substraitpb.SortField_Direction:
			switch d.Direction {
			case substraitpb.SortField_SORT_DIRECTION_ASC_NULLS_FIRST:
				dir = "ASC NULLS FIRST"
			case substraitpb.SortField_SORT_DIRECTION_ASC_NULLS_LAST, substraitpb.SortField_SORT_DIRECTION_CLUSTERED:
				dir = "ASC NULLS LAST"
			case substraitpb.SortField_SORT_DIRECTION_DESC_NULLS_FIRST:
				dir = "DESC NULLS FIRST"
			case substraitpb.SortField_SORT_DIRECTION_DESC_NULLS_LAST:
				dir = "DESC NULLS LAST"
			default:
				return nil, invalid(p+".direction", "sort direction %v", d.Direction)
			}
		case *substraitpb.SortField_ComparisonFunctionReference:
			return nil, unsupported(p, "sort by comparison function")
		default:
			return nil, invalid(p, "sort field without a direction")
		}
		keys[i] = groupKey(unparen(e)) + " " + dir
	}
	return keys, nil
}

// groupKey keeps an integer constant in GROUP BY or ORDER BY from reading as a column
// position.
func groupKey(s string) string {
	t := strings.Trim(s, "()-")
	if t != "" && strings.Trim(t, "0123456789") == "" {
		return "CAST(" + s + " AS INTEGER)"
	}
	return s
}

// reference expands a ReferenceRel into the plan relation it names.
func (t *translator) reference(r *substraitpb.ReferenceRel, path string) (*query, error) {
	if t.plan == nil {
		return nil, unsupported(path, "reference relation outside a plan (use Translate)")
	}
	ord := r.GetSubtreeOrdinal()
	rels := t.plan.GetRelations()
	if ord < 0 || int(ord) >= len(rels) || rels[ord].GetRel() == nil {
		return nil, invalid(path, "subtree_ordinal %d names no relation of the plan", ord)
	}
	if t.refs++; t.refs > maxReferences {
		return nil, unsupported(path, "more than %d reference expansions", maxReferences)
	}
	return t.rel(rels[ord].GetRel(), nil, fmt.Sprintf("relations[%d].rel", ord))
}
