package fragment

import (
	"strings"

	"github.com/substrait-io/substrait-go/v8/expr"
	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-go/v8/plan"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	extpb "github.com/substrait-io/substrait-protobuf/go/substraitpb/extensions"
	"google.golang.org/protobuf/proto"
)

// Standard extension URNs the fragmenter adds functions from.
const (
	urnArithmetic        = extensions.SubstraitDefaultURNPrefix + "functions_arithmetic"
	urnArithmeticDecimal = extensions.SubstraitDefaultURNPrefix + "functions_arithmetic_decimal"
	urnAggregateGeneric  = extensions.SubstraitDefaultURNPrefix + "functions_aggregate_generic"
)

// header is the extension part of a plan (URNs and function, type and variation
// declarations) that every fragment plan of a DAG shares. Cut may add functions to
// it (sum0, divide, ...) when it splits aggregates.
type header struct {
	version *substraitpb.Version
	urns    []*extpb.SimpleExtensionURN
	decls   []*extpb.SimpleExtensionDeclaration
	// funcs maps a function anchor to its compound name ("sum:dec").
	funcs map[uint32]string
}

// newHeader copies the extension part of p.
func newHeader(p *substraitpb.Plan) *header {
	h := &header{funcs: map[uint32]string{}}
	if p.GetVersion() != nil {
		h.version = proto.CloneOf(p.GetVersion())
	}
	for _, u := range p.GetExtensionUrns() {
		h.urns = append(h.urns, proto.CloneOf(u))
	}
	for _, d := range p.GetExtensions() {
		h.decls = append(h.decls, proto.CloneOf(d))
		if f := d.GetExtensionFunction(); f != nil {
			h.funcs[f.GetFunctionAnchor()] = f.GetName()
		}
	}
	return h
}

// clone copies h, so a Cut can add functions without touching the Plan.
func (h *header) clone() *header {
	c := &header{version: h.version, funcs: map[uint32]string{}}
	for _, u := range h.urns {
		c.urns = append(c.urns, proto.CloneOf(u))
	}
	for _, d := range h.decls {
		c.decls = append(c.decls, proto.CloneOf(d))
	}
	for k, v := range h.funcs {
		c.funcs[k] = v
	}
	return c
}

// funcName is the compound name of the function at anchor ("sum:dec"), or "" when
// the anchor is not declared.
func (h *header) funcName(anchor uint32) string { return h.funcs[anchor] }

// funcBase is the name of the function at anchor without its signature ("sum").
func (h *header) funcBase(anchor uint32) string {
	name := h.funcs[anchor]
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

// function returns the anchor of the function compound from urn, declaring it (and
// the URN) when the plan does not yet.
func (h *header) function(urn, compound string) uint32 {
	urnAnchor, found := uint32(0), false
	var maxURN uint32
	for _, u := range h.urns {
		if u.GetUrn() == urn && !found {
			urnAnchor, found = u.GetExtensionUrnAnchor(), true
		}
		maxURN = max(maxURN, u.GetExtensionUrnAnchor())
	}
	if !found {
		urnAnchor = maxURN + 1
		h.urns = append(h.urns, extensionURN(urnAnchor, urn))
	}
	var maxFunc uint32
	for _, d := range h.decls {
		f := d.GetExtensionFunction()
		if f == nil {
			continue
		}
		if f.GetName() == compound && f.GetExtensionUrnReference() == urnAnchor {
			return f.GetFunctionAnchor()
		}
		maxFunc = max(maxFunc, f.GetFunctionAnchor())
	}
	anchor := maxFunc + 1
	h.decls = append(h.decls, &extpb.SimpleExtensionDeclaration{
		MappingType: &extpb.SimpleExtensionDeclaration_ExtensionFunction_{
			ExtensionFunction: &extpb.SimpleExtensionDeclaration_ExtensionFunction{
				ExtensionUrnReference: urnAnchor,
				FunctionAnchor:        anchor,
				Name:                  compound,
			},
		},
	})
	h.funcs[anchor] = compound
	return anchor
}

// sharedPlan wraps rel in a plan with h's extensions and a root naming its columns,
// without copies: the plan shares rel, names and h's messages, so it must not be changed
// (DAG.Plan returns a copy of it).
func (h *header) sharedPlan(rel *substraitpb.Rel, names []string) *substraitpb.Plan {
	return &substraitpb.Plan{
		Relations: []*substraitpb.PlanRel{{RelType: &substraitpb.PlanRel_Root{
			Root: &substraitpb.RelRoot{Input: rel, Names: names},
		}}},
		Version:       h.version,
		ExtensionUrns: h.urns,
		Extensions:    h.decls,
	}
}

// registry resolves h's extensions against the default collection, with the subquery
// converter that plan.FromProto leaves out.
func (h *header) registry() (expr.ExtensionRegistry, error) {
	coll, err := extensions.GetDefaultCollection()
	if err != nil {
		return expr.ExtensionRegistry{}, err
	}
	set, err := extensions.GetExtensionSet(&substraitpb.Plan{ExtensionUrns: h.urns, Extensions: h.decls}, coll)
	if err != nil {
		return expr.ExtensionRegistry{}, err
	}
	reg := expr.NewExtensionRegistry(set, coll)
	reg.SetSubqueryConverter(&plan.ExpressionConverter{ExtensionRegistry: reg})
	return reg, nil
}

// extensionURN declares urn at anchor.
func extensionURN(anchor uint32, urn string) *extpb.SimpleExtensionURN {
	return &extpb.SimpleExtensionURN{ExtensionUrnAnchor: anchor, Urn: urn}
}
