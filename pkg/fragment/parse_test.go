package fragment

import (
	"errors"
	"strings"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func TestParseTPCHAllEncodings(t *testing.T) {
	t.Parallel()
	total := 0
	for _, q := range tpchQueries {
		jsonPlan := parsed(t, q)
		total += jsonPlan.Relations()
		modern, err := proto.Marshal(jsonPlan.Proto())
		if err != nil {
			t.Fatal(err)
		}
		encodings := []struct {
			name, contentType string
			data              []byte
		}{
			{"binary with URNs", ContentTypeSubstrait, modern},
			{"binary with legacy URIs", ContentTypeProtobuf, legacyBinary(t, jsonPlan.Proto())},
			{"JSON sniffed", "", planJSON(t, q)},
		}
		for _, e := range encodings {
			p, err := Parse(e.data, e.contentType)
			if err != nil {
				t.Fatalf("%s %s: %v", q, e.name, err)
			}
			if !proto.Equal(p.Proto(), jsonPlan.Proto()) {
				t.Errorf("%s %s: plan differs from the JSON plan", q, e.name)
			}
			if !sameSchema(p.Schema(), jsonPlan.Schema()) {
				t.Errorf("%s %s: schema %v, want %v", q, e.name, p.Schema(), jsonPlan.Schema())
			}
		}
	}
	// The fixtures' README counts 84 reads, 49 crosses, 41 projects, 34 filters,
	// 26 aggregates, 17 sorts, 5 fetches and 1 join.
	if total != 257 {
		t.Errorf("the 21 plans hold %d relations, want 257", total)
	}
}

func TestParseMigratesLegacyURIs(t *testing.T) {
	t.Parallel()
	p := parsed(t, "q01")
	for _, u := range p.Proto().GetExtensionUrns() {
		if !strings.HasPrefix(u.GetUrn(), "extension:io.substrait:functions_") {
			t.Errorf("URN %q is not a standard extension URN", u.GetUrn())
		}
	}
	// URN anchors kept their legacy numbers and every declaration resolves.
	for _, d := range p.Proto().GetExtensions() {
		if p.hdr.funcName(d.GetExtensionFunction().GetFunctionAnchor()) == "" {
			t.Errorf("declaration %v lost", d)
		}
	}
}

func TestParseContentTypes(t *testing.T) {
	t.Parallel()
	jsonData := planJSON(t, "q06")
	binData, err := proto.Marshal(parsed(t, "q06").Proto())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		contentType string
		data        []byte
		wantErr     error
	}{
		{"application/json", jsonData, nil},
		{"application/json; charset=utf-8", jsonData, nil},
		{"application/vnd.substrait.plan+json", jsonData, nil},
		{"", jsonData, nil},
		{"application/x-protobuf", binData, nil},
		{"application/protobuf", binData, nil},
		{"application/vnd.substrait.plan+protobuf", binData, nil},
		{"application/octet-stream", binData, nil},
		{"", binData, nil},
		{"text/plain", jsonData, ErrUnsupported},
		{"application/json;;", jsonData, ErrUnsupported},
		{"application/json", binData, ErrMalformedPlan},
		{"application/x-protobuf", jsonData, ErrMalformedPlan},
	}
	for _, c := range cases {
		_, err := Parse(c.data, c.contentType)
		if c.wantErr == nil && err != nil {
			t.Errorf("%q: %v", c.contentType, err)
		}
		if c.wantErr != nil && !errors.Is(err, c.wantErr) {
			t.Errorf("%q: error %v, want %v", c.contentType, err, c.wantErr)
		}
	}
}

// TestParseErrors feeds broken plans and checks the sentinel, the relation path and
// the relation type of each error.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	base := func() *substraitpb.Plan { return parsed(t, "q03").Proto() }
	root := func(p *substraitpb.Plan) *substraitpb.Rel { return p.GetRelations()[0].GetRoot().GetInput() }
	// q03: fetch > sort > project > aggregate > project > filter > cross(cross(CUSTOMER, ORDERS), LINEITEM).
	// A relation's path is the path of its Rel message; its children continue with the
	// relation type ("filter") and the input field.
	const filterRel = "root.input.fetch.input.sort.input.project.input.aggregate.input.project.input"
	const filterPath = filterRel + ".filter"
	filter := func(p *substraitpb.Plan) *substraitpb.FilterRel {
		return root(p).GetFetch().GetInput().GetSort().GetInput().GetProject().GetInput().GetAggregate().GetInput().GetProject().GetInput().GetFilter()
	}
	cases := []struct {
		name     string
		mutate   func(p *substraitpb.Plan)
		raw      string // JSON input instead of a mutated q03
		wantErr  error
		wantPath string
		wantRel  string
		wantText string
	}{
		{name: "invalid JSON", raw: `{"relations": [`, wantErr: ErrMalformedPlan},
		{name: "JSON array", raw: `[1, 2]`, wantErr: ErrMalformedPlan},
		{name: "no relations", raw: `{}`, wantErr: ErrMalformedPlan, wantPath: "relations"},
		{name: "root without input", raw: `{"relations":[{"root":{"names":["A"]}}]}`, wantErr: ErrMalformedPlan, wantPath: "root.input"},
		{name: "relation without type", raw: `{"relations":[{"root":{"input":{},"names":["A"]}}]}`, wantErr: ErrMalformedPlan, wantPath: "root.input", wantText: "no type"},
		{name: "unknown relation type is discarded", raw: `{"relations":[{"root":{"input":{"lateralJoin":{}},"names":["A"]}}]}`, wantErr: ErrMalformedPlan, wantPath: "root.input"},
		{name: "legacy URI reference undeclared", raw: `{"extensionUris":[{"extensionUriAnchor":1,"uri":"/functions_boolean.yaml"}],"extensions":[{"extensionFunction":{"extensionUriReference":7,"functionAnchor":1,"name":"and:bool"}}],"relations":[]}`, wantErr: ErrMalformedPlan, wantText: "reference 7"},
		{
			name:     "missing cross input",
			mutate:   func(p *substraitpb.Plan) { filter(p).Input.GetCross().Left.GetCross().Right = nil },
			wantErr:  ErrMalformedPlan,
			wantPath: filterPath + ".input.cross.left",
			wantRel:  "CrossRel",
			wantText: "missing right input",
		},
		{
			name: "unsupported relation deep in the plan",
			mutate: func(p *substraitpb.Plan) {
				filter(p).Input.GetCross().Left.GetCross().Left = &substraitpb.Rel{RelType: &substraitpb.Rel_ExtensionLeaf{ExtensionLeaf: &substraitpb.ExtensionLeafRel{}}}
			},
			wantErr:  ErrUnsupported,
			wantPath: filterPath + ".input.cross.left.cross.left",
			wantRel:  "ExtensionLeafRel",
		},
		{
			name: "reference relation",
			mutate: func(p *substraitpb.Plan) {
				filter(p).Input.GetCross().Right = &substraitpb.Rel{RelType: &substraitpb.Rel_Reference{Reference: &substraitpb.ReferenceRel{}}}
			},
			wantErr: ErrUnsupported, wantPath: filterPath + ".input.cross.right", wantRel: "ReferenceRel",
		},
		{
			name: "expand relation",
			mutate: func(p *substraitpb.Plan) {
				f := filter(p)
				f.Input = &substraitpb.Rel{RelType: &substraitpb.Rel_Expand{Expand: &substraitpb.ExpandRel{Input: f.Input}}}
			},
			wantErr: ErrUnsupported, wantPath: filterPath + ".input", wantRel: "ExpandRel",
		},
		{
			name:     "undeclared function",
			mutate:   func(p *substraitpb.Plan) { filter(p).Condition.GetScalarFunction().FunctionReference = 99 },
			wantErr:  ErrMalformedPlan,
			wantPath: filterPath + ".condition.scalarFunction",
			wantRel:  "FilterRel",
			wantText: "function anchor 99",
		},
		{
			name: "field reference out of range",
			mutate: func(p *substraitpb.Plan) {
				filter(p).Condition.GetScalarFunction().Arguments[0].GetValue().GetScalarFunction().Arguments[0].GetValue().GetSelection().GetDirectReference().GetStructField().Field = 999
			},
			wantErr: ErrMalformedPlan, wantPath: filterRel, wantRel: "FilterRel",
		},
		{
			name:    "unknown extension",
			mutate:  func(p *substraitpb.Plan) { p.ExtensionUrns[0].Urn = "extension:example.com:mine" },
			wantErr: ErrUnsupported, wantText: "extension:example.com:mine",
		},
		{
			name: "reserved table name",
			mutate: func(p *substraitpb.Plan) {
				filter(p).Input.GetCross().Right.GetRead().GetNamedTable().Names = []string{PlaceholderTable, "other_query_f1"}
			},
			wantErr: ErrUnsupported, wantPath: filterPath + ".input.cross.right", wantRel: "ReadRel", wantText: "reserved",
		},
		{
			name:    "root names do not fit",
			mutate:  func(p *substraitpb.Plan) { p.Relations[0].GetRoot().Names = []string{"ONLY_ONE"} },
			wantErr: ErrMalformedPlan, wantPath: "root", wantRel: "RelRoot",
		},
		{
			name: "two roots",
			mutate: func(p *substraitpb.Plan) {
				p.Relations = append(p.Relations, p.Relations[0])
			},
			wantErr: ErrUnsupported, wantPath: "relations[1]",
		},
		{
			name: "aggregate without common (panics in substrait-go)",
			mutate: func(p *substraitpb.Plan) {
				root(p).GetFetch().GetInput().GetSort().GetInput().GetProject().GetInput().GetAggregate().Common = nil
			},
			wantErr: ErrMalformedPlan, wantPath: "root.input.fetch.input.sort.input.project.input", wantRel: "AggregateRel",
		},
		{
			name: "function signature substrait-go cannot parse",
			mutate: func(p *substraitpb.Plan) {
				for _, d := range p.GetExtensions() {
					d.GetExtensionFunction().Name = d.GetExtensionFunction().GetName() + "?"
				}
			},
			wantErr: ErrMalformedPlan, wantPath: "extensions[0]", wantText: "invalid signature",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(c.raw)
			if c.mutate != nil {
				p := base()
				c.mutate(p)
				var err error
				if data, err = protojson.Marshal(p); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Parse(data, ContentTypeJSON)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			var pe *Error
			if (c.wantPath != "" || c.wantRel != "") && !errors.As(err, &pe) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if c.wantPath != "" && pe.Path != c.wantPath {
				t.Errorf("path %q, want %q", pe.Path, c.wantPath)
			}
			if c.wantRel != "" && pe.Rel != c.wantRel {
				t.Errorf("relation %q, want %q", pe.Rel, c.wantRel)
			}
			if !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("error %q does not mention %q", err, c.wantText)
			}
		})
	}
}

func TestParseRejectsOversizedPlans(t *testing.T) {
	t.Parallel()
	if _, err := Parse(make([]byte, MaxPlanSize+1), ContentTypeProtobuf); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error %v, want ErrUnsupported", err)
	}
}

func TestErrorRendering(t *testing.T) {
	t.Parallel()
	err := &Error{Kind: ErrUnsupported, Path: "root.input.cross.left", Rel: "ExchangeRel", Detail: "no", Cause: errors.New("cause")}
	want := "unsupported substrait plan at root.input.cross.left (ExchangeRel): no: cause"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformedPlan) {
		t.Errorf("errors.Is does not follow Kind")
	}
}
