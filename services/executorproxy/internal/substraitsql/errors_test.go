package substraitsql

import (
	"errors"
	"strings"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

var errNoSuchTable = errors.New("no such table")

// TestErrors checks that plans the translator cannot or must not turn into SQL fail with
// the right sentinel and name the node at fault.
func TestErrors(t *testing.T) {
	nation := scan("NATION")
	doubling := []string{fn(6, fld(0), fld(0))} // each expression adds the one before to itself
	for i := 1; i < 40; i++ {
		doubling = append(doubling, fn(6, fld(3+i), fld(3+i)))
	}
	cases := []struct {
		name string
		plan string
		opts Options
		kind error
		msg  string
	}{
		{name: "unsupported function", plan: planJSON(filter(nation, fn(16, fld(1), str("A.*"))), nil),
			kind: ErrUnsupported, msg: `function "regexp_match_substring:str_str" at root.input.filter.condition`},
		{name: "undeclared function anchor", plan: planJSON(filter(nation, fn(99, fld(1))), nil),
			kind: ErrInvalidPlan, msg: "function anchor 99 is not declared at root.input.filter.condition"},
		{name: "field out of range", plan: planJSON(filter(nation, fn(1, fld(1), fld(9))), nil),
			kind: ErrInvalidPlan, msg: "field 9 out of range (4 fields) at root.input.filter.condition.scalar_function.arguments[1].value.selection"},
		{name: "outer reference without an enclosing query", plan: planJSON(filter(nation, fn(1, fld(1), outer(0, 1))), nil),
			kind: ErrInvalidPlan, msg: "outer reference 1 steps out of 0 enclosing queries"},
		{name: "emit out of range", plan: planJSON(scan("NATION", 4), nil),
			kind: ErrInvalidPlan, msg: "output_mapping[0] = 4 is out of range (4 fields) at root.input.read.common.emit"},
		{name: "unsupported relation", plan: planJSON(`{"exchange": {"input": `+nation+`}}`, nil),
			kind: ErrUnsupported, msg: "exchange relation at root.input"},
		{name: "single join", plan: planJSON(join("LEFT_SINGLE", nation, nation, fn(1, fld(0), fld(4)), ""), nil),
			kind: ErrUnsupported, msg: "join type JOIN_TYPE_LEFT_SINGLE at root.input.join.type"},
		{name: "window function", plan: planJSON(project(nation, nil, `{"windowFunction": {"functionReference": 4}}`), nil),
			kind: ErrUnsupported, msg: "window_function expression at root.input.project.expressions[0]"},
		{name: "aggregate without partial form", plan: planJSON(`{"aggregate": {"input": `+nation+`, "measures": [`+
			measure(20, `, "phase": "AGGREGATION_PHASE_INITIAL_TO_INTERMEDIATE"`, fld(0))+`]}}`, nil),
			kind: ErrUnsupported, msg: `aggregate "avg:dec" in a partial phase at root.input.aggregate.measures[0].measure`},
		{name: "fragment read without a table mapping", plan: planJSON(`{"read": {"baseSchema": {"names": ["A"]}, "namedTable": {"names": ["__sluice_fragment", "3"]}}}`, nil),
			kind: ErrUnsupported, msg: `fragment read "__sluice_fragment.3" without Options.Table`},
		{name: "table mapping fails", plan: planJSON(nation, nil),
			opts: Options{Table: func([]string) (string, error) { return "", errNoSuchTable }},
			kind: errNoSuchTable, msg: `table "NATION" at root.input.read.named_table: no such table`},
		{name: "scalar subquery of two columns", plan: planJSON(project(nation, nil, `{"subquery": {"scalar": {"input": `+nation+`}}}`), nil),
			kind: ErrInvalidPlan, msg: "scalar subquery with 4 columns at root.input.project.expressions[0].subquery.scalar"},
		{name: "reference to a missing relation", plan: planJSON(`{"reference": {"subtreeOrdinal": 3}}`, nil),
			kind: ErrInvalidPlan, msg: "subtree_ordinal 3 names no relation of the plan at root.input.reference"},
		{name: "unknown extension", plan: `{"extensionUrns": [{"extensionUrnAnchor": 1, "urn": "extension:example:mine"}], "extensions": [{"extensionFunction": ` +
			`{"extensionUrnReference": 1, "functionAnchor": 1, "name": "f:i64"}}], "relations": [{"root": {"input": ` + nation + `}}]}`,
			kind: ErrUnsupported, msg: "extension:example:mine"},
		{name: "no root", plan: `{"relations": [{"rel": ` + nation + `}]}`,
			kind: ErrInvalidPlan, msg: "no root relation at relations"},
		{name: "exponentially growing SQL", plan: planJSON(project(nation, nil, doubling...), nil),
			kind: ErrUnsupported, msg: "expression whose SQL exceeds 16777216 bytes at root.input.project.expressions["},
		{name: "decimal literal too wide", plan: planJSON(project(nation, nil, `{"literal": {"decimal": {"value": "AAAAAAAAAAAAAAAAAAAAAA==", "precision": 40, "scale": 2}}}`), nil),
			kind: ErrUnsupported, msg: "decimal(40,2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseJSON([]byte(c.plan))
			if err != nil {
				t.Fatal(err)
			}
			opts := c.opts
			if opts.Table == nil && c.kind != ErrUnsupported {
				opts.Table = tinyTables
			}
			sql, err := Translate(p, opts)
			if err == nil {
				t.Fatalf("no error; SQL:\n%s", sql)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %q is not %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
		})
	}
	if _, err := Translate(nil, Options{}); !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("nil plan: %v", err)
	}
	if _, _, err := TranslateRel(&substraitpb.Rel{RelType: &substraitpb.Rel_Reference{Reference: &substraitpb.ReferenceRel{}}}, Extensions{}, Options{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("reference in TranslateRel: %v", err)
	}
}

// TestParseJSONMigratesURIs checks the legacy extension URI migration.
func TestParseJSONMigratesURIs(t *testing.T) {
	p, err := ParseJSON([]byte(planJSON(scan("NATION"), nil)))
	if err != nil {
		t.Fatal(err)
	}
	urns := map[string]bool{}
	for _, u := range p.GetExtensionUrns() {
		urns[u.GetUrn()] = true
	}
	for _, want := range []string{"extension:io.substrait:functions_comparison", "extension:io.substrait:functions_aggregate_generic"} {
		if !urns[want] {
			t.Errorf("URN %s missing in %v", want, urns)
		}
	}
	ext, err := NewExtensions(p)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := ext.function(3); !ok || f.full != "gt:any_any" || f.urn != "extension:io.substrait:functions_comparison" {
		t.Errorf("anchor 3 resolves to %+v, %v", f, ok)
	}
	if _, err := ParseJSON([]byte(`{"extensionUris": [{"uri": "/x.yaml"}, {"uri": "/y.yaml"}], "extensions": [{"extensionFunction": {"extensionUriReference": 9}}]}`)); !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("a reference to an undeclared URI: %v", err)
	}
	if _, err := ParseJSON([]byte(`{`)); !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("broken JSON: %v", err)
	}
}
