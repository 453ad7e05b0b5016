package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/natstest"
)

// TestTopologyEnsure runs Ensure twice against a real JetStream server and checks that the
// second call changes nothing: the streams are not recreated, stored messages survive, and
// every stream and bucket has the retention, storage and dedup window the design relies on.
func TestTopologyEnsure(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunJetStream(t)
	ctx := t.Context()
	topo := events.DefaultTopology()

	if err := topo.Ensure(ctx, conn.JS); err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	infoBefore := map[string]*jetstream.StreamInfo{}
	for _, name := range []string{events.StreamQueries, events.StreamFragments, events.StreamPlanFragments, events.StreamFragmentStatus} {
		s, err := conn.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		infoBefore[name] = s.CachedInfo()
	}
	if _, err := conn.JS.Publish(ctx, events.SubjectSubmitted, []byte("keep me")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	kv, err := conn.JS.KeyValue(ctx, events.BucketConfig)
	if err != nil {
		t.Fatalf("bucket %s: %v", events.BucketConfig, err)
	}
	if _, err := kv.Put(ctx, events.KeySlugSecret, []byte("secret")); err != nil {
		t.Fatalf("put: %v", err)
	}

	if err := topo.Ensure(ctx, conn.JS); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}

	streams := []struct {
		name      string
		subjects  []string
		retention jetstream.RetentionPolicy
		maxAge    time.Duration
		msgs      uint64
		storage   jetstream.StorageType
	}{
		{events.StreamQueries, []string{events.SubjectQueryAll, events.SubjectAdmissionTerm}, jetstream.LimitsPolicy, topo.QueryRetention, 1, jetstream.FileStorage},
		{events.StreamFragments, []string{events.SubjectFragmentAll}, jetstream.WorkQueuePolicy, 0, 0, jetstream.FileStorage},
		{events.StreamPlanFragments, []string{events.SubjectPlanFragmentAll}, jetstream.WorkQueuePolicy, 0, 0, jetstream.MemoryStorage},
		{events.StreamFragmentStatus, []string{events.SubjectFragmentStatusAll}, jetstream.LimitsPolicy, topo.StatusRetention, 0, jetstream.MemoryStorage},
	}
	for _, want := range streams {
		s, err := conn.JS.Stream(ctx, want.name)
		if err != nil {
			t.Fatalf("stream %s after second Ensure: %v", want.name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg := info.Config
		if !info.Created.Equal(infoBefore[want.name].Created) {
			t.Errorf("%s was recreated: created %v, then %v", want.name, infoBefore[want.name].Created, info.Created)
		}
		if len(cfg.Subjects) != len(want.subjects) || cfg.Subjects[0] != want.subjects[0] {
			t.Errorf("%s subjects = %v, want %v", want.name, cfg.Subjects, want.subjects)
		}
		if cfg.Retention != want.retention {
			t.Errorf("%s retention = %v, want %v", want.name, cfg.Retention, want.retention)
		}
		if cfg.Storage != want.storage {
			t.Errorf("%s storage = %v, want %v", want.name, cfg.Storage, want.storage)
		}
		if cfg.Duplicates != topo.DuplicateWindow {
			t.Errorf("%s duplicate window = %v, want %v", want.name, cfg.Duplicates, topo.DuplicateWindow)
		}
		if cfg.Replicas != topo.Replicas {
			t.Errorf("%s replicas = %d, want %d", want.name, cfg.Replicas, topo.Replicas)
		}
		if cfg.MaxAge != want.maxAge {
			t.Errorf("%s max age = %v, want %v", want.name, cfg.MaxAge, want.maxAge)
		}
		if info.State.Msgs != want.msgs {
			t.Errorf("%s holds %d messages after the second Ensure, want %d", want.name, info.State.Msgs, want.msgs)
		}
	}

	for _, name := range []string{events.ObjectSnapshots} {
		os, err := conn.JS.ObjectStore(ctx, name)
		if err != nil {
			t.Fatalf("object store %s: %v", name, err)
		}
		st, err := os.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Storage() != jetstream.FileStorage {
			t.Errorf("%s storage = %v, want file", name, st.Storage())
		}
	}

	buckets := []struct {
		name        string
		ttl         time.Duration
		markerTTL   time.Duration
		wantEntries uint64
	}{
		{events.BucketQueryStatus, topo.StatusRetention, 0, 0},
		{events.BucketClusters, topo.HeartbeatTTL, time.Second, 0},
		{events.BucketLeases, topo.LeaseTTL, time.Second, 0},
		{events.BucketConfig, 0, 0, 1},
		{events.BucketPlacements, topo.StatusRetention, 0, 0},
		{events.BucketClusterControl, 0, 0, 0},
	}
	for _, want := range buckets {
		kv, err := conn.JS.KeyValue(ctx, want.name)
		if err != nil {
			t.Fatalf("bucket %s: %v", want.name, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.History() != 1 {
			t.Errorf("%s history = %d, want 1", want.name, st.History())
		}
		if st.TTL() != want.ttl {
			t.Errorf("%s TTL = %v, want %v", want.name, st.TTL(), want.ttl)
		}
		if st.LimitMarkerTTL() != want.markerTTL {
			t.Errorf("%s limit marker TTL = %v, want %v", want.name, st.LimitMarkerTTL(), want.markerTTL)
		}
		wantStorage := jetstream.FileStorage
		if want.name == events.BucketClusters {
			wantStorage = jetstream.MemoryStorage // heartbeats are ephemeral
		}
		if st.Config().Storage != wantStorage {
			t.Errorf("%s storage = %v, want %v", want.name, st.Config().Storage, wantStorage)
		}
		if st.Values() != want.wantEntries {
			t.Errorf("%s holds %d values after the second Ensure, want %d", want.name, st.Values(), want.wantEntries)
		}
	}
	if e, err := kv.Get(ctx, events.KeySlugSecret); err != nil || string(e.Value()) != "secret" {
		t.Errorf("slug secret after second Ensure: %v", err)
	}
}

// TestTerminalDedup proves the guarantee that a query ends exactly once: every terminal
// event carries MsgIDTerminal, so whichever is published first is the only one stored, even
// though they go to different subjects.
// TestEnsureMovesHeartbeatsToMemory: a heartbeat bucket left on file storage by an older
// version is recreated in memory; the other buckets keep their contents.
func TestEnsureMovesHeartbeatsToMemory(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunJetStream(t)
	ctx := t.Context()
	topo := events.DefaultTopology()
	var old jetstream.KeyValueConfig
	for _, cfg := range topo.Buckets() {
		if cfg.Bucket == events.BucketClusters {
			old = cfg
		}
	}
	old.Storage = jetstream.FileStorage
	if _, err := conn.JS.CreateKeyValue(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := topo.Ensure(ctx, conn.JS); err != nil {
		t.Fatalf("Ensure over a file-storage heartbeat bucket: %v", err)
	}
	kv, err := conn.JS.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Config().Storage; got != jetstream.MemoryStorage {
		t.Fatalf("heartbeat bucket storage %v, want memory", got)
	}
}

func TestTerminalDedup(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunSluice(t)
	ctx := t.Context()
	tracer, _ := newTracer(t)
	pub := events.NewPublisher(conn.JS, "sluice/test", tracer)

	const q = "q-dedup"
	first, err := pub.Publish(ctx, events.SubjectFinished, events.MsgIDTerminal(q), q, events.TypeQueryFinished, events.QueryEnded{QueryID: q, Rows: 3, By: "executorproxy"})
	if err != nil {
		t.Fatalf("first terminal publish: %v", err)
	}
	if first.Duplicate {
		t.Fatalf("first terminal publish acked as duplicate")
	}
	for _, subj := range []string{events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected} {
		ack, err := pub.Publish(ctx, subj, events.MsgIDTerminal(q), q, events.TypeForSubject[subj], events.QueryEnded{QueryID: q, By: "other"})
		if err != nil {
			t.Fatalf("publish %s: %v", subj, err)
		}
		if !ack.Duplicate {
			t.Errorf("publish %s with the terminal id: Duplicate = false, want true", subj)
		}
		if ack.Sequence != first.Sequence {
			t.Errorf("duplicate ack sequence = %d, want the original %d", ack.Sequence, first.Sequence)
		}
	}

	s, err := conn.JS.Stream(ctx, events.StreamQueries)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	for _, subj := range []string{events.SubjectFailed, events.SubjectCanceled, events.SubjectRejected} {
		if _, err := s.GetLastMsgForSubject(ctx, subj); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Errorf("%s: stored message or unexpected error %v", subj, err)
		}
	}

	// The one stored message is the first terminal event and still decodes after the trip
	// through the server (header case and percent-encoding preserved).
	raw, err := s.GetMsg(ctx, first.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != events.SubjectFinished {
		t.Errorf("stored subject = %s, want %s", raw.Subject, events.SubjectFinished)
	}
	var ended events.QueryEnded
	ev, err := events.Decode(raw.Header, raw.Data, events.TypeQueryFinished, &ended)
	if err != nil {
		t.Fatalf("decode stored event: %v", err)
	}
	if ev.ID() != events.MsgIDTerminal(q) || ended.Rows != 3 || ended.By != "executorproxy" {
		t.Errorf("stored event = %s %+v", ev.ID(), ended)
	}
	if raw.Header.Get("traceparent") == "" {
		t.Errorf("stored event has no traceparent: %v", raw.Header)
	}

	// Control: another query's terminal event is not a duplicate.
	other, err := pub.Publish(ctx, events.SubjectFailed, events.MsgIDTerminal("q-other"), "q-other", events.TypeQueryFailed, events.QueryEnded{QueryID: "q-other"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Duplicate || other.Sequence == first.Sequence {
		t.Errorf("different query deduplicated: %+v", other)
	}
}

// TestPublishWithExpectations checks that Publisher.Publish passes extra options through:
// a fenced publish whose expectation fails is refused, not stored.
func TestPublishWithExpectations(t *testing.T) {
	t.Parallel()
	_, conn := natstest.RunSluice(t)
	ctx := t.Context()
	tracer, _ := newTracer(t)
	pub := events.NewPublisher(conn.JS, "sluice/test", tracer)

	ack, err := pub.Publish(ctx, events.SubjectSubmitted, events.MsgIDSubmitted("q1"), "q1", events.TypeQuerySubmitted, events.QuerySubmitted{}, jetstream.WithExpectLastSequence(0))
	if err != nil {
		t.Fatalf("publish expecting an empty stream: %v", err)
	}
	if _, err := pub.Publish(ctx, events.SubjectSubmitted, events.MsgIDSubmitted("q2"), "q2", events.TypeQuerySubmitted, events.QuerySubmitted{}, jetstream.WithExpectLastSequence(ack.Sequence+5)); err == nil {
		t.Fatalf("publish with a wrong expected last sequence succeeded")
	}
	if _, err := pub.Publish(ctx, events.SubjectSubmitted, "", "q3", events.TypeQuerySubmitted, events.QuerySubmitted{}); err == nil {
		t.Fatalf("publish without a msg id succeeded: the codec must refuse an event without id")
	}
	s, err := conn.JS.Stream(ctx, events.StreamQueries)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
}
