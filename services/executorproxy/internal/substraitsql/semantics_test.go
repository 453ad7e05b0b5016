package substraitsql

import (
	"github.com/sluicehq/sluice/pkg/rowcompare"
	"github.com/sluicehq/sluice/services/executorproxy/internal/tpchcheck"
	"testing"
)

// TestSemantics runs small plans that use the relations, join types, set operations and
// expressions the TPC-H plans leave out, and compares them with hand-written SQL.
func TestSemantics(t *testing.T) {
	db := tpchcheck.TinySQL(t)
	nation, region := scan("NATION"), scan("REGION")
	natKey := func(rk int64, op int) string { // nation keys of regions (op: 2 lt, 3 gt, 1 eq) rk
		return filter(nation, fn(op, fld(2), i64(rk)), 0)
	}
	cases := []struct {
		name    string
		root    string
		others  []string
		want    string
		ordered bool
	}{
		{name: "union all", root: set("UNION_ALL", natKey(2, 2), natKey(1, 3)),
			want: "SELECT n_nationkey FROM tpch.tiny.nation WHERE n_regionkey < 2 UNION ALL SELECT n_nationkey FROM tpch.tiny.nation WHERE n_regionkey > 1"},
		{name: "union distinct", root: set("UNION_DISTINCT", filter(nation, fn(2, fld(2), i64(3)), 2), filter(nation, fn(3, fld(2), i64(1)), 2)),
			want: "SELECT DISTINCT n_regionkey FROM tpch.tiny.nation"},
		{name: "minus primary", root: set("MINUS_PRIMARY", scan("NATION", 2), filter(nation, fn(2, fld(2), i64(1)), 2), filter(nation, fn(1, fld(2), i64(3)), 2)),
			want: "SELECT r FROM (VALUES (1), (2), (4)) AS v(r)"},
		{name: "minus primary all", root: set("MINUS_PRIMARY_ALL", scan("NATION", 2), filter(nation, fn(2, fld(0), i64(12)), 2)),
			want: "SELECT n_regionkey FROM tpch.tiny.nation EXCEPT ALL SELECT n_regionkey FROM tpch.tiny.nation WHERE n_nationkey < 12"},
		{name: "minus multiset", root: set("MINUS_MULTISET", scan("NATION", 2), filter(nation, fn(2, fld(2), i64(3)), 2), filter(nation, fn(3, fld(2), i64(1)), 2)),
			want: "SELECT r FROM (VALUES (0), (1), (3), (4)) AS v(r)"},
		{name: "intersection primary", root: set("INTERSECTION_PRIMARY", scan("NATION", 2), filter(nation, fn(1, fld(2), i64(0)), 2), filter(nation, fn(1, fld(2), i64(4)), 2)),
			want: "SELECT r FROM (VALUES (0), (4)) AS v(r)"},
		{name: "intersection multiset", root: set("INTERSECTION_MULTISET", scan("NATION", 2), filter(nation, fn(2, fld(2), i64(3)), 2), filter(nation, fn(3, fld(2), i64(0)), 2)),
			want: "SELECT r FROM (VALUES (1), (2)) AS v(r)"},
		{name: "intersection multiset all", root: set("INTERSECTION_MULTISET_ALL", scan("NATION", 2), filter(nation, fn(2, fld(0), i64(12)), 2)),
			want: "SELECT n_regionkey FROM tpch.tiny.nation INTERSECT ALL SELECT n_regionkey FROM tpch.tiny.nation WHERE n_nationkey < 12"},
		{name: "inner join with emit", root: join("INNER", nation, region, fn(1, fld(2), fld(4)), "", 1, 5),
			want: "SELECT n_name, r_name FROM tpch.tiny.nation JOIN tpch.tiny.region ON n_regionkey = r_regionkey"},
		{name: "inner join with post-join filter", root: join("INNER", nation, region, fn(1, fld(2), fld(4)), fn(2, fld(0), i64(5)), 0, 5),
			want: "SELECT n_nationkey, r_name FROM tpch.tiny.nation JOIN tpch.tiny.region ON n_regionkey = r_regionkey WHERE n_nationkey < 5"},
		{name: "left join", root: join("LEFT", filter(nation, fn(2, fld(0), i64(8))), filter(region, fn(2, fld(0), i64(2))), fn(1, fld(2), fld(4)), "", 0, 4, 5),
			want: "SELECT n_nationkey, r_regionkey, r_name FROM tpch.tiny.nation LEFT JOIN (SELECT * FROM tpch.tiny.region WHERE r_regionkey < 2) ON n_regionkey = r_regionkey WHERE n_nationkey < 8"},
		{name: "right join", root: join("RIGHT", filter(nation, fn(2, fld(0), i64(3))), region, fn(1, fld(2), fld(4)), "", 0, 4),
			want: "SELECT n_nationkey, r_regionkey FROM (SELECT * FROM tpch.tiny.nation WHERE n_nationkey < 3) RIGHT JOIN tpch.tiny.region ON n_regionkey = r_regionkey"},
		{name: "full join", root: join("OUTER", filter(nation, fn(2, fld(0), i64(3))), filter(region, fn(3, fld(0), i64(0))), fn(1, fld(0), fld(4)), "", 0, 4),
			want: "SELECT n_nationkey, r_regionkey FROM (SELECT * FROM tpch.tiny.nation WHERE n_nationkey < 3) FULL JOIN (SELECT * FROM tpch.tiny.region WHERE r_regionkey > 0) ON n_nationkey = r_regionkey"},
		{name: "left semi join", root: join("LEFT_SEMI", nation, filter(region, fn(1, fld(1), str("ASIA"))), fn(1, fld(2), fld(4)), "", 1),
			want: "SELECT n_name FROM tpch.tiny.nation WHERE n_regionkey IN (SELECT r_regionkey FROM tpch.tiny.region WHERE r_name = 'ASIA')"},
		{name: "left anti join", root: join("LEFT_ANTI", nation, filter(region, fn(1, fld(1), str("ASIA"))), fn(1, fld(2), fld(4)), "", 1),
			want: "SELECT n_name FROM tpch.tiny.nation WHERE n_regionkey NOT IN (SELECT r_regionkey FROM tpch.tiny.region WHERE r_name = 'ASIA')"},
		{name: "right semi join", root: join("RIGHT_SEMI", filter(nation, fn(2, fld(0), i64(3))), region, fn(1, fld(2), fld(4)), "", 1),
			want: "SELECT r_name FROM tpch.tiny.region WHERE r_regionkey IN (SELECT n_regionkey FROM tpch.tiny.nation WHERE n_nationkey < 3)"},
		{name: "right anti join", root: join("RIGHT_ANTI", filter(nation, fn(2, fld(0), i64(3))), region, fn(1, fld(2), fld(4)), "", 1),
			want: "SELECT r_name FROM tpch.tiny.region WHERE r_regionkey NOT IN (SELECT n_regionkey FROM tpch.tiny.nation WHERE n_nationkey < 3)"},
		{name: "left mark join", root: join("LEFT_MARK", nation, filter(region, fn(2, fld(0), i64(2))), fn(1, fld(2), fld(4)), "", 0, 4),
			want: "SELECT n_nationkey, n_regionkey < 2 FROM tpch.tiny.nation"},
		{name: "grouping sets, legacy form", root: `{"aggregate": {"input": ` + nation + `, "groupings": [` +
			`{"groupingExpressions": [` + fld(2) + `]}, {"groupingExpressions": [` + fld(2) + `, ` + fn(15, fld(0), i64(2)) + `]}, {}], ` +
			`"measures": [` + measure(4, "") + `, ` + measure(17, "", fld(0)) + `]}}`,
			want: "SELECT n_regionkey, n_nationkey % 2, count(*), max(n_nationkey), CASE GROUPING(n_regionkey, n_nationkey % 2) WHEN 1 THEN 0 WHEN 0 THEN 1 ELSE 2 END " +
				"FROM tpch.tiny.nation GROUP BY GROUPING SETS ((n_regionkey), (n_regionkey, n_nationkey % 2), ())"},
		{name: "grouping expressions, current form", root: `{"aggregate": {"input": ` + nation + `, "groupingExpressions": [` + fld(2) + `, ` + fn(15, fld(0), i64(2)) + `], ` +
			`"groupings": [{"expressionReferences": [1]}, {"expressionReferences": [0, 1]}], "measures": [` + measure(4, "") + `]}}`,
			want: "SELECT n_regionkey, n_nationkey % 2, count(*), CASE GROUPING(n_regionkey, n_nationkey % 2) WHEN 2 THEN 0 ELSE 1 END " +
				"FROM tpch.tiny.nation GROUP BY GROUPING SETS ((n_nationkey % 2), (n_regionkey, n_nationkey % 2))"},
		{name: "distinct measure with filter", root: `{"aggregate": {"input": ` + nation + `, "groupings": [{}], "measures": [` +
			`{"measure": {"functionReference": 9, "invocation": "AGGREGATION_INVOCATION_DISTINCT", "arguments": [{"value": ` + fld(2) + `}]}, "filter": ` + fn(2, fld(0), i64(10)) + `}]}}`,
			want: "SELECT count(DISTINCT n_regionkey) FILTER (WHERE n_nationkey < 10) FROM tpch.tiny.nation"},
		{name: "partial and final aggregation", root: `{"aggregate": {"input": {"aggregate": {"input": ` + nation + `, ` +
			`"groupings": [{"groupingExpressions": [` + fld(2) + `]}], "measures": [` + measure(4, `, "phase": "AGGREGATION_PHASE_INITIAL_TO_INTERMEDIATE"`) + `, ` +
			measure(5, `, "phase": "AGGREGATION_PHASE_INITIAL_TO_INTERMEDIATE"`, fld(0)) + `]}}, "groupings": [{}], "measures": [` +
			measure(4, `, "phase": "AGGREGATION_PHASE_INTERMEDIATE_TO_RESULT"`, fld(1)) + `, ` + measure(5, `, "phase": "AGGREGATION_PHASE_INTERMEDIATE_TO_RESULT"`, fld(2)) + `]}}`,
			want: "SELECT count(*), sum(n_nationkey) FROM tpch.tiny.nation"},
		// The scheduler's split of avg over partitions: partial sum and count per
		// partition, a final sum and sum0 over their union, then sum / count.
		{name: "avg split into partial and final aggregates", root: project(`{"aggregate": {"input": `+set("UNION_ALL",
			avgPartial(0), avgPartial(1))+`, "groupingExpressions": [`+fld(0)+`], "groupings": [{"expressionReferences": [0]}], "measures": [`+
			measure(21, "", fld(1))+`, `+measure(22, "", fld(2))+`]}}`, []int{0, 3},
			`{"cast": {"type": {"decimal": {"precision": 15, "scale": 2}}, "input": {"scalarFunction": {"functionReference": 23, `+
				`"outputType": {"decimal": {"precision": 38, "scale": 6}}, "arguments": [{"value": `+fld(1)+`}, {"value": `+
				`{"cast": {"type": {"decimal": {"precision": 19, "scale": 0}}, "input": `+fld(2)+`}}}]}}}}`),
			want: "SELECT l_returnflag, CAST(avg(l_quantity) AS DECIMAL(15,2)) FROM tpch.tiny.lineitem GROUP BY l_returnflag"},
		{name: "fetch offset and count over sort", root: `{"fetch": {"input": ` + sortBy(nation, key(fld(0), "DESC_NULLS_LAST")) + `, "offset": "3", "count": "4"}}`,
			want: "SELECT * FROM tpch.tiny.nation ORDER BY n_nationkey DESC LIMIT 4 OFFSET 3", ordered: true},
		{name: "fetch new form, offset only", root: `{"fetch": {"input": ` + sortBy(nation, key(fld(0), "ASC_NULLS_LAST")) + `, "offsetExpr": ` + i64(20) + `}}`,
			want: "SELECT * FROM tpch.tiny.nation ORDER BY n_nationkey OFFSET 20", ordered: true},
		{name: "fetch of a fetch", root: `{"fetch": {"input": {"fetch": {"input": ` + sortBy(nation, key(fld(0), "ASC_NULLS_LAST")) + `, "count": "10"}}, "offset": "8", "countExpr": ` + i64(5) + `}}`,
			want: "SELECT * FROM tpch.tiny.nation ORDER BY n_nationkey LIMIT 2 OFFSET 8", ordered: true},
		{name: "fetch all (count -1)", root: `{"fetch": {"input": ` + nation + `, "count": "-1"}}`,
			want: "SELECT * FROM tpch.tiny.nation"},
		{name: "sort with nulls first", root: sortBy(join("LEFT", nation, filter(region, fn(2, fld(0), i64(2))), fn(1, fld(2), fld(4)), "", 0, 4),
			key(fld(1), "ASC_NULLS_FIRST"), key(fld(0), "DESC_NULLS_LAST")),
			want:    "SELECT n_nationkey, r_regionkey FROM tpch.tiny.nation LEFT JOIN (SELECT * FROM tpch.tiny.region WHERE r_regionkey < 2) ON n_regionkey = r_regionkey ORDER BY r_regionkey NULLS FIRST, n_nationkey DESC",
			ordered: true},
		{name: "virtual table", root: `{"read": {"baseSchema": {"names": ["A", "B"]}, "virtualTable": {"values": [` +
			`{"fields": [{"i32": 1}, {"string": "x"}]}, {"fields": [{"i32": 2}, {"null": {"string": {}}}]}]}}}`,
			want: "SELECT * FROM (VALUES (1, 'x'), (2, NULL)) AS v(a, b)"},
		{name: "empty virtual table", root: project(`{"read": {"baseSchema": {"names": ["A"], "struct": {"types": [{"i64": {}}]}}, "virtualTable": {}}}`, nil, i64(1)),
			want: "SELECT 1, 1 WHERE FALSE"},
		{name: "project refers to earlier expressions", root: project(region, []int{3, 4}, fn(6, fld(0), i64(10)), fn(6, fld(3), fld(3))),
			want: "SELECT r_regionkey + 10, 2 * (r_regionkey + 10) FROM tpch.tiny.region"},
		{name: "read with projection, filter and emit", root: `{"read": {` + common([]int{1}) + `"baseSchema": {"names": ["N_NATIONKEY", "N_NAME", "N_REGIONKEY", "N_COMMENT"]}, ` +
			`"namedTable": {"names": ["NATION"]}, "filter": ` + fn(2, fld(0), i64(5)) + `, "projection": {"select": {"structItems": [{"field": 2}, {"field": 1}]}}}}`,
			want: "SELECT n_name FROM tpch.tiny.nation WHERE n_nationkey < 5"},
		{name: "reference relation", root: `{"cross": {"left": {"reference": {"subtreeOrdinal": 0}}, "right": {"reference": {"subtreeOrdinal": 0}}}}`,
			others: []string{filter(region, fn(2, fld(0), i64(2)), 0)},
			want:   "SELECT a.r_regionkey, b.r_regionkey FROM tpch.tiny.region a, tpch.tiny.region b WHERE a.r_regionkey < 2 AND b.r_regionkey < 2"},
		{name: "expressions", root: project(region, []int{3, 4, 5, 6, 7, 8, 9, 10},
			fn(11, fld(0), `{"literal": {"null": {"i64": {}}}}`),
			fn(12, fld(1), str("'\n")),
			fn(13, fld(2)),
			fn(14, `{"literal": {"null": {"string": {}}}}`, fld(1)),
			`{"ifThen": {"ifs": [{"if": `+fn(2, fld(0), i64(2))+`, "then": `+str("low")+`}], "else": `+str("high")+`}}`,
			`{"singularOrList": {"value": `+fld(0)+`, "options": [`+i64(1)+`, `+i64(3)+`]}}`,
			`{"multiOrList": {"value": [`+fld(0)+`, `+fld(1)+`], "options": [{"fields": [`+i64(1)+`, `+str("AMERICA")+`]}, {"fields": [`+i64(2)+`, `+str("AMERICA")+`]}]}}`,
			`{"cast": {"type": {"i32": {}}, "input": `+fld(1)+`, "failureBehavior": "FAILURE_BEHAVIOR_RETURN_NULL"}}`),
			want: "SELECT NULL::BIGINT, r_name || '''' || chr(10), upper(r_comment), r_name, CASE WHEN r_regionkey < 2 THEN 'low' ELSE 'high' END, " +
				"r_regionkey IN (1, 3), r_regionkey = 1 AND r_name = 'AMERICA', TRY_CAST(r_name AS INTEGER) FROM tpch.tiny.region"},
		{name: "integer division truncates", root: project(region, []int{3}, fn(10, fn(6, fld(0), i64(-7)), i64(2))),
			want: "SELECT CAST(trunc((r_regionkey - 7) / 2) AS BIGINT) FROM tpch.tiny.region"},
		{name: "extract", root: project(`{"read": {"baseSchema": {"names": ["D"]}, "virtualTable": {"values": [{"fields": [{"date": 19000}]}]}}}`, []int{1, 2},
			fn(19, `{"enum": "SUNDAY_DAY_OF_WEEK"}`, `{"enum": "ZERO"}`, fld(0)), fn(19, `{"enum": "MONDAY_DAY_OF_WEEK"}`, `{"enum": "ONE"}`, fld(0))),
			want: "SELECT dayofweek(DATE '2022-01-08'), isodow(DATE '2022-01-08')"},
		{name: "set comparison subqueries", root: filter(region, `{"subquery": {"setComparison": {"reductionOp": "REDUCTION_OP_ALL", "comparisonOp": "COMPARISON_OP_GT", "left": `+fld(0)+
			`, "right": `+filter(region, fn(2, fld(0), outer(0, 1)), 0)+`}}}`, 1),
			want: "SELECT r_name FROM tpch.tiny.region"},
		{name: "set comparison any", root: filter(nation, `{"subquery": {"setComparison": {"reductionOp": "REDUCTION_OP_ANY", "comparisonOp": "COMPARISON_OP_EQ", "left": `+fld(2)+
			`, "right": `+filter(region, fn(1, fld(1), str("EUROPE")), 0)+`}}}`, 1),
			want: "SELECT n_name FROM tpch.tiny.nation JOIN tpch.tiny.region ON n_regionkey = r_regionkey WHERE r_name = 'EUROPE'"},
		{name: "unique predicate", root: project(region, []int{3, 4},
			`{"subquery": {"setPredicate": {"predicateOp": "PREDICATE_OP_UNIQUE", "tuples": `+scan("NATION", 2)+`}}}`,
			`{"subquery": {"setPredicate": {"predicateOp": "PREDICATE_OP_UNIQUE", "tuples": `+filter(nation, fn(1, fld(2), outer(0, 1)), 0)+`}}}`),
			want: "SELECT false, true FROM tpch.tiny.region"},
		{name: "multi-needle in predicate", root: filter(nation, `{"subquery": {"inPredicate": {"needles": [`+fld(2)+`, `+fld(1)+`], "haystack": `+
			project(nation, []int{4, 1}, fn(15, fld(2), i64(5)))+`}}}`, 1),
			want: "SELECT n_name FROM tpch.tiny.nation"},
		{name: "correlated scalar subquery two levels out", root: project(region, []int{3},
			`{"subquery": {"scalar": {"input": {"aggregate": {"input": `+filter(nation, fn(7, fn(1, fld(2), outer(0, 1)),
				`{"subquery": {"setPredicate": {"predicateOp": "PREDICATE_OP_EXISTS", "tuples": `+filter(region, fn(7, fn(1, fld(0), outer(2, 1)), fn(1, fld(0), outer(0, 2))))+`}}}`))+
				`, "groupings": [{}], "measures": [`+measure(4, "")+`]}}}}}`),
			want: "SELECT (SELECT count(*) FROM tpch.tiny.nation n WHERE n.n_regionkey = r.r_regionkey) FROM tpch.tiny.region r"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseJSON([]byte(planJSON(c.root, nil, c.others...)))
			if err != nil {
				t.Fatal(err)
			}
			sql, err := Translate(p, Options{Table: tinyTables})
			if err != nil {
				t.Fatal(err)
			}
			got, err := rowcompare.QueryRows(t.Context(), db, sql)
			if err != nil {
				t.Fatalf("%v\n%s", err, sql)
			}
			want, err := rowcompare.QueryRows(t.Context(), db, c.want)
			if err != nil {
				t.Fatalf("reference: %v", err)
			}
			if err := rowcompare.CompareRows(got, want, c.ordered); err != nil {
				t.Fatalf("%v\n%s", err, sql)
			}
		})
	}
}

// avgPartial is the partial aggregate of one of two partitions of LINEITEM: the sum and
// count of L_QUANTITY by L_RETURNFLAG.
func avgPartial(part int64) string {
	in := filter(scan("LINEITEM"), fn(1, fn(15, fld(0), i64(2)), i64(part)))
	return `{"aggregate": {"input": ` + in + `, "groupingExpressions": [` + fld(8) + `], "groupings": [{"expressionReferences": [0]}], "measures": [` +
		measure(21, "", fld(4)) + `, ` + measure(9, "", fld(4)) + `]}}`
}
