package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/follow"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/tpchgen"
	"github.com/sluicehq/sluice/services/scheduler/internal/plans"
	"go.opentelemetry.io/otel/trace"
)

// planLoop owns the plans.Engine: one goroutine applies every input (log events,
// heartbeats, ticks) in order and carries out the engine's actions.
//
// At start it rebuilds: it folds QUERIES (placed, cancel, terminal), then
// FRAGMENT_STATUS (fragment outcomes), publishing nothing but query ends meanwhile;
// then it reissues every fragment in flight whose copy is no longer in PLAN_FRAGMENTS
// (see rebuilt) and runs live.
//
// Fragments released at the same time to the same cluster go out in one message (a
// FragmentBatch), and executors report outcomes the same way: under load one JetStream
// message carries many fragments, while an idle scheduler still sends each at once.
type planLoop struct {
	cfg    Config
	log    *slog.Logger
	js     jetstream.JetStream
	pub    *events.Publisher
	tracer trace.Tracer
	engine *plans.Engine
	inputs mailbox
	cuts   chan struct{}              // bounds the plans cut at once
	traces map[string]context.Context // each plan query's trace, for its fragments
	// unplacedCancels are the queries whose cancel was requested before they were placed,
	// until their end: a plan placed after its cancel ends at once, canceled.
	unplacedCancels map[string]bool
	specs           map[string]events.QuerySpec // each plan query's session (without its plan)
	load            jetstream.KeyValue
	lastPub         events.SchedulerLoad
	// memoryLimit is the memory soft limit in bytes (0: none), compared with the heap.
	memoryLimit int64
	// inlinePlan is the largest fragment plan carried inside a batch; larger ones go
	// through the ObjectPlans store, under the names planObjects records per query.
	inlinePlan    int64
	planObjectsMu sync.Mutex
	planObjects   map[string]map[string]bool
	// rebuilding is true until both logs were folded; releases are held back meanwhile.
	rebuilding bool
	status     *follow.Follower // the fragment outcomes, followed once QUERIES is folded
	// failed ends the loop with this error (the outcomes cannot be followed).
	failed error
	// nonce and batches name the fragment batches this process publishes.
	nonce   string
	batches uint64

	slotsMu sync.Mutex
	slots   map[string]int // each cluster's executor slots, for partitioning
}

// querySubjects are the QUERIES events the plan loop folds.
var querySubjects = append([]string{events.SubjectPlaced, events.SubjectCancelRequested}, events.TerminalSubjects...)

func newPlanLoop(ctx context.Context, cfg Config, log *slog.Logger, js jetstream.JetStream, pub *events.Publisher, tracer trace.Tracer) (*planLoop, error) {
	steal, err := plans.ParseStealMode(cfg.Steal)
	if err != nil {
		return nil, fmt.Errorf("scheduler: SLUICE_STEAL_FRAGMENTS: %w", err)
	}
	eng, err := plans.New(plans.Config{Queue: cfg.queueConfig(), Prefetch: cfg.Prefetch, MaxDispatches: cfg.FragmentAttempts, QueryTimeout: cfg.QueryTimeout, Steal: steal})
	if err != nil {
		return nil, err
	}
	load, err := js.KeyValue(ctx, events.BucketScheduler)
	if err != nil {
		return nil, fmt.Errorf("scheduler: load bucket: %w", err)
	}
	memoryLimit, err := protocol.ParseDataSize(cfg.MemorySoftLimit)
	if err != nil {
		return nil, fmt.Errorf("scheduler: SLUICE_MEMORY_SOFT_LIMIT: %w", err)
	}
	inlinePlan, err := protocol.ParseDataSize(cfg.FragmentPlanInline)
	if err != nil {
		return nil, fmt.Errorf("scheduler: SLUICE_FRAGMENT_PLAN_INLINE: %w", err)
	}
	return &planLoop{cfg: cfg, memoryLimit: memoryLimit, inlinePlan: inlinePlan, planObjects: map[string]map[string]bool{}, log: log, js: js, pub: pub, tracer: tracer, engine: eng, load: load, rebuilding: true,
		nonce: events.NewNonce(), inputs: newMailbox(), cuts: make(chan struct{}, max(runtime.GOMAXPROCS(0), 1)),
		traces: map[string]context.Context{}, unplacedCancels: map[string]bool{}, specs: map[string]events.QuerySpec{}, slots: map[string]int{}}, nil
}

// run follows the log and the heartbeats and applies them until ctx ends.
func (l *planLoop) run(ctx context.Context) error {
	// The fleet first: plans are partitioned by their cluster's slots.
	if err := l.watchHeartbeats(ctx); err != nil {
		return err
	}
	f, err := follow.Start(ctx, l.js, events.StreamQueries, querySubjects, func(msg jetstream.Msg) {
		l.submit(l.onEvent(ctx, msg))
	})
	if err != nil {
		return err
	}
	defer f.Stop()
	defer func() {
		if l.status != nil {
			l.status.Stop()
		}
	}()
	// The marker goes through the mailbox after the message that caught up, so every
	// QUERIES event of the replay is applied before the outcomes are read.
	go awaitCaughtUp(ctx, f, func() { l.submit(l.queriesFolded(ctx)) })
	tick := time.NewTicker(l.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.inputs.ready:
			// The actions of every input taken are carried out together: the fragments
			// they release to a cluster go out in one batch. While rebuilding, releases
			// are held back (rebuilt reissues what is in flight).
			var a plans.Actions
			for _, in := range l.inputs.take() {
				b := in(time.Now())
				if l.rebuilding {
					b.Releases = nil
				}
				a.Merge(b)
			}
			l.apply(ctx, a)
			if l.failed != nil {
				return l.failed
			}
		case now := <-tick.C:
			a := l.engine.Tick(now)
			if l.rebuilding {
				a.Releases = nil
			}
			l.apply(ctx, a)
			l.publishLoad(ctx, now)
		}
	}
}

// awaitCaughtUp calls then once f has caught up (not when ctx ends first).
func awaitCaughtUp(ctx context.Context, f *follow.Follower, then func()) {
	select {
	case <-f.CaughtUp():
		then()
	case <-ctx.Done():
	}
}

// queriesFolded starts following the fragment outcomes once the QUERIES replay is folded.
func (l *planLoop) queriesFolded(ctx context.Context) func(time.Time) plans.Actions {
	return func(time.Time) plans.Actions {
		st, err := follow.Start(ctx, l.js, events.StreamFragmentStatus, []string{events.SubjectFragmentStatusAll}, func(msg jetstream.Msg) {
			l.submit(l.onStatus(msg))
		})
		if err != nil {
			// Without outcomes no plan can progress: the scheduler stops with the error
			// (and its process restarts under its supervisor).
			l.failed = fmt.Errorf("scheduler: %w", err)
			return plans.Actions{}
		}
		l.status = st
		go awaitCaughtUp(ctx, st, func() { l.submit(l.rebuilt(ctx)) })
		return plans.Actions{}
	}
}

// rebuilt ends the rebuild. A fragment in flight (released, no outcome) whose copy is
// still in PLAN_FRAGMENTS waits there or runs on an executor, and its outcome will come.
// One without a copy was consumed, and executors consume a fragment only once its outcome
// is stored, so that outcome was lost with the soft state (the NATS servers restarted, or
// it aged out); or the scheduler stopped before its batch was stored. Either way it is
// reissued under a new dispatch number (an outcome of the old one still counts).
func (l *planLoop) rebuilt(ctx context.Context) func(time.Time) plans.Actions {
	return func(now time.Time) plans.Actions {
		l.rebuilding = false
		inflight, err := l.engine.InFlight()
		if err != nil {
			l.log.Error("cannot list the fragments in flight", "err", err)
		}
		copies, err := l.queuedCopies(ctx)
		if err != nil {
			// Without the list every fragment in flight is reissued: some run twice.
			l.log.Warn("cannot list the fragments still queued; reissuing every fragment in flight", "err", err)
		}
		var a plans.Actions
		for _, r := range inflight {
			if copies[events.MsgIDPlanFragment(r.Query, r.Fragment, r.Attempt, r.Dispatch)] {
				continue
			}
			re, ok, err := l.engine.Reissue(r.Query, r.Fragment, now)
			if err != nil || !ok {
				continue
			}
			a.Releases = append(a.Releases, re)
		}
		l.log.Info("plan scheduler rebuilt from the log", "queries", l.engine.Load().Queries, "in_flight", len(inflight), "reissued", len(a.Releases))
		return a
	}
}

// queuedCopies lists the releases still in PLAN_FRAGMENTS (waiting, or held by an
// executor), by their message IDs (events.MsgIDPlanFragment). It reads the messages one
// by one: the stream holds at most the clusters' windows.
func (l *planLoop) queuedCopies(ctx context.Context) (map[string]bool, error) {
	s, err := l.js.Stream(ctx, events.StreamPlanFragments)
	if err != nil {
		return nil, err
	}
	copies := map[string]bool{}
	for seq := uint64(1); ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(events.SubjectPlanFragmentAll))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return copies, nil
		}
		if err != nil {
			return copies, err
		}
		var b events.FragmentBatch
		if _, err := events.Decode(m.Header, m.Data, events.TypeFragmentBatch, &b); err == nil {
			for _, f := range b.Fragments {
				copies[events.MsgIDPlanFragment(f.Query.ID, f.FragmentID, f.Attempt, f.Dispatch)] = true
			}
		}
		seq = m.Sequence + 1
	}
}

// submit hands an input to the loop. It never blocks: a follower whose callback blocks
// misses its heartbeats and is reset by the client, which must not happen while the loop
// is busy.
func (l *planLoop) submit(in func(time.Time) plans.Actions) {
	if in != nil {
		l.inputs.put(in)
	}
}

// mailbox is an unbounded FIFO of the loop's inputs.
type mailbox struct {
	mu    *sync.Mutex
	items *[]func(time.Time) plans.Actions
	ready chan struct{} // has a value while items is not empty
}

func newMailbox() mailbox {
	return mailbox{mu: &sync.Mutex{}, items: new([]func(time.Time) plans.Actions), ready: make(chan struct{}, 1)}
}

func (m mailbox) put(in func(time.Time) plans.Actions) {
	m.mu.Lock()
	*m.items = append(*m.items, in)
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// take removes and returns every queued input, in order.
func (m mailbox) take() []func(time.Time) plans.Actions {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := *m.items
	*m.items = nil
	return out
}

// onEvent decodes one QUERIES event into an input of the engine (nil: nothing to do).
// A placed plan is cut here, off the loop, by up to GOMAXPROCS goroutines at once; its
// input waits for the cut, so inputs still apply in log order.
func (l *planLoop) onEvent(ctx context.Context, msg jetstream.Msg) func(time.Time) plans.Actions {
	h, data, subject := msg.Headers(), msg.Data(), msg.Subject()
	switch {
	case subject == events.SubjectPlaced:
		var p events.QueryPlaced
		if _, err := events.Decode(h, data, events.TypeQueryPlaced, &p); err != nil || !p.Query.IsPlan() {
			return nil
		}
		qctx, span := events.StartProcessSpan(context.Background(), l.tracer, h, subject, "scheduler-plans", len(data))
		span.End()
		type cutResult struct {
			dag   *fragment.DAG
			plans map[string][]byte
			err   error
		}
		cut := make(chan cutResult, 1)
		go func() {
			select {
			case l.cuts <- struct{}{}:
			case <-ctx.Done():
				cut <- cutResult{err: ctx.Err()}
				return
			}
			dag, encoded, err := l.cut(ctx, p)
			<-l.cuts
			cut <- cutResult{dag, encoded, err}
		}()
		return func(time.Time) plans.Actions {
			r := <-cut
			return l.placed(qctx, p, r.dag, r.plans, r.err, time.Now())
		}
	case subject == events.SubjectCancelRequested:
		var c events.QueryCancelRequested
		if _, err := events.Decode(h, data, events.TypeQueryCancelRequested, &c); err != nil {
			return nil
		}
		return func(now time.Time) plans.Actions {
			if !l.engine.Has(c.QueryID) {
				// Not placed yet (or not a plan): placement may still place it, having
				// taken its admission before it saw the cancel. It is canceled when placed.
				l.unplacedCancels[c.QueryID] = true
				return plans.Actions{}
			}
			return l.engine.Cancel(c.QueryID, now)
		}
	case events.IsTerminal(subject):
		id := h.Get("ce-subject")
		return func(now time.Time) plans.Actions {
			outs, a := l.engine.Ended(id, now)
			delete(l.unplacedCancels, id)
			delete(l.traces, id)
			delete(l.specs, id)
			l.deleteObjects(id, outs)
			return a
		}
	}
	return nil
}

// onStatus decodes one report of fragment outcomes into an input of the engine (nil:
// nothing to do).
func (l *planLoop) onStatus(msg jetstream.Msg) func(time.Time) plans.Actions {
	var o events.FragmentOutcomes
	if _, err := events.Decode(msg.Headers(), msg.Data(), events.TypeFragmentOutcomes, &o); err != nil || o.Len() == 0 {
		return nil
	}
	return func(now time.Time) plans.Actions {
		var a plans.Actions
		for _, d := range o.Done {
			a.Merge(l.engine.Done(d, now))
		}
		for _, f := range o.Failed {
			a.Merge(l.engine.Failed(f, now))
		}
		return a
	}
}

// placed adds a newly placed plan query cut into dag, with each fragment's plan encoded
// (or failing with err), or moves one placed again.
func (l *planLoop) placed(ctx context.Context, p events.QueryPlaced, dag *fragment.DAG, encoded map[string][]byte, err error, now time.Time) plans.Actions {
	id := p.Query.ID
	if l.engine.Has(id) {
		return l.engine.Move(id, p.Cluster, p.Attempt, now)
	}
	if l.unplacedCancels[id] {
		// Placed after its cancel was requested: it ends at once, before any fragment
		// runs (and again, idempotently, should it be placed once more before its end).
		return endWith(id, p.Cluster, events.SubjectCanceled, protocol.NewError(protocol.UserCanceled, "Query was canceled"))
	}
	if err != nil {
		l.log.Info("plan cannot be scheduled", "query", id, "err", err)
		var qe *protocol.QueryError
		if !errors.As(err, &qe) {
			qe = protocol.NewError(protocol.GenericInternalError, "%v", err)
		}
		return endWith(id, p.Cluster, events.SubjectFailed, qe)
	}
	l.traces[id] = ctx
	spec := p.Query
	spec.Plan, spec.PlanObject = nil, ""
	l.specs[id] = spec
	a, err := l.engine.Add(plans.Query{ID: id, Cluster: p.Cluster, Attempt: p.Attempt, Priority: p.Query.Priority,
		CostEstimate: p.Query.CostEstimate, DAG: dag, Plans: encoded, PlacedAt: now, Arrival: p.Query.SubmittedAt}, now)
	if err != nil {
		l.log.Warn("cannot schedule plan", "query", id, "err", err)
	}
	return a
}

// endWith ends a query that the engine does not hold with the terminal event subject,
// carrying qe.
func endWith(id, cluster, subject string, qe *protocol.QueryError) plans.Actions {
	return plans.Actions{Ends: []plans.End{{Query: id, Cluster: cluster, Subject: subject, Error: events.ErrorInfoOf(qe)}}}
}

// cut loads a plan query's plan and cuts it into fragments, partitioning the tables of
// PartitionTables into as many partitions as the cluster has executor slots, and encodes
// each fragment's plan.
func (l *planLoop) cut(ctx context.Context, p events.QueryPlaced) (*fragment.DAG, map[string][]byte, error) {
	data := p.Query.Plan
	if p.Query.PlanObject != "" {
		obs, err := l.js.ObjectStore(ctx, events.ObjectPlans)
		if err == nil {
			data, err = obs.GetBytes(ctx, p.Query.PlanObject)
		}
		if err != nil {
			return nil, nil, protocol.NewError(protocol.GenericInternalError, "plan %s cannot be read: %v", p.Query.PlanObject, err)
		}
	}
	plan, err := fragment.Parse(data, "application/x-protobuf")
	if err != nil {
		return nil, nil, protocol.NewError(protocol.NotSupported, "%v", err)
	}
	l.slotsMu.Lock()
	slots := l.slots[p.Cluster]
	l.slotsMu.Unlock()
	scale := scaleOf(p.Query.Schema, l.cfg.ScaleFactor)
	parts := map[string]int{}
	for _, t := range l.cfg.PartitionTables {
		if n := partitions(slots, fragment.TableRows(t, scale), l.cfg); n > 1 {
			parts[t] = n
		}
	}
	dag, err := fragment.Cut(plan, fragment.Options{QueryID: strings.ToLower(p.Query.ID), ScaleFactor: scale, Partitions: parts})
	if err != nil {
		return nil, nil, protocol.NewError(protocol.NotSupported, "%v", err)
	}
	encoded := make(map[string][]byte, len(dag.Fragments))
	for _, f := range dag.Fragments {
		if encoded[f.ID], err = plans.EncodePlan(dag, f.ID); err != nil {
			return nil, nil, protocol.NewError(protocol.GenericInternalError, "%v", err)
		}
	}
	// The engine needs the encoded plans and the DAG's structure, not its relation trees.
	dag.Release()
	return dag, encoded, nil
}

// partitions is how many partition fragments a scan of a table of rows rows splits into
// on a cluster of slots: at least one per slot (parallelism), at least one per
// PartitionRows rows (a fragment is a preemption point: short queries overtake at its
// end), at most MaxPartitions.
func partitions(slots int, rows float64, cfg Config) int {
	n := slots
	if cfg.PartitionRows > 0 {
		n = max(n, int(math.Ceil(rows/float64(cfg.PartitionRows))))
	}
	return max(min(n, cfg.MaxPartitions), 1)
}

// scaleOf is the TPC-H scale factor of schema for the cost model ("tiny", "sf1",
// "sf0_1", as the executors name the TPC-H schemas they generate); any other schema has
// the configured scale.
func scaleOf(schema string, configured float64) float64 {
	if f, ok := tpchgen.ScaleFromSchema(schema); ok {
		return f
	}
	return configured
}

// apply carries out the engine's actions: the fragments released to each cluster go out
// in batches, without waiting for each ack (a failed publish is retried with the same
// message ID); ends are published and waited for.
func (l *planLoop) apply(ctx context.Context, a plans.Actions) {
	if len(a.Releases) > 0 {
		l.releaseBatches(ctx, a.Releases)
	}
	for _, e := range a.Ends {
		ev := events.QueryEnded{QueryID: e.Query, Cluster: e.Cluster, EndedAt: time.Now().UTC(), Error: e.Error, By: "scheduler"}
		if _, err := l.pub.Publish(l.trace(ctx, e.Query), e.Subject, events.MsgIDTerminal(e.Query), e.Query, events.TypeForSubject[e.Subject], ev); err != nil {
			l.log.Warn("publish terminal event failed", "query", e.Query, "err", err)
		}
	}
}

// maxBatchBytes bounds the plans carried by one FragmentBatch (the NATS message limit is
// 1 MiB by default); a fragment larger than it goes alone.
const maxBatchBytes = 512 << 10

// fragmentEvent is the event that carries release r to its cluster's executors, with the
// trace context of its own publish span (a child of its query's trace).
func (l *planLoop) fragmentEvent(ctx context.Context, r plans.Release) events.Fragment {
	subject := events.PlanFragmentSubject(r.Cluster)
	fctx, span := events.StartPublishSpan(l.trace(ctx, r.Query), l.tracer, subject, events.MsgIDPlanFragment(r.Query, r.Fragment, r.Attempt, r.Dispatch), r.Query)
	defer span.End()
	return events.Fragment{Query: l.specs[r.Query], FragmentID: r.Fragment, Cluster: r.Cluster, Home: r.Home, Region: r.Region,
		Attempt: r.Attempt, Plan: r.Plan, Root: r.Root, Inputs: r.Inputs, Dispatch: r.Dispatch, ReleasedAt: r.ReleasedAt,
		Trace: events.TraceMap(fctx)}
}

// releaseBatches publishes the released fragments, one batch per cluster (in release
// order, split at maxBatchBytes of plans).
func (l *planLoop) releaseBatches(ctx context.Context, releases []plans.Release) {
	var order []string
	batches := map[string][]events.FragmentBatch{}
	size := map[string]int{}
	for _, r := range releases {
		bs, ok := batches[r.Cluster]
		if !ok {
			order = append(order, r.Cluster)
		}
		if len(bs) == 0 || size[r.Cluster]+len(r.Plan) > maxBatchBytes {
			bs, size[r.Cluster] = append(bs, events.FragmentBatch{}), 0
		}
		last := &bs[len(bs)-1]
		last.Fragments = append(last.Fragments, l.fragmentEvent(ctx, r))
		size[r.Cluster] += len(r.Plan)
		batches[r.Cluster] = bs
	}
	for _, c := range order {
		for _, b := range batches[c] {
			l.batches++
			l.publishBatch(ctx, c, events.MsgIDFragmentBatch(l.nonce, l.batches), b)
		}
	}
}

// publishBatch publishes a batch of fragments without waiting for the ack; a failed
// publish is retried with the same message ID until it is stored or ctx ends. Plans
// larger than inlinePlan are stored in the ObjectPlans store first, off the loop.
func (l *planLoop) publishBatch(ctx context.Context, cluster, msgID string, b events.FragmentBatch) {
	subject, query := events.PlanFragmentSubject(cluster), b.Fragments[0].Query.ID
	if l.hasLargePlans(b) {
		go func() {
			if l.storeLargePlans(ctx, b) {
				l.publishRetrying(ctx, subject, msgID, query, b, nil)
			}
		}()
		return
	}
	fut, err := l.pub.PublishAsync(ctx, subject, msgID, query, events.TypeFragmentBatch, b)
	go func() {
		if err == nil {
			select {
			case <-fut.Ok():
				return
			case err = <-fut.Err():
			case <-ctx.Done():
				return
			}
		}
		l.publishRetrying(ctx, subject, msgID, query, b, err)
	}()
}

// publishRetrying publishes a batch until it is stored or ctx ends (cause: why an earlier
// attempt failed, nil for the first).
func (l *planLoop) publishRetrying(ctx context.Context, subject, msgID, query string, b events.FragmentBatch, cause error) {
	for ctx.Err() == nil {
		if cause != nil {
			l.log.Warn("fragment publish failed; retrying", "subject", subject, "fragments", len(b.Fragments), "batch", msgID, "err", cause)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		if _, cause = l.pub.Publish(ctx, subject, msgID, query, events.TypeFragmentBatch, b); cause == nil {
			return
		}
	}
}

// hasLargePlans reports whether a fragment of b has a plan larger than inlinePlan.
func (l *planLoop) hasLargePlans(b events.FragmentBatch) bool {
	for _, f := range b.Fragments {
		if int64(len(f.Plan)) > l.inlinePlan {
			return true
		}
	}
	return false
}

// storeLargePlans moves the plans of b larger than inlinePlan to the ObjectPlans store
// (once per fragment), retrying until stored; false when ctx ended first.
func (l *planLoop) storeLargePlans(ctx context.Context, b events.FragmentBatch) bool {
	for i, f := range b.Fragments {
		if int64(len(f.Plan)) <= l.inlinePlan {
			continue
		}
		name := events.FragmentPlanObject(f.Query.ID, f.FragmentID)
		l.planObjectsMu.Lock()
		stored := l.planObjects[f.Query.ID][name]
		l.planObjectsMu.Unlock()
		for !stored {
			obs, err := l.js.ObjectStore(ctx, events.ObjectPlans)
			if err == nil {
				_, err = obs.PutBytes(ctx, name, f.Plan)
			}
			if err == nil {
				l.planObjectsMu.Lock()
				if l.planObjects[f.Query.ID] == nil {
					l.planObjects[f.Query.ID] = map[string]bool{}
				}
				l.planObjects[f.Query.ID][name], stored = true, true
				l.planObjectsMu.Unlock()
				break
			}
			l.log.Warn("cannot store a fragment plan; retrying", "query", f.Query.ID, "fragment", f.FragmentID, "bytes", len(f.Plan), "err", err)
			select {
			case <-ctx.Done():
				return false
			case <-time.After(200 * time.Millisecond):
			}
		}
		b.Fragments[i].Plan, b.Fragments[i].PlanObject = nil, name
	}
	return true
}

func (l *planLoop) trace(ctx context.Context, id string) context.Context {
	if t, ok := l.traces[id]; ok {
		return t
	}
	return ctx
}

// watchHeartbeats feeds every cluster's executor slots and region to the engine.
func (l *planLoop) watchHeartbeats(ctx context.Context) error {
	kv, err := l.js.KeyValue(ctx, events.BucketClusters)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	set := func(e jetstream.KeyValueEntry) func(time.Time) plans.Actions {
		name, slots, region := e.Key(), 0, ""
		if e.Operation() == jetstream.KeyValuePut {
			var hb events.ClusterHeartbeat
			if json.Unmarshal(e.Value(), &hb) == nil && hb.State == events.ClusterReady && hb.Engine == "duckdb" {
				slots, region = hb.Slots, hb.Region
			}
		}
		return func(now time.Time) plans.Actions {
			l.slotsMu.Lock()
			same := l.slots[name] == slots
			l.slots[name] = slots
			l.slotsMu.Unlock()
			if same {
				return plans.Actions{}
			}
			return l.engine.SetCluster(name, slots, region, now)
		}
	}
	// The current heartbeats are applied before the loop runs; later ones go through it.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		set(e)(time.Now())
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for e := range w.Updates() {
			if e != nil {
				l.submit(set(e))
			}
		}
	}()
	return nil
}

// deleteObjects removes the object-store copies of a finished query's intermediate
// results (the executors delete their files) and of its fragment plans stored there.
func (l *planLoop) deleteObjects(query string, outs []events.FragmentOutput) {
	var results []string
	for _, o := range outs {
		if o.Object != "" {
			results = append(results, o.Object)
		}
	}
	l.planObjectsMu.Lock()
	plans := slices.Collect(maps.Keys(l.planObjects[query]))
	delete(l.planObjects, query)
	l.planObjectsMu.Unlock()
	if len(results) == 0 && len(plans) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for store, names := range map[string][]string{events.ObjectResults: results, events.ObjectPlans: plans} {
			if len(names) == 0 {
				continue
			}
			obs, err := l.js.ObjectStore(ctx, store)
			if err != nil {
				continue
			}
			for _, n := range slices.Compact(slices.Sorted(slices.Values(names))) {
				_ = obs.Delete(ctx, n)
			}
		}
	}()
}

// publishLoad writes the engine's load and the process's heap, for ingest's queue-full
// check, when the counts changed, the heap crossed the memory soft limit, or 10 s passed.
func (l *planLoop) publishLoad(ctx context.Context, now time.Time) {
	ld := l.engine.Load()
	v := events.SchedulerLoad{QueuedFragments: ld.Queued, MaxQueuedFragments: l.cfg.MaxQueuedFragments, Queries: ld.Queries,
		HeapBytes: heapBytes(), MemorySoftLimit: l.memoryLimit}
	over := func(v events.SchedulerLoad) bool { return v.MemorySoftLimit > 0 && v.HeapBytes >= v.MemorySoftLimit }
	if v.QueuedFragments == l.lastPub.QueuedFragments && v.Queries == l.lastPub.Queries && over(v) == over(l.lastPub) &&
		now.Sub(l.lastPub.At) < 10*time.Second {
		return
	}
	v.At = now.UTC()
	b, _ := json.Marshal(v)
	if _, err := l.load.Put(ctx, events.SchedulerLoadKey, b); err == nil {
		if over(v) && !over(l.lastPub) {
			l.log.Warn("memory soft limit reached: ingest refuses new plans", "heap", v.HeapBytes, "limit", v.MemorySoftLimit)
		}
		l.lastPub = v
	}
}

// heapSample reads the bytes of live and not yet swept heap objects.
var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapBytes is the Go heap in use by this process (in `sluice up`, every service's).
func heapBytes() int64 {
	s := slices.Clone(heapSample)
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
