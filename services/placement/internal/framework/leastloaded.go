package framework

// UnknownLoadScore is LeastLoaded's score for a cluster whose slots are unknown.
const UnknownLoadScore int64 = 50

// LeastLoaded scores MaxScore × (1 − load), rounded down, where load is (Busy + Queued)
// / EffectiveSlots clamped to [0, 1]: an idle cluster scores 100, a full one or one with
// a backlog as long as its slots scores 0. A cluster with unknown slots scores
// UnknownLoadScore.
type LeastLoaded struct{}

var _ ScorePlugin = LeastLoaded{}

// Name returns "LeastLoaded".
func (LeastLoaded) Name() string { return NameLeastLoaded }

// Score rates c by its free slots.
func (LeastLoaded) Score(_ *Query, c *Cluster) int64 {
	slots := int64(c.EffectiveSlots())
	if slots <= 0 {
		return UnknownLoadScore
	}
	used := int64(c.Busy()) + int64(max(c.Queued, 0))
	if used >= slots {
		return 0
	}
	return MaxScore * (slots - used) / slots
}
