package framework

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Framework runs the plugins of one profile. Build it with New or ParseConfig. It is
// safe for concurrent use when its plugins are (the built-in ones are): each Place call
// takes its working buffers from a sync.Pool, and the Decision it returns owns its slices.
type Framework struct {
	profile     string
	filters     []FilterPlugin
	filterNames []string
	scorers     []ScorePlugin
	normalizers []NormalizeScorePlugin // nil where the scorer does not normalize
	weights     []int64
	scoreInfo   []WeightedPlugin
	pool        sync.Pool     // of *scratch
	turn        atomic.Uint64 // rotates the winner among candidates that tie completely
}

// scratch holds the working buffers of one Place call.
type scratch struct {
	cs       CycleState
	feasible []int // indexes into the clusters of the call
	filtered []FilterResult
	column   []int64 // one plugin's scores of the feasible clusters
	totals   []int64
}

// Profile returns the name of the profile the framework was built from.
func (f *Framework) Profile() string { return f.profile }

// Filters returns the names of the filter plugins, in the order they run.
func (f *Framework) Filters() []string { return append([]string(nil), f.filterNames...) }

// Scores returns the score plugins with their weights.
func (f *Framework) Scores() []WeightedPlugin { return append([]WeightedPlugin(nil), f.scoreInfo...) }

// Place chooses a cluster for q among clusters at time now.
//
// Every cluster goes through the filters in profile order until one fails; the first
// failing filter and its reason are recorded in Decision.Filtered. The clusters that pass
// every filter are scored by every score plugin (normalized where the plugin asks,
// clamped to [0, MaxScore]); the total is the sum of score × weight. The highest total
// wins; ties go to fewer Placed queries; candidates still equal take turns, in name order
// from one decision to the next (the first decision of a Framework picks the smallest
// name), so that an idle fleet is not all sent to one cluster. Chosen is "" when no
// cluster passes the filters. Nil clusters are skipped; a nil q counts as an empty Query.
// Place does not modify q or the clusters.
func (f *Framework) Place(q *Query, clusters []*Cluster, now time.Time) Decision {
	if q == nil {
		q = &Query{}
	}
	s, _ := f.pool.Get().(*scratch)
	if s == nil { // a zero Framework has no pool constructor
		s = new(scratch)
	}
	defer f.pool.Put(s)
	s.cs = CycleState{Now: now}
	s.feasible = s.feasible[:0]
	s.filtered = s.filtered[:0]

	for i, c := range clusters {
		if c == nil {
			continue
		}
		if fr, ok := f.filter(s, q, c); ok {
			s.filtered = append(s.filtered, fr)
		} else {
			s.feasible = append(s.feasible, i)
		}
	}
	d := Decision{QueryID: q.ID, Profile: f.profile, Plugins: f.scoreInfo}
	if len(s.filtered) > 0 {
		d.Filtered = append([]FilterResult(nil), s.filtered...)
	}
	if len(s.feasible) > 0 {
		d.Scores = f.score(s, q, clusters)
		d.Chosen = d.Scores[f.best(d.Scores)].Cluster
	}
	s.cs = CycleState{}
	clear(s.filtered) // drop references to reason strings
	return d
}

// filter runs the filters on c and returns the first failure, if any.
func (f *Framework) filter(s *scratch, q *Query, c *Cluster) (FilterResult, bool) {
	for k, fp := range f.filters {
		st := fp.Filter(&s.cs, q, c)
		if st.IsSuccess() {
			continue
		}
		return FilterResult{Cluster: c.Name, Plugin: f.filterNames[k], Code: st.Code, Reason: st.Reason}, true
	}
	return FilterResult{}, false
}

// score rates the feasible clusters, plugin by plugin.
func (f *Framework) score(s *scratch, q *Query, clusters []*Cluster) []ScoreResult {
	n, np := len(s.feasible), len(f.scorers)
	s.column = grow(s.column, n)
	s.totals = grow(s.totals, n)
	clear(s.totals)
	byPlugin := make([]int64, n*np)
	for p, sp := range f.scorers {
		col := s.column
		for j, i := range s.feasible {
			col[j] = sp.Score(q, clusters[i])
		}
		if nz := f.normalizers[p]; nz != nil {
			nz.NormalizeScores(q, col)
		}
		w := f.weights[p]
		for j, v := range col {
			v = min(max(v, 0), MaxScore)
			byPlugin[j*np+p] = v
			s.totals[j] += v * w
		}
	}
	out := make([]ScoreResult, n)
	for j, i := range s.feasible {
		c := clusters[i]
		out[j] = ScoreResult{Cluster: c.Name, Total: s.totals[j], Placed: c.Placed,
			ByPlugin: byPlugin[j*np : (j+1)*np : (j+1)*np]}
	}
	return out
}

// best returns the index of the winner among scores (not empty): the highest total, then
// the fewest placed queries; among candidates equal on both, the next in turn by name.
func (f *Framework) best(scores []ScoreResult) int {
	b, tied := 0, 1
	for j := 1; j < len(scores); j++ {
		switch a := &scores[j]; {
		case a.Total == scores[b].Total && a.Placed == scores[b].Placed:
			tied++
		case ranksBefore(a, &scores[b]):
			b, tied = j, 1
		}
	}
	if tied == 1 {
		return b
	}
	// The k-th of the tied candidates in name order.
	k := int((f.turn.Add(1) - 1) % uint64(tied))
	top := scores[b]
	names := make([]int, 0, tied)
	for j := range scores {
		if scores[j].Total == top.Total && scores[j].Placed == top.Placed {
			names = append(names, j)
		}
	}
	slices.SortFunc(names, func(x, y int) int { return strings.Compare(scores[x].Cluster, scores[y].Cluster) })
	return names[k]
}

// ranksBefore orders candidates: higher total, then fewer placed queries, then name.
func ranksBefore(a, b *ScoreResult) bool {
	if a.Total != b.Total {
		return a.Total > b.Total
	}
	if a.Placed != b.Placed {
		return a.Placed < b.Placed
	}
	return a.Cluster < b.Cluster
}

// grow returns buf resliced to n elements, reallocated when too small.
func grow(buf []int64, n int) []int64 {
	if cap(buf) < n {
		return make([]int64, n, n+n/4)
	}
	return buf[:n]
}
