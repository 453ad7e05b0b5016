package fragment

import (
	"errors"
	"fmt"

	"github.com/substrait-io/substrait-go/v8/types"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// ErrUnknownFragment reports a fragment ID that is not in the DAG.
var ErrUnknownFragment = errors.New("unknown fragment")

// ErrReleased reports a fragment whose plan was dropped by DAG.Release.
var ErrReleased = errors.New("fragment plan released")

// Kind says why a fragment exists: what its root relation computes, or why the plan
// was cut above it.
type Kind int

const (
	// KindUnspecified is the zero value; no fragment has it.
	KindUnspecified Kind = iota
	// KindRoot computes the query result (the plan's root relation).
	KindRoot
	// KindAggregate materialises an aggregate.
	KindAggregate
	// KindFinalAggregate merges the partial aggregates of a partitioned scan.
	KindFinalAggregate
	// KindPartialAggregate aggregates one partition of a scan.
	KindPartialAggregate
	// KindSort materialises a sort.
	KindSort
	// KindTopN materialises a fetch (limit/offset) over a sort.
	KindTopN
	// KindSetOp materialises a set operation other than UNION ALL.
	KindSetOp
	// KindWindow materialises window functions.
	KindWindow
	// KindExchange materialises an exchange (a redistribution).
	KindExchange
	// KindBuild is a streaming pipeline feeding the build side of a join or a cross
	// product.
	KindBuild
	// KindSubquery is the relation of an uncorrelated subquery expression.
	KindSubquery
	// KindPartition scans one partition of a table through its streaming pipeline.
	KindPartition
)

var kindNames = [...]string{"unspecified", "root", "aggregate", "final-aggregate", "partial-aggregate",
	"sort", "top-n", "set-op", "window", "exchange", "build", "subquery", "partition"}

// String is the kind's lower-case name.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Partition locates a partition fragment's slice of a table.
type Partition struct {
	// Table is the table's name, as in the plan's read.
	Table []string
	// Index is the 0-based partition number.
	Index int
	// Count is the number of partitions of Table.
	Count int
}

// Cost is a fragment's estimate under the cost model in README.md.
type Cost struct {
	// Rows estimates the fragment's output rows.
	Rows float64
	// Work estimates the row operations the fragment performs (abstract units).
	Work float64
}

// Fragment is one schedulable piece of a plan: a Substrait relation that reads base
// tables and the outputs of the fragments it depends on.
type Fragment struct {
	// ID is "<query ID>_f<n>", n numbering the cut points in plan pre-order (the root
	// is f0); partition fragments append "_p<i>".
	ID string
	// Kind says what the fragment computes or why the plan was cut above it.
	Kind Kind
	// Reason explains the cut in words ("build side of CrossRel; aggregate").
	Reason string
	// Path locates the fragment's root relation in the original plan.
	Path string
	// Rel is the relation to run. Child fragments appear as placeholder reads of the
	// named table [PlaceholderTable, <child ID>] (a UNION ALL of such reads for a
	// partitioned child); partitions read [PartitionTable, <i>, <n>, <table>...].
	Rel *substraitpb.Rel
	// Schema is the fragment's output: names (depth-first) and types.
	Schema types.NamedStruct
	// Deps lists the IDs of the fragments whose outputs Rel reads, in plan order.
	Deps []string
	// Partition is set on partition fragments.
	Partition *Partition
	// Cost is the cost model's estimate.
	Cost Cost
	// Notes explain decisions not to cut or split (correlated subqueries kept inline,
	// aggregates that do not decompose).
	Notes []string
}

// DAG is a plan cut into fragments.
type DAG struct {
	// QueryID is Options.QueryID.
	QueryID string
	// Fragments are in dependency order: every fragment comes after its dependencies,
	// and the root comes last.
	Fragments []*Fragment
	hdr       *header
	byID      map[string]*Fragment
}

// Root is the fragment that computes the query result.
func (d *DAG) Root() *Fragment { return d.Fragments[len(d.Fragments)-1] }

// Fragment looks a fragment up by ID.
func (d *DAG) Fragment(id string) (*Fragment, bool) {
	f, ok := d.byID[id]
	return f, ok
}

// Plan wraps fragment id in a complete Substrait plan (the query's extensions plus
// any Cut added, and a root naming the fragment's output columns), ready to send
// to an executor.
func (d *DAG) Plan(id string) (*substraitpb.Plan, error) {
	f, err := d.withPlan(id)
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(d.hdr.sharedPlan(f.Rel, f.Schema.Names)), nil
}

// MarshalPlan is Plan encoded as binary protobuf, without copying the fragment's
// relations first (Plan returns a copy the caller may change).
func (d *DAG) MarshalPlan(id string) ([]byte, error) {
	f, err := d.withPlan(id)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(d.hdr.sharedPlan(f.Rel, f.Schema.Names))
}

// withPlan looks up fragment id, which must still hold its relations.
func (d *DAG) withPlan(id string) (*Fragment, error) {
	f, ok := d.byID[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %q", ErrUnknownFragment, id)
	case f.Rel == nil:
		return nil, fmt.Errorf("%w: %q", ErrReleased, id)
	}
	return f, nil
}

// Release drops every fragment's relations and schema and the plan's extensions,
// keeping the dependency structure, partitions and costs: a holder that encoded every
// fragment's plan keeps the DAG small (a relation tree is thousands of small objects for
// the garbage collector to scan). Plan fails afterwards with ErrReleased.
func (d *DAG) Release() {
	for _, f := range d.Fragments {
		f.Rel, f.Schema = nil, types.NamedStruct{}
	}
	d.hdr = nil
}

// Work is the total estimated work of all fragments.
func (d *DAG) Work() float64 {
	var w float64
	for _, f := range d.Fragments {
		w += f.Cost.Work
	}
	return w
}

// CriticalPath is the largest sum of estimated work along a dependency chain ending
// at the root: a lower bound on the query's time with unlimited executors.
func (d *DAG) CriticalPath() float64 {
	memo := map[string]float64{}
	var path func(f *Fragment) float64
	path = func(f *Fragment) float64 {
		if v, ok := memo[f.ID]; ok {
			return v
		}
		var longest float64
		for _, dep := range f.Deps {
			longest = max(longest, path(d.byID[dep]))
		}
		memo[f.ID] = longest + f.Cost.Work
		return memo[f.ID]
	}
	return path(d.Root())
}

// add appends a built fragment.
func (d *DAG) add(f *Fragment) {
	d.Fragments = append(d.Fragments, f)
	d.byID[f.ID] = f
}
