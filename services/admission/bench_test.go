package admission

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
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

// BenchmarkLeaderRebuild measures how long a new leader takes to fold a log of 1,000,000
// events (240,000 queries submitted, admitted and finished, 20,000 still queued, in 10,000
// groups templated per user) from a real JetStream file store, against the time the same
// ordered consumer takes to deliver the log to a handler that does nothing (the baseline, in
// the same run). Target: <= 5 s.
func BenchmarkLeaderRebuild(b *testing.B) {
	const users, done, queued = 10000, 240000, 20000
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

	start := time.Now()
	n := writeLog(b, conn.JS, users, done, queued)
	b.Logf("wrote %d events in %s", n, time.Since(start).Round(time.Millisecond))

	// Baseline: deliver the log, fold nothing.
	base := replay(b, conn, func(jetstream.Msg) {})

	// The fold, as a new leader runs it.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := &service{cfg: Config{Identity: "bench"}, log: slog.New(slog.DiscardHandler), tracer: noop.NewTracerProvider().Tracer("bench"),
		wake: make(chan struct{}, 1), rg: rg, st: state.New(rg, groups.Options{}), fleet: map[string]int64{}}
	b.ResetTimer()
	start = time.Now()
	f, err := s.fold(context.Background(), conn.JS)
	if err != nil {
		b.Fatal(err)
	}
	fold := time.Since(start)
	f.Stop()
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	r, q := s.st.Tree.Counts()
	if r != 0 || q != queued {
		b.Fatalf("folded state: %d running, %d queued; want 0 and %d", r, q, queued)
	}
	b.ReportMetric(fold.Seconds(), "rebuild-s")
	b.ReportMetric(base.Seconds(), "baseline-replay-s")
	b.ReportMetric(fold.Seconds()/base.Seconds(), "rebuild/baseline")
	b.ReportMetric(float64(n)/fold.Seconds(), "events/s")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(queued), "heap-B/queued-query")
	b.ReportMetric(0, "ns/op")
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

// writeLog publishes the benchmark's log asynchronously and returns the number of events.
func writeLog(b *testing.B, js jetstream.JetStream, users, done, queued int) int {
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
	for i := 0; i < done+queued; i++ {
		id := fmt.Sprintf("20261121_000000_%06d_bench", i)
		user := fmt.Sprintf("user%05d", i%users)
		spec := events.QuerySpec{ID: id, SQL: "SELECT count(*) FROM lineitem WHERE l_orderkey % 7 = 3", Protocol: events.ProtocolTrino,
			User: user, Source: "bench", Catalog: "tpch", Schema: "tiny", SubmittedAt: at}
		gid := []string{"global", "adhoc", user}
		tmpl := []string{"global", "adhoc", "${USER}"}
		pub(events.SubjectSubmitted, events.MsgIDSubmitted(id), id, events.TypeQuerySubmitted, events.QuerySubmitted{Query: spec})
		if i >= done {
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
