package fragment

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// Intra-operator parallelism. A read of a table with p > 1 partitions starts a scan
// pipeline: the read and the filters and projects streaming directly above it, up to
// the first relation that is a cut point, is not a filter or project, holds window
// functions, or refers to an outer query. That pipeline becomes a cut point fanned
// out into p partition fragments, each reading [PartitionTable, i, p, <table>...]
// instead of the table; consumers read their UNION ALL. When the pipeline feeds an
// aggregate whose measures decompose, each partition also computes a partial
// aggregate and the aggregate fragment merges them (see decompose.go). The plan root
// never fans out, and a bare read fans out only when it already is a cut point or
// feeds a split aggregate, since copying a table buys nothing.

// markPartitions finds the scan pipelines of partitioned tables.
func (c *cutter) markPartitions() {
	for _, n := range c.tree.nodes {
		read := n.rel.GetRead()
		if read == nil || read.GetNamedTable() == nil {
			continue
		}
		names := read.GetNamedTable().GetNames()
		p := c.opts.partitionsOf(names)
		if p <= 1 {
			continue
		}
		top := scanPipeline(n, c.tree.root, c.cuts)
		table := strings.Join(names, ".")
		if top == c.tree.root {
			c.cuts[top].notes = append(c.cuts[top].notes, fmt.Sprintf("scan of %s stays whole: the query result is a single fragment", table))
			continue
		}
		var split *aggSplit
		agg := top.parent
		if agg != nil && top.edge.field == "input" && agg.rel.GetAggregate() != nil && c.cuts[agg] != nil {
			var why string
			if split, why = planSplit(agg, c.hdr); split == nil {
				c.cuts[agg].notes = append(c.cuts[agg].notes, fmt.Sprintf("not split into partial aggregates over the %d partitions of %s: %s", p, table, why))
			}
		}
		if top == n && c.cuts[n] == nil && split == nil {
			owner := n.parent
			for c.cuts[owner] == nil {
				owner = owner.parent
			}
			c.cuts[owner].notes = append(c.cuts[owner].notes, fmt.Sprintf("scan of %s at %s stays whole: no filter, project or decomposable aggregate directly above it", table, n.path))
			continue
		}
		l := c.cuts[top]
		if l == nil {
			l = &logical{node: top, kind: KindPartition}
			c.cuts[top] = l
		}
		l.parts, l.scan = p, n
		l.reasons = append(l.reasons, fmt.Sprintf("scan of %s over %d partitions", table, p))
		if split != nil {
			l.partial = split
			c.cuts[agg].final = split
			if c.cuts[agg].kind != KindRoot {
				c.cuts[agg].kind = KindFinalAggregate
			}
			c.cuts[agg].reasons = append(c.cuts[agg].reasons, fmt.Sprintf("merges %d partial aggregates", p))
		}
	}
}

// scanPipeline climbs from a read through the streaming filters and projects above
// it and returns the pipeline's top.
func scanPipeline(read, root *node, cuts map[*node]*logical) *node {
	cur := read
	for cuts[cur] == nil {
		par := cur.parent
		if par == nil || par == root || cur.edge.field != "input" || !par.closed() {
			break
		}
		streaming := par.rel.GetFilter() != nil || (par.rel.GetProject() != nil && !par.facts.window)
		if !streaming {
			break
		}
		cur = par
	}
	return cur
}

// buildPartitions emits one fragment per partition of a fanned-out cut point.
func (c *cutter) buildPartitions(l *logical, rel *substraitpb.Rel, deps []string) error {
	read := l.scan.rel.GetRead()
	table := read.GetNamedTable().GetNames()
	kind := KindPartition
	if l.partial != nil {
		kind = KindPartialAggregate
	}
	var first *Fragment
	if l.scan != l.node {
		// Each partition copies rel with its own read in the scan's place: the scan is
		// swapped for an empty relation first, so that the copies do not copy it too.
		if !replaceAt(rel, l.node.path, l.scan.path, &substraitpb.Rel{}) {
			return fmt.Errorf("fragment: internal error: no read at %s", l.scan.path)
		}
	}
	for i := 0; i < l.parts; i++ {
		part := partitionRead(read, i, l.parts)
		inst := part
		if l.scan != l.node {
			inst = proto.CloneOf(rel)
			replaceAt(inst, l.node.path, l.scan.path, part)
		}
		if l.partial != nil {
			inst = l.partial.partialRel(inst)
		}
		f := &Fragment{
			ID:        fmt.Sprintf("%s_p%d", l.id, i),
			Kind:      kind,
			Reason:    strings.Join(l.reasons, "; "),
			Path:      l.node.path,
			Rel:       inst,
			Deps:      append([]string(nil), deps...),
			Partition: &Partition{Table: append([]string(nil), table...), Index: i, Count: l.parts},
			Notes:     append([]string(nil), l.notes...),
		}
		if first == nil {
			schema, err := c.ty.schema(inst, nil)
			if err != nil {
				return &Error{Kind: ErrUnsupported, Path: l.node.path, Rel: relName(l.node.rel), Detail: "the partition fragment cannot be typed on its own", Cause: err}
			}
			f.Schema = schema
			f.Cost = c.est.estimate(inst)
			first = f
		} else {
			// Partitions are equal row ranges: the same schema and cost.
			f.Schema, f.Cost = first.Schema, first.Cost
		}
		c.est.known[f.ID] = f.Cost.Rows
		l.outputs = append(l.outputs, f.ID)
		c.dag.add(f)
	}
	l.schema = first.Schema
	return nil
}

// partitionRead is read restricted to partition i of n.
func partitionRead(read *substraitpb.ReadRel, i, n int) *substraitpb.Rel {
	r := proto.CloneOf(read)
	nt := r.GetNamedTable()
	nt.Names = append([]string{PartitionTable, strconv.Itoa(i), strconv.Itoa(n)}, nt.GetNames()...)
	return &substraitpb.Rel{RelType: &substraitpb.Rel_Read{Read: r}}
}
