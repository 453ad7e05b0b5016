// Package workqueue is the fragment work queue of one cluster: the ready fragments of all
// queries, in the order executors should run them. It is a pure data structure (no I/O, an
// injected clock through the now arguments), so its ordering is tested deterministically.
//
// # Order
//
// Queries are sorted into levels by the executor time they attained so far (least attained
// service, discretized as in Trino's MultilevelSplitQueue): a query whose fragments have run
// for less than Levels[1] is in level 0, less than Levels[2] in level 1, and so on. A query
// that keeps running sinks level by level: its priority decays with the service it got, so a
// short query arriving later overtakes it at the next fragment boundary.
//
// A query that declares its size (the executor time it expects to need, Fragment.Size)
// starts in the level of that size instead of level 0, and sinks further only by the
// service it attains beyond it: its level is that of max(attained, size). The declared
// size is the SRPT prior: a long query known to be long does not first run with the short
// queries' precedence, where its first fragments would overtake every long query that
// arrived before it and delay them all. Declaring too little gains nothing over not
// declaring (the query sinks by attained service as any other); declaring too much only
// lowers the query's own precedence.
//
// Every level has a share of executor time, LevelMultiplier times the share of the next
// level (Trino: 2). A fragment's executor time is charged to the level its query was in,
// and, when it carried the query across thresholds, spread over each level up to that
// level's width (as Trino does for a long quantum). Pop serves the non-empty level that is furthest below its share (the
// lowest scheduled time divided by share), so long queries still progress while short ones
// go first. A level that becomes non-empty starts level with the least-served busy level
// (ties go to the lower level): its idle time does not turn into a burst that would starve
// the others, and a new short query still runs at the next fragment boundary.
//
// Within a level, fragments are ordered by a static key in units of time, lowest first:
//
//	key = arrival − priority × AgingStep + CostWeight × log2(1 + remaining cost in ms)
//
// The arrival is the query's (the enqueue time when it is unknown), so all fragments of a
// query share its age and a query's next stage does not queue behind everything that
// arrived while its previous stage ran; it makes the order FIFO among equals; each unit of declared priority is
// worth AgingStep of waiting; each doubling of the query's remaining cost estimate (the
// SRPT prior) costs CostWeight. Because every waiting fragment ages at the same rate, the
// key never changes while it waits: a fragment that has waited longer than its priority and
// cost handicap overtakes any newer one, so nothing starves.
//
// # Locality
//
// A fragment may name a region. An executor of another region passes over it while it has
// waited less than LocalityWait (delay scheduling with a bounded wait); after that any
// executor takes it. Pop reports how long until such a fragment becomes available to the
// asking executor, so the caller can wait exactly that long.
package workqueue
