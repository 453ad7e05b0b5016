package fragment

import (
	"strconv"
	"strings"
	"sync"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The walker visits relations generically through protobuf reflection, so every
// relation type of the Substrait version compiled in is covered, and paths are
// spelled with proto3 JSON field names: "root.input.aggregate.input.cross.left",
// "....filter.condition.scalarFunction.arguments[1].value.subquery.scalar.input".

// Full names of the messages the walker treats specially.
const (
	msgRel             = "substrait.Rel"
	msgSubquery        = "substrait.Expression.Subquery"
	msgFieldReference  = "substrait.Expression.FieldReference"
	msgScalarFunction  = "substrait.Expression.ScalarFunction"
	msgWindowFunction  = "substrait.Expression.WindowFunction"
	msgAggregateFunc   = "substrait.AggregateFunction"
	msgWindowRelFunc   = "substrait.ConsistentPartitionWindowRel.WindowRelFunction"
	msgAny             = "google.protobuf.Any"
	rootPath           = "root.input"
	subqueryScalar     = "scalar"
	subqueryInPred     = "inPredicate"
	subquerySetPred    = "setPredicate"
	subquerySetCompare = "setComparison"
)

// child is a relation directly below another one: a relational input, or the
// relation of a subquery expression.
type child struct {
	rel  *substraitpb.Rel
	path string
	// field is the input's field in its parent relation ("input", "left", "inputs[1]");
	// empty for a subquery.
	field string
	// subquery is the kind of subquery expression holding the relation ("scalar",
	// "inPredicate", "setPredicate", "setComparison"); empty for a relational input.
	subquery string
	// set replaces the relation in its parent.
	set func(*substraitpb.Rel)
}

// funcUse is one function invocation found in a relation's expressions.
type funcUse struct {
	anchor uint32
	kind   string // "scalar", "aggregate" or "window"
	path   string
}

// exprFacts are what a relation's own expressions contain (not counting the
// relations of its subqueries).
type exprFacts struct {
	// stepsOut is the largest outer reference depth (0: none).
	stepsOut uint32
	// window reports a window function expression.
	window bool
	// funcs lists the function invocations.
	funcs []funcUse
}

// relBody returns the message set in a Rel's rel_type oneof and its JSON name, e.g.
// (the AggregateRel, "aggregate"); nil when no type is set.
func relBody(r *substraitpb.Rel) (protoreflect.Message, string) {
	if r == nil {
		return nil, ""
	}
	m := r.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("rel_type"))
	if fd == nil {
		return nil, ""
	}
	return m.Get(fd).Message(), fd.JSONName()
}

// relName is the message name of r's type ("CrossRel"), or "Rel" when it has none.
func relName(r *substraitpb.Rel) string {
	body, _ := relBody(r)
	if body == nil {
		return "Rel"
	}
	return string(body.Descriptor().Name())
}

// relOp is the short operator name of r ("cross", "hashJoin"), or "?" when untyped.
func relOp(r *substraitpb.Rel) string {
	if _, op := relBody(r); op != "" {
		return op
	}
	return "?"
}

// scan lists the children of r (relational inputs and subquery relations, in field
// order) and the facts of r's own expressions. path is r's path.
func scan(r *substraitpb.Rel, path string) ([]child, exprFacts) {
	body, op := relBody(r)
	var s scanner
	if body == nil {
		return nil, s.facts
	}
	s.walk(body, path+"."+op, "", true)
	return s.children, s.facts
}

// scanner accumulates one scan.
type scanner struct {
	children []child
	facts    exprFacts
}

// walk visits the message fields of m in field-number order. top reports that m is the
// relation body itself, whose Rel fields are relational inputs.
func (s *scanner) walk(m protoreflect.Message, path, subquery string, top bool) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Message() == nil || fd.IsMap() || !mayHold(fd.Message()) || !m.Has(fd) {
			continue
		}
		name := fd.JSONName()
		if fd.IsList() {
			list := m.Get(fd).List()
			for j := 0; j < list.Len(); j++ {
				field := name + "[" + strconv.Itoa(j) + "]"
				s.visit(list.Get(j).Message(), path+"."+field, field, subquery, top, func(r *substraitpb.Rel) {
					list.Set(j, protoreflect.ValueOfMessage(r.ProtoReflect()))
				})
			}
			continue
		}
		s.visit(m.Get(fd).Message(), path+"."+name, name, subquery, top, func(r *substraitpb.Rel) {
			m.Set(fd, protoreflect.ValueOfMessage(r.ProtoReflect()))
		})
	}
}

// visit handles one message value found at path.
func (s *scanner) visit(m protoreflect.Message, path, field, subquery string, top bool, set func(*substraitpb.Rel)) {
	switch m.Descriptor().FullName() {
	case msgRel:
		rel, ok := m.Interface().(*substraitpb.Rel)
		if !ok {
			return
		}
		c := child{rel: rel, path: path, set: set}
		switch {
		case top:
			c.field = field
		case subquery != "":
			c.subquery = subquery
		default:
			c.subquery = "nested"
		}
		s.children = append(s.children, c)
		return
	case msgAny:
		return
	case msgSubquery:
		if fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("subquery_type")); fd != nil {
			subquery = fd.JSONName()
		}
	case msgFieldReference:
		if ref, ok := m.Interface().(*substraitpb.Expression_FieldReference); ok {
			if o := ref.GetOuterReference(); o != nil && o.GetStepsOut() > s.facts.stepsOut {
				s.facts.stepsOut = o.GetStepsOut()
			}
		}
	case msgScalarFunction:
		s.use(m, "scalar", path)
	case msgAggregateFunc:
		s.use(m, "aggregate", path)
	case msgWindowFunction, msgWindowRelFunc:
		s.facts.window = true
		s.use(m, "window", path)
	}
	s.walk(m, path, subquery, false)
}

// visited are the messages visit acts on; the walker descends into the others only to
// find these.
var visited = []protoreflect.FullName{msgRel, msgSubquery, msgFieldReference, msgScalarFunction, msgAggregateFunc, msgWindowFunction, msgWindowRelFunc}

var (
	holdersOnce sync.Once
	holders     map[protoreflect.MessageDescriptor]bool // keyed by identity: no name hashing
)

// mayHold reports whether a message of type md can contain, at any depth, a message visit
// acts on. The walker skips the others (types, literals, schemas), which are most of a
// plan's messages. A type outside the relation's closure may hold anything.
func mayHold(md protoreflect.MessageDescriptor) bool {
	holdersOnce.Do(func() { holders = findHolders((&substraitpb.Rel{}).ProtoReflect().Descriptor()) })
	hold, known := holders[md]
	return hold || !known
}

// findHolders maps every message type reachable from root to whether it is, or can
// contain, one of the visited messages (google.protobuf.Any is opaque: visit stops there).
func findHolders(root protoreflect.MessageDescriptor) map[protoreflect.MessageDescriptor]bool {
	all := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	queue := []protoreflect.MessageDescriptor{root}
	for len(queue) > 0 {
		md := queue[0]
		queue = queue[1:]
		if _, seen := all[md.FullName()]; seen {
			continue
		}
		all[md.FullName()] = md
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			if fm := fields.Get(i).Message(); fm != nil {
				queue = append(queue, fm)
			}
		}
	}
	hold := make(map[protoreflect.FullName]bool, len(all))
	for _, name := range visited {
		hold[name] = true
	}
	// A holder's containers are holders: repeat until nothing changes.
	for changed := true; changed; {
		changed = false
		for name, md := range all {
			if hold[name] || name == msgAny {
				continue
			}
			fields := md.Fields()
			for i := 0; i < fields.Len(); i++ {
				if fm := fields.Get(i).Message(); fm != nil && hold[fm.FullName()] {
					hold[name], changed = true, true
					break
				}
			}
		}
	}
	byDescriptor := make(map[protoreflect.MessageDescriptor]bool, len(all))
	for name, md := range all {
		byDescriptor[md] = hold[name]
	}
	return byDescriptor
}

// use records a function invocation (every function message has function_reference).
func (s *scanner) use(m protoreflect.Message, kind, path string) {
	fd := m.Descriptor().Fields().ByName("function_reference")
	if fd == nil {
		return
	}
	s.facts.funcs = append(s.facts.funcs, funcUse{anchor: uint32(m.Get(fd).Uint()), kind: kind, path: path})
}

// forEachRel calls fn for r and every relation below it (inputs and subqueries), in
// pre-order. fn returns false to skip a relation's children.
func forEachRel(r *substraitpb.Rel, path string, fn func(r *substraitpb.Rel, path string) bool) {
	if !fn(r, path) {
		return
	}
	children, _ := scan(r, path)
	for _, c := range children {
		forEachRel(c.rel, c.path, fn)
	}
}

// replaceAt replaces the relation at target, a path below r (whose path is path), and
// reports whether it was found.
func replaceAt(r *substraitpb.Rel, path, target string, with *substraitpb.Rel) bool {
	children, _ := scan(r, path)
	for _, c := range children {
		if c.path == target {
			c.set(with)
			return true
		}
		if strings.HasPrefix(target, c.path+".") && replaceAt(c.rel, c.path, target, with) {
			return true
		}
	}
	return false
}
