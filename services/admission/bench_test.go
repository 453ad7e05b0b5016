package admission

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/internal/state"
	"github.com/sluicehq/sluice/services/admission/rgspec"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkLeaderRebuild measures how long a new replica takes to rebuild admission's state
// from a log of 1,000,000 events (260,000 queries in 10,000 groups templated per user:
// 240,000 submitted, admitted, placed and finished, 20,000 still queued), from a real
// JetStream file store, in one run:
//   - rebuild-s: as a new leader does it: the newest snapshot, written by the previous
//     leader SnapshotEvery (100,000) events before the end of the log (the worst case),
//     then the log after it. Target: <= 5 s.
//   - full-replay-s: the whole log folded, without a snapshot.
//   - baseline-replay-s: the same ordered consumer delivering the whole log to a handler
//     that does nothing.
func BenchmarkLeaderRebuild(b *testing.B) {
	const users, snapshotEvery = 10000, 100000
	ns, err := natsutil.StartServer(natsutil.ServerOptions{StoreDir: b.TempDir(), DontListen: true, NoSyncAlways: true, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	ctx := context.Background()
	conn, err := natsutil.Connect(ctx, "", ns, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := events.DefaultTopology().Ensure(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}
	cfgText := `{"rootGroups":[{"name":"global","maxQueued":1000000,"hardConcurrencyLimit":1000,
		"subGroups":[{"name":"adhoc","maxQueued":1000000,"hardConcurrencyLimit":1000,
		  "subGroups":[{"name":"${USER}","maxQueued":100,"hardConcurrencyLimit":3}]}]}],
		"selectors":[{"group":"global.adhoc.${USER}"}]}`
	rg, err := rgspec.Parse([]byte(cfgText))
	if err != nil {
		b.Fatal(err)
	}
	newService := func(every int) *service {
		return &service{cfg: Config{Identity: "bench", SnapshotEvery: every}, js: conn.JS, log: slog.New(slog.DiscardHandler), tracer: noop.NewTracerProvider().Tracer("bench"),
			wake: make(chan struct{}, 1), rg: rg, st: state.New(rg, groups.Options{}), fleet: map[string]int64{}}
	}

	// The log up to the previous leader's last snapshot: 215,000 finished queries and
	// 20,000 queued ones (900,000 events); then 25,000 more finished (100,000 events).
	start := time.Now()
	n := writeLog(b, conn.JS, users, 0, 215000, false)
	n += writeLog(b, conn.JS, users, 215000, 235000, true)
	old := newService(snapshotEvery)
	f, err := old.fold(ctx, conn.JS, 0)
	if err != nil {
		b.Fatal(err)
	}
	f.Stop()
	snap := old.st.Snapshot(time.Now())
	if err := writeSnapshot(ctx, conn.JS, snap); err != nil {
		b.Fatal(err)
	}
	n += writeLog(b, conn.JS, users, 235000, 260000, false)
	b.Logf("wrote %d events in %s; snapshot at sequence %d", n, time.Since(start).Round(time.Millisecond), snap.LastSeq)

	base := replay(b, conn, func(jetstream.Msg) {})
	full, whole := rebuild(b, newService(0), 20000)

	// As a new leader: the snapshot, then the log after it.
	b.ResetTimer()
	took, s := rebuild(b, newService(snapshotEvery), 20000)
	b.StopTimer()
	if s.st.LastSeq != whole.st.LastSeq || s.st.LastSeq < uint64(n-1) {
		b.Fatalf("rebuilt up to sequence %d; the full replay reached %d of %d", s.st.LastSeq, whole.st.LastSeq, n)
	}
	b.ReportMetric(took.Seconds(), "rebuild-s")
	b.ReportMetric(full.Seconds(), "full-replay-s")
	b.ReportMetric(base.Seconds(), "baseline-replay-s")
	b.ReportMetric(took.Seconds()/base.Seconds(), "rebuild/baseline")
	b.ReportMetric(float64(n)/full.Seconds(), "full-replay-events/s")
	b.ReportMetric(0, "ns/op")
}

// rebuild runs a new replica's rebuild (restore, then fold to the end of the log) and
// checks that it holds the queued queries.
func rebuild(b *testing.B, s *service, queued int) (time.Duration, *service) {
	b.Helper()
	start := time.Now()
	s.st = s.restore(context.Background(), s.js, groups.Options{})
	f, err := s.fold(context.Background(), s.js, s.st.LastSeq+1)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	f.Stop()
	if r, q := s.st.Tree.Counts(); r != 0 || q != queued {
		b.Fatalf("rebuilt state: %d running, %d queued; want 0 and %d", r, q, queued)
	}
	return took, s
}

// replay delivers the admission subjects of the whole log to h and returns how long it
// took to catch up.
func replay(b *testing.B, conn *natsutil.Conn, h follow.Handler) time.Duration {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	f, err := follow.Start(ctx, conn.JS, events.StreamQueries, foldSubjects, h)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Stop()
	select {
	case <-f.CaughtUp():
	case <-time.After(5 * time.Minute):
		b.Fatal("replay did not catch up")
	}
	return time.Since(start)
}

// writeLog publishes the events of queries first..last-1 asynchronously and returns their
// number: a query that stays queued has two (submitted, queued), one that ran has four
// (submitted, admitted, placed, finished).
func writeLog(b *testing.B, js jetstream.JetStream, users, first, last int, queued bool) int {
	b.Helper()
	ctx := context.Background()
	n := 0
	at := time.Unix(1_800_000_000, 0).UTC()
	pub := func(subject, msgID, id, ceType string, payload any) {
		msg, err := events.Encode(ctx, subject, msgID, "bench", ceType, id, payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
		n++
		if n%4096 == 0 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publishes not acknowledged")
			}
		}
	}
	for i := first; i < last; i++ {
		id := fmt.Sprintf("20261121_000000_%06d_bench", i)
		user := fmt.Sprintf("user%05d", i%users)
		spec := events.QuerySpec{ID: id, SQL: "SELECT count(*) FROM lineitem WHERE l_orderkey % 7 = 3", Protocol: events.ProtocolTrino,
			User: user, Source: "bench", Catalog: "tpch", Schema: "tiny", SubmittedAt: at}
		gid := []string{"global", "adhoc", user}
		tmpl := []string{"global", "adhoc", "${USER}"}
		pub(events.SubjectSubmitted, events.MsgIDSubmitted(id), id, events.TypeQuerySubmitted, events.QuerySubmitted{Query: spec})
		if queued {
			pub(events.SubjectQueued, events.MsgIDQueued(id), id, events.TypeQueryQueued,
				events.QueryQueued{QueryID: id, Group: "global.adhoc." + user, GroupID: gid, GroupTemplate: tmpl, LeaseRevision: 1, QueuedAt: at, Priority: 1})
			continue
		}
		pub(events.SubjectAdmitted, events.MsgIDAdmitted(id), id, events.TypeQueryAdmitted,
			events.QueryAdmitted{Query: spec, Group: "global.adhoc." + user, GroupID: gid, GroupTemplate: tmpl, LeaseRevision: 1, AdmittedAt: at, Priority: 1})
		pub(events.SubjectFinished, events.MsgIDTerminal(id), id, events.TypeQueryFinished,
			events.QueryEnded{QueryID: id, Cluster: "local-1", EndedAt: at, Rows: 1, CPUTimeMillis: 12, By: "bench"})
		// A fourth event per query that admission does not fold (placement's), as in a real log.
		pub(events.SubjectPlaced, fmt.Sprintf("%s:placed:0", id), id, events.TypeQueryPlaced,
			events.QueryPlaced{Query: spec, Cluster: "local-1", PlacedAt: at})
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acknowledged")
	}
	return n
}
