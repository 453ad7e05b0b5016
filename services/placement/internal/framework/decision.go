package framework

import (
	"sort"
	"strings"
)

// DefaultExplainLimit is the number of candidates besides the chosen one that
// Decision.String describes.
const DefaultExplainLimit = 10

// Decision is the outcome of Framework.Place: the chosen cluster and what happened to
// every candidate.
type Decision struct {
	// QueryID is the ID of the query placed.
	QueryID string
	// Profile is the name of the profile that decided.
	Profile string
	// Chosen is the name of the chosen cluster, "" when no cluster passed the filters.
	Chosen string
	// Filtered has one entry per cluster ruled out, in input order.
	Filtered []FilterResult
	// Scores has one entry per cluster that passed every filter, in input order.
	Scores []ScoreResult
	// Plugins are the score plugins with their weights, in the order of
	// ScoreResult.ByPlugin. The slice is shared between decisions: do not modify it.
	Plugins []WeightedPlugin
}

// FilterResult records why a cluster was ruled out.
type FilterResult struct {
	// Cluster is the cluster's name.
	Cluster string
	// Plugin is the first filter that failed.
	Plugin string
	// Code is Unschedulable or Error.
	Code Code
	// Reason is the filter's reason.
	Reason string
}

// ScoreResult is the score of a cluster that passed every filter.
type ScoreResult struct {
	// Cluster is the cluster's name.
	Cluster string
	// Total is the sum over the score plugins of score × weight.
	Total int64
	// Placed is Cluster.Placed, the first tie-breaker.
	Placed int
	// ByPlugin holds the score of each plugin, from 0 to MaxScore and before weighting,
	// in the order of Decision.Plugins.
	ByPlugin []int64
}

// Score returns the score of the named cluster, if it passed the filters.
func (d Decision) Score(cluster string) (ScoreResult, bool) {
	for _, s := range d.Scores {
		if s.Cluster == cluster {
			return s, true
		}
	}
	return ScoreResult{}, false
}

// String explains the decision in one line; see Explain. It describes at most
// DefaultExplainLimit candidates besides the chosen one.
func (d Decision) String() string { return d.Explain(DefaultExplainLimit) }

// Explain explains the decision in one line: the chosen cluster with its total and the
// weighted score of each plugin, then the other feasible clusters from best to worst with
// their totals, then the clusters filtered out, in input order, with the filter and its
// reason. At most limit clusters besides the chosen one are described (all of them when
// limit <= 0); "… N more" counts the rest. For example
//
//	local-2 chosen (total 412: LeastLoaded 100×3, MemoryHeadroom 80×1, Weight 32×1); local-3 total 300; local-1 filtered by NotDraining: state draining
func (d Decision) Explain(limit int) string {
	var b strings.Builder
	others := make([]*ScoreResult, 0, len(d.Scores))
	chosen := false
	for i := range d.Scores {
		s := &d.Scores[i]
		if s.Cluster == d.Chosen && !chosen {
			d.writeChosen(&b, s)
			chosen = true
			continue
		}
		others = append(others, s)
	}
	switch {
	case d.Chosen == "" && len(d.Filtered) == 0 && len(d.Scores) == 0:
		b.WriteString("no cluster chosen: no clusters")
	case d.Chosen == "":
		b.WriteString("no cluster chosen")
	case !chosen:
		b.WriteString(d.Chosen + " chosen")
	}
	sort.SliceStable(others, func(i, j int) bool { return ranksBefore(others[i], others[j]) })
	total := len(others) + len(d.Filtered)
	shown := 0
	for _, s := range others {
		if limit > 0 && shown == limit {
			break
		}
		b.WriteString("; ")
		b.WriteString(s.Cluster)
		b.WriteString(" total ")
		b.WriteString(itoa(s.Total))
		shown++
	}
	for _, fr := range d.Filtered {
		if limit > 0 && shown == limit {
			break
		}
		b.WriteString("; ")
		b.WriteString(fr.Cluster)
		b.WriteString(" filtered by ")
		b.WriteString(fr.Plugin)
		if fr.Code == Error {
			b.WriteString(" (error)")
		}
		b.WriteString(": ")
		b.WriteString(fr.Reason)
		shown++
	}
	if shown < total {
		b.WriteString("; … ")
		b.WriteString(itoa(int64(total - shown)))
		b.WriteString(" more")
	}
	return b.String()
}

func (d Decision) writeChosen(b *strings.Builder, s *ScoreResult) {
	b.WriteString(s.Cluster)
	b.WriteString(" chosen (total ")
	b.WriteString(itoa(s.Total))
	for i, v := range s.ByPlugin {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		name, weight := "?", int64(0)
		if i < len(d.Plugins) {
			name, weight = d.Plugins[i].Name, d.Plugins[i].Weight
		}
		b.WriteString(name)
		b.WriteString(" ")
		b.WriteString(itoa(v))
		b.WriteString("×")
		b.WriteString(itoa(weight))
	}
	b.WriteString(")")
}
