package fragment

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// MaxPartitions bounds Options.Partitions per table, so a typo cannot fan one scan
// out into millions of fragments.
const MaxPartitions = 1024

// Options tell Cut how to name fragments, how big the tables are and how they are
// partitioned. The zero value is not usable: QueryID is required.
type Options struct {
	// QueryID prefixes every fragment ID ("<QueryID>_f<n>"). It must match [_a-z0-9]+,
	// the engines' query ID alphabet, so fragment IDs are safe identifiers everywhere.
	QueryID string
	// ScaleFactor is the TPC-H scale factor of the base tables for the cost model;
	// 0 means 1.
	ScaleFactor float64
	// Partitions gives the number of partitions (Parquet files) per table. Keys match
	// a read's table name case-insensitively, either the last name component
	// ("lineitem") or the dotted full name ("tpch.lineitem"). A table that is absent
	// or has 0 or 1 partition is scanned by one fragment.
	Partitions map[string]int
	// TableRows overrides the cost model's base row count of a table (same key rules
	// as Partitions), already scaled; tables neither here nor in TPC-H count
	// DefaultTableRows rows.
	TableRows map[string]float64
}

// options are validated Options with normalised keys.
type options struct {
	queryID    string
	scale      float64
	partitions map[string]int
	tableRows  map[string]float64
}

// validate checks o and normalises its maps to lower-case keys.
func (o Options) validate() (options, error) {
	if !validQueryID(o.QueryID) {
		return options{}, fmt.Errorf("%w: query ID %q must match [_a-z0-9]{1,128}", ErrInvalidOption, o.QueryID)
	}
	scale := o.ScaleFactor
	if scale == 0 {
		scale = 1
	}
	if scale < 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		return options{}, fmt.Errorf("%w: scale factor %v must be a positive number", ErrInvalidOption, o.ScaleFactor)
	}
	out := options{queryID: o.QueryID, scale: scale, partitions: map[string]int{}, tableRows: map[string]float64{}}
	for _, k := range sortedKeys(o.Partitions) {
		p := o.Partitions[k]
		if p < 0 || p > MaxPartitions {
			return options{}, fmt.Errorf("%w: table %q has %d partitions, want 0..%d", ErrInvalidOption, k, p, MaxPartitions)
		}
		out.partitions[strings.ToLower(k)] = p
	}
	for _, k := range sortedKeys(o.TableRows) {
		r := o.TableRows[k]
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return options{}, fmt.Errorf("%w: table %q has %v rows, want a finite number ≥ 0", ErrInvalidOption, k, r)
		}
		out.tableRows[strings.ToLower(k)] = r
	}
	return out, nil
}

// partitionsOf is the partition count of the table named names (at least 1).
func (o options) partitionsOf(names []string) int {
	if p, ok := lookupTable(o.partitions, names); ok && p > 1 {
		return p
	}
	return 1
}

// lookupTable finds a table's entry by its dotted full name, then its last component.
func lookupTable[V any](m map[string]V, names []string) (V, bool) {
	var zero V
	if len(names) == 0 {
		return zero, false
	}
	if v, ok := m[strings.ToLower(strings.Join(names, "."))]; ok {
		return v, true
	}
	v, ok := m[strings.ToLower(names[len(names)-1])]
	return v, ok
}

// validQueryID reports whether id matches [_a-z0-9]{1,128}.
func validQueryID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// sortedKeys returns m's keys in order, for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
