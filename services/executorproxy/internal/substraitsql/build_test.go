package substraitsql

import (
	"fmt"
	"strings"
)

// Compact builders of proto3-JSON plan pieces for tests. Tables are the tpch.tiny
// tables; column lists follow the TPC-H schema.

var tpchColumns = map[string][]string{
	"NATION": {"N_NATIONKEY", "N_NAME", "N_REGIONKEY", "N_COMMENT"},
	"REGION": {"R_REGIONKEY", "R_NAME", "R_COMMENT"},
	"LINEITEM": {"L_ORDERKEY", "L_PARTKEY", "L_SUPPKEY", "L_LINENUMBER", "L_QUANTITY", "L_EXTENDEDPRICE", "L_DISCOUNT",
		"L_TAX", "L_RETURNFLAG", "L_LINESTATUS", "L_SHIPDATE", "L_COMMITDATE", "L_RECEIPTDATE", "L_SHIPINSTRUCT", "L_SHIPMODE", "L_COMMENT"},
}

// testFuncs are the functions the test plans declare: anchor → URN suffix, name.
var testFuncs = []struct {
	anchor    int
	urn, name string
}{
	{1, "functions_comparison", "equal:any_any"},
	{2, "functions_comparison", "lt:any_any"},
	{3, "functions_comparison", "gt:any_any"},
	{4, "functions_aggregate_generic", "count:"},
	{5, "functions_arithmetic", "sum:i64"},
	{6, "functions_arithmetic", "add:i64_i64"},
	{7, "functions_boolean", "and:bool"},
	{8, "functions_comparison", "is_null:any"},
	{9, "functions_aggregate_generic", "count:any"},
	{10, "functions_arithmetic", "divide:i64_i64"},
	{11, "functions_comparison", "least:any_any"},
	{12, "functions_string", "concat:str_str"},
	{13, "functions_string", "upper:str"},
	{14, "functions_comparison", "coalesce:any_any"},
	{15, "functions_arithmetic", "modulus:i64_i64"},
	{16, "functions_string", "regexp_match_substring:str_str"},
	{17, "functions_arithmetic", "max:i64"},
	{18, "functions_boolean", "or:bool"},
	{19, "functions_datetime", "extract:req_req_date"},
	{20, "functions_arithmetic_decimal", "avg:dec"},
	{21, "functions_arithmetic_decimal", "sum:dec"},
	{22, "functions_arithmetic", "sum0:i64"},
	{23, "functions_arithmetic_decimal", "divide:dec_dec"},
}

// planJSON wraps a root relation (and other plan relations) into a plan that declares
// testFuncs, with legacy extension URIs as Isthmus writes them.
func planJSON(root string, names []string, others ...string) string {
	uris := map[string]int{}
	var uriList, decls []string
	for _, f := range testFuncs {
		if _, ok := uris[f.urn]; !ok {
			uris[f.urn] = len(uris) + 1
			uriList = append(uriList, fmt.Sprintf(`{"extensionUriAnchor": %d, "uri": "/%s.yaml"}`, uris[f.urn], f.urn))
		}
		decls = append(decls, fmt.Sprintf(`{"extensionFunction": {"extensionUriReference": %d, "functionAnchor": %d, "name": %q}}`, uris[f.urn], f.anchor, f.name))
	}
	var rels []string
	for _, o := range others {
		rels = append(rels, `{"rel": `+o+`}`)
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	rels = append(rels, `{"root": {"input": `+root+`, "names": [`+strings.Join(quoted, ", ")+`]}}`)
	return `{"extensionUris": [` + strings.Join(uriList, ", ") + `], "extensions": [` + strings.Join(decls, ", ") +
		`], "relations": [` + strings.Join(rels, ", ") + `]}`
}

// common renders an emit, or nothing for the direct output.
func common(emit []int) string {
	if emit == nil {
		return ""
	}
	parts := make([]string, len(emit))
	for i, e := range emit {
		parts[i] = fmt.Sprint(e)
	}
	return `"common": {"emit": {"outputMapping": [` + strings.Join(parts, ", ") + `]}}, `
}

func scan(table string, emit ...int) string {
	names := make([]string, len(tpchColumns[table]))
	for i, c := range tpchColumns[table] {
		names[i] = fmt.Sprintf("%q", c)
	}
	return `{"read": {` + common(emit) + `"baseSchema": {"names": [` + strings.Join(names, ", ") + `]}, "namedTable": {"names": ["` + table + `"]}}}`
}

func filter(in, cond string, emit ...int) string {
	return `{"filter": {` + common(emit) + `"input": ` + in + `, "condition": ` + cond + `}}`
}

func project(in string, emit []int, exprs ...string) string {
	return `{"project": {` + common(emit) + `"input": ` + in + `, "expressions": [` + strings.Join(exprs, ", ") + `]}}`
}

func set(op string, ins ...string) string {
	return `{"set": {"inputs": [` + strings.Join(ins, ", ") + `], "op": "SET_OP_` + op + `"}}`
}

func join(typ, left, right, cond, post string, emit ...int) string {
	s := `{"join": {` + common(emit) + `"left": ` + left + `, "right": ` + right + `, "type": "JOIN_TYPE_` + typ + `"`
	if cond != "" {
		s += `, "expression": ` + cond
	}
	if post != "" {
		s += `, "postJoinFilter": ` + post
	}
	return s + `}}`
}

func sortBy(in string, keys ...string) string {
	return `{"sort": {"input": ` + in + `, "sorts": [` + strings.Join(keys, ", ") + `]}}`
}

func key(e, dir string) string {
	return `{"expr": ` + e + `, "direction": "SORT_DIRECTION_` + dir + `"}`
}

func fld(i int) string {
	return fmt.Sprintf(`{"selection": {"directReference": {"structField": {"field": %d}}, "rootReference": {}}}`, i)
}

func outer(i, steps int) string {
	return fmt.Sprintf(`{"selection": {"directReference": {"structField": {"field": %d}}, "outerReference": {"stepsOut": %d}}}`, i, steps)
}

func i64(n int64) string { return fmt.Sprintf(`{"literal": {"i64": "%d"}}`, n) }

func str(s string) string { return fmt.Sprintf(`{"literal": {"string": %q}}`, s) }

func fn(anchor int, args ...string) string {
	vals := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, `{"enum"`) {
			vals[i] = a
			continue
		}
		vals[i] = `{"value": ` + a + `}`
	}
	return fmt.Sprintf(`{"scalarFunction": {"functionReference": %d, "arguments": [%s]}}`, anchor, strings.Join(vals, ", "))
}

func measure(anchor int, extra string, args ...string) string {
	vals := make([]string, len(args))
	for i, a := range args {
		vals[i] = `{"value": ` + a + `}`
	}
	return fmt.Sprintf(`{"measure": {"functionReference": %d, "arguments": [%s]%s}}`, anchor, strings.Join(vals, ", "), extra)
}
