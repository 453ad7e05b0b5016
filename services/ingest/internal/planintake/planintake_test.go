package planintake_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/sluicehq/sluice/services/ingest/internal/planintake"
	"google.golang.org/protobuf/proto"
)

// TestPrepareIsthmus: every Isthmus TPC-H plan is accepted, normalized to binary protobuf
// (the same plan the decoder reads from the JSON) and described by its tables.
func TestPrepareIsthmus(t *testing.T) {
	for _, q := range shareddata.TPCHPlans {
		t.Run(q, func(t *testing.T) {
			data := shareddata.IsthmusPlan(t, q)
			p, err := planintake.Prepare(data, "application/json")
			if err != nil {
				t.Fatal(err)
			}
			want, err := substraitplan.Decode(data, substraitplan.ContentTypeJSON)
			if err != nil {
				t.Fatal(err)
			}
			got, err := substraitplan.Decode(p.Binary, substraitplan.ContentTypeProtobuf)
			if err != nil || !proto.Equal(got, want) {
				t.Fatalf("binary plan differs from the JSON one (%v)", err)
			}
			if p.Relations < 2 || len(p.Tables) == 0 {
				t.Errorf("relations %d, tables %v", p.Relations, p.Tables)
			}
			d := p.Description()
			if !strings.HasPrefix(d, "-- substrait plan (") || strings.ContainsAny(d, "\r\n") || !strings.Contains(d, p.Tables[0]) {
				t.Errorf("description %q", d)
			}
		})
	}
}

// q01 returns the Isthmus plan of TPC-H Q1 with old replaced by new.
func q01(t *testing.T, old, new string) []byte {
	t.Helper()
	data := string(shareddata.IsthmusPlan(t, "q01"))
	if !strings.Contains(data, old) {
		t.Fatalf("q01 has no %q", old)
	}
	return []byte(strings.Replace(data, old, new, 1))
}

func TestPrepareErrors(t *testing.T) {
	cases := []struct {
		name, data, contentType string
		code                    protocol.ErrorCode
		contains                []string
	}{
		{"empty", "", "application/json", protocol.SyntaxError, []string{"empty"}},
		{"broken JSON", `{"relations": [`, "application/json", protocol.SyntaxError, []string{"cannot decode the JSON plan"}},
		{"garbage binary", "\xff\xff\x13garbage", "application/x-protobuf", protocol.SyntaxError, []string{"cannot decode the protobuf plan"}},
		{"other media type", "{}", "text/csv", protocol.NotSupported, []string{"text/csv"}},
		{"no root", "{}", "application/json", protocol.SyntaxError, []string{"no root relation"}},
		{"unknown function", string(q01(t, `"name": "sum:dec"`, `"name": "frobnicate:dec"`)), "application/json", protocol.FunctionNotFound,
			[]string{`"frobnicate:dec"`, "extension:io.substrait:functions_arithmetic_decimal"}},
		{"unknown function without signature", string(q01(t, `"name": "sum:dec"`, `"name": "frobnicate"`)), "application/json", protocol.FunctionNotFound,
			[]string{`"frobnicate"`}},
		{"function of another extension", string(q01(t, `"name": "multiply:dec_dec"`, `"name": "divide:dec_dec_dec"`)), "application/json", protocol.SyntaxError,
			[]string{"root.input.sort.input.aggregate.input (ProjectRel)"}},
		{"extension relation", `{"relations":[{"root":{"input":{"extensionLeaf":{}},"names":["a"]}}]}`, "application/json", protocol.NotSupported,
			[]string{"root.input (ExtensionLeafRel)"}},
		{"write", `{"relations":[{"root":{"input":{"fetch":{"input":{"write":{}},"count":3}},"names":["a"]}}]}`, "", protocol.NotSupported,
			[]string{"root.input.fetch.input (WriteRel)"}},
		{"missing input", `{"relations":[{"root":{"input":{"fetch":{"count":3}},"names":["a"]}}]}`, "", protocol.SyntaxError,
			[]string{"root.input (FetchRel)", "missing input"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := planintake.Prepare([]byte(c.data), c.contentType)
			var qe *protocol.QueryError
			if p != nil || !errors.As(err, &qe) {
				t.Fatalf("Prepare = %v, %v; want a protocol error", p, err)
			}
			if qe.ErrorName != c.code.Name || qe.ErrorCode != c.code.Code {
				t.Errorf("error %s (%d), want %s: %s", qe.ErrorName, qe.ErrorCode, c.code.Name, qe.Message)
			}
			for _, s := range c.contains {
				if !strings.Contains(qe.Message, s) {
					t.Errorf("message %q lacks %q", qe.Message, s)
				}
			}
		})
	}
	if _, err := planintake.Prepare(make([]byte, substraitplan.MaxPlanSize+1), ""); !strings.Contains(err.Error(), protocol.QueryTextTooLarge.Name) {
		t.Errorf("oversized plan: %v", err)
	}
}

func TestDescription(t *testing.T) {
	cases := []struct {
		plan planintake.Plan
		want string
	}{
		{planintake.Plan{Relations: 1}, "-- substrait plan (1 relation)"},
		{planintake.Plan{Relations: 5, Tables: []string{"LINEITEM"}}, "-- substrait plan (5 relations) reading LINEITEM"},
		{planintake.Plan{Relations: 2, Tables: []string{"a\nDROP TABLE b", "c\u2028d"}}, "-- substrait plan (2 relations) reading a?DROP TABLE b, c?d"},
		{planintake.Plan{Relations: 9, Tables: strings.Split("a b c d e f g h i j", " ")}, "-- substrait plan (9 relations) reading a, b, c, d, e, f, g, h, 2 more"},
		{planintake.Plan{Relations: 1, Tables: []string{strings.Repeat("é", 100)}}, "-- substrait plan (1 relation) reading " + strings.Repeat("é", 63) + "…"},
	}
	for _, c := range cases {
		if got := c.plan.Description(); got != c.want {
			t.Errorf("Description(%v)\n got %q\nwant %q", c.plan.Tables, got, c.want)
		}
	}
}

func TestParsePriorityAndCost(t *testing.T) {
	priorities := []struct {
		in   string
		want int
		ok   bool
	}{{"", 0, true}, {"7", 7, true}, {" -3 ", -3, true}, {"2147483647", math.MaxInt32, true},
		{"high", 0, false}, {"1.5", 0, false}, {"2147483648", 0, false}}
	for _, c := range priorities {
		got, err := planintake.ParsePriority(c.in)
		if got != c.want || (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), planintake.HeaderPriority)) {
			t.Errorf("ParsePriority(%q) = %d, %v", c.in, got, err)
		}
	}
	costs := []struct {
		in   string
		want float64
		ok   bool
	}{{"", 0, true}, {"0", 0, true}, {"12.5", 12.5, true}, {"1e3", 1000, true},
		{"-1", 0, false}, {"NaN", 0, false}, {"Inf", 0, false}, {"ten", 0, false}, {"30s", 0, false}}
	for _, c := range costs {
		got, err := planintake.ParseCost(c.in)
		if got != c.want || (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), planintake.HeaderCostEstimate)) {
			t.Errorf("ParseCost(%q) = %v, %v", c.in, got, err)
		}
	}
}
