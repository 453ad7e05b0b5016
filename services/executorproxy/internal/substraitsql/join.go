package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// joinKind is a join type common to JoinRel, HashJoinRel, MergeJoinRel and
// NestedLoopJoinRel.
type joinKind int

const (
	joinUnspecified joinKind = iota
	joinInner
	joinLeft
	joinRight
	joinOuter
	joinLeftSemi
	joinLeftAnti
	joinRightSemi
	joinRightAnti
	joinLeftMark
	joinRightMark
	joinSingle
)

// joinKinds maps the join type names shared by the four join relations.
var joinKinds = map[string]joinKind{
	"JOIN_TYPE_INNER": joinInner, "JOIN_TYPE_LEFT": joinLeft, "JOIN_TYPE_RIGHT": joinRight,
	"JOIN_TYPE_OUTER": joinOuter, "JOIN_TYPE_LEFT_SEMI": joinLeftSemi, "JOIN_TYPE_LEFT_ANTI": joinLeftAnti,
	"JOIN_TYPE_RIGHT_SEMI": joinRightSemi, "JOIN_TYPE_RIGHT_ANTI": joinRightAnti,
	"JOIN_TYPE_LEFT_MARK": joinLeftMark, "JOIN_TYPE_RIGHT_MARK": joinRightMark,
	"JOIN_TYPE_LEFT_SINGLE": joinSingle, "JOIN_TYPE_RIGHT_SINGLE": joinSingle,
}

// side is one translated join input as a FROM item.
type side struct {
	from  string
	cols  []string
	plain []bool
	where []string // conditions of the input that the join's block must apply
}

// joinInput makes q a FROM item of a join. An open, unordered block is inlined (its
// FROM joins the parent's, its WHERE moves to the parent's) when chain allows a join
// chain rather than one table and keepWhere allows moving the filter; otherwise q
// becomes a derived table.
func (t *translator) joinInput(q *query, chain, keepWhere bool) side {
	if q.open() && len(q.orderBy) == 0 && (chain || q.single) && (keepWhere || len(q.where) == 0) {
		return side{from: q.from, cols: q.cols, plain: q.plain, where: q.where}
	}
	from, cols := t.derived(q)
	return side{from: from, cols: cols, plain: allTrue(len(cols))}
}

// cross is a cross product; both inputs' filters move to the product's WHERE.
func (t *translator) cross(c *substraitpb.CrossRel, outer *scope, path string) (*query, error) {
	lq, err := t.rel(c.GetLeft(), outer, path+".left")
	if err != nil {
		return nil, err
	}
	rq, err := t.rel(c.GetRight(), outer, path+".right")
	if err != nil {
		return nil, err
	}
	l, r := t.joinInput(lq, true, true), t.joinInput(rq, false, true)
	q := &query{
		cols:  append(append([]string(nil), l.cols...), r.cols...),
		plain: append(append([]bool(nil), l.plain...), r.plain...),
		from:  l.from + "\nCROSS JOIN " + r.from,
		where: append(append([]string(nil), l.where...), r.where...),
	}
	return q, emit(c.GetCommon(), q, path)
}

// join translates a JoinRel.
func (t *translator) join(j *substraitpb.JoinRel, outer *scope, path string) (*query, error) {
	kind := joinKinds[j.GetType().String()]
	return t.joinOf(kind, j.GetType().String(), j.GetLeft(), j.GetRight(), outer, path,
		t.conditionsOf(j.GetExpression(), path), j.GetPostJoinFilter(), j.GetCommon())
}

// nestedLoopJoin translates a NestedLoopJoinRel like a JoinRel.
func (t *translator) nestedLoopJoin(j *substraitpb.NestedLoopJoinRel, outer *scope, path string) (*query, error) {
	kind := joinKinds[j.GetType().String()]
	return t.joinOf(kind, j.GetType().String(), j.GetLeft(), j.GetRight(), outer, path,
		t.conditionsOf(j.GetExpression(), path), nil, j.GetCommon())
}

// conditionsOf returns the conjuncts of a join's optional expression.
func (t *translator) conditionsOf(e *substraitpb.Expression, path string) func(*scope) ([]string, error) {
	return func(sc *scope) ([]string, error) {
		if e == nil {
			return nil, nil
		}
		return t.conjuncts(e, sc, path+".expression")
	}
}

// hashJoin translates a HashJoinRel: its keys become equality conditions.
func (t *translator) hashJoin(j *substraitpb.HashJoinRel, outer *scope, path string) (*query, error) {
	kind := joinKinds[j.GetType().String()]
	return t.joinOf(kind, j.GetType().String(), j.GetLeft(), j.GetRight(), outer, path,
		func(sc *scope) ([]string, error) {
			lk, rk := legacyJoinKeys(j)
			return t.keyConditions(lk, rk, j.GetKeys(), sc, path)
		}, j.GetPostJoinFilter(), j.GetCommon())
}

// mergeJoin translates a MergeJoinRel: its keys become equality conditions.
func (t *translator) mergeJoin(j *substraitpb.MergeJoinRel, outer *scope, path string) (*query, error) {
	kind := joinKinds[j.GetType().String()]
	return t.joinOf(kind, j.GetType().String(), j.GetLeft(), j.GetRight(), outer, path,
		func(sc *scope) ([]string, error) {
			lk, rk := legacyJoinKeys(j)
			return t.keyConditions(lk, rk, j.GetKeys(), sc, path)
		}, j.GetPostJoinFilter(), j.GetCommon())
}

// keyConditions renders the keys of a hash or merge join. The scope holds the left
// input's fields followed by the right's; key references are relative to their side.
func (t *translator) keyConditions(lk, rk []*substraitpb.Expression_FieldReference, keys []*substraitpb.ComparisonJoinKey, sc *scope, path string) ([]string, error) {
	nl := sc.leftWidth
	left := &scope{cols: sc.cols[:nl], outer: sc.outer}
	right := &scope{cols: sc.cols[nl:], outer: sc.outer}
	var conds []string
	if len(keys) == 0 {
		if len(lk) != len(rk) {
			return nil, invalid(path, "%d left keys but %d right keys", len(lk), len(rk))
		}
		for i := range lk {
			l, err := t.field(lk[i], left, fmt.Sprintf("%s.left_keys[%d]", path, i))
			if err != nil {
				return nil, err
			}
			r, err := t.field(rk[i], right, fmt.Sprintf("%s.right_keys[%d]", path, i))
			if err != nil {
				return nil, err
			}
			conds = append(conds, "("+l+" = "+r+")")
		}
		return conds, nil
	}
	for i, k := range keys {
		p := fmt.Sprintf("%s.keys[%d]", path, i)
		l, err := t.field(k.GetLeft(), left, p+".left")
		if err != nil {
			return nil, err
		}
		r, err := t.field(k.GetRight(), right, p+".right")
		if err != nil {
			return nil, err
		}
		switch k.GetComparison().GetSimple() {
		case substraitpb.ComparisonJoinKey_SIMPLE_COMPARISON_TYPE_EQ:
			conds = append(conds, "("+l+" = "+r+")")
		case substraitpb.ComparisonJoinKey_SIMPLE_COMPARISON_TYPE_IS_NOT_DISTINCT_FROM:
			conds = append(conds, "("+l+" IS NOT DISTINCT FROM "+r+")")
		case substraitpb.ComparisonJoinKey_SIMPLE_COMPARISON_TYPE_MIGHT_EQUAL:
			conds = append(conds, "(("+l+" = "+r+") IS NOT FALSE)")
		default:
			return nil, unsupported(p+".comparison", "join key comparison %s", oneofName(k.GetComparison(), "inner_type"))
		}
	}
	return conds, nil
}

// joinOf renders a join of any kind. cond renders the join condition over the left
// input's fields followed by the right's.
func (t *translator) joinOf(kind joinKind, kindName string, left, right *substraitpb.Rel, outer *scope, path string,
	cond func(*scope) ([]string, error), post *substraitpb.Expression, common *substraitpb.RelCommon) (*query, error) {
	switch kind {
	case joinUnspecified:
		return nil, invalid(path+".type", "join type %s", kindName)
	case joinSingle:
		return nil, unsupported(path+".type", "join type %s", kindName)
	}
	lq, err := t.rel(left, outer, path+".left")
	if err != nil {
		return nil, err
	}
	rq, err := t.rel(right, outer, path+".right")
	if err != nil {
		return nil, err
	}
	switch kind {
	case joinLeftSemi, joinLeftAnti, joinLeftMark, joinRightSemi, joinRightAnti, joinRightMark:
		if post != nil {
			return nil, unsupported(path+".post_join_filter", "post-join filter on a %s join", kindName)
		}
		return t.existsJoin(kind, lq, rq, outer, path, cond, common)
	}
	// The preserved side's filter may move to the join's WHERE; the other side's may not.
	var l, r side
	var op string
	switch kind {
	case joinInner:
		l, r, op = t.joinInput(lq, true, true), t.joinInput(rq, false, true), "JOIN"
	case joinLeft:
		l, r, op = t.joinInput(lq, true, true), t.joinInput(rq, false, false), "LEFT JOIN"
	case joinRight:
		l, r, op = t.joinInput(lq, true, false), t.joinInput(rq, false, true), "RIGHT JOIN"
	default:
		l, r, op = t.joinInput(lq, true, false), t.joinInput(rq, false, false), "FULL JOIN"
	}
	sc := &scope{cols: append(append([]string(nil), l.cols...), r.cols...), outer: outer, leftWidth: len(l.cols)}
	conds, err := cond(sc)
	if err != nil {
		return nil, err
	}
	on := "TRUE"
	if len(conds) > 0 {
		on = andAll(conds)
	}
	q := &query{
		cols:  sc.cols,
		plain: append(append([]bool(nil), l.plain...), r.plain...),
		from:  l.from + "\n" + op + " " + r.from + " ON " + on,
		where: append(append([]string(nil), l.where...), r.where...),
	}
	if post != nil {
		pc, err := t.conjuncts(post, &scope{cols: sc.cols, outer: outer}, path+".post_join_filter")
		if err != nil {
			return nil, err
		}
		q.where = append(q.where, pc...)
	}
	return q, emit(common, q, path)
}

// existsJoin renders semi, anti and mark joins as EXISTS subqueries over the other side.
func (t *translator) existsJoin(kind joinKind, lq, rq *query, outer *scope, path string, cond func(*scope) ([]string, error), common *substraitpb.RelCommon) (*query, error) {
	leftMain := kind == joinLeftSemi || kind == joinLeftAnti || kind == joinLeftMark
	main, other := lq, rq
	if !leftMain {
		main, other = rq, lq
	}
	if !main.open() {
		main = t.wrap(main)
	}
	o := t.joinInput(other, true, true)
	var sc *scope
	if leftMain {
		sc = &scope{cols: append(append([]string(nil), main.cols...), o.cols...), outer: outer, leftWidth: len(main.cols)}
	} else {
		sc = &scope{cols: append(append([]string(nil), o.cols...), main.cols...), outer: outer, leftWidth: len(o.cols)}
	}
	conds, err := cond(sc)
	if err != nil {
		return nil, err
	}
	exists := func(extra []string) string {
		sub := &query{cols: []string{"1"}, from: o.from, where: append(append([]string(nil), o.where...), extra...)}
		return "EXISTS (\n" + indent(sub.sql([]string{"c0"})) + "\n)"
	}
	switch kind {
	case joinLeftSemi, joinRightSemi:
		main.where = append(main.where, exists(conds))
	case joinLeftAnti, joinRightAnti:
		main.where = append(main.where, "(NOT "+exists(conds)+")")
	default: // mark: TRUE on a match, NULL when the condition was only ever NULL, else FALSE
		c := "TRUE"
		if len(conds) > 0 {
			c = andAll(conds)
		}
		mark := "CASE WHEN " + exists(conds) + " THEN TRUE WHEN " + exists([]string{"(" + c + ") IS NULL"}) + " THEN NULL ELSE FALSE END"
		main.cols = append(main.cols, mark)
		main.plain = append(main.plain, false)
	}
	return main, emit(common, main, path)
}

// andAll joins conditions with AND, in parentheses when there are several.
func andAll(conds []string) string {
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}
