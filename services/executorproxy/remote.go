package executorproxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/executorproxy/internal/coordinator"
)

// The remote backend hands each placed query to a Trino or Presto coordinator and follows
// it there: the client is handed the coordinator's nextUri (results never pass through
// Sluice), and the proxy reads the query's state, CPU time and peak memory from the
// coordinator's REST API until it ends, then publishes the terminal event that frees the
// query's resource-group slot and charges its CPU.

// remoteQuery is a query this proxy follows on its coordinator.
type remoteQuery struct {
	cancel context.CancelCauseFunc // ends the wait for a slot, or asks the coordinator to cancel
}

// errCanceledByClient is the cause of a remote query's context when its cancel is requested.
var errCanceledByClient = errors.New("cancel requested")

// remoteBackoff bounds how often a running query's status is read: quickly at first, so
// short queries end promptly, then every StatusPoll.
func (x *executor) remoteBackoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n, 6)
	return min(d, max(x.cfg.CoordinatorPoll, 50*time.Millisecond))
}

// trackRemote registers a query being followed; false if this process follows it already
// (a redelivery while the first delivery runs).
func (x *executor) trackRemote(id string, cancel context.CancelCauseFunc) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, dup := x.remote[id]; dup {
		return false
	}
	x.remote[id] = &remoteQuery{cancel: cancel}
	return true
}

func (x *executor) untrackRemote(id string) {
	x.mu.Lock()
	delete(x.remote, id)
	x.mu.Unlock()
}

// cancelRemote asks the follower of a remote query to cancel it.
func (x *executor) cancelRemote(id string) {
	x.mu.Lock()
	rq := x.remote[id]
	x.mu.Unlock()
	if rq != nil {
		rq.cancel(errCanceledByClient)
	}
}

// handleRemote runs a fragment on the coordinator: wait for a slot, claim the start,
// dispatch (or, after a redelivery, find the dispatch already made), hand over, follow.
func (x *executor) handleRemote(pctx context.Context, msg jetstream.Msg, frag events.Fragment, st *events.QueryStatus) {
	id := frag.Query.ID
	qctx, cancel := context.WithCancelCause(context.WithoutCancel(pctx))
	defer cancel(nil)
	if !x.trackRemote(id, cancel) {
		return // the first delivery settles it
	}
	defer x.untrackRemote(id)
	if _, ok := x.cancelRequested(id); ok {
		cancel(errCanceledByClient)
	}
	release := x.acquireSlot(qctx)
	defer release()
	if qctx.Err() != nil {
		settle(msg, x.publishEnd(pctx, events.SubjectCanceled, id, canceledError(x.cancelReason(id)), 0, 0, 0))
		return
	}
	mine, err := x.claims.Start(pctx, id, x.cfg.Cluster, frag.Attempt)
	if err != nil {
		x.log.Warn("cannot claim the query's start; retrying", "query", id, "err", err)
		_ = msg.NakWithDelay(200 * time.Millisecond)
		return
	}
	if !mine {
		x.log.Info("query moved to another cluster before it started here", "query", id, "attempt", frag.Attempt)
		_ = msg.Ack()
		return
	}

	h, resumed := x.dispatchedBefore(frag, st)
	if !resumed {
		var ok bool
		if h, ok = x.dispatchRemote(pctx, msg, frag); !ok {
			return
		}
	}
	x.followRemote(pctx, qctx, msg, h, frag.Attempt)
}

// dispatchedBefore finds, from the status view, a dispatch of this attempt that an earlier
// delivery made and handed over (the proxy crashed while following it).
func (x *executor) dispatchedBefore(frag events.Fragment, st *events.QueryStatus) (coordinator.Handle, bool) {
	if st == nil || st.State != events.StateRunning || st.Cluster != x.cfg.Cluster || st.Attempts != frag.Attempt+1 {
		return coordinator.Handle{}, false
	}
	engineID := st.EngineQueryID
	if engineID == "" {
		engineID = st.Query.ID
	}
	return coordinator.Handle{QueryID: engineID, SluiceID: st.Query.ID, NextURI: st.NextURI}, true
}

// dispatchRemote hands the query to the coordinator and publishes the hand-over. It settles
// msg itself and reports false when the query did not start here: its dispatch failed
// (placement places it again elsewhere), or the coordinator refused it (the query fails).
func (x *executor) dispatchRemote(ctx context.Context, msg jetstream.Msg, frag events.Fragment) (coordinator.Handle, bool) {
	id := frag.Query.ID
	spec := frag.Query
	spec.SQL = frag.SQL
	var opts []coordinator.DispatchOption
	if spec.SealedAuthorization != "" {
		auth, err := x.openAuthorization(spec)
		if err != nil {
			settle(msg, x.publishEnd(ctx, events.SubjectFailed, id,
				protocol.NewError(protocol.SluiceBackendError, "cannot forward the client's credentials: %v", err), 0, 0, 0))
			return coordinator.Handle{}, false
		}
		opts = append(opts, coordinator.WithAuthorization(auth))
	}
	dctx, cancel := context.WithTimeout(ctx, x.cfg.DispatchTimeout)
	h, _, err := x.coord.Dispatch(dctx, spec, opts...)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, coordinator.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		x.dispatchFailed(ctx, msg, frag, err)
		return coordinator.Handle{}, false
	case errors.Is(err, coordinator.ErrAlreadyExists):
		// Presto has a query with this ID that an earlier process dispatched with another
		// slug: it cannot be handed over, so it is stopped rather than left running.
		_ = x.coord.Cancel(ctx, id)
		settle(msg, x.publishEnd(ctx, events.SubjectFailed, id, protocol.NewError(protocol.SluiceBackendError,
			"%s already had query %s from an earlier dispatch whose slug differs (set SLUICE_PRESTO_SLUG_SECRET to the same value on every replica); it was canceled", x.cfg.Cluster, id), 0, 0, 0))
		return coordinator.Handle{}, false
	default:
		qe := protocol.NewError(protocol.SluiceBackendError, "%s", err.Error())
		var engineErr *protocol.QueryError
		if errors.As(err, &engineErr) {
			qe = engineErr
		}
		settle(msg, x.publishEnd(ctx, terminalSubject(qe), id, qe, 0, 0, 0))
		return coordinator.Handle{}, false
	}
	started := events.QueryStarted{QueryID: id, Cluster: x.cfg.Cluster, Attempt: frag.Attempt, NextURI: h.NextURI, StartedAt: time.Now().UTC()}
	if h.QueryID != id {
		started.EngineQueryID = h.QueryID
	}
	if _, err := x.pub.Publish(ctx, events.SubjectStarted, events.MsgIDStarted(id, frag.Attempt), id, events.TypeQueryStarted, started); err != nil {
		// The client cannot be handed over without the event: stop the query and let the
		// fragment come back (the claim lets this cluster and attempt start it again).
		x.log.Warn("publish started failed; canceling the dispatched query", "query", id, "err", err)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = x.coord.CancelHandle(cctx, h)
		cancel()
		_ = msg.NakWithDelay(time.Second)
		return coordinator.Handle{}, false
	}
	return h, true
}

// dispatchFailed records that the query ran nowhere: the claim lets placement move it, and
// the dispatch-failed event tells placement (and the client's status) why.
func (x *executor) dispatchFailed(ctx context.Context, msg jetstream.Msg, frag events.Fragment, cause error) {
	id := frag.Query.ID
	x.log.Warn("dispatch failed before the query started; it will be placed again", "query", id, "attempt", frag.Attempt, "err", cause)
	x.markUnreachable(cause)
	if err := x.claims.DispatchFailed(ctx, id, x.cfg.Cluster, frag.Attempt); err != nil {
		x.log.Warn("cannot record the failed dispatch; retrying", "query", id, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	ev := events.QueryDispatchFailed{QueryID: id, Cluster: x.cfg.Cluster, Attempt: frag.Attempt, At: time.Now().UTC(),
		Error: events.QueryErrorInfo{Message: cause.Error(), ErrorCode: protocol.SluiceDispatchFailed.Code,
			ErrorName: protocol.SluiceDispatchFailed.Name, ErrorType: string(protocol.SluiceDispatchFailed.Type)}}
	if _, err := x.pub.Publish(ctx, events.SubjectDispatchFailed, events.MsgIDDispatchFailed(id, frag.Attempt), id, events.TypeQueryDispatchFailed, ev); err != nil {
		// The claim already says so; a redelivery publishes the event (Start refuses it).
		x.log.Warn("publish dispatch-failed failed", "query", id, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
}

// followRemote (the caller keeps msg in progress) reads the query's status from the coordinator until it ends and publishes
// its terminal event. A cancel request is passed on to the coordinator; a coordinator that
// does not answer for CoordinatorLostAfter fails the query with SLUICE_CLUSTER_LOST.
func (x *executor) followRemote(pctx, qctx context.Context, msg jetstream.Msg, h coordinator.Handle, attempt int) {
	id := h.SluiceID
	var (
		dispatched = time.Now()
		seen       bool // the coordinator knew the query at least once
		lastAnswer = time.Now()
		cancelAt   time.Time // when the cancel was passed on (zero: not yet)
		notFound   int
		canceling  = qctx.Done() // nil once the cancel was passed on
		progress   = progressReporter{attempt: attempt}
	)
	for n := 0; ; n++ {
		if qctx.Err() != nil && cancelAt.IsZero() {
			cancelAt, canceling = time.Now(), nil
			cctx, cancel := context.WithTimeout(pctx, 5*time.Second)
			if err := x.coord.CancelHandle(cctx, h); err != nil {
				x.log.Warn("cancel on the coordinator failed; following the query until it ends", "query", id, "err", err)
			}
			cancel()
		}
		sctx, cancel := context.WithTimeout(pctx, 10*time.Second)
		st, err := x.coord.Status(sctx, h.QueryID)
		cancel()
		switch {
		case err == nil:
			lastAnswer, notFound, seen = time.Now(), 0, true
			if st.Done {
				x.endRemote(pctx, msg, id, st)
				return
			}
			progress.report(pctx, x, h, st)
		case errors.Is(err, coordinator.ErrNotFound):
			lastAnswer = time.Now()
			if !seen {
				// A Presto query (and a Trino one dispatched without the submit poll) exists
				// only once its client polls the handed-over nextUri.
				if time.Since(dispatched) > x.cfg.ClientTimeout {
					cctx, cancel := context.WithTimeout(pctx, 5*time.Second)
					_ = x.coord.CancelHandle(cctx, h)
					cancel()
					settle(msg, x.publishEnd(pctx, events.SubjectCanceled, id, canceledError("abandoned"), 0, 0, 0))
					return
				}
				if !cancelAt.IsZero() {
					settle(msg, x.publishEnd(pctx, events.SubjectCanceled, id, canceledError(x.cancelReason(id)), 0, 0, 0))
					return
				}
				break
			}
			// Trino forgets queries some minutes after they end.
			if notFound++; notFound >= 3 {
				qe := protocol.NewError(protocol.SluiceBackendError, "%s no longer knows query %s", x.cfg.Cluster, h.QueryID)
				if !cancelAt.IsZero() {
					qe = canceledError(x.cancelReason(id))
				}
				settle(msg, x.publishEnd(pctx, terminalSubject(qe), id, qe, 0, 0, 0))
				return
			}
		default:
			x.markUnreachable(err)
			if time.Since(lastAnswer) > x.cfg.CoordinatorLostAfter {
				qe := protocol.NewError(protocol.SluiceClusterLost, "Coordinator of %s did not answer for %s while the query ran: %v", x.cfg.Cluster, x.cfg.CoordinatorLostAfter, err)
				settle(msg, x.publishEnd(pctx, events.SubjectFailed, id, qe, 0, 0, 0))
				return
			}
		}
		if !cancelAt.IsZero() && time.Since(cancelAt) > 30*time.Second {
			// The coordinator accepted the cancel but never ended the query.
			settle(msg, x.publishEnd(pctx, events.SubjectCanceled, id, canceledError(x.cancelReason(id)), 0, 0, 0))
			return
		}
		wait := x.remoteBackoff(n)
		if !cancelAt.IsZero() {
			wait = 100 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-canceling:
			t.Stop()
		}
	}
}

// progressReporter publishes a running query's memory reservation when it changed notably
// (by a tenth, and at least 16 MiB), at most every SLUICE_PROGRESS_INTERVAL, so that
// admission counts what the query holds against its groups' soft memory limits.
type progressReporter struct {
	attempt  int
	n        int
	reported int64
	at       time.Time
}

func (p *progressReporter) report(ctx context.Context, x *executor, h coordinator.Handle, st coordinator.Status) {
	if x.cfg.ProgressInterval <= 0 || time.Since(p.at) < x.cfg.ProgressInterval {
		return
	}
	diff := st.MemoryBytes - p.reported
	if diff < 0 {
		diff = -diff
	}
	if (p.n > 0 || st.MemoryBytes == 0) && (diff < 16<<20 || diff*10 < p.reported) {
		return
	}
	p.n++
	ev := events.QueryProgress{QueryID: h.SluiceID, Cluster: x.cfg.Cluster, Attempt: p.attempt, MemoryBytes: st.MemoryBytes,
		CPUTimeMillis: st.CPUTime.Milliseconds(), At: time.Now().UTC()}
	if _, err := x.pub.Publish(ctx, events.SubjectProgress, events.MsgIDProgress(h.SluiceID, p.attempt, p.n), h.SluiceID, events.TypeQueryProgress, ev); err != nil {
		x.log.Warn("publish progress failed", "query", h.SluiceID, "err", err)
		return
	}
	p.reported, p.at = st.MemoryBytes, time.Now()
}

// endRemote publishes the terminal event of a query the coordinator reports done, with
// its CPU time and peak memory.
func (x *executor) endRemote(ctx context.Context, msg jetstream.Msg, id string, st coordinator.Status) {
	var qe *protocol.QueryError
	if st.State == coordinator.StateFailed {
		qe = protocol.NewError(protocol.SluiceBackendError, "query failed on %s", x.cfg.Cluster)
		if e := st.Error; e != nil {
			qe = &protocol.QueryError{Message: e.Message, ErrorCode: e.ErrorCode, ErrorName: e.ErrorName, ErrorType: e.ErrorType}
			if e.Line > 0 {
				qe.ErrorLocation = &protocol.ErrorLocation{LineNumber: e.Line, ColumnNumber: e.Column}
			}
			if qe.Message == "" {
				qe.Message = e.ErrorName
			}
		}
	}
	settle(msg, x.publishEnd(ctx, terminalSubject(qe), id, qe, 0, st.CPUTime, st.PeakMemoryBytes))
}

// cancelReason is the reason of a query's cancel request.
func (x *executor) cancelReason(id string) string {
	r, _ := x.cancelRequested(id)
	return r
}

// coordinatorHealth is what the proxy last learned of its coordinator's load and reach.
type coordinatorHealth struct {
	mu          sync.Mutex
	load        coordinator.Load
	loaded      bool      // a load was read at least once
	unreachable time.Time // since when requests fail (zero: they do not)
	lastErr     error
}

// markUnreachable notes a failed request to the coordinator; the heartbeat reports the
// cluster unhealthy until a load is read again.
func (x *executor) markUnreachable(err error) {
	if x.health == nil {
		return
	}
	x.health.mu.Lock()
	if x.health.unreachable.IsZero() {
		x.health.unreachable = time.Now()
		x.log.Warn("coordinator unreachable", "err", err)
	}
	x.health.lastErr = err
	x.health.mu.Unlock()
	x.beat()
}

// watchCoordinator reads the coordinator's load every heartbeat interval until ctx ends.
func (x *executor) watchCoordinator(ctx context.Context) {
	t := time.NewTicker(x.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, max(2*x.cfg.HeartbeatInterval, time.Second))
		load, err := x.coord.Load(lctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			x.markUnreachable(err)
		} else if err == nil {
			x.health.mu.Lock()
			wasDown := !x.health.unreachable.IsZero() || !x.health.loaded
			x.health.load, x.health.loaded, x.health.unreachable, x.health.lastErr = load, true, time.Time{}, nil
			x.health.mu.Unlock()
			if wasDown {
				x.log.Info("coordinator reachable", "version", load.Info.Version, "running", load.Running, "queued", load.Queued)
				x.beat()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// remoteState adjusts the reported state and load of a coordinator cluster: starting until
// the coordinator answered and is not starting, unhealthy while it does not answer.
func (x *executor) remoteState(hb *events.ClusterHeartbeat) {
	x.health.mu.Lock()
	defer x.health.mu.Unlock()
	l := x.health.load
	switch {
	case !x.health.unreachable.IsZero():
		hb.State = events.ClusterUnhealthy
	case !x.health.loaded || l.Info.Starting:
		if hb.State == events.ClusterReady {
			hb.State = events.ClusterStarting
		}
	}
	if x.health.loaded {
		// The coordinator may also run queries that did not come through Sluice.
		hb.Running = max(hb.Running, l.Running+l.Blocked)
		hb.Queued += l.Queued
		hb.UsedMemoryBytes = l.ReservedMemoryBytes
	}
}

// engineName is the engine kind the heartbeat reports.
func (x *executor) engineName() string {
	if x.coord != nil {
		return string(x.coord.Flavor())
	}
	return "duckdb"
}

// newCoordinator builds the client of the configured coordinator.
func newCoordinator(cfg Config) (*coordinator.Client, error) {
	if cfg.CoordinatorURL == "" {
		return nil, fmt.Errorf("executor-proxy: SLUICE_COORDINATOR_URL is required with SLUICE_BACKEND=%s", cfg.Backend)
	}
	user := cfg.CoordinatorUser
	if user == "" {
		user = "sluice"
	}
	opts := []coordinator.Option{coordinator.WithFlavor(events.Protocol(cfg.Backend)), coordinator.WithSubmit(true),
		coordinator.WithUserAgent("sluice-executorproxy/" + cfg.Cluster)}
	switch cfg.Credentials {
	case "", "forward":
		opts = append(opts, coordinator.WithForwardedCredentials(), coordinator.WithServiceUser(user, cfg.CoordinatorPassword))
	case "impersonate":
		opts = append(opts, coordinator.WithImpersonation(user, cfg.CoordinatorPassword))
	default:
		return nil, fmt.Errorf("executor-proxy: SLUICE_COORDINATOR_CREDENTIALS=%q: want forward or impersonate", cfg.Credentials)
	}
	if cfg.SlugSecret != "" {
		opts = append(opts, coordinator.WithSlugSecret([]byte(cfg.SlugSecret)))
	}
	return coordinator.New(cfg.CoordinatorURL, opts...)
}
