package fragment

import (
	"errors"
	"fmt"
	"strings"

	substraitgo "github.com/substrait-io/substrait-go/v8"
	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// Placeholder and partition reads use reserved table names. A client plan naming
// them could read another query's intermediate results, so Parse rejects them.
const (
	// PlaceholderTable is the first name of a placeholder read: the named table
	// [PlaceholderTable, <fragment ID>] is the output of that fragment.
	PlaceholderTable = "__sluice_fragment"
	// PartitionTable is the first name of a partition read: the named table
	// [PartitionTable, <index>, <count>, <table names>...] is partition index (0-based)
	// of count of the table.
	PartitionTable = "__sluice_partition"
	// reservedPrefix starts every reserved table name.
	reservedPrefix = "__sluice_"
)

// unsupportedReason says why r's relation type cannot be fragmented, or "" when it
// can.
func unsupportedReason(r *substraitpb.Rel) string {
	switch r.GetRelType().(type) {
	case *substraitpb.Rel_Read, *substraitpb.Rel_Filter, *substraitpb.Rel_Fetch, *substraitpb.Rel_Aggregate,
		*substraitpb.Rel_Sort, *substraitpb.Rel_Join, *substraitpb.Rel_Project, *substraitpb.Rel_Set,
		*substraitpb.Rel_Cross, *substraitpb.Rel_HashJoin, *substraitpb.Rel_MergeJoin,
		*substraitpb.Rel_NestedLoopJoin, *substraitpb.Rel_Window, *substraitpb.Rel_Exchange:
		return ""
	case *substraitpb.Rel_ExtensionSingle, *substraitpb.Rel_ExtensionMulti, *substraitpb.Rel_ExtensionLeaf:
		return "an opaque extension relation can be neither typed nor classified as a pipeline breaker"
	case *substraitpb.Rel_Reference:
		return "shared subtrees (ReferenceRel) are not supported; inline the referenced relation"
	case *substraitpb.Rel_Write, *substraitpb.Rel_Ddl, *substraitpb.Rel_Update:
		return "only queries are fragmented, not writes, updates or DDL"
	case *substraitpb.Rel_Expand:
		return "ExpandRel is not implemented by substrait-go v8, so its output cannot be typed"
	}
	return "unknown relation type"
}

// checkStructure checks what substrait-go does not, or reports badly: relation types,
// required inputs, reads, reserved names (unless allowReserved, for fragment plans) and
// declared functions.
func checkStructure(t *tree, h *header, allowReserved bool) error {
	for _, n := range t.nodes {
		body, _ := relBody(n.rel)
		if body == nil {
			return malformed(n.path, "Rel", "relation has no type (empty, or unknown to this Substrait version)")
		}
		name := relName(n.rel)
		if why := unsupportedReason(n.rel); why != "" {
			return unsupported(n.path, name, "%s", why)
		}
		fields := body.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if fd.Message() != nil && fd.Message().FullName() == msgRel && !fd.IsList() && !body.Has(fd) {
				return malformed(n.path, name, "missing %s input", fd.JSONName())
			}
		}
		if s := n.rel.GetSet(); s != nil && len(s.GetInputs()) < 2 {
			return malformed(n.path, name, "a set operation needs at least 2 inputs, got %d", len(s.GetInputs()))
		}
		if r := n.rel.GetRead(); r != nil {
			if err := checkRead(n.path, r, allowReserved); err != nil {
				return err
			}
		}
		for _, f := range n.facts.funcs {
			if h.funcName(f.anchor) == "" {
				return malformed(f.path, name, "%s function anchor %d is not declared in the plan's extensions", f.kind, f.anchor)
			}
		}
	}
	return nil
}

// checkRead checks that a read has a schema, a source and, unless allowReserved, no
// reserved table name.
func checkRead(path string, r *substraitpb.ReadRel, allowReserved bool) error {
	if r.GetBaseSchema().GetStruct() == nil {
		return malformed(path, "ReadRel", "missing base schema")
	}
	if r.GetReadType() == nil {
		return malformed(path, "ReadRel", "missing read type (named table, files, virtual table, ...)")
	}
	if nt := r.GetNamedTable(); nt != nil {
		if len(nt.GetNames()) == 0 {
			return malformed(path, "ReadRel", "named table without a name")
		}
		for _, name := range nt.GetNames() {
			if !allowReserved && strings.HasPrefix(strings.ToLower(name), reservedPrefix) {
				return unsupported(path, "ReadRel", "table name %q is reserved for Sluice's fragments", name)
			}
		}
	}
	return nil
}

// checkExtensions checks that every declaration points at a declared URN that the
// default extension collection knows.
func checkExtensions(p *substraitpb.Plan, coll *extensions.Collection) error {
	urns := map[uint32]string{}
	for _, u := range p.GetExtensionUrns() {
		urns[u.GetExtensionUrnAnchor()] = u.GetUrn()
	}
	for i, d := range p.GetExtensions() {
		var ref uint32
		var what string
		switch {
		case d.GetExtensionFunction() != nil:
			ref, what = d.GetExtensionFunction().GetExtensionUrnReference(), "function "+quote(d.GetExtensionFunction().GetName())
		case d.GetExtensionType() != nil:
			ref, what = d.GetExtensionType().GetExtensionUrnReference(), "type "+quote(d.GetExtensionType().GetName())
		case d.GetExtensionTypeVariation() != nil:
			ref, what = d.GetExtensionTypeVariation().GetExtensionUrnReference(), "type variation "+quote(d.GetExtensionTypeVariation().GetName())
		default:
			return malformed(fmt.Sprintf("extensions[%d]", i), "", "empty extension declaration")
		}
		if f := d.GetExtensionFunction(); f != nil && !validSignature(f.GetName()) {
			return malformed(fmt.Sprintf("extensions[%d]", i), "", "%s has an invalid signature (want name:arg_arg with type short names)", what)
		}
		urn, ok := urns[ref]
		if !ok {
			return malformed(fmt.Sprintf("extensions[%d]", i), "", "%s references undeclared extension URN anchor %d", what, ref)
		}
		if !coll.URNLoaded(urn) {
			return unsupported(fmt.Sprintf("extensions[%d]", i), "", "%s comes from extension %q, which substrait-go's default collection does not know", what, urn)
		}
	}
	return nil
}

// validSignature reports whether a compound function name's signature uses only
// type short names ("i64", "dec", "u!point", "any1"). substrait-go's type parser
// prints to stderr and panics on others, such as "and:bool?".
func validSignature(compound string) bool {
	i := strings.IndexByte(compound, ':')
	if i < 0 {
		return compound != ""
	}
	if i == 0 {
		return false
	}
	for _, c := range compound[i+1:] {
		if c != '_' && c != '!' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// checkSemantics converts the tree with substrait-go and, on failure, finds the
// innermost relation that fails.
func checkSemantics(t *tree, ty *typer) error {
	if _, err := ty.recordType(t.root.rel); err != nil {
		return locate(t.root, ty, err)
	}
	return nil
}

// locate descends to the deepest failing relation below n, which fails with err.
func locate(n *node, ty *typer, err error) error {
	for _, c := range n.children {
		if _, cerr := ty.recordType(c.rel); cerr != nil {
			return locate(c, ty, cerr)
		}
	}
	kind := ErrMalformedPlan
	if errors.Is(err, substraitgo.ErrNotImplemented) || errors.Is(err, substraitgo.ErrNotFound) {
		kind = ErrUnsupported
	}
	return &Error{Kind: kind, Path: n.path, Rel: relName(n.rel), Detail: "substrait-go rejects the relation", Cause: err}
}

// quote quotes s for an error message.
func quote(s string) string { return fmt.Sprintf("%q", s) }
