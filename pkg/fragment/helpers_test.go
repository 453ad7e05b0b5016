package fragment

import (
	"flag"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/pkg/shareddata"
	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// tpchQueries are the TPC-H queries Isthmus has plans for.
var tpchQueries = shareddata.TPCHPlans

// planJSON reads the Isthmus plan of query q ("q01").
func planJSON(t testing.TB, q string) []byte {
	t.Helper()
	return shareddata.IsthmusPlan(t, q)
}

var (
	parsedOnce sync.Map // query → *Plan
)

// parsed parses the Isthmus plan of q once per test binary.
func parsed(t testing.TB, q string) *Plan {
	t.Helper()
	if p, ok := parsedOnce.Load(q); ok {
		return p.(*Plan)
	}
	p, err := Parse(planJSON(t, q), ContentTypeJSON)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	parsedOnce.Store(q, p)
	return p
}

// cut cuts q's plan with the given partitions.
func cut(t testing.TB, q string, partitions map[string]int) *DAG {
	t.Helper()
	d, err := Cut(parsed(t, q), Options{QueryID: q, Partitions: partitions})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return d
}

// legacyBinary encodes p as a pre-URN producer would: extension URIs in Plan field 1
// and URI references in field 1 of each declaration, with no URN fields.
func legacyBinary(t testing.TB, p *substraitpb.Plan) []byte {
	t.Helper()
	p = proto.CloneOf(p)
	var unknown []byte
	for _, u := range p.GetExtensionUrns() {
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.VarintType)
		entry = protowire.AppendVarint(entry, uint64(u.GetExtensionUrnAnchor()))
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendString(entry, "https://github.com/substrait-io/substrait/blob/main/extensions/"+u.GetUrn()[len("extension:io.substrait:"):]+".yaml")
		unknown = protowire.AppendTag(unknown, 1, protowire.BytesType)
		unknown = protowire.AppendBytes(unknown, entry)
	}
	p.ExtensionUrns = nil
	p.ProtoReflect().SetUnknown(unknown)
	for _, d := range p.GetExtensions() {
		f := d.GetExtensionFunction()
		if f == nil {
			t.Fatalf("unexpected declaration %v", d)
		}
		var ref []byte
		ref = protowire.AppendTag(ref, 1, protowire.VarintType)
		ref = protowire.AppendVarint(ref, uint64(f.GetExtensionUrnReference()))
		f.ExtensionUrnReference = 0
		f.ProtoReflect().SetUnknown(ref)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inline substitutes every placeholder read in r by the relation of the fragment it
// names, recursively, rebuilding the original plan from an unpartitioned DAG.
func inline(t testing.TB, d *DAG, r *substraitpb.Rel) *substraitpb.Rel {
	t.Helper()
	if id, ok := placeholderID(r); ok {
		f, found := d.Fragment(id)
		if !found {
			t.Fatalf("placeholder names unknown fragment %s", id)
		}
		return inline(t, d, f.Rel)
	}
	r = proto.CloneOf(r)
	children, _ := scan(r, "")
	for _, c := range children {
		c.set(inline(t, d, c.rel))
	}
	return r
}

// placeholderID returns the fragment a placeholder read names.
func placeholderID(r *substraitpb.Rel) (string, bool) {
	names := r.GetRead().GetNamedTable().GetNames()
	if len(names) == 2 && names[0] == PlaceholderTable {
		return names[1], true
	}
	return "", false
}

// placeholders lists the fragment IDs a relation reads, in plan order.
func placeholders(r *substraitpb.Rel) []string {
	var ids []string
	forEachRel(r, "", func(r *substraitpb.Rel, _ string) bool {
		if id, ok := placeholderID(r); ok {
			ids = append(ids, id)
		}
		return true
	})
	return ids
}

// countRels counts the relations of r that are not placeholder reads.
func countRels(r *substraitpb.Rel) int {
	n := 0
	forEachRel(r, "", func(r *substraitpb.Rel, _ string) bool {
		if _, ok := placeholderID(r); !ok {
			n++
		}
		return true
	})
	return n
}

// sameSchema compares names and types.
func sameSchema(a, b types.NamedStruct) bool {
	return slices.Equal(a.Names, b.Names) && a.Struct.Equals(&b.Struct)
}
