package framework

// Weight scores clusters by their configured Cluster.Weight relative to the largest weight
// among the clusters of the same decision that passed the filters: MaxScore × weight /
// max weight, rounded down. A weight of 0 or less counts as 1. With equal weights (the
// default) every cluster scores MaxScore, so the plugin changes nothing until an operator
// sets weights.
type Weight struct{}

var _ NormalizeScorePlugin = Weight{}

// Name returns "Weight".
func (Weight) Name() string { return NameWeight }

// Score returns the raw weight of c; NormalizeScores makes it relative.
func (Weight) Score(_ *Query, c *Cluster) int64 {
	return int64(max(c.Weight, 1))
}

// NormalizeScores rescales raw weights to MaxScore × weight / max weight.
func (Weight) NormalizeScores(_ *Query, scores []int64) {
	var top int64
	for _, s := range scores {
		top = max(top, s)
	}
	if top <= 0 {
		return
	}
	for i, s := range scores {
		scores[i] = int64(float64(MaxScore) * float64(max(s, 0)) / float64(top))
	}
}
