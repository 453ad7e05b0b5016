package sqltext

import (
	"slices"
	"strings"
)

// Tables returns the tables a statement names after FROM, JOIN, INTO, UPDATE, TABLE or
// MERGE INTO (for placement's data locality), fully qualified with the session's catalog
// and schema and lower-cased ("tpch.tiny.lineitem"), sorted and without duplicates. Names
// of common table expressions are left out. It reads names, not meaning: a name it cannot
// qualify (no session catalog or schema) is returned as far as it is known, and a table
// inside a string or a function call is not seen.
func Tables(sql, catalog, schema string) []string {
	l := &lexer{s: sql}
	var names [][]string
	ctes := map[string]bool{}
	var prev token
	for {
		t, ok := l.next()
		if !ok {
			break
		}
		switch {
		case t.kind == tokWord && t.text == "AS" && (prev.kind == tokWord || prev.kind == tokQuoted):
			if n, ok := l.peek(); ok && n.is("(") {
				ctes[strings.ToLower(prev.text)] = true
			}
		case t.kind == tokWord && (t.text == "FROM" || t.text == "JOIN" || t.text == "INTO" || t.text == "UPDATE" || t.text == "TABLE"):
			for {
				name := qualifiedName(l)
				if len(name) == 0 {
					break
				}
				names = append(names, name)
				skipAlias(l)
				if n, ok := l.peek(); !ok || !n.is(",") || t.text != "FROM" {
					break
				}
				l.next()
			}
		}
		prev = t
	}
	var out []string
	for _, n := range names {
		if len(n) == 1 && ctes[strings.ToLower(n[0])] {
			continue
		}
		switch len(n) {
		case 1:
			n = append([]string{catalog, schema}, n...)
		case 2:
			n = append([]string{catalog}, n...)
		}
		parts := make([]string, 0, 3)
		for _, p := range n {
			if p != "" {
				parts = append(parts, strings.ToLower(p))
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// qualifiedName reads a dotted name (a, a.b or a.b.c) at the lexer's position; nil when
// what follows is not a name (a subquery, a function, a keyword like LATERAL).
func qualifiedName(l *lexer) []string {
	var name []string
	for {
		t, ok := l.peek()
		if !ok || (t.kind != tokWord && t.kind != tokQuoted) {
			return nil
		}
		if t.kind == tokWord && len(name) == 0 && (t.text == "LATERAL" || t.text == "UNNEST" || t.text == "SELECT" || t.text == "VALUES") {
			return nil
		}
		l.next()
		name = append(name, t.text)
		if n, ok := l.peek(); ok && n.is(".") && len(name) < 3 {
			l.next()
			continue
		}
		if n, ok := l.peek(); ok && n.is("(") {
			return nil // a table function
		}
		return name
	}
}

// clauseWords end a FROM item: after them no alias follows.
var clauseWords = map[string]bool{"WHERE": true, "JOIN": true, "ON": true, "USING": true, "GROUP": true, "ORDER": true,
	"HAVING": true, "LIMIT": true, "UNION": true, "EXCEPT": true, "INTERSECT": true, "LEFT": true, "RIGHT": true,
	"FULL": true, "INNER": true, "CROSS": true, "NATURAL": true, "WINDOW": true, "OFFSET": true, "FETCH": true,
	"SELECT": true, "VALUES": true, "SET": true, "TABLESAMPLE": true, "FOR": true}

// skipAlias reads an optional alias after a FROM item: [AS] name [(columns)].
func skipAlias(l *lexer) {
	t, ok := l.peek()
	if !ok {
		return
	}
	if t.isWord("AS") {
		l.next()
		t, ok = l.peek()
		if !ok {
			return
		}
	}
	if (t.kind == tokWord && !clauseWords[t.text]) || t.kind == tokQuoted {
		l.next()
		if n, ok := l.peek(); ok && n.is("(") {
			for depth := 0; ; {
				n, ok := l.next()
				if !ok {
					return
				}
				if n.is("(") {
					depth++
				} else if n.is(")") {
					if depth--; depth == 0 {
						return
					}
				}
			}
		}
	}
}
