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
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
	"github.com/sluicehq/sluice/services/executorproxy/internal/results"
	"go.opentelemetry.io/otel/trace"
)

type executor struct {
	cfg    Config
	log    *slog.Logger
	db     *engine.DuckDB
	js     jetstream.JetStream
	status jetstream.KeyValue // the query status view, read when a fragment arrives
	pub    *events.Publisher
	tracer trace.Tracer
	base   string
	store  *results.Store
	slots  chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	canceled map[string]string // cancel requests seen, by query ID
	state    events.ClusterState
	running  int
	queued   int
	memory   int64 // the backend's memory limit, reported in heartbeats
}

func (x *executor) setState(s events.ClusterState) {
	x.mu.Lock()
	x.state = s
	x.mu.Unlock()
}

// consume pulls this cluster's fragments. The consumer's MaxAckPending is the prefetch
// window, so the server never hands this cluster more than SLOTS x PREFETCH fragments.
func (x *executor) consume(ctx context.Context) (jetstream.ConsumeContext, error) {
	window := x.cfg.Slots * x.cfg.Prefetch
	cons, err := x.js.CreateOrUpdateConsumer(ctx, events.StreamFragments, events.ExecutorConsumerConfig(x.cfg.Cluster, window, x.cfg.AckWait))
	if err != nil {
		return nil, fmt.Errorf("executor-proxy: consumer: %w", err)
	}
	return cons.Consume(func(msg jetstream.Msg) {
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			x.handleFragment(ctx, msg)
		}()
	}, jetstream.PullMaxMessages(window))
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
func (x *executor) keepAlive(msg jetstream.Msg, stop <-chan struct{}) {
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
	md, _ := msg.Metadata()
	delivery := uint64(1)
	if md != nil {
		delivery = md.NumDelivered
	}
	if prev, dup := x.store.Get(id); dup {
		if done, qe, rows := prev.Outcome(); done {
			// Ran here, but its terminal event was not stored: publish it again.
			settle(msg, x.publishEnd(pctx, terminalSubject(qe), id, qe, rows, 0))
		}
		return // still running here; the first delivery settles it
	}
	if ended, err := x.alreadyEnded(pctx, id); err != nil {
		_ = msg.NakWithDelay(200 * time.Millisecond)
		return
	} else if ended {
		_ = msg.Ack()
		return
	}
	if reason, ok := x.cancelRequested(id); ok {
		settle(msg, x.publishEnd(pctx, events.SubjectCanceled, id, canceledError(reason), 0, 0))
		return
	}

	qctx, cancel := context.WithCancelCause(context.WithoutCancel(pctx))
	defer cancel(nil)
	q := results.NewQuery(id, frag.Query.Protocol, x.cfg.ResultBufferBytes, cancel)
	if !x.store.Add(q) {
		return
	}
	defer x.acquireSlot(qctx)()
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
	settle(msg, x.publishEnd(pctx, terminalSubject(qe), id, qe, rows, busy))
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

// settle acknowledges a fragment whose terminal event is stored, or asks for redelivery.
func settle(msg jetstream.Msg, stored bool) {
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
	x.mu.Unlock()
}

// alreadyEnded checks the status view: a fragment redelivered after its query ended (a crash
// between the terminal event and the ack) must not run again.
func (x *executor) alreadyEnded(ctx context.Context, id string) (bool, error) {
	e, err := x.status.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var st events.QueryStatus
	if json.Unmarshal(e.Value(), &st) != nil {
		return false, nil
	}
	if st.CancelRequested {
		x.mu.Lock()
		if _, ok := x.canceled[id]; !ok {
			x.canceled[id] = "canceled by the client"
		}
		x.mu.Unlock()
	}
	return st.State.Terminal(), nil
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
// busy is the query's execution time: DuckDB does not measure CPU per query, so the
// execution time stands in for the CPU time that resource-group CPU quotas charge.
func (x *executor) publishEnd(ctx context.Context, subject, id string, qe *protocol.QueryError, rows int64, busy time.Duration) bool {
	ev := events.QueryEnded{QueryID: id, Cluster: x.cfg.Cluster, EndedAt: time.Now().UTC(), Rows: rows, CPUTimeMillis: busy.Milliseconds(),
		By: "executor-proxy/" + x.cfg.Cluster}
	if qe != nil {
		ev.Error = &events.QueryErrorInfo{Message: qe.Message, ErrorCode: qe.ErrorCode, ErrorName: qe.ErrorName, ErrorType: qe.ErrorType}
		if qe.ErrorLocation != nil {
			ev.Error.Line, ev.Error.Column = qe.ErrorLocation.LineNumber, qe.ErrorLocation.ColumnNumber
		}
	}
	backoff := time.NewTicker(100 * time.Millisecond)
	defer backoff.Stop()
	for attempt := 0; attempt < 50; attempt++ {
		_, err := x.pub.Publish(ctx, subject, events.MsgIDTerminal(id), id, events.TypeForSubject[subject], ev)
		if err == nil {
			return true
		}
		x.log.Warn("publish terminal event failed; retrying", "query", id, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-backoff.C:
		}
	}
	// Not stored: the caller leaves the fragment unacknowledged, so it is redelivered and
	// the outcome published again.
	return false
}

// watchCancels follows cancel requests published from now on.
func (x *executor) watchCancels(ctx context.Context) error {
	cons, err := x.js.OrderedConsumer(ctx, events.StreamQueries, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectCancelRequested},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("executor-proxy: cancel watch: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
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
	for {
		x.mu.Lock()
		hb := events.ClusterHeartbeat{Name: x.cfg.Cluster, URL: x.base, Engine: "duckdb", State: x.state,
			Slots: x.cfg.Slots, Running: x.running, Queued: x.queued, MemoryBytes: x.memory, At: time.Now().UTC()}
		x.mu.Unlock()
		b, _ := json.Marshal(hb)
		pctx, cancel := context.WithTimeout(ctx, x.cfg.HeartbeatInterval*2)
		if _, err := kv.Put(pctx, x.cfg.Cluster, b); err != nil && ctx.Err() == nil {
			x.log.Warn("heartbeat failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = kv.Delete(dctx, x.cfg.Cluster)
			cancel()
			return
		case <-t.C:
		}
	}
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
