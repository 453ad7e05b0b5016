package framework

// MemoryHeadroom filters out clusters without the memory the query declares, and scores
// clusters by their free memory.
//
// Free memory is MemoryBytes − MemoryUsedBytes, at least 0. Filter: a query with a known
// estimate (MemoryBytes > 0) is kept off a cluster with known memory (MemoryBytes > 0)
// whose free memory is smaller than the estimate. Score: MaxScore × free / total, rounded
// down; a cluster with unknown memory scores UnknownMemoryScore.
type MemoryHeadroom struct{}

var (
	_ FilterPlugin = MemoryHeadroom{}
	_ ScorePlugin  = MemoryHeadroom{}
)

// UnknownMemoryScore is MemoryHeadroom's score for a cluster whose memory is unknown.
const UnknownMemoryScore int64 = 50

// Name returns "MemoryHeadroom".
func (MemoryHeadroom) Name() string { return NameMemoryHeadroom }

// Filter rules c out when q needs more memory than c has free.
func (MemoryHeadroom) Filter(_ *CycleState, q *Query, c *Cluster) *Status {
	if q.MemoryBytes <= 0 || c.MemoryBytes <= 0 {
		return nil
	}
	free := freeMemory(c)
	if q.MemoryBytes <= free {
		return nil
	}
	var buf [96]byte
	b := append(buf[:0], "needs "...)
	b = appendBytes(b, q.MemoryBytes)
	b = append(b, " of memory, "...)
	b = appendBytes(b, free)
	b = append(b, " free of "...)
	b = appendBytes(b, c.MemoryBytes)
	return NewStatus(Unschedulable, string(b))
}

// Score rates c by the fraction of its memory that is free.
func (MemoryHeadroom) Score(_ *Query, c *Cluster) int64 {
	if c.MemoryBytes <= 0 {
		return UnknownMemoryScore
	}
	return int64(float64(MaxScore) * float64(freeMemory(c)) / float64(c.MemoryBytes))
}

func freeMemory(c *Cluster) int64 {
	return max(c.MemoryBytes-max(c.MemoryUsedBytes, 0), 0)
}
