package fragment

import "github.com/substrait-io/substrait-protobuf/go/substraitpb"

// Deprecated Substrait fields that producers still write and substrait-go v8 still
// requires (FetchRel.offset/count, inline grouping expressions, virtual table
// values) are read only here.

// inlineGroupings returns a grouping set's legacy inline grouping expressions.
func inlineGroupings(g *substraitpb.AggregateRel_Grouping) []*substraitpb.Expression {
	//lint:ignore SA1019 Isthmus writes inline groupings; they must be read.
	return g.GetGroupingExpressions()
}

// virtualTableRows counts a virtual table's rows in either form.
func virtualTableRows(vt *substraitpb.ReadRel_VirtualTable) int {
	//lint:ignore SA1019 producers still write literal rows.
	return len(vt.GetValues()) + len(vt.GetExpressions())
}

// fetchOffset returns a fetch's constant offset (0 when unset).
func fetchOffset(f *substraitpb.FetchRel) (int64, bool) {
	switch m := f.GetOffsetMode().(type) {
	case nil:
		return 0, true
	case *substraitpb.FetchRel_Offset:
		//lint:ignore SA1019 producers write the constant form; substrait-go requires it.
		return m.Offset, true
	case *substraitpb.FetchRel_OffsetExpr:
		return int64Literal(m.OffsetExpr)
	}
	return 0, false
}

// fetchCount returns a fetch's constant count (-1, all rows, when unset).
func fetchCount(f *substraitpb.FetchRel) (int64, bool) {
	switch m := f.GetCountMode().(type) {
	case nil:
		return -1, true
	case *substraitpb.FetchRel_Count:
		//lint:ignore SA1019 producers write the constant form; substrait-go requires it.
		return m.Count, true
	case *substraitpb.FetchRel_CountExpr:
		return int64Literal(m.CountExpr)
	}
	return 0, false
}

// constantFetch rewrites a fetch whose offset and count are constants (or unset) into
// the form substrait-go v8 reads; others are left alone.
func constantFetch(f *substraitpb.FetchRel) {
	off, okOff := fetchOffset(f)
	cnt, okCnt := fetchCount(f)
	if !okOff || !okCnt {
		return
	}
	//lint:ignore SA1019 substrait-go v8 reads only the constant form.
	f.OffsetMode = &substraitpb.FetchRel_Offset{Offset: off}
	//lint:ignore SA1019 substrait-go v8 reads only the constant form.
	f.CountMode = &substraitpb.FetchRel_Count{Count: cnt}
}

// int64Literal reads an integer literal expression.
func int64Literal(e *substraitpb.Expression) (int64, bool) {
	switch v := e.GetLiteral().GetLiteralType().(type) {
	case *substraitpb.Expression_Literal_I64:
		return v.I64, true
	case *substraitpb.Expression_Literal_I32:
		return int64(v.I32), true
	case *substraitpb.Expression_Literal_I16:
		return int64(v.I16), true
	case *substraitpb.Expression_Literal_I8:
		return int64(v.I8), true
	}
	return 0, false
}
