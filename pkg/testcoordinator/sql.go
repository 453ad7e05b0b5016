package testcoordinator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// token is one lexical token of the SQL subset, with its 1-based position.
type token struct {
	kind      tokenKind
	text      string
	line, col int
}

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokWord
	tokNumber
	tokString
	tokPunct
)

// lex splits sql into tokens; an unterminated string becomes one token that the parser
// rejects.
func lex(sql string) []token {
	var out []token
	line, col := 1, 1
	for i := 0; i < len(sql); {
		r, size := utf8.DecodeRuneInString(sql[i:])
		start, startCol := i, col
		switch {
		case r == '\n':
			line, col = line+1, 1
			i += size
			continue
		case r == ' ' || r == '\t' || r == '\r':
			i, col = i+size, col+1
			continue
		case r == '\'':
			j := i + 1
			for j < len(sql) {
				if sql[j] == '\'' {
					if j+1 < len(sql) && sql[j+1] == '\'' {
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
			kind := tokString
			if j > len(sql) || !closedString(sql[start:j]) {
				kind = tokPunct // unterminated: never a literal
			}
			i = j
			out = append(out, token{kind, sql[start:i], line, startCol})
		case isWordRune(r):
			for i < len(sql) {
				r2, s2 := utf8.DecodeRuneInString(sql[i:])
				if !isWordRune(r2) && (r2 < '0' || r2 > '9') {
					break
				}
				i += s2
			}
			out = append(out, token{tokWord, sql[start:i], line, startCol})
		case r >= '0' && r <= '9':
			for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
				i++
			}
			out = append(out, token{tokNumber, sql[start:i], line, startCol})
		default:
			i += size
			out = append(out, token{tokPunct, sql[start:i], line, startCol})
		}
		col += utf8.RuneCountInString(sql[start:i])
	}
	return append(out, token{kind: tokEOF, text: "<EOF>", line: line, col: col})
}

// closedString reports whether a quoted token ends with a quote that is not escaped.
func closedString(s string) bool {
	if len(s) < 2 {
		return false
	}
	body := s[1:]
	for body != "" {
		i := strings.IndexByte(body, '\'')
		if i < 0 {
			return false
		}
		if i+1 < len(body) && body[i+1] == '\'' {
			body = body[i+2:]
			continue
		}
		return i == len(body)-1
	}
	return false
}

func isWordRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

// builtin runs the SQL subset: SELECT literal [[AS] alias], … [;]. Anything else is a
// syntax error at the first token that does not fit.
func (c *Coordinator) builtin(sql string) (Result, *protocol.QueryError) {
	toks := lex(sql)
	p := 0
	if !strings.EqualFold(toks[p].text, "SELECT") {
		return Result{}, c.syntaxError(toks[p], "'SELECT', 'WITH', 'VALUES', 'SHOW', 'INSERT', 'CREATE', …")
	}
	p++
	var res Result
	row := []any{}
	for {
		t := toks[p]
		col, val, ok := literal(toks, &p)
		if !ok {
			return Result{}, c.syntaxError(t, "<expression>")
		}
		col.Name = fmt.Sprintf("_col%d", len(res.Columns))
		if strings.EqualFold(toks[p].text, "AS") {
			p++
			if toks[p].kind != tokWord {
				return Result{}, c.syntaxError(toks[p], "<identifier>")
			}
		}
		if toks[p].kind == tokWord && !strings.EqualFold(toks[p].text, "FROM") {
			col.Name = strings.ToLower(toks[p].text)
			p++
		}
		res.Columns = append(res.Columns, col)
		row = append(row, val)
		if toks[p].text != "," {
			break
		}
		p++
	}
	if toks[p].text == ";" {
		p++
	}
	if toks[p].kind != tokEOF {
		return Result{}, c.syntaxError(toks[p], "',', <EOF>")
	}
	res.Rows = [][]any{row}
	return res, nil
}

// literal parses one literal at toks[*p]: [-]integer, 'string', TRUE, FALSE or NULL.
func literal(toks []token, p *int) (protocol.Column, any, bool) {
	t := toks[*p]
	switch {
	case t.kind == tokPunct && t.text == "-" && toks[*p+1].kind == tokNumber:
		*p++
		col, v, ok := intLiteral("-" + toks[*p].text)
		*p++
		return col, v, ok
	case t.kind == tokNumber:
		*p++
		return intLiteral(t.text)
	case t.kind == tokString:
		*p++
		s := strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'")
		return protocol.Column{Type: fmt.Sprintf("varchar(%d)", utf8.RuneCountInString(s))}, s, true
	case t.kind == tokWord && (strings.EqualFold(t.text, "TRUE") || strings.EqualFold(t.text, "FALSE")):
		*p++
		return protocol.Column{Type: "boolean"}, strings.EqualFold(t.text, "TRUE"), true
	case t.kind == tokWord && strings.EqualFold(t.text, "NULL"):
		*p++
		return protocol.Column{Type: "unknown"}, nil, true
	}
	return protocol.Column{}, nil, false
}

// intLiteral types an integer literal as the engines do: integer when it fits 32 bits.
func intLiteral(s string) (protocol.Column, any, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return protocol.Column{}, nil, false
	}
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return protocol.Column{Type: "integer"}, n, true
	}
	return protocol.Column{Type: "bigint"}, n, true
}

// syntaxError is the engines' SYNTAX_ERROR for the token t.
func (c *Coordinator) syntaxError(t token, expecting string) *protocol.QueryError {
	text := t.text
	if t.kind != tokEOF {
		text = "'" + text + "'"
	}
	msg := fmt.Sprintf("line %d:%d: mismatched input %s. Expecting: %s", t.line, t.col, text, expecting)
	loc := &protocol.ErrorLocation{LineNumber: t.line, ColumnNumber: t.col}
	e := c.newError(protocol.SyntaxError, msg)
	e.ErrorLocation = loc
	e.FailureInfo.ErrorLocation = loc
	e.FailureInfo.Type = "io.trino.sql.parser.ParsingException"
	if c.opts.Flavor == events.ProtocolPresto {
		e.FailureInfo.Type = "com.facebook.presto.sql.parser.ParsingException"
	}
	return e
}

// columns returns cols with a type signature derived from Type where RawType is empty.
func columns(cols []protocol.Column) []protocol.Column {
	if cols == nil {
		return nil
	}
	out := make([]protocol.Column, len(cols))
	for i, col := range cols {
		if col.TypeSignature.RawType == "" {
			col.TypeSignature = typeSignature(col.Type)
		}
		out[i] = col
	}
	return out
}

// typeSignature parses a Trino type name: numeric parameters become LONG arguments, type
// parameters TYPE arguments, and an unbounded varchar gets length 2147483647.
func typeSignature(typ string) protocol.TypeSignature {
	typ = strings.TrimSpace(typ)
	name, params, ok := strings.Cut(typ, "(")
	sig := protocol.TypeSignature{RawType: strings.ToLower(strings.TrimSpace(name)), Arguments: []protocol.TypeArgument{}}
	if !ok {
		if sig.RawType == "varchar" {
			sig.Arguments = append(sig.Arguments, protocol.TypeArgument{Kind: "LONG", Value: int64(math.MaxInt32)})
		}
		return sig
	}
	for _, p := range splitTopLevel(strings.TrimSuffix(params, ")")) {
		p = strings.TrimSpace(p)
		if n, err := strconv.ParseInt(p, 10, 64); err == nil {
			sig.Arguments = append(sig.Arguments, protocol.TypeArgument{Kind: "LONG", Value: n})
			continue
		}
		sig.Arguments = append(sig.Arguments, protocol.TypeArgument{Kind: "TYPE", Value: typeSignature(p)})
	}
	return sig
}

// splitTopLevel splits s at commas outside parentheses.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
