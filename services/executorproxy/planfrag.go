package executorproxy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/executorproxy/internal/engine"
	"github.com/sluicehq/sluice/services/executorproxy/internal/fragexec"
	"github.com/sluicehq/sluice/services/executorproxy/internal/results"
	"github.com/sluicehq/sluice/services/executorproxy/internal/trinowire"
	"github.com/substrait-io/substrait-protobuf/go/substraitpb"
	"google.golang.org/protobuf/proto"
)

// planExecutor runs the fragments of plan queries on the cluster's DuckDB: non-root
// fragments write their output to the intermediate-result store (and, when executors do
// not share a disk, to the JetStream object store), the root streams the result rows to
// the client like a SQL query.
type planExecutor struct {
	x        *executor
	outcomes *events.OutcomeReporter // fragment outcomes, several per message under load
	store    *fragexec.Store
	objects  jetstream.ObjectStore // nil: executors share a disk
	disk     int64                 // bytes reserved for intermediate results (0: no limit)

	mu      sync.Mutex
	runners map[string]*fragexec.Runner                      // by schema
	running map[string]map[*context.CancelCauseFunc]struct{} // by query
}

func newPlanExecutor(ctx context.Context, x *executor) (*planExecutor, error) {
	dir := x.cfg.IntermediateDir
	if dir == "" {
		dir = filepath.Join(x.cfg.DataDir, "intermediate")
	}
	store, err := fragexec.NewStore(dir)
	if err != nil {
		return nil, err
	}
	p := &planExecutor{x: x, outcomes: events.NewOutcomeReporter(x.pub), store: store, runners: map[string]*fragexec.Runner{}, running: map[string]map[*context.CancelCauseFunc]struct{}{}}
	if p.disk, err = intermediateDisk(x.cfg.IntermediateDisk); err != nil {
		return nil, err
	}
	if x.cfg.IntermediateObjects {
		if p.objects, err = x.js.ObjectStore(ctx, events.ObjectResults); err != nil {
			return nil, fmt.Errorf("executor-proxy: results object store: %w", err)
		}
	}
	return p, nil
}

// runner returns the fragment runner reading base tables from schema of the TPC-H catalog.
func (p *planExecutor) runner(schema string) (*fragexec.Runner, error) {
	if schema == "" {
		schema = fragexec.DefaultSchema
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.runners[schema]; ok {
		return r, nil
	}
	cat, _ := TPCHCatalogs(p.x.cfg.DataDir, p.x.cfg.TPCHScale)
	r, err := fragexec.NewRunner(p.x.db.DB(), p.store, fragexec.WithCatalog(cat, schema))
	if err != nil {
		return nil, protocol.NewError(protocol.SchemaNotFound, "Schema '%s' does not exist", schema)
	}
	p.runners[schema] = r
	return r, nil
}

// track registers a running fragment's cancel function under its query.
func (p *planExecutor) track(query string, cancel *context.CancelCauseFunc) func() {
	p.mu.Lock()
	if p.running[query] == nil {
		p.running[query] = map[*context.CancelCauseFunc]struct{}{}
	}
	p.running[query][cancel] = struct{}{}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.running[query], cancel)
		if len(p.running[query]) == 0 {
			delete(p.running, query)
		}
		p.mu.Unlock()
	}
}

// stop cancels every running fragment of a query (it was canceled or ended).
func (p *planExecutor) stop(query string, cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.running[query] {
		(*c)(cause)
	}
}

// ended stops what still runs of a query and deletes its intermediate results here.
func (p *planExecutor) ended(query string) {
	p.stop(query, protocol.NewError(protocol.UserCanceled, "Query ended"))
	if err := p.store.DeleteQuery(query); err != nil {
		p.x.log.Warn("cannot delete intermediate results", "query", query, "err", err)
	}
}

// handle runs one plan fragment and settles its message.
func (p *planExecutor) handle(ctx context.Context, msg settler, frag events.Fragment) {
	x := p.x
	id := frag.Query.ID
	if _, settled := x.settleEnded(ctx, msg, id); settled {
		return
	}
	// A fragment taken off another cluster's queue runs here under that cluster's claim.
	home := frag.Home
	if home == "" || frag.Root {
		home = x.cfg.Cluster
	}
	if current, err := x.claims.Current(ctx, id, home, frag.Attempt); err != nil {
		_ = msg.NakWithDelay(200 * time.Millisecond)
		return
	} else if !current {
		x.log.Info("dropping a fragment of a query that moved", "query", id, "fragment", frag.FragmentID, "attempt", frag.Attempt)
		_ = msg.Ack()
		return
	}
	planBytes, err := p.planOf(ctx, frag)
	if err != nil {
		settle(msg, p.publishFailed(ctx, frag, time.Time{}, protocol.NewError(protocol.GenericInternalError, "fragment %s: plan %s cannot be read: %v", frag.FragmentID, frag.PlanObject, err), true, nil))
		return
	}
	var plan substraitpb.Plan
	if err := proto.Unmarshal(planBytes, &plan); err != nil {
		settle(msg, p.publishFailed(ctx, frag, time.Time{}, protocol.NewError(protocol.GenericInternalError, "fragment %s: undecodable plan: %v", frag.FragmentID, err), false, nil))
		return
	}
	runner, err := p.runner(frag.Query.Schema)
	if err != nil {
		settle(msg, p.publishFailed(ctx, frag, time.Time{}, asQueryError(err), false, nil))
		return
	}
	inputs, missing := p.inputs(ctx, frag)
	if len(missing) > 0 {
		settle(msg, p.publishFailed(ctx, frag, time.Time{}, protocol.NewError(protocol.GenericInternalError, "inputs lost: %v", missing), true, missing))
		return
	}
	f := fragexec.Fragment{Query: id, ID: frag.FragmentID, Plan: &plan, Root: frag.Root, Inputs: inputs}
	if frag.Root {
		p.runRoot(ctx, msg, frag, runner, f)
		return
	}

	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	defer p.track(id, &cancel)()
	defer x.acquireSlot(rctx)()
	started := time.Now()
	if qe := p.checkDisk(); qe != nil {
		settle(msg, p.publishFailed(ctx, frag, started, qe, true, nil))
		return
	}
	res, err := runner.Run(rctx, f, nil)
	if err != nil {
		qe, retriable, lost := p.classify(rctx, err, frag)
		settle(msg, p.publishFailed(ctx, frag, started, qe, retriable, lost))
		return
	}
	out := events.FragmentOutput{Fragment: frag.FragmentID, Cluster: x.cfg.Cluster, Path: res.Path, Rows: res.Rows, Bytes: res.Bytes}
	if p.objects != nil {
		name, err := p.upload(ctx, id, frag.FragmentID, res.Path)
		if err != nil {
			settle(msg, p.publishFailed(ctx, frag, started, protocol.NewError(protocol.GenericInternalError, "store %s: %v", name, err), true, nil))
			return
		}
		out.Object = name
	}
	ev := events.FragmentDone{FragmentRun: p.runOf(frag),
		Output: out, ReleasedAt: frag.ReleasedAt, StartedAt: started.UTC(), EndedAt: time.Now().UTC()}
	settle(msg, p.report(ctx, frag, func() error { return p.outcomes.Done(ctx, ev) }))
}

// planOf returns a fragment's plan: carried in its batch, or stored in the ObjectPlans
// store when it was too large for that.
func (p *planExecutor) planOf(ctx context.Context, frag events.Fragment) ([]byte, error) {
	if frag.PlanObject == "" {
		return frag.Plan, nil
	}
	obs, err := p.x.js.ObjectStore(ctx, events.ObjectPlans)
	if err != nil {
		return nil, err
	}
	return obs.GetBytes(ctx, frag.PlanObject)
}

// defaultIntermediateDisk is the disk reserved for intermediate results when the
// configuration names none.
const defaultIntermediateDisk = 10 << 30

// intermediateDisk parses SLUICE_INTERMEDIATE_DISK ("": the default, "0": no limit).
func intermediateDisk(v string) (int64, error) {
	if v == "" {
		return defaultIntermediateDisk, nil
	}
	n, err := protocol.ParseDataSize(v)
	if err != nil {
		return 0, fmt.Errorf("executor-proxy: SLUICE_INTERMEDIATE_DISK: %w", err)
	}
	return n, nil
}

// checkDisk refuses to run a fragment while the intermediate results stored here use up
// the disk reserved for them (a retriable failure: the results of finished queries are
// deleted, and the scheduler releases the fragment again).
func (p *planExecutor) checkDisk() *protocol.QueryError {
	if p.disk <= 0 {
		return nil
	}
	used, err := p.store.Bytes()
	if err != nil {
		return protocol.NewError(protocol.GenericInternalError, "cluster %s cannot measure its intermediate results: %v", p.x.cfg.Cluster, err)
	}
	if used >= p.disk {
		return protocol.NewError(protocol.GenericInsufficientResources, "Intermediate results on cluster %s use %s of the %s reserved for them (SLUICE_INTERMEDIATE_DISK)",
			p.x.cfg.Cluster, protocol.FormatDataSize(used), protocol.FormatDataSize(p.disk))
	}
	return nil
}

// upload copies a fragment's output to the object store, for executors on other disks.
func (p *planExecutor) upload(ctx context.Context, query, fragment, path string) (string, error) {
	name := query + "/" + fragment + ".parquet"
	f, err := os.Open(path)
	if err != nil {
		return name, err
	}
	defer f.Close()
	_, err = p.objects.Put(ctx, jetstream.ObjectMeta{Name: name}, f)
	return name, err
}

// runRoot runs the root fragment: the client is handed to this cluster, as for SQL.
func (p *planExecutor) runRoot(ctx context.Context, msg settler, frag events.Fragment, runner *fragexec.Runner, f fragexec.Fragment) {
	x := p.x
	id := frag.Query.ID
	if prev, dup := x.store.Get(id); dup {
		if done, qe, rows := prev.Outcome(); done {
			settle(msg, x.publishEnd(ctx, terminalSubject(qe), id, qe, rows, 0, 0))
		}
		return
	}
	qctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	q := results.NewQuery(id, frag.Query.Protocol, x.cfg.ResultBufferBytes, cancel)
	if !x.store.Add(q) {
		return
	}
	defer p.track(id, &cancel)()
	defer x.acquireSlot(qctx)()
	mine, err := x.claims.Start(ctx, id, x.cfg.Cluster, frag.Attempt)
	if err != nil || !mine {
		x.store.Remove(id)
		if err != nil {
			_ = msg.NakWithDelay(200 * time.Millisecond)
		} else {
			_ = msg.Ack()
		}
		return
	}
	q.Start()
	if _, err := x.pub.Publish(ctx, events.SubjectStarted, fmt.Sprintf("%s:started:%d.%d", id, frag.Attempt, frag.Dispatch), id, events.TypeQueryStarted,
		events.QueryStarted{QueryID: id, Cluster: x.cfg.Cluster, Attempt: frag.Attempt, NextURI: q.ExecutingURI(x.base, 0), StartedAt: time.Now().UTC()}); err != nil {
		x.log.Warn("publish started failed", "query", id, "err", err)
	}
	began := time.Now()
	_, err = runner.Run(qctx, f, func(rows *sql.Rows) error { return engine.StreamRows(qctx, rows, q) })
	var qe *protocol.QueryError
	if err != nil {
		qe, _, _ = p.classify(qctx, err, frag)
	}
	q.Finish(qe)
	_, qe, rows := q.Outcome()
	if qe == nil {
		p.reportRootDone(ctx, frag, began, rows)
	}
	settle(msg, x.publishEnd(ctx, terminalSubject(qe), id, qe, rows, time.Since(began), 0))
}

// reportRootDone reports a finished root's outcome alongside its query's end, without
// waiting for it: the outcome frees the root's place in the scheduler's window and charges
// its executor time at once, while the query's end, on the durable QUERIES log, may queue
// behind other queries' events (each is stored with an fsync). The query's end stays the
// authority: a lost outcome only leaves the place to be freed by it.
func (p *planExecutor) reportRootDone(ctx context.Context, frag events.Fragment, began time.Time, rows int64) {
	ev := events.FragmentDone{FragmentRun: p.runOf(frag), Output: events.FragmentOutput{Fragment: frag.FragmentID, Cluster: p.x.cfg.Cluster, Rows: rows},
		ReleasedAt: frag.ReleasedAt, StartedAt: began.UTC(), EndedAt: time.Now().UTC()}
	go func() {
		if err := p.outcomes.Done(context.WithoutCancel(ctx), ev); err != nil {
			p.x.log.Debug("root outcome not stored; the query's end frees its place", "query", frag.Query.ID, "err", err)
		}
	}()
}

// inputs maps each child's ID to a readable Parquet file: the path it was written to when
// this executor can read it, else a local copy of its object-store copy. missing lists
// the children whose outputs are gone.
func (p *planExecutor) inputs(ctx context.Context, frag events.Fragment) (map[string]string, []string) {
	in := map[string]string{}
	var missing []string
	for _, o := range frag.Inputs {
		if _, err := os.Stat(o.Path); err == nil {
			in[o.Fragment] = o.Path
			continue
		}
		if o.Object != "" && p.objects != nil {
			local, err := p.store.Path(frag.Query.ID, "in_"+o.Fragment)
			if err == nil {
				err = os.MkdirAll(filepath.Dir(local), 0o755)
			}
			if err == nil {
				err = p.objects.GetFile(ctx, o.Object, local)
			}
			if err == nil {
				in[o.Fragment] = local
				continue
			}
		}
		missing = append(missing, o.Fragment)
	}
	return in, missing
}

// classify turns a run's error into the protocol error passed to the client, whether
// running the fragment again may succeed, and which inputs were lost.
func (p *planExecutor) classify(ctx context.Context, err error, frag events.Fragment) (*protocol.QueryError, bool, []string) {
	if cause := context.Cause(ctx); cause != nil {
		var qe *protocol.QueryError
		if errors.As(cause, &qe) {
			return qe, false, nil
		}
	}
	var qe *protocol.QueryError
	if errors.As(err, &qe) {
		return qe, false, nil
	}
	switch {
	case errors.Is(err, fragexec.ErrInput):
		var lost []string
		for _, o := range frag.Inputs {
			if _, serr := os.Stat(o.Path); serr != nil {
				lost = append(lost, o.Fragment)
			}
		}
		return protocol.NewError(protocol.GenericInternalError, "%v", err), true, lost
	case errors.Is(err, fragexec.ErrPlan):
		return protocol.NewError(protocol.NotSupported, "fragment %s: %v", frag.FragmentID, err), false, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return protocol.NewError(protocol.GenericInternalError, "%v", err), true, nil
	}
	return trinowire.ErrorFromDuckDB(errors.Unwrap(err), ""), false, nil
}

func (p *planExecutor) publishFailed(ctx context.Context, frag events.Fragment, started time.Time, qe *protocol.QueryError, retriable bool, lost []string) bool {
	ev := events.FragmentFailed{FragmentRun: p.runOf(frag),
		Error:     events.ErrorInfoOf(qe),
		Retriable: retriable, MissingInputs: lost, StartedAt: started.UTC(), EndedAt: time.Now().UTC()}
	if frag.Root && !retriable {
		// The root's failure ends the query (the scheduler would end it the same way).
		return p.x.publishEnd(ctx, events.SubjectFailed, frag.Query.ID, qe, 0, 0, 0)
	}
	return p.report(ctx, frag, func() error { return p.outcomes.Failed(ctx, ev) })
}

// runOf identifies this cluster's run of a released fragment in its outcome events.
func (p *planExecutor) runOf(frag events.Fragment) events.FragmentRun {
	return events.FragmentRun{QueryID: frag.Query.ID, FragmentID: frag.FragmentID, Cluster: p.x.cfg.Cluster, Attempt: frag.Attempt, Dispatch: frag.Dispatch}
}

// report stores an outcome through the group-commit reporter, retrying like every
// outcome the proxy publishes; false when it could not be stored (the fragment is then
// redelivered).
func (p *planExecutor) report(ctx context.Context, frag events.Fragment, store func() error) bool {
	return p.x.storeRetrying(ctx, store, "query", frag.Query.ID, "fragment", frag.FragmentID)
}

func asQueryError(err error) *protocol.QueryError {
	var qe *protocol.QueryError
	if errors.As(err, &qe) {
		return qe
	}
	return protocol.NewError(protocol.GenericInternalError, "%v", err)
}
