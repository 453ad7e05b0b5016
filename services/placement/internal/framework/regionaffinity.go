package framework

import "strings"

// RegionAffinity scores MaxScore for a cluster in the query's preferred region and 0 for
// any other; regions compare case-insensitively. A query without a preferred region
// scores MaxScore everywhere.
type RegionAffinity struct{}

var _ ScorePlugin = RegionAffinity{}

// Name returns "RegionAffinity".
func (RegionAffinity) Name() string { return NameRegionAffinity }

// Score rates c by its region.
func (RegionAffinity) Score(q *Query, c *Cluster) int64 {
	if q.Region == "" || strings.EqualFold(q.Region, c.Region) {
		return MaxScore
	}
	return 0
}
