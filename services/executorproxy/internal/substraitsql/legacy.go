package substraitsql

import "github.com/substrait-io/substrait-protobuf/go/substraitpb"

// The deprecated forms of Substrait fields that producers still write. Each is read in
// one place here, so that the rest of the package uses only current fields.

// legacyScalarArgs is ScalarFunction.args, the argument list before FunctionArgument.
func legacyScalarArgs(f *substraitpb.Expression_ScalarFunction) []*substraitpb.Expression {
	//lint:ignore SA1019 older producers write plain expression arguments.
	return f.GetArgs()
}

// legacyAggregateArgs is AggregateFunction.args, the argument list before FunctionArgument.
func legacyAggregateArgs(f *substraitpb.AggregateFunction) []*substraitpb.Expression {
	//lint:ignore SA1019 older producers write plain expression arguments.
	return f.GetArgs()
}

// legacyJoinKeys are the left_keys and right_keys of a hash or merge join, the form
// before ComparisonJoinKey.
func legacyJoinKeys(j any) (left, right []*substraitpb.Expression_FieldReference) {
	switch j := j.(type) {
	case *substraitpb.HashJoinRel:
		//lint:ignore SA1019 older producers write separate key lists.
		left, right = j.GetLeftKeys(), j.GetRightKeys()
	case *substraitpb.MergeJoinRel:
		//lint:ignore SA1019 older producers write separate key lists.
		left, right = j.GetLeftKeys(), j.GetRightKeys()
	}
	return left, right
}

// legacyGroupingExprs are the expressions inside a Grouping, the form before
// AggregateRel.grouping_expressions with references.
func legacyGroupingExprs(g *substraitpb.AggregateRel_Grouping) []*substraitpb.Expression {
	//lint:ignore SA1019 Isthmus writes inline grouping expressions.
	return g.GetGroupingExpressions()
}

// legacyRows are VirtualTable.values, rows of literals (the current form is expressions).
func legacyRows(v *substraitpb.ReadRel_VirtualTable) []*substraitpb.Expression_Literal_Struct {
	//lint:ignore SA1019 producers still write literal rows.
	return v.GetValues()
}

// legacyFetchOffset is FetchRel.offset, the constant form (ok is false for the
// expression form or no offset).
func legacyFetchOffset(f *substraitpb.FetchRel) (n int64, ok bool) {
	o, ok := f.GetOffsetMode().(*substraitpb.FetchRel_Offset)
	if !ok {
		return 0, false
	}
	//lint:ignore SA1019 producers (Isthmus) write the constant form.
	return o.Offset, true
}

// legacyFetchCount is FetchRel.count, the constant form, where -1 means all rows (ok is
// false for the expression form or no count).
func legacyFetchCount(f *substraitpb.FetchRel) (n int64, ok bool) {
	c, ok := f.GetCountMode().(*substraitpb.FetchRel_Count)
	if !ok {
		return 0, false
	}
	//lint:ignore SA1019 producers (Isthmus) write the constant form.
	return c.Count, true
}

// legacyLiteral renders the literal kinds that precision-carrying kinds replaced: time
// and timestamps in microseconds. ok is false for any other literal.
func legacyLiteral(l *substraitpb.Expression_Literal, path string) (sql string, ok bool, err error) {
	switch v := l.GetLiteralType().(type) {
	case *substraitpb.Expression_Literal_Time:
		//lint:ignore SA1019 the microsecond time literal is still valid input.
		sql, err = timeLiteral(v.Time, 6, path)
	case *substraitpb.Expression_Literal_Timestamp:
		//lint:ignore SA1019 the microsecond timestamp literal is still valid input.
		sql, err = timestampLiteral(v.Timestamp, 6, false, path)
	case *substraitpb.Expression_Literal_TimestampTz:
		//lint:ignore SA1019 the microsecond timestamp literal is still valid input.
		sql, err = timestampLiteral(v.TimestampTz, 6, true, path)
	default:
		return "", false, nil
	}
	return sql, true, err
}

// legacyIntervalMicros is IntervalDayToSecond.microseconds, the form before precision
// and subseconds (ok is false when the literal uses the current form).
func legacyIntervalMicros(ds *substraitpb.Expression_Literal_IntervalDayToSecond) (int64, bool) {
	m, ok := ds.GetPrecisionMode().(*substraitpb.Expression_Literal_IntervalDayToSecond_Microseconds)
	if !ok {
		return 0, false
	}
	//lint:ignore SA1019 older producers write microseconds.
	return int64(m.Microseconds), true
}
