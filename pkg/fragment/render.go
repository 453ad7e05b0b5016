package fragment

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// String renders the DAG for humans: one block per fragment in dependency order,
// with its kind, dependencies, estimated cost, plan path, operator tree, output
// schema, cut reason and notes. Placeholder reads show as "@<fragment ID>",
// partition reads as "TABLE#<i>/<n>". The rendering is deterministic.
func (d *DAG) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag %s: %d fragments, root %s, work %s, critical path %s\n",
		d.QueryID, len(d.Fragments), d.Root().ID, human(d.Work()), human(d.CriticalPath()))
	for _, f := range d.Fragments {
		b.WriteString(f.String())
	}
	return b.String()
}

// String renders one fragment as in DAG.String.
func (f *Fragment) String() string {
	var b strings.Builder
	deps := "-"
	if len(f.Deps) > 0 {
		deps = strings.Join(f.Deps, " ")
	}
	fmt.Fprintf(&b, "%s %s deps=[%s] rows=%s work=%s\n", f.ID, f.Kind, deps, human(f.Cost.Rows), human(f.Cost.Work))
	fmt.Fprintf(&b, "  at   %s\n", f.Path)
	fmt.Fprintf(&b, "  ops  %s\n", Ops(f.Rel))
	fmt.Fprintf(&b, "  out  %s\n", schemaString(f))
	fmt.Fprintf(&b, "  why  %s\n", f.Reason)
	for _, n := range f.Notes {
		fmt.Fprintf(&b, "  note %s\n", n)
	}
	return b.String()
}

// schemaString lists a fragment's top-level output columns as name:type.
func schemaString(f *Fragment) string {
	parts := make([]string, 0, len(f.Schema.Struct.Types))
	idx := 0
	for _, t := range f.Schema.Struct.Types {
		name := "?"
		if idx < len(f.Schema.Names) {
			name = f.Schema.Names[idx]
		}
		parts = append(parts, name+":"+t.String())
		idx += 1 + len(nestedTypeNames("", t))
	}
	return strings.Join(parts, ", ")
}

// Ops renders a relation tree compactly: operators with their inputs in parentheses
// and subquery relations as "<kind>:<tree>".
func Ops(r *substraitpb.Rel) string {
	var b strings.Builder
	writeOps(&b, r)
	return b.String()
}

// writeOps writes r's operator tree.
func writeOps(b *strings.Builder, r *substraitpb.Rel) {
	if read := r.GetRead(); read != nil {
		b.WriteString(readLabel(read))
		return
	}
	b.WriteString(opLabel(r))
	children, _ := scan(r, "")
	if len(children) == 0 {
		return
	}
	b.WriteByte('(')
	for i, c := range children {
		if i > 0 {
			b.WriteString(", ")
		}
		if c.subquery != "" {
			b.WriteString(c.subquery + ":")
		}
		writeOps(b, c.rel)
	}
	b.WriteByte(')')
}

// opLabel names an operator with its most telling parameter.
func opLabel(r *substraitpb.Rel) string {
	switch x := r.GetRelType().(type) {
	case *substraitpb.Rel_Fetch:
		if c, ok := fetchCount(x.Fetch); ok && c >= 0 {
			return "fetch[" + strconv.FormatInt(c, 10) + "]"
		}
	case *substraitpb.Rel_Set:
		return "set:" + strings.ToLower(strings.TrimPrefix(x.Set.GetOp().String(), "SET_OP_"))
	case *substraitpb.Rel_Join:
		return "join:" + strings.ToLower(strings.TrimPrefix(x.Join.GetType().String(), "JOIN_TYPE_"))
	}
	return relOp(r)
}

// readLabel names what a read reads.
func readLabel(r *substraitpb.ReadRel) string {
	switch {
	case r.GetNamedTable() != nil:
		names := r.GetNamedTable().GetNames()
		if len(names) == 2 && names[0] == PlaceholderTable {
			return "@" + names[1]
		}
		if len(names) > 3 && names[0] == PartitionTable {
			return strings.Join(names[3:], ".") + "#" + names[1] + "/" + names[2]
		}
		return strings.Join(names, ".")
	case r.GetVirtualTable() != nil:
		return "values"
	case r.GetLocalFiles() != nil:
		return "files"
	}
	return "read"
}

// human formats a row or work count compactly (12, 3.4k, 5.60M, 7.80G).
func human(v float64) string {
	switch {
	case v < 1e3:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v < 1e6:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v < 1e9:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	}
	return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "G"
}
