// Package registry keeps placement's view of the fleet: the latest heartbeat of every
// cluster (from the SLUICE_CLUSTERS bucket, whose TTL removes silent clusters) and the number
// of queries placed on each cluster that have not ended (folded from the QUERIES log).
package registry

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/heartbeat"
)

// Registry is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	clusters map[string]events.ClusterHeartbeat
	placed   map[string]string // query ID → cluster, for queries not ended
	load     map[string]int    // cluster → placed and not ended
	ended    map[string]struct{}
	changed  chan struct{}
	// Timeout marks a cluster whose last heartbeat is older than this as unhealthy.
	Timeout time.Duration
}

// New returns an empty registry.
func New(timeout time.Duration) *Registry {
	return &Registry{clusters: map[string]events.ClusterHeartbeat{}, placed: map[string]string{},
		load: map[string]int{}, ended: map[string]struct{}{}, changed: make(chan struct{}, 1), Timeout: timeout}
}

// Changed receives a value after the fleet changed (a heartbeat or a query ended).
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
		r.mu.Lock()
		if hb != nil {
			r.clusters[hb.Name] = *hb
		} else {
			delete(r.clusters, cluster)
		}
		r.mu.Unlock()
		r.notify()
	})
}

// Apply folds placed and terminal events into the per-cluster load.
func (r *Registry) Apply(subject string, h nats.Header, data []byte) error {
	switch {
	case subject == events.SubjectPlaced:
		var p events.QueryPlaced
		if _, err := events.Decode(h, data, events.TypeQueryPlaced, &p); err != nil {
			return err
		}
		r.MarkPlaced(p.Query.ID, p.Cluster)
	case events.IsTerminal(subject):
		var p events.QueryEnded
		if _, err := events.Decode(h, data, events.TypeForSubject[subject], &p); err != nil {
			return err
		}
		r.mu.Lock()
		if c, ok := r.placed[p.QueryID]; ok {
			r.load[c]--
			delete(r.placed, p.QueryID)
		}
		r.ended[p.QueryID] = struct{}{}
		r.mu.Unlock()
		r.notify()
	}
	return nil
}

// MarkPlaced records that id runs on cluster. Idempotent.
func (r *Registry) MarkPlaced(id, cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ended[id]; ok {
		return
	}
	if prev, ok := r.placed[id]; ok {
		if prev == cluster {
			return
		}
		r.load[prev]--
	}
	r.placed[id] = cluster
	r.load[cluster]++
}

// PlacedOn returns the cluster id was placed on, if it is placed and not ended.
func (r *Registry) PlacedOn(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.placed[id]
	return c, ok
}

// Ended reports whether id already ended.
func (r *Registry) Ended(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ended[id]
	return ok
}

// Candidate is one cluster with its load, as considered by a placement decision.
type Candidate struct {
	Heartbeat events.ClusterHeartbeat
	Load      int
	// Reason is empty for a feasible cluster, else why it was filtered out.
	Reason string
}

// Snapshot returns every known cluster, sorted by name, with its load and, for clusters
// that cannot take a query now, the reason.
func (r *Registry) Snapshot(now time.Time) []Candidate {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Candidate, 0, len(r.clusters))
	for name, hb := range r.clusters {
		c := Candidate{Heartbeat: hb, Load: r.load[name]}
		capacity := 2 * hb.Slots
		switch {
		case hb.State != events.ClusterReady:
			c.Reason = "state " + string(hb.State)
		case r.Timeout > 0 && now.Sub(hb.At) > r.Timeout:
			c.Reason = fmt.Sprintf("no heartbeat for %s", now.Sub(hb.At).Round(time.Millisecond))
		case c.Load >= capacity:
			c.Reason = fmt.Sprintf("full: %d placed, capacity %d", c.Load, capacity)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Heartbeat.Name < out[j].Heartbeat.Name })
	return out
}
