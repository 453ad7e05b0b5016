package workqueue

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrFull: the queue holds MaxQueued fragments.
var ErrFull = errors.New("workqueue: full")

// ErrDuplicate: the fragment is already queued.
var ErrDuplicate = errors.New("workqueue: fragment already queued")

// Policy is the order of a queue.
type Policy string

// Policies. The baselines exist to measure the default against.
const (
	// PolicyDecay is the default: levels of attained service with shares, then declared
	// priority, remaining cost and aging (see the package doc).
	PolicyDecay Policy = "decay"
	// PolicyFIFO runs fragments in the order their queries arrived (Fragment.Arrival),
	// ignoring priority, cost and attained service.
	PolicyFIFO Policy = "fifo"
	// PolicyFair gives every query an equal share of executor time: the fragment of the
	// query with the least attained service goes first (ties: the earlier enqueued).
	PolicyFair Policy = "fair"
)

// Config tunes the order. The zero value of a field takes its default.
type Config struct {
	// Policy selects the order (default PolicyDecay).
	Policy Policy
	// Levels are the attained-service thresholds of the levels, ascending, starting at 0
	// (default 0, 1s, 10s, 60s, 300s: Trino's).
	Levels []time.Duration
	// LevelMultiplier is how many times more executor time a level gets than the next
	// (default 2).
	LevelMultiplier float64
	// AgingStep is the wait one unit of declared priority is worth (default 1s).
	AgingStep time.Duration
	// CostWeight is the handicap of each doubling of a query's remaining cost estimate
	// (default 100ms).
	CostWeight time.Duration
	// LocalityWait bounds how long a fragment waits for an executor of its region
	// (default 50ms).
	LocalityWait time.Duration
	// MaxQueued bounds the fragments queued (0: unbounded).
	MaxQueued int
}

func (c Config) withDefaults() Config {
	if c.Policy == "" {
		c.Policy = PolicyDecay
	}
	if c.Policy != PolicyDecay {
		c.Levels = []time.Duration{0} // the baselines have no levels
	}
	if len(c.Levels) == 0 {
		c.Levels = []time.Duration{0, time.Second, 10 * time.Second, time.Minute, 5 * time.Minute}
	}
	if c.LevelMultiplier <= 1 {
		c.LevelMultiplier = 2
	}
	if c.AgingStep <= 0 {
		c.AgingStep = time.Second
	}
	if c.CostWeight < 0 {
		c.CostWeight = 0
	} else if c.CostWeight == 0 {
		c.CostWeight = 100 * time.Millisecond
	}
	if c.LocalityWait <= 0 {
		c.LocalityWait = 50 * time.Millisecond
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	for i, l := range c.Levels {
		if (i == 0 && l != 0) || (i > 0 && l <= c.Levels[i-1]) {
			return fmt.Errorf("workqueue: levels %v must start at 0 and ascend", c.Levels)
		}
	}
	switch c.Policy {
	case "", PolicyDecay, PolicyFIFO, PolicyFair:
	default:
		return fmt.Errorf("workqueue: unknown policy %q (want decay, fifo or fair)", c.Policy)
	}
	if c.MaxQueued < 0 {
		return fmt.Errorf("workqueue: MaxQueued %d < 0", c.MaxQueued)
	}
	return nil
}

// Fragment is a ready fragment waiting for an executor.
type Fragment struct {
	Query string
	ID    string
	// Priority is the query's declared priority; higher runs sooner.
	Priority int
	// RemainingCost is the estimated executor time the query still needs (0: unknown).
	RemainingCost time.Duration
	// Size is the executor time the query declared it needs in all (0: not declared).
	// Under PolicyDecay a query that declares its size starts in the level of that size
	// and sinks further only by attained service beyond it (see the package doc).
	Size time.Duration
	// Region is where the fragment's inputs are ("": anywhere).
	Region string
	// Arrival is when the query arrived (PolicyFIFO and the decay key order by it; zero:
	// the enqueue time).
	Arrival time.Time
	// Pinned fragments run only on this queue's cluster (Steal passes over them).
	Pinned bool
	// Payload is carried for the caller.
	Payload any
}

// entry is a queued fragment.
type entry struct {
	Fragment
	enqueued time.Time
	key      int64 // see the package doc; nanoseconds
	tie      int64 // breaks equal keys (the baselines' enqueue time)
	level    int
	index    int // in its heap
	q        *query
}

// query is the attained service of a query with queued or running fragments.
type query struct {
	attained time.Duration
	size     time.Duration // declared (0: none)
	level    int
	queued   map[string]*entry
}

// position is where a query stands on the attained-service axis of the levels: its
// attained service, or its declared size while it has attained less.
func (qs *query) position() time.Duration { return max(qs.attained, qs.size) }

// Queue is one cluster's work queue. It is not safe for concurrent use.
type Queue struct {
	cfg     Config
	levels  []*level
	queries map[string]*query
	n       int
}

// level holds the fragments of the queries in one attained-service band, by region.
type level struct {
	share     float64
	scheduled float64 // executor time charged to the level, in seconds
	byRegion  map[string]*entryHeap
	n         int
}

// New returns an empty queue.
func New(cfg Config) (*Queue, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, queries: map[string]*query{}}
	share := 1.0
	for range cfg.Levels {
		q.levels = append(q.levels, &level{share: share, byRegion: map[string]*entryHeap{}})
		share /= cfg.LevelMultiplier
	}
	return q, nil
}

// Len is the number of queued fragments.
func (q *Queue) Len() int { return q.n }

// Config returns the configuration in force (defaults applied).
func (q *Queue) Config() Config { return q.cfg }

// Push queues a ready fragment at now.
func (q *Queue) Push(f Fragment, now time.Time) error {
	if q.cfg.MaxQueued > 0 && q.n >= q.cfg.MaxQueued {
		return ErrFull
	}
	qs := q.queries[f.Query]
	if qs == nil {
		qs = &query{queued: map[string]*entry{}}
		q.queries[f.Query] = qs
	}
	if _, dup := qs.queued[f.ID]; dup {
		return ErrDuplicate
	}
	if f.Size != qs.size && q.cfg.Policy == PolicyDecay {
		qs.size = f.Size
		q.relevel(qs)
	}
	e := &entry{Fragment: f, enqueued: now, q: qs}
	e.key = q.key(e)
	qs.queued[f.ID] = e
	q.insert(e, qs.level)
	return nil
}

// key is the order key of an entry within its level; tie breaks equal keys.
func (q *Queue) key(e *entry) int64 {
	switch q.cfg.Policy {
	case PolicyFIFO:
		e.tie = e.enqueued.UnixNano()
		if !e.Arrival.IsZero() {
			return e.Arrival.UnixNano()
		}
		return e.enqueued.UnixNano()
	case PolicyFair:
		e.tie = e.enqueued.UnixNano()
		return int64(e.q.attained)
	}
	// A query's fragments share its age: its next stage does not go behind every
	// fragment queued meanwhile.
	since := e.enqueued
	if !e.Arrival.IsZero() {
		since = e.Arrival
	}
	k := since.UnixNano() - int64(e.Priority)*int64(q.cfg.AgingStep)
	if e.RemainingCost > 0 {
		k += int64(float64(q.cfg.CostWeight) * math.Log2(1+float64(e.RemainingCost.Milliseconds())))
	}
	return k
}

func (q *Queue) insert(e *entry, lv int) {
	l := q.levels[lv]
	if l.n == 0 {
		q.catchUp(lv)
	}
	h := l.byRegion[e.Region]
	if h == nil {
		h = &entryHeap{}
		l.byRegion[e.Region] = h
	}
	e.level = lv
	heap.Push(h, e)
	l.n++
	q.n++
}

func (q *Queue) remove(e *entry) {
	l := q.levels[e.level]
	h := l.byRegion[e.Region]
	heap.Remove(h, e.index)
	if h.Len() == 0 {
		delete(l.byRegion, e.Region)
	}
	l.n--
	q.n--
}

// catchUp puts a level that becomes non-empty level with the least-served non-empty level:
// the time it was idle does not turn into a burst, and its older history is no penalty.
// Ties go to the lower level, so a new short query runs at the next fragment boundary.
func (q *Queue) catchUp(lv int) {
	l := q.levels[lv]
	lowest := math.Inf(1)
	for i, o := range q.levels {
		if i != lv && o.n > 0 {
			lowest = min(lowest, o.scheduled/o.share)
		}
	}
	if !math.IsInf(lowest, 1) {
		l.scheduled = lowest * l.share
	}
}

// Pop takes the fragment an executor of region should run next at now. When none is
// available to it, ok is false and retry is how long until a fragment held for another
// region becomes available (0: none is waiting).
func (q *Queue) Pop(region string, now time.Time) (f Fragment, ok bool, retry time.Duration) {
	order := q.levelOrder()
	for _, lv := range order {
		e, wait := q.best(q.levels[lv], region, now)
		if e == nil {
			if wait > 0 && (retry == 0 || wait < retry) {
				retry = wait
			}
			continue
		}
		q.remove(e)
		delete(e.q.queued, e.ID)
		return e.Fragment, true, 0
	}
	return Fragment{}, false, retry
}

// levelOrder lists the non-empty levels, the furthest below its share first.
func (q *Queue) levelOrder() []int {
	var out []int
	for i, l := range q.levels {
		if l.n > 0 {
			out = append(out, i)
		}
	}
	for i := 1; i < len(out); i++ { // a handful of levels: insertion sort
		for j := i; j > 0 && q.levelBefore(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (q *Queue) levelBefore(a, b int) bool {
	la, lb := q.levels[a], q.levels[b]
	va, vb := la.scheduled/la.share, lb.scheduled/lb.share
	if va != vb {
		return va < vb
	}
	return a < b
}

// best is the first fragment of l an executor of region may take at now: the lowest key
// among fragments of its region, of no region, and of other regions that waited at least
// LocalityWait. wait is how long until the next held fragment becomes available.
func (q *Queue) best(l *level, region string, now time.Time) (*entry, time.Duration) {
	var best *entry
	var wait time.Duration
	for r, h := range l.byRegion {
		top := (*h)[0]
		if r != "" && r != region && now.Sub(top.enqueued) < q.cfg.LocalityWait {
			// Held for its region; the heap orders by key, not age, so an older fragment
			// of that region may already be free to take.
			e, w := oldestAvailable(h, now, q.cfg.LocalityWait)
			if e == nil {
				if wait == 0 || w < wait {
					wait = w
				}
				continue
			}
			top = e
		}
		if best == nil || top.key < best.key || (top.key == best.key && top.ID < best.ID) {
			best = top
		}
	}
	return best, wait
}

// oldestAvailable finds, in a heap of another region, the lowest-key fragment that waited
// at least after; else how long until the first one will have.
func oldestAvailable(h *entryHeap, now time.Time, after time.Duration) (*entry, time.Duration) {
	var best *entry
	wait := time.Duration(math.MaxInt64)
	for _, e := range *h {
		held := after - now.Sub(e.enqueued)
		if held <= 0 {
			if best == nil || e.key < best.key {
				best = e
			}
		} else if held < wait {
			wait = held
		}
	}
	if best != nil {
		return best, 0
	}
	return nil, wait
}

// Steal takes the fragment an idle executor of another cluster, in region, should run
// next at now, in the same order as Pop: pinned fragments stay; a fragment of the same
// region (or of none) is available at once, one of another region only after it waited
// LocalityWait (delay scheduling). It scans the queue: callers steal when idle, not per
// fragment.
func (q *Queue) Steal(region string, now time.Time) (Fragment, bool) {
	for _, lv := range q.levelOrder() {
		var best *entry
		for r, h := range q.levels[lv].byRegion {
			for _, e := range *h {
				if e.Pinned || (r != "" && r != region && now.Sub(e.enqueued) < q.cfg.LocalityWait) {
					continue
				}
				if best == nil || before(e, best) {
					best = e
				}
			}
		}
		if best != nil {
			q.remove(best)
			delete(best.q.queued, best.ID)
			return best.Fragment, true
		}
	}
	return Fragment{}, false
}

// Charge records executor time a query's fragment used: the query's attained service
// grows (its queued fragments may sink a level) and the level it ran in is charged.
func (q *Queue) Charge(queryID string, d time.Duration) {
	if d <= 0 {
		return
	}
	qs := q.queries[queryID]
	if qs == nil {
		qs = &query{queued: map[string]*entry{}}
		q.queries[queryID] = qs
	}
	q.chargeLevels(qs.position(), d)
	qs.attained += d
	if q.cfg.Policy == PolicyFair {
		for _, e := range qs.queued { // the key is the attained service
			q.remove(e)
			e.key = q.key(e)
			q.insert(e, e.level)
		}
	}
	q.relevel(qs)
}

// relevel moves a query's queued fragments to the level of its position.
func (q *Queue) relevel(qs *query) {
	lv := q.levelOf(qs.position())
	if lv == qs.level {
		return
	}
	qs.level = lv
	for _, e := range qs.queued {
		q.remove(e)
		q.insert(e, lv)
	}
}

// chargeLevels adds d of executor time, used by a query at position attained (see
// query.position), to the levels' scheduled time. A fragment that carried its query
// across level thresholds is charged to each level up to that level's width, the rest to
// the level it reached (as Trino's MultilevelSplitQueue does for a long quantum): a long
// fragment finishing does not make the low levels look over-served.
func (q *Queue) chargeLevels(attained, d time.Duration) {
	lv := q.levelOf(attained)
	for ; lv+1 < len(q.cfg.Levels) && d > 0; lv++ {
		room := q.cfg.Levels[lv+1] - attained
		if room <= 0 {
			continue
		}
		if d <= room {
			break
		}
		q.levels[lv].scheduled += room.Seconds()
		d -= room
		attained += room
	}
	q.levels[lv].scheduled += d.Seconds()
}

func (q *Queue) levelOf(attained time.Duration) int {
	lv := 0
	for i, t := range q.cfg.Levels {
		if attained >= t {
			lv = i
		}
	}
	return lv
}

// Attained returns a query's attained executor time and level.
func (q *Queue) Attained(queryID string) (time.Duration, int) {
	if qs := q.queries[queryID]; qs != nil {
		return qs.attained, qs.level
	}
	return 0, 0
}

// RemoveFragment drops one queued fragment; false when it is not queued.
func (q *Queue) RemoveFragment(queryID, id string) bool {
	qs := q.queries[queryID]
	if qs == nil {
		return false
	}
	e, ok := qs.queued[id]
	if !ok {
		return false
	}
	q.remove(e)
	delete(qs.queued, id)
	return true
}

// RemoveQuery drops a query's queued fragments and its accounting (it ended or was
// canceled) and returns the fragments dropped.
func (q *Queue) RemoveQuery(queryID string) []Fragment {
	qs := q.queries[queryID]
	if qs == nil {
		return nil
	}
	out := make([]Fragment, 0, len(qs.queued))
	for _, e := range qs.queued {
		q.remove(e)
		out = append(out, e.Fragment)
	}
	delete(q.queries, queryID)
	return out
}

// entryHeap orders entries by key, then fragment ID.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return before(h[i], h[j]) }

// before orders entries of one level: key, then tie, then ID.
func before(a, b *entry) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	if a.tie != b.tie {
		return a.tie < b.tie
	}
	return a.ID < b.ID
}
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
