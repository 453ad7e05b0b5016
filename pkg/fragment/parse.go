package fragment

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// Content types Parse understands (see pkg/substraitplan).
const (
	// ContentTypeJSON is a proto3 JSON plan. Any "+json" media type is JSON too.
	ContentTypeJSON = substraitplan.ContentTypeJSON
	// ContentTypeProtobuf is a binary protobuf plan. "application/protobuf",
	// "application/octet-stream" and any "+protobuf" or "+proto" media type are too.
	ContentTypeProtobuf = substraitplan.ContentTypeProtobuf
	// ContentTypeSubstrait is the binary plan's Substrait-specific media type.
	ContentTypeSubstrait = substraitplan.ContentTypeSubstrait
)

// MaxPlanSize bounds the bytes Parse accepts.
const MaxPlanSize = substraitplan.MaxPlanSize

// Plan is a parsed, validated Substrait plan with a single root relation. It is
// immutable; Cut reads it without changing it.
type Plan struct {
	proto  *substraitpb.Plan
	root   *substraitpb.RelRoot
	hdr    *header
	tree   *tree
	schema types.NamedStruct
}

// Proto returns a copy of the plan, with legacy extension URIs migrated to URNs.
func (p *Plan) Proto() *substraitpb.Plan { return proto.CloneOf(p.proto) }

// Names returns the root's output column names, depth-first.
func (p *Plan) Names() []string { return append([]string(nil), p.root.GetNames()...) }

// Schema returns the root's output schema: its names and the types substrait-go
// derives.
func (p *Plan) Schema() types.NamedStruct { return p.schema }

// Relations returns the number of relations in the plan, subqueries included.
func (p *Plan) Relations() int { return len(p.tree.nodes) }

// Parse decodes and validates a Substrait plan. contentType selects the encoding (see
// the ContentType constants); an empty content type sniffs it (JSON starts with '{').
// Every failure wraps ErrMalformedPlan or ErrUnsupported and, when it concerns one
// relation, is an *Error carrying the relation's path.
func Parse(data []byte, contentType string) (*Plan, error) {
	p, err := substraitplan.Decode(data, contentType)
	if err != nil {
		var de *substraitplan.Error
		if !errors.As(err, &de) {
			return nil, &Error{Kind: ErrMalformedPlan, Cause: err}
		}
		kind := ErrMalformedPlan
		if errors.Is(de.Kind, substraitplan.ErrUnsupported) {
			kind = ErrUnsupported
		}
		return nil, &Error{Kind: kind, Path: de.Path, Detail: de.Detail, Cause: de.Cause}
	}
	return newPlan(p)
}

// newPlan validates a decoded plan.
func newPlan(p *substraitpb.Plan) (*Plan, error) {
	var root *substraitpb.RelRoot
	for i, r := range p.GetRelations() {
		if r.GetRoot() == nil {
			return nil, unsupported(fmt.Sprintf("relations[%d]", i), "PlanRel", "only a single root relation is supported (no shared or non-root relations)")
		}
		if root != nil {
			return nil, unsupported(fmt.Sprintf("relations[%d]", i), "RelRoot", "the plan has more than one root relation")
		}
		root = r.GetRoot()
	}
	if root == nil {
		return nil, malformed("relations", "", "the plan has no root relation")
	}
	if root.GetInput() == nil {
		return nil, malformed(rootPath, "RelRoot", "the root has no input relation")
	}
	coll, err := extensions.GetDefaultCollection()
	if err != nil {
		return nil, fmt.Errorf("fragment: loading substrait extensions: %w", err)
	}
	if err := checkExtensions(p, coll); err != nil {
		return nil, err
	}
	hdr := newHeader(p)
	t := newTree(root.GetInput(), rootPath)
	if err := checkStructure(t, hdr, false); err != nil {
		return nil, err
	}
	ty, err := newTyper(hdr)
	if err != nil {
		return nil, &Error{Kind: ErrUnsupported, Path: "extensions", Detail: "cannot resolve the plan's extensions", Cause: err}
	}
	if err := checkSemantics(t, ty); err != nil {
		return nil, err
	}
	schema, err := ty.schema(root.GetInput(), root.GetNames())
	if err != nil {
		return nil, &Error{Kind: ErrMalformedPlan, Path: "root", Rel: "RelRoot", Detail: "root names do not fit the output", Cause: err}
	}
	return &Plan{proto: p, root: root, hdr: hdr, tree: t, schema: schema}, nil
}
