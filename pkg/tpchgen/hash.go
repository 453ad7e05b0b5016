package tpchgen

import (
	"fmt"
	"hash/fnv"
)

// Every pseudo-random value is a pure function of (table, column, row key),
// written as explicit integer arithmetic in SQL so that any DuckDB version
// produces the same data: no random(), setseed() or hash().
//
// A row's key (a BIGINT >= 0) is first folded to 32 bits and mixed with
// Chris Wellons' "lowbias32" integer hash. The mix needs each intermediate
// value twice (x ^ x>>16), so every round is its own projection over a
// column instead of a nested expression that would be evaluated repeatedly.
// The result is a well-spread 32-bit column _h. Each generated column then
// derives its own value from _h with a per-column salt:
//
//	((_h XOR s) * a + b) mod 4294967291
//
// where s, a and b come from FNV-1a of "table.column" (see saltFor), all
// below 2^32 so every product fits in a UBIGINT.

// seed perturbs every salt. It was chosen once so that all 22 TPC-H queries
// return rows at scale 0.01; changing it changes all generated data.
const seed = "sluice-tpch-10"

const (
	mask32  = "4294967295" // 2^32-1
	prime32 = 4294967291   // largest prime below 2^32
)

// splitmix64 is a strong 64-bit finaliser used only on the Go side to turn a
// name into salt constants.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// saltFor returns the three 32-bit constants of one named stream.
func saltFor(name string) (s, a, b uint64) {
	h := fnv.New64a()
	h.Write([]byte(seed))
	h.Write([]byte{0})
	h.Write([]byte(name))
	x := h.Sum64()
	x = splitmix64(x)
	s = x & 0xFFFFFFFF
	x = splitmix64(x)
	a = 1 + (x&0xFFFFFFFF)%(prime32-1)
	x = splitmix64(x)
	b = x & 0xFFFFFFFF
	return s, a, b
}

// hashed wraps the row source src (a parenthesised subquery or table name)
// so that it gains the mixed 32-bit column _h computed from the BIGINT
// expression key. All columns of src are passed through.
func hashed(src, key, stream string) string {
	s, _, _ := saltFor(stream + "#row")
	k := "CAST(" + key + " AS UBIGINT)"
	q := fmt.Sprintf("(SELECT *, xor(xor(%s & %s, ((%s >> 32) * 2654435761) & %s), %d) AS _h FROM %s)",
		k, mask32, k, mask32, s, src)
	q = fmt.Sprintf("(SELECT * REPLACE ((xor(_h, _h >> 16) * 2146121005) & %s AS _h) FROM %s)", mask32, q)
	q = fmt.Sprintf("(SELECT * REPLACE ((xor(_h, _h >> 15) * 2221713035) & %s AS _h) FROM %s)", mask32, q)
	q = fmt.Sprintf("(SELECT * REPLACE (xor(_h, _h >> 16) AS _h) FROM %s)", q)
	return q
}

// stream names the pseudo-random columns of one table.
type stream string

// u is a UBIGINT expression uniformly spread over [0, 4294967291).
func (t stream) u(col string) string {
	s, a, b := saltFor(string(t) + "." + col)
	return fmt.Sprintf("((xor(_h, %d) * %d + %d) %% %d)", s, a, b, prime32)
}

// n is a BIGINT expression uniform in [lo, hi].
func (t stream) n(col string, lo, hi int64) string {
	return fmt.Sprintf("(CAST(%s %% %d AS BIGINT) + %d)", t.u(col), hi-lo+1, lo)
}

// pick is an expression choosing one element of words uniformly.
func (t stream) pick(col string, words []string) string {
	return fmt.Sprintf("%s[%s]", sqlList(words), t.n(col, 1, int64(len(words))))
}

// textKey is the BIGINT key (1..textParagraphs) of the pool paragraph a
// comment column is cut from; the paragraph is joined as _tx on it.
func (t stream) textKey(col string) string {
	return t.n(col+"#para", 1, textParagraphs)
}

// comment is a substring of the joined pool paragraph _tx.p of length lo..hi
// at a random start, like dbgen's TEXT() which cuts its comments out of a
// pool of generated sentences.
func (t stream) comment(col string, lo, hi int64) string {
	return fmt.Sprintf("substr(_tx.p, %s, %s)",
		t.n(col+"#off", 1, textParagraphLen-hi+1),
		t.n(col+"#len", lo, hi))
}

// addrKey is the BIGINT key (1..addrStrings) of the random pool string an
// address is cut from; the string is joined as _ta on it.
func (t stream) addrKey(col string) string {
	return t.n(col+"#str", 1, addrStrings)
}

// address is a random v-string of 10 to 40 characters from dbgen's 64-symbol
// alphabet: a random piece of the joined pool string _ta.a.
func (t stream) address(col string) string {
	return fmt.Sprintf("substr(_ta.a, %s, %s)",
		t.n(col+"#off", 1, addrStringLen-40+1),
		t.n(col+"#len", 10, 40))
}

// phone is 'CC-LLL-LLL-LLLL' with CC = nationkey + 10; nk must be a column.
func (t stream) phone(col, nk string) string {
	return fmt.Sprintf("CAST(%s + 10 AS VARCHAR) || '-' || CAST(%s AS VARCHAR) || '-' || CAST(%s AS VARCHAR) || '-' || CAST(%s AS VARCHAR)",
		nk, t.n(col+"#1", 100, 999), t.n(col+"#2", 100, 999), t.n(col+"#3", 1000, 9999))
}

// money turns an integer amount of cents into DECIMAL(15,2) exactly.
func money(cents string) string {
	return "CAST(CAST(" + cents + " AS DECIMAL(15,0)) * 0.01 AS DECIMAL(15,2))"
}
