package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// set translates a SetRel into UNION, EXCEPT and INTERSECT over derived tables, so that
// operator precedence never matters: a chain uses one operator, and mixed forms nest.
func (t *translator) set(s *substraitpb.SetRel, outer *scope, path string) (*query, error) {
	if len(s.GetInputs()) < 2 {
		return nil, invalid(path+".inputs", "set operation with %d inputs", len(s.GetInputs()))
	}
	operands := make([]string, len(s.GetInputs()))
	width := -1
	for i, in := range s.GetInputs() {
		p := fmt.Sprintf("%s.inputs[%d]", path, i)
		q, err := t.rel(in, outer, p)
		if err != nil {
			return nil, err
		}
		if width >= 0 && len(q.cols) != width {
			return nil, invalid(p, "%d fields where the first input has %d", len(q.cols), width)
		}
		width = len(q.cols)
		operands[i] = t.operand(q)
	}
	chain := func(op string, ops []string) string { return strings.Join(ops, "\n"+op+"\n") }
	// nested renders a chain of secondaries as one operand.
	nested := func(op string, ops []string) string {
		if len(ops) == 1 {
			return ops[0]
		}
		from, cols := t.derivedText(chain(op, ops), width)
		return (&query{cols: cols, from: from}).sql(colNames(width))
	}
	primary, secondary := operands[0], operands[1:]
	var text string
	switch s.GetOp() {
	case substraitpb.SetRel_SET_OP_UNION_ALL:
		text = chain("UNION ALL", operands)
	case substraitpb.SetRel_SET_OP_UNION_DISTINCT:
		text = chain("UNION", operands)
	case substraitpb.SetRel_SET_OP_MINUS_PRIMARY: // primary minus every secondary, distinct
		text = chain("EXCEPT", operands)
	case substraitpb.SetRel_SET_OP_MINUS_PRIMARY_ALL:
		text = chain("EXCEPT ALL", operands)
	case substraitpb.SetRel_SET_OP_MINUS_MULTISET: // primary minus rows in all secondaries
		text = chain("EXCEPT", []string{primary, nested("INTERSECT", secondary)})
	case substraitpb.SetRel_SET_OP_INTERSECTION_PRIMARY: // primary rows in any secondary
		text = chain("INTERSECT", []string{primary, nested("UNION ALL", secondary)})
	case substraitpb.SetRel_SET_OP_INTERSECTION_MULTISET:
		text = chain("INTERSECT", operands)
	case substraitpb.SetRel_SET_OP_INTERSECTION_MULTISET_ALL:
		text = chain("INTERSECT ALL", operands)
	default:
		return nil, unsupported(path+".op", "set operation %s", s.GetOp())
	}
	from, cols := t.derivedText(text, width)
	q := &query{cols: cols, plain: allTrue(width), from: from, single: true}
	return q, emit(s.GetCommon(), q, path)
}

// operand renders q as a plain SELECT of c0, c1, … that may stand in a set operation.
func (t *translator) operand(q *query) string {
	if q.limit != "" || q.offset != "" || len(q.orderBy) > 0 {
		q = t.wrap(q)
	}
	return q.sql(colNames(len(q.cols)))
}

// derivedText makes SQL text with columns c0, c1, … a derived table.
func (t *translator) derivedText(text string, width int) (from string, cols []string) {
	a := t.alias()
	cols = make([]string, width)
	for i := range cols {
		cols[i] = a + "." + colName(i)
	}
	return "(\n" + indent(text) + "\n) AS " + a, cols
}

func colNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = colName(i)
	}
	return names
}
