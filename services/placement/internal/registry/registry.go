// Package registry keeps placement's view of the fleet: the latest heartbeat of every
// cluster (SLUICE_CLUSTERS, whose TTL removes silent clusters), what operators asked of each
// (SLUICE_CLUSTER_CONTROL: drain, deactivate), the static attributes of the clusters file,
// and every placed query that has not ended (folded from the QUERIES log): where, at which
// attempt, and whether it started.
package registry

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/heartbeat"
	"github.com/sluicehq/sluice/services/placement/internal/clusterconfig"
	"github.com/sluicehq/sluice/services/placement/internal/framework"
)

// Placement is a placed query that has not ended.
type Placement struct {
	Query    events.QuerySpec
	Cluster  string
	Attempt  int
	Started  bool
	PlacedAt time.Time
	// MemoryBytes is the memory estimate the placement used.
	MemoryBytes int64
	// DispatchFailed: the executor-proxy of Cluster could not hand this attempt to its
	// engine; the query ran nowhere and waits to be placed again.
	DispatchFailed bool
	// Failures are the failed dispatches of every attempt so far, oldest first.
	Failures []Failure
}

// Failure is one dispatch that failed before the query started.
type Failure struct {
	Cluster string
	Attempt int
	Message string
}

// endedKeep bounds the ended query IDs remembered (late events of the same query come
// within the stream's duplicate window).
const endedKeep = 65536

// heartbeatTables is the table set a cluster reports, with the list it was built from.
type heartbeatTables struct {
	list []string
	set  framework.TableSet
}

// Registry is safe for concurrent use.
type Registry struct {
	mu         sync.Mutex
	clusters   map[string]events.ClusterHeartbeat
	lastSeen   map[string]time.Time // last heartbeat of clusters whose entry is gone
	wishes     map[string]events.ClusterWish
	static     *clusterconfig.Config
	tables     map[string]framework.TableSet // of static, built once per file
	hbTables   map[string]heartbeatTables    // of heartbeats, built when their list changes
	placements map[string]*Placement
	load       map[string]int // cluster → placed and not ended
	ended      map[string]struct{}
	endedOrder []string
	changed    chan struct{}
	// Timeout: a cluster whose last heartbeat is older than this is not healthy.
	Timeout time.Duration
}

// New returns an empty registry.
func New(timeout time.Duration) *Registry {
	return &Registry{clusters: map[string]events.ClusterHeartbeat{}, hbTables: map[string]heartbeatTables{}, lastSeen: map[string]time.Time{}, wishes: map[string]events.ClusterWish{},
		static: &clusterconfig.Config{Clusters: map[string]clusterconfig.Cluster{}}, placements: map[string]*Placement{},
		load: map[string]int{}, ended: map[string]struct{}{}, changed: make(chan struct{}, 1), Timeout: timeout}
}

// Changed receives a value after the fleet changed (a heartbeat, a wish, a query ended).
func (r *Registry) Changed() <-chan struct{} { return r.changed }

func (r *Registry) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// WatchHeartbeats follows the clusters bucket until ctx ends.
func (r *Registry) WatchHeartbeats(ctx context.Context, kv jetstream.KeyValue) error {
	return heartbeat.Watch(ctx, kv, func(cluster string, hb *events.ClusterHeartbeat) {
		r.SetHeartbeat(cluster, hb)
	})
}

// WatchControl follows the cluster-control bucket until ctx ends.
func (r *Registry) WatchControl(ctx context.Context, kv jetstream.KeyValue) error {
	return heartbeat.WatchControl(ctx, kv, jetstream.AllKeys, func(cluster string, c *events.ClusterControl) {
		r.mu.Lock()
		if c != nil {
			r.wishes[cluster] = c.Wish
		} else {
			delete(r.wishes, cluster)
		}
		r.mu.Unlock()
		r.notify()
	})
}

// SetHeartbeat records a cluster's heartbeat (nil: its entry is gone).
func (r *Registry) SetHeartbeat(cluster string, hb *events.ClusterHeartbeat) {
	r.mu.Lock()
	if hb != nil {
		r.clusters[cluster] = *hb
		delete(r.lastSeen, cluster)
		if cur := r.hbTables[cluster]; !slices.Equal(cur.list, hb.Tables) {
			r.hbTables[cluster] = heartbeatTables{list: hb.Tables, set: framework.NewTableSet(hb.Tables...)}
		}
	} else if prev, ok := r.clusters[cluster]; ok {
		r.lastSeen[cluster] = prev.At
		delete(r.clusters, cluster)
	}
	r.mu.Unlock()
	r.notify()
}

// SetStatic puts a clusters file in force.
func (r *Registry) SetStatic(cfg *clusterconfig.Config) {
	tables := map[string]framework.TableSet{}
	for name, c := range cfg.Clusters {
		if len(c.Tables) > 0 {
			tables[name] = framework.NewTableSet(c.Tables...)
		}
	}
	r.mu.Lock()
	r.static, r.tables = cfg, tables
	r.mu.Unlock()
	r.notify()
}

// Apply folds placed, dispatch-failed, started and terminal events.
func (r *Registry) Apply(subject string, h nats.Header, data []byte) error {
	switch {
	case subject == events.SubjectPlaced:
		var p events.QueryPlaced
		if _, err := events.Decode(h, data, events.TypeQueryPlaced, &p); err != nil {
			return err
		}
		r.MarkPlaced(p.Query, p.Cluster, p.Attempt, p.PlacedAt, p.MemoryBytes)
	case subject == events.SubjectDispatchFailed:
		var p events.QueryDispatchFailed
		if _, err := events.Decode(h, data, events.TypeQueryDispatchFailed, &p); err != nil {
			return err
		}
		r.mu.Lock()
		if pl, ok := r.placements[p.QueryID]; ok && pl.Attempt == p.Attempt && !pl.DispatchFailed {
			pl.DispatchFailed = true
			pl.Failures = append(slices.Clip(pl.Failures), Failure{Cluster: p.Cluster, Attempt: p.Attempt, Message: p.Error.Message})
		}
		r.mu.Unlock()
		r.notify()
	case subject == events.SubjectStarted:
		var p events.QueryStarted
		if _, err := events.Decode(h, data, events.TypeQueryStarted, &p); err != nil {
			return err
		}
		r.mu.Lock()
		if pl, ok := r.placements[p.QueryID]; ok && pl.Attempt == p.Attempt {
			pl.Started = true
		}
		r.mu.Unlock()
	case events.IsTerminal(subject):
		var p events.QueryEnded
		if _, err := events.Decode(h, data, events.TypeForSubject[subject], &p); err != nil {
			return err
		}
		r.MarkEnded(p.QueryID)
	}
	return nil
}

// MarkPlaced records that a query is placed on cluster at attempt. A placement of an older
// attempt than the one known changes nothing.
// The failures of earlier attempts carry over.
func (r *Registry) MarkPlaced(q events.QuerySpec, cluster string, attempt int, at time.Time, memory int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ended[q.ID]; ok {
		return
	}
	var failures []Failure
	if prev, ok := r.placements[q.ID]; ok {
		if prev.Attempt >= attempt {
			return
		}
		r.load[prev.Cluster]--
		failures = prev.Failures
	}
	r.placements[q.ID] = &Placement{Query: q, Cluster: cluster, Attempt: attempt, PlacedAt: at, MemoryBytes: memory, Failures: failures}
	r.load[cluster]++
}

// Redispatch returns the placements whose dispatch failed and that were not placed again
// yet, oldest first.
func (r *Registry) Redispatch() []Placement {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Placement
	for _, pl := range r.placements {
		if pl.DispatchFailed && !pl.Started {
			out = append(out, *pl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PlacedAt.Before(out[j].PlacedAt) })
	return out
}

// MarkEnded records that a query ended: it frees its cluster's load.
func (r *Registry) MarkEnded(id string) {
	r.mu.Lock()
	if pl, ok := r.placements[id]; ok {
		r.load[pl.Cluster]--
		delete(r.placements, id)
	}
	if _, ok := r.ended[id]; !ok {
		if len(r.endedOrder) >= endedKeep {
			delete(r.ended, r.endedOrder[0])
			r.endedOrder = r.endedOrder[1:]
		}
		r.ended[id] = struct{}{}
		r.endedOrder = append(r.endedOrder, id)
	}
	r.mu.Unlock()
	r.notify()
}

// Placement returns a query's placement, if it is placed and not ended.
func (r *Registry) Placement(id string) (Placement, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pl, ok := r.placements[id]
	if !ok {
		return Placement{}, false
	}
	return *pl, true
}

// Ended reports whether id already ended.
func (r *Registry) Ended(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ended[id]
	return ok
}

// Clusters returns every cluster known by heartbeat or by the clusters file, sorted by
// name, as the placement framework sees it. An operator's drain or deactivate shows at
// once, before the cluster reports it.
func (r *Registry) Clusters() []*framework.Cluster {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := map[string]struct{}{}
	for n := range r.clusters {
		names[n] = struct{}{}
	}
	for n := range r.static.Clusters {
		names[n] = struct{}{}
	}
	out := make([]*framework.Cluster, 0, len(names))
	for name := range names {
		out = append(out, r.clusterLocked(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) clusterLocked(name string) *framework.Cluster {
	hb, beating := r.clusters[name]
	st, configured := r.static.Clusters[name]
	c := &framework.Cluster{Name: name, State: framework.StateUnhealthy, Placed: r.load[name], Weight: 1}
	if beating {
		c.URL, c.Engine, c.State, c.Slots, c.Running, c.Queued, c.MemoryBytes, c.LastHeartbeat =
			hb.URL, hb.Engine, framework.State(hb.State), hb.Slots, hb.Running, hb.Queued, hb.MemoryBytes, hb.At
		c.RoutingGroup, c.Region, c.MemoryUsedBytes, c.CPULoad = hb.RoutingGroup, hb.Region, hb.UsedMemoryBytes, hb.CPULoad
		if len(hb.Tables) > 0 {
			c.Tables = r.hbTables[name].set
		}
	}
	if configured {
		if c.URL == "" {
			c.URL = st.URL
		}
		if c.Engine == "" {
			c.Engine = st.Engine
		}
		c.Weight, c.MaxSlots = st.Weight, st.MaxSlots
		if st.RoutingGroup != "" {
			c.RoutingGroup = st.RoutingGroup
		}
		if st.Region != "" {
			c.Region = st.Region
		}
		if ts, ok := r.tables[name]; ok {
			c.Tables = ts
		}
	}
	c.Capabilities = framework.Kinds(framework.KindSQL)
	if (configured && st.RunsPlans()) || (!configured && (c.Engine == "" || c.Engine == "duckdb")) {
		c.Capabilities = framework.Kinds(framework.KindSQL, framework.KindPlan)
	}
	switch wish := r.wishes[name]; {
	case wish == events.WishDeactivate && c.State != framework.StateDraining:
		c.State = framework.StateDeactivated
	case wish != "" && (c.State == framework.StateReady || c.State == framework.StateStarting):
		c.State = framework.StateDraining
	}
	return c
}

// placeable reports whether a cluster may take new queries now. Callers hold r.mu.
func (r *Registry) placeableLocked(name string, now time.Time) bool {
	hb, ok := r.clusters[name]
	return ok && hb.State == events.ClusterReady && r.wishes[name] == "" && (r.Timeout <= 0 || now.Sub(hb.At) <= r.Timeout)
}

// Stranded returns the placements that have not started on a cluster that can no longer
// take them (drained or draining, deactivated, unhealthy, silent), placed at least grace
// ago: placement moves them to another cluster.
func (r *Registry) Stranded(now time.Time, grace time.Duration) []Placement {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Placement
	for _, pl := range r.placements {
		if !pl.Started && !pl.DispatchFailed && now.Sub(pl.PlacedAt) >= grace && !r.placeableLocked(pl.Cluster, now) {
			out = append(out, *pl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PlacedAt.Before(out[j].PlacedAt) })
	return out
}

// Lost returns the started placements on clusters silent for longer than after. When no
// cluster heartbeats at all, the control plane is the likelier culprit (NATS, not every
// cluster), and nothing is declared lost.
func (r *Registry) Lost(now time.Time, after time.Duration) []Placement {
	r.mu.Lock()
	defer r.mu.Unlock()
	alive := false
	for _, hb := range r.clusters {
		if now.Sub(hb.At) <= r.Timeout {
			alive = true
			break
		}
	}
	if !alive {
		return nil
	}
	var out []Placement
	for _, pl := range r.placements {
		if !pl.Started {
			continue
		}
		last := pl.PlacedAt // never seen: silent since the placement
		if hb, ok := r.clusters[pl.Cluster]; ok {
			last = hb.At
		} else if at, ok := r.lastSeen[pl.Cluster]; ok {
			last = at
		}
		if now.Sub(last) > after {
			out = append(out, *pl)
		}
	}
	return out
}
