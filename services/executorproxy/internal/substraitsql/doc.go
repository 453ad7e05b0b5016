// Package substraitsql translates Substrait plans into DuckDB SQL, so that the
// executor-proxy's DuckDB engine can run whole plans and plan fragments. DuckDB's own
// substrait extension is not available (it cannot be downloaded here), so this is
// Sluice's own translator.
//
// Translate turns a plan's root relation into one SELECT statement; TranslateRel turns
// any relation subtree into one, with output columns c0, c1, …. Options.Table maps each
// ReadRel's named table to a SQL table expression; reads of intermediate results
// (["__sluice_fragment", "<id>"], see FragmentTable) go through the same callback and
// take the child fragment's columns by position.
//
// The translation works on the protobuf messages of substrait-protobuf (the version
// substrait-go v8.1.1 uses) and resolves function anchors with substrait-go's extension
// set. ParseJSON reads proto3 JSON plans, migrating the legacy extension URIs of
// producers such as Isthmus to URNs.
//
// # Shape of the SQL
//
// Every relation becomes a SELECT block whose columns are named c0, c1, … (the root's
// are named after RelRoot.names). A relation extends its input's block when SQL keeps the
// meaning (a Filter over a Read or a Cross becomes the WHERE, a Project its select list,
// a Sort its ORDER BY, a Fetch its LIMIT and OFFSET, Cross and inner Join inputs join one
// FROM); otherwise the input becomes a derived table "(…) AS tN". Table aliases are
// unique in the whole statement, so correlated subqueries refer to the enclosing
// query's columns directly (outer references with steps_out). RelCommon.emit is applied
// to every relation.
//
// Types follow DuckDB's arithmetic (for example sum of an i32 is a HUGEINT), except
// where DuckDB's result would be of another kind than the plan declares: the average,
// standard deviation and variance of decimals, decimal division and the like give DOUBLE
// in DuckDB and are cast to the declared decimal type; date ± interval gives TIMESTAMP
// and is cast to DATE; integer division truncates (DuckDB's //).
//
// # Errors
//
// A relation, expression, function, type or option without a translation fails with
// ErrUnsupported, a plan that breaks Substrait's rules with ErrInvalidPlan; both come as
// *Error, which names the node: `function "regexp_match_substring:str_str" at
// root.input.filter.condition`. Translation never panics (FuzzTranslate).
package substraitsql
