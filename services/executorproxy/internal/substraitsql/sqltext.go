package substraitsql

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// oneofName is the proto field name set in the oneof called oneof of m ("unset" when none
// is), for paths and error messages.
func oneofName(m protoreflect.ProtoMessage, oneof string) string {
	r := m.ProtoReflect()
	if !r.IsValid() {
		return "unset"
	}
	od := r.Descriptor().Oneofs().ByName(protoreflect.Name(oneof))
	if od == nil {
		return "unknown"
	}
	if f := r.WhichOneof(od); f != nil {
		return string(f.Name())
	}
	return "unset"
}

// quoteString renders s as a SQL string literal. Line breaks become chr() calls so that
// generated SQL never holds a raw line break inside a literal (indentation stays safe).
func quoteString(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' && s[i] != '\r' {
			continue
		}
		if i > start {
			parts = append(parts, "'"+strings.ReplaceAll(s[start:i], "'", "''")+"'")
		}
		if s[i] == '\n' {
			parts = append(parts, "chr(10)")
		} else {
			parts = append(parts, "chr(13)")
		}
		start = i + 1
	}
	if start < len(s) {
		parts = append(parts, "'"+strings.ReplaceAll(s[start:], "'", "''")+"'")
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// quoteIdent renders a SQL identifier in double quotes; ok is false for names DuckDB
// cannot take or that would break the generated SQL's layout (empty, NUL or line breaks).
func quoteIdent(s string) (string, bool) {
	if s == "" || strings.ContainsAny(s, "\x00\n\r") {
		return "", false
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`, true
}

// indent prefixes every line of s with two spaces.
func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// unparen removes one pair of parentheses that encloses all of s, e.g. "(a = b)" but not
// "(a) + (b)". String literals and quoted identifiers are skipped while matching.
func unparen(s string) string {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return s
	}
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return s
			}
		}
	}
	inner := s[1 : len(s)-1]
	if depth != 0 || strings.HasPrefix(inner, "\n") || strings.HasPrefix(inner, "SELECT") {
		return s // unbalanced, or a subquery's own parentheses
	}
	return inner
}
