package substraitsql

import (
	"fmt"
	"strings"

	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
)

// FragmentTable is the first name of a ReadRel that reads an intermediate result:
// ["__sluice_fragment", "<fragment id>"]. Such reads go through Options.Table like any
// other (which points them at the child fragment's output, e.g. a read_parquet call) and
// take the child's columns by position, because the child's output columns are named
// c0, c1, … while the read's base schema keeps the names of the original plan.
const FragmentTable = "__sluice_fragment"

// maxDepth bounds how deeply relations and expressions may nest.
const maxDepth = 400

// maxSQLBytes bounds the SQL of one relation or expression: plans that repeat a
// subexpression through projections or mark joins can otherwise grow the text
// exponentially.
const maxSQLBytes = 16 << 20

// Options steer a translation.
type Options struct {
	// Table maps the names of a ReadRel's named table (["LINEITEM"], or
	// ["__sluice_fragment", "7"]) to a SQL table expression ("tpch.tiny.lineitem",
	// "read_parquet('/data/q1/7.parquet')"). The names are passed as the plan spells
	// them, reserved ones included (the scheduler's partition reads
	// ["__sluice_partition", "<i>", "<n>", "LINEITEM"] are read by column name like the
	// table itself); map them case-insensitively. The expression must be one line. When
	// Table is nil, names are quoted and joined with dots ("LINEITEM" → "LINEITEM";
	// DuckDB resolves identifiers case-insensitively) and fragment reads fail.
	Table func(names []string) (string, error)
}

// Translate turns the root relation of p into one DuckDB SELECT statement. Its columns
// are named after the root's names when the plan gives one name per column, else c0,
// c1, …. ReferenceRels are expanded from p's other relations.
func Translate(p *substraitpb.Plan, opts Options) (string, error) {
	if p == nil {
		return "", invalid("", "nil plan")
	}
	ext, err := NewExtensions(p)
	if err != nil {
		return "", err
	}
	var root *substraitpb.RelRoot
	for _, r := range p.GetRelations() {
		if rr := r.GetRoot(); rr != nil {
			if root != nil {
				return "", unsupported("relations", "a plan with more than one root")
			}
			root = rr
		}
	}
	if root == nil {
		return "", invalid("relations", "no root relation")
	}
	t := &translator{ext: ext, opts: opts, plan: p}
	q, err := t.rel(root.GetInput(), nil, "root.input")
	if err != nil {
		return "", err
	}
	names := make([]string, len(q.cols))
	for i := range names {
		names[i] = colName(i)
	}
	if rn := root.GetNames(); len(rn) == len(q.cols) {
		for i, n := range rn {
			if qn, ok := quoteIdent(n); ok {
				names[i] = qn
			}
		}
	}
	return q.sql(names), nil
}

// TranslateRel turns one relation (a whole plan's root input, or any subtree of it) into
// a DuckDB SELECT statement whose columns are named c0, c1, …; columns lists those names.
// ext resolves the function anchors of the plan rel belongs to. Outer references
// (stepsOut) must stay inside rel; ReferenceRels are not available here (use Translate).
func TranslateRel(rel *substraitpb.Rel, ext Extensions, opts Options) (sql string, columns []string, err error) {
	t := &translator{ext: ext, opts: opts}
	q, err := t.rel(rel, nil, "rel")
	if err != nil {
		return "", nil, err
	}
	columns = make([]string, len(q.cols))
	for i := range columns {
		columns[i] = colName(i)
	}
	return q.sql(columns), columns, nil
}

// translator holds the state of one translation.
type translator struct {
	ext     Extensions
	opts    Options
	plan    *substraitpb.Plan // for ReferenceRel; nil in TranslateRel
	aliases int               // table aliases handed out: t0, t1, …
	depth   int               // current nesting of relations and expressions
	refs    int               // ReferenceRel expansions so far
}

func (t *translator) alias() string {
	a := fmt.Sprintf("t%d", t.aliases)
	t.aliases++
	return a
}

// enter counts one level of nesting; the returned func leaves it.
func (t *translator) enter(path string) (func(), error) {
	if t.depth >= maxDepth {
		return nil, unsupported(path, "plan nested deeper than %d levels", maxDepth)
	}
	t.depth++
	return func() { t.depth-- }, nil
}

func colName(i int) string { return fmt.Sprintf("c%d", i) }

// query is one SELECT block being built. Relations extend the block of their input when
// SQL allows it without changing the meaning (a Filter over a Read becomes its WHERE, a
// Fetch over a Sort its LIMIT); otherwise the input becomes a derived table.
type query struct {
	cols    []string // output columns as SQL over from
	plain   []bool   // cols[i] is a bare column of from (may be repeated freely)
	from    string
	single  bool     // from is one table or derived table, no join
	where   []string // conjuncts
	agg     bool     // the block aggregates (GROUP BY or a global aggregate)
	groupBy string   // GROUP BY body
	orderBy []string
	limit   string
	offset  string
}

// size is the length of the block's text so far.
func (q *query) size() int {
	n := len(q.from) + len(q.groupBy) + len(q.limit) + len(q.offset)
	for _, parts := range [][]string{q.cols, q.where, q.orderBy} {
		for _, p := range parts {
			n += len(p)
		}
	}
	return n
}

// allPlain reports that every output column is a bare column reference.
func (q *query) allPlain() bool {
	for _, p := range q.plain {
		if !p {
			return false
		}
	}
	return true
}

// open reports that the block only reads, filters and projects (no GROUP BY, LIMIT or
// OFFSET), so that a parent may add WHERE conjuncts or compute over its columns.
func (q *query) open() bool {
	return q.allPlain() && !q.agg && q.limit == "" && q.offset == ""
}

// sql renders the block with the given output column names.
func (q *query) sql(names []string) string {
	var b strings.Builder
	items := make([]string, len(q.cols))
	width := 0
	for i, c := range q.cols {
		items[i] = unparen(c) + " AS " + names[i]
		width += len(items[i]) + 2
	}
	if width > 100 || strings.Contains(strings.Join(items, ""), "\n") {
		b.WriteString("SELECT\n")
		for i, it := range items {
			b.WriteString(indent(it))
			if i < len(items)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
	} else {
		b.WriteString("SELECT " + strings.Join(items, ", ") + "\n")
	}
	b.WriteString("FROM " + q.from)
	if len(q.where) > 0 {
		conj := make([]string, len(q.where))
		for i, w := range q.where {
			conj[i] = unparen(w)
			if len(q.where) > 1 && strings.Contains(conj[i], " OR ") {
				conj[i] = w // OR binds looser than the AND that joins the conjuncts
			}
			conj[i] = strings.ReplaceAll(conj[i], "\n", "\n  ")
		}
		b.WriteString("\nWHERE " + strings.Join(conj, "\n  AND "))
	}
	if q.groupBy != "" {
		b.WriteString("\nGROUP BY " + q.groupBy)
	}
	if len(q.orderBy) > 0 {
		b.WriteString("\nORDER BY " + strings.Join(q.orderBy, ", "))
	}
	if q.limit != "" {
		b.WriteString("\nLIMIT " + q.limit)
	}
	if q.offset != "" {
		b.WriteString("\nOFFSET " + q.offset)
	}
	return b.String()
}

// derived makes q a derived table: it returns the FROM item and the columns of q as
// seen from the enclosing block.
func (t *translator) derived(q *query) (from string, cols []string) {
	a := t.alias()
	names := make([]string, len(q.cols))
	cols = make([]string, len(q.cols))
	for i := range q.cols {
		names[i] = colName(i)
		cols[i] = a + "." + names[i]
	}
	return "(\n" + indent(q.sql(names)) + "\n) AS " + a, cols
}

// wrap returns a new open block that selects every column of q from q as a derived table.
func (t *translator) wrap(q *query) *query {
	from, cols := t.derived(q)
	return &query{cols: cols, plain: allTrue(len(cols)), from: from, single: true}
}

func allTrue(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}
