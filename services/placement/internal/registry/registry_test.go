package registry

import (
	"encoding/json"
	"github.com/sluicehq/sluice/pkg/natstest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natsutil"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func hb(name string, state events.ClusterState, slots int, age time.Duration) events.ClusterHeartbeat {
	return events.ClusterHeartbeat{Name: name, URL: "http://" + name, Engine: "duckdb", State: state, Slots: slots, At: now.Add(-age)}
}

// put records a heartbeat as WatchHeartbeats does.
func put(r *Registry, h events.ClusterHeartbeat) {
	r.mu.Lock()
	r.clusters[h.Name] = h
	r.mu.Unlock()
}

func encoded(t *testing.T, subject, id string, payload any) (nats.Header, []byte) {
	t.Helper()
	msg, err := events.Encode(t.Context(), subject, id+":"+subject, "test", events.TypeForSubject[subject], id, payload)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header, msg.Data
}

func applyPlaced(t *testing.T, r *Registry, id, cluster string) {
	t.Helper()
	h, data := encoded(t, events.SubjectPlaced, id, events.QueryPlaced{Query: events.QuerySpec{ID: id}, Cluster: cluster})
	if err := r.Apply(events.SubjectPlaced, h, data); err != nil {
		t.Fatalf("apply placed %s: %v", id, err)
	}
}

func applyEnded(t *testing.T, r *Registry, subject, id string) {
	t.Helper()
	h, data := encoded(t, subject, id, events.QueryEnded{QueryID: id, By: "test"})
	if err := r.Apply(subject, h, data); err != nil {
		t.Fatalf("apply %s %s: %v", subject, id, err)
	}
}

func snapshotByName(r *Registry, at time.Time) map[string]Candidate {
	out := map[string]Candidate{}
	for _, c := range r.Snapshot(at) {
		out[c.Heartbeat.Name] = c
	}
	return out
}

func TestSnapshotFiltering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		timeout    time.Duration
		hb         events.ClusterHeartbeat
		placed     int
		wantReason string // prefix; empty means feasible
	}{
		{"ready, fresh, empty", time.Second, hb("a", events.ClusterReady, 2, 0), 0, ""},
		{"ready, one below capacity", time.Second, hb("a", events.ClusterReady, 2, 0), 3, ""},
		{"full at twice the slots", time.Second, hb("a", events.ClusterReady, 2, 0), 4, "full: 4 placed, capacity 4"},
		{"zero slots is always full", time.Second, hb("a", events.ClusterReady, 0, 0), 0, "full: 0 placed, capacity 0"},
		{"heartbeat exactly at the timeout", time.Second, hb("a", events.ClusterReady, 2, time.Second), 0, ""},
		{"stale heartbeat", time.Second, hb("a", events.ClusterReady, 2, 1500*time.Millisecond), 0, "no heartbeat for 1.5s"},
		{"no timeout configured: age ignored", 0, hb("a", events.ClusterReady, 2, time.Hour), 0, ""},
		{"starting", time.Second, hb("a", events.ClusterStarting, 2, 0), 0, "state starting"},
		{"unhealthy", time.Second, hb("a", events.ClusterUnhealthy, 2, 0), 0, "state unhealthy"},
		{"draining", time.Second, hb("a", events.ClusterDraining, 2, 0), 0, "state draining"},
		{"drained", time.Second, hb("a", events.ClusterDrained, 2, 0), 0, "state drained"},
		{"deactivated", time.Second, hb("a", events.ClusterDeactivated, 2, 0), 0, "state deactivated"},
		{"state is checked before staleness", time.Second, hb("a", events.ClusterDraining, 2, time.Hour), 0, "state draining"},
		{"staleness is checked before load", time.Second, hb("a", events.ClusterReady, 1, time.Hour), 5, "no heartbeat for"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New(tc.timeout)
			put(r, tc.hb)
			for i := range tc.placed {
				r.MarkPlaced(string(rune('A'+i)), tc.hb.Name)
			}
			snap := r.Snapshot(now)
			if len(snap) != 1 {
				t.Fatalf("snapshot has %d clusters, want 1", len(snap))
			}
			c := snap[0]
			if c.Load != tc.placed {
				t.Errorf("Load = %d, want %d", c.Load, tc.placed)
			}
			switch {
			case tc.wantReason == "" && c.Reason != "":
				t.Errorf("filtered out (%q), want feasible", c.Reason)
			case tc.wantReason != "" && !strings.HasPrefix(c.Reason, tc.wantReason):
				t.Errorf("reason %q, want prefix %q", c.Reason, tc.wantReason)
			}
		})
	}
}

func TestSnapshotSortedAndComplete(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	for _, n := range []string{"zeta", "alpha", "mid"} {
		put(r, hb(n, events.ClusterReady, 1, 0))
	}
	put(r, hb("beta", events.ClusterDraining, 1, 0))
	var names []string
	for _, c := range r.Snapshot(now) {
		names = append(names, c.Heartbeat.Name)
	}
	if strings.Join(names, ",") != "alpha,beta,mid,zeta" {
		t.Fatalf("snapshot order %v, want sorted by name with filtered clusters included", names)
	}
	if len(New(0).Snapshot(now)) != 0 {
		t.Fatal("empty registry has candidates")
	}
}

func TestPlacementAccounting(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	put(r, hb("a", events.ClusterReady, 4, 0))
	put(r, hb("b", events.ClusterReady, 4, 0))
	load := func() (int, int) {
		s := snapshotByName(r, now)
		return s["a"].Load, s["b"].Load
	}
	expect := func(step string, wantA, wantB int) {
		t.Helper()
		if a, b := load(); a != wantA || b != wantB {
			t.Fatalf("%s: load a=%d b=%d, want a=%d b=%d", step, a, b, wantA, wantB)
		}
	}

	applyPlaced(t, r, "q1", "a")
	applyPlaced(t, r, "q2", "a")
	applyPlaced(t, r, "q3", "b")
	expect("three placed", 2, 1)

	applyPlaced(t, r, "q1", "a")
	r.MarkPlaced("q1", "a")
	expect("placed again on the same cluster (idempotent)", 2, 1)

	if c, ok := r.PlacedOn("q1"); !ok || c != "a" {
		t.Fatalf("PlacedOn(q1) = %q, %v; want a", c, ok)
	}
	r.MarkPlaced("q1", "b") // a retry moved it
	expect("moved to another cluster", 1, 2)
	if c, _ := r.PlacedOn("q1"); c != "b" {
		t.Fatalf("PlacedOn(q1) = %q after the move, want b", c)
	}

	for i, subj := range []string{events.SubjectFinished, events.SubjectFailed} {
		id := []string{"q1", "q2"}[i]
		applyEnded(t, r, subj, id)
	}
	expect("two ended", 0, 1)
	applyEnded(t, r, events.SubjectFinished, "q1")
	applyEnded(t, r, events.SubjectCanceled, "q1")
	expect("terminal events applied again (idempotent)", 0, 1)
	if _, ok := r.PlacedOn("q1"); ok {
		t.Fatal("PlacedOn(q1) after it ended")
	}
	if !r.Ended("q1") || r.Ended("q3") {
		t.Fatalf("Ended(q1)=%v Ended(q3)=%v, want true, false", r.Ended("q1"), r.Ended("q3"))
	}

	// A placed event that arrives after the query ended (replay, redelivery) takes nothing.
	applyPlaced(t, r, "q1", "a")
	expect("placed after ended", 0, 1)

	// A query that ends before it was ever placed is remembered as ended.
	applyEnded(t, r, events.SubjectRejected, "q9")
	r.MarkPlaced("q9", "a")
	expect("placed after rejected", 0, 1)
	if _, ok := r.PlacedOn("q9"); ok {
		t.Fatal("PlacedOn(q9) for an ended query")
	}

	// Subjects the registry does not fold are ignored.
	h, data := encoded(t, events.SubjectSubmitted, "q10", events.QuerySubmitted{Query: events.QuerySpec{ID: "q10"}})
	if err := r.Apply(events.SubjectSubmitted, h, data); err != nil {
		t.Fatalf("Apply(submitted) = %v, want it ignored", err)
	}
	expect("after an unrelated event", 0, 1)
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
	if _, ok := r.PlacedOn("q1"); ok || r.Ended("q1") {
		t.Fatal("a malformed event changed the registry")
	}
}

func TestTerminalEventNotifies(t *testing.T) {
	t.Parallel()
	r := New(time.Second)
	applyPlaced(t, r, "q1", "a")
	select {
	case <-r.Changed():
		t.Fatal("Changed fired for a placement (only heartbeats and ends free capacity)")
	default:
	}
	applyEnded(t, r, events.SubjectFinished, "q1")
	select {
	case <-r.Changed():
	default:
		t.Fatal("Changed did not fire after a query ended")
	}
}

func TestWatchHeartbeats(t *testing.T) {
	t.Parallel()
	topo := events.DefaultTopology()
	topo.HeartbeatTTL = time.Second
	ns, err := natsutil.StartServer(natsutil.ServerOptions{StoreDir: t.TempDir(), DontListen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	conn, err := natsutil.Connect(t.Context(), "", ns, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := topo.Ensure(t.Context(), conn.JS); err != nil {
		t.Fatal(err)
	}
	kv, err := conn.JS.KeyValue(t.Context(), events.BucketClusters)
	if err != nil {
		t.Fatal(err)
	}
	// A heartbeat written before the watch starts is loaded too.
	putHB := func(h events.ClusterHeartbeat) {
		t.Helper()
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(t.Context(), h.Name, b); err != nil {
			t.Fatal(err)
		}
	}
	early := events.ClusterHeartbeat{Name: "early", State: events.ClusterReady, Slots: 1, At: time.Now().UTC()}
	putHB(early)

	r := New(time.Minute)
	if err := r.WatchHeartbeats(t.Context(), kv); err != nil {
		t.Fatal(err)
	}
	has := func(name string, state events.ClusterState) bool {
		c, ok := snapshotByName(r, time.Now())[name]
		return ok && (state == "" || c.Heartbeat.State == state)
	}
	natstest.Eventually(t, 5*time.Second, "the early heartbeat", func() bool { return has("early", events.ClusterReady) })

	changed := func(what string) {
		t.Helper()
		select {
		case <-r.Changed():
		case <-time.After(5 * time.Second):
			t.Fatalf("Changed did not fire after %s", what)
		}
	}
	changed("the early heartbeat")
	putHB(events.ClusterHeartbeat{Name: "c1", URL: "http://c1", State: events.ClusterReady, Slots: 2, At: time.Now().UTC()})
	changed("the c1 heartbeat")
	if !has("c1", events.ClusterReady) {
		t.Fatal("Changed fired before c1 was registered")
	}
	if c := snapshotByName(r, time.Now())["c1"]; c.Reason != "" || c.Heartbeat.URL != "http://c1" || c.Heartbeat.Slots != 2 {
		t.Fatalf("c1 candidate %+v", c)
	}

	putHB(events.ClusterHeartbeat{Name: "c1", State: events.ClusterDraining, Slots: 2, At: time.Now().UTC()})
	natstest.Eventually(t, 5*time.Second, "c1 draining", func() bool { return has("c1", events.ClusterDraining) })

	// Values that are not heartbeats are ignored.
	if _, err := kv.Put(t.Context(), "junk", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "noname", []byte(`{"state":"ready"}`)); err != nil {
		t.Fatal(err)
	}

	if err := kv.Delete(t.Context(), "c1"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "c1 to disappear after delete", func() bool { return !has("c1", "") })

	// A cluster that stops heartbeating disappears when its entry's TTL expires.
	putHB(events.ClusterHeartbeat{Name: "silent", State: events.ClusterReady, Slots: 1, At: time.Now().UTC()})
	natstest.Eventually(t, 5*time.Second, "silent to appear", func() bool { return has("silent", "") })
	natstest.Eventually(t, topo.HeartbeatTTL+5*time.Second, "silent to expire", func() bool { return !has("silent", "") })

	for name := range snapshotByName(r, time.Now()) {
		if name == "junk" || name == "noname" || name == "" {
			t.Fatalf("non-heartbeat value registered as cluster %q", name)
		}
	}
}
