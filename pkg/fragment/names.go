package fragment

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// Substrait names columns only at reads and at the plan root. A fragment's output
// needs names too (its placeholder read declares a base schema), so columnNames
// carries names through relations as far as it can: a field reference keeps its
// input's name, a function result is named after the function ("sum_3"), and
// anything else gets "expr_<i>". Unknown shapes fall back to "col_<i>".

// columnNames returns the top-level output column names of r, or nil when it cannot
// tell.
func columnNames(r *substraitpb.Rel, h *header) []string {
	var names []string
	switch x := r.GetRelType().(type) {
	case *substraitpb.Rel_Read:
		names = readNames(x.Read)
	case *substraitpb.Rel_Filter:
		names = columnNames(x.Filter.GetInput(), h)
	case *substraitpb.Rel_Fetch:
		names = columnNames(x.Fetch.GetInput(), h)
	case *substraitpb.Rel_Sort:
		names = columnNames(x.Sort.GetInput(), h)
	case *substraitpb.Rel_Exchange:
		names = columnNames(x.Exchange.GetInput(), h)
	case *substraitpb.Rel_Set:
		if len(x.Set.GetInputs()) > 0 {
			names = columnNames(x.Set.GetInputs()[0], h)
		}
	case *substraitpb.Rel_Project:
		names = projectNames(x.Project, h)
	case *substraitpb.Rel_Aggregate:
		names = aggregateNames(x.Aggregate, h)
	case *substraitpb.Rel_Window:
		in := columnNames(x.Window.GetInput(), h)
		if in != nil {
			names = append([]string{}, in...)
			for i, f := range x.Window.GetWindowFunctions() {
				names = append(names, funcColumn(h.funcBase(f.GetFunctionReference()), len(in)+i))
			}
		}
	case *substraitpb.Rel_Cross:
		names = joinNames(x.Cross.GetLeft(), x.Cross.GetRight(), "JOIN_TYPE_INNER", h)
	case *substraitpb.Rel_Join:
		names = joinNames(x.Join.GetLeft(), x.Join.GetRight(), x.Join.GetType().String(), h)
	case *substraitpb.Rel_HashJoin:
		names = joinNames(x.HashJoin.GetLeft(), x.HashJoin.GetRight(), x.HashJoin.GetType().String(), h)
	case *substraitpb.Rel_MergeJoin:
		names = joinNames(x.MergeJoin.GetLeft(), x.MergeJoin.GetRight(), x.MergeJoin.GetType().String(), h)
	case *substraitpb.Rel_NestedLoopJoin:
		names = joinNames(x.NestedLoopJoin.GetLeft(), x.NestedLoopJoin.GetRight(), x.NestedLoopJoin.GetType().String(), h)
	}
	return emitNames(relCommon(r), names)
}

// readNames are the top-level names of a read's base schema, after its projection.
func readNames(r *substraitpb.ReadRel) []string {
	ns := r.GetBaseSchema()
	var names []string
	idx := 0
	for _, t := range ns.GetStruct().GetTypes() {
		if idx >= len(ns.GetNames()) {
			return nil
		}
		names = append(names, ns.GetNames()[idx])
		idx += 1 + nestedNames(t)
	}
	if p := r.GetProjection(); p != nil {
		var picked []string
		for _, item := range p.GetSelect().GetStructItems() {
			f := int(item.GetField())
			if f < 0 || f >= len(names) || item.GetChild() != nil {
				return nil
			}
			picked = append(picked, names[f])
		}
		return picked
	}
	return names
}

// nestedNames counts the names a proto type consumes below its own, depth-first.
func nestedNames(t *substraitpb.Type) int {
	switch k := t.GetKind().(type) {
	case *substraitpb.Type_Struct_:
		n := 0
		for _, f := range k.Struct.GetTypes() {
			n += 1 + nestedNames(f)
		}
		return n
	case *substraitpb.Type_List_:
		return nestedNames(k.List.GetType())
	case *substraitpb.Type_Map_:
		return nestedNames(k.Map.GetKey()) + nestedNames(k.Map.GetValue())
	}
	return 0
}

// projectNames are a project's input names followed by one name per expression.
func projectNames(p *substraitpb.ProjectRel, h *header) []string {
	in := columnNames(p.GetInput(), h)
	if in == nil {
		return nil
	}
	names := append([]string{}, in...)
	for i, e := range p.GetExpressions() {
		names = append(names, exprName(e, in, h, len(in)+i))
	}
	return names
}

// aggregateNames are the grouping columns then one name per measure; nil for several
// grouping sets.
func aggregateNames(a *substraitpb.AggregateRel, h *header) []string {
	groups, why := singleGrouping(a)
	if why != "" {
		return nil
	}
	in := columnNames(a.GetInput(), h)
	var names []string
	for i, e := range groups {
		names = append(names, exprName(e, in, h, i))
	}
	for _, m := range a.GetMeasures() {
		names = append(names, funcColumn(h.funcBase(m.GetMeasure().GetFunctionReference()), len(names)))
	}
	return names
}

// joinNames are the columns a join of left and right emits for the join type name.
func joinNames(left, right *substraitpb.Rel, joinType string, h *header) []string {
	l, r := columnNames(left, h), columnNames(right, h)
	switch {
	case strings.HasSuffix(joinType, "LEFT_SEMI"), strings.HasSuffix(joinType, "LEFT_ANTI"):
		return l
	case strings.HasSuffix(joinType, "RIGHT_SEMI"), strings.HasSuffix(joinType, "RIGHT_ANTI"):
		return r
	case strings.HasSuffix(joinType, "LEFT_MARK"):
		if l == nil {
			return nil
		}
		return append(append([]string{}, l...), "mark")
	case strings.HasSuffix(joinType, "RIGHT_MARK"):
		if r == nil {
			return nil
		}
		return append(append([]string{}, r...), "mark")
	}
	if l == nil || r == nil {
		return nil
	}
	return append(append([]string{}, l...), r...)
}

// exprName names the column an expression computes; i is the column's position.
func exprName(e *substraitpb.Expression, in []string, h *header, i int) string {
	switch x := e.GetRexType().(type) {
	case *substraitpb.Expression_Selection:
		if f, ok := directField(x.Selection); ok && f < len(in) {
			return in[f]
		}
	case *substraitpb.Expression_ScalarFunction_:
		return funcColumn(h.funcBase(x.ScalarFunction.GetFunctionReference()), i)
	case *substraitpb.Expression_WindowFunction_:
		return funcColumn(h.funcBase(x.WindowFunction.GetFunctionReference()), i)
	case *substraitpb.Expression_Cast_:
		return "cast_" + strconv.Itoa(i)
	case *substraitpb.Expression_Subquery_:
		return "subquery_" + strconv.Itoa(i)
	}
	return "expr_" + strconv.Itoa(i)
}

// directField returns the field index of a plain top-level field reference.
func directField(ref *substraitpb.Expression_FieldReference) (int, bool) {
	if ref.GetRootReference() == nil {
		return 0, false
	}
	s := ref.GetDirectReference().GetStructField()
	if s == nil || s.GetChild() != nil {
		return 0, false
	}
	return int(s.GetField()), true
}

// funcColumn names the result of function fn at column i.
func funcColumn(fn string, i int) string {
	if fn == "" {
		fn = "fn"
	}
	return fn + "_" + strconv.Itoa(i)
}

// emitNames applies a relation's output mapping to its direct output names.
func emitNames(common *substraitpb.RelCommon, names []string) []string {
	if names == nil || common.GetEmit() == nil {
		return names
	}
	out := make([]string, 0, len(common.GetEmit().GetOutputMapping()))
	for _, m := range common.GetEmit().GetOutputMapping() {
		if m < 0 || int(m) >= len(names) {
			return nil
		}
		out = append(out, names[m])
	}
	return out
}

// relCommon returns the RelCommon of any relation type, or nil.
func relCommon(r *substraitpb.Rel) *substraitpb.RelCommon {
	body, _ := relBody(r)
	if body == nil {
		return nil
	}
	fd := body.Descriptor().Fields().ByName("common")
	if fd == nil || !body.Has(fd) {
		return nil
	}
	c, _ := body.Get(fd).Message().Interface().(*substraitpb.RelCommon)
	return c
}

// namedStruct pairs top-level names with types, making names unique and adding
// depth-first names for nested struct fields. Names that do not fit the types are
// replaced by "col_<i>".
func namedStruct(names []string, ts []types.Type) types.NamedStruct {
	if len(names) != len(ts) {
		names = nil
	}
	seen := map[string]int{}
	var out []string
	for i, t := range ts {
		name := "col_" + strconv.Itoa(i)
		if names != nil && names[i] != "" {
			name = names[i]
		}
		if n := seen[strings.ToLower(name)]; n > 0 {
			seen[strings.ToLower(name)] = n + 1
			name = fmt.Sprintf("%s_%d", name, n+1)
		}
		seen[strings.ToLower(name)]++
		out = append(out, name)
		out = append(out, nestedTypeNames(name, t)...)
	}
	return types.NamedStruct{Names: out, Struct: types.StructType{Nullability: types.NullabilityRequired, Types: ts}}
}

// nestedTypeNames names the struct fields nested in t, depth-first, after prefix.
func nestedTypeNames(prefix string, t types.Type) []string {
	switch x := t.(type) {
	case *types.StructType:
		var out []string
		for i, f := range x.Types {
			n := prefix + "_" + strconv.Itoa(i)
			out = append(out, n)
			out = append(out, nestedTypeNames(n, f)...)
		}
		return out
	case *types.ListType:
		return nestedTypeNames(prefix, x.Type)
	case *types.MapType:
		return append(nestedTypeNames(prefix+"_key", x.Key), nestedTypeNames(prefix+"_value", x.Value)...)
	}
	return nil
}
