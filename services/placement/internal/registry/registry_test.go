package registry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/services/placement/internal/clusterconfig"
	"github.com/sluicehq/sluice/services/placement/internal/framework"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func hb(name string, state events.ClusterState, slots int, age time.Duration) *events.ClusterHeartbeat {
	return &events.ClusterHeartbeat{Name: name, URL: "http://" + name, Engine: "duckdb", State: state, Slots: slots, At: now.Add(-age)}
}

func encoded(t *testing.T, subject, id string, payload any) (nats.Header, []byte) {
	t.Helper()
	msg, err := events.Encode(t.Context(), subject, id+":"+subject, "test", events.TypeForSubject[subject], id, payload)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header, msg.Data
}

func apply(t *testing.T, r *Registry, subject, id string, payload any) {
	t.Helper()
	h, data := encoded(t, subject, id, payload)
	if err := r.Apply(subject, h, data); err != nil {
		t.Fatalf("apply %s %s: %v", subject, id, err)
	}
}

func placed(t *testing.T, r *Registry, id, cluster string, attempt int, at time.Time) {
	apply(t, r, events.SubjectPlaced, id, events.QueryPlaced{Query: events.QuerySpec{ID: id, SQL: "SELECT 1"}, Cluster: cluster, Attempt: attempt, PlacedAt: at})
}

func byName(r *Registry) map[string]*framework.Cluster {
	out := map[string]*framework.Cluster{}
	for _, c := range r.Clusters() {
		out[c.Name] = c
	}
	return out
}

// TestClustersView: heartbeats, the clusters file and operators' wishes make the cluster
// placement sees; a wish shows at once, before the cluster reports it.
func TestClustersView(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	r.SetHeartbeat("a", hb("a", events.ClusterReady, 4, 0))
	r.SetHeartbeat("b", hb("b", events.ClusterReady, 4, 0))
	r.SetHeartbeat("c", hb("c", events.ClusterReady, 4, 0))
	plans := false
	r.SetStatic(&clusterconfig.Config{Clusters: map[string]clusterconfig.Cluster{
		"a":    {Name: "a", RoutingGroup: "etl", Region: "eu", Weight: 3, MaxSlots: 2, Tables: []string{"TPCH.tiny.lineitem"}},
		"b":    {Name: "b", Weight: 1, Plans: &plans},
		"cold": {Name: "cold", Weight: 1},
	}})
	r.mu.Lock()
	r.wishes["b"] = events.WishDrain
	r.wishes["c"] = events.WishDeactivate
	r.mu.Unlock()
	got := byName(r)
	a := got["a"]
	if a.State != framework.StateReady || a.RoutingGroup != "etl" || a.Region != "eu" || a.Weight != 3 || a.MaxSlots != 2 ||
		!a.Capabilities.Has(framework.KindPlan) || !a.Tables.Has("tpch.tiny.lineitem") {
		t.Errorf("a = %+v", a)
	}
	if b := got["b"]; b.State != framework.StateDraining || b.Capabilities.Has(framework.KindPlan) {
		t.Errorf("b (drain asked, plans off) = %+v", b)
	}
	if c := got["c"]; c.State != framework.StateDeactivated {
		t.Errorf("c (deactivate asked) state %s", c.State)
	}
	if cold := got["cold"]; cold.State != framework.StateUnhealthy || !cold.LastHeartbeat.IsZero() {
		t.Errorf("cold (configured, no heartbeat) = %+v", cold)
	}
}

// TestHeartbeatDescribesTheCluster: without a clusters-file entry, a cluster's region,
// routing group, tables, used memory and CPU load come from its heartbeat; a file entry
// overrides the fields it sets.
func TestHeartbeatDescribesTheCluster(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	for _, name := range []string{"self", "filed"} {
		h := hb(name, events.ClusterReady, 4, 0)
		h.Region, h.RoutingGroup, h.Tables, h.UsedMemoryBytes, h.CPULoad = "us", "adhoc", []string{"tpch.tiny.orders"}, 1<<20, 0.5
		r.SetHeartbeat(name, h)
	}
	r.SetStatic(&clusterconfig.Config{Clusters: map[string]clusterconfig.Cluster{"filed": {Name: "filed", Region: "eu", Weight: 1}}})
	got := byName(r)
	if s := got["self"]; s.Region != "us" || s.RoutingGroup != "adhoc" || !s.Tables.Has("tpch.tiny.orders") || s.MemoryUsedBytes != 1<<20 || s.CPULoad != 0.5 {
		t.Errorf("self = %+v", s)
	}
	if f := got["filed"]; f.Region != "eu" || f.RoutingGroup != "adhoc" || !f.Tables.Has("tpch.tiny.orders") {
		t.Errorf("filed (file sets the region only) = %+v", f)
	}
	// A new table list is picked up.
	h := hb("self", events.ClusterReady, 4, 0)
	h.Tables = []string{"tpch.tiny.nation"}
	r.SetHeartbeat("self", h)
	if s := byName(r)["self"]; s.Tables.Has("tpch.tiny.orders") || !s.Tables.Has("tpch.tiny.nation") {
		t.Errorf("tables after a change = %v", s.Tables)
	}
}

// TestPlacementAccounting: placements count against their cluster until they end; a newer
// attempt moves the count; an older one changes nothing; an ended query is not placed again.
func TestPlacementAccounting(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	for _, c := range []string{"a", "b"} {
		r.SetHeartbeat(c, hb(c, events.ClusterReady, 4, 0))
	}
	placed(t, r, "q1", "a", 0, now)
	placed(t, r, "q2", "a", 0, now)
	placed(t, r, "q1", "b", 1, now)
	placed(t, r, "q1", "a", 0, now) // a late repeat of attempt 0
	if got := byName(r); got["a"].Placed != 1 || got["b"].Placed != 1 {
		t.Fatalf("placed: a %d b %d, want 1 and 1", got["a"].Placed, got["b"].Placed)
	}
	apply(t, r, events.SubjectStarted, "q1", events.QueryStarted{QueryID: "q1", Cluster: "b", Attempt: 1})
	if pl, ok := r.Placement("q1"); !ok || !pl.Started || pl.Cluster != "b" {
		t.Fatalf("q1 = %+v", pl)
	}
	apply(t, r, events.SubjectFinished, "q1", events.QueryEnded{QueryID: "q1"})
	apply(t, r, events.SubjectCanceled, "q2", events.QueryEnded{QueryID: "q2"})
	if got := byName(r); got["a"].Placed != 0 || got["b"].Placed != 0 || !r.Ended("q1") {
		t.Fatalf("after the ends: a %d b %d", got["a"].Placed, got["b"].Placed)
	}
	placed(t, r, "q1", "c", 2, now)
	if _, ok := r.Placement("q1"); ok {
		t.Fatal("an ended query was placed again")
	}
}

// TestStranded: a placement that has not started on a cluster that cannot take it any more
// (drain asked, not ready, silent, gone) is stranded after the grace; started ones and
// those on ready clusters are not.
func TestStranded(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	r.SetHeartbeat("ready", hb("ready", events.ClusterReady, 4, 0))
	r.SetHeartbeat("drain", hb("drain", events.ClusterReady, 4, 0))
	r.SetHeartbeat("sick", hb("sick", events.ClusterUnhealthy, 4, 0))
	r.SetHeartbeat("silent", hb("silent", events.ClusterReady, 4, 5*time.Second))
	r.mu.Lock()
	r.wishes["drain"] = events.WishDrain
	r.mu.Unlock()
	for _, c := range []string{"ready", "drain", "sick", "silent", "gone"} {
		placed(t, r, "q-"+c, c, 0, now.Add(-time.Second))
		placed(t, r, "started-"+c, c, 0, now.Add(-time.Second))
		apply(t, r, events.SubjectStarted, "started-"+c, events.QueryStarted{QueryID: "started-" + c, Cluster: c})
	}
	placed(t, r, "young", "drain", 0, now)
	var got []string
	for _, pl := range r.Stranded(now, 500*time.Millisecond) {
		got = append(got, pl.Query.ID)
	}
	want := map[string]bool{"q-drain": true, "q-sick": true, "q-silent": true, "q-gone": true}
	if len(got) != len(want) {
		t.Fatalf("stranded %v, want %v", got, want)
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("stranded %v, want %v", got, want)
		}
	}
}

// TestLost: started queries on a cluster silent for longer than the limit are lost, unless
// no cluster heartbeats at all (a control-plane outage must not fail the whole fleet's
// queries).
func TestLost(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	r.SetHeartbeat("alive", hb("alive", events.ClusterReady, 4, 0))
	r.SetHeartbeat("dead", hb("dead", events.ClusterReady, 4, 0))
	placed(t, r, "q1", "dead", 0, now.Add(-time.Hour))
	apply(t, r, events.SubjectStarted, "q1", events.QueryStarted{QueryID: "q1", Cluster: "dead"})
	placed(t, r, "q2", "alive", 0, now.Add(-time.Hour))
	apply(t, r, events.SubjectStarted, "q2", events.QueryStarted{QueryID: "q2", Cluster: "alive"})
	if lost := r.Lost(now, 10*time.Second); len(lost) != 0 {
		t.Fatalf("lost %v while both clusters heartbeat", lost)
	}
	r.SetHeartbeat("dead", nil) // its entry expired: silent since its last heartbeat (now)
	if lost := r.Lost(now.Add(5*time.Second), 10*time.Second); len(lost) != 0 {
		t.Fatalf("lost %v before the limit", lost)
	}
	r.SetHeartbeat("alive", hb("alive", events.ClusterReady, 4, -11*time.Second))
	lost := r.Lost(now.Add(11*time.Second), 10*time.Second)
	if len(lost) != 1 || lost[0].Query.ID != "q1" {
		t.Fatalf("lost %v, want q1", lost)
	}
	// Every heartbeat stale: the control plane, not the clusters.
	if lost := r.Lost(now.Add(time.Hour), 10*time.Second); len(lost) != 0 {
		t.Fatalf("lost %v during a control-plane outage", lost)
	}
}

func TestApplyRejectsMalformedEvents(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	h, data := encoded(t, events.SubjectPlaced, "q1", events.QueryPlaced{Query: events.QuerySpec{ID: "q1"}, Cluster: "a"})
	if err := r.Apply(events.SubjectPlaced, nats.Header{}, data); err == nil {
		t.Error("placed event without CloudEvent headers accepted")
	}
	if err := r.Apply(events.SubjectFinished, h, data); err == nil {
		t.Error("placed event on the finished subject accepted")
	}
	if err := r.Apply(events.SubjectPlaced, h, []byte("{")); err == nil {
		t.Error("malformed placed payload accepted")
	}
	if _, ok := r.Placement("q1"); ok || r.Ended("q1") {
		t.Fatal("a malformed event changed the registry")
	}
}

// TestWatch: heartbeats and wishes written to their buckets reach the registry, before and
// after the watch started; a deleted wish (resume) clears it.
func TestWatch(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunSluice(t)
	hbKV, err := conn.JS.KeyValue(t.Context(), events.BucketClusters)
	if err != nil {
		t.Fatal(err)
	}
	ctlKV, err := conn.JS.KeyValue(t.Context(), events.BucketClusterControl)
	if err != nil {
		t.Fatal(err)
	}
	putJSON := func(bucket string, key string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		kv := hbKV
		if bucket == events.BucketClusterControl {
			kv = ctlKV
		}
		if _, err := kv.Put(t.Context(), key, b); err != nil {
			t.Fatal(err)
		}
	}
	putJSON(events.BucketClusters, "early", events.ClusterHeartbeat{Name: "early", State: events.ClusterReady, Slots: 1, At: time.Now().UTC()})
	r := New(time.Minute)
	if err := r.WatchHeartbeats(t.Context(), hbKV); err != nil {
		t.Fatal(err)
	}
	if err := r.WatchControl(t.Context(), ctlKV); err != nil {
		t.Fatal(err)
	}
	state := func(name string) framework.State {
		if c, ok := byName(r)[name]; ok {
			return c.State
		}
		return ""
	}
	natstest.Eventually(t, 5*time.Second, "the early heartbeat", func() bool { return state("early") == framework.StateReady })
	putJSON(events.BucketClusterControl, "early", events.ClusterControl{Wish: events.WishDrain})
	natstest.Eventually(t, 5*time.Second, "the drain wish", func() bool { return state("early") == framework.StateDraining })
	if err := ctlKV.Delete(t.Context(), "early"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the resume", func() bool { return state("early") == framework.StateReady })
	if err := hbKV.Delete(t.Context(), "early"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the heartbeat gone", func() bool { return state("early") == "" })
}

// TestRedispatch: a failed dispatch of the current attempt makes the placement wait for a
// new one (it is not also stranded); a stale attempt's failure changes nothing; the
// failures and the memory estimate carry over to the next attempt.
func TestRedispatch(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	r.SetHeartbeat("sick", hb("sick", events.ClusterUnhealthy, 4, 0))
	apply(t, r, events.SubjectPlaced, "q1", events.QueryPlaced{Query: events.QuerySpec{ID: "q1"}, Cluster: "a", Attempt: 0, PlacedAt: now, MemoryBytes: 1 << 30})
	placed(t, r, "q2", "sick", 1, now.Add(-time.Minute))
	fail := func(id, cluster string, attempt int) {
		apply(t, r, events.SubjectDispatchFailed, id, events.QueryDispatchFailed{QueryID: id, Cluster: cluster, Attempt: attempt, Error: events.QueryErrorInfo{Message: "503"}})
	}
	fail("q2", "sick", 0) // an older attempt: ignored
	fail("q1", "a", 0)
	fail("q1", "a", 0) // a redelivered event counts once
	got := r.Redispatch()
	if len(got) != 1 || got[0].Query.ID != "q1" || len(got[0].Failures) != 1 || got[0].MemoryBytes != 1<<30 {
		t.Fatalf("Redispatch = %+v", got)
	}
	for _, pl := range r.Stranded(now.Add(time.Hour), 0) {
		if pl.Query.ID == "q1" {
			t.Errorf("a failed dispatch is also stranded: %+v", pl)
		}
	}
	apply(t, r, events.SubjectPlaced, "q1", events.QueryPlaced{Query: events.QuerySpec{ID: "q1"}, Cluster: "b", Attempt: 1, PlacedAt: now, MemoryBytes: 1 << 30})
	if got := r.Redispatch(); len(got) != 0 {
		t.Fatalf("placed again but still waiting: %+v", got)
	}
	pl, _ := r.Placement("q1")
	if pl.Cluster != "b" || pl.DispatchFailed || len(pl.Failures) != 1 || pl.Failures[0].Cluster != "a" || pl.MemoryBytes != 1<<30 {
		t.Fatalf("placement after the new attempt = %+v", pl)
	}
}
