package routing

import (
	"slices"
	"strings"
)

// Input is what routing looks at in a query.
type Input struct {
	// HeaderGroup is the value of the X-Trino-Routing-Group or X-Presto-Routing-Group
	// header (see HeaderGroup); a non-empty value wins over every rule.
	HeaderGroup string
	// User is the user the query runs as.
	User string
	// Source is the client's source string.
	Source string
	// ClientTags are the client's tags.
	ClientTags []string
	// QueryType is the query's type, one of QueryTypes, or "" when not known (then rules
	// with a queryType do not match).
	QueryType string
}

// Via says what decided a routing group.
type Via uint8

// The deciders of a routing group.
const (
	// ViaUnspecified is the zero value; Select never returns it.
	ViaUnspecified Via = iota
	// ViaHeader: the client's routing group header.
	ViaHeader
	// ViaRule: a rule of the configuration.
	ViaRule
	// ViaDefault: no rule matched; the configuration's default group.
	ViaDefault
)

// String returns "header", "rule", "default" or "unspecified".
func (v Via) String() string {
	switch v {
	case ViaHeader:
		return "header"
	case ViaRule:
		return "rule"
	case ViaDefault:
		return "default"
	}
	return "unspecified"
}

// Result is a routing decision.
type Result struct {
	// Group is the routing group; "" is the default group.
	Group string
	// Via says what decided.
	Via Via
	// Rule is the name of the matching rule when Via is ViaRule.
	Rule string
}

// String explains the result: `etl (rule etl)`, `adhoc (header)`, `"" (default)`.
func (r Result) String() string {
	g := r.Group
	if g == "" {
		g = `""`
	}
	if r.Via == ViaRule {
		return g + " (rule " + r.Rule + ")"
	}
	return g + " (" + r.Via.String() + ")"
}

// Select returns the routing group of in: the header group when set (trimmed of
// spaces), else the group of the first rule that matches, else DefaultGroup. A nil c has
// no rules.
func (c *Config) Select(in Input) Result {
	if g := strings.TrimSpace(in.HeaderGroup); g != "" {
		return Result{Group: g, Via: ViaHeader}
	}
	if c == nil {
		return Result{Via: ViaDefault}
	}
	for i := range c.Rules {
		if r := &c.Rules[i]; r.Matches(in) {
			return Result{Group: r.Group, Via: ViaRule, Rule: r.Name}
		}
	}
	return Result{Group: c.DefaultGroup, Via: ViaDefault}
}

// Matches reports whether every condition of r holds for in. It ignores in.HeaderGroup.
func (r *Rule) Matches(in Input) bool {
	if r.QueryType != "" && !strings.EqualFold(r.QueryType, in.QueryType) {
		return false
	}
	for _, t := range r.ClientTags {
		if !slices.Contains(in.ClientTags, t) {
			return false
		}
	}
	if r.User != nil && !r.User.MatchString(in.User) {
		return false
	}
	return r.Source == nil || r.Source.MatchString(in.Source)
}
