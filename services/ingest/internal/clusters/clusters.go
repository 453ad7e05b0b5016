// Package clusters is the operators' view of the fleet at the front door: every cluster
// with its heartbeat and what operators asked of it, and the drain, resume and deactivate
// actions. The actions write the cluster-control bucket, which placement (no new queries)
// and the cluster's executor-proxy (stop pulling, report drained once idle) follow.
package clusters

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
)

// ErrUnknownCluster: no cluster of that name heartbeats or has a control entry.
var ErrUnknownCluster = errors.New("unknown cluster")

// Action is an operator's action on a cluster.
type Action string

// Actions.
const (
	ActionDrain      Action = "drain"
	ActionResume     Action = "resume"
	ActionDeactivate Action = "deactivate"
)

// View is one cluster as operators see it.
type View struct {
	Name    string              `json:"name"`
	URL     string              `json:"url,omitempty"`
	Engine  string              `json:"engine,omitempty"`
	State   events.ClusterState `json:"state"`
	Wish    events.ClusterWish  `json:"wish,omitempty"`
	Slots   int                 `json:"slots"`
	Running int                 `json:"running"`
	Queued  int                 `json:"queued"`
	// MemoryBytes is the memory the cluster can give queries.
	MemoryBytes   int64     `json:"memoryBytes,omitempty"`
	LastHeartbeat time.Time `json:"lastHeartbeat,omitzero"`
	// WishBy and WishReason say who asked for the wish and why.
	WishBy     string    `json:"wishBy,omitempty"`
	WishReason string    `json:"wishReason,omitempty"`
	WishAt     time.Time `json:"wishAt,omitzero"`
}

// Admin reads and changes the fleet's state.
type Admin struct {
	js         jetstream.JetStream
	heartbeats jetstream.KeyValue
	control    jetstream.KeyValue
	now        func() time.Time
	// Stale: a heartbeat older than this shows the cluster unhealthy.
	Stale time.Duration
}

// Open returns the admin view of a JetStream account.
func Open(ctx context.Context, js jetstream.JetStream, stale time.Duration) (*Admin, error) {
	hb, err := js.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		return nil, err
	}
	ctl, err := js.KeyValue(ctx, events.BucketClusterControl)
	if err != nil {
		return nil, err
	}
	return &Admin{js: js, heartbeats: hb, control: ctl, now: time.Now, Stale: stale}, nil
}

// List returns every cluster that heartbeats or has a control entry, by name.
func (a *Admin) List(ctx context.Context) ([]View, error) {
	views := map[string]*View{}
	get := func(name string) *View {
		v, ok := views[name]
		if !ok {
			v = &View{Name: name, State: events.ClusterUnhealthy}
			views[name] = v
		}
		return v
	}
	if err := each(ctx, a.js, a.heartbeats, func(name string, hb events.ClusterHeartbeat) {
		v := get(name)
		v.URL, v.Engine, v.State, v.Slots, v.Running, v.Queued, v.MemoryBytes, v.LastHeartbeat =
			hb.URL, hb.Engine, hb.State, hb.Slots, hb.Running, hb.Queued, hb.MemoryBytes, hb.At
		if a.Stale > 0 && a.now().Sub(hb.At) > a.Stale {
			v.State = events.ClusterUnhealthy
		}
	}); err != nil {
		return nil, err
	}
	if err := each(ctx, a.js, a.control, func(name string, c events.ClusterControl) {
		v := get(name)
		v.Wish, v.WishBy, v.WishReason, v.WishAt = c.Wish, c.By, c.Reason, c.At
		switch {
		case v.LastHeartbeat.IsZero() && c.Wish == events.WishDeactivate:
			v.State = events.ClusterDeactivated
		case v.State == events.ClusterReady || v.State == events.ClusterStarting:
			v.State = events.ClusterDraining // asked, not reported yet
		}
	}); err != nil {
		return nil, err
	}
	out := make([]View, 0, len(views))
	for _, v := range views {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b View) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Get returns one cluster.
func (a *Admin) Get(ctx context.Context, name string) (View, error) {
	all, err := a.List(ctx)
	if err != nil {
		return View{}, err
	}
	for _, v := range all {
		if v.Name == name {
			return v, nil
		}
	}
	return View{}, fmt.Errorf("%w %q", ErrUnknownCluster, name)
}

// Do applies an action to a known cluster and returns its view afterwards.
func (a *Admin) Do(ctx context.Context, name string, action Action, by, reason string) (View, error) {
	if _, err := a.Get(ctx, name); err != nil {
		return View{}, err
	}
	var err error
	switch action {
	case ActionResume:
		err = a.control.Delete(ctx, name)
	case ActionDrain, ActionDeactivate:
		wish := events.WishDrain
		if action == ActionDeactivate {
			wish = events.WishDeactivate
		}
		b, _ := json.Marshal(events.ClusterControl{Wish: wish, By: by, Reason: reason, At: a.now().UTC()})
		_, err = a.control.Put(ctx, name, b)
	default:
		return View{}, fmt.Errorf("unknown action %q (drain, resume or deactivate)", action)
	}
	if err != nil {
		return View{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	return a.Get(ctx, name)
}

// each calls fn for every readable entry of kv.
func each[T any](ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, fn func(string, T)) error {
	// The keys come from the stream's subject list, a snapshot taken by the server.
	// ListKeys is a watcher that can end its initial listing early while keys are being
	// rewritten (heartbeats are, many times a second), and miss some of them.
	stream, err := js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return err
	}
	prefix := "$KV." + kv.Bucket() + "."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subject, prefix))
	}
	slices.Sort(keys)
	for _, key := range keys {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return err
		}
		var v T
		if json.Unmarshal(e.Value(), &v) == nil {
			fn(key, v)
		}
	}
	return nil
}
