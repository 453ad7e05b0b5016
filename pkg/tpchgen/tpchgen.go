// Package tpchgen generates deterministic TPC-H demo data with plain DuckDB
// SQL and writes it as one Parquet file per table, the way Trino's TPC-H
// connector exposes it: catalog "tpch", schema "tiny" for scale factor 0.01
// and "sf1", "sf10", ... for whole scale factors (see SchemaName).
//
// It needs no DuckDB extension (the tpch extension is not used) and nothing
// is downloaded: every value is computed from the row number with explicit
// integer hashing, so the same scale factor yields byte-identical query
// results on every run and every DuckDB version with the same SQL semantics.
//
// # Faithful to dbgen / the TPC-H specification
//
//   - Table and column names, and the 8 tables' row counts: region 5,
//     nation 25, supplier 10,000×SF, customer 150,000×SF, part 200,000×SF,
//     partsupp 4 per part, orders 1,500,000×SF, lineitem 1 to 7 per order.
//   - The real 5 regions and 25 nations with their region keys.
//   - Sparse order keys (8 used out of every 32, as dbgen's MK_SPARSE).
//   - Orders are only placed by customers whose key is not a multiple of 3,
//     so a third of the customers have no orders (TPC-H Q13 and Q22).
//   - Value domains of clause 4.2.3: dates (order date 1992-01-01 to
//     1998-08-02, ship = order + 1..121 days, commit = order + 30..90,
//     receipt = ship + 1..30), return flag R/A when received by 1995-06-17
//     else N, line status O when shipped after 1995-06-17 else F, order
//     status F/O/P from its lines' statuses, quantities 1..50, discounts
//     0.00..0.10, taxes 0.00..0.08, account balances -999.99..9999.99,
//     supply costs 1.00..1000.00, available quantities 1..9999, sizes 1..50,
//     market segments, order priorities, ship modes and instructions, part
//     types, containers, brands 'Brand#MN' matching 'Manufacturer#M', part
//     names of five distinct words out of the 92 colours, phone numbers
//     'CC-LLL-LLL-LLLL' with CC = nationkey + 10, clerks 'Clerk#000000NNN'
//     out of 1,000×SF, 'Supplier#', 'Customer#' names.
//   - dbgen's formulas for p_retailprice, for the four suppliers of a part
//     (ps_suppkey) and hence for l_suppkey, l_extendedprice =
//     l_quantity × p_retailprice, and o_totalprice = Σ extendedprice ×
//     (1 − discount) × (1 + tax) in dbgen's integer-cent arithmetic.
//   - Comments are substrings (random paragraph, start and length within
//     the column's length range) of a pool of pseudo-text built from dbgen's
//     grammar and weighted word lists, so phrases such as
//     'special ... requests' occur; SF×5 suppliers get 'Customer ...
//     Complaints' and SF×5 'Customer ... Recommends' in s_comment.
//   - Addresses are random v-strings of 10..40 characters from dbgen's
//     64-symbol alphabet.
//
// # Not faithful
//
//   - The random number streams differ from dbgen's, so individual values
//     (and therefore query answers) differ from the official answer sets;
//     only distributions and relationships match.
//   - The comment text pool is 8192 paragraphs of 300 characters instead
//     of dbgen's 300 MB pool, and addresses are cut from a pool of 4096
//     random 80-character strings, so texts repeat more often than in dbgen.
//   - Part names use five distinct colour words chosen by random gaps, not
//     dbgen's exact permutation-based draw.
//   - Scale factors below 0.01, and the few small fractional ones for which
//     dbgen's partsupp formula would repeat a supplier for a part, are
//     rejected.
//   - No refresh functions (RF1/RF2) and no update streams.
//
// The files are zstd-compressed Parquet with rows in primary key order.
// Generating scale 0.01 takes well under a second and scale 1 (about 6
// million line items, 210 MB of Parquet) about ten seconds on two cores.
package tpchgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// tables are the TPC-H table names in specification order.
var tables = []string{"region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"}

// Tables returns the names of the eight TPC-H tables. Generate writes each
// as <dir>/<name>.parquet.
func Tables() []string {
	out := make([]string, len(tables))
	copy(out, tables)
	return out
}

// Exists reports whether dir holds the Parquet file of every table, i.e.
// whether a previous Generate into dir completed.
func Exists(dir string) bool {
	for _, t := range tables {
		fi, err := os.Stat(filepath.Join(dir, t+".parquet"))
		if err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// SchemaName returns the Trino TPC-H connector schema name of a scale
// factor: "tiny" for 0.01, "sf1", "sf10", ... for whole numbers and the
// decimal point replaced by an underscore otherwise ("sf0_1" for 0.1).
func SchemaName(scale float64) string {
	if scale == 0.01 {
		return "tiny"
	}
	return "sf" + strings.ReplaceAll(strconv.FormatFloat(scale, 'f', -1, 64), ".", "_")
}

// ScaleFromSchema is the inverse of SchemaName: it returns the scale factor
// of a schema name such as "tiny", "sf1" or "sf0_1", and false when name is
// not one SchemaName would produce.
func ScaleFromSchema(name string) (float64, bool) {
	if name == "tiny" {
		return 0.01, true
	}
	rest, ok := strings.CutPrefix(name, "sf")
	if !ok || rest == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(rest, "_", "."), 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) || SchemaName(f) != name {
		return 0, false
	}
	return f, true
}

// Sizes of the shared text pools (see comment and address in hash.go).
const (
	textParagraphs   = 8192
	textParagraphLen = 300
	textSentences    = 10 // sentences per candidate paragraph
	textCandidates   = 9000
	addrStrings      = 4096
	addrStringLen    = 80
)

// Day numbers relative to 1992-01-01 (dbgen's STARTDATE).
const startDate = "1992-01-01"

var (
	currentDay   = dayOf("1995-06-17")       // dbgen's CURRENTDATE
	lastOrderDay = dayOf("1998-12-31") - 151 // ENDDATE - 151: room for ship + receipt
)

// Connection-local tables used while generating, dropped afterwards.
const (
	idxTable  = "temp.main._tpchgen_idx"  // i = 1..n: the row source of every table
	textTable = "temp.main._tpchgen_text" // (id, p): comment text pool
	addrTable = "temp.main._tpchgen_addr" // (id, a): address pool
)

var errBadScale = errors.New("tpchgen: scale must be a finite number >= 0.01")

// dayOf is the number of days from startDate to the date d (YYYY-MM-DD).
func dayOf(d string) int64 {
	t0, err := time.Parse(time.DateOnly, startDate)
	if err != nil {
		panic(err)
	}
	t1, err := time.Parse(time.DateOnly, d)
	if err != nil {
		panic(err)
	}
	return int64(t1.Sub(t0).Hours() / 24)
}

// sizes are the row counts of one scale factor.
type sizes struct {
	supplier, customer, part, orders, clerks int64
}

func sizesFor(scale float64) (sizes, error) {
	if math.IsNaN(scale) || math.IsInf(scale, 0) || scale < 0.01 {
		return sizes{}, errBadScale
	}
	count := func(base float64) int64 { return int64(base*scale + 1e-6) }
	s := sizes{
		supplier: count(10000),
		customer: count(150000),
		part:     count(200000),
		orders:   count(1500000),
		clerks:   max(count(1000), 1),
	}
	// dbgen's partsupp formula picks suppliers (pk + j*(S/4 + (pk-1)/S)) mod S
	// for j = 0..3; make sure the four are distinct for every part.
	S := s.supplier
	for k := int64(0); k <= (s.part-1)/S; k++ {
		q := S/4 + k
		for d := int64(1); d <= 3; d++ {
			if (d*q)%S == 0 {
				return sizes{}, fmt.Errorf("tpchgen: scale %v not supported: part suppliers would repeat", scale)
			}
		}
	}
	return s, nil
}

// Generate writes <dir>/<table>.parquet for all eight TPC-H tables at the
// given scale factor (0.01 for Trino's "tiny"), creating dir if needed.
// Existing files are replaced. Each file is first written under a hidden
// temporary name in dir and renamed into place only when complete, so a
// crash never leaves a partial <table>.parquet behind. All work runs on one
// connection of db (a DuckDB database); the connection-local temporary
// tables it uses are dropped before returning, and no setting of db is
// changed. Concurrent calls are safe: each uses its own connection and
// temporary file names. Cancelling ctx interrupts the running statement.
func Generate(ctx context.Context, db *sql.DB, dir string, scale float64) (err error) {
	sz, err := sizesFor(scale)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tpchgen: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("tpchgen: %w", err)
	}
	defer conn.Close()

	var temps []string
	defer func() {
		for _, f := range temps {
			_ = os.Remove(f) // already renamed on success
		}
	}()
	defer func() {
		cctx := context.WithoutCancel(ctx)
		for _, t := range []string{idxTable, textTable, addrTable} {
			if _, derr := conn.ExecContext(cctx, "DROP TABLE IF EXISTS "+t); derr != nil && err == nil {
				err = fmt.Errorf("tpchgen: drop %s: %w", t, derr)
			}
		}
	}()

	exec := func(what, q string) error {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("tpchgen: %s: %w", what, err)
		}
		return nil
	}

	idxRows := max(sz.orders, 4*sz.part, textCandidates*textSentences, addrStrings*addrStringLen)
	if err := exec("index", fmt.Sprintf(
		"CREATE OR REPLACE TEMP TABLE %s AS SELECT range + 1 AS i FROM range(%d)", idxTable, idxRows)); err != nil {
		return err
	}
	if err := exec("text pool", textPoolSQL()); err != nil {
		return err
	}
	if err := exec("address pool", addrPoolSQL()); err != nil {
		return err
	}
	var nPara int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+textTable).Scan(&nPara); err != nil {
		return fmt.Errorf("tpchgen: text pool: %w", err)
	}
	if nPara != textParagraphs {
		return fmt.Errorf("tpchgen: text pool has %d paragraphs, want %d", nPara, textParagraphs)
	}

	tmpName := func(table string) (string, error) {
		f, err := os.CreateTemp(dir, "."+table+".*.parquet.tmp")
		if err != nil {
			return "", fmt.Errorf("tpchgen: %w", err)
		}
		name := f.Name()
		temps = append(temps, name)
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("tpchgen: %w", err)
		}
		return name, nil
	}
	copyTo := func(table, query, path string) error {
		return exec(table, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", query, sqlString(path)))
	}

	written := map[string]string{}
	for _, t := range []string{"region", "nation", "supplier", "customer", "part", "partsupp", "lineitem"} {
		path, err := tmpName(t)
		if err != nil {
			return err
		}
		if err := copyTo(t, tableSQL(t, sz), path); err != nil {
			return err
		}
		written[t] = path
	}
	// orders needs its lines' statuses and prices: read them back.
	path, err := tmpName("orders")
	if err != nil {
		return err
	}
	if err := copyTo("orders", ordersSQL(sz, written["lineitem"]), path); err != nil {
		return err
	}
	written["orders"] = path

	// Exists looks for all eight files: remove the last one renamed first,
	// so that an interrupted rename phase never looks complete (possibly
	// mixing files of two scale factors).
	last := filepath.Join(dir, tables[len(tables)-1]+".parquet")
	if err := os.Remove(last); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tpchgen: %w", err)
	}
	for _, t := range tables {
		if err := os.Rename(written[t], filepath.Join(dir, t+".parquet")); err != nil {
			return fmt.Errorf("tpchgen: %w", err)
		}
	}
	return nil
}

// idxUpTo is the row source of keys 1..n.
func idxUpTo(n int64) string {
	return fmt.Sprintf("(SELECT i FROM %s WHERE i <= %d)", idxTable, n)
}

// textPoolSQL builds the connection-local table (id, p) of textParagraphs
// strings of textParagraphLen characters made of grammar-generated sentences.
func textPoolSQL() string {
	t := stream("text")
	wordCols := fmt.Sprintf("SELECT %s AS nouns, %s AS verbs, %s AS adjs, %s AS advs, %s AS preps, %s AS auxs, %s AS terms",
		sqlList(expand(nouns)), sqlList(expand(verbs)), sqlList(expand(adjectives)),
		sqlList(expand(adverbs)), sqlList(expand(prepositions)), sqlList(expand(auxiliaries)),
		sqlList(expand(terminators)))
	w := func(col, list string, n int) string {
		return fmt.Sprintf("w.%s[%s]", list, t.n(col, 1, int64(n)))
	}
	np := func(k string) string {
		noun := w("noun"+k, "nouns", len(expand(nouns)))
		adj1 := w("adj1"+k, "adjs", len(expand(adjectives)))
		adj2 := w("adj2"+k, "adjs", len(expand(adjectives)))
		adv := w("adv"+k, "advs", len(expand(adverbs)))
		return fmt.Sprintf("(CASE %s WHEN 'N' THEN %s WHEN 'J N' THEN %s || ' ' || %s WHEN 'J, J N' THEN %s || ', ' || %s || ' ' || %s ELSE %s || ' ' || %s || ' ' || %s END)",
			t.pick("np"+k, expand(nounPhrases)), noun, adj1, noun, adj1, adj2, noun, adv, adj1, noun)
	}
	verb := w("verb", "verbs", len(expand(verbs)))
	aux := w("aux", "auxs", len(expand(auxiliaries)))
	vadv := w("vadv", "advs", len(expand(adverbs)))
	vp := fmt.Sprintf("(CASE %s WHEN 'V' THEN %s WHEN 'X V' THEN %s || ' ' || %s WHEN 'V D' THEN %s || ' ' || %s ELSE %s || ' ' || %s || ' ' || %s END)",
		t.pick("vp", expand(verbPhrases)), verb, aux, verb, verb, vadv, aux, verb, vadv)
	pp1 := fmt.Sprintf("(%s || ' the ' || %s)", w("prep1", "preps", len(expand(prepositions))), np("3"))
	pp2 := fmt.Sprintf("(%s || ' the ' || %s)", w("prep2", "preps", len(expand(prepositions))), np("2"))
	term := w("term", "terms", len(expand(terminators)))
	np1, np2 := np("1"), np("2")
	sentence := fmt.Sprintf(`(CASE %s
		WHEN 'N V T' THEN %[2]s || ' ' || %[3]s
		WHEN 'N V P T' THEN %[2]s || ' ' || %[3]s || ' ' || %[4]s
		WHEN 'N V N T' THEN %[2]s || ' ' || %[3]s || ' ' || %[5]s
		WHEN 'N P V N T' THEN %[2]s || ' ' || %[4]s || ' ' || %[3]s || ' ' || %[5]s
		ELSE %[2]s || ' ' || %[4]s || ' ' || %[3]s || ' ' || %[6]s END) || %[7]s`,
		t.pick("grammar", expand(grammars)), np1, vp, pp1, np2, pp2, term)

	return fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %[1]s AS
WITH w AS (%[2]s),
sent AS (
	SELECT i, %[3]s AS s FROM %[4]s CROSS JOIN w
),
para AS (
	SELECT (i - 1) // %[5]d AS pid, string_agg(s, ' ' ORDER BY i) AS p FROM sent GROUP BY pid
),
good AS (
	SELECT pid, left(p, %[6]d) AS p FROM para WHERE length(p) >= %[6]d ORDER BY pid LIMIT %[7]d
)
SELECT CAST(row_number() OVER (ORDER BY pid) AS BIGINT) AS id, p FROM good`,
		textTable, wordCols, sentence,
		hashed(idxUpTo(textCandidates*textSentences), "i", "text"),
		textSentences, textParagraphLen, textParagraphs)
}

// addrPoolSQL builds the connection-local table (id, a) of addrStrings
// random strings of addrStringLen characters from dbgen's alphabet.
func addrPoolSQL() string {
	a := stream("addr")
	return fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %[1]s AS
SELECT CAST((i - 1) // %[2]d + 1 AS BIGINT) AS id, string_agg(substr(%[3]s, CAST(%[4]s AS INTEGER), 1), '' ORDER BY i) AS a
FROM %[5]s GROUP BY id`,
		addrTable, addrStringLen, sqlString(alphaNum), a.n("char", 1, int64(len(alphaNum))),
		hashed(idxUpTo(addrStrings*addrStringLen), "i", "addr"))
}

// tableSQL is the SELECT producing one table (all but orders).
func tableSQL(table string, sz sizes) string {
	switch table {
	case "region":
		return regionSQL()
	case "nation":
		return nationSQL()
	case "supplier":
		return supplierSQL(sz)
	case "customer":
		return customerSQL(sz)
	case "part":
		return partSQL(sz)
	case "partsupp":
		return partsuppSQL(sz)
	case "lineitem":
		return lineitemSQL(sz)
	}
	panic("tpchgen: unknown table " + table)
}

// withPools joins to the rows of src the text pool paragraph (as _tx) of
// comment column textCol and, if addrCol is not empty, the address pool
// string (as _ta) of address column addrCol.
func withPools(src string, t stream, textCol, addrCol string) string {
	keys := "*, " + t.textKey(textCol) + " AS _tid"
	if addrCol != "" {
		keys += ", " + t.addrKey(addrCol) + " AS _aid"
	}
	q := fmt.Sprintf("(SELECT %s FROM %s) _s JOIN %s _tx ON _tx.id = _s._tid", keys, src, textTable)
	if addrCol != "" {
		q += fmt.Sprintf(" JOIN %s _ta ON _ta.id = _s._aid", addrTable)
	}
	return q
}

func regionSQL() string {
	r := stream("region")
	return fmt.Sprintf(`SELECT CAST(i - 1 AS BIGINT) AS r_regionkey,
	CAST(%s[i] AS VARCHAR) AS r_name,
	CAST(%s AS VARCHAR) AS r_comment
FROM %s ORDER BY i`, sqlList(regions), r.comment("comment", 31, 115), withPools(hashed(idxUpTo(5), "i", "region"), r, "comment", ""))
}

func nationSQL() string {
	n := stream("nation")
	names := make([]string, len(nations))
	regs := make([]string, len(nations))
	for i, x := range nations {
		names[i] = x.name
		regs[i] = strconv.Itoa(x.region)
	}
	return fmt.Sprintf(`SELECT CAST(i - 1 AS BIGINT) AS n_nationkey,
	CAST(%s[i] AS VARCHAR) AS n_name,
	CAST([%s][i] AS BIGINT) AS n_regionkey,
	CAST(%s AS VARCHAR) AS n_comment
FROM %s ORDER BY i`, sqlList(names), strings.Join(regs, ", "), n.comment("comment", 31, 114),
		withPools(hashed(idxUpTo(25), "i", "nation"), n, "comment", ""))
}

func supplierSQL(sz sizes) string {
	s := stream("supplier")
	// pre: nk is needed for s_nationkey and s_phone; c, sel, a, g for the
	// Customer Complaints / Recommends insertion.
	pre := fmt.Sprintf(`(SELECT *, %s AS nk, %s AS c, %s AS sel, %s AS ca, %s AS cg, %s AS addr FROM %s)`,
		s.n("nation", 0, 24), s.comment("comment", 25, 100), s.n("bbb", 0, 1999),
		s.n("bbbpos", 0, 9), s.n("bbbgap", 0, 5), s.address("address"),
		withPools(hashed(idxUpTo(sz.supplier), "i", "supplier"), s, "comment", "address"))
	inject := func(word string) string {
		return fmt.Sprintf("substr(c, 1, ca) || 'Customer ' || substr(c, ca + 1, cg) || '%s' || substr(c, ca + cg + 20, greatest(length(c) - ca - cg - 19, 0))", word)
	}
	return fmt.Sprintf(`SELECT CAST(i AS BIGINT) AS s_suppkey,
	'Supplier#' || lpad(CAST(i AS VARCHAR), 9, '0') AS s_name,
	CAST(addr AS VARCHAR) AS s_address,
	CAST(nk AS BIGINT) AS s_nationkey,
	%s AS s_phone,
	%s AS s_acctbal,
	CAST(CASE sel WHEN 0 THEN %s WHEN 1 THEN %s ELSE c END AS VARCHAR) AS s_comment
FROM %s ORDER BY i`, s.phone("phone", "nk"), money(s.n("acctbal", -99999, 999999)),
		inject("Complaints"), inject("Recommends"), pre)
}

func customerSQL(sz sizes) string {
	c := stream("customer")
	pre := fmt.Sprintf("(SELECT *, %s AS nk FROM %s)", c.n("nation", 0, 24), hashed(idxUpTo(sz.customer), "i", "customer"))
	return fmt.Sprintf(`SELECT CAST(i AS BIGINT) AS c_custkey,
	'Customer#' || lpad(CAST(i AS VARCHAR), 9, '0') AS c_name,
	CAST(%s AS VARCHAR) AS c_address,
	CAST(nk AS BIGINT) AS c_nationkey,
	%s AS c_phone,
	%s AS c_acctbal,
	CAST(%s AS VARCHAR) AS c_mktsegment,
	CAST(%s AS VARCHAR) AS c_comment
FROM %s ORDER BY i`, c.address("address"), c.phone("phone", "nk"), money(c.n("acctbal", -99999, 999999)),
		c.pick("segment", segments), c.comment("comment", 29, 116), withPools(pre, c, "comment", "address"))
}

// retailCents is dbgen's p_retailprice formula in cents.
func retailCents(pk string) string {
	return fmt.Sprintf("(90000 + ((%[1]s // 10) %% 20001) + 100 * (%[1]s %% 1000))", pk)
}

// suppOfPart is dbgen's formula for the j-th (0..3) supplier of part pk.
func suppOfPart(pk, j string, sz sizes) string {
	return fmt.Sprintf("((%[1]s + %[2]s * (%[3]d + (%[1]s - 1) // %[4]d)) %% %[4]d + 1)", pk, j, sz.supplier/4, sz.supplier)
}

func partSQL(sz sizes) string {
	p := stream("part")
	// Five distinct colours: a random first word, then four random gaps of
	// 1..18 positions (at most 72 < 92 in total) around the colour list.
	var name []string
	offset := p.u("name0")
	for k := range 5 {
		if k > 0 {
			offset += fmt.Sprintf(" + 1 + %s %% 18", p.u("gap"+strconv.Itoa(k)))
		}
		name = append(name, fmt.Sprintf("%s[CAST((%s) %% %d AS BIGINT) + 1]", sqlList(colors), offset, len(colors)))
	}
	pre := fmt.Sprintf("(SELECT *, %s AS m FROM %s)", p.n("mfgr", 1, 5), hashed(idxUpTo(sz.part), "i", "part"))
	return fmt.Sprintf(`SELECT CAST(i AS BIGINT) AS p_partkey,
	CAST(%s AS VARCHAR) AS p_name,
	'Manufacturer#' || CAST(m AS VARCHAR) AS p_mfgr,
	'Brand#' || CAST(m AS VARCHAR) || CAST(%s AS VARCHAR) AS p_brand,
	CAST(%s || ' ' || %s || ' ' || %s AS VARCHAR) AS p_type,
	CAST(%s AS INTEGER) AS p_size,
	CAST(%s || ' ' || %s AS VARCHAR) AS p_container,
	%s AS p_retailprice,
	CAST(%s AS VARCHAR) AS p_comment
FROM %s ORDER BY i`, strings.Join(name, " || ' ' || "), p.n("brand", 1, 5),
		p.pick("type1", typeSyl1), p.pick("type2", typeSyl2), p.pick("type3", typeSyl3),
		p.n("size", 1, 50), p.pick("cont1", containerSy1), p.pick("cont2", containerSy2),
		money(retailCents("i")), p.comment("comment", 5, 22), withPools(pre, p, "comment", ""))
}

func partsuppSQL(sz sizes) string {
	ps := stream("partsupp")
	pre := fmt.Sprintf("(SELECT *, (i - 1) // 4 + 1 AS pk, (i - 1) %% 4 AS j FROM %s)", idxUpTo(4*sz.part))
	return fmt.Sprintf(`SELECT CAST(pk AS BIGINT) AS ps_partkey,
	CAST(%s AS BIGINT) AS ps_suppkey,
	CAST(%s AS INTEGER) AS ps_availqty,
	%s AS ps_supplycost,
	CAST(%s AS VARCHAR) AS ps_comment
FROM %s ORDER BY i`, suppOfPart("pk", "j", sz), ps.n("availqty", 1, 9999), money(ps.n("supplycost", 100, 100000)),
		ps.comment("comment", 49, 198), withPools(hashed(pre, "i", "partsupp"), ps, "comment", ""))
}

// ordersBase is the per-order row source shared by orders and lineitem:
// i (order number 1..N), okey (sparse o_orderkey), od (order date as days
// since 1992-01-01), cnt (number of lines) and the orders stream's _h.
func ordersBase(sz sizes) string {
	o := stream("orders")
	return fmt.Sprintf("(SELECT *, (i // 8) * 32 + i %% 8 AS okey, %s AS od, %s AS cnt FROM %s)",
		o.n("date", 0, lastOrderDay), o.n("lines", 1, 7), hashed(idxUpTo(sz.orders), "i", "orders"))
}

func day(expr string) string {
	return fmt.Sprintf("(DATE '%s' + CAST(%s AS INTEGER))", startDate, expr)
}

func lineitemSQL(sz sizes) string {
	l := stream("lineitem")
	lines := fmt.Sprintf("(SELECT i, okey, od, unnest(range(1, cnt + 1)) AS ln FROM %s)", ordersBase(sz))
	ship := l.n("ship", 1, 121)
	pre := fmt.Sprintf(`(SELECT *, %s AS pk, %s AS j, %s AS qty, od + %s AS sd, od + %s AS cd, od + %s + %s AS rd FROM %s)`,
		l.n("part", 1, sz.part), l.n("supp", 0, 3), l.n("quantity", 1, 50),
		ship, l.n("commit", 30, 90), ship, l.n("receipt", 1, 30),
		hashed(lines, "i * 8 + ln", "lineitem"))
	return fmt.Sprintf(`SELECT CAST(okey AS BIGINT) AS l_orderkey,
	CAST(pk AS BIGINT) AS l_partkey,
	CAST(%s AS BIGINT) AS l_suppkey,
	CAST(ln AS INTEGER) AS l_linenumber,
	%s AS l_quantity,
	%s AS l_extendedprice,
	%s AS l_discount,
	%s AS l_tax,
	CAST(CASE WHEN rd <= %d THEN (CASE WHEN %s = 0 THEN 'R' ELSE 'A' END) ELSE 'N' END AS VARCHAR) AS l_returnflag,
	CAST(CASE WHEN sd > %d THEN 'O' ELSE 'F' END AS VARCHAR) AS l_linestatus,
	%s AS l_shipdate,
	%s AS l_commitdate,
	%s AS l_receiptdate,
	CAST(%s AS VARCHAR) AS l_shipinstruct,
	CAST(%s AS VARCHAR) AS l_shipmode,
	CAST(%s AS VARCHAR) AS l_comment
FROM %s ORDER BY i, ln`, suppOfPart("pk", "j", sz), money("qty * 100"), money("qty * "+retailCents("pk")),
		money(l.n("discount", 0, 10)), money(l.n("tax", 0, 8)),
		currentDay, l.n("returnflag", 0, 1), currentDay,
		day("sd"), day("cd"), day("rd"), l.pick("instruct", instructions), l.pick("mode", shipModes),
		l.comment("comment", 10, 43), withPools(pre, l, "comment", ""))
}

// ordersSQL produces orders; o_orderstatus and o_totalprice come from the
// lineitem Parquet file at lineitemPath.
func ordersSQL(sz sizes, lineitemPath string) string {
	o := stream("orders")
	// Customers whose key is a multiple of 3 place no orders: draw j among
	// the other keys 1, 2, 4, 5, 7, ... and map it back.
	eligible := sz.customer - sz.customer/3
	cj := fmt.Sprintf("(%s %% %d)", o.u("customer"), eligible)
	agg := fmt.Sprintf(`(SELECT l_orderkey,
		count(*) AS n,
		count(*) FILTER (WHERE l_linestatus = 'F') AS nf,
		count(*) FILTER (WHERE l_linestatus = 'O') AS nopen,
		sum((CAST(l_extendedprice * 100 AS BIGINT) * (100 - CAST(l_discount * 100 AS BIGINT)) // 100) * (100 + CAST(l_tax * 100 AS BIGINT)) // 100) AS cents
	FROM read_parquet(%s) GROUP BY l_orderkey)`, sqlString(lineitemPath))
	return fmt.Sprintf(`SELECT CAST(okey AS BIGINT) AS o_orderkey,
	CAST((%[1]s // 2) * 3 + %[1]s %% 2 + 1 AS BIGINT) AS o_custkey,
	CAST(CASE WHEN a.nf = a.n THEN 'F' WHEN a.nopen = a.n THEN 'O' ELSE 'P' END AS VARCHAR) AS o_orderstatus,
	%[2]s AS o_totalprice,
	%[3]s AS o_orderdate,
	CAST(%[4]s AS VARCHAR) AS o_orderpriority,
	'Clerk#' || lpad(CAST(%[5]s AS VARCHAR), 9, '0') AS o_clerk,
	CAST(0 AS INTEGER) AS o_shippriority,
	CAST(%[6]s AS VARCHAR) AS o_comment
FROM %[7]s LEFT JOIN %[8]s a ON a.l_orderkey = okey
ORDER BY i`, cj, money("a.cents"), day("od"), o.pick("priority", priorities), o.n("clerk", 1, sz.clerks),
		o.comment("comment", 19, 78), withPools(ordersBase(sz), o, "comment", ""), agg)
}
