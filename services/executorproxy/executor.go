package executorproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/heartbeat"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sealed"
	"github.com/sluicehq/sluice/services/executorproxy/internal/coordinator"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
	"github.com/sluicehq/sluice/services/executorproxy/internal/results"
	"go.opentelemetry.io/otel/trace"
)

type executor struct {
	cfg         Config
	log         *slog.Logger
	db          *engine.DuckDB      // the duckdb backend (nil with a coordinator)
	coord       *coordinator.Client // the trino or presto backend (nil with duckdb)
	plans       *planExecutor       // runs plan fragments (duckdb only)
	health      *coordinatorHealth  // the coordinator's last load and reach
	credentials *sealed.Key         // opens forwarded Authorization headers
	cpu         *cpuMeter           // this process's CPU use, for the heartbeat
	// lastCPULoad and lastUsedMemory are the measures of the last periodic heartbeat
	// (used by the heartbeat goroutine only).
	lastCPULoad    float64
	lastUsedMemory int64
	js             jetstream.JetStream
	status         jetstream.KeyValue // the query status view, read when a fragment arrives
	claims         *claims.Store      // who may start each placed query
	pub            *events.Publisher
	tracer         trace.Tracer
	base           string
	store          *results.Store
	slots          chan struct{}
	wg             sync.WaitGroup

	mu       sync.Mutex
	canceled map[string]string          // cancel requests seen, by query ID
	remote   map[string]*remoteQuery    // queries followed on the coordinator
	pulling  []jetstream.ConsumeContext // SQL fragments, and plan fragments with duckdb
	wish     events.ClusterWish         // what operators asked ("" = active)
	stopping bool                       // the process is shutting down
	beatNow  chan struct{}              // a state change to report before the next tick
	running  int
	queued   int
	memory   int64 // the backend's memory limit, reported in heartbeats
}

// reportedState is the state the heartbeat reports. Callers hold x.mu.
func (x *executor) reportedState() events.ClusterState {
	idle := x.running == 0 && x.queued == 0
	switch {
	case x.wish == events.WishDeactivate && idle:
		return events.ClusterDeactivated
	case x.wish == events.WishDrain && idle:
		return events.ClusterDrained
	case x.wish != "" || x.stopping:
		return events.ClusterDraining
	}
	return events.ClusterReady
}

// startPulling pulls this cluster's fragments (if it does not already): SQL queries from
// FRAGMENTS and, when this cluster runs plans, plan fragments from PLAN_FRAGMENTS. The
// SQL consumer's MaxAckPending is the prefetch window, so the server never hands this
// cluster more than SLOTS x PREFETCH queries; the scheduler bounds plan fragments the same
// way. Both wait for the same slots.
func (x *executor) startPulling(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.pulling != nil || x.stopping {
		return nil
	}
	window := x.cfg.Slots * x.cfg.Prefetch
	type source struct {
		stream string
		cfg    jetstream.ConsumerConfig
		handle func(context.Context, jetstream.Msg)
	}
	consumers := []source{{events.StreamFragments, events.ExecutorConsumerConfig(x.cfg.Cluster, window, x.cfg.AckWait), x.handleFragment}}
	if x.plans != nil {
		// Plan fragments come in batches; the scheduler bounds them to the window.
		consumers = append(consumers, source{events.StreamPlanFragments, events.PlanExecutorConsumerConfig(x.cfg.Cluster, window, x.cfg.AckWait), x.plans.handleBatch})
	}
	for _, c := range consumers {
		cons, err := x.js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg)
		if err == nil {
			var cc jetstream.ConsumeContext
			cc, err = cons.Consume(func(msg jetstream.Msg) {
				x.wg.Add(1)
				go func() {
					defer x.wg.Done()
					c.handle(ctx, msg)
				}()
			}, jetstream.PullMaxMessages(window))
			if err == nil {
				x.pulling = append(x.pulling, cc)
				continue
			}
		}
		for _, cc := range x.pulling {
			cc.Stop()
		}
		x.pulling = nil
		return fmt.Errorf("executor-proxy: pull %s: %w", c.stream, err)
	}
	return nil
}

// stopPulling stops taking fragments; those already taken run to their end.
func (x *executor) stopPulling() {
	x.mu.Lock()
	ccs := x.pulling
	x.pulling = nil
	x.mu.Unlock()
	for _, cc := range ccs {
		cc.Stop()
	}
}

// watchControl follows what operators ask of this cluster: drain and deactivate stop the
// pulling of new fragments (running ones finish, and the heartbeat reports drained or
// deactivated once idle); resume pulls again.
func (x *executor) watchControl(ctx context.Context) error {
	kv, err := x.js.KeyValue(ctx, events.BucketClusterControl)
	if err != nil {
		return err
	}
	return heartbeat.WatchControl(ctx, kv, x.cfg.Cluster, func(_ string, c *events.ClusterControl) {
		x.mu.Lock()
		prev := x.wish
		x.wish = ""
		if c != nil {
			x.wish = c.Wish
		}
		wish := x.wish
		x.mu.Unlock()
		switch {
		case wish != "" && prev == "":
			x.log.Info("cluster draining: no new fragments; running queries finish", "wish", wish)
			x.stopPulling()
		case wish == "" && prev != "":
			x.log.Info("cluster resumed")
			if err := x.startPulling(ctx); err != nil {
				x.log.Error("cannot pull fragments after resume", "err", err)
			}
		}
		x.beat()
	})
}

// drain waits up to grace for running fragments.
func (x *executor) drain(grace time.Duration) {
	done := make(chan struct{})
	go func() { x.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		x.log.Warn("shutting down with fragments still running; they will be redelivered")
	}
}

// keepAlive tells JetStream the fragment is still being worked on until stop is closed.
func (x *executor) keepAlive(msg settler, stop <-chan struct{}) {
	t := time.NewTicker(max(x.cfg.AckWait/3, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_ = msg.InProgress()
		}
	}
}

func (x *executor) handleFragment(ctx context.Context, msg jetstream.Msg) {
	stop := make(chan struct{})
	defer close(stop)
	go x.keepAlive(msg, stop)

	pctx, span := events.StartProcessSpan(context.WithoutCancel(ctx), x.tracer, msg.Headers(), msg.Subject(), events.ExecutorConsumer(x.cfg.Cluster), len(msg.Data()))
	defer span.End()
	var frag events.Fragment
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeFragment, &frag); err != nil {
		x.log.Warn("dropping malformed fragment", "err", err)
		_ = msg.Term()
		return
	}
	id := frag.Query.ID
	span.SetAttributes(events.AttrQueryID.String(id))
	if frag.Query.IsPlan() {
		if x.plans == nil {
			settle(msg, x.publishEnd(pctx, events.SubjectFailed, id,
				protocol.NewError(protocol.NotSupported, "cluster %s cannot run Substrait plans", x.cfg.Cluster), 0, 0, 0))
			return
		}
		x.plans.handle(pctx, msg, frag)
		return
	}
	md, _ := msg.Metadata()
	delivery := uint64(1)
	if md != nil {
		delivery = md.NumDelivered
	}
	if prev, dup := x.store.Get(id); dup {
		if done, qe, rows := prev.Outcome(); done {
			// Ran here, but its terminal event was not stored: publish it again.
			settle(msg, x.publishEnd(pctx, terminalSubject(qe), id, qe, rows, 0, 0))
		}
		return // still running here; the first delivery settles it
	}
	st, settled := x.settleEnded(pctx, msg, id)
	if settled {
		return
	}
	if reason, ok := x.cancelRequested(id); ok {
		settle(msg, x.publishEnd(pctx, events.SubjectCanceled, id, canceledError(reason), 0, 0, 0))
		return
	}
	if x.coord != nil {
		x.handleRemote(pctx, msg, frag, st)
		return
	}

	qctx, cancel := context.WithCancelCause(context.WithoutCancel(pctx))
	defer cancel(nil)
	q := results.NewQuery(id, frag.Query.Protocol, x.cfg.ResultBufferBytes, cancel)
	if !x.store.Add(q) {
		return
	}
	defer x.acquireSlot(qctx)()
	if qctx.Err() == nil {
		// The claim is the fence against placement moving the query meanwhile: only the
		// cluster and attempt it names may start it.
		mine, err := x.claims.Start(pctx, id, x.cfg.Cluster, frag.Attempt)
		if err != nil {
			x.store.Remove(id)
			x.log.Warn("cannot claim the query's start; retrying", "query", id, "err", err)
			_ = msg.NakWithDelay(200 * time.Millisecond)
			return
		}
		if !mine {
			x.store.Remove(id)
			x.log.Info("query moved to another cluster before it started here", "query", id, "attempt", frag.Attempt)
			_ = msg.Ack()
			return
		}
	}
	var busy time.Duration
	if qctx.Err() == nil {
		q.Start()
		if _, err := x.pub.Publish(pctx, events.SubjectStarted, fmt.Sprintf("%s:started:%d.%d", id, frag.Attempt, delivery), id, events.TypeQueryStarted,
			events.QueryStarted{QueryID: id, Cluster: x.cfg.Cluster, Attempt: frag.Attempt, NextURI: q.ExecutingURI(x.base, 0), StartedAt: time.Now().UTC()}); err != nil {
			x.log.Warn("publish started failed", "query", id, "err", err)
		}
		began := time.Now()
		qe := x.db.Run(qctx, frag.Query, frag.SQL, q)
		busy = time.Since(began)
		q.Finish(qe)
	} else {
		q.Finish(canceledError("canceled"))
	}
	_, qe, rows := q.Outcome()
	settle(msg, x.publishEnd(pctx, terminalSubject(qe), id, qe, rows, busy, 0))
}

// settleEnded reads a fragment's query status: when its query already ended (or the
// status cannot be read) it settles the fragment (ack, or nak for a retry) and reports
// true.
func (x *executor) settleEnded(ctx context.Context, msg settler, id string) (*events.QueryStatus, bool) {
	st, err := x.statusOf(ctx, id)
	if err != nil {
		_ = msg.NakWithDelay(200 * time.Millisecond)
		return nil, true
	}
	if st != nil && st.State.Terminal() {
		_ = msg.Ack()
		return st, true
	}
	return st, false
}

// terminalSubject is the terminal event for a query's outcome.
func terminalSubject(qe *protocol.QueryError) string {
	switch {
	case qe == nil:
		return events.SubjectFinished
	case qe.ErrorName == protocol.UserCanceled.Name || qe.ErrorName == protocol.AbandonedQuery.Name:
		return events.SubjectCanceled
	}
	return events.SubjectFailed
}

// settler is how a fragment is settled: its message, or its place in a batch.
type settler interface {
	Ack() error
	NakWithDelay(delay time.Duration) error
	Term() error
	InProgress() error
}

// settle acknowledges a fragment whose terminal event is stored, or asks for redelivery.
func settle(msg settler, stored bool) {
	if stored {
		_ = msg.Ack()
		return
	}
	_ = msg.NakWithDelay(time.Second)
}

// runDirect runs a query submitted straight to this cluster (no global queue).
func (x *executor) runDirect(spec events.QuerySpec, q *results.Query, qctx context.Context) {
	defer x.acquireSlot(qctx)()
	if qctx.Err() != nil {
		q.Finish(canceledError("canceled"))
		return
	}
	q.Start()
	q.Finish(x.db.Run(qctx, spec, spec.SQL, q))
}

// acquireSlot waits for a free slot (counting the query as queued meanwhile) or for ctx to
// end; the returned function releases what was taken.
func (x *executor) acquireSlot(ctx context.Context) (release func()) {
	x.adjust(0, +1)
	got := false
	select {
	case x.slots <- struct{}{}:
		got = true
	case <-ctx.Done():
	}
	x.adjust(+1, -1)
	return func() {
		if got {
			<-x.slots
		}
		x.adjust(-1, 0)
	}
}

func (x *executor) adjust(running, queued int) {
	x.mu.Lock()
	x.running += running
	x.queued += queued
	idle := x.running == 0 && x.queued == 0 && x.wish != ""
	x.mu.Unlock()
	if idle || running < 0 {
		// A freed slot is reported at once, so placement does not wait a heartbeat period
		// to use it; a draining cluster reports drained as soon as it is idle.
		x.beat()
	}
}

// beat asks the heartbeat loop to report now.
func (x *executor) beat() {
	select {
	case x.beatNow <- struct{}{}:
	default:
	}
}

// statusOf reads the query's status view (nil when it has none). A fragment redelivered
// after its query ended (a crash between the terminal event and the ack) must not run
// again, and a cancel requested before this process watched cancels is noted.
func (x *executor) statusOf(ctx context.Context, id string) (*events.QueryStatus, error) {
	e, err := x.status.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st events.QueryStatus
	if json.Unmarshal(e.Value(), &st) != nil {
		return nil, nil
	}
	if st.CancelRequested {
		x.mu.Lock()
		if _, ok := x.canceled[id]; !ok {
			x.canceled[id] = "canceled by the client"
		}
		x.mu.Unlock()
	}
	return &st, nil
}

func (x *executor) cancelRequested(id string) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.canceled[id]
	return r, ok
}

func canceledError(reason string) *protocol.QueryError {
	if reason == "abandoned" {
		return protocol.NewError(protocol.AbandonedQuery, "Query was abandoned by its client")
	}
	return protocol.NewError(protocol.UserCanceled, "Query was canceled")
}

// publishEnd publishes the single terminal event of a query (dedup key MsgIDTerminal).
// cpu is charged to the CPU quotas of the query's resource groups: a coordinator's
// totalCpuTime, or with DuckDB, which does not measure CPU per query, the execution time.
func (x *executor) publishEnd(ctx context.Context, subject, id string, qe *protocol.QueryError, rows int64, cpu time.Duration, peakMemory int64) bool {
	ev := events.QueryEnded{QueryID: id, Cluster: x.cfg.Cluster, EndedAt: time.Now().UTC(), Rows: rows, CPUTimeMillis: cpu.Milliseconds(),
		PeakMemoryBytes: peakMemory, By: "executor-proxy/" + x.cfg.Cluster, Error: events.ErrorInfoOf(qe)}
	return x.publishRetrying(ctx, subject, events.MsgIDTerminal(id), id, events.TypeForSubject[subject], ev)
}

// publishRetrying publishes an outcome, retrying for about 5 s. When it is not stored,
// the caller leaves the fragment unacknowledged, so it is redelivered and the outcome
// published again.
func (x *executor) publishRetrying(ctx context.Context, subject, msgID, id, ceType string, ev any) bool {
	return x.storeRetrying(ctx, func() error {
		_, err := x.pub.Publish(ctx, subject, msgID, id, ceType, ev)
		return err
	}, "subject", subject, "query", id)
}

// storeRetrying calls store until it succeeds, for about 5 s (every 100 ms) or until ctx
// ends; false when it never did. Failures are logged with attrs.
func (x *executor) storeRetrying(ctx context.Context, store func() error, attrs ...any) bool {
	backoff := time.NewTicker(100 * time.Millisecond)
	defer backoff.Stop()
	for attempt := 0; attempt < 50; attempt++ {
		err := store()
		if err == nil {
			return true
		}
		x.log.Warn("publish failed; retrying", append(attrs, "attempt", attempt, "err", err)...)
		select {
		case <-ctx.Done():
			return false
		case <-backoff.C:
		}
	}
	return false
}

// watchCancels follows cancel requests published from now on, and, on a cluster that
// runs plan fragments, the ends of queries (to stop their fragments and delete their
// intermediate results).
func (x *executor) watchCancels(ctx context.Context) error {
	subjects := []string{events.SubjectCancelRequested}
	if x.plans != nil {
		subjects = append(subjects, events.TerminalSubjects...)
	}
	cons, err := x.js.OrderedConsumer(ctx, events.StreamQueries, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("executor-proxy: cancel watch: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		if events.IsTerminal(msg.Subject()) {
			x.plans.ended(msg.Headers().Get("ce-subject"))
			return
		}
		var p events.QueryCancelRequested
		if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeQueryCancelRequested, &p); err != nil {
			return
		}
		x.mu.Lock()
		x.canceled[p.QueryID] = p.Reason
		x.mu.Unlock()
		if q, ok := x.store.Get(p.QueryID); ok {
			q.Cancel(canceledError(p.Reason))
		}
		if x.plans != nil {
			x.plans.stop(p.QueryID, canceledError(p.Reason))
		}
		x.cancelRemote(p.QueryID)
	})
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); cc.Stop() }()
	return nil
}

// heartbeat puts this cluster's state and capacity into the clusters bucket until ctx ends,
// then deletes its entry so placement stops at once.
func (x *executor) heartbeat(ctx context.Context) {
	kv, err := x.js.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		x.log.Error("heartbeat: no clusters bucket", "err", err)
		return
	}
	t := time.NewTicker(x.cfg.HeartbeatInterval)
	defer t.Stop()
	periodic := true // this beat is the ticker's (not an early one for a state change)
	for {
		hb := x.heartbeatValue(ctx, periodic)
		b, _ := json.Marshal(hb)
		pctx, cancel := context.WithTimeout(ctx, x.cfg.HeartbeatInterval*2)
		if _, err := kv.Put(pctx, x.cfg.Cluster, b); err != nil && ctx.Err() == nil {
			x.log.Warn("heartbeat failed", "err", err)
		}
		cancel()
		put := time.Now()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = kv.Delete(dctx, x.cfg.Cluster)
			cancel()
			return
		case <-t.C:
			periodic = true
		case <-x.beatNow:
			periodic = false
			// Early beats (a slot freed) are coalesced: at most one per minEarlyBeatGap, so
			// a busy cluster does not write a heartbeat for every query it finishes.
			if wait := minEarlyBeatGap - time.Since(put); wait > 0 {
				gap := time.NewTimer(wait)
				select {
				case <-gap.C:
				case <-ctx.Done():
					gap.Stop()
				}
			}
		}
	}
}

// minEarlyBeatGap is the shortest interval between two heartbeats.
const minEarlyBeatGap = 20 * time.Millisecond

// heartbeatValue is the cluster's state and capacity now. The slower measures (DuckDB's
// memory, CPU load) are taken on periodic beats only and repeated on early ones.
func (x *executor) heartbeatValue(ctx context.Context, periodic bool) events.ClusterHeartbeat {
	x.mu.Lock()
	hb := events.ClusterHeartbeat{Name: x.cfg.Cluster, URL: x.base, Engine: x.engineName(), State: x.reportedState(),
		Slots: x.cfg.Slots, Running: x.running, Queued: x.queued, MemoryBytes: x.memory, At: time.Now().UTC(),
		Region: x.cfg.Region, RoutingGroup: x.cfg.RoutingGroup, Tables: x.cfg.Tables}
	x.mu.Unlock()
	if x.coord != nil {
		x.remoteState(&hb)
		return hb
	}
	if periodic {
		x.lastCPULoad = x.cpu.sample()
		mctx, cancel := context.WithTimeout(ctx, x.cfg.HeartbeatInterval)
		if used, err := x.db.MemoryUsage(mctx); err == nil {
			x.lastUsedMemory = used
		}
		cancel()
	}
	hb.CPULoad, hb.UsedMemoryBytes = x.lastCPULoad, x.lastUsedMemory
	return hb
}

// openAuthorization opens the client's sealed Authorization header, to forward it.
func (x *executor) openAuthorization(spec events.QuerySpec) (string, error) {
	if x.credentials == nil {
		return "", errors.New("the query carries sealed credentials but SLUICE_CREDENTIALS_KEY is not set on this executor-proxy")
	}
	return x.credentials.Open(spec.ID, spec.SealedAuthorization)
}

// janitor drops served results after a grace period and abandons results nobody fetches.
func (x *executor) janitor(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			timeout := x.cfg.ClientTimeout
			if timeout <= 0 {
				timeout = 1<<63 - 1
			}
			for _, q := range x.store.Expire(time.Now(), time.Minute, timeout) {
				q.Cancel(canceledError("abandoned"))
			}
		}
	}
}
