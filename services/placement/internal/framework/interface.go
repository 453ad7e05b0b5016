package framework

import "time"

// MaxScore is the highest score a score plugin gives; scores are clamped to
// [0, MaxScore].
const MaxScore int64 = 100

// Plugin is what every plugin is: a named thing. The name is the one used in profiles.
type Plugin interface {
	// Name returns the plugin's name, e.g. "LeastLoaded".
	Name() string
}

// CycleState carries what one Place call shares with its filters.
type CycleState struct {
	// Now is the time the decision is made at (the now argument of Place).
	Now time.Time

	// groupMemo remembers RoutingGroup's statuses of this decision by cluster group (the
	// query's group is fixed within a decision); a fleet has few groups.
	groupMemo [4]groupStatus
	groupN    int
}

type groupStatus struct {
	group  string
	status *Status
}

// FilterPlugin rules clusters out. Filter returns nil (or a Success status) when c can
// take q, else a status whose Reason says why not. It must not modify q or c, and must be
// safe for concurrent use.
type FilterPlugin interface {
	Plugin
	// Filter decides whether c can take q.
	Filter(cs *CycleState, q *Query, c *Cluster) *Status
}

// ScorePlugin rates a cluster that passed every filter, from 0 (worst) to MaxScore (best).
// Values outside that range are clamped, after NormalizeScores when the plugin has it.
// It must not modify q or c, and must be safe for concurrent use.
type ScorePlugin interface {
	Plugin
	// Score rates c for q.
	Score(q *Query, c *Cluster) int64
}

// NormalizeScorePlugin is implemented by score plugins whose Score returns a raw value
// that only means something relative to the other candidates. After Score ran on every
// feasible cluster, NormalizeScores gets those raw scores, in the order of the clusters,
// and rewrites them in place to [0, MaxScore].
type NormalizeScorePlugin interface {
	ScorePlugin
	// NormalizeScores rescales the raw scores of one decision in place.
	NormalizeScores(q *Query, scores []int64)
}
