// Package planintake checks a Substrait plan that a client submits and prepares it to
// travel with its query: decoded (binary protobuf or JSON, legacy extension URIs migrated
// to URNs), its functions looked up, validated by the fragmenter and normalized to binary
// protobuf. It also reads the declared priority and cost estimate of a plan query.
package planintake

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/substraitplan"
	"github.com/substrait-io/substrait-go/v8/extensions"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Headers of POST /v1/plan besides the client protocol's.
const (
	// HeaderPriority is the priority of the plan's fragments, an integer (default 0;
	// higher runs sooner).
	HeaderPriority = "X-Sluice-Priority"
	// HeaderCostEstimate is the declared executor time of the plan in seconds, a number
	// >= 0 (default 0: the scheduler estimates it from the plan).
	HeaderCostEstimate = "X-Sluice-Cost-Estimate"
)

// maxMessage bounds the error messages taken from the decoder and the fragmenter.
const maxMessage = 2000

// Plan is a validated plan, ready to travel with its query.
type Plan struct {
	// Binary is the plan as binary protobuf, with extension URNs.
	Binary []byte
	// Relations is the number of relations in the plan, subqueries included.
	Relations int
	// Tables are the named tables the plan reads, dotted, sorted, without duplicates.
	Tables []string
}

// Prepare decodes and validates a plan. contentType is the request's Content-Type (empty:
// JSON if the body starts with '{', else binary). Every error is a *protocol.QueryError:
// SYNTAX_ERROR for bytes that are not a valid plan, FUNCTION_NOT_FOUND for a function
// its extension does not define, NOT_SUPPORTED for a plan Sluice cannot run and
// QUERY_TEXT_TOO_LARGE beyond substraitplan.MaxPlanSize. Messages name the relation's
// path (e.g. "root.input.sort.input (AggregateRel)") or the function.
func Prepare(data []byte, contentType string) (*Plan, error) {
	if len(data) == 0 {
		return nil, protocol.NewError(protocol.SyntaxError, "The Substrait plan is empty: send a Plan message, binary protobuf or JSON")
	}
	if len(data) > substraitplan.MaxPlanSize {
		return nil, TooLarge(len(data))
	}
	decoded, err := substraitplan.Decode(data, contentType)
	if err != nil {
		return nil, planError(err)
	}
	if err := checkFunctions(decoded); err != nil {
		return nil, err
	}
	bin, err := proto.Marshal(decoded)
	if err != nil {
		return nil, planError(fmt.Errorf("%w: cannot encode the plan: %w", substraitplan.ErrMalformed, err))
	}
	parsed, err := fragment.Parse(bin, fragment.ContentTypeProtobuf)
	if err != nil {
		return nil, planError(err)
	}
	return &Plan{Binary: bin, Relations: parsed.Relations(), Tables: namedTables(decoded)}, nil
}

// TooLarge is the error of a plan of size bytes, beyond substraitplan.MaxPlanSize.
func TooLarge(size int) *protocol.QueryError {
	return protocol.NewError(protocol.QueryTextTooLarge, "Substrait plan size (%d bytes) exceeds the maximum size (%d bytes)", size, substraitplan.MaxPlanSize)
}

// planError turns a decoding or validation error into the protocol's error.
func planError(err error) *protocol.QueryError {
	code := protocol.SyntaxError
	if errors.Is(err, fragment.ErrUnsupported) || errors.Is(err, substraitplan.ErrUnsupported) {
		code = protocol.NotSupported
	}
	return protocol.NewError(code, "%s", clip(capitalize(err.Error())))
}

// catalogue is what substrait-go's default extension collection defines: its URNs, and
// the names (without signature) of the functions of each.
type catalogue struct {
	urns      map[string]bool
	functions map[extensions.ID]bool
}

// defaultCatalogue is loaded once, on the first plan.
var defaultCatalogue = sync.OnceValue(func() catalogue {
	c := catalogue{urns: map[string]bool{}, functions: map[extensions.ID]bool{}}
	coll, err := extensions.GetDefaultCollection()
	if err != nil {
		return c
	}
	add := func(urn, name string) {
		c.urns[urn] = true
		c.functions[extensions.ID{URN: urn, Name: name}] = true
	}
	for _, f := range coll.GetAllScalarFunctions() {
		add(f.URN(), f.Name())
	}
	for _, f := range coll.GetAllAggregateFunctions() {
		add(f.URN(), f.Name())
	}
	for _, f := range coll.GetAllWindowFunctions() {
		add(f.URN(), f.Name())
	}
	return c
})

// checkFunctions reports the first declared function that its extension does not define.
// Declarations of an unknown URN are left to the fragmenter, which names the URN; so are
// signatures that do not fit the arguments (it names the relation that uses them).
func checkFunctions(p *substraitpb.Plan) error {
	urns := map[uint32]string{}
	for _, u := range p.GetExtensionUrns() {
		urns[u.GetExtensionUrnAnchor()] = u.GetUrn()
	}
	cat := defaultCatalogue()
	for i, d := range p.GetExtensions() {
		f := d.GetExtensionFunction()
		if f == nil {
			continue
		}
		urn, declared := urns[f.GetExtensionUrnReference()]
		if !declared || !cat.urns[urn] {
			continue
		}
		name, _, _ := strings.Cut(f.GetName(), ":")
		if !cat.functions[extensions.ID{URN: urn, Name: name}] {
			return protocol.NewError(protocol.FunctionNotFound, "Function %s (extensions[%d], anchor %d) is not defined by extension %s",
				strconv.Quote(clip(f.GetName())), i, f.GetFunctionAnchor(), urn)
		}
	}
	return nil
}

// namedTables lists the named tables that the plan's reads (subqueries included) name.
func namedTables(p *substraitpb.Plan) []string {
	seen := map[string]bool{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if nt, ok := m.Interface().(*substraitpb.ReadRel_NamedTable); ok {
			seen[strings.Join(nt.GetNames(), ".")] = true
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Message() == nil || fd.IsMap():
			case fd.IsList():
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			default:
				walk(v.Message())
			}
			return true
		})
	}
	walk(p.ProtoReflect())
	return slices.Sorted(maps.Keys(seen))
}

// maxListedTables is how many tables Description names.
const maxListedTables = 8

// Description is the plan's stand-in for SQL text in the query's spec and in query info:
// a single SQL comment ("-- substrait plan (5 relations) reading LINEITEM"), so that
// whatever reads the SQL of a query (resource-group query types, table lists) finds no
// statement in it.
func (p *Plan) Description() string {
	s := fmt.Sprintf("-- substrait plan (%d relation%s)", p.Relations, plural(p.Relations))
	if len(p.Tables) == 0 {
		return s
	}
	names := make([]string, 0, maxListedTables+1)
	for _, t := range p.Tables[:min(len(p.Tables), maxListedTables)] {
		names = append(names, printable(t))
	}
	if more := len(p.Tables) - maxListedTables; more > 0 {
		names = append(names, fmt.Sprintf("%d more", more))
	}
	return s + " reading " + strings.Join(names, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// printable keeps a table name on the comment's line and short.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == utf8.RuneError || r == '\u2028' || r == '\u2029' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > 64 {
		s = string([]rune(s)[:63]) + "…"
	}
	return s
}

// capitalize upper-cases the first letter, as coordinators' messages start.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// clip bounds a message taken from a decoder or the fragmenter.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ParsePriority reads the X-Sluice-Priority header: an integer (empty: 0).
func ParsePriority(v string) (int, error) {
	if v = strings.TrimSpace(v); v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer between %d and %d, not %q", HeaderPriority, math.MinInt32, math.MaxInt32, v)
	}
	return int(n), nil
}

// ParseCost reads the X-Sluice-Cost-Estimate header: seconds of executor time, a number
// >= 0 (empty: 0).
func ParseCost(v string) (float64, error) {
	if v = strings.TrimSpace(v); v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%s must be a number of seconds, not %q", HeaderCostEstimate, v)
	}
	if err := CheckCost(f); err != nil {
		return 0, fmt.Errorf("%s: %w", HeaderCostEstimate, err)
	}
	return f, nil
}

// CheckCost checks a declared cost estimate: a finite number of seconds >= 0.
func CheckCost(seconds float64) error {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds < 0 {
		return fmt.Errorf("the cost estimate must be a finite number of seconds >= 0, not %v", seconds)
	}
	return nil
}
