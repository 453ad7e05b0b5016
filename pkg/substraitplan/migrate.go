package substraitplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	extpb "github.com/substrait-io/substrait-protobuf/go/substraitpb/extensions"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Substrait renamed extension URIs to URNs. Plans from older producers (Isthmus among
// them) still carry Plan.extension_uris (field 1, now reserved) and, on every
// declaration, extension_uri_reference (field 1, now reserved). substrait-go v8 only
// resolves URNs, so Parse rewrites the legacy fields first: each URI
// ".../functions_x.yaml" becomes the URN "extension:io.substrait:functions_x".

// legacyURI is one entry of the legacy Plan.extension_uris list.
type legacyURI struct {
	anchor uint32
	uri    string
}

// urnForURI maps a legacy extension URI to the URN of the same standard extension.
func urnForURI(uri string) string {
	base := uri
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	base = path.Base(base)
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	return extensions.SubstraitDefaultURNPrefix + base
}

// urnAnchors assigns a URN anchor to every legacy URI anchor. It reuses the anchor of
// a URN the plan already declares, keeps the legacy number when it is free, and
// otherwise takes the next free number. added lists the URN entries to declare.
func urnAnchors(existing map[uint32]string, legacy []legacyURI) (remap map[uint32]uint32, added []legacyURI, err error) {
	byURN := map[string]uint32{}
	var next uint32
	for a, urn := range existing {
		if old, ok := byURN[urn]; !ok || a < old {
			byURN[urn] = a
		}
		if a >= next {
			next = a + 1
		}
	}
	for _, l := range legacy {
		if l.anchor >= next {
			next = l.anchor + 1
		}
	}
	remap = map[uint32]uint32{}
	used := map[uint32]bool{}
	for a := range existing {
		used[a] = true
	}
	for _, l := range legacy {
		if _, dup := remap[l.anchor]; dup {
			return nil, nil, malformed("extensionUris", "extension URI anchor %d declared twice", l.anchor)
		}
		urn := urnForURI(l.uri)
		if a, ok := byURN[urn]; ok {
			remap[l.anchor] = a
			continue
		}
		a := l.anchor
		if used[a] {
			a = next
			next++
		}
		used[a] = true
		byURN[urn] = a
		remap[l.anchor] = a
		added = append(added, legacyURI{anchor: a, uri: urn})
	}
	return remap, added, nil
}

// declKeys are the JSON names of the three declaration kinds, in both spellings
// protojson accepts.
var declKeys = []string{
	"extensionFunction", "extension_function",
	"extensionType", "extension_type",
	"extensionTypeVariation", "extension_type_variation",
}

// migrateJSON rewrites the legacy URI fields of a proto3 JSON plan into URN fields.
// Plans without legacy fields are returned unchanged.
func migrateJSON(data []byte) ([]byte, error) {
	if !bytes.Contains(data, []byte("xtensionUri")) && !bytes.Contains(data, []byte("xtension_uri")) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, &Error{Kind: ErrMalformed, Detail: "invalid JSON", Cause: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("", "trailing data after the JSON plan")
	}
	legacy, err := jsonLegacyURIs(top)
	if err != nil {
		return nil, err
	}
	existing, urnKey, err := jsonURNs(top)
	if err != nil {
		return nil, err
	}
	remap, added, err := urnAnchors(existing, legacy)
	if err != nil {
		return nil, err
	}
	list, _ := top[urnKey].([]any)
	for _, a := range added {
		list = append(list, map[string]any{"extensionUrnAnchor": a.anchor, "urn": a.uri})
	}
	if len(list) > 0 {
		top[urnKey] = list
	}
	decls, _ := top["extensions"].([]any)
	for i, d := range decls {
		obj, _ := d.(map[string]any)
		for _, k := range declKeys {
			inner, ok := obj[k].(map[string]any)
			if !ok {
				continue
			}
			if err := jsonMigrateDecl(inner, remap, i); err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(top)
}

// jsonLegacyURIs removes and returns the legacy extensionUris list.
func jsonLegacyURIs(top map[string]any) ([]legacyURI, error) {
	var out []legacyURI
	for _, key := range []string{"extensionUris", "extension_uris"} {
		raw, ok := top[key]
		if !ok {
			continue
		}
		delete(top, key)
		list, ok := raw.([]any)
		if !ok && raw != nil {
			return nil, malformed(key, "want a list")
		}
		for i, e := range list {
			obj, ok := e.(map[string]any)
			if !ok {
				return nil, malformed(fmt.Sprintf("%s[%d]", key, i), "want an object")
			}
			anchor, err := jsonUint32(obj, "extensionUriAnchor", "extension_uri_anchor")
			if err != nil {
				return nil, malformed(fmt.Sprintf("%s[%d]", key, i), "%v", err)
			}
			uri, _ := obj["uri"].(string)
			out = append(out, legacyURI{anchor: anchor, uri: uri})
		}
	}
	return out, nil
}

// jsonURNs reads the URN anchors the plan already declares and the key they live under.
func jsonURNs(top map[string]any) (map[uint32]string, string, error) {
	key := "extensionUrns"
	if _, ok := top["extension_urns"]; ok {
		key = "extension_urns"
	}
	out := map[uint32]string{}
	list, _ := top[key].([]any)
	for i, e := range list {
		obj, _ := e.(map[string]any)
		anchor, err := jsonUint32(obj, "extensionUrnAnchor", "extension_urn_anchor")
		if err != nil {
			return nil, "", malformed(fmt.Sprintf("%s[%d]", key, i), "%v", err)
		}
		urn, _ := obj["urn"].(string)
		out[anchor] = urn
	}
	return out, key, nil
}

// jsonMigrateDecl replaces a declaration's extensionUriReference by the URN anchor.
func jsonMigrateDecl(inner map[string]any, remap map[uint32]uint32, i int) error {
	for _, k := range []string{"extensionUriReference", "extension_uri_reference"} {
		if _, ok := inner[k]; !ok {
			continue
		}
		ref, err := jsonUint32(inner, k)
		delete(inner, k)
		if err != nil {
			return malformed(fmt.Sprintf("extensions[%d]", i), "%v", err)
		}
		if _, has := inner["extensionUrnReference"]; has {
			continue
		}
		if _, has := inner["extension_urn_reference"]; has {
			continue
		}
		a, ok := remap[ref]
		if !ok {
			return malformed(fmt.Sprintf("extensions[%d]", i), "extension URI reference %d is not declared", ref)
		}
		inner["extensionUrnReference"] = a
	}
	return nil
}

// jsonUint32 reads a uint32 that proto3 JSON may spell as a number or a string; a
// missing key is 0.
func jsonUint32(obj map[string]any, keys ...string) (uint32, error) {
	for _, k := range keys {
		switch v := obj[k].(type) {
		case nil:
			continue
		case json.Number:
			return parseUint32(k, v.String())
		case string:
			return parseUint32(k, v)
		default:
			return 0, fmt.Errorf("%s: want an unsigned integer", k)
		}
	}
	return 0, nil
}

func parseUint32(key, s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: want an unsigned 32-bit integer, got %q", key, s)
	}
	return uint32(n), nil
}

// migrateBinary rewrites the legacy URI fields of a binary plan, which protobuf-go
// keeps as unknown fields, into URN fields.
func migrateBinary(p *substraitpb.Plan) error {
	m := p.ProtoReflect()
	var legacy []legacyURI
	rest, err := takeUnknown(m, func(typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return malformed("extensionUris", "want a message")
		}
		l, err := decodeLegacyURI(v)
		legacy = append(legacy, l)
		return err
	})
	if err != nil {
		return err
	}
	m.SetUnknown(rest)
	existing := map[uint32]string{}
	for _, u := range p.GetExtensionUrns() {
		existing[u.GetExtensionUrnAnchor()] = u.GetUrn()
	}
	remap, added, err := urnAnchors(existing, legacy)
	if err != nil {
		return err
	}
	for _, a := range added {
		p.ExtensionUrns = append(p.ExtensionUrns, &extpb.SimpleExtensionURN{ExtensionUrnAnchor: a.anchor, Urn: a.uri})
	}
	for i, d := range p.GetExtensions() {
		if d == nil {
			continue
		}
		if err := migrateBinaryDecl(d.ProtoReflect(), remap, i); err != nil {
			return err
		}
	}
	return nil
}

// migrateBinaryDecl moves the legacy URI reference of one declaration (the message set
// in its mapping_type oneof) to its URN reference.
func migrateBinaryDecl(d protoreflect.Message, remap map[uint32]uint32, i int) error {
	od := d.Descriptor().Oneofs().ByName("mapping_type")
	fd := d.WhichOneof(od)
	if fd == nil {
		return nil
	}
	inner := d.Get(fd).Message()
	var ref uint32
	found := false
	rest, err := takeUnknown(inner, func(typ protowire.Type, v []byte) error {
		n, k := protowire.ConsumeVarint(v)
		if typ != protowire.VarintType || k < 0 || n > 1<<32-1 {
			return malformed(fmt.Sprintf("extensions[%d]", i), "invalid extension URI reference")
		}
		ref, found = uint32(n), true
		return nil
	})
	if err != nil {
		return err
	}
	inner.SetUnknown(rest)
	urnField := inner.Descriptor().Fields().ByName("extension_urn_reference")
	if !found || urnField == nil || inner.Get(urnField).Uint() != 0 {
		return nil
	}
	a, ok := remap[ref]
	if !ok {
		return malformed(fmt.Sprintf("extensions[%d]", i), "extension URI reference %d is not declared", ref)
	}
	inner.Set(urnField, protoreflect.ValueOfUint32(a))
	return nil
}

// takeUnknown removes every unknown field number 1 from m, passing each value (the
// raw varint or the length-delimited payload) to fn, and returns the other unknown
// bytes.
func takeUnknown(m protoreflect.Message, fn func(protowire.Type, []byte) error) ([]byte, error) {
	b := m.GetUnknown()
	var rest []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, malformed("", "corrupt unknown fields")
		}
		flen := protowire.ConsumeFieldValue(num, typ, b[n:])
		if flen < 0 {
			return nil, malformed("", "corrupt unknown fields")
		}
		field, val := b[:n+flen], b[n:n+flen]
		b = b[n+flen:]
		if num != 1 {
			rest = append(rest, field...)
			continue
		}
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(val)
			if k < 0 {
				return nil, malformed("", "corrupt unknown fields")
			}
			val = v
		}
		if err := fn(typ, val); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// decodeLegacyURI decodes SimpleExtensionURI{extension_uri_anchor = 1, uri = 2}.
func decodeLegacyURI(b []byte) (legacyURI, error) {
	var l legacyURI
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return l, malformed("extensionUris", "corrupt extension URI")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, k := protowire.ConsumeVarint(b)
			if k < 0 || v > 1<<32-1 {
				return l, malformed("extensionUris", "corrupt extension URI anchor")
			}
			l.anchor, b = uint32(v), b[k:]
		case num == 2 && typ == protowire.BytesType:
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return l, malformed("extensionUris", "corrupt extension URI")
			}
			l.uri, b = string(v), b[k:]
		default:
			k := protowire.ConsumeFieldValue(num, typ, b)
			if k < 0 {
				return l, malformed("extensionUris", "corrupt extension URI")
			}
			b = b[k:]
		}
	}
	return l, nil
}
