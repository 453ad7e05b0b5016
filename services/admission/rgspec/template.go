package rgspec

import (
	"fmt"
	"strings"
)

// nameTemplate is a group name split into literal text and ${VARIABLE} references, the
// way Trino's ResourceGroupNameTemplate reads it: a variable name is a letter followed by
// letters and digits, and any other '$', '{' or '}' is an error.
type nameTemplate struct {
	raw   string
	parts []fragment
}

type fragment struct {
	literal  string
	variable string // non-empty for a ${variable} reference
}

// parseNameTemplate parses one group name (one segment of a selector's group).
func parseNameTemplate(s string) (nameTemplate, error) {
	if s == "" {
		return nameTemplate{}, fmt.Errorf("must not be empty")
	}
	if strings.Contains(s, ".") {
		return nameTemplate{}, fmt.Errorf("must not contain '.' (got %q)", s)
	}
	t := nameTemplate{raw: s}
	last := 0
	for _, m := range variableRE.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			t.parts = append(t.parts, fragment{literal: s[last:m[0]]})
		}
		t.parts = append(t.parts, fragment{variable: s[m[2]:m[3]]})
		last = m[1]
	}
	if last < len(s) {
		t.parts = append(t.parts, fragment{literal: s[last:]})
	}
	for _, p := range t.parts {
		if p.variable == "" && strings.ContainsAny(p.literal, "${}") {
			return nameTemplate{}, fmt.Errorf("%q has a '$', '{' or '}' outside a ${VARIABLE} reference (variable names are a letter followed by letters and digits)", s)
		}
	}
	return t, nil
}

// variables returns the variable names the template uses, in order of first use.
func (t nameTemplate) variables() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.variable != "" && !seen[p.variable] {
			seen[p.variable] = true
			out = append(out, p.variable)
		}
	}
	return out
}

// expand substitutes the variables. It reports false when a variable has no value, which
// happens when a named capture took no part in the match.
func (t nameTemplate) expand(vars map[string]string) (string, bool) {
	if len(t.parts) == 1 && t.parts[0].variable == "" {
		return t.parts[0].literal, true
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.variable == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := vars[p.variable]
		if !ok {
			return "", false
		}
		b.WriteString(v)
	}
	return b.String(), true
}
