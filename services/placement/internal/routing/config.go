package routing

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/confcheck"
)

// Config is a parsed, valid routing configuration. The zero value (and a nil *Config)
// has no rules and the default group "".
type Config struct {
	// DefaultGroup is the group of queries no rule matches; "" is the default group.
	DefaultGroup string
	// Rules are tried in order; the first that matches decides.
	Rules []Rule
}

// Rule routes the queries that meet all its conditions to Group. A condition left out
// (nil or empty) holds for every query.
type Rule struct {
	// Name identifies the rule in results; it is "rules[i]" when the file names none.
	Name string
	// User must match the whole user name. It is anchored: String returns ^(?:…)$.
	User *regexp.Regexp
	// Source must match the whole source string; anchored like User.
	Source *regexp.Regexp
	// ClientTags must all be among the query's client tags.
	ClientTags []string
	// QueryType, one of QueryTypes, must equal the query's type.
	QueryType string
	// Group is the routing group of the queries the rule matches; never "".
	Group string
}

// ruleJSON is the JSON shape of a rule. Pointers tell a field left out from an empty one.
type ruleJSON struct {
	Name       string   `json:"name"`
	User       *string  `json:"user"`
	Source     *string  `json:"source"`
	ClientTags []string `json:"clientTags"`
	QueryType  *string  `json:"queryType"`
	Group      string   `json:"group"`
}

type configJSON struct {
	DefaultGroup string            `json:"defaultGroup"`
	Rules        []json.RawMessage `json:"rules"`
}

// Load reads and parses the routing configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("routing: %s: %w", path, err)
	}
	return c, nil
}

// Parse parses and validates a routing configuration (see the package documentation for
// the format). Unknown fields are errors. On failure it returns a *ValidationError that
// lists every problem with its JSON path, e.g. "rules[2].user: invalid regex: …".
func Parse(data []byte) (*Config, error) {
	var raw configJSON
	if err := confcheck.DecodeStrict(data, &raw); err != nil {
		return nil, invalid([]FieldError{confcheck.Locate("", err)})
	}
	c := &Config{DefaultGroup: strings.TrimSpace(raw.DefaultGroup)}
	var errs []FieldError
	names := map[string]int{}
	for i, rr := range raw.Rules {
		path := confcheck.Index("rules", i)
		var rj ruleJSON
		if err := confcheck.DecodeStrict(rr, &rj); err != nil {
			errs = append(errs, confcheck.Locate(path, err))
			continue
		}
		r, rerrs := compileRule(path, i, rj)
		errs = append(errs, rerrs...)
		if rj.Name != "" {
			if j, dup := names[rj.Name]; dup {
				errs = append(errs, FieldError{Path: path + ".name", Message: fmt.Sprintf("duplicate rule name %q (also rules[%d])", rj.Name, j)})
			} else {
				names[rj.Name] = i
			}
		}
		c.Rules = append(c.Rules, r)
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return c, nil
}

// compileRule checks rule i, at path, and compiles its expressions.
func compileRule(path string, i int, rj ruleJSON) (Rule, []FieldError) {
	var errs []FieldError
	fail := func(field, msg string) { errs = append(errs, FieldError{Path: path + "." + field, Message: msg}) }
	r := Rule{Name: rj.Name, ClientTags: rj.ClientTags, Group: strings.TrimSpace(rj.Group)}
	if r.Name == "" {
		r.Name = "rules[" + strconv.Itoa(i) + "]"
	}
	var err error
	if r.User, err = compileFull(rj.User); err != nil {
		fail("user", err.Error())
	}
	if r.Source, err = compileFull(rj.Source); err != nil {
		fail("source", err.Error())
	}
	for k, tag := range rj.ClientTags {
		if tag == "" {
			fail("clientTags["+strconv.Itoa(k)+"]", "must not be empty")
		}
	}
	if rj.QueryType != nil {
		qt, ok := canonicalQueryType(*rj.QueryType)
		if !ok {
			fail("queryType", fmt.Sprintf("unknown query type %q (want one of %s)", *rj.QueryType, strings.Join(QueryTypes, ", ")))
		}
		r.QueryType = qt
	}
	if r.Group == "" {
		fail("group", "must not be empty")
	}
	return r, errs
}

// compileFull compiles a pattern that must match a whole value; nil for no pattern.
func compileFull(p *string) (*regexp.Regexp, error) {
	if p == nil {
		return nil, nil
	}
	if *p == "" {
		return nil, fmt.Errorf("must not be empty (leave the field out to match any value)")
	}
	// Compile the pattern as written first, so that an error quotes the user's text.
	if _, err := regexp.Compile(*p); err != nil {
		return nil, fmt.Errorf("invalid regex: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return regexp.Compile("^(?:" + *p + ")$")
}
