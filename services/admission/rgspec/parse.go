package rgspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/confcheck"
	"github.com/sluicehq/sluice/pkg/protocol"
)

// The fields each object may have. Everything else is an error ("unknown field"), as in
// Trino's file manager, which enables Jackson's FAIL_ON_UNKNOWN_PROPERTIES.
var (
	topFields = []string{"rootGroups", "selectors", "cpuQuotaPeriod", "physicalDataScanQuotaPeriod"}

	groupFields = []string{
		"name", "maxQueued", "hardConcurrencyLimit", "maxRunning", "softConcurrencyLimit",
		"softMemoryLimit", "softCpuLimit", "hardCpuLimit", "schedulingPolicy", "schedulingWeight",
		"jmxExport", "subGroups",
		// Accepted for compatibility, not enforced (see unenforcedGroupFields).
		"id", "softPhysicalDataScanLimit", "hardPhysicalDataScanLimit", "perQueryLimits", "workersPerQueryLimit",
	}

	// unenforcedGroupFields is the order in which GroupSpec.Unenforced lists them.
	unenforcedGroupFields = []string{"id", "softPhysicalDataScanLimit", "hardPhysicalDataScanLimit", "perQueryLimits", "workersPerQueryLimit"}

	perQueryLimitFields = []string{"executionTimeLimit", "totalMemoryLimit", "cpuTimeLimit"}

	selectorFields = []string{
		"group", "user", "userGroup", "originalUser", "authenticatedUser", "source", "queryText",
		"clientInfo", "principal", "schema", "queryType", "clientTags", "selectorResourceEstimate",
	}

	estimateFields = []string{"executionTime", "cpuTime", "peakMemory"}
	rangeFields    = []string{"min", "max"}
)

// QueryTypes lists the valid queryType values of a selector, in the order of Trino's
// QueryType enum. Prestodb has all but MERGE and ALTER_TABLE_EXECUTE.
var QueryTypes = []string{"SELECT", "EXPLAIN", "DESCRIBE", "INSERT", "UPDATE", "DELETE", "ANALYZE", "DATA_DEFINITION", "ALTER_TABLE_EXECUTE", "MERGE"}

// Parse parses and validates a resource-group file in the JSON format of Trino's and
// prestodb's file resource-group manager. On failure it returns a *ValidationError that
// lists every problem found, each with the JSON path of the field at fault.
func Parse(data []byte) (*Config, error) {
	root, ferr := decodeJSON(data)
	if ferr != nil {
		return nil, &ValidationError{Errors: []FieldError{*ferr}}
	}
	p := &parser{}
	cfg := p.config(root)
	if len(p.errs) > 0 {
		return nil, &ValidationError{Errors: p.errs}
	}
	return cfg, nil
}

// decodeJSON decodes one JSON document, numbers kept as json.Number, and reports a syntax
// error with its line and column.
func decodeJSON(data []byte) (any, *FieldError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return nil, &FieldError{Message: "invalid JSON: the document is empty"}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &FieldError{Message: "invalid JSON at " + position(data, len(data)) + ": unexpected end of input"}
		case errors.As(err, &se):
			return nil, &FieldError{Message: "invalid JSON at " + position(data, int(se.Offset)-1) + ": " + se.Error()}
		default:
			return nil, &FieldError{Message: "invalid JSON: " + err.Error()}
		}
	}
	off := int(dec.InputOffset())
	for off < len(data) && isJSONSpace(data[off]) {
		off++
	}
	if off < len(data) {
		return nil, &FieldError{Message: "invalid JSON at " + position(data, off) + ": unexpected data after the top-level value"}
	}
	return v, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// position describes byte offset off of data as "line L, column C" (both from 1).
func position(data []byte, off int) string {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

type parser struct {
	errs         []FieldError
	hasCPUPeriod bool
}

func (p *parser) errorf(path, format string, args ...any) {
	p.errs = append(p.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// object checks that v is a JSON object, reports its unknown members, and returns its
// members without the null ones: as with Jackson's Optional properties, an explicit null
// is the same as leaving the member out.
func (p *parser) object(path string, v any, known []string) (map[string]any, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		if path == "" {
			p.errorf(path, "the document must be a JSON object, not %s", kind(v))
		} else {
			p.errorf(path, "must be an object")
		}
		return nil, false
	}
	var unknown []string
	for k := range obj {
		if !contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		if s := suggest(k, known); s != "" {
			p.errorf(field(path, k), "unknown field (did you mean %q?)", s)
		} else {
			p.errorf(field(path, k), "unknown field")
		}
	}
	out := make(map[string]any, len(obj))
	for k, x := range obj {
		if x != nil && contains(known, k) {
			out[k] = x
		}
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known name closest to a misspelt one, or "": the closest one, ignoring
// case, that is at most 4 edits and a third of its own length away.
func suggest(name string, known []string) string {
	return confcheck.SuggestWithin(name, known, func(k string) int { return min(4, len(k)/3) })
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (p *parser) str(path string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		p.errorf(path, "must be a string")
	}
	return s, ok
}

func (p *parser) array(path string, v any) ([]any, bool) {
	a, ok := v.([]any)
	if !ok {
		p.errorf(path, "must be an array")
	}
	return a, ok
}

// integer reads a whole number that fits Java's int, as Trino's int fields do. Unlike
// Jackson it does not coerce strings ("5") or truncate fractions (1.5); 1.0 and 1e2 are
// whole numbers and accepted.
func (p *parser) integer(path string, v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		p.errorf(path, "must be an integer")
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		switch {
		case ferr == nil && f != math.Trunc(f):
			p.errorf(path, "must be an integer")
			return 0, false
		case ferr == nil && f >= math.MinInt32 && f <= math.MaxInt32:
			i = int64(f)
		default:
			p.errorf(path, "must be an integer between %d and %d", math.MinInt32, math.MaxInt32)
			return 0, false
		}
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		p.errorf(path, "must be an integer between %d and %d", math.MinInt32, math.MaxInt32)
		return 0, false
	}
	return int(i), true
}

func (p *parser) config(v any) *Config {
	obj, ok := p.object("", v, topFields)
	if !ok {
		return nil
	}
	cfg := &Config{}
	if x, ok := obj["cpuQuotaPeriod"]; ok {
		// Given, even if invalid (reported here): groups' CPU limits do not add an error.
		p.hasCPUPeriod = true
		if d, ok := p.positiveDuration("cpuQuotaPeriod", x); ok {
			cfg.CPUQuotaPeriod = d
		}
	}
	if x, ok := obj["physicalDataScanQuotaPeriod"]; ok {
		p.positiveDuration("physicalDataScanQuotaPeriod", x)
		cfg.Unenforced = append(cfg.Unenforced, "physicalDataScanQuotaPeriod")
	}

	if x, ok := obj["rootGroups"]; !ok {
		p.errorf("rootGroups", "is required")
	} else if arr, ok := p.array("rootGroups", x); ok {
		if len(arr) == 0 {
			p.errorf("rootGroups", "must not be empty")
		}
		for i, el := range arr {
			if g := p.group(index("rootGroups", i), el, ""); g != nil {
				cfg.RootGroups = append(cfg.RootGroups, g)
			}
		}
		p.uniqueNames(cfg.RootGroups, "root group")
	}

	if x, ok := obj["selectors"]; !ok {
		p.errorf("selectors", "is required")
	} else if arr, ok := p.array("selectors", x); ok {
		for i, el := range arr {
			if s := p.selector(index("selectors", i), i, el, cfg.RootGroups); s != nil {
				cfg.Selectors = append(cfg.Selectors, s)
			}
		}
	}
	return cfg
}

// uniqueNames reports siblings with the same raw name (Trino's "Duplicated sub group").
func (p *parser) uniqueNames(groups []*GroupSpec, what string) {
	first := map[string]string{}
	for _, g := range groups {
		if g.Name == "" {
			continue
		}
		if at, dup := first[g.Name]; dup {
			p.errorf(field(g.Path, "name"), "duplicate %s name %q (also at %s)", what, g.Name, at)
			continue
		}
		first[g.Name] = g.Path
	}
}

func (p *parser) duration(path string, v any) (time.Duration, bool) {
	s, ok := p.str(path, v)
	if !ok {
		return 0, false
	}
	d, err := protocol.ParseDuration(s)
	if err != nil {
		p.errorf(path, "must be a duration such as \"1h\", \"30m\" or \"100ms\" (got %q)", s)
		return 0, false
	}
	return d, true
}

func (p *parser) positiveDuration(path string, v any) (time.Duration, bool) {
	d, ok := p.duration(path, v)
	if !ok {
		return 0, false
	}
	if d <= 0 {
		p.errorf(path, "must be > 0")
		return 0, false
	}
	return d, true
}

func (p *parser) dataSize(path string, v any) (int64, bool) {
	s, ok := p.str(path, v)
	if !ok {
		return 0, false
	}
	b, err := parseDataSize(s)
	if err != nil {
		p.errorf(path, "must be a data size such as \"512MB\" or \"10GB\" (got %q)", s)
		return 0, false
	}
	return b, true
}

// group parses one group and, recursively, its sub-groups. qpAncestor is the path of the
// nearest ancestor whose schedulingPolicy is query_priority, or "".
func (p *parser) group(path string, v any, qpAncestor string) *GroupSpec {
	obj, ok := p.object(path, v, groupFields)
	if !ok {
		return nil
	}
	g := &GroupSpec{Path: path, SchedulingWeight: 1}

	if x, ok := obj["name"]; !ok {
		p.errorf(field(path, "name"), "is required")
	} else if s, ok := p.str(field(path, "name"), x); ok {
		g.Name = s
		if _, err := parseNameTemplate(s); err != nil {
			p.errorf(field(path, "name"), "%v", err)
		}
	}

	if x, ok := obj["maxQueued"]; !ok {
		p.errorf(field(path, "maxQueued"), "is required")
	} else if n, ok := p.integer(field(path, "maxQueued"), x); ok {
		if n < 0 {
			p.errorf(field(path, "maxQueued"), "must be >= 0")
		}
		g.MaxQueued = n
	}

	hardOK := false
	hardX, hasHard := obj["hardConcurrencyLimit"]
	runX, hasRun := obj["maxRunning"]
	switch {
	case !hasHard && !hasRun:
		p.errorf(field(path, "hardConcurrencyLimit"), "is required (or its deprecated alias maxRunning)")
	case hasHard && hasRun:
		h, ok1 := p.integer(field(path, "hardConcurrencyLimit"), hardX)
		r, ok2 := p.integer(field(path, "maxRunning"), runX)
		if ok1 && ok2 && h != r {
			p.errorf(field(path, "maxRunning"), "give hardConcurrencyLimit or maxRunning, not both (they differ: %d and %d)", h, r)
		} else if ok1 && ok2 {
			g.HardConcurrencyLimit, hardOK = h, p.nonNegative(field(path, "hardConcurrencyLimit"), h)
		}
	default:
		name, x := "hardConcurrencyLimit", hardX
		if hasRun {
			name, x = "maxRunning", runX
		}
		if n, ok := p.integer(field(path, name), x); ok {
			g.HardConcurrencyLimit, hardOK = n, p.nonNegative(field(path, name), n)
		}
	}

	g.SoftConcurrencyLimit = g.HardConcurrencyLimit
	if x, ok := obj["softConcurrencyLimit"]; ok {
		fp := field(path, "softConcurrencyLimit")
		if n, ok := p.integer(fp, x); ok {
			g.SoftConcurrencyLimit = n
			if p.nonNegative(fp, n) && hardOK && n > g.HardConcurrencyLimit {
				p.errorf(fp, "must be <= hardConcurrencyLimit (%d)", g.HardConcurrencyLimit)
			}
		}
	}

	if x, ok := obj["softMemoryLimit"]; ok {
		fp := field(path, "softMemoryLimit")
		if s, ok := p.str(fp, x); ok {
			m, err := parseMemoryLimit(s)
			if err != nil {
				p.errorf(fp, "%v", err)
			}
			g.SoftMemoryLimit = m
		}
	}

	softX, hasSoftCPU := obj["softCpuLimit"]
	hardCPUX, hasHardCPU := obj["hardCpuLimit"]
	var softCPUOK, hardCPUOK bool
	if hasSoftCPU {
		g.SoftCPULimit, softCPUOK = p.positiveDuration(field(path, "softCpuLimit"), softX)
	}
	if hasHardCPU {
		g.HardCPULimit, hardCPUOK = p.positiveDuration(field(path, "hardCpuLimit"), hardCPUX)
	}
	if hasSoftCPU && !hasHardCPU {
		p.errorf(field(path, "softCpuLimit"), "requires hardCpuLimit")
	}
	if softCPUOK && hardCPUOK && g.SoftCPULimit > g.HardCPULimit {
		p.errorf(field(path, "softCpuLimit"), "must be <= hardCpuLimit (%s)", hardCPUX)
	}
	if (hasSoftCPU || hasHardCPU) && !p.hasCPUPeriod {
		at := "hardCpuLimit"
		if hasSoftCPU {
			at = "softCpuLimit"
		}
		p.errorf(field(path, at), "requires the top-level cpuQuotaPeriod")
	}

	childQP := qpAncestor
	if x, ok := obj["schedulingPolicy"]; ok {
		fp := field(path, "schedulingPolicy")
		if s, ok := p.str(fp, x); ok {
			pol := Policy(strings.ToLower(s))
			if !containsPolicy(pol) {
				p.errorf(fp, "must be one of fair, weighted, weighted_fair, query_priority (got %q)", s)
			} else {
				g.SchedulingPolicy = pol
				if qpAncestor != "" && pol != PolicyQueryPriority {
					p.errorf(fp, "must be query_priority because %s uses query_priority", qpAncestor)
				}
				if pol == PolicyQueryPriority {
					childQP = path
				}
			}
		}
	}

	if x, ok := obj["schedulingWeight"]; ok {
		fp := field(path, "schedulingWeight")
		if n, ok := p.integer(fp, x); ok {
			if n <= 0 {
				p.errorf(fp, "must be > 0")
			} else {
				g.SchedulingWeight = n
			}
		}
	}

	if x, ok := obj["jmxExport"]; ok {
		if b, ok := x.(bool); ok {
			g.JMXExport = b
		} else {
			p.errorf(field(path, "jmxExport"), "must be a boolean")
		}
	}

	p.unenforcedGroupFields(path, obj)
	for _, f := range unenforcedGroupFields {
		if _, ok := obj[f]; ok {
			g.Unenforced = append(g.Unenforced, f)
		}
	}

	if x, ok := obj["subGroups"]; ok {
		fp := field(path, "subGroups")
		if arr, ok := p.array(fp, x); ok {
			for i, el := range arr {
				if sg := p.group(index(fp, i), el, childQP); sg != nil {
					g.SubGroups = append(g.SubGroups, sg)
				}
			}
			p.uniqueNames(g.SubGroups, "sibling")
		}
	}
	return g
}

// unenforcedGroupFields type-checks the fields Sluice accepts but does not enforce, so
// that a malformed value is still reported.
func (p *parser) unenforcedGroupFields(path string, obj map[string]any) {
	if x, ok := obj["id"]; ok {
		switch x.(type) {
		case json.Number, string:
		default:
			p.errorf(field(path, "id"), "must be a number or a string")
		}
	}
	for _, f := range []string{"softPhysicalDataScanLimit", "hardPhysicalDataScanLimit"} {
		if x, ok := obj[f]; ok {
			p.dataSize(field(path, f), x)
		}
	}
	if x, ok := obj["perQueryLimits"]; ok {
		fp := field(path, "perQueryLimits")
		if lim, ok := p.object(fp, x, perQueryLimitFields); ok {
			if y, ok := lim["executionTimeLimit"]; ok {
				p.duration(field(fp, "executionTimeLimit"), y)
			}
			if y, ok := lim["totalMemoryLimit"]; ok {
				p.dataSize(field(fp, "totalMemoryLimit"), y)
			}
			if y, ok := lim["cpuTimeLimit"]; ok {
				p.duration(field(fp, "cpuTimeLimit"), y)
			}
		}
	}
	if x, ok := obj["workersPerQueryLimit"]; ok {
		fp := field(path, "workersPerQueryLimit")
		if n, ok := p.integer(fp, x); ok {
			p.nonNegative(fp, n)
		}
	}
}

func (p *parser) nonNegative(path string, n int) bool {
	if n < 0 {
		p.errorf(path, "must be >= 0")
		return false
	}
	return true
}

func containsPolicy(pol Policy) bool {
	for _, x := range policies {
		if x == pol {
			return true
		}
	}
	return false
}

// regexFields are the selector fields that hold a regex, in the order they are matched
// and in which their named captures are collected.
var regexFields = []string{"user", "userGroup", "originalUser", "authenticatedUser", "source", "clientInfo", "principal", "schema", "queryText"}

// builtinVariables are always available to a selector's group template.
var builtinVariables = []string{"USER", "SOURCE"}

func (p *parser) selector(path string, i int, v any, roots []*GroupSpec) *Selector {
	obj, ok := p.object(path, v, selectorFields)
	if !ok {
		return nil
	}
	s := &Selector{Index: i, Path: path}

	definedBy := map[string]string{} // capture name -> field that defines it
	for _, f := range regexFields {
		x, ok := obj[f]
		if !ok {
			continue
		}
		fp := field(path, f)
		src, ok := p.str(fp, x)
		if !ok {
			continue
		}
		re, ok := p.regex(fp, src)
		if !ok {
			continue
		}
		sr := selRegex{field: f, re: re}
		seen := map[string]bool{}
		for idx, name := range re.SubexpNames() {
			if name == "" {
				continue
			}
			if seen[name] {
				p.errorf(fp, "invalid regex: named group %q is defined more than once", name)
				continue
			}
			seen[name] = true
			if contains(builtinVariables, name) {
				p.errorf(fp, "named group %q clashes with the built-in variable ${%s}", name, name)
				continue
			}
			if other, dup := definedBy[name]; dup && other != f {
				p.errorf(fp, "named group %q is already defined by %s", name, field(path, other))
				continue
			}
			definedBy[name] = f
			sr.captures = append(sr.captures, capture{name: name, index: idx})
		}
		s.regexes = append(s.regexes, sr)
		switch f {
		case "user":
			s.User = re
		case "userGroup":
			s.UserGroup = re
		case "originalUser":
			s.OriginalUser = re
		case "authenticatedUser":
			s.AuthenticatedUser = re
		case "source":
			s.Source = re
		case "clientInfo":
			s.ClientInfo = re
		case "principal":
			s.Principal = re
		case "schema":
			s.Schema = re
		case "queryText":
			s.QueryText = re
		}
	}

	if x, ok := obj["queryType"]; ok {
		fp := field(path, "queryType")
		if qt, ok := p.str(fp, x); ok {
			up := strings.ToUpper(qt)
			if !contains(QueryTypes, up) {
				p.errorf(fp, "must be one of %s (got %q)", strings.Join(QueryTypes, ", "), qt)
			} else {
				s.QueryType = up
			}
		}
	}

	if x, ok := obj["clientTags"]; ok {
		fp := field(path, "clientTags")
		if arr, ok := p.array(fp, x); ok {
			s.ClientTags = []string{}
			for j, el := range arr {
				if tag, ok := p.str(index(fp, j), el); ok {
					s.ClientTags = append(s.ClientTags, tag)
				}
			}
		}
	}

	if x, ok := obj["selectorResourceEstimate"]; ok {
		fp := field(path, "selectorResourceEstimate")
		if est, ok := p.object(fp, x, estimateFields); ok {
			if y, ok := est["executionTime"]; ok {
				s.ExecutionTime = p.rangeOf(field(fp, "executionTime"), y, p.millis)
			}
			if y, ok := est["cpuTime"]; ok {
				s.CPUTime = p.rangeOf(field(fp, "cpuTime"), y, p.millis)
			}
			if y, ok := est["peakMemory"]; ok {
				s.PeakMemory = p.rangeOf(field(fp, "peakMemory"), y, p.dataSize)
			}
		}
	}

	gp := field(path, "group")
	x, ok := obj["group"]
	if !ok {
		p.errorf(gp, "is required")
		return s
	}
	raw, ok := p.str(gp, x)
	if !ok {
		return s
	}
	s.Group = raw
	valid := true
	for k, seg := range strings.Split(raw, ".") {
		t, err := parseNameTemplate(seg)
		if err != nil {
			p.errorf(gp, "segment %d of %q: %v", k+1, raw, err)
			valid = false
			continue
		}
		s.segments = append(s.segments, t)
	}
	if !valid {
		return s
	}
	for _, t := range s.segments {
		for _, name := range t.variables() {
			if !contains(builtinVariables, name) && definedBy[name] == "" {
				p.errorf(gp, "unknown variable ${%s} in %q (available: %s)", name, raw, available(definedBy))
			}
		}
	}
	p.resolve(gp, s, roots)
	return s
}

func available(definedBy map[string]string) string {
	names := make([]string, 0, len(definedBy))
	for n := range definedBy {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []string{"${USER}", "${SOURCE}"}
	for _, n := range names {
		out = append(out, "${"+n+"}")
	}
	return strings.Join(out, ", ")
}

// resolve finds, segment by segment, the group spec each segment of the selector's group
// names, comparing raw template text as Trino does, and checks that the last one is a leaf.
func (p *parser) resolve(path string, s *Selector, roots []*GroupSpec) {
	candidates := roots
	var specs []*GroupSpec
	for k, seg := range s.segments {
		var match *GroupSpec
		for _, c := range candidates {
			if c.Name == seg.raw {
				match = c
				break
			}
		}
		if match == nil {
			if k == 0 {
				p.errorf(path, "no group %q: there is no root group %q", s.Group, seg.raw)
			} else {
				p.errorf(path, "no group %q: %q has no sub-group %q", s.Group, joinRaw(s.segments[:k]), seg.raw)
			}
			return
		}
		specs = append(specs, match)
		candidates = match.SubGroups
	}
	if last := specs[len(specs)-1]; !last.IsLeaf() {
		p.errorf(path, "group %q has sub-groups; a selector must name a leaf group", s.Group)
		return
	}
	s.specs = specs
}

func joinRaw(ts []nameTemplate) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.raw
	}
	return strings.Join(parts, ".")
}

// regex compiles a selector regex anchored at both ends, so that it must match the whole
// value as Java's Matcher.matches() does. The file's regexes are Java syntax; Go's RE2
// reads the common subset, (?<name>...) included, and anything else is an error.
func (p *parser) regex(path, src string) (*regexp.Regexp, bool) {
	if _, err := regexp.Compile(src); err != nil {
		p.errorf(path, "invalid regex: %s", regexMessage(err))
		return nil, false
	}
	re, err := regexp.Compile(`^(?:` + src + `)$`)
	if err != nil {
		p.errorf(path, "invalid regex: %s", regexMessage(err))
		return nil, false
	}
	return re, true
}

func regexMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func (p *parser) millis(path string, v any) (int64, bool) {
	n, ok := p.duration(path, v)
	if !ok {
		return 0, false
	}
	return n.Milliseconds(), true
}

func (p *parser) rangeOf(path string, v any, value func(string, any) (int64, bool)) *Range {
	obj, ok := p.object(path, v, rangeFields)
	if !ok {
		return nil
	}
	r := &Range{}
	if x, ok := obj["min"]; ok {
		if n, ok := value(field(path, "min"), x); ok {
			r.Min = &n
		}
	}
	if x, ok := obj["max"]; ok {
		if n, ok := value(field(path, "max"), x); ok {
			r.Max = &n
		}
	}
	return r
}
