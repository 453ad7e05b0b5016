package groups

import (
	"container/heap"
	"math"
	"math/rand/v2"
)

// The four queue kinds behind the scheduling policies. Each holds distinct elements and
// supports removal of any element, which cancels and the starvation guard need.
//
//   fifo         insertion order; re-adding a present element keeps its place (fair)
//   indexedPQ    highest priority first, then insertion order (query_priority, weighted_fair leaves)
//   lottery      a draw weighted by tickets (weighted)
//   weightedFair the sub-group furthest below its weighted share of running queries (weighted_fair)

// fifo is an insertion-ordered set.
type fifo[T comparable] struct {
	index      map[T]*fifoNode[T]
	head, tail *fifoNode[T]
}

type fifoNode[T comparable] struct {
	v          T
	prev, next *fifoNode[T]
}

func newFIFO[T comparable]() *fifo[T] { return &fifo[T]{index: map[T]*fifoNode[T]{}} }

func (q *fifo[T]) addOrUpdate(v T, _ int64) {
	if _, ok := q.index[v]; ok {
		return
	}
	n := &fifoNode[T]{v: v, prev: q.tail}
	if q.tail != nil {
		q.tail.next = n
	} else {
		q.head = n
	}
	q.tail = n
	q.index[v] = n
}

func (q *fifo[T]) remove(v T) bool {
	n, ok := q.index[v]
	if !ok {
		return false
	}
	delete(q.index, v)
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		q.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		q.tail = n.prev
	}
	return true
}

func (q *fifo[T]) peek() (T, bool) {
	if q.head == nil {
		var zero T
		return zero, false
	}
	return q.head.v, true
}

func (q *fifo[T]) poll() (T, bool) {
	v, ok := q.peek()
	if ok {
		q.remove(v)
	}
	return v, ok
}

func (q *fifo[T]) contains(v T) bool { _, ok := q.index[v]; return ok }
func (q *fifo[T]) len() int          { return len(q.index) }

func (q *fifo[T]) each(fn func(T) bool) {
	for n := q.head; n != nil; n = n.next {
		if !fn(n.v) {
			return
		}
	}
}

// indexedPQ orders by priority (highest first), then by generation (oldest first). Updating
// an element to a different priority re-inserts it with a new generation; to the same
// priority, it keeps its place.
type indexedPQ[T comparable] struct {
	h     pqHeap[T]
	index map[T]*pqEntry[T]
	gen   uint64
}

type pqEntry[T comparable] struct {
	v        T
	priority int64
	gen      uint64
	pos      int
}

type pqHeap[T comparable] []*pqEntry[T]

func (h pqHeap[T]) Len() int { return len(h) }
func (h pqHeap[T]) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority > h[j].priority
	}
	return h[i].gen < h[j].gen
}
func (h pqHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].pos = i; h[j].pos = j }
func (h *pqHeap[T]) Push(x any)   { e := x.(*pqEntry[T]); e.pos = len(*h); *h = append(*h, e) }
func (h *pqHeap[T]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

func newIndexedPQ[T comparable]() *indexedPQ[T] { return &indexedPQ[T]{index: map[T]*pqEntry[T]{}} }

func (q *indexedPQ[T]) addOrUpdate(v T, priority int64) {
	if e, ok := q.index[v]; ok {
		if e.priority == priority {
			return
		}
		heap.Remove(&q.h, e.pos)
	}
	e := &pqEntry[T]{v: v, priority: priority, gen: q.gen}
	q.gen++
	q.index[v] = e
	heap.Push(&q.h, e)
}

func (q *indexedPQ[T]) remove(v T) bool {
	e, ok := q.index[v]
	if !ok {
		return false
	}
	heap.Remove(&q.h, e.pos)
	delete(q.index, v)
	return true
}

func (q *indexedPQ[T]) peek() (T, bool) {
	if len(q.h) == 0 {
		var zero T
		return zero, false
	}
	return q.h[0].v, true
}

// peekPriority is the priority of the head (0 when empty).
func (q *indexedPQ[T]) peekPriority() int64 {
	if len(q.h) == 0 {
		return 0
	}
	return q.h[0].priority
}

func (q *indexedPQ[T]) poll() (T, bool) {
	if len(q.h) == 0 {
		var zero T
		return zero, false
	}
	e := heap.Pop(&q.h).(*pqEntry[T])
	delete(q.index, e.v)
	return e.v, true
}

func (q *indexedPQ[T]) contains(v T) bool { _, ok := q.index[v]; return ok }
func (q *indexedPQ[T]) len() int          { return len(q.index) }

// each visits in no particular order.
func (q *indexedPQ[T]) each(fn func(T) bool) {
	for _, e := range q.h {
		if !fn(e.v) {
			return
		}
	}
}

// lottery draws an element with probability proportional to its tickets, using a Fenwick
// tree over slots so that every operation is O(log n). Tickets are clamped to [1, 2^53].
type lottery[T comparable] struct {
	rng   *rand.Rand
	slots []T
	used  []bool
	tick  []int64 // tickets per slot
	tree  []int64 // Fenwick tree (1-based) of tickets
	index map[T]int
	free  []int
	total int64
}

const maxTickets = 1 << 53

func newLottery[T comparable](rng *rand.Rand) *lottery[T] {
	return &lottery[T]{rng: rng, index: map[T]int{}, tree: []int64{0}}
}

func clampTickets(t int64) int64 {
	if t < 1 {
		return 1
	}
	if t > maxTickets {
		return maxTickets
	}
	return t
}

func (q *lottery[T]) fenwickAdd(slot int, delta int64) {
	for i := slot + 1; i < len(q.tree); i += i & -i {
		q.tree[i] += delta
	}
	q.total += delta
}

func (q *lottery[T]) addOrUpdate(v T, tickets int64) {
	tickets = clampTickets(tickets)
	if slot, ok := q.index[v]; ok {
		q.fenwickAdd(slot, tickets-q.tick[slot])
		q.tick[slot] = tickets
		return
	}
	var slot int
	if n := len(q.free); n > 0 {
		slot, q.free = q.free[n-1], q.free[:n-1]
	} else {
		slot = len(q.slots)
		var zero T
		q.slots = append(q.slots, zero)
		q.used = append(q.used, false)
		q.tick = append(q.tick, 0)
		q.growTree()
	}
	q.slots[slot], q.used[slot], q.tick[slot] = v, true, tickets
	q.index[v] = slot
	q.fenwickAdd(slot, tickets)
}

// growTree extends the Fenwick tree by one slot, keeping it consistent.
func (q *lottery[T]) growTree() {
	i := len(q.tree) // the new 1-based index
	var sum int64
	// the new node covers (i - lowbit(i), i]; every slot in it except the new one exists
	for j := i - 1; j > i-(i&-i); j -= j & -j {
		sum += q.tree[j]
	}
	q.tree = append(q.tree, sum)
}

func (q *lottery[T]) remove(v T) bool {
	slot, ok := q.index[v]
	if !ok {
		return false
	}
	q.fenwickAdd(slot, -q.tick[slot])
	var zero T
	q.slots[slot], q.used[slot], q.tick[slot] = zero, false, 0
	delete(q.index, v)
	q.free = append(q.free, slot)
	return true
}

// draw finds the slot holding ticket number r (0 <= r < total).
func (q *lottery[T]) draw(r int64) int {
	pos := 0
	step := 1
	for step*2 < len(q.tree) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next < len(q.tree) && q.tree[next] <= r {
			pos = next
			r -= q.tree[next]
		}
	}
	return pos // 1-based pos+1 is the slot; 0-based slot = pos
}

func (q *lottery[T]) poll() (T, bool) {
	if len(q.index) == 0 {
		var zero T
		return zero, false
	}
	slot := q.draw(q.rng.Int64N(q.total))
	v := q.slots[slot]
	q.remove(v)
	return v, true
}

// peek returns the element with the most tickets (used only for explanations).
func (q *lottery[T]) peek() (T, bool) {
	var best T
	found := false
	var bestT int64 = math.MinInt64
	for v, slot := range q.index {
		if q.tick[slot] > bestT {
			best, bestT, found = v, q.tick[slot], true
		}
	}
	return best, found
}

func (q *lottery[T]) contains(v T) bool { _, ok := q.index[v]; return ok }
func (q *lottery[T]) len() int          { return len(q.index) }

func (q *lottery[T]) each(fn func(T) bool) {
	for v := range q.index {
		if !fn(v) {
			return
		}
	}
}

// weightedFair picks the element whose share of running queries is furthest below its share
// of weight: min over i of (running_i / (1 + Σrunning)) / (weight_i / Σweight); ties go to the
// earliest insertion. The factor Σweight / (1 + Σrunning) is common to every element, so the
// winner is the one with the smallest running_i / weight_i: a heap ordered by that ratio
// (compared exactly, by cross-multiplication) makes every operation O(log n). Updating a
// present element keeps its insertion order.
type weightedFair[T comparable] struct {
	h     wfHeap[T]
	index map[T]*wfNode[T]
	order uint64
}

type wfNode[T comparable] struct {
	v       T
	weight  int64
	running int64
	tie     uint64
	pos     int
}

type wfHeap[T comparable] []*wfNode[T]

func (h wfHeap[T]) Len() int { return len(h) }
func (h wfHeap[T]) Less(i, j int) bool {
	a, b := h[i].running*h[j].weight, h[j].running*h[i].weight
	if a != b {
		return a < b
	}
	return h[i].tie < h[j].tie
}
func (h wfHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].pos = i; h[j].pos = j }
func (h *wfHeap[T]) Push(x any)   { n := x.(*wfNode[T]); n.pos = len(*h); *h = append(*h, n) }
func (h *wfHeap[T]) Pop() any {
	old := *h
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return n
}

func newWeightedFair[T comparable]() *weightedFair[T] {
	return &weightedFair[T]{index: map[T]*wfNode[T]{}}
}

func (q *weightedFair[T]) addOrUpdateUsage(v T, weight, running int64) {
	weight = max(weight, 1)
	if n, ok := q.index[v]; ok {
		if n.weight != weight || n.running != running {
			n.weight, n.running = weight, running
			heap.Fix(&q.h, n.pos)
		}
		return
	}
	n := &wfNode[T]{v: v, weight: weight, running: running, tie: q.order}
	q.order++
	q.index[v] = n
	heap.Push(&q.h, n)
}

func (q *weightedFair[T]) remove(v T) bool {
	n, ok := q.index[v]
	if !ok {
		return false
	}
	heap.Remove(&q.h, n.pos)
	delete(q.index, v)
	return true
}

func (q *weightedFair[T]) peek() (T, bool) {
	if len(q.h) == 0 {
		var zero T
		return zero, false
	}
	return q.h[0].v, true
}

func (q *weightedFair[T]) poll() (T, bool) {
	v, ok := q.peek()
	if ok {
		q.remove(v)
	}
	return v, ok
}

func (q *weightedFair[T]) contains(v T) bool { _, ok := q.index[v]; return ok }
func (q *weightedFair[T]) len() int          { return len(q.index) }

func (q *weightedFair[T]) each(fn func(T) bool) {
	for _, n := range q.h {
		if !fn(n.v) {
			return
		}
	}
}
