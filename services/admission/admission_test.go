package admission

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/pkg/natstest"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/lease"
	"github.com/sluicehq/sluice/pkg/natsutil"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/admission/internal/groups"
	"github.com/sluicehq/sluice/services/admission/internal/state"
	"github.com/sluicehq/sluice/services/admission/rgspec"
	"go.opentelemetry.io/otel/trace/noop"
)

// ---- tiny harness (kept local: no dependency on pkg/natstest) ----

type harness struct {
	t    *testing.T
	ns   *server.Server
	conn *natsutil.Conn
	pub  *events.Publisher
	topo events.Topology
	log  *logReader
}

func newHarness(t *testing.T, topo events.Topology) *harness {
	t.Helper()
	ns, conn := natstest.RunJetStream(t)
	if err := topo.Ensure(t.Context(), conn.JS); err != nil {
		t.Fatalf("ensure topology: %v", err)
	}
	stream, err := conn.JS.Stream(t.Context(), events.StreamQueries)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return &harness{t: t, ns: ns, conn: conn, topo: topo, log: &logReader{t: t, stream: stream, next: 1},
		pub: events.NewPublisher(conn.JS, "test/client", noop.NewTracerProvider().Tracer("test"))}
}

func qid(i int) string { return fmt.Sprintf("20260101_000000_%05d_test0", i) }

func (h *harness) submit(id string) {
	h.t.Helper()
	_, err := h.pub.Publish(h.t.Context(), events.SubjectSubmitted, events.MsgIDSubmitted(id), id, events.TypeQuerySubmitted,
		events.QuerySubmitted{Query: events.QuerySpec{ID: id, SQL: "SELECT 1", User: "alice", Protocol: events.ProtocolTrino, SubmittedAt: time.Now().UTC()}})
	if err != nil {
		h.t.Fatalf("submit %s: %v", id, err)
	}
}

func (h *harness) cancel(id, reason string) {
	h.t.Helper()
	_, err := h.pub.Publish(h.t.Context(), events.SubjectCancelRequested, events.MsgIDCancelRequested(id), id, events.TypeQueryCancelRequested,
		events.QueryCancelRequested{QueryID: id, Reason: reason})
	if err != nil {
		h.t.Fatalf("cancel %s: %v", id, err)
	}
}

func (h *harness) finish(id string) {
	h.t.Helper()
	_, err := h.pub.Publish(h.t.Context(), events.SubjectFinished, events.MsgIDTerminal(id), id, events.TypeQueryFinished,
		events.QueryEnded{QueryID: id, EndedAt: time.Now().UTC(), By: "test"})
	if err != nil {
		h.t.Fatalf("finish %s: %v", id, err)
	}
}

// replica runs admission.Run until stop is called.
type replica struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop cancels the replica's context and waits for Run to return.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("replica %s: Run returned %v", r.id, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("replica %s did not stop", r.id)
	}
}

func (h *harness) startReplica(id string, maxRunning int) *replica {
	return h.startReplicaWith(id, maxRunning, nil)
}

// startReplicaWith starts a replica whose configuration tune may change.
func (h *harness) startReplicaWith(id string, maxRunning int, tune func(*Config)) *replica {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(h.t.Context()))
	r := &replica{id: id, cancel: cancel, done: make(chan struct{})}
	topo := h.topo
	cfg := Config{MaxRunning: maxRunning, Server: h.ns, LeaseRenew: 100 * time.Millisecond,
		Identity: id, Logger: slog.New(slog.DiscardHandler), Topology: &topo}
	if tune != nil {
		tune(&cfg)
	}
	go func() {
		defer close(r.done)
		r.err = Run(ctx, cfg)
	}()
	h.t.Cleanup(func() { r.stop(h.t) }) // before the server shuts down (cleanups run last-in first-out)
	return r
}

// ---- the log as the tests read it ----

type logged struct {
	seq      uint64
	subject  string
	queryID  string
	revision uint64                 // admitted: the fencing token of the deciding leader
	errInfo  *events.QueryErrorInfo // terminal events
	by       string
}

// logReader reads the QUERIES stream incrementally.
type logReader struct {
	t      *testing.T
	stream jetstream.Stream
	next   uint64
	all    []logged
}

func (l *logReader) sync() []logged {
	l.t.Helper()
	ctx := l.t.Context()
	info, err := l.stream.Info(ctx)
	if err != nil {
		l.t.Fatalf("stream info: %v", err)
	}
	for ; l.next <= info.State.LastSeq; l.next++ {
		raw, err := l.stream.GetMsg(ctx, l.next)
		if err != nil {
			l.t.Fatalf("get msg %d: %v", l.next, err)
		}
		e := logged{seq: raw.Sequence, subject: raw.Subject}
		switch {
		case raw.Subject == events.SubjectSubmitted:
			var p events.QuerySubmitted
			l.decode(raw, &p)
			e.queryID = p.Query.ID
		case raw.Subject == events.SubjectCancelRequested:
			var p events.QueryCancelRequested
			l.decode(raw, &p)
			e.queryID = p.QueryID
		case raw.Subject == events.SubjectAdmitted:
			var p events.QueryAdmitted
			l.decode(raw, &p)
			e.queryID, e.revision = p.Query.ID, p.LeaseRevision
		case events.IsTerminal(raw.Subject):
			var p events.QueryEnded
			l.decode(raw, &p)
			e.queryID, e.errInfo, e.by = p.QueryID, p.Error, p.By
		}
		l.all = append(l.all, e)
	}
	return l.all
}

func (l *logReader) decode(raw *jetstream.RawStreamMsg, v any) {
	l.t.Helper()
	if _, err := events.Decode(raw.Header, raw.Data, events.TypeForSubject[raw.Subject], v); err != nil {
		l.t.Fatalf("decode %s seq %d: %v", raw.Subject, raw.Sequence, err)
	}
}

func (l *logReader) admitted() []logged {
	var out []logged
	for _, e := range l.sync() {
		if e.subject == events.SubjectAdmitted {
			out = append(out, e)
		}
	}
	return out
}

func ids(es []logged) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.queryID
	}
	return out
}

// checkInvariants replays the log and fails if, at any point of it, more than limit
// admitted queries had not ended, a query was admitted twice, or a query got two terminal
// events (DESIGN invariants 2 and 3).
func checkInvariants(t *testing.T, all []logged, limit int) {
	t.Helper()
	running := map[string]bool{}
	admitted := map[string]uint64{}
	ended := map[string]uint64{}
	for _, e := range all {
		switch {
		case e.subject == events.SubjectAdmitted:
			if prev, ok := admitted[e.queryID]; ok {
				t.Fatalf("query %s admitted twice: seq %d and %d", e.queryID, prev, e.seq)
			}
			if prev, ok := ended[e.queryID]; ok {
				t.Fatalf("query %s admitted at seq %d after it ended at seq %d", e.queryID, e.seq, prev)
			}
			admitted[e.queryID] = e.seq
			running[e.queryID] = true
			if len(running) > limit {
				t.Fatalf("at seq %d %d queries hold a slot (limit %d): %v", e.seq, len(running), limit, running)
			}
		case events.IsTerminal(e.subject):
			if prev, ok := ended[e.queryID]; ok {
				t.Fatalf("query %s has two terminal events: seq %d and %d", e.queryID, prev, e.seq)
			}
			ended[e.queryID] = e.seq
			delete(running, e.queryID)
		}
	}
}

// driveFIFO finishes admitted queries round by round and checks that admission follows
// submission order, never exceeds limit, and admits nothing twice.
func driveFIFO(t *testing.T, h *harness, all []string, limit int) {
	t.Helper()
	finished := 0
	for admittedWant := min(limit, len(all)); ; {
		natstest.Eventually(t, 5*time.Second, fmt.Sprintf("%d admitted", admittedWant), func() bool {
			return len(h.log.admitted()) >= admittedWant
		})
		got := ids(h.log.admitted())
		if !slices.Equal(got, all[:len(got)]) {
			t.Fatalf("admission order is not FIFO:\n got  %v\n want %v", got, all[:len(got)])
		}
		if len(got) != admittedWant {
			t.Fatalf("%d queries admitted, want exactly %d (limit %d, %d finished)", len(got), admittedWant, limit, finished)
		}
		checkInvariants(t, h.log.sync(), limit)
		if finished == len(all) {
			return
		}
		for ; finished < len(got); finished++ {
			h.finish(got[finished])
		}
		admittedWant = min(finished+limit, len(all))
		if finished == len(all) {
			checkInvariants(t, h.log.sync(), limit)
			return
		}
	}
}

// ---- tests ----

// Two replicas run the full service (lease election included) against one JetStream.
func TestTwoReplicasAdmitFIFOWithinLimit(t *testing.T) {
	t.Parallel()
	const limit, n = 2, 30
	h := newHarness(t, events.DefaultTopology())
	h.startReplica("r1", limit)
	h.startReplica("r2", limit)

	var all []string
	for i := range n {
		all = append(all, qid(i))
		h.submit(qid(i))
	}
	driveFIFO(t, h, all, limit)

	// Every admission carries the fencing token of a lease term that exists.
	for _, e := range h.log.admitted() {
		if e.revision == 0 {
			t.Errorf("admitted %s carries lease revision 0", e.queryID)
		}
	}
}

// decider is admission's decision loop without the lease: the test makes two of them lead
// at the same time, the split brain the fence must survive (a leader that lost its lease
// but has not noticed yet).
func startDecider(t *testing.T, h *harness, name string, maxRunning int, revision uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	conn, err := natsutil.Connect(ctx, "", h.ns, name)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	s := newTestService(t, conn, name, maxRunning)
	f, err := follow.Start(ctx, conn.JS, events.StreamQueries, foldSubjects, s.apply)
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-f.CaughtUp():
		case <-ctx.Done():
			return
		}
		// The leader whose term marker is older is fenced out and returns an error.
		if err := s.lead(ctx, lease.Term{Revision: revision, Holder: name}, newSnapshotter(0, 0)); err != nil {
			t.Logf("%s stopped leading: %v", name, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		f.Stop()
		conn.Close()
	})
}

// newTestService is the service's decision core with the default configuration (one
// group, global, with maxRunning) and no lease: the test decides when it leads.
func newTestService(t *testing.T, conn *natsutil.Conn, name string, maxRunning int) *service {
	t.Helper()
	rg, err := rgspec.Parse(DefaultResourceGroups(maxRunning, 1000))
	if err != nil {
		t.Fatal(err)
	}
	tracer := noop.NewTracerProvider().Tracer(name)
	return &service{cfg: Config{MaxRunning: maxRunning, Identity: name}, log: slog.New(slog.DiscardHandler), tracer: tracer,
		wake: make(chan struct{}, 1), pub: events.NewPublisher(conn.JS, "sluice/admission", tracer),
		rg: rg, st: state.New(rg, groups.Options{}), fleet: map[string]int64{}}
}

func TestConcurrentLeadersAreFenced(t *testing.T) {
	t.Parallel()
	const limit, n = 2, 30
	h := newHarness(t, events.DefaultTopology())
	var all []string
	for i := range n {
		all = append(all, qid(i))
		h.submit(qid(i))
	}
	// Both start from the same folded state and race for the same heads.
	startDecider(t, h, "leader-a", limit, 1)
	startDecider(t, h, "leader-b", limit, 2)
	driveFIFO(t, h, all, limit)

	// Both leaders decided at least once over the run, or the test proved nothing about
	// fencing; with 15 rounds of racing wake-ups this is overwhelmingly likely but not
	// guaranteed, so only log it.
	revs := map[uint64]int{}
	for _, e := range h.log.admitted() {
		revs[e.revision]++
	}
	t.Logf("admissions by fencing token: %v", revs)
}

// Cancel requests racing the admissions make two leaders' heads diverge for a moment (one
// has folded a cancel request the other has not), so they may pick different queries; the
// fence must still keep the limit. This is a stress test of real interleavings; the
// deterministic proof is TestStaleLeaderCannotAdmit.
func TestConcurrentLeadersWithCancelsAreFenced(t *testing.T) {
	t.Parallel()
	const limit, n = 2, 40
	h := newHarness(t, events.DefaultTopology())
	for i := range n {
		h.submit(qid(i))
	}
	startDecider(t, h, "leader-a", limit, 1)
	startDecider(t, h, "leader-b", limit, 2)

	ctx := t.Context()
	publishAsync := func(subject, msgID, id, ceType string, payload any) {
		t.Helper()
		msg, err := events.Encode(ctx, subject, msgID, "test/client", ceType, id, payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.conn.JS.PublishMsgAsync(msg, jetstream.WithMsgID(msgID)); err != nil {
			t.Fatalf("publish %s: %v", msgID, err)
		}
	}
	finished := map[string]bool{}
	cancelRequested := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		all := h.log.sync()
		admitted, ended := map[string]bool{}, map[string]bool{}
		for _, e := range all {
			switch {
			case e.subject == events.SubjectAdmitted:
				admitted[e.queryID] = true
			case events.IsTerminal(e.subject):
				ended[e.queryID] = true
			}
		}
		if len(ended) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d queries ended", len(ended), n)
		}
		var toFinish []string
		for id := range admitted {
			if !ended[id] && !finished[id] {
				toFinish = append(toFinish, id)
			}
		}
		if len(toFinish) == 0 {
			<-tick.C
			continue
		}
		// Free the slots, and right behind the frees, cancel the query about to be admitted.
		for _, id := range toFinish {
			finished[id] = true
			publishAsync(events.SubjectFinished, events.MsgIDTerminal(id), id, events.TypeQueryFinished,
				events.QueryEnded{QueryID: id, EndedAt: time.Now().UTC(), By: "test"})
		}
		for i := range n {
			id := qid(i)
			if !admitted[id] && !ended[id] && !cancelRequested[id] {
				cancelRequested[id] = true
				publishAsync(events.SubjectCancelRequested, events.MsgIDCancelRequested(id), id, events.TypeQueryCancelRequested,
					events.QueryCancelRequested{QueryID: id})
				break
			}
		}
		select {
		case <-h.conn.JS.PublishAsyncComplete():
		case <-time.After(5 * time.Second):
			t.Fatal("async publishes not acknowledged")
		}
	}
	lateAdmissions := checkFoldInvariants(t, h.log.sync(), limit)
	t.Logf("%d cancel requests; %d admissions landed after the query's terminal event", len(cancelRequested), lateAdmissions)
}

// checkFoldInvariants replays the log with the folds' semantics (an admitted event after
// the query's terminal event takes no slot) and fails when more than limit queries hold a
// slot at any point, a query is admitted twice, or ends twice. It returns the number of
// admissions that landed after the query had ended.
func checkFoldInvariants(t *testing.T, all []logged, limit int) (late int) {
	t.Helper()
	running := map[string]bool{}
	admitted := map[string]uint64{}
	ended := map[string]uint64{}
	for _, e := range all {
		switch {
		case e.subject == events.SubjectAdmitted:
			if prev, ok := admitted[e.queryID]; ok {
				t.Fatalf("query %s admitted twice: seq %d and %d", e.queryID, prev, e.seq)
			}
			admitted[e.queryID] = e.seq
			if _, ok := ended[e.queryID]; ok {
				late++
				continue
			}
			running[e.queryID] = true
			if len(running) > limit {
				t.Fatalf("at seq %d %d queries hold a slot (limit %d): %v", e.seq, len(running), limit, running)
			}
		case events.IsTerminal(e.subject):
			if prev, ok := ended[e.queryID]; ok {
				t.Fatalf("query %s has two terminal events: seq %d and %d", e.queryID, prev, e.seq)
			}
			ended[e.queryID] = e.seq
			delete(running, e.queryID)
		}
	}
	return late
}

func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	topo := events.DefaultTopology()
	topo.LeaseTTL = time.Second
	h := newHarness(t, topo)
	replicas := map[string]*replica{"r1": h.startReplica("r1", 1), "r2": h.startReplica("r2", 1)}
	for i := range 3 {
		h.submit(qid(i))
	}
	natstest.Eventually(t, 5*time.Second, "first admission", func() bool { return len(h.log.admitted()) == 1 })
	first := h.log.admitted()[0]
	if first.queryID != qid(0) {
		t.Fatalf("first admitted %s, want %s", first.queryID, qid(0))
	}

	kv, err := h.conn.JS.KeyValue(t.Context(), events.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), leaseKey)
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	leader := string(entry.Value())
	standby := map[string]string{"r1": "r2", "r2": "r1"}[leader]
	if standby == "" {
		t.Fatalf("lease held by %q, not a replica", leader)
	}
	replicas[leader].stop(t)

	h.finish(qid(0))
	start := time.Now()
	natstest.Eventually(t, 2*time.Second, "the standby to admit the next query", func() bool { return len(h.log.admitted()) == 2 })
	t.Logf("failover admission after %s", time.Since(start))
	second := h.log.admitted()[1]
	if second.queryID != qid(1) {
		t.Fatalf("second admitted %s, want %s", second.queryID, qid(1))
	}
	if second.revision == first.revision {
		t.Fatalf("new leader decided with the old fencing token %d", first.revision)
	}
	entry, err = kv.Get(t.Context(), leaseKey)
	if err != nil || string(entry.Value()) != standby {
		t.Fatalf("lease after failover: %v %v, want holder %s", entry, err, standby)
	}
	checkInvariants(t, h.log.sync(), 1)
}

// A leader that dies without stepping down (kill -9) leaves its lease behind; the standby
// takes over once the lease's TTL expires.
func TestCrashedLeaderLeaseExpires(t *testing.T) {
	t.Parallel()
	topo := events.DefaultTopology()
	topo.LeaseTTL = time.Second
	h := newHarness(t, topo)
	kv, err := h.conn.JS.KeyValue(t.Context(), events.BucketLeases)
	if err != nil {
		t.Fatal(err)
	}
	ghostRev, err := kv.Create(t.Context(), leaseKey, []byte("crashed-leader"))
	if err != nil {
		t.Fatalf("plant lease: %v", err)
	}
	start := time.Now()
	h.startReplica("r1", 1)
	h.submit(qid(0))
	natstest.Eventually(t, topo.LeaseTTL+3*time.Second, "admission after the dead lease expired", func() bool {
		return len(h.log.admitted()) == 1
	})
	got := h.log.admitted()[0]
	t.Logf("admitted after %s", time.Since(start))
	if got.revision <= ghostRev {
		t.Fatalf("admitted with revision %d, not newer than the dead leader's %d", got.revision, ghostRev)
	}
	// Not before the lease could have expired: nobody may decide while it is held.
	if el := time.Since(start); el < topo.LeaseTTL/2 {
		t.Fatalf("admitted %s after start, while the dead leader's lease (TTL %s) was still valid", el, topo.LeaseTTL)
	}
}

func TestQueuedCancelEndsQuery(t *testing.T) {
	t.Parallel()
	h := newHarness(t, events.DefaultTopology())
	h.startReplica("r1", 0) // nothing is ever admitted: every query stays queued

	userCanceled, abandoned, early := qid(1), qid(2), qid(3)
	h.submit(userCanceled)
	h.submit(abandoned)
	h.cancel(early, "") // the cancel arrives before the submit
	h.submit(early)
	h.submit(qid(4)) // never canceled
	h.cancel(userCanceled, "")
	h.cancel(abandoned, "abandoned")

	want := map[string]string{
		userCanceled: protocol.UserCanceled.Name,
		abandoned:    protocol.AbandonedQuery.Name,
		early:        protocol.UserCanceled.Name,
	}
	terminal := func() map[string]logged {
		out := map[string]logged{}
		for _, e := range h.log.sync() {
			if events.IsTerminal(e.subject) {
				out[e.queryID] = e
			}
		}
		return out
	}
	natstest.Eventually(t, 5*time.Second, "three canceled terminal events", func() bool { return len(terminal()) >= 3 })
	got := terminal()
	if len(got) != 3 {
		t.Fatalf("terminal events for %v, want only the three canceled queries", got)
	}
	for id, name := range want {
		e, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s: no terminal event", id)
		case e.subject != events.SubjectCanceled:
			t.Errorf("%s: terminal subject %s, want %s", id, e.subject, events.SubjectCanceled)
		case e.errInfo == nil || e.errInfo.ErrorName != name:
			t.Errorf("%s: error %+v, want errorName %s", id, e.errInfo, name)
		case e.by != "admission":
			t.Errorf("%s: ended by %q, want admission", id, e.by)
		}
	}
	if a := h.log.admitted(); len(a) != 0 {
		t.Fatalf("admitted %v with MaxRunning 0", ids(a))
	}
}

func TestRunRejectsNegativeLimit(t *testing.T) {
	t.Parallel()
	err := Run(t.Context(), Config{MaxRunning: -1})
	if err == nil {
		t.Fatal("Run accepted MaxRunning -1")
	}
}

// isWrongLastSequence recognises the server's fencing rejection.
func TestIsWrongLastSequence(t *testing.T) {
	t.Parallel()
	h := newHarness(t, events.DefaultTopology())
	h.submit(qid(0))
	ctx := t.Context()
	msg, err := events.Encode(ctx, events.SubjectAdmitted, events.MsgIDAdmitted(qid(0)), "test", events.TypeQueryAdmitted, qid(0),
		events.QueryAdmitted{Query: events.QuerySpec{ID: qid(0)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.conn.JS.PublishMsg(ctx, msg, jetstream.WithExpectLastSequenceForSubject(42, events.SubjectAdmissionTerm))
	if !isWrongLastSequence(err) {
		t.Fatalf("publish with a stale fence: err = %v, want a wrong-last-sequence error", err)
	}
	if isWrongLastSequence(errors.New("other")) || isWrongLastSequence(nil) {
		t.Fatal("isWrongLastSequence matches unrelated errors")
	}
	if _, err := h.conn.JS.PublishMsg(ctx, msg, jetstream.WithExpectLastSequenceForSubject(0, events.SubjectAdmissionTerm)); err != nil {
		t.Fatalf("publish with the right fence (0: no term marker yet): %v", err)
	}
}

// manualService is a decider whose fold the test drives message by message, so that it can
// hold a deliberately stale view of the log.
type manualService struct {
	*service
	stream jetstream.Stream
	next   uint64
}

func newManualService(t *testing.T, h *harness, name string, maxRunning int) *manualService {
	t.Helper()
	stream, err := h.conn.JS.Stream(t.Context(), events.StreamQueries)
	if err != nil {
		t.Fatal(err)
	}
	return &manualService{service: newTestService(t, h.conn, name, maxRunning), stream: stream, next: 1}
}

// fold applies the log up to its end, skipping the events of the queries in skip and, when
// skipTerms, the term markers of other leaders.
func (m *manualService) fold(t *testing.T, skipTerms bool, skip ...string) {
	t.Helper()
	info, err := m.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for ; m.next <= info.State.LastSeq; m.next++ {
		raw, err := m.stream.GetMsg(t.Context(), m.next)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(foldSubjects, raw.Subject) || slices.Contains(skip, raw.Header.Get("ce-subject")) ||
			(skipTerms && raw.Subject == events.SubjectAdmissionTerm) {
			continue
		}
		if err := m.st.Apply(raw.Subject, raw.Sequence, raw.Header, raw.Data); err != nil {
			t.Fatalf("apply seq %d: %v", raw.Sequence, err)
		}
	}
}

// beginTerm writes the leader's term marker and folds up to it, as lead does.
func (m *manualService) beginTerm(t *testing.T, revision uint64) *term {
	t.Helper()
	ack, err := m.pub.Publish(t.Context(), events.SubjectAdmissionTerm, fmt.Sprintf("term:%s:%d", m.cfg.Identity, revision), "", events.TypeAdmissionTerm,
		events.AdmissionTerm{Holder: m.cfg.Identity, LeaseRevision: revision})
	if err != nil {
		t.Fatalf("term marker: %v", err)
	}
	m.fold(t, false)
	return &term{seq: ack.Sequence, revision: revision}
}

// A leader that has not noticed a newer leader's term must not be able to write anything:
// its decisions are fenced on its own marker, and the newer marker makes them fail. The
// stale leader here also misses an admission (its view says a slot is free), so without
// the fence it would exceed the limit.
func TestOldLeaderIsFencedByNewTerm(t *testing.T) {
	t.Parallel()
	const limit = 2
	h := newHarness(t, events.DefaultTopology())
	for i := range 4 {
		h.submit(qid(i))
	}
	a := newManualService(t, h, "leader-a", limit)
	b := newManualService(t, h, "leader-b", limit)

	termA := a.beginTerm(t, 1)
	if err := a.decide(t.Context(), termA); err != nil {
		t.Fatalf("a decides: %v", err)
	}
	if got := ids(h.log.admitted()); !slices.Equal(got, []string{qid(0), qid(1)}) {
		t.Fatalf("admitted %v, want the first two", got)
	}

	// b takes over: marker, fold, then a slot frees and b admits the next query.
	termB := b.beginTerm(t, 2)
	h.finish(qid(0))
	b.fold(t, false)
	if err := b.decide(t.Context(), termB); err != nil {
		t.Fatalf("b decides: %v", err)
	}
	if got := ids(h.log.admitted()); !slices.Equal(got, []string{qid(0), qid(1), qid(2)}) {
		t.Fatalf("admitted %v, want the first three", got)
	}

	// a never saw b's marker nor b's admission of qid(2): it believes a slot is free and
	// its next query is qid(3).
	a.fold(t, true, qid(2))
	if r, _ := a.st.Tree.Counts(); r != 1 {
		t.Fatalf("a's stale view has %d running, want 1", r)
	}
	err := a.decide(t.Context(), termA)
	if err == nil || !isWrongLastSequence(errors.Unwrap(err)) {
		t.Fatalf("the old leader's decision: err = %v, want it refused by the fence", err)
	}
	if got := ids(h.log.admitted()); !slices.Equal(got, []string{qid(0), qid(1), qid(2)}) {
		t.Fatalf("an old leader admitted: %v", got)
	}
	checkInvariants(t, h.log.sync(), limit)

	// The current leader goes on deciding.
	h.finish(qid(1))
	b.fold(t, false)
	if err := b.decide(t.Context(), termB); err != nil {
		t.Fatalf("b decides after a slot freed: %v", err)
	}
	if got := ids(h.log.admitted()); !slices.Equal(got, []string{qid(0), qid(1), qid(2), qid(3)}) {
		t.Fatalf("admitted %v, want all four in order", got)
	}
	checkInvariants(t, h.log.sync(), limit)
}
