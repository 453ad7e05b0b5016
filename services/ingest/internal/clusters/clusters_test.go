package clusters

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

func TestAdminListAndActions(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunSluice(t)
	ctx := t.Context()
	a, err := Open(ctx, conn.JS, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if all, err := a.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("empty fleet: %v %v", all, err)
	}
	kv, _ := conn.JS.KeyValue(ctx, events.BucketClusters)
	put := func(name string, state events.ClusterState, age time.Duration) {
		b, _ := json.Marshal(events.ClusterHeartbeat{Name: name, URL: "http://" + name, Engine: "duckdb", State: state, Slots: 4, Running: 1, At: time.Now().Add(-age).UTC()})
		if _, err := kv.Put(ctx, name, b); err != nil {
			t.Fatal(err)
		}
	}
	put("b", events.ClusterReady, 0)
	put("a", events.ClusterReady, 0)
	put("stale", events.ClusterReady, time.Minute)

	all, err := a.List(ctx)
	if err != nil || len(all) != 3 || all[0].Name != "a" || all[2].Name != "stale" {
		t.Fatalf("List = %+v, %v; want a, b, stale", all, err)
	}
	if all[2].State != events.ClusterUnhealthy {
		t.Errorf("a stale heartbeat shows %s, want unhealthy", all[2].State)
	}
	v, err := a.Do(ctx, "a", ActionDrain, "ops", "kernel upgrade")
	if err != nil || v.State != events.ClusterDraining || v.Wish != events.WishDrain || v.WishBy != "ops" || v.WishReason != "kernel upgrade" {
		t.Fatalf("drain = %+v, %v", v, err)
	}
	put("a", events.ClusterDrained, 0) // the cluster reports drained once idle
	if v, _ := a.Get(ctx, "a"); v.State != events.ClusterDrained {
		t.Fatalf("after the drained heartbeat: %s", v.State)
	}
	if v, err := a.Do(ctx, "a", ActionResume, "ops", ""); err != nil || v.Wish != "" {
		t.Fatalf("resume = %+v, %v", v, err)
	}
	if v, err := a.Do(ctx, "b", ActionDeactivate, "ops", ""); err != nil || v.Wish != events.WishDeactivate || v.State != events.ClusterDraining {
		t.Fatalf("deactivate = %+v, %v", v, err)
	}
	if _, err := a.Do(ctx, "nope", ActionDrain, "ops", ""); !errors.Is(err, ErrUnknownCluster) {
		t.Fatalf("drain of an unknown cluster: %v", err)
	}
	if _, err := a.Do(ctx, "a", Action("explode"), "ops", ""); err == nil {
		t.Fatal("an unknown action was accepted")
	}
}

// TestListWhileHeartbeatsRewrite lists the fleet while every cluster rewrites its heartbeat
// as fast as it can: each listing must name every cluster.
func TestListWhileHeartbeatsRewrite(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunSluice(t)
	ctx := t.Context()
	a, err := Open(ctx, conn.JS, 0)
	if err != nil {
		t.Fatal(err)
	}
	kv, _ := conn.JS.KeyValue(ctx, events.BucketClusters)
	names := []string{"local-1", "local-2", "local-3"}
	beat := func(name string) {
		b, _ := json.Marshal(events.ClusterHeartbeat{Name: name, State: events.ClusterReady, Slots: 1, At: time.Now().UTC()})
		_, _ = kv.Put(ctx, name, b)
	}
	for _, n := range names {
		beat(n)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				beat(names[i%len(names)])
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for range 300 {
		all, err := a.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(names) {
			t.Fatalf("a listing during heartbeats names %d clusters, want %d: %+v", len(all), len(names), all)
		}
	}
}
