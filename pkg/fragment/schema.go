package fragment

import (
	"fmt"

	"github.com/substrait-io/substrait-go/v8/expr"
	"github.com/substrait-io/substrait-go/v8/plan"
	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// typer derives output types with substrait-go, which also checks that a relation
// (and so every fragment) is a valid Substrait relation on its own.
type typer struct {
	reg expr.ExtensionRegistry
	hdr *header
}

// newTyper resolves h's extensions.
func newTyper(h *header) (*typer, error) {
	reg, err := h.registry()
	if err != nil {
		return nil, err
	}
	return &typer{reg: reg, hdr: h}, nil
}

// recordType converts r with substrait-go (after lowering the relations it does not
// implement) and returns r's output column types. substrait-go panics on some
// malformed input; a panic becomes an error.
func (t *typer) recordType(r *substraitpb.Rel) (rt []types.Type, err error) {
	defer func() {
		if v := recover(); v != nil {
			rt, err = nil, fmt.Errorf("substrait-go panicked: %v", v)
		}
	}()
	if needsLowering(r) {
		r = lower(proto.CloneOf(r))
	}
	rel, err := plan.RelFromProto(r, t.reg)
	if err != nil {
		return nil, err
	}
	return rel.RecordType().Types(), nil
}

// schema names and types r's output. rootNames, when not nil, are the plan root's
// depth-first names, which the root fragment keeps.
func (t *typer) schema(r *substraitpb.Rel, rootNames []string) (types.NamedStruct, error) {
	return t.schemaNamed(r, rootNames, nil)
}

// schemaNamed is schema with top-level column names to use instead of derived ones
// (they are ignored when they do not fit).
func (t *typer) schemaNamed(r *substraitpb.Rel, rootNames, columns []string) (types.NamedStruct, error) {
	ts, err := t.recordType(r)
	if err != nil {
		return types.NamedStruct{}, err
	}
	for i, ty := range ts {
		if ty == nil {
			return types.NamedStruct{}, fmt.Errorf("the type of output column %d cannot be derived", i)
		}
	}
	if rootNames != nil {
		ns := types.NamedStruct{Names: rootNames, Struct: types.StructType{Nullability: types.NullabilityRequired, Types: ts}}
		if got := ns.Struct.DepthFirstNameCount(); got != len(rootNames) {
			return types.NamedStruct{}, fmt.Errorf("root has %d names but its output needs %d", len(rootNames), got)
		}
		return ns, nil
	}
	if len(columns) != len(ts) {
		columns = columnNames(r, t.hdr)
	}
	return namedStruct(columns, ts), nil
}
