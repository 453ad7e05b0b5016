package fragment

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"testing"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// partitionings are the Options.Partitions every property is checked under.
var partitionings = []map[string]int{
	nil,
	{"lineitem": 4},
	{"lineitem": 3, "orders": 2, "customer": 2, "partsupp": 2, "part": 2, "supplier": 2, "nation": 2, "region": 2},
}

// TestCutFragmentCounts pins how each unpartitioned TPC-H plan cuts.
func TestCutFragmentCounts(t *testing.T) {
	t.Parallel()
	want := map[string]int{
		"q01": 2, "q02": 8, "q03": 4, "q04": 2, "q05": 7, "q06": 1, "q07": 7, "q08": 9, "q09": 7, "q10": 5,
		"q11": 8, "q12": 3, "q13": 4, "q14": 3, "q16": 4, "q17": 3, "q18": 6, "q19": 2, "q20": 4, "q21": 5, "q22": 3,
	}
	for _, q := range tpchQueries {
		if got := len(cut(t, q, nil).Fragments); got != want[q] {
			t.Errorf("%s: %d fragments, want %d", q, got, want[q])
		}
	}
}

// TestCutProperties checks every TPC-H plan under every partitioning.
func TestCutProperties(t *testing.T) {
	t.Parallel()
	idPattern := regexp.MustCompile(`^q\d\d_f\d+(_p\d+)?$`)
	for _, parts := range partitionings {
		for _, q := range tpchQueries {
			t.Run(fmt.Sprintf("%s/%v", q, parts), func(t *testing.T) {
				p := parsed(t, q)
				d := cut(t, q, parts)
				checkDAGShape(t, d, idPattern)
				checkPlaceholders(t, d)
				checkRunnable(t, d)
				root := d.Root()
				if root.Kind != KindRoot || root.ID != q+"_f0" {
					t.Errorf("root %s is %s", root.ID, root.Kind)
				}
				if !sameSchema(root.Schema, p.Schema()) {
					t.Errorf("root schema %v, want the plan's %v", root.Schema, p.Schema())
				}
				if parts == nil {
					checkExactlyOnce(t, p, d)
				}
			})
		}
	}
}

// checkDAGShape: unique well-formed IDs, dependencies before dependents (so the
// graph is acyclic), the root last, and no fragment nobody reads.
func checkDAGShape(t *testing.T, d *DAG, idPattern *regexp.Regexp) {
	t.Helper()
	seen := map[string]bool{}
	read := map[string]bool{}
	for _, f := range d.Fragments {
		if !idPattern.MatchString(f.ID) {
			t.Errorf("fragment ID %q is malformed", f.ID)
		}
		if seen[f.ID] {
			t.Errorf("fragment ID %q is not unique", f.ID)
		}
		for _, dep := range f.Deps {
			if !seen[dep] {
				t.Errorf("%s depends on %s, which does not come before it", f.ID, dep)
			}
			read[dep] = true
		}
		seen[f.ID] = true
		if f.Kind == KindUnspecified || f.Reason == "" || f.Path == "" || f.Rel == nil {
			t.Errorf("%s is incomplete: kind %s, reason %q, path %q", f.ID, f.Kind, f.Reason, f.Path)
		}
		if f.Cost.Rows < 1 || f.Cost.Work <= 0 || math.IsNaN(f.Cost.Work) || math.IsInf(f.Cost.Work, 0) {
			t.Errorf("%s has cost %+v", f.ID, f.Cost)
		}
		if (f.Partition != nil) != (f.Kind == KindPartition || f.Kind == KindPartialAggregate) {
			t.Errorf("%s is %s with partition %v", f.ID, f.Kind, f.Partition)
		}
	}
	for _, f := range d.Fragments[:len(d.Fragments)-1] {
		if !read[f.ID] {
			t.Errorf("nobody reads fragment %s", f.ID)
		}
	}
	if d.CriticalPath() > d.Work() || d.CriticalPath() < d.Root().Cost.Work {
		t.Errorf("critical path %v outside [root work %v, total %v]", d.CriticalPath(), d.Root().Cost.Work, d.Work())
	}
}

// checkPlaceholders: Deps are exactly the placeholders a fragment reads, and each
// placeholder declares the schema of the fragment it reads.
func checkPlaceholders(t *testing.T, d *DAG) {
	t.Helper()
	for _, f := range d.Fragments {
		if got := placeholders(f.Rel); !slices.Equal(got, f.Deps) {
			t.Errorf("%s reads %v but depends on %v", f.ID, got, f.Deps)
		}
		forEachRel(f.Rel, "", func(r *substraitpb.Rel, _ string) bool {
			id, ok := placeholderID(r)
			if !ok {
				return true
			}
			child, _ := d.Fragment(id)
			if !proto.Equal(r.GetRead().GetBaseSchema(), child.Schema.ToProto()) {
				t.Errorf("%s reads %s with schema %v, want %v", f.ID, id, r.GetRead().GetBaseSchema(), child.Schema.ToProto())
			}
			return true
		})
	}
}

// checkRunnable: every fragment is a complete plan on its own that survives a binary
// round trip and that substrait-go types to the fragment's schema; MarshalPlan encodes the
// same plan.
func checkRunnable(t *testing.T, d *DAG) {
	t.Helper()
	for _, f := range d.Fragments {
		p, err := d.Plan(f.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back substraitpb.Plan
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		shared, err := d.MarshalPlan(f.ID)
		if err != nil {
			t.Fatal(err)
		}
		var fromShared substraitpb.Plan
		if err := proto.Unmarshal(shared, &fromShared); err != nil || !proto.Equal(&fromShared, &back) {
			t.Errorf("%s: MarshalPlan differs from Plan (%v)", f.ID, err)
		}
		h := newHeader(&back)
		ty, err := newTyper(h)
		if err != nil {
			t.Fatalf("%s: extensions: %v", f.ID, err)
		}
		tr := newTree(back.GetRelations()[0].GetRoot().GetInput(), rootPath)
		if err := checkStructure(tr, h, true); err != nil {
			t.Errorf("%s: %v", f.ID, err)
		}
		schema, err := ty.schema(tr.root.rel, back.GetRelations()[0].GetRoot().GetNames())
		if err != nil {
			t.Errorf("%s does not type on its own: %v", f.ID, err)
			continue
		}
		if !sameSchema(schema, f.Schema) {
			t.Errorf("%s types as %v, want %v", f.ID, schema, f.Schema)
		}
	}
}

// checkExactlyOnce: in an unpartitioned DAG every relation of the plan is in exactly
// one fragment. Inlining the placeholders rebuilds the plan, and the fragments hold
// as many relations (placeholders aside) as the plan.
func checkExactlyOnce(t *testing.T, p *Plan, d *DAG) {
	t.Helper()
	if got := inline(t, d, d.Root().Rel); !proto.Equal(got, p.root.GetInput()) {
		t.Errorf("inlining the fragments does not rebuild the plan")
	}
	n := 0
	for _, f := range d.Fragments {
		n += countRels(f.Rel)
	}
	if n != p.Relations() {
		t.Errorf("fragments hold %d relations, the plan %d", n, p.Relations())
	}
}

// TestCutDeterministic: the same input gives the same DAG, whatever the order of the
// option maps and however often it is parsed.
func TestCutDeterministic(t *testing.T) {
	t.Parallel()
	for _, q := range tpchQueries {
		a := cut(t, q, map[string]int{"lineitem": 3, "orders": 2})
		p, err := Parse(planJSON(t, q), ContentTypeJSON)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Cut(p, Options{QueryID: q, Partitions: map[string]int{"ORDERS": 2, "LINEITEM": 3}})
		if err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Fatalf("%s: renderings differ:\n%s\n%s", q, a, b)
		}
		for i := range a.Fragments {
			if !proto.Equal(a.Fragments[i].Rel, b.Fragments[i].Rel) {
				t.Errorf("%s: fragment %s differs", q, a.Fragments[i].ID)
			}
		}
		pa, _ := a.Plan(a.Root().ID)
		pb, _ := b.Plan(b.Root().ID)
		ba, _ := proto.MarshalOptions{Deterministic: true}.Marshal(pa)
		bb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(pb)
		if string(ba) != string(bb) {
			t.Errorf("%s: root plans encode differently", q)
		}
	}
}

// TestCutDoesNotModifyPlan: Cut works on copies.
func TestCutDoesNotModifyPlan(t *testing.T) {
	t.Parallel()
	p, err := Parse(planJSON(t, "q18"), ContentTypeJSON)
	if err != nil {
		t.Fatal(err)
	}
	before := p.Proto()
	if _, err := Cut(p, Options{QueryID: "x", Partitions: map[string]int{"lineitem": 4}}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(before, p.Proto()) {
		t.Error("Cut changed the plan")
	}
}

func TestCutOptions(t *testing.T) {
	t.Parallel()
	p := parsed(t, "q06")
	cases := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"minimal", Options{QueryID: "q"}, true},
		{"engine query ID", Options{QueryID: "20260101_000000_00001_abcde"}, true},
		{"empty query ID", Options{}, false},
		{"upper-case query ID", Options{QueryID: "Q1"}, false},
		{"query ID with a colon", Options{QueryID: "q:1"}, false},
		{"negative scale", Options{QueryID: "q", ScaleFactor: -1}, false},
		{"NaN scale", Options{QueryID: "q", ScaleFactor: math.NaN()}, false},
		{"negative partitions", Options{QueryID: "q", Partitions: map[string]int{"lineitem": -1}}, false},
		{"too many partitions", Options{QueryID: "q", Partitions: map[string]int{"lineitem": MaxPartitions + 1}}, false},
		{"most partitions", Options{QueryID: "q", Partitions: map[string]int{"lineitem": MaxPartitions}}, true},
		{"negative rows", Options{QueryID: "q", TableRows: map[string]float64{"lineitem": -5}}, false},
	}
	for _, c := range cases {
		_, err := Cut(p, c.opts)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: error %v, want ErrInvalidOption", c.name, err)
		}
	}
	if _, err := Cut(nil, Options{QueryID: "q"}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("nil plan: error %v", err)
	}
}

// TestCutSubqueries: uncorrelated subqueries become fragments, correlated ones stay
// inline with a note, and closed pieces inside correlated ones are still cut.
func TestCutSubqueries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		q          string
		subqueries int // KindSubquery fragments plus other kinds whose reason names a subquery
		inline     int // notes about correlated subqueries kept inline
	}{
		{"q02", 0, 1}, {"q04", 0, 1}, {"q11", 1, 0}, {"q16", 1, 0}, {"q17", 0, 1},
		{"q18", 1, 0}, {"q20", 2, 1}, {"q21", 0, 2}, {"q22", 1, 1},
	}
	subquery := regexp.MustCompile(`(scalar|inPredicate|setPredicate|setComparison) subquery`)
	for _, c := range cases {
		d := cut(t, c.q, nil)
		subs, inline := 0, 0
		for _, f := range d.Fragments {
			if subquery.MatchString(f.Reason) {
				subs++
			}
			for _, n := range f.Notes {
				if subquery.MatchString(n) {
					inline++
				}
			}
		}
		if subs != c.subqueries || inline != c.inline {
			t.Errorf("%s: %d subquery fragments and %d inline notes, want %d and %d\n%s", c.q, subs, inline, c.subqueries, c.inline, d)
		}
	}
}

func TestDAGPlanUnknownFragment(t *testing.T) {
	t.Parallel()
	if _, err := cut(t, "q01", nil).Plan("nope"); !errors.Is(err, ErrUnknownFragment) {
		t.Errorf("error %v, want ErrUnknownFragment", err)
	}
	if _, err := cut(t, "q01", nil).MarshalPlan("nope"); !errors.Is(err, ErrUnknownFragment) {
		t.Errorf("error %v, want ErrUnknownFragment", err)
	}
}

// TestReleaseKeepsTheStructure: a released DAG keeps its fragments, dependencies,
// partitions and costs, and refuses to give plans.
func TestReleaseKeepsTheStructure(t *testing.T) {
	t.Parallel()
	d := cut(t, "q01", map[string]int{"lineitem": 4})
	work, critical := d.Work(), d.CriticalPath()
	d.Release()
	for _, f := range d.Fragments {
		if f.Rel != nil {
			t.Errorf("%s still holds its relations", f.ID)
		}
		if _, err := d.Plan(f.ID); !errors.Is(err, ErrReleased) {
			t.Errorf("Plan(%s) after Release: %v, want ErrReleased", f.ID, err)
		}
		if _, err := d.MarshalPlan(f.ID); !errors.Is(err, ErrReleased) {
			t.Errorf("MarshalPlan(%s) after Release: %v, want ErrReleased", f.ID, err)
		}
	}
	if len(d.Fragments) != 6 || d.Root().Partition != nil || d.Fragments[0].Partition == nil || len(d.Root().Deps) == 0 {
		t.Errorf("structure lost: %d fragments, root %+v", len(d.Fragments), d.Root())
	}
	if d.Work() != work || d.CriticalPath() != critical {
		t.Errorf("costs changed: work %v → %v, critical path %v → %v", work, d.Work(), critical, d.CriticalPath())
	}
}

// TestFragmentsShareNothing: fragments own their messages. Scribbling over every
// fragment changes neither the plan nor a fresh cut of it.
func TestFragmentsShareNothing(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"q01", "q18", "q22"} {
		p, err := Parse(planJSON(t, q), ContentTypeJSON)
		if err != nil {
			t.Fatal(err)
		}
		before := p.Proto()
		parts := map[string]int{"lineitem": 2, "customer": 2}
		d, err := Cut(p, Options{QueryID: q, Partitions: parts})
		if err != nil {
			t.Fatal(err)
		}
		want := d.String()
		for _, f := range d.Fragments {
			scribble(f.Rel.ProtoReflect())
		}
		if !proto.Equal(before, p.Proto()) {
			t.Errorf("%s: scribbling over the fragments changed the plan", q)
		}
		again, err := Cut(p, Options{QueryID: q, Partitions: parts})
		if err != nil {
			t.Fatal(err)
		}
		if again.String() != want {
			t.Errorf("%s: scribbling over the fragments changed a later cut", q)
		}
	}
}

// scribble clears every field of m and of the messages below it.
func scribble(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				scribble(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			scribble(v.Message())
		}
		m.Clear(fd)
		return true
	})
}
