package framework

import (
	"strings"
	"time"
)

// State is the lifecycle state a cluster reports in its heartbeat.
type State string

// The cluster states. They are the values of events.ClusterState.
const (
	// StateStarting: the cluster is coming up and takes no queries yet.
	StateStarting State = "starting"
	// StateReady: the cluster takes new queries.
	StateReady State = "ready"
	// StateUnhealthy: the cluster reports itself broken.
	StateUnhealthy State = "unhealthy"
	// StateDraining: the cluster finishes its running queries and takes no new ones.
	StateDraining State = "draining"
	// StateDrained: the cluster finished draining and runs nothing.
	StateDrained State = "drained"
	// StateDeactivated: an operator took the cluster out of the fleet.
	StateDeactivated State = "deactivated"
)

// Kind is the form a query comes in, which decides which clusters can run it.
type Kind uint8

// The query kinds.
const (
	// KindUnspecified is the zero value; no cluster runs such a query.
	KindUnspecified Kind = iota
	// KindSQL is a query as SQL text.
	KindSQL
	// KindPlan is a physical plan (Substrait).
	KindPlan
)

// String returns "SQL", "plan" or "unspecified".
func (k Kind) String() string {
	switch k {
	case KindSQL:
		return "SQL"
	case KindPlan:
		return "plan"
	}
	return "unspecified"
}

// KindSet is a set of query kinds, as a bit set. The zero value is empty.
type KindSet uint8

// Kinds returns the set of the given kinds; KindUnspecified is ignored.
func Kinds(kinds ...Kind) KindSet {
	var s KindSet
	for _, k := range kinds {
		if k != KindUnspecified && k < 8 {
			s |= 1 << k
		}
	}
	return s
}

// Has reports whether k is in the set.
func (s KindSet) Has(k Kind) bool {
	return k != KindUnspecified && k < 8 && s&(1<<k) != 0
}

// TableSet is a set of fully qualified table names, lower-case "catalog.schema.table".
type TableSet map[string]struct{}

// NewTableSet returns the set of the given names, lower-cased.
func NewTableSet(names ...string) TableSet {
	s := make(TableSet, len(names))
	for _, n := range names {
		s[strings.ToLower(n)] = struct{}{}
	}
	return s
}

// Has reports whether the set holds name; name must already be lower-case.
func (s TableSet) Has(name string) bool {
	_, ok := s[name]
	return ok
}

// Cluster is what placement knows of one cluster: its configuration merged with its
// latest heartbeat and the queries Sluice placed on it. Plugins only read it.
type Cluster struct {
	// Name identifies the cluster; it is unique in the fleet.
	Name string
	// URL is the cluster's base URL.
	URL string
	// Engine is the backend: "duckdb", "trino" or "presto".
	Engine string
	// Capabilities are the query kinds the cluster runs besides what its engine implies
	// (every engine above runs SQL; only clusters with KindPlan run plans).
	Capabilities KindSet
	// State is the lifecycle state of the latest heartbeat.
	State State
	// Slots is the number of queries the cluster runs at once, as it reports it; 0 or
	// less means unknown.
	Slots int
	// MaxSlots, when > 0, is a cap from configuration on Slots (see EffectiveSlots).
	MaxSlots int
	// Running is the number of queries running on the cluster (heartbeat).
	Running int
	// Queued is the number of queries waiting in the cluster's own queue (heartbeat).
	Queued int
	// Placed is the number of queries Sluice placed on the cluster that have not ended.
	Placed int
	// MemoryBytes is the memory the cluster can give queries; 0 or less means unknown.
	MemoryBytes int64
	// MemoryUsedBytes is the part of MemoryBytes in use.
	MemoryUsedBytes int64
	// CPULoad is the CPU utilisation from 0 to 1, or 0 when not reported. No built-in
	// plugin uses it yet.
	CPULoad float64
	// Region is where the cluster runs ("eu-west-1"); "" when not configured.
	Region string
	// RoutingGroup is the routing group the cluster serves; "" and "default" both mean
	// the default group.
	RoutingGroup string
	// Tables are the tables the cluster can serve; empty means every table. Build it
	// with NewTableSet so that the names are lower-case.
	Tables TableSet
	// Weight is the configured preference for the cluster; 0 or less counts as 1.
	Weight int
	// LastHeartbeat is when the cluster last reported; the zero time means never.
	LastHeartbeat time.Time
}

// EffectiveSlots returns the number of queries the cluster may run at once: Slots capped
// by MaxSlots when MaxSlots > 0, or MaxSlots alone when Slots is unknown. 0 means unknown.
func (c *Cluster) EffectiveSlots() int {
	switch {
	case c.MaxSlots <= 0:
		return max(c.Slots, 0)
	case c.Slots <= 0:
		return c.MaxSlots
	}
	return min(c.Slots, c.MaxSlots)
}

// Busy returns the number of slots in use: the larger of Running (what the cluster
// reports) and Placed (what Sluice sent it and has not seen end). Both count the same
// running queries, so they are not added; the larger one also covers queries placed but
// not yet in a heartbeat, and queries that did not come through Sluice.
func (c *Cluster) Busy() int {
	return max(c.Running, c.Placed, 0)
}
