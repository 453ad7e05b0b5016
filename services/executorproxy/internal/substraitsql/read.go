package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// read scans a named table (through Options.Table) or a virtual table, then applies the
// read's filters, projection and emit.
func (t *translator) read(r *substraitpb.ReadRel, outer *scope, path string) (*query, error) {
	names, err := baseNames(r.GetBaseSchema(), path+".base_schema")
	if err != nil {
		return nil, err
	}
	var q *query
	switch rt := r.GetReadType().(type) {
	case *substraitpb.ReadRel_NamedTable_:
		q, err = t.namedTable(rt.NamedTable.GetNames(), names, path+".named_table")
	case *substraitpb.ReadRel_VirtualTable_:
		q, err = t.virtualTable(rt.VirtualTable, r.GetBaseSchema(), len(names), outer, path+".virtual_table")
	case nil:
		return nil, invalid(path, "read without a source")
	default:
		return nil, unsupported(path, "%s read", oneofName(r, "read_type"))
	}
	if err != nil {
		return nil, err
	}
	sc := &scope{cols: q.cols, outer: outer}
	for _, f := range []struct {
		e    *substraitpb.Expression
		name string
	}{{r.GetFilter(), "filter"}, {r.GetBestEffortFilter(), "best_effort_filter"}} {
		if f.e == nil {
			continue
		}
		conds, err := t.conjuncts(f.e, sc, path+"."+f.name)
		if err != nil {
			return nil, err
		}
		q.where = append(q.where, conds...)
	}
	if m := r.GetProjection(); m != nil {
		items := m.GetSelect().GetStructItems()
		cols := make([]string, len(items))
		for i, it := range items {
			p := fmt.Sprintf("%s.projection.select.struct_items[%d]", path, i)
			if it.GetChild() != nil {
				return nil, unsupported(p, "projection into nested fields")
			}
			if it.GetField() < 0 || int(it.GetField()) >= len(q.cols) {
				return nil, invalid(p, "field %d out of range (%d fields)", it.GetField(), len(q.cols))
			}
			cols[i] = q.cols[it.GetField()]
		}
		q.cols, q.plain = cols, allTrue(len(cols))
	}
	return q, emit(r.GetCommon(), q, path)
}

// namedTable reads a table by its column names, or a fragment's output by position.
func (t *translator) namedTable(tableNames, cols []string, path string) (*query, error) {
	if len(tableNames) == 0 {
		return nil, invalid(path, "named table without names")
	}
	fragment := tableNames[0] == FragmentTable
	var expr string
	var err error
	switch {
	case t.opts.Table != nil:
		expr, err = t.opts.Table(tableNames)
		if err != nil {
			return nil, fmt.Errorf("substraitsql: table %q at %s: %w", strings.Join(tableNames, "."), path, err)
		}
		if strings.ContainsAny(expr, "\n\r") || strings.TrimSpace(expr) == "" {
			return nil, invalid(path, "Options.Table returned %q for %q (want one line)", expr, strings.Join(tableNames, "."))
		}
	case fragment:
		return nil, unsupported(path, "fragment read %q without Options.Table", strings.Join(tableNames, "."))
	default:
		parts := make([]string, len(tableNames))
		for i, n := range tableNames {
			var ok bool
			if parts[i], ok = quoteIdent(n); !ok {
				return nil, unsupported(path, "table name %q", n)
			}
		}
		expr = strings.Join(parts, ".")
	}
	a := t.alias()
	q := &query{cols: make([]string, len(cols)), plain: allTrue(len(cols)), single: true}
	if fragment {
		aliases := make([]string, len(cols))
		for i := range cols {
			aliases[i] = colName(i)
			q.cols[i] = a + "." + aliases[i]
		}
		q.from = expr + " AS " + a + "(" + strings.Join(aliases, ", ") + ")"
		return q, nil
	}
	for i, c := range cols {
		qc, ok := quoteIdent(c)
		if !ok {
			return nil, unsupported(path, "column name %q", c)
		}
		q.cols[i] = a + "." + qc
	}
	q.from = expr + " AS " + a
	return q, nil
}

// virtualTable renders inline rows as VALUES; an empty table is one row of typed NULLs
// filtered away.
func (t *translator) virtualTable(v *substraitpb.ReadRel_VirtualTable, schema *substraitpb.NamedStruct, width int, outer *scope, path string) (*query, error) {
	var rows []string
	for i, row := range legacyRows(v) {
		p := fmt.Sprintf("%s.values[%d]", path, i)
		fields, err := literals(row.GetFields(), p+".fields")
		if err != nil {
			return nil, err
		}
		if len(fields) != width {
			return nil, invalid(p, "row of %d fields (schema has %d)", len(fields), width)
		}
		rows = append(rows, "("+strings.Join(fields, ", ")+")")
	}
	none := &scope{outer: outer}
	for i, row := range v.GetExpressions() {
		p := fmt.Sprintf("%s.expressions[%d]", path, i)
		if len(row.GetFields()) != width {
			return nil, invalid(p, "row of %d fields (schema has %d)", len(row.GetFields()), width)
		}
		fields := make([]string, width)
		for j, e := range row.GetFields() {
			s, err := t.expr(e, none, fmt.Sprintf("%s.fields[%d]", p, j))
			if err != nil {
				return nil, err
			}
			fields[j] = s
		}
		rows = append(rows, "("+strings.Join(fields, ", ")+")")
	}
	empty := len(rows) == 0
	if empty {
		types := schema.GetStruct().GetTypes()
		fields := make([]string, width)
		for j := range fields {
			if j >= len(types) {
				return nil, invalid(path, "base schema has %d names but %d types", width, len(types))
			}
			typ, err := sqlType(types[j], fmt.Sprintf("%s.base_schema.struct.types[%d]", path, j))
			if err != nil {
				return nil, err
			}
			fields[j] = "CAST(NULL AS " + typ + ")"
		}
		rows = []string{"(" + strings.Join(fields, ", ") + ")"}
	}
	a := t.alias()
	q := &query{cols: make([]string, width), plain: allTrue(width), single: true}
	aliases := make([]string, width)
	for i := range aliases {
		aliases[i] = colName(i)
		q.cols[i] = a + "." + aliases[i]
	}
	q.from = "(VALUES " + strings.Join(rows, ", ") + ") AS " + a + "(" + strings.Join(aliases, ", ") + ")"
	if empty {
		q.where = []string{"FALSE"}
	}
	return q, nil
}

// baseNames returns the names of the top-level fields of a base schema. NamedStruct.names
// lists nested struct fields too, depth first, so those are skipped.
func baseNames(ns *substraitpb.NamedStruct, path string) ([]string, error) {
	if ns == nil {
		return nil, invalid(path, "read without a base schema")
	}
	all := ns.GetNames()
	types := ns.GetStruct().GetTypes()
	if len(types) == 0 {
		// Names only: a schema that gives no types can hold no nested fields.
		return all, nil
	}
	var out []string
	i := 0
	for _, typ := range types {
		if i >= len(all) {
			return nil, invalid(path, "%d names for %d fields", len(all), len(types))
		}
		out = append(out, all[i])
		i += 1 + nestedNames(typ, 0)
	}
	if i != len(all) {
		return nil, invalid(path, "%d names do not match the schema's fields", len(all))
	}
	return out, nil
}

// nestedNames counts the names a field of type t adds below its own name.
func nestedNames(t *substraitpb.Type, depth int) int {
	if depth > maxDepth {
		return 0
	}
	switch k := t.GetKind().(type) {
	case *substraitpb.Type_Struct_:
		n := 0
		for _, f := range k.Struct.GetTypes() {
			n += 1 + nestedNames(f, depth+1)
		}
		return n
	case *substraitpb.Type_List_:
		return nestedNames(k.List.GetType(), depth+1)
	case *substraitpb.Type_Map_:
		return nestedNames(k.Map.GetKey(), depth+1) + nestedNames(k.Map.GetValue(), depth+1)
	}
	return 0
}
