package framework

// DataLocality scores for serving the query's tables, and filters out clusters that
// cannot serve them.
//
// Filter: a cluster with an explicit table list (Cluster.Tables not empty) that lacks
// any of the query's tables is ruled out; the reason lists up to three missing tables,
// then "…". A cluster with no list serves every table and passes.
//
// Score: MaxScore (100) for a cluster whose explicit list has every table of the query,
// 50 for a cluster that serves every table (it can read the data but is not known to hold
// it close), 0 for an explicit list that lacks some table (only seen when the filter is
// not enabled). A query that names no tables gets MaxScore everywhere: there is nothing
// to be near.
type DataLocality struct{}

var (
	_ FilterPlugin = DataLocality{}
	_ ScorePlugin  = DataLocality{}
)

// ServesAllScore is DataLocality's score for a cluster without a table list.
const ServesAllScore int64 = 50

// maxMissingListed is the number of missing tables a DataLocality reason names.
const maxMissingListed = 3

// Name returns "DataLocality".
func (DataLocality) Name() string { return NameDataLocality }

// Filter rules c out when its table list lacks one of q's tables.
func (DataLocality) Filter(_ *CycleState, q *Query, c *Cluster) *Status {
	if len(c.Tables) == 0 || hasAll(c.Tables, q.Tables) {
		return nil
	}
	var buf [192]byte
	b := append(buf[:0], "missing tables "...)
	n := 0
	for _, t := range q.Tables {
		if c.Tables.Has(t) {
			continue
		}
		if n == maxMissingListed {
			b = append(b, ", …"...)
			break
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		b = append(b, t...)
		n++
	}
	return NewStatus(Unschedulable, string(b))
}

// Score rates how close c is to q's tables.
func (DataLocality) Score(q *Query, c *Cluster) int64 {
	switch {
	case len(q.Tables) == 0:
		return MaxScore
	case len(c.Tables) == 0:
		return ServesAllScore
	case hasAll(c.Tables, q.Tables):
		return MaxScore
	}
	return 0
}

func hasAll(set TableSet, tables []string) bool {
	for _, t := range tables {
		if !set.Has(t) {
			return false
		}
	}
	return true
}
