package fragment

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// logical is one cut point of the plan: a fragment before partition fan-out.
type logical struct {
	node    *node
	id      string
	kind    Kind
	reasons []string
	notes   []string
	// parts > 1 fans the fragment out over the partitions of scan's table.
	parts int
	scan  *node
	// partial: each partition instance computes this split's partial aggregate.
	partial *aggSplit
	// final: this aggregate merges the partials of its input.
	final *aggSplit
	// outputs are the fragment IDs a consumer reads (one, or one per partition).
	outputs []string
	schema  types.NamedStruct
	built   bool
}

// suppressed is a breaker that was not cut because its subtree is correlated.
type suppressed struct {
	node   *node
	reason string
}

// cutter is the state of one Cut.
type cutter struct {
	plan       *Plan
	opts       options
	tree       *tree
	hdr        *header
	ty         *typer
	cuts       map[*node]*logical
	suppressed []suppressed
	dag        *DAG
	est        *estimator
}

// Cut cuts a parsed plan into a DAG of fragments at its pipeline breakers (see
// README.md). It does not modify plan. Errors wrap ErrInvalidOption for bad options,
// or ErrUnsupported when a fragment cannot be typed on its own.
func Cut(plan *Plan, opts Options) (*DAG, error) {
	o, err := opts.validate()
	if err != nil {
		return nil, err
	}
	if plan == nil {
		return nil, fmt.Errorf("%w: nil plan", ErrInvalidOption)
	}
	c := &cutter{
		plan: plan,
		opts: o,
		tree: plan.tree,
		hdr:  plan.hdr.clone(),
		cuts: map[*node]*logical{},
		dag:  &DAG{QueryID: o.queryID, byID: map[string]*Fragment{}},
	}
	c.markBreakers()
	c.markPartitions()
	c.number()
	c.attachNotes()
	if c.ty, err = newTyper(c.hdr); err != nil {
		return nil, &Error{Kind: ErrUnsupported, Path: "extensions", Detail: "cannot resolve the fragments' extensions", Cause: err}
	}
	c.dag.hdr = c.hdr
	c.est = &estimator{opts: o, hdr: c.hdr, known: map[string]float64{}}
	if err := c.build(c.cuts[c.tree.root]); err != nil {
		return nil, err
	}
	return c.dag, nil
}

// markBreakers makes the root and every closed pipeline breaker a cut point.
func (c *cutter) markBreakers() {
	for _, n := range c.tree.nodes {
		if n == c.tree.root {
			c.cuts[n] = &logical{node: n, kind: KindRoot, reasons: []string{"query result"}, parts: 1}
			if _, why := breaker(n); why != "" {
				c.cuts[n].reasons = append(c.cuts[n].reasons, why)
			}
			continue
		}
		kind, why := breaker(n)
		if kind == KindUnspecified {
			continue
		}
		if !n.closed() {
			c.suppressed = append(c.suppressed, suppressed{node: n, reason: why})
			continue
		}
		c.cuts[n] = &logical{node: n, kind: kind, reasons: []string{why}, parts: 1}
	}
}

// number gives every cut point its ID, in plan pre-order (the root is f0).
func (c *cutter) number() {
	i := 0
	for _, n := range c.tree.nodes {
		if l := c.cuts[n]; l != nil {
			l.id = fmt.Sprintf("%s_f%d", c.opts.queryID, i)
			i++
		}
	}
}

// attachNotes tells the fragment holding each suppressed breaker why it stayed
// inline; a breaker inside another suppressed one is covered by the outer note.
func (c *cutter) attachNotes() {
	inSuppressed := map[*node]bool{}
	for _, s := range c.suppressed {
		inSuppressed[s.node] = true
	}
	for _, s := range c.suppressed {
		owner := s.node.parent
		covered := false
		for c.cuts[owner] == nil {
			covered = covered || inSuppressed[owner]
			owner = owner.parent
		}
		if covered {
			continue
		}
		l := c.cuts[owner]
		l.notes = append(l.notes, fmt.Sprintf("not cut at %s (%s): correlated, its outer references reach %d level(s) up, so it runs inside this fragment", s.node.path, s.reason, s.node.need))
	}
}

// build builds l's fragments after the fragments they depend on.
func (c *cutter) build(l *logical) error {
	if l.built {
		return nil
	}
	l.built = true
	rel := proto.CloneOf(l.node.rel)
	var deps []string
	if err := c.replaceCuts(rel, l.node.path, &deps); err != nil {
		return err
	}
	if l.parts > 1 {
		return c.buildPartitions(l, rel, deps)
	}
	return c.buildSingle(l, rel, deps)
}

// replaceCuts replaces every cut point below r (a copy of the relation at path) by a
// placeholder read of its fragments, building them first.
func (c *cutter) replaceCuts(r *substraitpb.Rel, path string, deps *[]string) error {
	children, _ := scan(r, path)
	for _, ch := range children {
		n := c.tree.byPath[ch.path]
		if n == nil {
			return fmt.Errorf("fragment: internal error: no relation at %s", ch.path)
		}
		l := c.cuts[n]
		if l == nil {
			if err := c.replaceCuts(ch.rel, ch.path, deps); err != nil {
				return err
			}
			continue
		}
		if err := c.build(l); err != nil {
			return err
		}
		ch.set(placeholder(l))
		*deps = append(*deps, l.outputs...)
	}
	return nil
}

// buildSingle emits the one fragment of an unpartitioned cut point.
func (c *cutter) buildSingle(l *logical, rel *substraitpb.Rel, deps []string) error {
	var columns []string
	if l.final != nil {
		// Name the merged output like the aggregate it replaces.
		columns = columnNames(l.node.rel, c.hdr)
		rel = l.final.finalRel(rel.GetAggregate().GetInput())
	}
	var rootNames []string
	if l.node == c.tree.root {
		rootNames = c.plan.root.GetNames()
	}
	schema, err := c.ty.schemaNamed(rel, rootNames, columns)
	if err != nil {
		return &Error{Kind: ErrUnsupported, Path: l.node.path, Rel: relName(l.node.rel), Detail: "the fragment cannot be typed on its own", Cause: err}
	}
	f := &Fragment{
		ID: l.id, Kind: l.kind, Reason: strings.Join(l.reasons, "; "), Path: l.node.path,
		Rel: rel, Schema: schema, Deps: deps, Notes: l.notes,
	}
	f.Cost = c.est.estimate(rel)
	c.est.known[f.ID] = f.Cost.Rows
	l.outputs, l.schema = []string{f.ID}, schema
	c.dag.add(f)
	return nil
}

// placeholder reads the outputs of l: one placeholder read, or a UNION ALL of one per
// partition.
func placeholder(l *logical) *substraitpb.Rel {
	reads := make([]*substraitpb.Rel, len(l.outputs))
	for i, id := range l.outputs {
		reads[i] = &substraitpb.Rel{RelType: &substraitpb.Rel_Read{Read: &substraitpb.ReadRel{
			Common:     directCommon(),
			BaseSchema: l.schema.ToProto(),
			ReadType: &substraitpb.ReadRel_NamedTable_{NamedTable: &substraitpb.ReadRel_NamedTable{
				Names: []string{PlaceholderTable, id},
			}},
		}}}
	}
	if len(reads) == 1 {
		return reads[0]
	}
	return &substraitpb.Rel{RelType: &substraitpb.Rel_Set{Set: &substraitpb.SetRel{
		Common: directCommon(),
		Inputs: reads,
		Op:     substraitpb.SetRel_SET_OP_UNION_ALL,
	}}}
}
