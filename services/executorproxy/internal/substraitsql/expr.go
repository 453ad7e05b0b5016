package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// scope is the input record of the relation an expression belongs to: the SQL of each
// field, and the record of the relation that holds the enclosing subquery (outer
// references walk that chain).
type scope struct {
	cols  []string
	outer *scope
	// leftWidth is, in a join's scope, how many fields the left input has.
	leftWidth int
}

// expr translates one expression. Operators come out parenthesized, so the result can
// stand anywhere in a larger expression.
func (t *translator) expr(e *substraitpb.Expression, sc *scope, path string) (string, error) {
	leave, err := t.enter(path)
	if err != nil {
		return "", err
	}
	defer leave()
	s, err := t.rexpr(e, sc, path)
	if err == nil && len(s) > maxSQLBytes {
		return "", unsupported(path, "expression whose SQL exceeds %d bytes", maxSQLBytes)
	}
	return s, err
}

func (t *translator) rexpr(e *substraitpb.Expression, sc *scope, path string) (string, error) {
	switch k := e.GetRexType().(type) {
	case *substraitpb.Expression_Literal_:
		return literal(k.Literal, path+".literal")
	case *substraitpb.Expression_Selection:
		return t.field(k.Selection, sc, path+".selection")
	case *substraitpb.Expression_ScalarFunction_:
		return t.scalarFunction(k.ScalarFunction, sc, path)
	case *substraitpb.Expression_IfThen_:
		return t.ifThen(k.IfThen, sc, path+".if_then")
	case *substraitpb.Expression_SwitchExpression_:
		return t.switchExpr(k.SwitchExpression, sc, path+".switch_expression")
	case *substraitpb.Expression_SingularOrList_:
		return t.singularOrList(k.SingularOrList, sc, path+".singular_or_list")
	case *substraitpb.Expression_MultiOrList_:
		return t.multiOrList(k.MultiOrList, sc, path+".multi_or_list")
	case *substraitpb.Expression_Cast_:
		return t.cast(k.Cast, sc, path+".cast")
	case *substraitpb.Expression_Subquery_:
		return t.subquery(k.Subquery, sc, path+".subquery")
	case *substraitpb.Expression_Nested_:
		return t.nested(k.Nested, sc, path+".nested")
	case nil:
		return "", invalid(path, "missing expression")
	default:
		return "", unsupported(path, "%s expression", oneofName(e, "rex_type"))
	}
}

// exprs translates a list of expressions.
func (t *translator) exprs(es []*substraitpb.Expression, sc *scope, path string) ([]string, error) {
	out := make([]string, len(es))
	for i, e := range es {
		s, err := t.expr(e, sc, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// conjuncts translates a condition, split at its top-level ANDs so that WHERE clauses
// read one condition per line.
func (t *translator) conjuncts(e *substraitpb.Expression, sc *scope, path string) ([]string, error) {
	if f := e.GetScalarFunction(); f != nil && len(legacyScalarArgs(f)) == 0 {
		if fn, ok := t.ext.function(f.GetFunctionReference()); ok && fn.base == "and" && len(f.GetArguments()) > 0 {
			var out []string
			for i, a := range f.GetArguments() {
				if a.GetValue() == nil {
					return nil, invalid(fmt.Sprintf("%s.scalar_function.arguments[%d]", path, i), "argument of and is not a value")
				}
				c, err := t.conjuncts(a.GetValue(), sc, fmt.Sprintf("%s.scalar_function.arguments[%d].value", path, i))
				if err != nil {
					return nil, err
				}
				out = append(out, c...)
			}
			return out, nil
		}
	}
	s, err := t.expr(e, sc, path)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// field resolves a field reference against the scope, or against an enclosing query's
// record for outer references.
func (t *translator) field(f *substraitpb.Expression_FieldReference, sc *scope, path string) (string, error) {
	seg := f.GetDirectReference()
	if seg == nil {
		return "", unsupported(path, "%s field reference", oneofName(f, "reference_type"))
	}
	sf := seg.GetStructField()
	if sf == nil {
		return "", unsupported(path, "%s reference segment", oneofName(seg, "reference_type"))
	}
	if sf.GetChild() != nil {
		return "", unsupported(path, "reference into a nested field")
	}
	target := sc
	switch root := f.GetRootType().(type) {
	case *substraitpb.Expression_FieldReference_RootReference_, nil:
	case *substraitpb.Expression_FieldReference_OuterReference_:
		steps := root.OuterReference.GetStepsOut()
		if steps == 0 {
			return "", invalid(path, "outer reference with steps_out 0")
		}
		for range steps {
			if target = target.outer; target == nil {
				return "", invalid(path, "outer reference %d steps out of %d enclosing queries", steps, depthOf(sc))
			}
		}
	default:
		return "", unsupported(path, "field reference rooted at %s", oneofName(f, "root_type"))
	}
	idx := sf.GetField()
	if idx < 0 || int(idx) >= len(target.cols) {
		return "", invalid(path, "field %d out of range (%d fields)", idx, len(target.cols))
	}
	return target.cols[idx], nil
}

func depthOf(sc *scope) int {
	n := 0
	for s := sc.outer; s != nil; s = s.outer {
		n++
	}
	return n
}

// directField reports the field index of a plain reference to the input record.
func directField(e *substraitpb.Expression) (int, bool) {
	f := e.GetSelection()
	sf := f.GetDirectReference().GetStructField()
	if sf == nil || sf.GetChild() != nil || f.GetOuterReference() != nil || f.GetExpression() != nil || sf.GetField() < 0 {
		return 0, false
	}
	return int(sf.GetField()), true
}

func (t *translator) ifThen(it *substraitpb.Expression_IfThen, sc *scope, path string) (string, error) {
	if len(it.GetIfs()) == 0 {
		if it.GetElse() == nil {
			return "", invalid(path, "if-then without clauses")
		}
		return t.expr(it.GetElse(), sc, path+".else")
	}
	var b strings.Builder
	b.WriteString("CASE")
	for i, c := range it.GetIfs() {
		p := fmt.Sprintf("%s.ifs[%d]", path, i)
		cond, err := t.expr(c.GetIf(), sc, p+".if")
		if err != nil {
			return "", err
		}
		then, err := t.expr(c.GetThen(), sc, p+".then")
		if err != nil {
			return "", err
		}
		b.WriteString(" WHEN " + unparen(cond) + " THEN " + unparen(then))
	}
	if it.GetElse() != nil {
		e, err := t.expr(it.GetElse(), sc, path+".else")
		if err != nil {
			return "", err
		}
		b.WriteString(" ELSE " + unparen(e))
	}
	b.WriteString(" END")
	return b.String(), nil
}

func (t *translator) switchExpr(sw *substraitpb.Expression_SwitchExpression, sc *scope, path string) (string, error) {
	match, err := t.expr(sw.GetMatch(), sc, path+".match")
	if err != nil {
		return "", err
	}
	if len(sw.GetIfs()) == 0 {
		return "", invalid(path, "switch without cases")
	}
	var b strings.Builder
	b.WriteString("CASE " + match)
	for i, c := range sw.GetIfs() {
		p := fmt.Sprintf("%s.ifs[%d]", path, i)
		v, err := literal(c.GetIf(), p+".if")
		if err != nil {
			return "", err
		}
		then, err := t.expr(c.GetThen(), sc, p+".then")
		if err != nil {
			return "", err
		}
		b.WriteString(" WHEN " + v + " THEN " + unparen(then))
	}
	if sw.GetElse() != nil {
		e, err := t.expr(sw.GetElse(), sc, path+".else")
		if err != nil {
			return "", err
		}
		b.WriteString(" ELSE " + unparen(e))
	}
	b.WriteString(" END")
	return b.String(), nil
}

// singularOrList is "value IN (options)"; an empty list matches nothing.
func (t *translator) singularOrList(s *substraitpb.Expression_SingularOrList, sc *scope, path string) (string, error) {
	v, err := t.expr(s.GetValue(), sc, path+".value")
	if err != nil {
		return "", err
	}
	opts, err := t.exprs(s.GetOptions(), sc, path+".options")
	if err != nil {
		return "", err
	}
	if len(opts) == 0 {
		return "FALSE", nil
	}
	for i := range opts {
		opts[i] = unparen(opts[i])
	}
	return "(" + v + " IN (" + strings.Join(opts, ", ") + "))", nil
}

// multiOrList is "(v1, v2) IN ((o11, o12), …)", written as ORs of ANDed equalities.
func (t *translator) multiOrList(m *substraitpb.Expression_MultiOrList, sc *scope, path string) (string, error) {
	vals, err := t.exprs(m.GetValue(), sc, path+".value")
	if err != nil {
		return "", err
	}
	if len(vals) == 0 {
		return "", invalid(path, "multi-or-list without values")
	}
	if len(m.GetOptions()) == 0 {
		return "FALSE", nil
	}
	alts := make([]string, len(m.GetOptions()))
	for i, rec := range m.GetOptions() {
		p := fmt.Sprintf("%s.options[%d].fields", path, i)
		fields, err := t.exprs(rec.GetFields(), sc, p)
		if err != nil {
			return "", err
		}
		if len(fields) != len(vals) {
			return "", invalid(p, "%d fields for %d values", len(fields), len(vals))
		}
		eqs := make([]string, len(vals))
		for j := range vals {
			eqs[j] = vals[j] + " = " + fields[j]
		}
		alts[i] = "(" + strings.Join(eqs, " AND ") + ")"
	}
	return "(" + strings.Join(alts, " OR ") + ")", nil
}

// cast is CAST, or TRY_CAST when a failed cast should give NULL.
func (t *translator) cast(c *substraitpb.Expression_Cast, sc *scope, path string) (string, error) {
	in, err := t.expr(c.GetInput(), sc, path+".input")
	if err != nil {
		return "", err
	}
	typ, err := sqlType(c.GetType(), path+".type")
	if err != nil {
		return "", err
	}
	fn := "CAST"
	if c.GetFailureBehavior() == substraitpb.Expression_Cast_FAILURE_BEHAVIOR_RETURN_NULL {
		fn = "TRY_CAST"
	}
	return fn + "(" + unparen(in) + " AS " + typ + ")", nil
}

// nested builds a struct (row), list or map value from expressions.
func (t *translator) nested(n *substraitpb.Expression_Nested, sc *scope, path string) (string, error) {
	switch k := n.GetNestedType().(type) {
	case *substraitpb.Expression_Nested_Struct_:
		fields, err := t.exprs(k.Struct.GetFields(), sc, path+".struct.fields")
		if err != nil {
			return "", err
		}
		if len(fields) == 0 {
			return "", unsupported(path, "struct without fields")
		}
		return "row(" + strings.Join(fields, ", ") + ")", nil
	case *substraitpb.Expression_Nested_List_:
		vals, err := t.exprs(k.List.GetValues(), sc, path+".list.values")
		if err != nil {
			return "", err
		}
		if len(vals) == 0 {
			return "", invalid(path, "list without values")
		}
		return "[" + strings.Join(vals, ", ") + "]", nil
	case *substraitpb.Expression_Nested_Map_:
		kvs := k.Map.GetKeyValues()
		if len(kvs) == 0 {
			return "", invalid(path, "map without entries")
		}
		parts := make([]string, len(kvs))
		for i, kv := range kvs {
			p := fmt.Sprintf("%s.map.key_values[%d]", path, i)
			key, err := t.expr(kv.GetKey(), sc, p+".key")
			if err != nil {
				return "", err
			}
			val, err := t.expr(kv.GetValue(), sc, p+".value")
			if err != nil {
				return "", err
			}
			parts[i] = key + ": " + val
		}
		return "MAP {" + strings.Join(parts, ", ") + "}", nil
	default:
		return "", invalid(path, "nested expression without a type")
	}
}
