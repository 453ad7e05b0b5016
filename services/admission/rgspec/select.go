package rgspec

import (
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Input is what selection looks at: the query's identity, session and headers.
type Input struct {
	// User is the session user (after impersonation).
	User string
	// OriginalUser is the user before impersonation; "" means the same as User, which is
	// what Trino reports when nobody was impersonated.
	OriginalUser string
	// AuthenticatedUser is the authenticated principal's user name; "" means none, and a
	// selector with authenticatedUser then does not match.
	AuthenticatedUser string
	// Source is the client's source (X-Trino-Source); "" means none, and a selector with
	// source then does not match. ${SOURCE} expands to "" in that case, as in Trino.
	Source string
	// ClientInfo, Principal and Schema feed prestodb's selectors of the same names; ""
	// means absent, and such a selector then does not match.
	ClientInfo, Principal, Schema string
	// QueryText is the SQL text, matched by Trino's queryText selector.
	QueryText string
	// UserGroups are the user's groups, from the user-group mapping (see UserGroups).
	UserGroups []string
	// QueryType is the statement's kind, as sqltext.QueryType returns it; "" when unknown, and a
	// selector with queryType then does not match.
	QueryType string
	// ClientTags are the client's tags (X-Trino-Client-Tags).
	ClientTags []string
	// ResourceEstimate holds the Resource-Estimate header's entries, keyed as sent (the
	// keys are compared case-insensitively): EXECUTION_TIME and CPU_TIME are durations
	// ("5m"), PEAK_MEMORY a data size ("1GB"). A missing or malformed entry is absent.
	ResourceEstimate map[string]string
}

// Selection is the group a selector chose: its expanded ID segments and the spec of each
// segment (same length), from the root down to the leaf.
type Selection struct {
	// ID is the expanded group ID, one entry per segment, e.g. ["global", "adhoc", "alice"].
	ID []string
	// Specs[i] is the spec that ID[i] instantiates.
	Specs []*GroupSpec
	// Selector is the Index of the selector that matched.
	Selector int
}

// GroupIDString returns a group ID as text: its segments joined with ".". A segment that
// came from a variable may itself contain "." (Trino does not escape or replace it), so
// use the segments, not this string, as a key.
func GroupIDString(id []string) string { return strings.Join(id, ".") }

type selRegex struct {
	field    string
	re       *regexp.Regexp
	captures []capture
}

type capture struct {
	name  string
	index int
}

// value returns the input value the regex field looks at, and whether the input has one.
func (r *selRegex) value(in *Input) (string, bool) {
	switch r.field {
	case "user":
		return in.User, true
	case "originalUser":
		if in.OriginalUser == "" {
			return in.User, true
		}
		return in.OriginalUser, true
	case "authenticatedUser":
		return in.AuthenticatedUser, in.AuthenticatedUser != ""
	case "source":
		return in.Source, in.Source != ""
	case "clientInfo":
		return in.ClientInfo, in.ClientInfo != ""
	case "principal":
		return in.Principal, in.Principal != ""
	case "schema":
		return in.Schema, in.Schema != ""
	case "queryText":
		return in.QueryText, true
	}
	return "", false
}

// collect records the named captures that took part in the match m of v.
func (r *selRegex) collect(v string, m []int, vars map[string]string) {
	for _, c := range r.captures {
		if lo, hi := m[2*c.index], m[2*c.index+1]; lo >= 0 {
			if _, done := vars[c.name]; !done {
				vars[c.name] = v[lo:hi]
			}
		}
	}
}

// Select evaluates the selectors in order and returns the first match; every field a
// selector gives must match. It expands the selector's group template with ${USER},
// ${SOURCE} and the named captures of the selector's regexes, and pairs each segment
// with its spec. ok is false when no selector matches, and also when the first matching
// selector's template cannot be expanded (a named capture took no part in the match, or
// a segment expands to ""): Trino fails the query then rather than trying later
// selectors. Select works on Configs returned by Parse and is safe for concurrent use.
func (c *Config) Select(in Input) (Selection, bool) {
	var est *estimates
	for _, s := range c.Selectors {
		if s.ExecutionTime != nil || s.CPUTime != nil || s.PeakMemory != nil {
			if est == nil {
				est = parseEstimates(in.ResourceEstimate)
			}
		}
		vars, ok := s.match(&in, est)
		if !ok {
			continue
		}
		if len(s.specs) != len(s.segments) || len(s.specs) == 0 {
			return Selection{}, false
		}
		id := make([]string, len(s.segments))
		for i, seg := range s.segments {
			v, ok := seg.expand(vars)
			if !ok || v == "" {
				return Selection{}, false
			}
			id[i] = v
		}
		return Selection{ID: id, Specs: append([]*GroupSpec(nil), s.specs...), Selector: s.Index}, true
	}
	return Selection{}, false
}

// match reports whether the selector matches and returns the template variables.
func (s *Selector) match(in *Input, est *estimates) (map[string]string, bool) {
	vars := map[string]string{}
	for i := range s.regexes {
		r := &s.regexes[i]
		if r.field == "userGroup" {
			// Trino matches every group; the captures come from the first group, in
			// the order given, that matches.
			matched := false
			for _, g := range in.UserGroups {
				if m := r.re.FindStringSubmatchIndex(g); m != nil {
					r.collect(g, m, vars)
					matched = true
					break
				}
			}
			if !matched {
				return nil, false
			}
			continue
		}
		v, present := r.value(in)
		if !present {
			return nil, false
		}
		m := r.re.FindStringSubmatchIndex(v)
		if m == nil {
			return nil, false
		}
		r.collect(v, m, vars)
	}
	if s.QueryType != "" && !strings.EqualFold(s.QueryType, in.QueryType) {
		return nil, false
	}
	for _, want := range s.ClientTags {
		found := false
		for _, t := range in.ClientTags {
			if t == want {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	if !est.match(s) {
		return nil, false
	}
	vars["USER"] = in.User
	vars["SOURCE"] = in.Source
	return vars, true
}

// estimates is the parsed Resource-Estimate header: milliseconds and bytes.
type estimates struct {
	executionTime, cpuTime, peakMemory *int64
}

func parseEstimates(m map[string]string) *estimates {
	e := &estimates{}
	for k, v := range m {
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "EXECUTION_TIME":
			if d, err := protocol.ParseDuration(v); err == nil {
				ms := d.Milliseconds()
				e.executionTime = &ms
			}
		case "CPU_TIME":
			if d, err := protocol.ParseDuration(v); err == nil {
				ms := d.Milliseconds()
				e.cpuTime = &ms
			}
		case "PEAK_MEMORY":
			if b, err := parseDataSize(v); err == nil {
				e.peakMemory = &b
			}
		}
	}
	return e
}

// match reports whether every range the selector gives contains the query's estimate; a
// range on a dimension the query gives no estimate for does not match.
func (e *estimates) match(s *Selector) bool {
	check := func(r *Range, v *int64) bool {
		return r == nil || (v != nil && r.Contains(*v))
	}
	if e == nil {
		return s.ExecutionTime == nil && s.CPUTime == nil && s.PeakMemory == nil
	}
	return check(s.ExecutionTime, e.executionTime) && check(s.CPUTime, e.cpuTime) && check(s.PeakMemory, e.peakMemory)
}
