package statusview

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/pkg/natstest"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"go.opentelemetry.io/otel/trace/noop"
)

// env is an embedded JetStream with the topology, the status bucket, a running projector
// and a cache (kept local: no dependency on pkg/natstest).
type env struct {
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	pub   *events.Publisher
	cache *Cache
}

func newEnv(t *testing.T) *env {
	t.Helper()
	_, conn := natstest.RunSluice(t)
	kv, err := conn.JS.KeyValue(t.Context(), events.BucketQueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	tracer := noop.NewTracerProvider().Tracer("test")
	p, err := StartProjector(t.Context(), conn.JS, kv, tracer, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("projector: %v", err)
	}
	t.Cleanup(p.Stop)
	c := startCache(t, kv)
	return &env{js: conn.JS, kv: kv, cache: c, pub: events.NewPublisher(conn.JS, "test", tracer)}
}

func startCache(t *testing.T, kv jetstream.KeyValue) *Cache {
	t.Helper()
	c, err := StartCache(t.Context(), kv)
	if err != nil {
		t.Fatalf("cache: %v", err)
	}
	select {
	case <-c.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("cache not ready")
	}
	return c
}

func (e *env) publish(t *testing.T, subject, msgID, id string, payload any) uint64 {
	t.Helper()
	ack, err := e.pub.Publish(t.Context(), subject, msgID, id, events.TypeForSubject[subject], payload)
	if err != nil {
		t.Fatalf("publish %s: %v", msgID, err)
	}
	return ack.Sequence
}

// lifecycle publishes a query's events up to its terminal subject and returns the
// sequence of the last one. It may run on any goroutine.
func (e *env) lifecycle(t *testing.T, id, cluster, terminal string) (uint64, error) {
	q := events.QuerySpec{ID: id, SQL: "SELECT 1", User: "alice", Protocol: events.ProtocolTrino}
	ev := events.QueryEnded{QueryID: id, Cluster: cluster, By: "test"}
	if terminal != events.SubjectFinished {
		ev.Error = &events.QueryErrorInfo{Message: "boom", ErrorName: "GENERIC_INTERNAL_ERROR", ErrorCode: 65536, ErrorType: "INTERNAL_ERROR"}
	}
	steps := []struct {
		subject, msgID string
		payload        any
	}{
		{events.SubjectSubmitted, events.MsgIDSubmitted(id), events.QuerySubmitted{Query: q}},
		{events.SubjectAdmitted, events.MsgIDAdmitted(id), events.QueryAdmitted{Query: q, Group: "global"}},
		{events.SubjectPlaced, events.MsgIDPlaced(id, 0), events.QueryPlaced{Query: q, Cluster: cluster}},
		{events.SubjectStarted, events.MsgIDStarted(id, 0), events.QueryStarted{QueryID: id, Cluster: cluster, NextURI: "http://" + cluster + "/x/" + id}},
		{terminal, events.MsgIDTerminal(id), ev},
	}
	var seq uint64
	for _, s := range steps {
		ack, err := e.pub.Publish(t.Context(), s.subject, s.msgID, id, events.TypeForSubject[s.subject], s.payload)
		if err != nil {
			return 0, fmt.Errorf("publish %s: %w", s.msgID, err)
		}
		seq = ack.Sequence
	}
	return seq, nil
}

func (e *env) kvStatus(t *testing.T, id string) (*events.QueryStatus, bool) {
	t.Helper()
	entry, err := e.kv.Get(t.Context(), id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("kv get %s: %v", id, err)
	}
	st, err := decode(entry.Value())
	if err != nil {
		t.Fatalf("kv value of %s: %v", id, err)
	}
	return st, true
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// converged waits until the KV value and the cache of id both hold the status at seq.
func (e *env) converged(t *testing.T, id string, seq uint64) *events.QueryStatus {
	t.Helper()
	var kvSt *events.QueryStatus
	natstest.Eventually(t, 5*time.Second, fmt.Sprintf("status of %s at seq %d", id, seq), func() bool {
		st, ok := e.kvStatus(t, id)
		if !ok || st.Seq < seq {
			return false
		}
		kvSt = st
		c, ok := e.cache.Get(id)
		return ok && c.Seq == st.Seq
	})
	c, _ := e.cache.Get(id)
	if !reflect.DeepEqual(kvSt, c) {
		t.Fatalf("cache and KV differ for %s:\n kv    %+v\n cache %+v", id, *kvSt, *c)
	}
	return kvSt
}

// drained waits until the projector has acknowledged everything in the stream.
func (e *env) drained(t *testing.T) {
	t.Helper()
	natstest.Eventually(t, 5*time.Second, "the status-view consumer to drain", func() bool {
		cons, err := e.js.Consumer(t.Context(), events.StreamQueries, events.ConsumerStatusView)
		if err != nil {
			return false
		}
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

func TestProjectorAndCacheFollowALifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "20260101_000000_00001_abcde"
	q := events.QuerySpec{ID: id, SQL: "SELECT 42", User: "alice", Protocol: events.ProtocolTrino}

	changed := e.cache.Changed(id)
	seq := e.publish(t, events.SubjectSubmitted, events.MsgIDSubmitted(id), id, events.QuerySubmitted{Query: q})
	waitClosed(t, changed, "Changed after submitted")
	st := e.converged(t, id, seq)
	if st.State != events.StateQueued || st.Query.SQL != "SELECT 42" {
		t.Fatalf("after submitted: %+v", *st)
	}

	steps := []struct {
		subject, msgID string
		payload        any
		want           events.QueryState
	}{
		{events.SubjectCancelRequested, events.MsgIDCancelRequested(id), events.QueryCancelRequested{QueryID: id}, events.StateQueued},
		{events.SubjectAdmitted, events.MsgIDAdmitted(id), events.QueryAdmitted{Query: q, Group: "global"}, events.StateAdmitted},
		{events.SubjectPlaced, events.MsgIDPlaced(id, 0), events.QueryPlaced{Query: q, Cluster: "c1"}, events.StatePlaced},
		{events.SubjectStarted, events.MsgIDStarted(id, 0), events.QueryStarted{QueryID: id, Cluster: "c1", NextURI: "http://c1/next"}, events.StateRunning},
		{events.SubjectFinished, events.MsgIDTerminal(id), events.QueryEnded{QueryID: id, Cluster: "c1", Rows: 1, By: "test"}, events.StateFinished},
	}
	for _, s := range steps {
		changed := e.cache.Changed(id)
		seq := e.publish(t, s.subject, s.msgID, id, s.payload)
		waitClosed(t, changed, "Changed after "+s.subject)
		st := e.converged(t, id, seq)
		if st.State != s.want || st.Seq != seq {
			t.Fatalf("after %s: state %s seq %d, want %s seq %d", s.subject, st.State, st.Seq, s.want, seq)
		}
	}
	final := e.converged(t, id, 0)
	if !final.CancelRequested || final.Cluster != "c1" || final.NextURI != "http://c1/next" || final.Attempts != 1 {
		t.Fatalf("final status %+v", *final)
	}

	// A second terminal event (a component racing the first one with another message ID)
	// never changes the outcome.
	seq = e.publish(t, events.SubjectCanceled, id+":late-cancel", id, events.QueryEnded{QueryID: id, By: "test",
		Error: &events.QueryErrorInfo{ErrorName: "USER_CANCELED"}})
	st = e.converged(t, id, seq)
	if st.State != events.StateFinished || st.Error != nil {
		t.Fatalf("late canceled event changed a finished query: %+v", *st)
	}

	// A fresh cache loads the current contents before it reports ready.
	c2 := startCache(t, e.kv)
	if got, ok := c2.Get(id); !ok || !reflect.DeepEqual(got, st) {
		t.Fatalf("new cache has %+v, %v; want %+v", got, ok, *st)
	}
	// Deleting the key removes it from the caches.
	if err := e.kv.Delete(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, "the cache to drop the deleted key", func() bool {
		_, ok1 := e.cache.Get(id)
		_, ok2 := c2.Get(id)
		return !ok1 && !ok2
	})
}

func TestProjectorManyQueriesConverge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	terminals := []string{events.SubjectFinished, events.SubjectFailed, events.SubjectCanceled}
	const n = 30
	type result struct {
		id    string
		seq   uint64
		state events.QueryState
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("20260101_000000_%05d_abcde", i)
			terminal := terminals[i%len(terminals)]
			seq, err := e.lifecycle(t, id, fmt.Sprintf("c%d", i%4), terminal)
			if err != nil {
				t.Error(err)
			}
			state := map[string]events.QueryState{
				events.SubjectFinished: events.StateFinished, events.SubjectFailed: events.StateFailed, events.SubjectCanceled: events.StateCanceled,
			}[terminal]
			results[i] = result{id, seq, state}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, r := range results {
		st := e.converged(t, r.id, r.seq)
		if st.State != r.state || st.Seq != r.seq || st.Cluster != fmt.Sprintf("c%d", i%4) || st.Query.SQL != "SELECT 1" {
			t.Errorf("%s: %+v, want state %s seq %d", r.id, *st, r.state, r.seq)
		}
		if (r.state == events.StateFinished) != (st.Error == nil) {
			t.Errorf("%s: state %s with error %+v", r.id, st.State, st.Error)
		}
	}
	e.drained(t)
}

func TestProjectorDropsMalformedEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Not a CloudEvent, and a CloudEvent without a query: both are terminated, not retried
	// forever, and they do not hold up the events behind them.
	if _, err := e.js.PublishMsg(t.Context(), &nats.Msg{Subject: events.SubjectSubmitted, Data: []byte("garbage")}); err != nil {
		t.Fatal(err)
	}
	e.publish(t, events.SubjectCancelRequested, "noid:cancel", "", events.QueryCancelRequested{})
	const id = "20260101_000000_00009_abcde"
	seq, err := e.lifecycle(t, id, "c1", events.SubjectFinished)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.converged(t, id, seq); st.State != events.StateFinished {
		t.Fatalf("state %s, want FINISHED", st.State)
	}
	e.drained(t)
	keys, err := e.kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for k := range keys.Keys() {
		all = append(all, k)
	}
	if !reflect.DeepEqual(all, []string{id}) {
		t.Fatalf("bucket keys %v, want only %s", all, id)
	}
}

func TestCacheOffer(t *testing.T) {
	t.Parallel()
	c := &Cache{status: map[string]*events.QueryStatus{}, waiters: map[string][]chan struct{}{}}
	const id = "q"
	st := func(seq uint64, state events.QueryState, cancel bool) *events.QueryStatus {
		return &events.QueryStatus{Query: events.QuerySpec{ID: id}, State: state, Seq: seq, CancelRequested: cancel}
	}
	fired := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	// Ingest offers the QUEUED status (seq 0) before the projector wrote anything.
	w := c.Changed(id)
	c.Offer(st(0, events.StateQueued, false))
	if !fired(w) {
		t.Fatal("first offer did not wake the waiter")
	}
	steps := []struct {
		name   string
		offer  *events.QueryStatus
		wakes  bool
		holdsN uint64
		holdsS events.QueryState
	}{
		{"newer seq", st(5, events.StateAdmitted, false), true, 5, events.StateAdmitted},
		{"same status again", st(5, events.StateAdmitted, false), false, 5, events.StateAdmitted},
		{"older seq is ignored", st(3, events.StateQueued, false), false, 5, events.StateAdmitted},
		{"the QUEUED offer after the view moved on is ignored", st(0, events.StateQueued, false), false, 5, events.StateAdmitted},
		{"same seq, cancel flag set", st(5, events.StateAdmitted, true), true, 5, events.StateAdmitted},
		{"terminal", st(9, events.StateFinished, true), true, 9, events.StateFinished},
	}
	for _, s := range steps {
		w := c.Changed(id)
		c.Offer(s.offer)
		if got := fired(w); got != s.wakes {
			t.Errorf("%s: woke=%v, want %v", s.name, got, s.wakes)
		}
		got, ok := c.Get(id)
		if !ok || got.Seq != s.holdsN || got.State != s.holdsS {
			t.Errorf("%s: holds %+v, want seq %d state %s", s.name, got, s.holdsN, s.holdsS)
		}
		c.Forget(id, w)
	}

	// Forget drops exactly the given waiter.
	w1, w2 := c.Changed(id), c.Changed(id)
	c.Forget(id, w1)
	if n := len(c.waiters[id]); n != 1 {
		t.Fatalf("%d waiters after Forget, want 1", n)
	}
	c.Offer(st(10, events.StateFinished, true))
	if fired(w1) || !fired(w2) {
		t.Fatalf("after Forget(w1): w1 fired=%v, w2 fired=%v; want false, true", fired(w1), fired(w2))
	}
	if _, ok := c.waiters[id]; ok {
		t.Fatal("waiters kept after they fired")
	}
	c.Forget(id, c.Changed(id))
	if _, ok := c.waiters[id]; ok {
		t.Fatal("empty waiter list kept after the last Forget")
	}
}
