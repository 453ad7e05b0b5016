package rgspec

import (
	"math"
	"regexp"
	"time"
)

// Policy is a scheduling policy: how a group picks the next sub-group, or the next
// query of a leaf, to start.
type Policy string

// The scheduling policies of Trino's resource groups. The file spells them in any case;
// Parse stores them lower case.
const (
	// PolicyFair is round-robin across sub-groups and FIFO inside a leaf (Trino's default).
	PolicyFair Policy = "fair"
	// PolicyWeighted is a lottery across sub-groups by schedulingWeight, boosted for
	// sub-groups under their softConcurrencyLimit, and by query_priority inside a leaf.
	PolicyWeighted Policy = "weighted"
	// PolicyWeightedFair starts the sub-group furthest below its weighted share of
	// running queries.
	PolicyWeightedFair Policy = "weighted_fair"
	// PolicyQueryPriority is strict priority on the query_priority session property
	// across the whole subtree. Trino forces it onto every descendant.
	PolicyQueryPriority Policy = "query_priority"
)

// policies lists the valid policies in the order error messages name them.
var policies = []Policy{PolicyFair, PolicyWeighted, PolicyWeightedFair, PolicyQueryPriority}

// MemoryLimit is a softMemoryLimit: either an absolute byte count ("10GB") or a fraction
// of the fleet's memory ("85%" is Fraction 0.85). Set is false when the file gives none.
type MemoryLimit struct {
	// Bytes is the absolute limit; meaningful when Set and not IsFraction.
	Bytes int64
	// Fraction is the share of fleet memory, in [0, 1]; meaningful when Set and IsFraction.
	Fraction float64
	// IsFraction reports that the file gave a percentage.
	IsFraction bool
	// Set reports that the file gave a softMemoryLimit at all.
	Set bool
}

// Resolve returns the limit in bytes given the fleet's memory in bytes. An unset limit is
// no limit (math.MaxInt64), and so is a fraction when fleetBytes <= 0 (memory unknown).
func (m MemoryLimit) Resolve(fleetBytes int64) int64 {
	if !m.Set {
		return math.MaxInt64
	}
	if !m.IsFraction {
		return m.Bytes
	}
	if fleetBytes <= 0 {
		return math.MaxInt64
	}
	v := math.Round(float64(fleetBytes) * m.Fraction)
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	if v < 0 {
		return 0
	}
	return int64(v)
}

// GroupSpec is one group of the file's tree (a rootGroups or subGroups entry). Its Name
// may be a template that makes one group instance per distinct value.
type GroupSpec struct {
	// Name is the raw name: a literal, or a template such as "${USER}" or "bi-${toolname}".
	Name string
	// MaxQueued is the most queries queued in this subtree.
	MaxQueued int
	// HardConcurrencyLimit is the most queries running in this subtree. The file gives it
	// as hardConcurrencyLimit or as its deprecated alias maxRunning.
	HardConcurrencyLimit int
	// SoftConcurrencyLimit only weighs this group in its parent's weighted policy. When the
	// file gives none it equals HardConcurrencyLimit, as in Trino.
	SoftConcurrencyLimit int
	// SoftMemoryLimit stops new starts in the subtree while its memory is above it.
	SoftMemoryLimit MemoryLimit
	// SoftCPULimit is the CPU time per cpuQuotaPeriod above which the effective
	// concurrency limit shrinks; 0 means none.
	SoftCPULimit time.Duration
	// HardCPULimit is the CPU time per cpuQuotaPeriod at which nothing new starts; 0 means none.
	HardCPULimit time.Duration
	// SchedulingPolicy is the policy the file gives, lower case, or "" when it gives none
	// (fair, unless an ancestor uses query_priority).
	SchedulingPolicy Policy
	// SchedulingWeight is the weight in the parent's weighted and weighted_fair policies; 1
	// when the file gives none.
	SchedulingWeight int
	// JMXExport is the file's jmxExport flag (false when absent).
	JMXExport bool
	// SubGroups are the children; a group without any is a leaf and takes queries.
	SubGroups []*GroupSpec
	// Path locates the group in the file for messages, e.g. "rootGroups[0].subGroups[1]".
	Path string
	// Unenforced names the fields the file gives for this group that Sluice accepts for
	// compatibility but does not enforce, in file-independent order: id,
	// softPhysicalDataScanLimit, hardPhysicalDataScanLimit, perQueryLimits,
	// workersPerQueryLimit.
	Unenforced []string
}

var variableRE = regexp.MustCompile(`\$\{([a-zA-Z][a-zA-Z0-9]*)\}`)

// IsTemplate reports whether the name contains a ${...} variable.
func (g *GroupSpec) IsTemplate() bool { return variableRE.MatchString(g.Name) }

// IsLeaf reports whether the group has no sub-groups, i.e. accepts queries.
func (g *GroupSpec) IsLeaf() bool { return len(g.SubGroups) == 0 }

// Range is an inclusive range of a selectorResourceEstimate dimension. Durations are in
// milliseconds and memory in bytes. A nil bound is open.
type Range struct {
	// Min is the smallest value that matches, or nil for no lower bound.
	Min *int64
	// Max is the largest value that matches, or nil for no upper bound.
	Max *int64
}

// Contains reports whether min <= v <= max (both inclusive, as Trino's Range.contains).
func (r *Range) Contains(v int64) bool {
	return (r.Min == nil || *r.Min <= v) && (r.Max == nil || v <= *r.Max)
}

// Selector is one entry of the file's selectors. Every field it gives must match.
type Selector struct {
	// Index is the selector's position in the file.
	Index int
	// User, UserGroup, OriginalUser, AuthenticatedUser, Source, ClientInfo, Principal,
	// Schema and QueryText are the regexes of the fields of the same names, nil when
	// absent. They are compiled anchored: they must match the whole value, as Java's
	// Matcher.matches().
	User, UserGroup, OriginalUser, AuthenticatedUser, Source, ClientInfo, Principal, Schema *regexp.Regexp
	// QueryText is the regex of Trino's queryText field (the SQL text), nil when absent.
	QueryText *regexp.Regexp
	// QueryType is the queryType in upper case, "" when absent.
	QueryType string
	// ClientTags must all be among the query's client tags.
	ClientTags []string
	// ExecutionTime, CPUTime and PeakMemory are the selectorResourceEstimate ranges, nil
	// when absent.
	ExecutionTime, CPUTime, PeakMemory *Range
	// Group is the raw dotted target, e.g. "global.adhoc.${USER}".
	Group string
	// Path locates the selector in the file for messages, e.g. "selectors[2]".
	Path string

	segments []nameTemplate // Group split on "."
	specs    []*GroupSpec   // the spec each segment resolves to
	regexes  []selRegex     // the regex fields, in matching order
}

// Config is a parsed and validated resource-group file.
type Config struct {
	// RootGroups are the roots of the group trees.
	RootGroups []*GroupSpec
	// Selectors are evaluated in order; the first match wins.
	Selectors []*Selector
	// CPUQuotaPeriod is the period of the CPU quotas, 0 when absent.
	CPUQuotaPeriod time.Duration
	// Unenforced names the top-level fields the file gives that Sluice accepts but does
	// not enforce (physicalDataScanQuotaPeriod).
	Unenforced []string
}
