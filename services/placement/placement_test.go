package placement

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/natstest"
	"github.com/sluicehq/sluice/pkg/protocol"
	"go.opentelemetry.io/otel/trace/noop"
)

// fakeFleet keeps heartbeats of clusters that take no work: the test decides what they do.
type fakeFleet struct {
	mu       sync.Mutex
	alive    map[string]bool
	lastBeat map[string]time.Time
}

// silence stops name's heartbeats and returns the time stamped on its last one.
func (f *fakeFleet) silence(name string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alive[name] = false
	return f.lastBeat[name]
}

func (f *fakeFleet) set(name string, alive bool) {
	f.mu.Lock()
	f.alive[name] = alive
	f.mu.Unlock()
}

func (f *fakeFleet) beat(t *testing.T, kv jetstream.KeyValue) {
	for {
		f.mu.Lock()
		for name, alive := range f.alive {
			if !alive {
				continue
			}
			at := time.Now()
			b, _ := json.Marshal(events.ClusterHeartbeat{Name: name, URL: "http://" + name, Engine: "duckdb", State: events.ClusterReady, Slots: 4, At: at.UTC()})
			_, _ = kv.Put(context.Background(), name, b)
			f.lastBeat[name] = at
		}
		f.mu.Unlock()
		select {
		case <-t.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// placedEvents returns the placed events of a query, in log order.
func placedEvents(t *testing.T, js jetstream.JetStream, id string) []events.QueryPlaced {
	t.Helper()
	var out []events.QueryPlaced
	stream, err := js.Stream(t.Context(), events.StreamQueries)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(t.Context(), seq)
		if err != nil || m.Subject != events.SubjectPlaced {
			continue
		}
		var p events.QueryPlaced
		if _, err := events.Decode(m.Header, m.Data, events.TypeQueryPlaced, &p); err == nil && p.Query.ID == id {
			out = append(out, p)
		}
	}
	return out
}

func lastEnded(t *testing.T, js jetstream.JetStream, id string) *events.QueryEnded {
	t.Helper()
	stream, _ := js.Stream(t.Context(), events.StreamQueries)
	m, err := stream.GetLastMsgForSubject(t.Context(), events.SubjectFailed)
	if err != nil {
		return nil
	}
	var p events.QueryEnded
	if _, err := events.Decode(m.Header, m.Data, events.TypeQueryFailed, &p); err != nil || p.QueryID != id {
		return nil
	}
	return &p
}

// TestMoveOffDrainedClusterAndLoseSilentOne: a query placed on a cluster that is drained
// before it starts moves to another cluster (attempt 1), and the claim keeps the first
// cluster from starting it; a query running on a cluster that goes silent fails with
// SLUICE_CLUSTER_LOST once the limit passed, while another cluster still heartbeats.
func TestMoveOffDrainedClusterAndLoseSilentOne(t *testing.T) {
	t.Parallel()
	ns, conn := natstest.RunSluice(t)
	ctx := t.Context()
	hbKV, _ := conn.JS.KeyValue(ctx, events.BucketClusters)
	ctlKV, _ := conn.JS.KeyValue(ctx, events.BucketClusterControl)
	fleet := &fakeFleet{alive: map[string]bool{"a": true}, lastBeat: map[string]time.Time{}}
	go fleet.beat(t, hbKV)

	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Run(pctx, Config{Server: ns, HeartbeatTimeout: time.Second, LostAfter: 2 * time.Second, AckWait: 2 * time.Second,
			ConfigPoll: time.Second, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() { stop(); <-done })

	pub := events.NewPublisher(conn.JS, "test", noop.NewTracerProvider().Tracer("test"))
	admit := func(id string) {
		if _, err := pub.Publish(ctx, events.SubjectAdmitted, events.MsgIDAdmitted(id), id, events.TypeQueryAdmitted,
			events.QueryAdmitted{Query: events.QuerySpec{ID: id, SQL: "SELECT 1", User: "u"}, Group: "global"}); err != nil {
			t.Fatal(err)
		}
	}
	admit("q1")
	natstest.Eventually(t, 10*time.Second, "q1 placed on a", func() bool {
		p := placedEvents(t, conn.JS, "q1")
		return len(p) == 1 && p[0].Cluster == "a" && p[0].Attempt == 0
	})

	fleet.set("b", true)
	b, _ := json.Marshal(events.ClusterControl{Wish: events.WishDrain, By: "test"})
	if _, err := ctlKV.Put(ctx, "a", b); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, "q1 moved to b", func() bool {
		p := placedEvents(t, conn.JS, "q1")
		return len(p) == 2 && p[1].Cluster == "b" && p[1].Attempt == 1
	})
	cl, err := claims.Open(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := cl.Start(ctx, "q1", "a", 0); ok {
		t.Fatal("the drained cluster could still start the moved query")
	}
	if ok, err := cl.Start(ctx, "q1", "b", 1); !ok || err != nil {
		t.Fatalf("the new cluster cannot start q1: %v %v", ok, err)
	}

	// q2 runs on b, then b goes silent; a still heartbeats (draining), so the control plane
	// works and q2 is lost.
	admit("q2")
	natstest.Eventually(t, 10*time.Second, "q2 placed on b", func() bool {
		p := placedEvents(t, conn.JS, "q2")
		return len(p) == 1 && p[0].Cluster == "b"
	})
	if ok, _ := cl.Start(ctx, "q2", "b", 0); !ok {
		t.Fatal("b cannot start q2")
	}
	if _, err := pub.Publish(ctx, events.SubjectStarted, events.MsgIDStarted("q2", 0), "q2", events.TypeQueryStarted,
		events.QueryStarted{QueryID: "q2", Cluster: "b", StartedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	silentAt := fleet.silence("b")
	natstest.Eventually(t, 15*time.Second, "q2 failed as lost", func() bool {
		e := lastEnded(t, conn.JS, "q2")
		return e != nil && e.Error != nil && e.Error.ErrorName == protocol.SluiceClusterLost.Name
	})
	if waited := time.Since(silentAt); waited < 2*time.Second {
		t.Fatalf("q2 declared lost %s after b's last heartbeat, before the 2s limit", waited)
	}
	if ok, _ := cl.Start(ctx, "q2", "b", 0); ok {
		t.Fatal("a lost query could start again on its cluster")
	}
}
