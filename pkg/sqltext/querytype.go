// Package sqltext reads just enough of SQL text for routing decisions without parsing it:
// the statement's query type (as Trino's resource-group selectors and routing rules see it)
// and the tables it reads.
package sqltext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// QueryType classifies SQL text into the queryType a selector matches, the way Trino's
// StatementUtils maps statement kinds, by looking at the leading keywords after skipping
// whitespace, comments (-- and /* */) and opening parentheses. Keywords are
// case-insensitive.
//
//   - SELECT: SELECT, WITH, VALUES, TABLE (queries).
//   - EXPLAIN: EXPLAIN [(options)] statement. EXPLAIN ANALYZE [VERBOSE] statement has the
//     type of the statement it runs, as in Trino (StatementUtils.getQueryType unwraps it,
//     and the Trino docs say EXPLAIN excludes EXPLAIN ANALYZE).
//   - DESCRIBE: DESCRIBE, DESC, DESCRIBE INPUT/OUTPUT and every SHOW statement.
//   - INSERT: INSERT, CREATE [OR REPLACE] TABLE ... AS query (CTAS), REFRESH MATERIALIZED VIEW.
//   - UPDATE, DELETE, MERGE, ANALYZE: the statements of those names.
//   - ALTER_TABLE_EXECUTE: ALTER TABLE [IF EXISTS] name EXECUTE ...
//   - DATA_DEFINITION: other CREATE, ALTER and DROP statements, GRANT, REVOKE, DENY,
//     COMMENT, SET, RESET, USE, CALL, START TRANSACTION, COMMIT, ROLLBACK, PREPARE,
//     DEALLOCATE, TRUNCATE.
//   - EXECUTE IMMEDIATE 'sql' has the type of the quoted SQL.
//
// Anything else returns "": EXECUTE of a prepared statement (its text lives in the
// session, which this function does not see), statements Trino does not map, and text
// that is not SQL. Trino also gives such queries no query type, so selectors with a
// queryType do not match them (Trino fails unparsable SQL before selection).
func QueryType(sql string) string {
	return classify(&lexer{s: sql}, 0)
}

func classify(l *lexer, depth int) string {
	t, ok := l.next()
	for ok && t.is("(") {
		t, ok = l.next()
	}
	if !ok || t.kind != tokWord {
		return ""
	}
	switch t.text {
	case "SELECT", "WITH", "VALUES", "TABLE":
		return "SELECT"
	case "EXPLAIN":
		if n, ok := l.peek(); ok && n.isWord("ANALYZE") {
			l.next()
			if n, ok := l.peek(); ok && n.isWord("VERBOSE") {
				l.next()
			}
			return classify(l, depth)
		}
		return "EXPLAIN"
	case "DESCRIBE", "DESC", "SHOW":
		return "DESCRIBE"
	case "INSERT":
		return "INSERT"
	case "REFRESH":
		return "INSERT"
	case "UPDATE":
		return "UPDATE"
	case "DELETE":
		return "DELETE"
	case "MERGE":
		return "MERGE"
	case "ANALYZE":
		return "ANALYZE"
	case "CREATE":
		return classifyCreate(l)
	case "ALTER":
		return classifyAlter(l)
	case "DROP", "GRANT", "REVOKE", "DENY", "COMMENT", "SET", "RESET", "USE", "CALL", "START",
		"COMMIT", "ROLLBACK", "PREPARE", "DEALLOCATE", "TRUNCATE":
		return "DATA_DEFINITION"
	case "EXECUTE":
		if n, ok := l.next(); ok && n.isWord("IMMEDIATE") && depth < 4 {
			if s, ok := l.next(); ok && s.kind == tokString {
				return classify(&lexer{s: s.text}, depth+1)
			}
		}
		return ""
	}
	return ""
}

// classifyCreate tells CREATE TABLE ... AS query (INSERT) from the other CREATE
// statements (DATA_DEFINITION), by looking for AS outside parentheses after TABLE.
func classifyCreate(l *lexer) string {
	t, ok := l.next()
	if ok && t.isWord("OR") {
		l.next() // REPLACE
		t, ok = l.next()
	}
	if !ok || !t.isWord("TABLE") {
		return "DATA_DEFINITION"
	}
	depth := 0
	for {
		t, ok := l.next()
		if !ok {
			return "DATA_DEFINITION"
		}
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case t.is(";") && depth <= 0:
			return "DATA_DEFINITION"
		case depth == 0 && t.isWord("AS"):
			return "INSERT"
		}
	}
}

// classifyAlter tells ALTER TABLE name EXECUTE (ALTER_TABLE_EXECUTE) from the other
// ALTER statements (DATA_DEFINITION).
func classifyAlter(l *lexer) string {
	t, ok := l.next()
	if !ok || !t.isWord("TABLE") {
		return "DATA_DEFINITION"
	}
	t, ok = l.next()
	if ok && t.isWord("IF") {
		if n, more := l.peek(); more && n.isWord("EXISTS") {
			l.next()
			t, ok = l.next()
		}
	}
	if !ok || (t.kind != tokWord && t.kind != tokQuoted) {
		return "DATA_DEFINITION"
	}
	for {
		n, ok := l.peek()
		if !ok || !n.is(".") {
			break
		}
		l.next()
		if _, ok := l.next(); !ok {
			return "DATA_DEFINITION"
		}
	}
	if t, ok := l.next(); ok && t.isWord("EXECUTE") {
		return "ALTER_TABLE_EXECUTE"
	}
	return "DATA_DEFINITION"
}

type tokKind int

const (
	tokWord   tokKind = iota // identifier or keyword, upper-cased
	tokQuoted                // "quoted identifier"
	tokString                // 'string literal', unescaped
	tokNumber
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(p string) bool     { return t.kind == tokPunct && t.text == p }
func (t token) isWord(w string) bool { return t.kind == tokWord && t.text == w }

// lexer splits SQL into just enough tokens to classify a statement.
type lexer struct {
	s      string
	i      int
	peeked *token
}

func (l *lexer) peek() (token, bool) {
	if l.peeked != nil {
		return *l.peeked, true
	}
	t, ok := l.scan()
	if ok {
		l.peeked = &t
	}
	return t, ok
}

func (l *lexer) next() (token, bool) {
	if l.peeked != nil {
		t := *l.peeked
		l.peeked = nil
		return t, true
	}
	return l.scan()
}

func (l *lexer) scan() (token, bool) {
	l.skipSpaceAndComments()
	if l.i >= len(l.s) {
		return token{}, false
	}
	c := l.s[l.i]
	switch {
	case c == '\'':
		return token{kind: tokString, text: l.quoted('\'')}, true
	case c == '"':
		return token{kind: tokQuoted, text: l.quoted('"')}, true
	case c >= '0' && c <= '9':
		start := l.i
		for l.i < len(l.s) && (isIdentByte(l.s[l.i]) || l.s[l.i] == '.') {
			l.i++
		}
		return token{kind: tokNumber, text: l.s[start:l.i]}, true
	case isIdentStart(l.s[l.i:]):
		start := l.i
		for l.i < len(l.s) {
			r, size := utf8.DecodeRuneInString(l.s[l.i:])
			if !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			l.i += size
		}
		return token{kind: tokWord, text: strings.ToUpper(l.s[start:l.i])}, true
	}
	_, size := utf8.DecodeRuneInString(l.s[l.i:])
	t := token{kind: tokPunct, text: l.s[l.i : l.i+size]}
	l.i += size
	return t, true
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r)
}

// quoted reads a literal quoted with q, in which a doubled q stands for one.
func (l *lexer) quoted(q byte) string {
	l.i++ // opening quote
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		if c != q {
			b.WriteByte(c)
			continue
		}
		if l.i < len(l.s) && l.s[l.i] == q {
			b.WriteByte(q)
			l.i++
			continue
		}
		break
	}
	return b.String()
}

func (l *lexer) skipSpaceAndComments() {
	for l.i < len(l.s) {
		r, size := utf8.DecodeRuneInString(l.s[l.i:])
		switch {
		case unicode.IsSpace(r):
			l.i += size
		case strings.HasPrefix(l.s[l.i:], "--"):
			if j := strings.IndexAny(l.s[l.i:], "\r\n"); j >= 0 {
				l.i += j
			} else {
				l.i = len(l.s)
			}
		case strings.HasPrefix(l.s[l.i:], "/*"):
			if j := strings.Index(l.s[l.i+2:], "*/"); j >= 0 {
				l.i += 2 + j + 2
			} else {
				l.i = len(l.s)
			}
		default:
			return
		}
	}
}
