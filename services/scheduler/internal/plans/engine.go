// Package plans is the fragment scheduler's state machine for plan queries: the fragment
// DAG of every placed plan, which fragments are waiting for their children, queued in their
// cluster's work queue, released to the cluster's executors, or done, and what to do next.
//
// It performs no I/O and reads the time only through the now arguments, so its decisions
// (order, decay, aging, prefetch bounds, retries, cancel, timeouts) are tested
// deterministically. The service feeds it the events it folds from the log (placed plans,
// fragment outcomes, terminal events, cancel requests) and heartbeats, and carries out the
// Actions it returns: publish the released fragments, end failed queries.
package plans

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/fragment"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/services/scheduler/internal/workqueue"
)

// Config tunes the engine. The zero value of a field takes its default.
type Config struct {
	// Queue configures every cluster's work queue (levels, decay, aging, locality).
	Queue workqueue.Config
	// Prefetch is how many fragments per executor slot are released ahead of the slots
	// freeing (default 1): the bound on priority inversion at the executors.
	Prefetch int
	// MaxDispatches is how often one fragment may be released before its query fails
	// (default 3): retriable failures and lost inputs rerun a fragment.
	MaxDispatches int
	// QueryTimeout fails a plan query still running this long after it was placed
	// (0: no limit).
	QueryTimeout time.Duration
	// WorkPerSecond converts the cost model's work units into executor time for the
	// queue's remaining-cost estimate (default 2e7 row operations per second).
	WorkPerSecond float64
	// Steal lets a cluster with free slots take ready fragments queued on other clusters
	// (see StealMode; default StealOff).
	Steal StealMode
}

// StealMode says which fragments a cluster with free slots may take from the queues of
// other clusters. A query's root always runs on its own cluster (the client is handed
// to it); a stolen fragment's output must be readable by its parent's executor.
type StealMode string

const (
	// StealOff: every fragment runs on its query's cluster.
	StealOff StealMode = "off"
	// StealLeaves: fragments without inputs (table scans, partitions) may move; they
	// read base tables, which every cluster of plan queries serves.
	StealLeaves StealMode = "leaves"
	// StealAll: any fragment but the root may move. Only for clusters whose intermediate
	// results are readable by each other (a shared disk, or the object store).
	StealAll StealMode = "all"
)

// ParseStealMode checks a StealMode ("" is StealOff).
func ParseStealMode(v string) (StealMode, error) {
	switch m := StealMode(v); m {
	case "":
		return StealOff, nil
	case StealOff, StealLeaves, StealAll:
		return m, nil
	}
	return "", fmt.Errorf("plans: steal mode %q: want off, leaves or all", v)
}

func (c Config) withDefaults() Config {
	if c.Prefetch <= 0 {
		c.Prefetch = 1
	}
	if c.MaxDispatches <= 0 {
		c.MaxDispatches = 3
	}
	if c.WorkPerSecond <= 0 {
		c.WorkPerSecond = 2e7
	}
	if c.Steal == "" {
		c.Steal = StealOff
	}
	return c
}

// ErrDuplicate: the query is already known.
var ErrDuplicate = errors.New("plans: query already scheduled")

// Query is a placed plan query, cut into its DAG.
type Query struct {
	ID       string
	Cluster  string
	Attempt  int
	Priority int
	// CostEstimate is the declared executor time in seconds (0: from the cost model).
	CostEstimate float64
	DAG          *fragment.DAG
	// Plans holds each fragment's Substrait plan, binary protobuf, encoded ahead (off the
	// scheduler's loop); a fragment missing here is encoded when it is released.
	Plans map[string][]byte
	// PlacedAt starts the query's timeout.
	PlacedAt time.Time
	// Arrival is when the query was submitted (the FIFO baseline orders by it).
	Arrival time.Time
}

// Release is a fragment to publish to its cluster's executors.
type Release struct {
	// Cluster runs the fragment; Home is its query's cluster (whose claim allows it),
	// another one when Cluster stole it.
	Cluster string
	Home    string
	// Region is where the fragment's inputs are (the hint it was queued with).
	Region   string
	Query    string
	Fragment string
	Attempt  int
	Dispatch int
	Root     bool
	// Plan is the fragment's Substrait plan, binary protobuf.
	Plan       []byte
	Inputs     []events.FragmentOutput
	ReleasedAt time.Time
}

// End is a query the scheduler ends: Subject is events.SubjectFailed or
// events.SubjectCanceled.
type End struct {
	Query   string
	Cluster string
	Subject string
	Error   *events.QueryErrorInfo
}

// Actions are what the caller must do after an input.
type Actions struct {
	Releases []Release
	Ends     []End
}

// Merge appends b's actions to a's.
func (a *Actions) Merge(b Actions) {
	a.Releases = append(a.Releases, b.Releases...)
	a.Ends = append(a.Ends, b.Ends...)
}

// fragState is where a fragment is.
type fragState int

const (
	waiting  fragState = iota // some child has not finished
	queued                    // in its cluster's work queue
	released                  // published to the cluster; not finished
	done                      // its output is stored
)

type frag struct {
	f        *fragment.Fragment
	root     bool
	state    fragState
	pending  int // children not done
	parents  []*frag
	children []*frag
	dispatch int // releases so far
	reissued int // releases of them that replaced a copy lost with the soft state
	cluster  string
	// releasedAt is when the current release was made.
	releasedAt time.Time
	output     events.FragmentOutput
	work       float64
}

type query struct {
	Query
	frags     map[string]*frag
	remaining float64 // work of fragments not done
	ending    bool    // an End was returned; waiting for the terminal event
}

type cluster struct {
	name     string
	region   string
	slots    int
	q        *workqueue.Queue
	inflight map[string]string // "<query>/<fragment>" → query, released and not finished
}

// Engine schedules the fragments of plan queries over clusters. It is not safe for
// concurrent use.
type Engine struct {
	cfg      Config
	queries  map[string]*query
	clusters map[string]*cluster
}

// New returns an engine without queries or clusters.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if _, err := workqueue.New(cfg.Queue); err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, queries: map[string]*query{}, clusters: map[string]*cluster{}}, nil
}

// Has reports whether the engine schedules query id.
func (e *Engine) Has(id string) bool { _, ok := e.queries[id]; return ok }

// Attempt returns the placement attempt the engine runs query id under.
func (e *Engine) Attempt(id string) (int, bool) {
	q, ok := e.queries[id]
	if !ok {
		return 0, false
	}
	return q.Attempt, true
}

func (e *Engine) cluster(name string) *cluster {
	c, ok := e.clusters[name]
	if !ok {
		wq, _ := workqueue.New(e.cfg.Queue) // validated by New
		c = &cluster{name: name, q: wq, inflight: map[string]string{}}
		e.clusters[name] = c
	}
	return c
}

// SetCluster records a cluster's executor slots and region from its heartbeat (slots 0:
// it takes no fragments now) and releases what now fits.
func (e *Engine) SetCluster(name string, slots int, region string, now time.Time) Actions {
	c := e.cluster(name)
	was := c.slots
	c.slots, c.region = max(slots, 0), region
	var a Actions
	if c.slots == 0 && was > 0 {
		e.reclaim(c, now)
		a.Merge(e.pumpAll(now))
	}
	a.Merge(e.pump(c, now))
	return a
}

// reclaim queues again, on their home clusters, the fragments c took from other
// clusters and has not finished: c stopped taking fragments (its heartbeat is gone, or
// it drains), and unlike its own queries nobody moves those. A late outcome of the old
// release still counts.
func (e *Engine) reclaim(c *cluster, now time.Time) {
	for _, key := range slices.Sorted(maps.Keys(c.inflight)) {
		q := e.queries[c.inflight[key]]
		if q == nil || q.Cluster == c.name || q.ending {
			continue
		}
		fr := q.frags[strings.TrimPrefix(key, q.ID+"/")]
		if fr == nil || fr.state != released {
			continue
		}
		delete(c.inflight, key)
		e.enqueue(q, fr, now)
	}
}

// Add schedules a placed plan query: its leaf fragments are queued on its cluster.
func (e *Engine) Add(in Query, now time.Time) (Actions, error) {
	if _, ok := e.queries[in.ID]; ok {
		return Actions{}, ErrDuplicate
	}
	if in.DAG == nil || len(in.DAG.Fragments) == 0 {
		return Actions{}, fmt.Errorf("plans: query %s has no fragments", in.ID)
	}
	q := &query{Query: in, frags: map[string]*frag{}}
	root := in.DAG.Root()
	for _, f := range in.DAG.Fragments {
		fr := &frag{f: f, root: f == root, work: max(f.Cost.Work, 1)}
		for _, dep := range f.Deps {
			child := q.frags[dep] // dependencies come first
			if child == nil {
				return Actions{}, fmt.Errorf("plans: fragment %s depends on unknown %s", f.ID, dep)
			}
			fr.children = append(fr.children, child)
			child.parents = append(child.parents, fr)
		}
		fr.pending = len(fr.children)
		q.frags[f.ID] = fr
		q.remaining += fr.work
	}
	e.queries[in.ID] = q
	c := e.cluster(in.Cluster)
	for _, f := range in.DAG.Fragments {
		if fr := q.frags[f.ID]; fr.pending == 0 {
			e.enqueue(q, fr, now)
		}
	}
	return e.pump(c, now), nil
}

// remainingCost is the executor time the query still needs, for the queue's order.
func (e *Engine) remainingCost(q *query) time.Duration {
	secs := q.remaining / e.cfg.WorkPerSecond
	if q.CostEstimate > 0 {
		var total float64
		for _, fr := range q.frags {
			total += fr.work
		}
		secs = q.CostEstimate * q.remaining / total
	}
	return seconds(secs)
}

// seconds converts seconds to a duration, saturating at the largest one (a declared
// estimate is any finite number).
func seconds(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}

func (e *Engine) enqueue(q *query, fr *frag, now time.Time) {
	c := e.cluster(q.Cluster)
	fr.state, fr.cluster = queued, c.name
	pinned := fr.root || e.cfg.Steal == StealOff || (e.cfg.Steal == StealLeaves && len(fr.children) > 0)
	_ = c.q.Push(workqueue.Fragment{Query: q.ID, ID: fr.f.ID, Priority: q.Priority, RemainingCost: e.remainingCost(q),
		Size:   seconds(q.CostEstimate),
		Region: e.regionHint(q, fr), Arrival: q.Arrival, Pinned: pinned}, now)
}

// regionHint is where a fragment's inputs are: the region of the cluster holding its
// largest child output, or, for a fragment reading base tables, its query's cluster's.
func (e *Engine) regionHint(q *query, fr *frag) string {
	home := e.cluster(q.Cluster).region
	var biggest *frag
	for _, ch := range fr.children {
		if biggest == nil || ch.output.Bytes > biggest.output.Bytes {
			biggest = ch
		}
	}
	if biggest == nil {
		return home
	}
	if c, ok := e.clusters[biggest.output.Cluster]; ok {
		return c.region
	}
	return home
}

// steal lets every cluster whose window has room after its own queue take unpinned
// fragments from the other clusters' queues (workqueue.Queue.Steal: the fragment's
// region at once, others after the locality wait).
func (e *Engine) steal(now time.Time) Actions {
	var a Actions
	if e.cfg.Steal == StealOff {
		return a
	}
	names := slices.Sorted(maps.Keys(e.clusters))
	for _, n := range names {
		c := e.clusters[n]
		for len(c.inflight) < c.slots*e.cfg.Prefetch {
			took := false
			for _, on := range names {
				o := e.clusters[on]
				if o == c || o.q.Len() == 0 {
					continue
				}
				wf, ok := o.q.Steal(c.region, now)
				if !ok {
					continue
				}
				q := e.queries[wf.Query]
				r, err := e.release(q, q.frags[wf.ID], c, now)
				if err != nil {
					a.Merge(e.fail(q, protocol.NewError(protocol.GenericInternalError, "%v", err)))
					continue
				}
				a.Releases = append(a.Releases, r)
				took = true
				break
			}
			if !took {
				break
			}
		}
	}
	return a
}

// pump releases fragments of c while its window (slots × prefetch) has room.
func (e *Engine) pump(c *cluster, now time.Time) Actions {
	var a Actions
	for len(c.inflight) < c.slots*e.cfg.Prefetch {
		wf, ok, _ := c.q.Pop(c.region, now)
		if !ok {
			break
		}
		q := e.queries[wf.Query]
		fr := q.frags[wf.ID]
		r, err := e.release(q, fr, c, now)
		if err != nil {
			a.Merge(e.fail(q, protocol.NewError(protocol.GenericInternalError, "%v", err)))
			continue
		}
		a.Releases = append(a.Releases, r)
	}
	return a
}

func (e *Engine) release(q *query, fr *frag, c *cluster, now time.Time) (Release, error) {
	b, err := q.plan(fr.f.ID)
	if err != nil {
		return Release{}, err
	}
	fr.state, fr.cluster, fr.releasedAt = released, c.name, now
	fr.dispatch++
	c.inflight[q.ID+"/"+fr.f.ID] = q.ID
	return e.releaseOf(q, fr, b), nil
}

// plan returns fragment id's Substrait plan, binary protobuf.
func (q *query) plan(id string) ([]byte, error) {
	if b, ok := q.Plans[id]; ok {
		return b, nil
	}
	return EncodePlan(q.DAG, id)
}

// EncodePlan encodes fragment id of dag as a Substrait plan, binary protobuf.
func EncodePlan(dag *fragment.DAG, id string) ([]byte, error) {
	b, err := dag.MarshalPlan(id)
	if err != nil {
		return nil, fmt.Errorf("plans: encode fragment %s: %w", id, err)
	}
	return b, nil
}

// releaseOf describes the current release of fr, whose plan is plan.
func (e *Engine) releaseOf(q *query, fr *frag, plan []byte) Release {
	r := Release{Cluster: fr.cluster, Home: q.Cluster, Region: e.regionHint(q, fr), Query: q.ID, Fragment: fr.f.ID, Attempt: q.Attempt,
		Dispatch: fr.dispatch, Root: fr.root, Plan: plan, ReleasedAt: fr.releasedAt}
	for _, ch := range fr.children {
		r.Inputs = append(r.Inputs, ch.output)
	}
	return r
}

// Reissue releases again a fragment that is released and not finished, under a new
// dispatch number: its copy was consumed but its outcome was lost with the soft state
// (every NATS server of the fragment streams restarted, or the outcome aged out). A
// reissue does not count against MaxDispatches; an outcome of the old release still
// counts (see Done). ok is false when the fragment is not in flight.
func (e *Engine) Reissue(queryID, fragmentID string, now time.Time) (r Release, ok bool, err error) {
	q, fr := e.lookup(queryID, fragmentID)
	if fr == nil || fr.state != released {
		return Release{}, false, nil
	}
	b, err := q.plan(fr.f.ID)
	if err != nil {
		return Release{}, false, err
	}
	fr.dispatch++
	fr.reissued++
	fr.releasedAt = now
	return e.releaseOf(q, fr, b), true, nil
}

// InFlight returns every fragment that is released and not finished, as it was released,
// by query and fragment ID. After a rebuild from the log, those whose copies are gone are
// reissued.
func (e *Engine) InFlight() ([]Release, error) {
	var out []Release
	for _, id := range e.sortedIDs() {
		q := e.queries[id]
		for _, fid := range slices.Sorted(maps.Keys(q.frags)) {
			fr := q.frags[fid]
			if fr.state != released {
				continue
			}
			b, err := q.plan(fid)
			if err != nil {
				return nil, err
			}
			out = append(out, e.releaseOf(q, fr, b))
		}
	}
	return out, nil
}

// finish takes a released fragment off its cluster's window and charges its executor
// time; false when the outcome is not for the fragment's current release.
func (e *Engine) finish(q *query, fr *frag, cluster string, dispatch int, busy time.Duration) bool {
	if fr.state != released || fr.cluster != cluster || fr.dispatch != dispatch {
		return false
	}
	c := e.cluster(cluster)
	delete(c.inflight, q.ID+"/"+fr.f.ID)
	c.q.Charge(q.ID, busy)
	return true
}

// Done records a finished fragment: its parents whose children are now all done are
// queued. An outcome of an earlier placement attempt still counts (its output is stored).
func (e *Engine) Done(ev events.FragmentDone, now time.Time) Actions {
	q, fr := e.lookup(ev.QueryID, ev.FragmentID)
	if fr == nil || fr.state == done {
		return Actions{}
	}
	if !e.finish(q, fr, ev.Cluster, ev.Dispatch, ev.EndedAt.Sub(ev.StartedAt)) {
		// An earlier release finished after the fragment was queued or released again
		// (a retry, a move): its output is as good, so the newer run is dropped.
		e.unschedule(q, fr)
	}
	var a Actions
	fr.state, fr.output = done, ev.Output
	q.remaining -= fr.work
	for _, p := range fr.parents {
		p.pending--
		if p.pending == 0 && p.state == waiting && !q.ending {
			e.enqueue(q, p, now)
		}
	}
	a.Merge(e.pumpAll(now))
	return a
}

// Failed records a failed fragment: a retriable failure reruns it (after rerunning the
// children whose outputs were missing), up to MaxDispatches; any other fails the query
// with the executor's error.
func (e *Engine) Failed(ev events.FragmentFailed, now time.Time) Actions {
	q, fr := e.lookup(ev.QueryID, ev.FragmentID)
	if fr == nil || ev.Attempt != q.Attempt || q.ending {
		return Actions{}
	}
	if !e.finish(q, fr, ev.Cluster, ev.Dispatch, ev.EndedAt.Sub(ev.StartedAt)) {
		return Actions{}
	}
	qe := protocolError(ev.Error)
	if !ev.Retriable {
		a := e.fail(q, qe)
		a.Merge(e.pumpAll(now))
		return a
	}
	if fr.dispatch-fr.reissued >= e.cfg.MaxDispatches {
		a := e.fail(q, protocol.NewError(protocol.GenericInternalError,
			"fragment %s failed %d times; last error: %s", fr.f.ID, fr.dispatch-fr.reissued, qe.Message))
		a.Merge(e.pumpAll(now))
		return a
	}
	fr.state = waiting
	for _, id := range ev.MissingInputs {
		if child := q.frags[id]; child != nil && slices.Contains(fr.children, child) {
			e.redo(q, child, now)
		}
	}
	if fr.pending == 0 {
		e.enqueue(q, fr, now)
	}
	return e.pumpAll(now)
}

// unschedule takes a queued or released fragment off its cluster.
func (e *Engine) unschedule(q *query, fr *frag) {
	switch fr.state {
	case queued:
		e.cluster(fr.cluster).q.RemoveFragment(q.ID, fr.f.ID)
	case released:
		delete(e.cluster(fr.cluster).inflight, q.ID+"/"+fr.f.ID)
	}
}

// redo marks a done child as lost: it runs again, and its parents wait for it.
func (e *Engine) redo(q *query, child *frag, now time.Time) {
	if child.state != done {
		return
	}
	q.remaining += child.work
	for _, p := range child.parents {
		p.pending++
		if p.state == queued {
			e.unschedule(q, p)
			p.state = waiting
		}
	}
	child.state, child.output = waiting, events.FragmentOutput{}
	if child.pending == 0 {
		e.enqueue(q, child, now)
	}
}

// Move reschedules a query placed again on another cluster (its cluster was lost or
// drained before the root started): fragments not done are queued there afresh; outputs
// already stored are reused (a lost one is rerun when its parent reports it missing).
func (e *Engine) Move(id, cluster string, attempt int, now time.Time) Actions {
	q, ok := e.queries[id]
	if !ok || attempt <= q.Attempt || q.ending {
		return Actions{}
	}
	for _, c := range e.clusters {
		c.q.RemoveQuery(id)
		for k, qid := range c.inflight {
			if qid == id {
				delete(c.inflight, k)
			}
		}
	}
	q.Cluster, q.Attempt = cluster, attempt
	for _, fr := range q.frags {
		if fr.state == queued || fr.state == released {
			fr.state = waiting
		}
	}
	for _, f := range q.DAG.Fragments {
		if fr := q.frags[f.ID]; fr.state == waiting && fr.pending == 0 {
			e.enqueue(q, fr, now)
		}
	}
	return e.pumpAll(now)
}

// Cancel ends a query its client canceled.
func (e *Engine) Cancel(id string, now time.Time) Actions {
	q, ok := e.queries[id]
	if !ok || q.ending {
		return Actions{}
	}
	a := e.fail(q, protocol.NewError(protocol.UserCanceled, "Query was canceled"))
	a.Merge(e.pumpAll(now))
	return a
}

// Ended forgets a query whose terminal event is stored, frees its window slots and
// returns the outputs of its fragments, to delete.
func (e *Engine) Ended(id string, now time.Time) ([]events.FragmentOutput, Actions) {
	q, ok := e.queries[id]
	if !ok {
		return nil, Actions{}
	}
	e.drop(q)
	delete(e.queries, id)
	var outs []events.FragmentOutput
	for _, f := range q.DAG.Fragments {
		if fr := q.frags[f.ID]; fr.state == done {
			outs = append(outs, fr.output)
		}
	}
	return outs, e.pumpAll(now)
}

// Tick fails queries past QueryTimeout, releases fragments whose locality wait ended and
// lets clusters with free slots steal (Config.Steal).
func (e *Engine) Tick(now time.Time) Actions {
	var a Actions
	if e.cfg.QueryTimeout > 0 {
		for _, id := range e.sortedIDs() {
			q := e.queries[id]
			if !q.ending && now.Sub(q.PlacedAt) >= e.cfg.QueryTimeout {
				a.Merge(e.fail(q, protocol.NewError(protocol.ExceededTimeLimit,
					"Query exceeded the maximum execution time limit of %s", e.cfg.QueryTimeout)))
			}
		}
	}
	a.Merge(e.pumpAll(now))
	a.Merge(e.steal(now))
	return a
}

// Load is what the engine holds now.
type Load struct {
	Queued   int // fragments in work queues
	Released int // fragments at executors
	Queries  int
}

// Load counts queued and released fragments.
func (e *Engine) Load() Load {
	l := Load{Queries: len(e.queries)}
	for _, c := range e.clusters {
		l.Queued += c.q.Len()
		l.Released += len(c.inflight)
	}
	return l
}

// Attained returns the executor time query id attained on its cluster and its level.
func (e *Engine) Attained(id string) (time.Duration, int) {
	q, ok := e.queries[id]
	if !ok {
		return 0, 0
	}
	return e.cluster(q.Cluster).q.Attained(id)
}

// fail ends q with qe: its queued fragments are dropped at once; released ones finish or
// are stopped by their executors when the terminal event arrives.
func (e *Engine) fail(q *query, qe *protocol.QueryError) Actions {
	if q.ending {
		return Actions{}
	}
	q.ending = true
	for _, c := range e.clusters {
		c.q.RemoveQuery(q.ID)
	}
	subject := events.SubjectFailed
	if qe.ErrorName == protocol.UserCanceled.Name {
		subject = events.SubjectCanceled
	}
	return Actions{Ends: []End{{Query: q.ID, Cluster: q.Cluster, Subject: subject, Error: events.ErrorInfoOf(qe)}}}
}

func (e *Engine) drop(q *query) {
	for _, c := range e.clusters {
		c.q.RemoveQuery(q.ID)
		for k, qid := range c.inflight {
			if qid == q.ID {
				delete(c.inflight, k)
			}
		}
	}
}

func (e *Engine) pumpAll(now time.Time) Actions {
	var a Actions
	names := make([]string, 0, len(e.clusters))
	for n := range e.clusters {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		a.Merge(e.pump(e.clusters[n], now))
	}
	return a
}

func (e *Engine) sortedIDs() []string {
	ids := make([]string, 0, len(e.queries))
	for id := range e.queries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (e *Engine) lookup(queryID, fragmentID string) (*query, *frag) {
	q, ok := e.queries[queryID]
	if !ok {
		return nil, nil
	}
	fr := q.frags[fragmentID]
	if fr == nil {
		return nil, nil
	}
	return q, fr
}

// protocolError turns an event's error back into the protocol's.
func protocolError(info *events.QueryErrorInfo) *protocol.QueryError {
	if info == nil {
		return protocol.NewError(protocol.GenericInternalError, "fragment failed without an error")
	}
	return &protocol.QueryError{Message: info.Message, ErrorCode: info.ErrorCode, ErrorName: info.ErrorName, ErrorType: info.ErrorType}
}
